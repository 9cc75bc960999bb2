"""The domain objects read from the records system, validated with messages a person can act on.

Dates arrive as the records system prints them (``31/01/2015``, ``31/01/2026 22:05 GMT``) and are
stored as ``date`` and UTC-aware ``datetime``. Every text field has a length limit that fits its column in
vhub/store/tables.py and refuses control characters. Validation messages name the field, never its value.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator

from vhub.errors import InvalidRecord

LONDON = ZoneInfo("Europe/London")


def uk_timestamp(value: datetime, *, seconds: bool = False) -> str:
    """When something happened, for staff, admins and auditors: UK local time with its zone, never microseconds
    (``01/12/2026 09:05 GMT``; ``01/06/2026 09:05:07 BST`` with ``seconds``). A time without a zone is refused:
    which zone it meant cannot be known."""
    if value.tzinfo is None:
        raise ValueError("a date and time without a time zone cannot be shown in UK time")
    local = value.astimezone(LONDON)
    return f"{local:%d/%m/%Y %H:%M{':%S' if seconds else ''}} {local.tzname()}"


# The 27 questions of the DASH risk identification checklist, in the order the records system numbers
# them (Q1..Q27). Keys are stable identifiers used by triage rules and the store.
DASH_QUESTIONS: dict[str, str] = {
    "injury": "Has the current incident resulted in injury?",
    "very_frightened": "Are you very frightened?",
    "afraid_of_further_violence": "What are you afraid of? Is it further injury or violence?",
    "isolated": "Do you feel isolated from family or friends?",
    "depressed_or_suicidal": "Are you feeling depressed or having suicidal thoughts?",
    "separated_past_year": "Have you separated or tried to separate from the abuser within the past year?",
    "child_contact_conflict": "Is there conflict over child contact?",
    "stalking_harassment": "Does the abuser constantly text, call, contact, follow, stalk or harass you?",
    "pregnant_or_baby_under_18_months": "Are you pregnant or have you had a baby in the last 18 months?",
    "abuse_more_often": "Is the abuse happening more often?",
    "abuse_getting_worse": "Is the abuse getting worse?",
    "controlling_or_jealous": "Does the abuser try to control everything you do or are they excessively jealous?",
    "weapons_used": "Has the abuser ever used weapons or objects to hurt you?",
    "threats_to_kill": "Has the abuser ever threatened to kill you or someone else and you believed them?",
    "strangulation_choking": "Has the abuser ever attempted to strangle, choke, suffocate or drown you?",
    "sexual_abuse": "Does the abuser do or say things of a sexual nature that make you feel bad or hurt you?",
    "other_person_threats": "Is there any other person who has threatened you or who you are afraid of?",
    "hurt_others": "Do you know if the abuser has hurt anyone else?",
    "animal_abuse": "Has the abuser ever mistreated an animal or the family pet?",
    "financial_issues": "Are there any financial issues?",
    "substance_or_mental_health": "Has the abuser had problems in the past year with drugs, alcohol or mental health?",
    "abuser_suicide_threats": "Has the abuser ever threatened or attempted suicide?",
    "breached_bail_or_orders": "Has the abuser ever breached bail, an injunction or any agreement?",
    "criminal_history": "Do you know if the abuser has ever been in trouble with the police?",
    "children_in_household": "Are there any children or step-children who are not the abuser's in the household?",
    "hurt_children": "Has the abuser ever hurt the children or dependants?",
    "threatened_children": "Has the abuser ever threatened to hurt or kill the children or dependants?",
}
DASH_KEYS: tuple[str, ...] = tuple(DASH_QUESTIONS)

REFERENCE_RE = re.compile(r"^OCC/\d{2}/\d{6}$")
POSTCODE_RE = re.compile(r"^([A-Z]{1,2}\d[A-Z\d]?) ?(\d[A-Z]{2})$")
_UK_DATE_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_UK_DATETIME_RE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4}) (\d{1,2}):(\d{2})(?::(\d{2}))?(?: (GMT|BST))?$")


class Role(StrEnum):
    victim = "victim"
    suspect = "suspect"
    child = "child"
    witness = "witness"
    household_member = "household member"


class Gender(StrEnum):
    female = "female"
    male = "male"
    other = "other"
    unknown = "unknown"


class DashGrading(StrEnum):
    standard = "standard"
    medium = "medium"
    high = "high"


class PpnGrade(StrEnum):
    """Public Protection Notice grades; red/amber/green in the force's colours."""

    high = "high"
    medium = "medium"
    low = "low"


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value.strip() if isinstance(value, str) else value


_ISO_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")


def parse_uk_date(value: Any) -> Any:
    """``31/01/2015`` -> date (and ISO ``2015-01-31``, as stored). Raises without echoing the value (it may
    be a date of birth)."""
    value = _blank_to_none(value)
    if not isinstance(value, str) or _ISO_DATE_RE.match(value):
        return value
    match = _UK_DATE_RE.match(value)
    if not match:
        raise ValueError("is not a date in the form DD/MM/YYYY")
    day, month, year = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        raise ValueError("is not a real calendar date") from None


# The times an event can be recorded at: outside them a time is a slip, and near year 1 or 9999 it cannot be
# moved between time zones or have a deadline added to it.
_EARLIEST_TIME = datetime(1900, 1, 1, tzinfo=UTC)
_LATEST_TIME = datetime(2100, 1, 1, tzinfo=UTC)
_NOT_IN_YEARS = "is not between 1900 and 2099: check the year"


def _in_years(value: Any) -> Any:
    if isinstance(value, datetime) and not _EARLIEST_TIME <= value < _LATEST_TIME:
        raise ValueError(_NOT_IN_YEARS)
    return value


def parse_uk_datetime(value: Any) -> Any:
    """``31/01/2026 22:05 GMT`` (UK local time) -> UTC-aware datetime (ISO with an offset passes, as stored)."""
    value = _blank_to_none(value)
    if not isinstance(value, str) or _ISO_DATETIME_RE.match(value):
        return value
    match = _UK_DATETIME_RE.match(value)
    if not match:
        raise ValueError("is not a date and time in the form DD/MM/YYYY HH:MM")
    day, month, year, hour, minute = (int(part) for part in match.groups()[:5])
    second = int(match.group(6) or 0)
    zone = match.group(7)
    try:
        local = datetime(year, month, day, hour, minute, second)
    except ValueError:
        raise ValueError("is not a real date and time") from None
    if not _EARLIEST_TIME.year <= year < _LATEST_TIME.year:  # year 1 cannot even be moved to UTC
        raise ValueError(_NOT_IN_YEARS)
    if zone == "GMT":
        return local.replace(tzinfo=UTC)
    if zone == "BST":
        return local.replace(tzinfo=UTC) - timedelta(hours=1)
    return local.replace(tzinfo=LONDON).astimezone(UTC)


def normalise_postcode(value: Any) -> Any:
    value = _blank_to_none(value)
    if not isinstance(value, str):
        return value
    compact = re.sub(r"\s+", "", value.upper())
    match = POSTCODE_RE.match(compact)
    if not match:
        raise ValueError("is not a UK postcode (for example WR1 2AB)")
    return f"{match.group(1)} {match.group(2)}"


def _require_aware(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("has no time zone")
        return value.astimezone(UTC)
    return value


# Text limits, in characters: each fits the column the value is stored in (vhub/store/tables.py).
NAME_MAX = 80  # names, towns, officers, incident types: String(80)
LABEL_MAX = 120  # crime classification, relationship, school: String(120)
LINE_MAX = 200  # the first line of an address: String(200)
LONG_TEXT_MAX = 20_000  # narrative, the voice of the child, assessment summaries: Text
# The earliest date of birth believed, and the oldest age: anything outside is a typing slip to check.
EARLIEST_BIRTH = date(1900, 1, 1)
OLDEST_YEARS = 120
# Control characters (Unicode categories Cc and Cs: a NUL byte, an escape, a lone surrogate) are no one's name
# and break what reads the value later (PostgreSQL refuses NUL outright): the field is invalid, never quietly
# cleaned. Long text may keep its layout: line breaks and tabs (CR because CRLF is a line break). One search of a
# compiled class, not a category lookup per character: every field of every incident read passes through here.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_CONTROL_NOT_LAYOUT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def hidden_characters(value: str, *, layout: bool = False) -> bool:
    """Whether ``value`` holds a control character; ``layout``: line breaks and tabs are allowed (long text)."""
    return (_CONTROL_NOT_LAYOUT if layout else _CONTROL).search(value) is not None


def _control_characters(value: str, pattern: re.Pattern[str]) -> str:
    if pattern.search(value):
        raise ValueError("contains a hidden control character (such as a NUL byte): retype it where it was recorded")
    return value


def one_line(value: str) -> str:
    """Short text: no control characters at all (a line break in a name is a slip too)."""
    return _control_characters(value, _CONTROL)


def _long_text(value: str) -> str:
    return _control_characters(value, _CONTROL_NOT_LAYOUT)


def _born_since_1900(value: date) -> date:
    if value < EARLIEST_BIRTH:
        raise ValueError(f"is before {EARLIEST_BIRTH.year}: check the year of birth")
    return value


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February, in a year without one
        return day.replace(year=day.year - years, day=28)


def birth_problem(born: date, day: date, event: str) -> str | None:
    """What is implausible about a date of birth given on ``day`` (the day of the incident or request)."""
    if born > day:
        return f"is after the {event} date"
    if born < _years_before(day, OLDEST_YEARS):
        return f"is more than {OLDEST_YEARS} years before the {event}: check the year of birth"
    return None


def age_on(date_of_birth: date | None, age_years: int | None, day: date) -> int | None:
    """Whole years on ``day`` from the date of birth, else the recorded age; None when neither is known."""
    if date_of_birth is None:
        return age_years
    return day.year - date_of_birth.year - ((day.month, day.day) < (date_of_birth.month, date_of_birth.day))


UKDate = Annotated[date, BeforeValidator(parse_uk_date)]
DateOfBirth = Annotated[date, AfterValidator(_born_since_1900), BeforeValidator(parse_uk_date)]
UKDateTime = Annotated[
    datetime, AfterValidator(_in_years), BeforeValidator(_require_aware), BeforeValidator(parse_uk_datetime)
]
Postcode = Annotated[str, BeforeValidator(normalise_postcode)]
OptionalText = Annotated[str | None, BeforeValidator(_blank_to_none)]
Name = Annotated[str, Field(min_length=1, max_length=NAME_MAX), AfterValidator(one_line)]
Label = Annotated[str, Field(min_length=1, max_length=LABEL_MAX), AfterValidator(one_line)]
AddressLine = Annotated[str, Field(min_length=1, max_length=LINE_MAX), AfterValidator(one_line)]
LongText = Annotated[str, Field(max_length=LONG_TEXT_MAX), AfterValidator(_long_text)]
OptionalLabel = Annotated[Label | None, BeforeValidator(_blank_to_none)]
OptionalName = Annotated[Name | None, BeforeValidator(_blank_to_none)]
OptionalLongText = Annotated[LongText | None, BeforeValidator(_blank_to_none)]


def _short(name: str, most: int = 40) -> str:
    """A field name as read (an unexpected key may be anything, a megabyte long): shortened to be readable."""
    return name if len(name) <= most else f"{name[: most - 1]}…"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Address(_Model):
    line1: AddressLine
    town: Name
    postcode: Postcode


class Person(_Model):
    """A person linked to an incident, with their role in it."""

    nominal_ref: str = Field(pattern=r"^N\d{6}$")
    forename: Name
    surname: Name
    date_of_birth: DateOfBirth | None = None
    age_years: int | None = Field(None, ge=0, le=OLDEST_YEARS, description="recorded when the date of birth is not")
    gender: Gender = Gender.unknown
    address: Address | None = None
    role: Role
    relationship: OptionalLabel = None
    school: OptionalLabel = Field(None, description="school or nursery; children only")
    home_educated: bool = False
    present: bool | None = Field(None, description="whether the person was present at the incident")
    voice_of_child: OptionalLongText = Field(None, description="what the child said, if spoken to")

    def age_on(self, day: date) -> int | None:
        return age_on(self.date_of_birth, self.age_years, day)


class DashAssessment(_Model):
    """The DASH checklist as the officer recorded it: answers (True yes, False no, None not known)."""

    answers: dict[str, bool | None]
    officer_grading: DashGrading

    @model_validator(mode="after")
    def _known_questions(self) -> DashAssessment:
        unknown = sorted(set(self.answers) - set(DASH_KEYS))
        if unknown:
            named = ", ".join(_short(key) for key in unknown[:5])
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            raise ValueError(f"has answers to unknown DASH questions: {named}{more}")
        return self

    @property
    def yes_count(self) -> int:
        return sum(1 for answer in self.answers.values() if answer is True)


class Ppn(_Model):
    grade: PpnGrade
    raised_at: UKDateTime


class CraAction(_Model):
    """An action a child risk assessment sets, and who owns it (a role or team; None: nobody named)."""

    action: AddressLine  # one line, up to 200 characters
    owner: OptionalLabel = None


class ChildRiskAssessment(_Model):
    """The officer's assessment of one child linked to the incident. The fields after ``summary`` are what the
    monthly quality audit scores (vhub/cra_audit.py); a record that lacks them is read as lacking them."""

    nominal_ref: str = Field(pattern=r"^N\d{6}$")
    level: DashGrading
    completed_at: UKDateTime
    summary: LongText = ""
    age_years: int | None = Field(None, ge=0, le=OLDEST_YEARS, description="the child's age as assessed")
    voice_of_child: OptionalLongText = Field(None, description="what the child said, or why they were not spoken to")
    risk_factors: list[Label] = []
    actions: list[CraAction] = []
    area: OptionalName = Field(None, description="the assessing officer's local policing area")
    team: OptionalName = Field(None, description="the assessing officer's team")


class Incident(_Model):
    """One version of an incident in the records system, identified by reference + last_modified."""

    reference: str = Field(pattern=REFERENCE_RE.pattern)
    system_id: int = Field(ge=1)
    last_modified: UKDateTime
    incident_type: Name
    domestic_abuse: bool
    crime_classification: OptionalLabel = None
    occurred_at: UKDateTime
    location: Address
    officer: Name
    people: list[Person]
    dash: DashAssessment | None = None
    ppn: Ppn | None = None
    child_risk_assessments: list[ChildRiskAssessment] = []
    narrative: LongText = ""

    @model_validator(mode="after")
    def _consistent(self) -> Incident:
        if self.occurred_at > self.last_modified:
            raise ValueError("occurred_at: the incident is dated after the record was last modified")
        day = self.occurred_at.astimezone(LONDON).date()
        refs = [person.nominal_ref for person in self.people]
        for index, person in enumerate(self.people):
            problem = birth_problem(person.date_of_birth, day, "incident") if person.date_of_birth else None
            if problem:
                raise ValueError(f"people[{index}].date_of_birth: {problem}")
            if refs.count(person.nominal_ref) > 1:
                raise ValueError(f"people[{index}].nominal_ref: the same person is linked twice")
        for index, cra in enumerate(self.child_risk_assessments):
            if cra.nominal_ref not in refs:
                raise ValueError(f"child_risk_assessments[{index}]: is for a person not linked to the incident")
        return self

    @property
    def children(self) -> list[Person]:
        return [person for person in self.people if person.role is Role.child]

    @property
    def version(self) -> tuple[str, datetime]:
        return self.reference, self.last_modified


_MESSAGES = {
    "missing": "is missing",
    "datetime_type": "is missing or is not a date and time (DD/MM/YYYY HH:MM)",
    "datetime_parsing": "is not a date and time (DD/MM/YYYY HH:MM)",
    "date_type": "is missing or is not a date (DD/MM/YYYY)",
    "string_type": "is missing",
    "string_too_short": "is empty",
    "string_pattern_mismatch": "is not in the expected format",
    "int_parsing": "is not a whole number",
    "int_type": "is missing or is not a whole number",
    "bool_parsing": "is not Yes or No",
    "bool_type": "is not Yes or No",
    "extra_forbidden": "is not a field the record should have",
}


def describe_validation_error(error: ValidationError) -> list[str]:
    """Plain-English reasons, one per problem, naming the field and never echoing its value."""
    reasons = []
    for item in error.errors(include_url=False, include_input=False):
        path = ""
        for part in item["loc"]:
            path += f"[{part}]" if isinstance(part, int) else (f".{_short(part)}" if path else _short(part))
        if item["type"] == "enum":
            message = f"is not one of {item.get('ctx', {}).get('expected', 'the allowed values')}"
        elif item["type"] == "string_too_long":
            message = f"is longer than {item.get('ctx', {}).get('max_length')} characters, the most VHub keeps"
        else:
            message = _MESSAGES.get(item["type"], item["msg"].removeprefix("Value error, "))
        reasons.append(f"{path}: {message}" if path else message)
    return reasons


def validate_incident(raw: dict[str, Any]) -> Incident:
    """Build an Incident from what the bot read; raises InvalidRecord with reasons a person can act on."""
    try:
        return Incident.model_validate(raw)
    except ValidationError as error:
        reasons = describe_validation_error(error)
        reference = raw.get("reference") if isinstance(raw.get("reference"), str) else None
        label = reference if reference and REFERENCE_RE.match(reference) else "an incident"
        raise InvalidRecord(f"{label} could not be read: " + "; ".join(reasons), reasons) from None
