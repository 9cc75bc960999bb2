"""The triage rules: risk and its reasons, the workflows that apply, their recipients and deadlines.

Every threshold and weight comes from config/triage.toml; every routing fact from config/authorities.toml,
config/schools.csv and config/portals.toml. Who is a child is decided by age on the day of the incident
(vhub/triage/ages.py), never by role. Reasons are plain English and name people by nominal reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from vhub.models import DashGrading, Incident, Person, PpnGrade, Role
from vhub.triage.ages import age_at, as_child, children_of, months_at
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


def _named(child: Person, incident: Incident) -> str:
    """``N100003 (child, age 9)``, ``N100001 (child victim, age 15)``."""
    return f"{child.nominal_ref} ({as_child(child)}, age {age_at(child, incident)})"


def _incidents_of(person: Person, incident: Incident, history: History, days: int, role: Role) -> set[str]:
    """This incident and the person's others in the window before it, in the same role (domestic abuse
    only, for victims)."""
    seen = history.within(
        person_key(person, incident), incident.occurred_at, days, role=role, domestic_abuse=role is Role.victim
    )
    return seen | {incident.reference}


def _child_incidents(child: Person, incident: Incident, history: History, days: int) -> set[str]:
    """This incident and the child's others in the window before it, in any role: a child now was a child then."""
    key = person_key(child, incident)
    seen = {incident.reference}
    for role in Role:
        seen |= history.within(key, incident.occurred_at, days, role=role)
    return seen


def _babies(children: list[Person], incident: Incident, risk: _Risk, config: TriageConfig) -> None:
    """A baby younger than the configured months is an indicator; an age in years that only may be one is said."""
    limit = config.policy.ages.baby_under_months
    babies, maybe = [], []
    for child in children:
        span = months_at(child, incident)
        if span is None:
            continue
        youngest, oldest = span
        told = f"{oldest} months" if youngest == oldest else f"{youngest} to {oldest} months, no date of birth"
        if oldest < limit:
            babies.append(f"{child.nominal_ref} ({told})")
        elif youngest < limit:
            maybe.append(f"{child.nominal_ref} ({told})")
    if babies:
        risk.flags.add("baby")
        risk.add(config.policy.risk.weights["baby"], f"A baby under {limit} months is linked: " + ", ".join(babies))
    if maybe:
        risk.add(
            0,
            f"Possibly a baby under {limit} months: " + ", ".join(maybe) + "; record the date of birth to tell",
        )


def assess_risk(incident: Incident, children: list[Person], history: History, config: TriageConfig) -> _Risk:
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
    _babies(children, incident, risk, config)
    if incident.domestic_abuse and any(child.present for child in children):
        risk.add(weights["child_present"], "A child was present at a domestic abuse incident")
    repeats = []
    for child in children:
        seen = _child_incidents(child, incident, history, repeat.window_days)
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
    if any(child.nominal_ref not in assessed for child in children):
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
    notes: list[str] = field(default_factory=list)  # reasons for the whole result, after the risk's

    def ask(self, workflow: Workflow, subject: str, code: str, message: str) -> None:
        """What triage cannot decide goes to a person, with a plain reason (no names: nominal refs only)."""
        self.problems.append(Problem(workflow=workflow, subject=subject, code=code, message=message))


def _authority_of(person: Person, incident: Incident, config: TriageConfig) -> tuple[Authority | None, str]:
    postcode = (person.address or incident.location).postcode
    return config.authority_for_postcode(postcode), postcode.split(" ")[0]


def referral_deadline(level: RiskLevel, occurred_at: datetime, config: TriageConfig) -> datetime:
    """When children's services must have the referral: red and amber in working hours, green in calendar hours."""
    deadlines = config.policy.deadlines
    if level is RiskLevel.red:
        return add_working_hours(occurred_at, deadlines.referral_red_working_hours, deadlines)
    if level is RiskLevel.amber:
        return add_working_hours(occurred_at, deadlines.referral_amber_working_hours, deadlines)
    return add_hours(occurred_at, deadlines.referral_green_hours)


def plan_ages(incident: Incident, config: TriageConfig, plan: _Plan) -> None:
    """Whoever has neither a date of birth nor an age goes to a person: whether they are a child is not guessed."""
    ages, rules = config.policy.ages, config.policy.workflows
    for person in incident.people:
        if age_at(person, incident) is not None:
            continue
        marac = ""
        if incident.domestic_abuse and person.role is Role.victim:
            marac = f", or old enough for MARAC ({rules.marac_min_victim_age} or over)"
        plan.ask(
            Workflow.referral,
            person.nominal_ref,
            "age_unknown",
            f"{person.role.value.capitalize()} {person.nominal_ref} has neither a date of birth nor an age, so "
            f"triage cannot tell whether they are a child (under {ages.child_under}){marac}: record one, then "
            "triage again.",
        )


def plan_referrals(
    incident: Incident, children: list[Person], level: RiskLevel, config: TriageConfig, plan: _Plan
) -> None:
    """One referral per authority for its children (or per child, where its portal takes fewer); a child living
    outside the four authorities goes to a person at any risk: a transfer to their home authority is real work."""
    groups: dict[str, tuple[Authority, list[Person]]] = {}
    for child in children:
        authority, district = _authority_of(child, incident, config)
        if authority is None:
            plan.ask(
                Workflow.referral,
                f"child:{child.nominal_ref}",
                "unknown_postcode",
                f"{as_child(child).capitalize()} {child.nominal_ref} lives in postcode district {district}, outside "
                f"the four West Mercia authorities (risk {level.value}): decide whether to tell their home "
                "authority's children's services (a transfer), or correct the postcode.",
            )
            continue
        groups.setdefault(authority.key, (authority, []))[1].append(child)
    if level is RiskLevel.blue:
        return  # not shared with partners
    for key, (authority, members) in sorted(groups.items()):
        limit = config.children_per_referral.get(key)
        batches = [members[i : i + limit] for i in range(0, len(members), limit)] if limit else [members]
        for batch in batches:
            count = f"{len(batch)} child{'ren' if len(batch) > 1 else ''}"
            reasons = [
                f"Risk {level.value}: children's services must be told about {count} living in {authority.name}: "
                + ", ".join(_named(child, incident) for child in batch)
            ]
            others = [child.nominal_ref for child in members if child not in batch]
            if others:
                reasons.append(
                    f"{authority.name} takes {limit} child{'ren' if limit and limit > 1 else ''} per referral: "
                    f"{', '.join(others)} referred separately"
                )
            plan.actions.append(
                Action(
                    workflow=Workflow.referral,
                    # An authority taking children one at a time gets a subject per child, stable across versions.
                    subject=f"children:{key}:{batch[0].nominal_ref}" if limit else f"children:{key}",
                    subject_refs=tuple(child.nominal_ref for child in batch),
                    recipient=Recipient(
                        kind=RecipientKind.childrens_services, authority=key, name=authority.childrens_services
                    ),
                    deadline=referral_deadline(level, incident.occurred_at, config),
                    reasons=tuple(reasons),
                )
            )


def plan_encompass(incident: Incident, children: list[Person], config: TriageConfig, plan: _Plan) -> None:
    if not incident.domestic_abuse:
        return
    rules = config.policy.workflows
    oldest = config.policy.ages.child_under - 1
    for child in children:
        subject = child.nominal_ref
        age = age_at(child, incident)
        who = f"{as_child(child)} {subject}"

        def problem(code: str, message: str, subject: str = subject) -> None:
            plan.ask(Workflow.encompass, subject, code, message)

        if age is None or age < rules.encompass_min_age:
            continue
        reason = (
            f"Domestic abuse incident and {who} is {age} (Operation Encompass covers "
            f"{rules.encompass_min_age} to {oldest}, present or not)"
        )
        if child.home_educated:
            authority, district = _authority_of(child, incident, config)
            if authority is None:
                problem(
                    "unknown_postcode",
                    f"{who.capitalize()} is home educated in postcode district {district}, outside "
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
                f"No school is recorded for {who} (age {age}): find the school, record it, then triage again.",
            )
            continue
        else:
            school = config.school_named(child.school)
            if school is None:
                problem(
                    "unknown_school",
                    f"The school recorded for {who} is not in the school directory "
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


def _professional_judgement(incident: Incident, config: TriageConfig) -> str | None:
    """SafeLives' professional-judgement criterion: the officer graded the risk high although fewer answers than
    visible high risk are yes. Proposed, never decided: the reviewer confirms or rejects it."""
    grounds = []
    if incident.dash is not None and incident.dash.officer_grading is DashGrading.high:
        grounds.append(
            f"the officer graded the DASH high with {incident.dash.yes_count} yes answers (fewer than the "
            f"{config.policy.risk.dash_high_risk_yes} of visible high risk)"
        )
    if incident.ppn is not None and incident.ppn.grade is PpnGrade.high:
        grounds.append("the officer graded the PPN high")
    if not grounds:
        return None
    return (
        f"professional judgement: {' and '.join(grounds)}. This referral rests on that judgement: the reviewer "
        "must confirm it, or reject it with the reason"
    )


def plan_marac(incident: Incident, history: History, config: TriageConfig, plan: _Plan) -> None:
    if not incident.domestic_abuse:
        return
    rules = config.policy.workflows
    window = rules.marac_repeat_window_days
    for victim in (p for p in incident.people if p.role is Role.victim):
        key = person_key(victim, incident)
        criteria = []
        if incident.dash is not None and incident.dash.yes_count >= config.policy.risk.dash_high_risk_yes:
            criteria.append(f"DASH: {incident.dash.yes_count} yes answers (visible high risk)")
        seen = _incidents_of(victim, incident, history, window, Role.victim)
        if len(seen) >= rules.marac_repeat_incidents:
            criteria.append(f"potential escalation: {len(seen)} domestic abuse incidents in {window} days")
        earlier = [
            at
            for at in history.marac_referrals.get(key, [])
            if timedelta(0) < incident.occurred_at - at <= timedelta(days=window)
        ]
        earlier += history.earlier_high_risk(key, incident.occurred_at, window, config.policy.risk.dash_high_risk_yes)
        if earlier:
            criteria.append(f"repeat: a further incident within {window} days of the last MARAC referral")
        if not criteria and (judged := _professional_judgement(incident, config)):
            criteria.append(judged)
        age = age_at(victim, incident)
        if not criteria or age is None:  # no age: plan_ages has asked a person
            continue
        if age < rules.marac_min_victim_age:
            plan.notes.append(
                f"Victim {victim.nominal_ref} meets the MARAC criteria ({'; '.join(criteria)}) but is {age}: "
                f"MARAC is for victims aged {rules.marac_min_victim_age} or over, so as a child victim they are "
                "referred to children's services instead"
            )
            continue
        authority, district = _authority_of(victim, incident, config)
        if authority is None:
            plan.ask(
                Workflow.marac,
                victim.nominal_ref,
                "unknown_postcode",
                f"Victim {victim.nominal_ref} meets the MARAC criteria but lives in postcode district {district}, "
                "outside the four authorities: refer by hand.",
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
    children = children_of(incident, config.policy.ages)
    risk = assess_risk(incident, children, history, config)
    level = _level(risk, config)
    plan = _Plan()
    plan_ages(incident, config, plan)
    plan_referrals(incident, children, level, config, plan)
    plan_encompass(incident, children, config, plan)
    plan_marac(incident, history, config, plan)

    assessed = {cra.nominal_ref for cra in incident.child_risk_assessments}
    missing = tuple(child.nominal_ref for child in children if child.nominal_ref not in assessed)
    location_authority = config.authority_for_postcode(incident.location.postcode)
    if location_authority is None:
        risk.flags.add("out_of_area")
    reasons = [
        f"Risk {level.value}: score {risk.score} (red from {config.policy.risk.red_from}, amber from "
        f"{config.policy.risk.amber_from}, green from {config.policy.risk.green_from})"
    ]
    reasons += [text for _, text in sorted(risk.reasons, key=lambda item: -item[0])]
    reasons += plan.notes
    if missing:
        reasons.append("No child risk assessment recorded for " + ", ".join(missing) + ": follow up with the officer")
    no_action = None
    if not plan.actions and not plan.problems:
        no_action = _no_action_reason(incident, children, level)
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


def _no_action_reason(incident: Incident, children: list[Person], level: RiskLevel) -> str:
    if not children and not incident.domestic_abuse:
        return "No children linked and not a domestic abuse incident: nothing to share."
    if not children:
        return "No children linked, and no victim meets the MARAC criteria."
    if level is RiskLevel.blue:
        return "Risk blue: not shared with partners; no child of school age at a domestic abuse incident."
    return "No workflow applies."
