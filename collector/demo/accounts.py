"""The demo's people: an engineer and an admin with fresh random passwords every run.

Made with the API's own ``create_user``; nothing here is used outside the demo."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from roomwatch.collector.api.auth import create_user, issue_token
from roomwatch.collector.db.session import Database


@dataclass(frozen=True)
class DemoUser:
    username: str
    role: str
    password: str


def demo_users() -> list[DemoUser]:
    """A new password each run: a demo left running on a network has no known default."""
    return [
        DemoUser("engineer", "engineer", secrets.token_urlsafe(9)),
        DemoUser("admin", "admin", secrets.token_urlsafe(9)),
    ]


def create_users(db: Database, users: Sequence[DemoUser], at: datetime) -> str:
    """Create ``users``; returns an API token of the first admin (the demo's own calls)."""
    with db.session(write=True) as session:
        made = [create_user(session, u.username, u.role, at, u.password) for u in users]
        admin = next(user for user in made if user.role == "admin")
        return issue_token(session, admin, at, name="demo console").secret
