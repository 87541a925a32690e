"""Sign-in throttling kept in SQL: two collectors of a group share the counts, a restart
keeps them, concurrent guesses cannot slip past the limit, and old rows are pruned."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry
from sqlalchemy import func, select

from roomwatch.collector.api.app import create_app
from roomwatch.collector.api.throttle import PER_USER, SignInThrottle
from roomwatch.collector.db.session import Database, open_database
from roomwatch.collector.db.shared_state_models import SignInFailure
from tests.collector.auth_support import token_for
from tests.collector.conftest import postgres_database
from tests.collector.scenario_support import T0, Clock

PASSWORD = "correct horse battery"


@pytest.fixture
def clock() -> Clock:
    return Clock(T0)


def _sign_in(client: TestClient, username: str, password: str) -> int:
    response = client.post("/api/auth/login", json={"username": username, "password": password})
    return response.status_code


@pytest.fixture
def two_collectors(clock: Clock) -> Iterator[tuple[TestClient, TestClient, Database]]:
    """Two collector APIs, each with its own connection pool, on one PostgreSQL database."""
    with postgres_database() as url, ExitStack() as stack:
        first, second = open_database(url), open_database(url)
        stack.callback(first.dispose)
        stack.callback(second.dispose)
        token_for(first, "li.wei", "engineer", password=PASSWORD)
        clients = [
            stack.enter_context(TestClient(create_app(db, CollectorRegistry(), clock=clock)))
            for db in (first, second)
        ]
        yield clients[0], clients[1], first


def test_guesses_spread_over_two_collectors_share_one_limit(two_collectors, clock: Clock):
    one, other, _db = two_collectors
    statuses = [_sign_in((one, other)[n % 2], "li.wei", f"guess-{n}") for n in range(PER_USER)]
    assert statuses == [401] * PER_USER
    refused = other.post("/api/auth/login", json={"username": "li.wei", "password": PASSWORD})
    assert refused.status_code == 429
    assert 890 <= int(refused.headers["retry-after"]) <= 900
    clock.now = T0 + timedelta(minutes=15)
    assert _sign_in(one, "li.wei", PASSWORD) == 200


def test_concurrent_guesses_on_two_collectors_get_exactly_the_limit_checked(two_collectors):
    """Twelve wrong passwords sent at once, half to each collector: the password is checked
    for exactly five of them (401); the others are refused unchecked (429)."""
    one, other, _db = two_collectors
    start = threading.Barrier(12)
    statuses: list[int] = []
    lock = threading.Lock()

    def guess(n: int) -> None:
        start.wait()
        status = _sign_in((one, other)[n % 2], "li.wei", f"guess-{n}")
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=guess, args=(n,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [401] * PER_USER + [429] * (12 - PER_USER)


def test_a_restart_keeps_the_counts_and_old_failures_are_pruned(database: Database):
    before = SignInThrottle(database)
    for n in range(PER_USER):
        before.attempt("li.wei", f"10.0.0.{n}", T0)
    restarted = SignInThrottle(database)  # a new process: nothing in memory
    with pytest.raises(Exception, match="too many failed sign-ins"):
        restarted.attempt("li.wei", "10.0.0.9", T0 + timedelta(minutes=1))
    restarted.attempt("someone", "10.0.0.9", T0 + timedelta(minutes=16))  # prunes the rest
    with database.session() as session:
        kept = session.scalars(select(SignInFailure.key)).all()
        assert sorted(kept) == ["10.0.0.9", "someone"]
        assert session.scalar(select(func.count()).select_from(SignInFailure)) == 2
