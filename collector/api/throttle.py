"""Failed sign-ins, counted per user name and per client address, to slow password guessing.

After ``per_user`` failures for one user name, or ``per_address`` failures from one address,
within ``window``, further sign-ins for that name or from that address are refused (HTTP 429,
``Retry-After``) until the oldest of those failures is older than ``window``; a success
forgets the user name's failures. The counts live in the collector's memory: a restart
forgets them, and each collector process counts its own. A guesser can keep a real user out
for ``window`` by failing on purpose; the address limit is higher so that one school's
shared address is not locked out by one forgetful teacher.
"""

from __future__ import annotations

import contextlib
import threading
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

PER_USER = 5
PER_ADDRESS = 20
WINDOW = timedelta(minutes=15)
MAX_KEYS = 10_000  # beyond this, the key with the oldest last failure is forgotten


class TooManySignIns(Exception):
    """Sign-in refused without checking the password; retry after ``retry_after_s``."""

    def __init__(self, retry_after_s: int) -> None:
        super().__init__(f"too many failed sign-ins; try again in {retry_after_s} s")
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Attempt:
    keys: list[tuple[str, str]]
    at: datetime


class SignInThrottle:
    def __init__(
        self, per_user: int = PER_USER, per_address: int = PER_ADDRESS, window: timedelta = WINDOW
    ) -> None:
        self.window = window
        self._limits = {"user": per_user, "address": per_address}
        self._failures: dict[tuple[str, str], deque[datetime]] = {}
        self._lock = threading.Lock()

    def attempt(self, username: str, address: str | None, at: datetime) -> Attempt:
        """Count a sign-in attempt as a failure until ``succeeded``; raise TooManySignIns,
        counting nothing, while the user name or the address is over its limit.

        Counted before the password is checked, so that concurrent guesses cannot all pass
        the check before any of them has failed."""
        keys = _keys(username, address)
        with self._lock:
            waits = [self._wait(key, at) for key in keys if key in self._failures]
            wait = max((w for w in waits if w is not None), default=None)
            if wait is not None:
                raise TooManySignIns(wait)
            for key in keys:
                times = self._failures.pop(key, None) or deque()
                times.append(at)
                while len(times) > self._limits[key[0]]:
                    times.popleft()
                self._failures[key] = times  # re-inserted: dict order is last failure first out
            while len(self._failures) > MAX_KEYS:
                del self._failures[next(iter(self._failures))]
        return Attempt(keys, at)

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: forget the name's failures and this attempt's count."""
        with self._lock:
            for key in attempt.keys:
                if key[0] == "user":
                    self._failures.pop(key, None)
                elif key in self._failures:
                    with contextlib.suppress(ValueError):
                        self._failures[key].remove(attempt.at)

    def _wait(self, key: tuple[str, str], at: datetime) -> int | None:
        times = self._failures[key]
        while times and at - times[0] >= self.window:
            times.popleft()
        if not times:
            del self._failures[key]
            return None
        if len(times) < self._limits[key[0]]:
            return None
        return max(1, int((times[0] + self.window - at).total_seconds() + 0.999))


def _keys(username: str, address: str | None) -> list[tuple[str, str]]:
    keys = [("user", username.casefold())]
    if address:
        keys.append(("address", address))
    return keys
