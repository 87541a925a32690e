"""Users and API tokens for tests that call the API, made the way an admin makes them."""

from __future__ import annotations

from datetime import UTC, datetime

from roomwatch.collector.api.auth import create_user, issue_token
from roomwatch.collector.db.session import Database


def token_for(db: Database, username: str, role: str, password: str | None = None) -> str:
    """Create ``username`` with ``role`` and return a fresh API token of theirs."""
    now = datetime.now(UTC)
    with db.session(write=True) as session:  # it writes: take SQLite's lock up front
        user = create_user(session, username, role, now, password=password)
        return issue_token(session, user, now, name="test").secret


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def auth_headers(db: Database, role: str = "viewer", username: str | None = None) -> dict[str, str]:
    return bearer(token_for(db, username or f"test-{role}", role))
