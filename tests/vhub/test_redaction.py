"""Personal data never reaches a log: names, dates of birth, postcodes, phones, e-mails, narrative."""

from __future__ import annotations

import json
import logging

import pytest
import structlog
from structlog.testing import LogCapture

from vhub import logs, redaction
from vhub.settings import Settings

NAME, SURNAME, DOB, POSTCODE = "Zoë", "Quartermaine", "03/04/2015", "WR1 2AB"


@pytest.fixture
def captured() -> LogCapture:
    """The production processor chain, with a capture at the end instead of a renderer."""
    capture = LogCapture()
    structlog.configure(
        processors=[*logs.shared_processors(), capture],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
    )
    yield capture
    structlog.reset_defaults()
    redaction.forget()


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


def test_log_file_and_standard_logging_are_redacted(tmp_path: pytest.TempPathFactory) -> None:
    """The JSON log file holds no planted data, from structlog or from libraries using logging."""
    settings = Settings(data_dir=tmp_path)
    logs.configure(settings, console=False)
    try:
        redaction.remember([SURNAME])
        structlog.get_logger("t").info("stored", who=SURNAME, postcode=POSTCODE)
        logging.getLogger("rq.worker").info("job for %s at %s", SURNAME, POSTCODE)
        for handler in logging.getLogger().handlers:
            handler.flush()
        text = (settings.log_dir / logs.LOG_FILE).read_text(encoding="utf-8")
        assert 2 == len(text.splitlines())
        assert SURNAME not in text and POSTCODE not in text
        assert all(json.loads(line)["event"] for line in text.splitlines())
    finally:
        redaction.forget()
        for handler in list(logging.getLogger().handlers):
            logging.getLogger().removeHandler(handler)
            handler.close()
        structlog.reset_defaults()


def test_values_quoted_by_validation_errors_are_removed(captured: LogCapture) -> None:
    """A pydantic error quotes the bad input; that quote is dropped whatever it holds."""
    structlog.get_logger().info("surname\n  Value error [type=value_error, input_value='Quartermaine', input_type=str]")
    assert "Quartermaine" not in captured.entries[0]["event"]
    assert "input_value=[redacted], input_type=str" in captured.entries[0]["event"]
