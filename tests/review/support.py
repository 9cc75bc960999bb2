"""What the review app's tests share: accounts, synthetic drafts and items, and a client per kind of visitor."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette

from tests.factories import raw_incident
from tests.fixtures.sessions import TestClient, csrf_token
from vhub.context import AppContext
from vhub.review import accounts
from vhub.store import Database
from vhub.store.tables import DataQualityItemRow, DraftRow, utcnow

PASSWORD = "synthetic-review-password"
ACCOUNTS = {  # role in the route table -> (username, display name, account role)
    "reviewer": ("alex.reviewer", "Alex Reviewer", "reviewer"),
    "second": ("sam.reviewer", "Sam Reviewer", "reviewer"),
    "admin": ("vhub.admin", "VHub Admin", "admin"),
    "disabled": ("dana.former", "Dana Former", "reviewer"),
}
REFERENCE = "OCC/26/000101"


def draft_row(number: int, **changes: Any) -> DraftRow:
    """A synthetic Operation Encompass draft awaiting review, due in eight hours."""
    values: dict[str, Any] = {
        "dedupe_key": f"encompass:OCC/26/{number:06d}:N{number:06d}:1",
        "workflow": "encompass",
        "source_ref": f"OCC/26/{number:06d}",
        "subject": f"N{number:06d}",
        "title": f"Operation Encompass notice for Brookfield Primary School ({number})",
        "recipient": {"name": "Brookfield Primary School", "email": "dsl@brookfield.example"},
        "recipient_name": "Brookfield Primary School",
        "authority": "worcestershire",
        "risk": "amber",
        "priority": "default",
        "reasons": ["A child was present at a domestic abuse incident."],
        "payload": {"school": "Brookfield Primary School"},
        "text": "Synthetic notice text.",
        "status": "awaiting_review",
        "deadline": utcnow() + timedelta(hours=8),
    }
    values.update(changes)
    return DraftRow(**values)


def data_quality_row(**changes: Any) -> DataQualityItemRow:
    values: dict[str, Any] = {
        "source_system": "records_system",
        "system_id": 101,
        "reference": REFERENCE,
        "version": datetime(2026, 3, 14, 9, 15, tzinfo=UTC),
        # A reason naming no field: the correction form of a field reason fails to render (reported).
        "reasons": [
            "The records system no longer shows incident id 101: it may have been deleted or restricted after the "
            "scan listed it. Check it in the records system."
        ],
        "raw": raw_incident(),
    }
    values.update(changes)
    return DataQualityItemRow(**values)


@dataclass
class Visitor:
    """A test client and, once signed in, the session's CSRF token."""

    client: TestClient
    csrf: str = ""
    username: str = ""


@dataclass
class ReviewApp:
    app: Starlette
    ctx: AppContext
    db: Database
    ids: dict[str, int]
    clients: list[TestClient] = field(default_factory=list)

    def client(self, base_url: str = "http://testserver", address: str = "testclient") -> TestClient:
        """A client of the app; ``address`` is the client address the app sees."""
        client = TestClient(self.app, base_url=base_url, follow_redirects=False, client=(address, 50000))
        self.clients.append(client)
        return client

    def sign_in(self, client: TestClient, username: str, password: str = PASSWORD) -> Any:
        """Sign in through the form, with the token of the sign-in page and its cookie."""
        form = client.get("/login")
        return client.post(
            "/login", data={"csrf_token": csrf_token(form.text), "username": username, "password": password}
        )

    def visitor(self, role: str) -> Visitor:
        """A client as an anonymous visitor, a signed-in reviewer, second reviewer or admin, or a person whose
        account was disabled after they signed in."""
        client = self.client()
        if role == "anonymous":
            return Visitor(client)
        username = ACCOUNTS[role][0]
        assert 303 == self.sign_in(client, username).status_code
        csrf = csrf_token(client.get("/dashboard").text)
        if role == "disabled":
            with self.db.session() as session:
                accounts.disable_user(session, username, actor="test")
        return Visitor(client, csrf, username)
