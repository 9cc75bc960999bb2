"""The SQL schema: the system of record. Redis carries jobs; these tables carry everything else.

Incidents are versioned by the records system's last-modified time; the person details of each version
are kept as recorded in that version (incident_people), while ``people`` holds one row per nominal.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC without a zone (SQLite keeps none) and always returns an aware UTC datetime."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a time zone")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


LARGEST_ID = 2**31 - 1
"""The largest record id the store holds on either engine: ids are ``integer`` columns, 32-bit on PostgreSQL.
A larger number names no record; comparing one with an id column fails on PostgreSQL, so it is never sent."""


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


class IncidentRow(Base):
    __tablename__ = "incidents"
    __table_args__ = (UniqueConstraint("reference", "last_modified"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_system: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str] = mapped_column(String(20), index=True)
    system_id: Mapped[int] = mapped_column(Integer)
    last_modified: Mapped[datetime]
    is_latest: Mapped[bool] = mapped_column(Boolean, default=True)
    ingested_at: Mapped[datetime] = mapped_column(default=utcnow)
    incident_type: Mapped[str] = mapped_column(String(80))
    domestic_abuse: Mapped[bool] = mapped_column(Boolean)
    crime_classification: Mapped[str | None] = mapped_column(String(120))
    occurred_at: Mapped[datetime]
    location_line1: Mapped[str] = mapped_column(String(200))
    location_town: Mapped[str] = mapped_column(String(80))
    location_postcode: Mapped[str] = mapped_column(String(10))
    officer: Mapped[str] = mapped_column(String(80))
    narrative: Mapped[str] = mapped_column(Text, default="")

    people: Mapped[list[IncidentPersonRow]] = relationship(
        back_populates="incident", order_by="IncidentPersonRow.position", cascade="all, delete-orphan"
    )
    dash: Mapped[DashRow | None] = relationship(cascade="all, delete-orphan")
    ppn: Mapped[PpnRow | None] = relationship(cascade="all, delete-orphan")
    child_risk_assessments: Mapped[list[ChildRiskAssessmentRow]] = relationship(
        order_by="ChildRiskAssessmentRow.position", cascade="all, delete-orphan"
    )


class PersonRow(Base):
    """One nominal of the records system. Matching across nominals (same child recorded twice) uses
    ``match_key``: normalised name plus date of birth; ``name_key`` is its name part, found by equality."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    nominal_ref: Mapped[str] = mapped_column(String(10), unique=True)
    forename: Mapped[str] = mapped_column(String(80))
    surname: Mapped[str] = mapped_column(String(80))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    match_key: Mapped[str] = mapped_column(String(200), index=True)
    name_key: Mapped[str] = mapped_column(String(170), index=True, server_default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class IncidentPersonRow(Base):
    """A person's link to one incident version, with their details as recorded in that version."""

    __tablename__ = "incident_people"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(20))
    forename: Mapped[str] = mapped_column(String(80))
    surname: Mapped[str] = mapped_column(String(80))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    age_years: Mapped[int | None] = mapped_column(Integer)
    gender: Mapped[str] = mapped_column(String(10))
    address_line1: Mapped[str | None] = mapped_column(String(200))
    address_town: Mapped[str | None] = mapped_column(String(80))
    address_postcode: Mapped[str | None] = mapped_column(String(10), index=True)
    relationship_to: Mapped[str | None] = mapped_column("relationship", String(120))
    school: Mapped[str | None] = mapped_column(String(120))
    home_educated: Mapped[bool] = mapped_column(Boolean, default=False)
    present: Mapped[bool | None] = mapped_column(Boolean)
    voice_of_child: Mapped[str | None] = mapped_column(Text)

    incident: Mapped[IncidentRow] = relationship(back_populates="people")
    person: Mapped[PersonRow] = relationship()


class DashRow(Base):
    __tablename__ = "dash_assessments"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    officer_grading: Mapped[str] = mapped_column(String(10))
    yes_count: Mapped[int] = mapped_column(Integer)
    answers: Mapped[dict[str, Any]]


class PpnRow(Base):
    __tablename__ = "ppns"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), primary_key=True)
    grade: Mapped[str] = mapped_column(String(10))
    raised_at: Mapped[datetime]


class ChildRiskAssessmentRow(Base):
    __tablename__ = "child_risk_assessments"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    nominal_ref: Mapped[str] = mapped_column(String(10))
    level: Mapped[str] = mapped_column(String(10))
    completed_at: Mapped[datetime]
    summary: Mapped[str] = mapped_column(Text, default="")
    # What the quality audit scores (migration 0014); NULL in rows stored before it, read as lacking.
    age_years: Mapped[int | None] = mapped_column(Integer)
    voice_of_child: Mapped[str | None] = mapped_column(Text)
    risk_factors: Mapped[list[Any] | None] = mapped_column(JSON)
    actions: Mapped[list[Any] | None] = mapped_column(JSON)  # [{"action": ..., "owner": ... or None}]
    area: Mapped[str | None] = mapped_column(String(80))
    team: Mapped[str | None] = mapped_column(String(80))


class CraScoreRow(Base):
    """One child of an incident version as the child risk assessment audit scored it (config/cra_audit.toml):
    an assessment's score and what it lacks, or a child with no assessment (``assessed`` false, no score). Written
    when the version is triaged, so reports and pages read it without scoring again."""

    __tablename__ = "cra_scores"
    __table_args__ = (Index("ix_cra_scores_occurred_at", "occurred_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), index=True)
    reference: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime]
    nominal_ref: Mapped[str] = mapped_column(String(10))
    assessed: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[int | None] = mapped_column(Integer)  # percent of the rubric's weight met; None: no assessment
    lacking: Mapped[list[Any]] = mapped_column(JSON)  # [{"criterion": key, "label": ..., "lacks": ...}]
    area: Mapped[str | None] = mapped_column(String(80))  # the assessing officer's, else the incident's area
    team: Mapped[str | None] = mapped_column(String(80))
    scored_at: Mapped[datetime] = mapped_column(default=utcnow)


class WatermarkRow(Base):
    """How far each source system has been read: everything changed before ``value`` is stored."""

    __tablename__ = "watermarks"

    system: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class RunRow(Base):
    __tablename__ = "runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    system: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    scanned_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20), default="scanning")
    changed_since: Mapped[datetime | None]
    found: Mapped[int | None] = mapped_column(Integer)
    triage_queued_at: Mapped[datetime | None]  # set when the run's versions were handed to triage


class ScanItemRow(Base):
    """One incident version a scan found, and what became of it: the basis of the watermark."""

    __tablename__ = "scan_items"
    __table_args__ = (
        UniqueConstraint("run_id", "reference", "last_modified"),
        # A run's earliest open and newest done versions are one seek each (the watermark, the triage hand-over).
        Index("ix_scan_items_run_status_modified", "run_id", "status", "last_modified"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"))
    system: Mapped[str] = mapped_column(String(40))
    reference: Mapped[str] = mapped_column(String(20))
    system_id: Mapped[int] = mapped_column(Integer)
    last_modified: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default="pending")
    job_id: Mapped[str | None] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DataQualityItemRow(Base):
    """A record that could not be used as it stands; a person corrects or dismisses it. ``fingerprint``
    identifies what was read when the source gives no version (an ISR request), so it is kept once."""

    __tablename__ = "data_quality_items"
    __table_args__ = (
        UniqueConstraint("source_system", "system_id", "version"),
        Index("ix_data_quality_items_fingerprint", "source_system", "system_id", "fingerprint", unique=True),
        # The review queue reads only this index.
        Index("ix_data_quality_items_queue", "status", "owner_id", "created_at", "deadline"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_system: Mapped[str] = mapped_column(String(40))
    system_id: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str | None] = mapped_column(String(20), index=True)
    version: Mapped[datetime]
    reasons: Mapped[list[Any]]
    raw: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(80))
    resolution: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # what the person decided or corrected
    fingerprint: Mapped[str | None] = mapped_column(String(64))  # sha256 of what was read and why it failed
    # The deadline of the action the item holds up (vhub/triage/blocking.py), so the queue orders it with the
    # drafts; and that action in plain words. None: nothing with a deadline waits on it (or raised before 0009).
    deadline: Mapped[datetime | None]
    blocks: Mapped[str | None] = mapped_column(String(200))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # who looks after it (assigned)


class AuditEventRow(Base):
    """Append-only: the database refuses updates and deletes (triggers in the first migration)."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(80))
    action: Mapped[str] = mapped_column(String(60), index=True)
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(80), index=True)
    run_id: Mapped[str | None] = mapped_column(String(36))
    job_id: Mapped[str | None] = mapped_column(String(120))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class TriageResultRow(Base):
    """What triage decided for one incident version (one row per version: re-running adds nothing)."""

    __tablename__ = "triage_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id", ondelete="CASCADE"), unique=True)
    reference: Mapped[str] = mapped_column(String(20), index=True)
    version: Mapped[datetime]
    risk: Mapped[str] = mapped_column(String(10), index=True)
    score: Mapped[int] = mapped_column(Integer)
    priority: Mapped[str] = mapped_column(String(10))
    policing_area: Mapped[str | None] = mapped_column(String(40))
    result: Mapped[dict[str, Any]]  # the whole TriageResult, as JSON
    triaged_at: Mapped[datetime] = mapped_column(default=utcnow)


class DraftRow(Base):
    """A drafted action awaiting (or past) a person's review. ``row_version`` guards concurrent edits."""

    __tablename__ = "drafts"
    __table_args__ = (
        UniqueConstraint("dedupe_key"),
        # Covers every column the review queue filters, counts and orders on, so a queue page reads the index, never
        # the drafts' payloads; in the order the dashboard's backlog groups by, so that reads it with nothing to sort.
        # Owner and creation time last, so "my items" and the sort by creation read it too.
        Index(
            "ix_drafts_queue",
            "status",
            "authority",
            "risk",
            "first_approver",
            "deadline",
            "workflow",
            "owner_id",
            "created_at",
        ),
        Index("ix_drafts_recipient_name", "recipient_name"),  # the queue's search by school, a scan of this index
        Index("ix_drafts_status_created", "status", "created_at"),  # the oldest waiting
        Index("ix_drafts_created_at", "created_at"),  # drafts created per day
        Index("ix_drafts_lineage", "workflow", "source_ref", "subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(200))
    workflow: Mapped[str] = mapped_column(String(20))
    source_ref: Mapped[str] = mapped_column(String(40))  # incident reference or ISR request id
    source_version: Mapped[datetime | None]  # incident last_modified (None for ISR responses)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"), index=True)
    isr_request_id: Mapped[int | None] = mapped_column(ForeignKey("isr_requests.id"), index=True)
    subject: Mapped[str] = mapped_column(String(80))
    subject_key: Mapped[str | None] = mapped_column(String(200), index=True)  # person key (MARAC victims)
    title: Mapped[str] = mapped_column(String(200))
    recipient: Mapped[dict[str, Any]]
    recipient_name: Mapped[str] = mapped_column(String(200))
    authority: Mapped[str | None] = mapped_column(String(40), index=True)
    policy: Mapped[str | None] = mapped_column(String(20))
    risk: Mapped[str | None] = mapped_column(String(10))
    priority: Mapped[str] = mapped_column(String(10))
    deadline: Mapped[datetime | None]
    reasons: Mapped[list[Any]]
    payload: Mapped[dict[str, Any]]
    text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="awaiting_review")
    needs_attention: Mapped[bool] = mapped_column(Boolean, default=False)
    attention_reason: Mapped[str | None] = mapped_column(String(300))
    superseded_by: Mapped[int | None] = mapped_column(ForeignKey("drafts.id"))
    claimed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    claimed_until: Mapped[datetime | None]
    first_approver: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # red risk: awaiting a second
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # who looks after it (assigned, or returner)
    row_version: Mapped[int] = mapped_column(Integer, default=1)  # any change: the lock two reviewers meet
    content_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # what people approve
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class IsrRequestRow(Base):
    """An Information Sharing Request read from the partner portal."""

    __tablename__ = "isr_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[str] = mapped_column(String(20), unique=True)
    requester: Mapped[str] = mapped_column(String(120))
    requester_authority: Mapped[str | None] = mapped_column(String(40))
    purpose: Mapped[str] = mapped_column(String(120))
    lawful_basis: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime]
    due_date: Mapped[date]
    request: Mapped[dict[str, Any]]  # the whole IsrRequest, as JSON
    status: Mapped[str] = mapped_column(String(20), default="new")  # new, looked_up
    findings: Mapped[list[Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    looked_up_at: Mapped[datetime | None]


class UserRow(Base):
    """A local account of the review app. Passwords are argon2 hashes; nothing is ever deleted."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))  # one of vhub.review.accounts.ROLES
    authority: Mapped[str | None] = mapped_column(String(40))  # a partner auditor's authority; None for the force's
    password_hash: Mapped[str] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sign_in_at: Mapped[datetime | None]


class WebSessionRow(Base):
    """A signed-in browser session: the cookie holds a random token, the store only its hash."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    queue_search: Mapped[str | None] = mapped_column(String(200))  # may be a name: kept here, never in an address


class DecisionRow(Base):
    """A person's decision on a draft: approve (or first of two approvals), reject, return for a data fix."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    decision: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str | None] = mapped_column(Text)
    row_version: Mapped[int] = mapped_column(Integer)  # the version of the draft the decision was made on
    content_version: Mapped[int | None] = mapped_column(Integer)  # the content it approved or edited
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)  # decisions per day


class SubmissionRow(Base):
    """One approved draft's delivery to its partner: key, status and the partner's reference together."""

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id"), unique=True)
    portal: Mapped[str] = mapped_column(String(60), index=True)
    key: Mapped[str] = mapped_column(String(60), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="sending")  # sending, sent, rejected, paused
    partner_reference: Mapped[str | None] = mapped_column(String(60))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class EvidenceFileRow(Base):
    """One file a bot kept when a step failed (screenshot, saved page, trace...), when evidence is kept in the store
    (``VHUB_EVIDENCE_STORE=database``) so the review app on any host serves what a worker on another kept."""

    __tablename__ = "evidence_files"
    __table_args__ = (UniqueConstraint("system", "folder", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    system: Mapped[str] = mapped_column(String(60))
    folder: Mapped[str] = mapped_column(String(120))  # <stamp>-<outcome>-<job>-<item>, as the folder would be named
    job_id: Mapped[str] = mapped_column(String(120), index=True)
    name: Mapped[str] = mapped_column(String(40))  # one of vhub.evidence.FILES
    content: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PartnerDecisionRow(Base):
    """A children's services front door's decision on a referral the force sent, as its portal showed it: one row
    per change (the same decision read again adds nothing)."""

    __tablename__ = "partner_decisions"
    __table_args__ = (UniqueConstraint("draft_id", "outcome", "decided_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id"), index=True)
    authority: Mapped[str] = mapped_column(String(40), index=True)
    partner_reference: Mapped[str] = mapped_column(String(60))
    outcome: Mapped[str] = mapped_column(String(30))  # a key of vhub.mou.OUTCOMES
    wording: Mapped[str] = mapped_column(String(120))  # the portal's own words for it
    decided_at: Mapped[datetime]
    read_at: Mapped[datetime] = mapped_column(default=utcnow)


class DecisionEscalationRow(Base):
    """One step of the MOU's escalation route for a referral whose decision is overdue: opened once, alerted once,
    closed when the decision arrives."""

    __tablename__ = "decision_escalations"
    __table_args__ = (
        UniqueConstraint("draft_id", "step"),
        Index("ix_decision_escalations_open", "closed_at", "authority"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id"), index=True)
    authority: Mapped[str] = mapped_column(String(40))
    risk: Mapped[str | None] = mapped_column(String(10))
    partner_reference: Mapped[str] = mapped_column(String(60))
    step: Mapped[int] = mapped_column(Integer)  # 1 first, as config/mou.toml lists the route
    police_role: Mapped[str] = mapped_column(String(80))
    partner_role: Mapped[str] = mapped_column(String(80))
    decision_due_at: Mapped[datetime]
    opened_at: Mapped[datetime]  # the moment of the check that found it overdue
    alerted_at: Mapped[datetime | None]  # when its alert was taken by the channel (or the channel was not set)
    closed_at: Mapped[datetime | None]
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("partner_decisions.id"))


class AuditSampleRow(Base):
    """One month's sample of sent referrals for the quality audit: drawn once (seeded by the month), never again."""

    __tablename__ = "audit_samples"

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[str] = mapped_column(String(7), unique=True)  # YYYY-MM, UK time
    population: Mapped[int] = mapped_column(Integer)  # referrals sent in the month, to draw from
    rules: Mapped[dict[str, Any]]  # the size, minimum and weights config/referral_audit.toml gave at the draw
    drawn_at: Mapped[datetime] = mapped_column(default=utcnow)
    drawn_by: Mapped[str] = mapped_column(String(80))


class AuditSampleReferralRow(Base):
    """A sent referral in a month's sample, as it was sent: its front door, risk, reference and content version."""

    __tablename__ = "audit_sample_referrals"
    __table_args__ = (UniqueConstraint("sample_id", "draft_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("audit_samples.id"), index=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id"), index=True)
    authority: Mapped[str] = mapped_column(String(40), index=True)
    risk: Mapped[str | None] = mapped_column(String(10))
    partner_reference: Mapped[str] = mapped_column(String(60))
    sent_at: Mapped[datetime]
    content_version: Mapped[int] = mapped_column(Integer)  # the version approved and sent


class ReferralAuditRow(Base):
    """One auditor's scores of one sampled referral: a later save by the same auditor amends it (audited)."""

    __tablename__ = "referral_audits"
    __table_args__ = (UniqueConstraint("sampled_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sampled_id: Mapped[int] = mapped_column(ForeignKey("audit_sample_referrals.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    side: Mapped[str] = mapped_column(String(10))  # force, or partner (a partner auditor of the front door)
    scores: Mapped[dict[str, Any]]  # criterion key -> score, as config/referral_audit.toml names them
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
