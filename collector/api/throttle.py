"""Failed sign-ins, counted per user name and per client address, to slow password guessing.

After ``per_user`` failures for one user name, or ``per_address`` failures from one address,
within ``window``, further sign-ins for that name or from that address are refused (HTTP 429,
``Retry-After``) until the oldest of those failures is older than ``window``; a success
forgets the user name's failures. The counts live in SQL (``collector.db.signin_store``):
every collector of a group sees the same counts, and a restart keeps them. A guesser can
keep a real user out for ``window`` by failing on purpose; the address limit is higher so
that one school's shared address is not locked out by one forgetful teacher.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from roomwatch.collector.db import signin_store
from roomwatch.collector.db.session import Database

PER_USER = 5
PER_ADDRESS = 20
WINDOW = timedelta(minutes=15)
KEY_CHARS = 128  # the column's width; longer names are refused by the API's pattern anyway


class TooManySignIns(Exception):
    """Sign-in refused without checking the password; retry after ``retry_after_s``."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Attempt:
    keys: list[tuple[str, str]]
    at: datetime
    row_ids: list[int]


class SignInThrottle:
    def __init__(
        self,
        db: Database,
        per_user: int = PER_USER,
        per_address: int = PER_ADDRESS,
        window: timedelta = WINDOW,
    ) -> None:
        self.db = db
        self.window = window
        self._limits = {"user": per_user, "address": per_address}

    def attempt(self, username: str, address: str | None, at: datetime) -> Attempt:
        """Count a sign-in attempt as a failure until ``succeeded``; raise TooManySignIns,
        counting nothing, while the user name or the address is over its limit.

        Counted and committed before the password is checked, so that concurrent guesses,
        on this collector or another of the group, cannot all pass the check before any of
        them has failed."""
        keys = _keys(username, address)

        def count(session: Session) -> Attempt | int:
            signin_store.lock_keys(session, keys)
            signin_store.prune(session, at - self.window)
            waits = [self._wait(session, key, at) for key in keys]
            wait = max((w for w in waits if w is not None), default=None)
            if wait is not None:
                return wait
            return Attempt(keys, at, signin_store.count(session, keys, at))

        outcome = self.db.transact(count, write=True)
        if isinstance(outcome, int):
            raise TooManySignIns(outcome)
        return outcome

    def succeeded(self, attempt: Attempt, session: Session) -> None:
        """The password was right: forget the name's failures and this attempt's count, in
        ``session``, the transaction that signs the user in (a second write transaction
        would wait for that one's lock on SQLite)."""
        for kind, key in attempt.keys:
            if kind == "user":
                signin_store.forget_user(session, key)
        signin_store.forget_rows(session, attempt.row_ids)

    def _wait(self, session: Session, key: tuple[str, str], at: datetime) -> int | None:
        limit = self._limits[key[0]]
        times = signin_store.recent(session, key, at - self.window, limit)
        if len(times) < limit:
            return None
        return max(1, int((times[0] + self.window - at).total_seconds() + 0.999))


def _keys(username: str, address: str | None) -> list[tuple[str, str]]:
    keys = [("user", username.casefold()[:KEY_CHARS])]
    if address:
        keys.append(("address", address[:KEY_CHARS]))
    return keys
