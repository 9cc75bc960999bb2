"""The triage rules: risk and its reasons, the workflows that apply, their recipients and deadlines.

Every threshold and weight comes from config/triage.toml; every routing fact from config/authorities.toml
and config/schools.csv. Reasons are plain English and name people by nominal reference, never by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from vhub.models import LONDON, DashGrading, Incident, Person, PpnGrade, Role
from vhub.triage.calendar import add_hours, add_working_hours, next_school_day_start
from vhub.triage.config import Authority, TriageConfig
from vhub.triage.history import History, person_key
from vhub.triage.model import (
    Action,
    Priority,
    Problem,
    Recipient,
    RecipientKind,
    RiskLevel,
    TriageResult,
    Workflow,
)


@dataclass
class _Risk:
    score: int = 0
    floor_red: bool = False
    reasons: list[tuple[int, str]] = field(default_factory=list)
    flags: set[str] = field(default_factory=set)
    repeat_children: list[str] = field(default_factory=list)

    def add(self, weight: int, reason: str) -> None:
        self.score += weight
        self.reasons.append((weight, reason))


def _age(person: Person, incident: Incident) -> int | None:
    return person.age_on(incident.occurred_at.astimezone(LONDON).date())


def _describe(person: Person, incident: Incident) -> str:
    age = _age(person, incident)
    return f"{person.nominal_ref} (age {age})" if age is not None else f"{person.nominal_ref} (age not recorded)"


def _incidents_of(person: Person, incident: Incident, history: History, days: int, role: Role) -> set[str]:
    """This incident and the person's others in the window before it, in the same role (domestic abuse
    only, for victims)."""
    seen = history.within(
        person_key(person, incident), incident.occurred_at, days, role=role, domestic_abuse=role is Role.victim
    )
    return seen | {incident.reference}


def assess_risk(incident: Incident, history: History, config: TriageConfig) -> _Risk:
    policy = config.policy.risk
    weights = policy.weights
    risk = _Risk()
    dash = incident.dash
    if dash is not None:
        yes = dash.yes_count
        if yes >= policy.dash_high_risk_yes:
            risk.floor_red = True
            risk.add(
                weights["dash_high_risk"],
                f"DASH: {yes} of 27 answers are yes ({policy.dash_high_risk_yes} or more is high risk, "
                "whatever the officer's grading)",
            )
            if dash.officer_grading is not DashGrading.high:
                risk.flags.add("hidden_high_risk")
                risk.add(0, f"Hidden high risk: the officer graded the DASH {dash.officer_grading.value}")
        for key, label in policy.high_harm.items():
            if dash.answers.get(key) is True:
                risk.add(weights["high_harm_answer"], f"DASH: {label}")
        if dash.officer_grading is not DashGrading.standard:
            risk.add(
                weights[f"officer_grading_{dash.officer_grading.value}"],
                f"Officer graded the DASH {dash.officer_grading.value}",
            )
    if incident.ppn is not None:
        colour = {PpnGrade.high: "red", PpnGrade.medium: "amber", PpnGrade.low: "green"}[incident.ppn.grade]
        risk.add(weights[f"ppn_{incident.ppn.grade.value}"], f"PPN graded {incident.ppn.grade.value} ({colour})")
    type_weight = policy.incident_types.get(incident.incident_type, 0)
    if type_weight:
        risk.add(type_weight, f"Incident type: {incident.incident_type}")

    repeat = config.policy.repeat
    babies = [child for child in incident.children if _age(child, incident) == 0]
    if babies:
        risk.flags.add("child_under_1")
        risk.add(weights["child_under_1"], "A child under 1 is linked: " + ", ".join(c.nominal_ref for c in babies))
    if incident.domestic_abuse and any(child.present for child in incident.children):
        risk.add(weights["child_present"], "A child was present at a domestic abuse incident")
    repeats = []
    for child in incident.children:
        seen = _incidents_of(child, incident, history, repeat.window_days, Role.child)
        if len(seen) >= repeat.incidents:
            risk.repeat_children.append(child.nominal_ref)
            repeats.append(f"{child.nominal_ref} ({len(seen)} incidents in {repeat.window_days} days)")
    if repeats:
        risk.flags.add("repeat_child")
        risk.add(weights["repeat_child"], "Repeat child: " + ", ".join(repeats))
    if incident.domestic_abuse:
        for victim in (p for p in incident.people if p.role is Role.victim):
            seen = _incidents_of(victim, incident, history, repeat.window_days, Role.victim)
            if len(seen) >= repeat.incidents:
                risk.flags.add("repeat_victim")
                risk.add(
                    weights["repeat_victim"],
                    f"Repeat victim: {victim.nominal_ref} "
                    f"({len(seen)} domestic abuse incidents in {repeat.window_days} days)",
                )
    assessed = {cra.nominal_ref for cra in incident.child_risk_assessments}
    if any(child.nominal_ref not in assessed for child in incident.children):
        risk.flags.add("missing_cra")
    return risk


def _level(risk: _Risk, config: TriageConfig) -> RiskLevel:
    policy = config.policy.risk
    if risk.floor_red or risk.score >= policy.red_from:
        return RiskLevel.red
    if risk.score >= policy.amber_from:
        return RiskLevel.amber
    if risk.score >= policy.green_from:
        return RiskLevel.green
    return RiskLevel.blue


@dataclass
class _Plan:
    actions: list[Action] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def _authority_of(person: Person, incident: Incident, config: TriageConfig) -> tuple[Authority | None, str]:
    postcode = (person.address or incident.location).postcode
    return config.authority_for_postcode(postcode), postcode.split(" ")[0]


def _referral_deadline(level: RiskLevel, incident: Incident, config: TriageConfig) -> datetime:
    deadlines = config.policy.deadlines
    if level is RiskLevel.red:
        return add_working_hours(incident.occurred_at, deadlines.referral_red_working_hours, deadlines)
    if level is RiskLevel.amber:
        return add_working_hours(incident.occurred_at, deadlines.referral_amber_working_hours, deadlines)
    return add_hours(incident.occurred_at, deadlines.referral_green_hours)


def plan_referrals(incident: Incident, level: RiskLevel, config: TriageConfig, plan: _Plan) -> None:
    if level is RiskLevel.blue or not incident.children:
        return
    groups: dict[str, tuple[Authority, list[Person]]] = {}
    for child in incident.children:
        authority, district = _authority_of(child, incident, config)
        if authority is None:
            plan.problems.append(
                Problem(
                    workflow=Workflow.referral,
                    subject=f"child:{child.nominal_ref}",
                    code="unknown_postcode",
                    message=f"Child {child.nominal_ref} lives in postcode district {district}, outside the four "
                    "West Mercia authorities: refer to the right authority by hand, or correct the postcode.",
                )
            )
            continue
        groups.setdefault(authority.key, (authority, []))[1].append(child)
    for key, (authority, children) in sorted(groups.items()):
        plan.actions.append(
            Action(
                workflow=Workflow.referral,
                subject=f"children:{key}",
                subject_refs=tuple(child.nominal_ref for child in children),
                recipient=Recipient(
                    kind=RecipientKind.childrens_services, authority=key, name=authority.childrens_services
                ),
                deadline=_referral_deadline(level, incident, config),
                reasons=(
                    f"Risk {level.value}: children's services must be told "
                    f"({len(children)} child{'ren' if len(children) > 1 else ''} living in {authority.name})",
                ),
            )
        )


def plan_encompass(incident: Incident, config: TriageConfig, plan: _Plan) -> None:
    if not incident.domestic_abuse:
        return
    rules = config.policy.workflows
    for child in incident.children:
        subject = child.nominal_ref
        age = _age(child, incident)

        def problem(code: str, message: str, subject: str = subject) -> None:
            plan.problems.append(Problem(workflow=Workflow.encompass, subject=subject, code=code, message=message))

        if age is None:
            problem(
                "age_unknown", f"Child {subject} has neither a date of birth nor an age: record one, then triage again."
            )
            continue
        if not rules.encompass_min_age <= age <= rules.encompass_max_age:
            continue
        reason = (
            f"Domestic abuse incident and child {subject} is {age} (Operation Encompass covers "
            f"{rules.encompass_min_age} to {rules.encompass_max_age}, present or not)"
        )
        if child.home_educated:
            authority, district = _authority_of(child, incident, config)
            if authority is None:
                problem(
                    "unknown_postcode",
                    f"Child {subject} is home educated in postcode district {district}, outside "
                    "the four authorities: tell the right authority by hand.",
                )
                continue
            recipient = Recipient(
                kind=RecipientKind.local_authority_education, authority=authority.key, name=authority.education_team
            )
            reason += "; home educated, so the authority is told"
        elif child.school is None:
            problem(
                "no_school",
                f"No school is recorded for child {subject} (age {age}): find the school, record it, "
                "then triage again.",
            )
            continue
        else:
            school = config.school_named(child.school)
            if school is None:
                problem(
                    "unknown_school",
                    f"The school recorded for child {subject} is not in the school directory "
                    "(config/schools.csv): check the name, then triage again or notify the school by hand.",
                )
                continue
            authority = config.authorities[school.authority]
            recipient = Recipient(kind=RecipientKind.school, authority=authority.key, name=school.name, urn=school.urn)
        school_day = next_school_day_start(incident.occurred_at, authority)  # warns outside the term dates
        plan.actions.append(
            Action(
                workflow=Workflow.encompass,
                subject=subject,
                subject_refs=(subject,),
                recipient=recipient,
                deadline=school_day.at,
                reasons=(reason, *school_day.warnings),
                policy=authority.encompass_form,
            )
        )


def plan_marac(incident: Incident, history: History, config: TriageConfig, plan: _Plan) -> None:
    if not incident.domestic_abuse:
        return
    rules = config.policy.workflows
    for victim in (p for p in incident.people if p.role is Role.victim):
        key = person_key(victim, incident)
        criteria = []
        if incident.dash is not None and incident.dash.yes_count >= config.policy.risk.dash_high_risk_yes:
            criteria.append(f"DASH: {incident.dash.yes_count} yes answers (visible high risk)")
        seen = _incidents_of(victim, incident, history, rules.marac_repeat_window_days, Role.victim)
        if len(seen) >= rules.marac_repeat_incidents:
            criteria.append(f"potential escalation: {len(seen)} domestic abuse incidents in 12 months")
        window = timedelta(days=rules.marac_repeat_window_days)
        earlier = [
            at for at in history.marac_referrals.get(key, []) if timedelta(0) < incident.occurred_at - at <= window
        ]
        earlier += history.earlier_high_risk(
            key, incident.occurred_at, rules.marac_repeat_window_days, config.policy.risk.dash_high_risk_yes
        )
        if earlier:
            criteria.append("repeat: a further incident within 12 months of the last MARAC referral")
        if not criteria:
            continue
        age = _age(victim, incident)
        if age is None:
            plan.problems.append(
                Problem(
                    workflow=Workflow.marac,
                    subject=victim.nominal_ref,
                    code="age_unknown",
                    message=f"Victim {victim.nominal_ref} meets the MARAC criteria but has no "
                    "recorded age: MARAC is for victims aged 16 or over. Record the age, then "
                    "triage again.",
                )
            )
            continue
        if age < rules.marac_min_victim_age:
            continue
        authority, district = _authority_of(victim, incident, config)
        if authority is None:
            plan.problems.append(
                Problem(
                    workflow=Workflow.marac,
                    subject=victim.nominal_ref,
                    code="unknown_postcode",
                    message=f"Victim {victim.nominal_ref} meets the MARAC criteria but lives in "
                    f"postcode district {district}, outside the four authorities: refer by hand.",
                )
            )
            continue
        plan.actions.append(
            Action(
                workflow=Workflow.marac,
                subject=victim.nominal_ref,
                subject_refs=(victim.nominal_ref,),
                recipient=Recipient(kind=RecipientKind.marac, authority=authority.key, name=authority.marac),
                deadline=add_working_hours(
                    incident.occurred_at, config.policy.deadlines.marac_working_hours, config.policy.deadlines
                ),
                reasons=tuple(f"MARAC: {criterion}" for criterion in criteria),
            )
        )


def _priority(level: RiskLevel, actions: list[Action], now: datetime, config: TriageConfig) -> Priority:
    if level is RiskLevel.red:
        return Priority.high
    ladder = [Priority.low, Priority.default, Priority.high]
    base = Priority.default if level is RiskLevel.amber else Priority.low
    soonest = min((action.deadline for action in actions), default=None)
    if soonest is not None and soonest - now <= timedelta(hours=config.policy.priority.raise_within_hours):
        return ladder[min(ladder.index(base) + 1, 2)]
    return base


def triage(incident: Incident, history: History, config: TriageConfig, *, now: datetime) -> TriageResult:
    """Decide risk, reasons, actions, problems and priority for one incident version."""
    risk = assess_risk(incident, history, config)
    level = _level(risk, config)
    plan = _Plan()
    plan_referrals(incident, level, config, plan)
    plan_encompass(incident, config, plan)
    plan_marac(incident, history, config, plan)

    assessed = {cra.nominal_ref for cra in incident.child_risk_assessments}
    missing = tuple(child.nominal_ref for child in incident.children if child.nominal_ref not in assessed)
    location_authority = config.authority_for_postcode(incident.location.postcode)
    if location_authority is None:
        risk.flags.add("out_of_area")
    reasons = [
        f"Risk {level.value}: score {risk.score} (red from {config.policy.risk.red_from}, amber from "
        f"{config.policy.risk.amber_from}, green from {config.policy.risk.green_from})"
    ]
    reasons += [text for _, text in sorted(risk.reasons, key=lambda item: -item[0])]
    if missing:
        reasons.append("No child risk assessment recorded for " + ", ".join(missing) + ": follow up with the officer")
    no_action = None
    if not plan.actions and not plan.problems:
        no_action = _no_action_reason(incident, level)
    return TriageResult(
        reference=incident.reference,
        version=incident.last_modified,
        risk=level,
        score=risk.score,
        priority=_priority(level, plan.actions, now, config),
        reasons=tuple(reasons),
        flags=tuple(sorted(risk.flags)),
        missing_cras=missing,
        repeat_children=tuple(risk.repeat_children),
        policing_area=location_authority.policing_area if location_authority else None,
        actions=tuple(plan.actions),
        problems=tuple(plan.problems),
        no_action_reason=no_action,
        triaged_at=now,
    )


def _no_action_reason(incident: Incident, level: RiskLevel) -> str:
    if not incident.children and not incident.domestic_abuse:
        return "No children linked and not a domestic abuse incident: nothing to share."
    if not incident.children:
        return "No children linked, and the adult victim does not meet the MARAC criteria."
    if level is RiskLevel.blue:
        return "Risk blue: not shared with partners; no child of school age at a domestic abuse incident."
    return "No workflow applies."
