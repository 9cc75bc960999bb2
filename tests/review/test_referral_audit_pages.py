"""The referral audit pages: who may reach them (a partner's auditor nothing else, a reviewer not them), what each
auditor sees of a sampled referral, and saving scores (validated, one per auditor and referral, amended, audited)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from httpx import Response
from sqlalchemy import select
from starlette.routing import Mount, Route

from tests.fixtures.sessions import csrf_token
from tests.review.support import PASSWORD, ReviewApp, Visitor
from tests.vhub.test_mou_report import referral
from vhub.referral_audit import audit_config
from vhub.reports.mou import month_bounds
from vhub.review import accounts
from vhub.store.referral_audits import draw_sample, sampled
from vhub.store.tables import AuditEventRow, ReferralAuditRow, UserRow

SENT = datetime(2026, 10, 7, 10, 0, tzinfo=UTC)
COMMENT_MARKUP = "<script>alert('comment')</script>"
REACHABLE = {"/", "/healthz", "/login", "/logout", "/referral-audits", "/referral-audits/{sampled_id:id}"}
"""Every route a partner's auditor may reach; every other page and action of the app refuses it."""


@pytest.fixture
def audit(review_app: ReviewApp) -> dict[str, int]:
    """October's sample of four referrals (two to Herefordshire, one each to Shropshire and Telford & Wrekin), a
    force auditor, and Herefordshire's and Shropshire's auditors; returns the sampled ids by partner reference."""
    with review_app.db.session() as session:
        for username, name, role, authority in (
            ("fay.auditor", "Fay Auditor", "auditor", None),
            ("hugo.partner", "Hugo Partner", "partner_auditor", "herefordshire"),
            ("sian.partner", "Sian Partner", "partner_auditor", "shropshire"),
        ):
            accounts.add_user(session, username, PASSWORD, role, name, actor="test", authority=authority)
        for number, authority in ((201, "herefordshire"), (202, "herefordshire"), (203, "shropshire")):
            referral(session, number, authority, "red", SENT, reference=f"REF-{number}")
        referral(session, 204, "telford_wrekin", "green", SENT, reference="TW-<b>204</b>")
        _, start, end = month_bounds("2026-10")
        draw_sample(session, "2026-10", start, end, audit_config(), actor="test", now=datetime.now(UTC))
        return {item.partner_reference: item.id for item in sampled(session, "2026-10")}


def signed_in(review_app: ReviewApp, username: str) -> Visitor:
    client = review_app.client()
    assert 303 == review_app.sign_in(client, username).status_code
    return Visitor(client, csrf_token(client.get("/referral-audits").text), username)


def scores(visitor: Visitor, sampled_id: int, **values: str) -> Response:
    form = {"completeness": "3", "accuracy": "4", "proportionality": "2", "comment": "", **values}
    return visitor.client.post(f"/referral-audits/{sampled_id}", data={"csrf_token": visitor.csrf, **form})


def stored(review_app: ReviewApp) -> list[tuple[int, str, dict[str, int], str]]:
    with review_app.db.session() as session:
        rows = session.scalars(select(ReferralAuditRow).order_by(ReferralAuditRow.id)).all()
        return [(row.sampled_id, row.side, dict(row.scores), row.comment) for row in rows]


def test_a_partner_auditor_reaches_nothing_but_its_audits(review_app: ReviewApp, audit: dict[str, int]) -> None:
    """Every route of the app but sign-in, sign-out and the audit pages refuses a partner's auditor with 403: the
    queue, drafts, data-quality items, the dashboard, approval and edit, the audit trail and administration."""
    partner = signed_in(review_app, "hugo.partner")
    refused = []
    for route in review_app.app.routes:
        if isinstance(route, Mount) or not isinstance(route, Route) or route.path in REACHABLE:
            continue
        address = re.sub(r"\{(\w+)(:\w+)?\}", lambda match: str(review_app.ids.get(match.group(1)[:-3], 1)), route.path)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            if method == "GET":
                answer = partner.client.get(address)
            else:
                answer = partner.client.post(address, data={"csrf_token": partner.csrf, "action": "approve"})
            refused.append((method, route.path, answer.status_code))
    assert refused and all(status == 403 for _, _, status in refused), refused
    assert ("POST", "/drafts/{draft_id:id}/decide", 403) in refused
    with review_app.db.session() as session:
        done = session.scalars(select(AuditEventRow.action).where(AuditEventRow.actor == "hugo.partner")).all()
    assert ["user.signed_in"] == done  # and nothing else


def test_sign_in_takes_an_auditor_to_the_audits_and_a_reviewer_is_refused_them(
    review_app: ReviewApp, audit: dict[str, int]
) -> None:
    """An auditor's sign-in lands on the audits, not the queue; a reviewer may not open them."""
    client = review_app.client()
    assert "/referral-audits" == review_app.sign_in(client, "fay.auditor").headers["location"]
    assert 403 == client.get("/queue").status_code
    reviewer = review_app.visitor("reviewer")
    assert 403 == reviewer.client.get("/referral-audits").status_code
    assert 403 == reviewer.client.get(f"/referral-audits/{audit['REF-201']}").status_code


def test_a_partner_sees_only_its_authoritys_sample_and_only_what_was_shared(
    review_app: ReviewApp, audit: dict[str, int]
) -> None:
    """Herefordshire's auditor lists its two referrals, opens them, sees the fields sent but not the incident, the
    draft or the risk; another authority's referral is not found, and cannot be scored."""
    partner = signed_in(review_app, "hugo.partner")
    listing = partner.client.get("/referral-audits").text
    assert "REF-201" in listing and "REF-202" in listing
    assert "REF-203" not in listing and "TW-" not in listing
    page = partner.client.get(f"/referral-audits/{audit['REF-201']}").text
    assert "What was sent to" in page and 'id="incident"' not in page and "draft #" not in page
    assert 404 == partner.client.get(f"/referral-audits/{audit['REF-203']}").status_code
    assert 404 == scores(partner, audit["REF-203"]).status_code
    assert [] == stored(review_app)


def test_scores_are_saved_then_amended_one_per_auditor_each_audited(
    review_app: ReviewApp, audit: dict[str, int]
) -> None:
    """The force's auditor scores, then amends (still one row); the partner scores beside it. The force's page shows
    both with the partner's comment; the partner's shows the force's scores but not its comment. Each save is
    audited with before and after; a comment with markup is shown as text."""
    force, partner = signed_in(review_app, "fay.auditor"), signed_in(review_app, "hugo.partner")
    item = audit["REF-201"]
    saved = scores(force, item, comment="Missing the school.")
    assert (303, f"/referral-audits/{item}?done=saved") == (saved.status_code, saved.headers["location"])
    assert 303 == scores(force, item, completeness="2", comment="Missing the school and consent.").status_code
    assert 303 == scores(partner, item, completeness="1", comment=COMMENT_MARKUP).status_code
    assert [
        (item, "force", {"completeness": 2, "accuracy": 4, "proportionality": 2}, "Missing the school and consent."),
        (item, "partner", {"completeness": 1, "accuracy": 4, "proportionality": 2}, COMMENT_MARKUP),
    ] == stored(review_app)
    force_page = force.client.get(f"/referral-audits/{item}").text
    assert "Hugo Partner" in force_page and "&lt;script&gt;alert(&#39;comment&#39;)&lt;/script&gt;" in force_page
    assert COMMENT_MARKUP not in force_page
    partner_page = partner.client.get(f"/referral-audits/{item}?done=saved").text
    assert "Force auditor" in partner_page and "Fay Auditor" not in partner_page
    assert "Missing the school" not in partner_page and "not shared" in partner_page
    with review_app.db.session() as session:
        events = session.scalars(
            select(AuditEventRow).where(AuditEventRow.action.like("referral_audit.%")).order_by(AuditEventRow.id)
        ).all()
        trail = [(e.action, e.actor, (e.before or {}).get("scores"), (e.after or {}).get("scores")) for e in events]
    assert [
        ("referral_audit.scored", "fay.auditor", None, {"completeness": 3, "accuracy": 4, "proportionality": 2}),
        (
            "referral_audit.amended",
            "fay.auditor",
            {"completeness": 3, "accuracy": 4, "proportionality": 2},
            {"completeness": 2, "accuracy": 4, "proportionality": 2},
        ),
        ("referral_audit.scored", "hugo.partner", None, {"completeness": 1, "accuracy": 4, "proportionality": 2}),
    ] == trail


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"accuracy": ""}, "Accuracy against the incident: choose a score from 1 to 4."),
        ({"completeness": "9"}, "Completeness: a score is a whole number from 1 to 4."),
        ({"proportionality": "two"}, "Proportionality of what was shared: a score is a whole number from 1 to 4."),
        ({"comment": "x" * 2001}, "Comment: at most 2000 characters."),
    ],
)
def test_a_bad_value_is_named_and_nothing_is_stored(
    review_app: ReviewApp, audit: dict[str, int], values: dict[str, str], message: str
) -> None:
    """A missing or impossible score, or a comment too long, comes back with a plain message naming the field; the
    other answers are kept in the form; nothing is stored or audited."""
    force = signed_in(review_app, "fay.auditor")
    answer = scores(force, audit["REF-202"], **values)
    assert 422 == answer.status_code
    assert message in answer.text and "Nothing was saved" in answer.text
    assert [] == stored(review_app)
    with review_app.db.session() as session:
        assert (
            [] == session.scalars(select(AuditEventRow.id).where(AuditEventRow.action.like("referral_audit.%"))).all()
        )


def test_the_list_shows_each_months_progress(review_app: ReviewApp, audit: dict[str, int]) -> None:
    """The force's list shows the whole sample, how much of it is scored and by whom; a reference with markup is
    text."""
    force = signed_in(review_app, "fay.auditor")
    scores(force, audit["REF-201"])
    scores(signed_in(review_app, "sian.partner"), audit["REF-203"])
    listing = force.client.get("/referral-audits?month=2026-10").text
    assert "4 referrals in 2026-10" in listing and "scored by you 1, by the force 1, jointly by a partner 1" in listing
    assert "TW-&lt;b&gt;204&lt;/b&gt;" in listing


def test_an_admin_adds_a_partners_auditor_with_its_authority(review_app: ReviewApp) -> None:
    """The Users form: a partner_auditor without an authority is refused beside the field, nothing added; with one,
    it is added and listed with its front door."""
    admin = review_app.visitor("admin")
    form = {
        "csrf_token": admin.csrf,
        "username": "hereford.auditor",
        "display_name": "Herefordshire auditor",
        "role": "partner_auditor",
        "password": "a synthetic partner passphrase",
        "password_again": "a synthetic partner passphrase",
    }
    refused = admin.client.post("/admin/users", data={**form, "authority": ""})
    assert 422 == refused.status_code and "A partner_auditor account needs its authority" in refused.text
    added = admin.client.post("/admin/users", data={**form, "authority": "herefordshire"})
    assert 303 == added.status_code
    assert 'partner auditor <span class="muted">(Herefordshire MASH)</span>' in admin.client.get("/admin/users").text
    with review_app.db.session() as session:
        stored = session.execute(
            select(UserRow.role, UserRow.authority).where(UserRow.username == "hereford.auditor")
        ).one()
    assert ("partner_auditor", "herefordshire") == tuple(stored)
