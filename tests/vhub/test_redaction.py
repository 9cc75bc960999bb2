"""Personal data never reaches a log: names, dates of birth, postcodes, phones, e-mails, narrative."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

import pytest
import structlog
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from structlog.testing import LogCapture

from tests.factories import raw_incident
from vhub import redaction
from vhub.models import validate_incident
from vhub.store import Database

NAME, SURNAME, DOB, POSTCODE = "Zoë", "Quartermaine", "03/04/2015", "WR1 2AB"


def test_planted_personal_data_never_appears(captured: LogCapture) -> None:
    """A name, DOB and postcode the bot remembered are masked in messages, values and nested values."""
    redaction.remember([NAME, SURNAME, f"{NAME} {SURNAME}", DOB, POSTCODE])
    log = structlog.get_logger()
    log.info(f"read {NAME} {SURNAME}, born {DOB}, living at {POSTCODE}", detail={"who": [SURNAME]})
    text = json.dumps(captured.entries, default=str)
    for secret in (NAME, SURNAME, DOB, POSTCODE):
        assert secret not in text


def test_sensitive_keys_are_dropped(captured: LogCapture) -> None:
    """Values under keys such as surname, date_of_birth and narrative are replaced whatever they hold."""
    structlog.get_logger().info("person", surname="X", date_of_birth="anything", narrative="long text")
    entry = captured.entries[0]
    assert ("[redacted]", "[redacted]", "[redacted]") == (entry["surname"], entry["date_of_birth"], entry["narrative"])


def test_patterns_catch_what_was_not_remembered(captured: LogCapture) -> None:
    """Postcodes, e-mails, phone numbers and bare dates are masked by shape."""
    structlog.get_logger().info("call 07700 900123 or mail a.b@example.org about HR4 9ZZ, DOB 2015-04-03")
    assert "call [phone] or mail [email] about [postcode], DOB [date]" == captured.entries[0]["event"]


def test_event_times_and_job_ids_survive(captured: LogCapture) -> None:
    """Times of events and rq job ids are not personal data and stay readable."""
    structlog.get_logger().info("at 13/03/2026 22:40 job e4b2ab-1f", when="2026-03-13T22:40:00+00:00")
    entry = captured.entries[0]
    assert "at 13/03/2026 22:40 job e4b2ab-1f" == entry["event"]
    assert "2026-03-13T22:40:00+00:00" == entry["when"]


def test_exception_text_is_redacted(captured: LogCapture) -> None:
    """A traceback holding a remembered name is masked once formatted."""
    redaction.remember([SURNAME])
    try:
        raise RuntimeError(f"could not read {SURNAME}")
    except RuntimeError:
        structlog.get_logger().exception("failed")
    assert SURNAME not in captured.entries[0]["exception"]
    assert "could not read [name]" in captured.entries[0]["exception"]


def test_log_file_and_standard_logging_are_redacted(log_file: Callable[[], str]) -> None:
    """The JSON log file holds no planted data, from structlog or from libraries using logging."""
    redaction.remember([SURNAME])
    structlog.get_logger("t").info("stored", who=SURNAME, postcode=POSTCODE)
    logging.getLogger("rq.worker").info("job for %s at %s", SURNAME, POSTCODE)
    text = log_file()
    assert 2 == len(text.splitlines())
    assert SURNAME not in text and POSTCODE not in text
    assert all(json.loads(line)["event"] for line in text.splitlines())


def test_values_quoted_by_validation_errors_are_removed(captured: LogCapture) -> None:
    """A pydantic error quotes the bad input; that quote is dropped whatever it holds."""
    structlog.get_logger().info("surname\n  Value error [type=value_error, input_value='Quartermaine', input_type=str]")
    assert "Quartermaine" not in captured.entries[0]["event"]
    assert "input_value=[redacted], input_type=str" in captured.entries[0]["event"]


def test_a_failed_statements_parameters_never_reach_a_log(captured: LogCapture, db: Database) -> None:
    """A SQL error quotes its statement but not its parameters (here a casefolded name and date of birth)."""
    key = f"{SURNAME.casefold()}|{NAME.casefold()}|2015-04-03"
    with pytest.raises(OperationalError) as failure, db.session() as session:
        session.execute(text("SELECT id FROM people WHERE match_key = :key AND no_such_column = 1"), {"key": key})
    try:
        raise RuntimeError("person lookup failed") from failure.value
    except RuntimeError as error:
        structlog.get_logger().exception("lookup failed", error=str(error.__cause__))
    text_logged = json.dumps(captured.entries, default=str)
    assert "no_such_column" in text_logged
    assert SURNAME.casefold() not in text_logged


def test_an_exception_logged_as_a_value_is_redacted(captured: LogCapture) -> None:
    """An exception object passed as an event value is rendered with its message masked."""
    redaction.remember([SURNAME])
    structlog.get_logger().warning("step failed", error=ValueError(f"no school recorded for {SURNAME}"))
    assert "ValueError('no school recorded for [name]')" == captured.entries[0]["error"]


def test_a_records_people_are_remembered_wherever_they_sit(captured: LogCapture) -> None:
    """Every name, date of birth, address and the officer of an incident are masked once it is remembered."""
    incident = validate_incident(raw_incident())
    redaction.remember_record(incident)
    person = incident.people[0]
    assert person.date_of_birth is not None and person.address is not None
    born = person.date_of_birth.strftime("%d/%m/%Y")
    structlog.get_logger().info(
        f"{person.forename} {person.surname} (born {born} 10:00) of {person.address.line1}; "
        f"{person.surname.upper()} seen by {incident.officer}"
    )
    assert "[name] (born [name] 10:00) of [name]; [name] seen by [name]" == captured.entries[0]["event"]
