"""The referral quality audit's monthly sample: config/referral_audit.toml checked on load with errors naming the file
and the setting; the sample spread over front doors and risks as configured (red over-sampled), the same for the same
month wherever it is drawn, drawn once and never again; `vhub audit sample`."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.vhub.test_cli import vhub
from tests.vhub.test_cli_users import vhub as users_vhub
from tests.vhub.test_mou_report import referral
from vhub.errors import BusinessError, ConfigurationError
from vhub.mou import mou_config
from vhub.referral_audit import AUDIT_FILE, audit_config, load_audit_config, month_seed, previous_month
from vhub.reports.mou import build_mou_report, front_doors, month_bounds, write_mou_report
from vhub.review import accounts
from vhub.store import Database
from vhub.store.referral_audits import Candidate, allocate, candidates, choose, draw_sample, sampled, save_scores
from vhub.store.tables import AuditEventRow, AuditSampleReferralRow, AuditSampleRow

PASSPHRASE = "synthetic audit passphrase"
AUTHORITIES = ("herefordshire", "shropshire", "telford_wrekin", "worcestershire")
OCTOBER = datetime(2026, 10, 6, 10, 0, tzinfo=UTC)
NOVEMBER = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def shipped_with(tmp_path: Path, old: str, new: str) -> Path:
    text = AUDIT_FILE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "referral_audit.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_the_shipped_form_loads() -> None:
    """As shipped: 24 a month, at least 4 per front door, red weighed 3, three criteria scored 1 to 4 with words."""
    config = audit_config()
    assert (24, 4, 3, 1) == (
        config.sample.size,
        config.sample.min_per_authority,
        config.sample.risk_weights.red,
        config.sample.risk_weights.green,
    )
    assert ("completeness", "accuracy", "proportionality") == config.keys
    assert all(sorted(criterion.descriptors) == [1, 2, 3, 4] for criterion in config.criteria)


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ("size = 24", "size = 0", "sample.size"),
        ("size = 24", "size = 24\nsizes = 3", "sample.sizes"),
        ("\nred = 3\n", "\nred = 0\n", "sample.risk_weights.red"),
        ("highest = 4", "highest = 1", "scale.highest must be more than scale.lowest"),
        ('4 = "Complete: every section filled in or explained"\n', "", "criteria[0].descriptors (completeness)"),
        ('key = "accuracy"', 'key = "completeness"', "each [[criteria]] needs its own key"),
        ('key = "accuracy"', 'key = "Accuracy!"', "criteria[1].key"),
        ("max_length = 2000", "max_length = -1", "comment.max_length"),
        ("min_per_authority = 4", "min_per_authority = 7", "sample.size (24) cannot hold sample.min_per_authority (7)"),
    ],
)
def test_a_mistake_is_refused_with_the_file_and_the_setting(tmp_path: Path, old: str, new: str, named: str) -> None:
    """Each kind of mistake stops the load with a message naming the file and the setting to fix."""
    path = shipped_with(tmp_path, old, new)
    with pytest.raises(ConfigurationError) as raised:
        load_audit_config(path, AUTHORITIES)
    assert str(path) in raised.value.message
    assert named in raised.value.message


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    """A file that is not TOML is refused with its path."""
    path = tmp_path / "referral_audit.toml"
    path.write_text("[sample\nsize = ", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=f"{path} cannot be read"):
        load_audit_config(path)


def test_places_follow_the_weights_exactly() -> None:
    """With equal weights places follow the referrals (1 red of 5 for 2 of 10); red weighed 3 takes 2 of 5; an
    authority's minimum is met first, and no group is given more than it holds."""
    rules = audit_config().sample
    counts = {("herefordshire", "red"): 2, ("herefordshire", "green"): 8}
    even = rules.model_copy(
        update={"size": 5, "min_per_authority": 0, "risk_weights": rules.risk_weights.model_copy(update={"red": 1})}
    )
    assert {("herefordshire", "red"): 1, ("herefordshire", "green"): 4} == allocate(counts, even)
    weighted = rules.model_copy(update={"size": 5, "min_per_authority": 0})
    assert {("herefordshire", "red"): 2, ("herefordshire", "green"): 3} == allocate(counts, weighted)
    counts[("shropshire", "amber")] = 1
    counts[("telford_wrekin", "green")] = 30
    placed = allocate(counts, rules.model_copy(update={"size": 10, "min_per_authority": 3}))
    assert (10, 1) == (sum(placed.values()), placed[("shropshire", "amber")])
    assert 3 <= placed[("herefordshire", "red")] + placed[("herefordshire", "green")]
    assert all(placed[group] <= counts[group] for group in counts)


def population() -> list[Candidate]:
    """60 referrals: Herefordshire 2 red, 10 green; Shropshire 1 amber; Telford & Wrekin 6 red, 11 amber, 30 green."""
    spread = [("herefordshire", "red", 2), ("herefordshire", "green", 10), ("shropshire", "amber", 1)]
    spread += [("telford_wrekin", "red", 6), ("telford_wrekin", "amber", 11), ("telford_wrekin", "green", 30)]
    found = []
    for authority, risk, count in spread:
        for _ in range(count):
            number = len(found) + 1
            found.append(Candidate(number, authority, risk, f"REF-{number}", OCTOBER, 1))
    return found


def test_the_sample_is_stratified_and_red_over_sampled() -> None:
    """24 of 60: each front door its minimum (or all it was sent); a red referral more than twice as likely to be
    drawn as a green one."""
    chosen = choose(population(), audit_config().sample, "2026-10")
    by_authority = {a: sum(item.authority == a for item in chosen) for a in AUTHORITIES}
    assert 24 == len(chosen) == len({item.draft_id for item in chosen})
    assert by_authority["herefordshire"] >= 4 and by_authority["telford_wrekin"] >= 4
    assert (1, 0) == (by_authority["shropshire"], by_authority["worcestershire"])
    red = sum(item.risk == "red" for item in chosen) / 8  # of the 8 red referrals sent
    green = sum(item.risk == "green" for item in chosen) / 40  # of the 40 green
    assert red > 2 * green


def test_the_same_month_gives_the_same_sample_and_another_month_another() -> None:
    """Seeded by the month: the same referrals for the same month, in any order given; not those of another month."""
    rules = audit_config().sample
    first = choose(population(), rules, "2026-10")
    again = choose(list(reversed(population())), rules, "2026-10")
    other = choose(population(), rules, "2026-09")
    assert [item.draft_id for item in first] == [item.draft_id for item in again]
    assert [item.draft_id for item in first] != [item.draft_id for item in other]
    assert month_seed("2026-10") == month_seed("2026-10") != month_seed("2026-09")
    assert "2026-11" == previous_month(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
    assert "2025-12" == previous_month(datetime(2026, 1, 1, 0, 30, tzinfo=UTC))  # 00:30 UK on 1 January


@pytest.fixture
def october(db: Database) -> Database:
    """October 2026: 30 referrals sent to three front doors, one in September and one in November."""
    with db.session() as session:
        spread = ["herefordshire"] * 12 + ["telford_wrekin"] * 15 + ["shropshire"] * 3
        for number, authority in enumerate(spread, start=1):
            risk = "red" if number % 5 == 0 else ("amber" if number % 3 == 0 else "green")
            referral(session, number, authority, risk, OCTOBER + timedelta(hours=number))
        referral(session, 31, "worcestershire", "red", datetime(2026, 9, 30, 23, 0, tzinfo=UTC))  # 1 Oct 00:00 BST
        referral(session, 32, "worcestershire", "red", NOVEMBER)
    return db


@pytest.mark.both_engines
def test_a_month_is_drawn_once_and_never_again(october: Database) -> None:
    """The draw stores the sample and audits it once; drawing again, even after more referrals of the month are
    stored, finds the same sample and changes nothing."""
    _, start, end = month_bounds("2026-10")
    with october.session() as session:
        first, drawn = draw_sample(session, "2026-10", start, end, audit_config(), actor="test", now=NOVEMBER)
        ids = [item.draft_id for item in sampled(session, "2026-10")]
        expected = [item.draft_id for item in choose(candidates(session, start, end), audit_config().sample, "2026-10")]
    assert (True, 31, 24) == (drawn, first.population, len(ids))
    assert expected == ids
    with october.session() as session:
        referral(session, 40, "worcestershire", "red", OCTOBER)
        again, drawn_again = draw_sample(session, "2026-10", start, end, audit_config(), actor="other", now=NOVEMBER)
        assert (False, first.id, "test") == (drawn_again, again.id, again.drawn_by)
        assert ids == [item.draft_id for item in sampled(session, "2026-10")]
        assert 1 == session.scalar(select(func.count()).select_from(AuditSampleRow))
        assert 24 == session.scalar(select(func.count()).select_from(AuditSampleReferralRow))
        events = session.scalars(select(AuditEventRow).where(AuditEventRow.action == "audit_sample.drawn")).all()
    assert [("2026-10", "test", ids)] == [(e.entity_id, e.actor, (e.after or {})["drafts"]) for e in events]


@pytest.mark.both_engines
def test_a_month_not_over_is_not_drawn(october: Database) -> None:
    """Drawing November before it ends is refused in plain words, and nothing is stored."""
    _, start, end = month_bounds("2026-11")
    with october.session() as session, pytest.raises(BusinessError, match="2026-11 is not over yet"):
        draw_sample(session, "2026-11", start, end, audit_config(), actor="test", now=NOVEMBER)
    with october.session() as session:
        assert 0 == session.scalar(select(func.count()).select_from(AuditSampleRow))


def test_vhub_audit_sample_draws_a_month_once(tmp_path: Path) -> None:
    """`vhub audit sample --month` draws an ended month (empty here) and says so; again, it says it was drawn and
    changes nothing; a wrong month is a plain refusal."""
    first = vhub("audit", "sample", "--month", "2026-10", data_dir=tmp_path / "var")
    again = vhub("audit", "sample", "--month", "2026-10", data_dir=tmp_path / "var")
    wrong = vhub("audit", "sample", "--month", "October", data_dir=tmp_path / "var")
    assert (0, "2026-10: 0 of 0 referrals sent, drawn now.") == (first.returncode, first.stdout.strip())
    assert 0 == again.returncode and "already drawn (cli:" in again.stdout and "nothing was changed" in again.stdout
    assert 1 == wrong.returncode and "'October' is not a month: give it as YYYY-MM" in wrong.stderr


@pytest.mark.both_engines
def test_the_mou_report_gives_the_months_audit_and_its_trend(october: Database, tmp_path: Path) -> None:
    """October's sample scored by a force auditor (two referrals) and Herefordshire's auditor (one of them): per
    front door and risk the sampled, audited and joint counts and means; the agreement of the joint audit; six months
    of trend with the months never drawn said so; the same figures in the CSVs."""
    _, start, end = month_bounds("2026-10")
    with october.session() as session:
        draw_sample(session, "2026-10", start, end, audit_config(), actor="test", now=NOVEMBER)
        force = accounts.add_user(session, "fay.auditor", "synthetic audit passphrase", "auditor", "Fay", actor="t")
        partner = accounts.add_user(
            session,
            "hugo.partner",
            "synthetic audit passphrase",
            "partner_auditor",
            "Hugo",
            actor="t",
            authority="herefordshire",
        )
        hereford = [item for item in sampled(session, "2026-10", "herefordshire") if item.risk == "green"][:2]
        for item, user, side, marks in (
            (hereford[0], force, "force", (4, 3, 2)),
            (hereford[1], force, "force", (2, 3, 4)),
            (hereford[0], partner, "partner", (4, 1, 2)),
        ):
            save_scores(
                session,
                item,
                user_id=user.id,
                username=user.username,
                side=side,
                scores=dict(zip(audit_config().keys, marks, strict=True)),
                comment="",
                now=NOVEMBER,
            )
    with october.session(read_only=True) as session:
        report = build_mou_report(session, mou_config(), front_doors(), "2026-10", NOVEMBER)
    audit = report.audit
    assert audit is not None and audit.drawn and 31 == audit.population
    group = next(row for row in audit.groups if (row.authority, row.risk) == ("herefordshire", "green"))
    assert (2, 1) == (group.audited, group.joint)
    assert {"completeness": 10 / 3, "accuracy": 7 / 3, "proportionality": 8 / 3} == pytest.approx(group.means)
    agreement = next(row for row in audit.agreement if row.authority == "herefordshire")
    assert (1, {"completeness": 1, "accuracy": 0, "proportionality": 1}) == (agreement.joint, agreement.same)
    assert {"completeness": 0.0, "accuracy": -2.0, "proportionality": 0.0} == agreement.difference
    assert [("2026-05", False), ("2026-10", True)] == [
        (row.month, row.drawn) for row in (audit.trend[0], audit.trend[-1])
    ]
    assert (6, 2) == (len(audit.trend), audit.trend[-1].audited)
    paths = write_mou_report(report, tmp_path)
    html = paths[0].read_text(encoding="utf-8")
    assert 'id="referral-audit"' in html and "Completeness: mean score by month" in html
    rows = {
        path.name: list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
        for path in paths
        if "referral-audit" in path.name
    }
    groups = rows["mou-2026-10-referral-audit.csv"]
    assert {"sampled", "audited", "joint", "mean_completeness"} <= set(groups[0])
    hereford_green = next(r for r in groups if (r["authority"], r["risk"]) == ("herefordshire", "green"))
    assert ("2", "1", "3.33") == (
        hereford_green["audited"],
        hereford_green["joint"],
        hereford_green["mean_completeness"],
    )
    agreed = next(r for r in rows["mou-2026-10-referral-audit-agreement.csv"] if r["authority"] == "herefordshire")
    assert ("1", "-2.0") == (agreed["joint"], agreed["partner_minus_force_accuracy"])
    assert ["no"] * 5 + ["yes"] == [r["drawn"] for r in rows["mou-2026-10-referral-audit-trend.csv"]]


def test_a_partner_auditor_needs_its_authority_and_no_one_else_has_one(db: Database) -> None:
    """A partner_auditor without an authority (or with one not configured) is refused, as is an authority given to
    any other role; with its authority, it is added and the authority audited."""
    with db.session() as session:
        for role, authority, words in (
            ("partner_auditor", None, "needs its authority"),
            ("partner_auditor", "powys", "needs its authority"),
            ("auditor", "herefordshire", "Only a partner_auditor account belongs to an authority"),
        ):
            with pytest.raises(BusinessError, match=words):
                accounts.add_user(
                    session, "x.auditor", "synthetic audit passphrase", role, actor="t", authority=authority
                )
        user = accounts.add_user(
            session, "hugo.partner", "synthetic audit passphrase", "partner_auditor", actor="t", authority="shropshire"
        )
        event = session.scalars(select(AuditEventRow).where(AuditEventRow.action == "user.added")).one()
    assert ("shropshire", True, False) == (user.authority, user.is_partner, user.can_review)
    assert {"role": "partner_auditor", "display_name": "hugo.partner", "authority": "shropshire"} == event.after


def test_vhub_users_adds_a_partners_auditor_with_its_authority(tmp_path: Path) -> None:
    """`vhub users add --role partner_auditor` needs --authority (refused without, nothing added); with it, the
    list shows the role with its authority."""
    data = tmp_path / "var"
    command = ["users", "add", "hereford.auditor", "--role", "partner_auditor", "--password-stdin"]
    refused = users_vhub(data, *command, stdin=f"{PASSPHRASE}\n")
    added = users_vhub(data, *command, "--authority", "herefordshire", stdin=f"{PASSPHRASE}\n")
    listed = users_vhub(data, "users", "list")
    assert 2 == refused.returncode and "needs its authority" in refused.stderr
    assert (0, "Account hereford.auditor (partner_auditor, herefordshire) added.") == (
        added.returncode,
        added.stdout.strip(),
    )
    rows = [re.split(r"\s{2,}", line.strip()) for line in listed.stdout.splitlines()]
    assert [["hereford.auditor", "partner_auditor (herefordshire)", "enabled", "never"]] == rows[1:]
