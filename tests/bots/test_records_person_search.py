"""The records bot's person search against the real simulated records system, in a real Chromium."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser
from structlog.testing import capture_logs

from bots.records_system import RecordsBot
from fixtures.isr_portal import IsrTruth, generate_requests
from fixtures.records_system import GroundTruth, generate
from tests.bots.conftest import admin, serving
from vhub import redaction
from vhub.browser import BrowserSession
from vhub.errors import BusinessError, SelectorDrift
from vhub.settings import Settings
from vhub.simulated import simulated_system
from vhub.store.runs import ListedVersion

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SEED, INCIDENTS = 2026, 300


@pytest.fixture(scope="module")
def records() -> GroundTruth:
    return generate(SEED, INCIDENTS)


@pytest.fixture(scope="module")
def requests(records: GroundTruth) -> IsrTruth:
    """The ISR portal's requests for the same seed: their subjects are the people to search for."""
    return generate_requests(SEED, records)


@pytest.fixture(scope="module")
def records_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    log = tmp_path_factory.mktemp("records-system") / "server.log"
    with serving("fixtures.records_system", log, "--seed", str(SEED), "--incidents", str(INCIDENTS)) as url:
        yield url


@pytest.fixture
def bot(records_url: str, browser: Browser, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RecordsBot]:
    """A records bot over its own session on pytest-playwright's browser; the layout is standard afterwards."""
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("records-bot") / "var",
        records_system=simulated_system("records_system", records_url),
    )
    session = BrowserSession(settings, "records_system", browser=browser)
    yield RecordsBot(settings, session)
    session.close()
    admin(records_url, "POST", "faults", {"layout": "standard"})


def _versions(records: GroundTruth, references: list[str]) -> list[ListedVersion]:
    """The listed versions of these incidents as the records system holds them, by reference."""
    versions = []
    for record in records.incidents:
        if record.reference in references:
            assert record.last_modified is not None
            versions.append(ListedVersion(record.system_id, record.reference, record.last_modified))
    return sorted(versions, key=lambda version: version.reference)


def test_every_subject_is_found_in_exactly_its_ground_truth_incidents(
    bot: RecordsBot, records: GroundTruth, requests: IsrTruth
) -> None:
    """For each named subject the search lists exactly the incidents the ground truth holds; none for invented."""
    checked: Counter[str] = Counter()
    for item in requests.requests:
        assert item.request is not None
        for subject, truth in zip(item.request.subjects, item.subjects, strict=True):
            found = bot.search_person(subject.forename, subject.surname, subject.date_of_birth)
            expected = _versions(records, truth.references + truth.invalid_references)
            assert expected == found, (item.request_id, subject.subject_id)
            checked[truth.source] += 1
    assert checked["records"] > 0 and checked["invented"] > 0


def test_a_surname_alone_follows_every_page_and_lists_each_incident_once(bot: RecordsBot, records: GroundTruth) -> None:
    """A surname matching more than a page of nominals gives every incident it appears in, each once."""
    surname, _ = Counter(
        person["surname"].lower() for record in records.incidents for person in record.fields["people"]
    ).most_common(1)[0]
    expected = sorted(
        {
            record.reference
            for record in records.incidents
            for person in record.fields["people"]
            if person["surname"].lower() == surname
        }
    )
    assert _versions(records, expected) == bot.search_person("", surname, None)


def test_the_person_is_remembered_and_never_logged(bot: RecordsBot, requests: IsrTruth) -> None:
    """The searched name and date of birth are masked by the redactor and appear in no log event."""
    subject = next(s for item in requests.requests if item.request for s in item.request.subjects if s.date_of_birth)
    assert subject.date_of_birth is not None
    redaction.forget()
    with capture_logs() as events:
        bot.search_person(subject.forename, subject.surname, subject.date_of_birth)
    dob = subject.date_of_birth.strftime("%d/%m/%Y")
    assert [] == [value for value in (subject.forename, subject.surname, dob) if value in repr(events)]
    assert ["[name]"] * 3 == [redaction.redact_text(value) for value in (subject.forename, subject.surname, dob)]
    redaction.forget()


def test_a_blank_surname_is_a_business_error(bot: RecordsBot) -> None:
    """A person search without a surname is refused before the browser is used."""
    with pytest.raises(BusinessError) as caught:
        bot.search_person("Ann", " ", None)
    assert "missing_surname" == caught.value.code


def test_variant_layout_raises_selector_drift(bot: RecordsBot) -> None:
    """When the search page's layout changes, the search fails at once with SelectorDrift."""
    bot.search_person("", "Smith", None)  # signed in before the layout changes
    admin(bot.base_url, "POST", "faults", {"layout": "variant"})
    with pytest.raises(SelectorDrift) as caught:
        bot.search_person("", "Smith", None)
    assert ("records_system", "person_search", "surname") == (
        caught.value.system,
        caught.value.page,
        caught.value.locator,
    )
