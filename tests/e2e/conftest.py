"""End-to-end fixtures: a store of real drafts, the review app served by uvicorn, and signed-in browsers."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect
from redis import Redis
from rq import Queue
from rq.job import Job
from rq.rate_limit import RateLimitRegistry
from sqlalchemy import func, select

from fixtures.records_system import generate
from tasks.draft import draft_action
from tasks.triage import triage_incident
from tests.factories import raw_incident
from vhub import context
from vhub.errors import InvalidRecord
from vhub.models import parse_uk_datetime, validate_incident
from vhub.queues import SERIALIZER
from vhub.review.accounts import add_user
from vhub.runtime import Child, free_port, wait_for_http
from vhub.settings import Settings
from vhub.store import Database
from vhub.store.drafts import load_triage
from vhub.store.incidents import save_incident
from vhub.store.runs import record_invalid
from vhub.store.tables import AuditEventRow, DecisionRow, DraftRow, IncidentRow, UserRow

SEED, COUNT = 7, 40
PASSWORD = "synthetic-e2e-password"
REVIEWERS = {"alex.reviewer": "Alex Reviewer", "sam.reviewer": "Sam Reviewer"}
ADMIN = "vhub.admin"

SCRIPT = "<script>alert('xss')</script>"
ONERROR = '<img src=x onerror="alert(1)">'
BOLD_NAME = "<b>bold</b>"
PLANTED_REFERENCE = "OCC/26/990101"


def planted_incident() -> dict[str, Any]:
    """A valid incident whose narrative carries script payloads and whose child's name carries markup."""
    base = raw_incident()
    victim, suspect, child = base["people"]
    return raw_incident(
        reference=PLANTED_REFERENCE,
        system_id=990101,
        last_modified="26/11/2026 09:15:00 GMT",
        occurred_at="25/11/2026 22:40:00 GMT",
        people=[victim, suspect, {**child, "forename": BOLD_NAME}],
        ppn={"grade": "medium", "raised_at": "25/11/2026 23:30:00 GMT"},
        child_risk_assessments=[],
        narrative=f"Officers attended. The victim's phone showed {SCRIPT} and a profile said {ONERROR} (copied).",
    )


def _store(settings: Settings) -> None:
    """Store the synthetic incidents and the planted one, then triage and draft each as the workers would."""
    ctx = context.configure(settings)
    ctx.db.migrate()
    records = [record.fields for record in generate(SEED, COUNT).incidents] + [planted_incident()]
    with ctx.db.session() as session:
        for raw in records:
            try:
                incident = validate_incident(raw)
            except InvalidRecord as error:  # what ingest keeps for a person
                version = parse_uk_datetime(raw["last_modified"])
                record_invalid(
                    session,
                    system="records_system",
                    system_id=int(raw["system_id"]),
                    reference=raw["reference"],
                    version=version,
                    reasons=error.reasons,
                    raw=raw,
                )
                continue
            save_incident(session, incident, source_system="records_system")
        stored = session.execute(
            select(IncidentRow.id, IncidentRow.reference, IncidentRow.last_modified).order_by(IncidentRow.occurred_at)
        ).all()
    for incident_id, reference, version in stored:  # oldest first, so repeat rules see earlier incidents
        triage_incident(reference, version.isoformat())
        with ctx.db.session() as session:
            result = load_triage(session, incident_id)
        assert result is not None
        for action in result.actions:
            draft_action(reference, version.isoformat(), action.workflow.value, action.subject)
    with ctx.db.session() as session:
        for username, display_name in REVIEWERS.items():
            add_user(session, username, PASSWORD, "reviewer", display_name, actor="test")
        add_user(session, ADMIN, PASSWORD, "admin", "VHub Admin", actor="test")
    ctx.jobs.connection.flushdb()  # the draft jobs triage queued were run above; Redis starts empty


@dataclass
class ReviewApp:
    """The review app under test: its address, its store, its Redis, and which drafts tests have taken."""

    url: str
    db: Database
    redis_url: str
    taken: set[int] = field(default_factory=set)

    def take(
        self,
        *,
        workflow: str | None = None,
        risk: str | None = None,
        not_risk: str | None = None,
        reference: str | None = None,
    ) -> int:
        """A draft awaiting review that no other test uses (lowest id first)."""
        query = select(DraftRow.id).where(
            DraftRow.status == "awaiting_review", DraftRow.first_approver.is_(None), DraftRow.claimed_by.is_(None)
        )
        if workflow:
            query = query.where(DraftRow.workflow == workflow)
        if risk:
            query = query.where(DraftRow.risk == risk)
        if not_risk:
            query = query.where(DraftRow.risk != not_risk)
        if reference:
            query = query.where(DraftRow.source_ref == reference)
        with self.db.session() as session:
            ids = [i for i in session.scalars(query.order_by(DraftRow.id)) if i not in self.taken]
        assert ids, f"no free draft with workflow={workflow} risk={risk} not_risk={not_risk} reference={reference}"
        self.taken.add(ids[0])
        return ids[0]

    def draft(self, draft_id: int) -> DraftRow:
        with self.db.session() as session:
            row = session.get_one(DraftRow, draft_id)
            session.expunge(row)
            return row

    def decisions(self, draft_id: int) -> list[tuple[str, str]]:
        """(decision, username) in the order they were made."""
        with self.db.session() as session:
            return [
                (decision, username)
                for decision, username in session.execute(
                    select(DecisionRow.decision, UserRow.username)
                    .join(UserRow, DecisionRow.user_id == UserRow.id)
                    .where(DecisionRow.draft_id == draft_id)
                    .order_by(DecisionRow.id)
                )
            ]

    def audit(self, draft_id: int, action: str) -> list[AuditEventRow]:
        with self.db.session() as session:
            rows = session.scalars(
                select(AuditEventRow)
                .where(AuditEventRow.entity_type == "draft", AuditEventRow.entity_id == str(draft_id))
                .where(AuditEventRow.action == action)
                .order_by(AuditEventRow.id)
            ).all()
            session.expunge_all()
            return list(rows)

    def submit_jobs(self, draft_id: int) -> list[tuple[str, tuple[Any, ...], str]]:
        """The submission jobs of this draft as (function, arguments, where): "queued" on the rq `submit` queue,
        or "held" by its portal's rate limit until a submission to that portal finishes."""
        with Redis.from_url(self.redis_url) as connection:
            queued = Queue("submit", connection=connection).job_ids
            held = [i for limit in RateLimitRegistry.all(connection) for i in limit.get_rate_limited_job_ids()]
            jobs = Job.fetch_many(queued + held, connection=connection, serializer=SERIALIZER)
            return [
                (job.func_name, tuple(job.args), "queued" if job.id in queued else "held")
                for job in jobs
                if job is not None and job.origin == "submit" and tuple(job.args) == (draft_id,)
            ]

    def waiting(self, **equal: str) -> int:
        """How many drafts the queue lists as awaiting review with these column values."""
        query = select(func.count(DraftRow.id)).where(
            DraftRow.status == "awaiting_review", DraftRow.first_approver.is_(None)
        )
        for name, value in equal.items():
            query = query.where(getattr(DraftRow, name) == value)
        with self.db.session() as session:
            return int(session.scalar(query) or 0)

    def lapse_claim(self, draft_id: int) -> None:
        """What `review_claim_minutes` passing does to a claim, without waiting for it."""
        with self.db.session() as session:
            session.get_one(DraftRow, draft_id).claimed_until = None


@pytest.fixture(scope="session")
def review_settings(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Settings]:
    """A migrated SQLite store holding real drafts of synthetic incidents, the planted one, and accounts."""
    data = tmp_path_factory.mktemp("e2e") / "var"
    settings = Settings(data_dir=data, database_url=f"sqlite:///{data / 'vhub.db'}", redis_url=redis_url)
    settings.ensure_dirs()
    _store(settings)
    ctx = context.current()
    with ctx.db.session() as session:
        rows = session.scalars(select(DraftRow)).all()
        assert any(r.workflow == "referral" and r.risk != "red" for r in rows), "a non-red referral draft"
        assert any(r.risk == "red" for r in rows), "a red-risk draft"
        assert any(r.source_ref == PLANTED_REFERENCE for r in rows), "a draft of the planted incident"
    yield settings
    ctx.db.dispose()


@pytest.fixture(scope="session")
def review_app(review_settings: Settings, redis_url: str) -> Iterator[ReviewApp]:
    """`vhub review serve` on a free port against the test store and Redis, until the session ends."""
    port = free_port()
    env = {
        **os.environ,
        "VHUB_DATA_DIR": str(review_settings.data_path),
        "VHUB_DATABASE_URL": review_settings.database_url,
        "VHUB_REDIS_URL": redis_url,
        "PYTHONUNBUFFERED": "1",
    }
    argv = [sys.executable, "-m", "vhub", "review", "serve", "--host", "127.0.0.1", "--port", str(port)]
    child = Child("review", argv, env, review_settings.log_dir / "review.out")
    child.start()
    url = f"http://127.0.0.1:{port}"
    db = Database(review_settings)
    try:
        wait_for_http(f"{url}/healthz", child)
        yield ReviewApp(url, db, redis_url)
    finally:
        db.dispose()
        child.signal(signal.SIGTERM)
        if not child.wait(10):
            child.signal(signal.SIGKILL)
            child.wait(5)
        child.close_log()


@pytest.fixture(autouse=True)
def _patient_expect() -> Iterator[None]:
    """Assertions wait up to 15 s for the page (the app runs beside the browser on one busy machine)."""
    expect.set_options(timeout=15_000)
    yield
    expect.set_options(timeout=5_000)  # Playwright's default, for the tests of other folders


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any], review_app: ReviewApp) -> dict[str, Any]:
    """Every browser context: the app as base URL, a UK locale and clock, a laptop-sized window."""
    return {
        **browser_context_args,
        "base_url": review_app.url,
        "locale": "en-GB",
        "timezone_id": "Europe/London",
        "viewport": {"width": 1280, "height": 900},
    }


def sign_in(page: Page, username: str) -> Page:
    """Sign in through the form and wait for the queue."""
    page.goto("/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/queue**")
    return page


def csrf_token(page: Page) -> str:
    """The signed-in session's CSRF token, from any page's forms."""
    return page.locator('input[name="csrf_token"]').first.input_value()


SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
