"""The admin pages: the audit trail with its filters and CSV, accounts, and failed jobs against the real Redis."""

from __future__ import annotations

import csv
import io
import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from redis import Redis
from rq import SimpleWorker
from rq.rate_limit import RateLimitRegistry
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from tests.failed_jobs import stage_evidence, stage_failed
from tests.review.support import PASSWORD, REFERENCE, ReviewApp, Visitor
from vhub.portals import pause, portal_names
from vhub.queues import SERIALIZER
from vhub.review.accounts import disable_user
from vhub.runtime import free_port
from vhub.store.audit import record_event
from vhub.store.runs import ListedVersion, finish_item, record_found, run_progress, start_run
from vhub.store.tables import AuditEventRow, DataQualityItemRow, DraftRow, SubmissionRow, UserRow, utcnow

DRIFT = "vhub.errors.SelectorDrift: [selector_drift] The records_system page 'incident' has changed."


@pytest.fixture
def admin(review_app: ReviewApp) -> Visitor:
    return review_app.visitor("admin")


def add_event(review: ReviewApp, at: datetime, **values: Any) -> None:
    with review.db.session() as session:
        event = record_event(
            session,
            actor=values.get("actor", "vhub.bot"),
            action=values.get("action", "draft.edited"),
            entity_type=values.get("entity_type", "draft"),
            entity_id=values.get("entity_id", "999"),
            before=values.get("before"),
            after=values.get("after"),
        )
        event.at = at


def shown(html: str) -> list[tuple[str, str, str]]:
    """(who, action, record) of each audit row on the page."""
    rows = re.findall(
        r'<tr class="audit-row">(.*?)</tr>\s*(?=<tr class="audit-row">|</tbody>\s*</table>\s*<nav)', html, re.S
    )
    found = []
    for row in rows:
        cells = re.findall(r"<td>(.*?)</td>", row, re.S)
        record = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cells[3])).strip()
        found.append((cells[1].strip(), cells[2].strip(), re.split(r" (?:run|job) ", record)[0]))
    return found


def test_filtering_by_draft_finds_its_events(review_app: ReviewApp, admin: Visitor) -> None:
    """A draft number finds the events recorded against that draft, and only them."""
    draft = review_app.ids["draft"]
    add_event(review_app, utcnow() - timedelta(days=1), entity_id=str(draft), actor="alex.reviewer")
    add_event(review_app, utcnow() - timedelta(hours=1), entity_id=str(review_app.ids["other_draft"]))
    page = admin.client.get(f"/audit?draft={draft}")
    assert [("vhub.bot", "draft.created", f"draft {draft}"), ("alex.reviewer", "draft.edited", f"draft {draft}")] == (
        shown(page.text)
    )


def test_filtering_by_reference_finds_the_incident_its_drafts_and_items(review_app: ReviewApp, admin: Visitor) -> None:
    """An incident reference finds the incident's events, its drafts' and its data-quality items'."""
    item = str(review_app.ids["item"])
    add_event(
        review_app,
        datetime(2026, 3, 15, 9, 0, tzinfo=UTC),
        action="data_quality.raised",
        entity_type="data_quality_item",
        entity_id=item,
    )
    add_event(review_app, datetime(2026, 3, 15, 9, 5, tzinfo=UTC), entity_type="incident", entity_id="OCC/26/000999")
    page = admin.client.get("/audit", params={"reference": REFERENCE})
    assert {
        ("vhub.bot", "data_quality.raised", f"data quality item {item}"),
        ("vhub.bot", "draft.created", f"draft {review_app.ids['draft']}"),
        ("vhub.bot", "incident.stored", f"incident {REFERENCE}"),
    } == set(shown(page.text))


def test_filtering_by_person_and_uk_dates(review_app: ReviewApp, admin: Visitor) -> None:
    """Who and a from/to range of UK dates (London days, inclusive) narrow the events; newest first."""
    for at in (
        datetime(2026, 6, 14, 22, 59, tzinfo=UTC),  # 23:59 on 14 June in London: before the range
        datetime(2026, 6, 14, 23, 30, tzinfo=UTC),  # 00:30 on 15 June
        datetime(2026, 6, 16, 22, 30, tzinfo=UTC),  # 23:30 on 16 June
        datetime(2026, 6, 16, 23, 0, tzinfo=UTC),  # 00:00 on 17 June: after the range
    ):
        add_event(review_app, at, actor="sam.reviewer", entity_id=at.strftime("%d%H%M"))
    add_event(review_app, datetime(2026, 6, 15, 12, 0, tzinfo=UTC), actor="alex.reviewer")
    page = admin.client.get("/audit", params={"actor": "sam.reviewer", "from": "15/06/2026", "to": "2026-06-16"})
    assert ["draft 162230", "draft 142330"] == [record for _, _, record in shown(page.text)]


def test_a_wrong_date_says_how_to_write_it(admin: Visitor) -> None:
    """A date that is not a UK date is refused beside its field, with an example; no events are shown."""
    page = admin.client.get("/audit", params={"from": "31/02/2026", "draft": "seven"})
    assert (422, True, True, []) == (
        page.status_code,
        "Enter the date as day/month/year, for example 14/03/2026." in page.text,
        "A draft number is digits only, for example 42." in page.text,
        shown(page.text),
    )


def test_the_audit_trail_pages_by_fifty(review_app: ReviewApp, admin: Visitor) -> None:
    """Fifty events a page, newest first, with a link to the older ones that keeps the filters."""
    start = datetime(2026, 3, 1, tzinfo=UTC)
    for n in range(55):
        add_event(review_app, start + timedelta(minutes=n), actor="sam.reviewer", entity_id=str(1000 + n))
    first = admin.client.get("/audit?actor=sam.reviewer")
    second = admin.client.get("/audit?actor=sam.reviewer&page=2")
    assert (50, "draft 1054", 5, "draft 1000") == (
        len(shown(first.text)),
        shown(first.text)[0][2],
        len(shown(second.text)),
        shown(second.text)[-1][2],
    )
    assert 'href="/audit?actor=sam.reviewer&amp;page=2"' in first.text


def test_before_and_after_are_shown_as_keys_and_escaped_values(review_app: ReviewApp, admin: Visitor) -> None:
    """Each change shows its field with the value before and after; markup in a value is shown, not run."""
    add_event(
        review_app,
        datetime(2026, 3, 14, 10, 0, tzinfo=UTC),
        entity_id="555",
        before={"text": "Old <b>text</b>", "approvals": 0},
        after={"text": "<script>alert(1)</script>", "approvals": 1, "flags": ["repeat"]},
    )
    page = admin.client.get("/audit?draft=555").text
    assert "<script>alert(1)</script>" not in page
    assert (
        '<th scope="row">text</th><td>Old &lt;b&gt;text&lt;/b&gt;</td><td>&lt;script&gt;alert(1)&lt;/script&gt;</td>'
        in page
    )
    assert '<th scope="row">approvals</th><td>0</td><td>1</td>' in page
    assert '<th scope="row">flags</th><td><span class="muted">—</span></td><td>[&#34;repeat&#34;]</td>' in page


def test_the_csv_holds_the_filtered_events(review_app: ReviewApp, admin: Visitor) -> None:
    """The CSV export has a header row and the filtered events, with before and after as JSON."""
    add_event(
        review_app,
        datetime(2026, 3, 14, 10, 0, tzinfo=UTC),
        actor="=cmd|' /C calc'!A0",
        entity_id="777",
        before={"status": "awaiting_review"},
        after={"status": "rejected", "reason": "Sent to the wrong school"},
    )
    response = admin.client.get("/audit.csv?draft=777")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert ("text/csv; charset=utf-8", 'attachment; filename="audit-events.csv"') == (
        response.headers["content-type"],
        response.headers["content-disposition"],
    )
    assert [
        ["at", "actor", "action", "entity_type", "entity_id", "run_id", "job_id", "before", "after"],
        [
            "14/03/2026 10:00:00 GMT",
            "'=cmd|' /C calc'!A0",
            "draft.edited",
            "draft",
            "777",
            "",
            "",
            '{"status": "awaiting_review"}',
            '{"status": "rejected", "reason": "Sent to the wrong school"}',
        ],
    ] == rows


def test_the_csv_holds_every_event_in_batches(review_app: ReviewApp, admin: Visitor) -> None:
    """An export longer than one batch has every event once, newest first, even with equal times."""
    at = datetime(2026, 3, 1, tzinfo=UTC)
    for n in range(1203):
        add_event(review_app, at + timedelta(minutes=n // 3), actor="sam.reviewer", entity_id=str(n))
    rows = list(csv.reader(io.StringIO(admin.client.get("/audit.csv?actor=sam.reviewer").text)))[1:]
    assert [str(n) for n in reversed(range(1203))] == [row[4] for row in rows]


def test_adding_an_account(review_app: ReviewApp, admin: Visitor) -> None:
    """An admin adds an account; it can sign in, and the audit trail names the admin who added it."""
    response = admin.client.post(
        "/admin/users",
        data={
            "csrf_token": admin.csrf,
            "username": "jo.reviewer",
            "display_name": "Jo Reviewer",
            "role": "reviewer",
            "password": PASSWORD,
            "password_again": PASSWORD,
        },
    )
    assert (303, "/admin/users?done=added&username=jo.reviewer") == (response.status_code, response.headers["location"])
    assert "Account jo.reviewer added." in admin.client.get(response.headers["location"]).text
    assert 303 == review_app.sign_in(review_app.client(), "jo.reviewer").status_code
    with review_app.db.session() as session:
        event = session.scalars(select(AuditEventRow).where(AuditEventRow.action == "user.added")).all()[-1]
        assert ("vhub.admin", "jo.reviewer", {"role": "reviewer", "display_name": "Jo Reviewer"}) == (
            event.actor,
            event.entity_id,
            event.after,
        )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"password_again": "something-else-entirely"}, "The two passwords differ: type the same one in both boxes."),
        ({"password": "short", "password_again": "short"}, "A password needs at least 12 characters."),
        ({"password": " " * 12, "password_again": " " * 12}, "A password cannot be blank or only spaces."),
        ({"password": "password1234", "password_again": "password1234"}, "This is a very common password."),
        ({"username": "sam.reviewer"}, "There is already an account called sam.reviewer; choose another name."),
        ({"username": "a b"}, "A username is 2 to 80 letters, digits, dots, hyphens or underscores"),
        ({"display_name": ""}, "Enter the name people will see, for example Alex Reviewer."),
    ],
)
def test_a_refused_account_says_why_and_keeps_what_was_typed(
    review_app: ReviewApp, admin: Visitor, changes: dict[str, str], message: str
) -> None:
    """A refused account comes back with the reason beside the form, the typed name kept, no password echoed."""
    data = {
        "csrf_token": admin.csrf,
        "username": "jo.reviewer",
        "display_name": "Jo Reviewer",
        "role": "admin",
        "password": PASSWORD,
        "password_again": PASSWORD,
        **changes,
    }
    page = admin.client.post("/admin/users", data=data)
    assert (422, True, True, False) == (
        page.status_code,
        message in page.text,
        '<option value="admin" selected>' in page.text,
        PASSWORD in page.text,
    )
    with review_app.db.session() as session:
        assert 4 == len(session.scalars(select(UserRow)).all())


def test_disabling_an_account_ends_its_sessions(review_app: ReviewApp, admin: Visitor) -> None:
    """Disabling an account signs its holder out at once and is audited with the admin's name."""
    sam = review_app.visitor("second")
    response = admin.client.post("/admin/users/sam.reviewer/disable", data={"csrf_token": admin.csrf})
    assert (303, 303) == (response.status_code, sam.client.get("/queue").status_code)
    assert (
        "Account sam.reviewer disabled: its sessions have ended." in admin.client.get(response.headers["location"]).text
    )
    with review_app.db.session() as session:
        event = session.scalars(select(AuditEventRow).where(AuditEventRow.action == "user.disabled")).one()
        assert ("vhub.admin", "sam.reviewer") == (event.actor, event.entity_id)


def test_an_admin_cannot_disable_themselves(review_app: ReviewApp, admin: Visitor) -> None:
    """Disabling your own account is refused with a message; the account stays enabled and signed in."""
    page = admin.client.post("/admin/users/vhub.admin/disable", data={"csrf_token": admin.csrf})
    assert (409, True, 200) == (
        page.status_code,
        "You cannot disable your own account. Ask another administrator if it must be disabled." in page.text,
        admin.client.get("/admin/users").status_code,
    )


def test_disabling_an_unknown_account_says_so(admin: Visitor) -> None:
    """Disabling an account that does not exist changes nothing and says so."""
    page = admin.client.post("/admin/users/nobody.here/disable", data={"csrf_token": admin.csrf})
    assert (404, True) == (
        page.status_code,
        "There is no account called nobody.here. Nothing was changed." in page.text,
    )


def fail_a_job(review: ReviewApp, redis_client: Redis, value: float = -1) -> str:
    """A job that fails for real: math.sqrt(-1), run by an rq SimpleWorker in burst mode."""
    queue = review.ctx.jobs.queue("default")
    job = queue.enqueue(math.sqrt, value, description="a job that fails")
    SimpleWorker([queue], connection=redis_client, serializer=SERIALIZER).work(burst=True)
    assert job.id in FailedJobRegistry(queue=queue).get_job_ids()
    return job.id


def test_failed_jobs_are_listed_with_their_reason(review_app: ReviewApp, admin: Visitor, redis_client: Redis) -> None:
    """Each failed job shows its id, queue, function, arguments, when it failed (UK time with the zone), the last
    line of its error and what that means in plain words."""
    job_id = fail_a_job(review_app, redis_client)
    page = admin.client.get("/admin/failed-jobs").text
    row = re.search(rf'<tr class="failed-job" data-job-id="{job_id}">(.*?)</tr>', page, re.S)
    assert row is not None
    cells = [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td>(.*?)</td>", row.group(1), re.S)]
    assert [job_id, "default", "math.sqrt", "-1", "ValueError: math domain error"] == cells[:4] + cells[6:7]
    assert re.fullmatch(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2} (GMT|BST)", cells[4])
    assert cells[5].startswith("An unexpected error in vhub itself.")


def test_replaying_a_job_puts_it_back_on_its_queue(review_app: ReviewApp, admin: Visitor, redis_client: Redis) -> None:
    """Replay puts the failed job back on its queue, audits it with the admin's name and says it is done."""
    job_id = fail_a_job(review_app, redis_client)
    other = fail_a_job(review_app, redis_client, -4)
    response = admin.client.post("/admin/failed-jobs/replay", data={"csrf_token": admin.csrf, "job_id": job_id})
    queue = review_app.ctx.jobs.queue("default")
    assert (303, [job_id], [other]) == (
        response.status_code,
        queue.job_ids,
        FailedJobRegistry(queue=queue).get_job_ids(),
    )
    assert "Replayed 1 job: back on their queues" in admin.client.get(response.headers["location"]).text
    with review_app.db.session() as session:
        event = session.scalars(select(AuditEventRow).where(AuditEventRow.action == "job.replayed")).one()
        assert ("vhub.admin", "job", job_id) == (event.actor, event.entity_type, event.entity_id)


def test_replay_all_replays_every_failed_job(review_app: ReviewApp, admin: Visitor, redis_client: Redis) -> None:
    """Replay all puts every failed job back, one audit event each."""
    ids = {fail_a_job(review_app, redis_client), fail_a_job(review_app, redis_client, -2)}
    response = admin.client.post("/admin/failed-jobs/replay", data={"csrf_token": admin.csrf, "all": "yes"})
    assert (303, ids) == (response.status_code, set(review_app.ctx.jobs.queue("default").job_ids))
    with review_app.db.session() as session:
        replayed = session.scalars(select(AuditEventRow.entity_id).where(AuditEventRow.action == "job.replayed"))
        assert ids == set(replayed)
    assert 'id="no-failed-jobs"' in admin.client.get("/admin/failed-jobs").text


def test_replaying_a_job_no_longer_failed_changes_nothing(
    review_app: ReviewApp, admin: Visitor, redis_client: Redis
) -> None:
    """Replaying a job someone already replayed changes nothing, audits nothing and says so."""
    job_id = fail_a_job(review_app, redis_client)
    first = admin.client.post("/admin/failed-jobs/replay", data={"csrf_token": admin.csrf, "job_id": job_id})
    again = admin.client.post("/admin/failed-jobs/replay", data={"csrf_token": admin.csrf, "job_id": job_id})
    assert ("/admin/failed-jobs?done=replayed&count=1", "/admin/failed-jobs?done=replayed&count=0") == (
        first.headers["location"],
        again.headers["location"],
    )
    assert "Nothing was replayed: those jobs were no longer failed" in admin.client.get(again.headers["location"]).text
    with review_app.db.session() as session:
        assert 1 == len(session.scalars(select(AuditEventRow).where(AuditEventRow.action == "job.replayed")).all())


def test_replay_with_nothing_chosen_says_what_to_do(admin: Visitor) -> None:
    """A replay post naming no job asks for a choice and changes nothing."""
    page = admin.client.post("/admin/failed-jobs/replay", data={"csrf_token": admin.csrf})
    assert (422, True) == (page.status_code, "Choose a job&#39;s Replay button, or Replay all." in page.text)


def test_failed_jobs_without_redis_say_so(make_app: Any) -> None:
    """With Redis unreachable the failed-jobs page and replay say so plainly instead of failing."""
    review = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    admin = review.visitor("admin")
    page = admin.client.get("/admin/failed-jobs")
    replay = admin.client.post("/admin/failed-jobs/replay", data={"csrf_token": admin.csrf, "all": "yes"})
    expected = "The job queue (Redis) cannot be reached, so failed jobs cannot be listed or replayed."
    assert (503, True, 503, True) == (
        page.status_code,
        expected in page.text,
        replay.status_code,
        expected in replay.text,
    )


def test_no_failed_jobs_is_a_clear_empty_state(admin: Visitor) -> None:
    """With nothing failed the page says so."""
    assert "No failed jobs: nothing needs replaying." in admin.client.get("/admin/failed-jobs").text


def test_a_failed_job_page_says_why_with_its_evidence(review_app: ReviewApp, admin: Visitor) -> None:
    """The job's page says what failed in plain words, the technical line, queue, function and attempts, and links
    each evidence file of the fixed list (never one outside it)."""
    job_id = stage_failed(review_app.ctx.jobs, "ingest", "tasks.ingest.ingest", "run", 7, REFERENCE, "x", error=DRIFT)
    stage_evidence(review_app.ctx.settings.evidence_dir, job_id)
    page = admin.client.get(f"/admin/failed-jobs/{job_id}")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text))
    assert 200 == page.status_code
    assert "A page of the other system has changed its layout" in text
    assert "Technical line vhub.errors.SelectorDrift: [selector_drift]" in text
    assert "Queue ingest Function tasks.ingest.ingest" in text and "Attempts 1" in text
    links = re.findall(rf'href="/admin/failed-jobs/{job_id}/evidence/1/([^"]+)"', page.text)
    assert ["screenshot.png", "trace.zip", "page.html"] == links


def test_evidence_is_served_to_admins_only_and_only_by_name(review_app: ReviewApp, admin: Visitor) -> None:
    """A screenshot is shown inline and a saved page only as text to download, with the app's security headers;
    a reviewer is refused; a name off the list or a path is not found."""
    job_id = stage_failed(review_app.ctx.jobs, "ingest", "tasks.ingest.ingest", "run", 7, REFERENCE, "x", error=DRIFT)
    stage_evidence(review_app.ctx.settings.evidence_dir, job_id)
    base = f"/admin/failed-jobs/{job_id}/evidence/1"
    shot, saved = admin.client.get(f"{base}/screenshot.png"), admin.client.get(f"{base}/page.html")
    assert (200, "image/png", b"\x89PNG") == (shot.status_code, shot.headers["content-type"], shot.content[:4])
    assert shot.headers["content-disposition"].startswith("inline")
    assert ("text/plain; charset=utf-8", "no-store", "nosniff") == (
        saved.headers["content-type"],
        saved.headers["cache-control"],
        saved.headers["x-content-type-options"],
    )
    assert saved.headers["content-disposition"].startswith("attachment")
    assert "default-src 'self'" in saved.headers["content-security-policy"]
    reviewer = review_app.visitor("reviewer")
    assert [403, 404, 404, 404, 404] == [
        reviewer.client.get(f"{base}/screenshot.png").status_code,
        admin.client.get(f"{base}/notes.txt").status_code,
        admin.client.get(f"{base}/..%2F..%2Fanother%2Fscreenshot.png").status_code,
        admin.client.get(f"{base}/../../../vhub.db").status_code,
        admin.client.get("/admin/failed-jobs/not-a-job/evidence/1/screenshot.png").status_code,
    ]


def test_discarding_a_job_from_its_page_needs_a_reason_and_is_audited(review_app: ReviewApp, admin: Visitor) -> None:
    """Discard without a reason is refused on the page, nothing changed; with one, the job leaves the list and the
    audit names the admin, the job and the reason."""
    job_id = stage_failed(review_app.ctx.jobs, "scan", "tasks.isr.isr_scan", error=DRIFT)
    refused = admin.client.post(f"/admin/failed-jobs/{job_id}/discard", data={"csrf_token": admin.csrf, "reason": " "})
    assert (422, True) == (refused.status_code, "Say why the job is being discarded" in refused.text)
    done = admin.client.post(
        f"/admin/failed-jobs/{job_id}/discard", data={"csrf_token": admin.csrf, "reason": "Portal retired"}
    )
    listing = admin.client.get(done.headers["location"]).text
    assert f"Job {job_id} was discarded." in listing and 'id="no-failed-jobs"' in listing
    with review_app.db.session() as session:
        event = session.scalars(select(AuditEventRow).where(AuditEventRow.action == "job.discarded")).one()
        assert ("vhub.admin", job_id, "Portal retired") == (event.actor, event.entity_id, event.after["reason"])


def test_an_admin_re_enables_an_account(review_app: ReviewApp, admin: Visitor) -> None:
    """Re-enable lets a disabled account sign in again, audited with the admin's name."""
    with review_app.db.session() as session:
        disable_user(session, "sam.reviewer", actor="test")
    response = admin.client.post("/admin/users/sam.reviewer/enable", data={"csrf_token": admin.csrf})
    assert "Account sam.reviewer can sign in again." in admin.client.get(response.headers["location"]).text
    assert 303 == review_app.sign_in(review_app.client(), "sam.reviewer").status_code
    with review_app.db.session() as session:
        event = session.scalars(select(AuditEventRow).where(AuditEventRow.action == "user.enabled")).one()
        assert ("vhub.admin", "sam.reviewer") == (event.actor, event.entity_id)


def test_a_new_password_ends_the_accounts_sessions(review_app: ReviewApp, admin: Visitor) -> None:
    """A password reset by an admin is held to the password rules, ends the account's sessions (the old password
    no longer works), and is audited."""
    sam = review_app.visitor("second")
    url = "/admin/users/sam.reviewer/password"
    weak = admin.client.post(
        url, data={"csrf_token": admin.csrf, "password": "password1234", "password_again": "password1234"}
    )
    assert (422, True) == (weak.status_code, "would be easy to guess" in weak.text)
    new = "copper kettle orchard lantern"
    done = admin.client.post(url, data={"csrf_token": admin.csrf, "password": new, "password_again": new})
    assert 303 == done.status_code
    assert 303 == sam.client.get("/queue").status_code  # signed out: sent to sign in
    assert [401, 303] == [
        review_app.sign_in(review_app.client(), "sam.reviewer").status_code,
        review_app.sign_in(review_app.client(), "sam.reviewer", new).status_code,
    ]
    with review_app.db.session() as session:
        event = session.scalars(select(AuditEventRow).where(AuditEventRow.action == "user.password_reset")).one()
        assert ("vhub.admin", "sam.reviewer", 1) == (event.actor, event.entity_id, event.after["sessions_ended"])


def test_paused_portals_are_named_on_the_queue_and_dashboard(review_app: ReviewApp, admin: Visitor) -> None:
    """Each paused portal is named with why on the queue and the dashboard; only an admin sees Resume, which
    un-pauses it, queues what waited and is audited with their name."""
    portal = portal_names()[0]
    pause(review_app.ctx.jobs.connection, portal, "Its pages have changed: locator '#ref' matched no element.")
    reviewer = review_app.visitor("reviewer")
    for path in ("/queue", "/dashboard"):
        seen = reviewer.client.get(path).text
        assert f"<strong>{portal}</strong>: Its pages have changed: locator &#39;#ref&#39; matched no element." in seen
        assert "Resume " not in seen
        assert f'action="/admin/portals/{portal}/resume"' in admin.client.get(path).text
    with review_app.db.session() as session:
        draft = session.get_one(DraftRow, review_app.ids["draft"])
        draft.status = "approved"
        session.add(SubmissionRow(draft_id=draft.id, portal=portal, key="VHUB-1-abc", status="paused"))
    assert (
        403 == reviewer.client.post(f"/admin/portals/{portal}/resume", data={"csrf_token": reviewer.csrf}).status_code
    )
    resumed = admin.client.post(f"/admin/portals/{portal}/resume", data={"csrf_token": admin.csrf})
    assert (200, True) == (resumed.status_code, f"{portal} is resumed: 1 waiting submission queued" in resumed.text)
    assert 'id="paused-banner"' not in admin.client.get("/queue").text
    assert 1 == len(review_app.ctx.jobs.queue("submit").job_ids) + sum(
        len(limit.get_rate_limited_job_ids()) for limit in RateLimitRegistry.all(review_app.ctx.jobs.connection)
    )
    with review_app.db.session() as session:
        event = session.scalars(select(AuditEventRow).where(AuditEventRow.action == "portal.resumed")).one()
        assert ("vhub.admin", portal) == (event.actor, event.entity_id)


def test_a_discarded_ingest_leaves_its_incident_for_a_person(review_app: ReviewApp, admin: Visitor) -> None:
    """Discarding an ingest marks its version discarded (the run completes, the watermark may pass it) and keeps the
    incident as a data-quality item a reviewer can open and resolve, naming who discarded the job."""
    version = datetime(2026, 11, 30, 22, 15, tzinfo=UTC)
    with review_app.db.session() as session:
        run_id = start_run(session, kind="test", system="records_system", changed_since=None)
        record_found(session, run_id, "records_system", [ListedVersion(4242, "OCC/26/004242", version)])
        finish_item(session, run_id, "OCC/26/004242", version, "failed")
    job_id = stage_failed(
        review_app.ctx.jobs,
        "ingest",
        "tasks.ingest.ingest",
        run_id,
        4242,
        "OCC/26/004242",
        version.isoformat(),
        error=DRIFT,
    )
    admin.client.post(f"/admin/failed-jobs/{job_id}/discard", data={"csrf_token": admin.csrf, "reason": "Restricted"})
    with review_app.db.session() as session:
        progress = run_progress(session, run_id)
        item = session.scalars(select(DataQualityItemRow).where(DataQualityItemRow.reference == "OCC/26/004242")).one()
    assert ("complete", {"discarded": 1}) == (progress["status"], progress["counts"])
    page = review_app.visitor("reviewer").client.get(f"/data-quality/{item.id}")
    assert 200 == page.status_code
    assert "vhub.admin discarded the job that read it" in page.text


def test_the_queue_without_redis_says_pauses_are_unknown(make_app: Any) -> None:
    """With Redis unreachable the queue still opens, and its banner says whether a portal is paused is not known."""
    review = make_app(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    page = review.visitor("reviewer").client.get("/queue")
    assert (200, True) == (page.status_code, "whether any partner portal is paused is not known" in page.text)
