"""Database fixtures for collector tests: real SQLite files and a real PostgreSQL.

``placed_database`` is a ``database`` holding ``small_inventory()``; ``wire_metrics`` builds a
metrics message that went through the real wire encoding.

``database`` (and ``database_url``) run a test once on SQLite and once on PostgreSQL. Each
PostgreSQL test gets its own freshly created database, dropped afterwards. PostgreSQL is
found at ``ROOMWATCH_TEST_POSTGRES_URL`` (default: the local server, user postgres); when it
cannot be reached the test fails, it never skips.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from roomwatch.agent import wire
from roomwatch.agent.wire import DeviceSample, MetricsMessage
from roomwatch.collector.db.dialect import bulk_upsert
from roomwatch.collector.db.models import RollupHourly
from roomwatch.collector.db.session import Database, open_database
from roomwatch.collector.inventory import Inventory, sync_inventory

POSTGRES_ADMIN_URL = os.environ.get(
    "ROOMWATCH_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgresql"]


@contextmanager
def postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test; yields its URL, drops it afterwards."""
    name = f"roomwatch_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except OperationalError as exc:
        admin.dispose()
        pytest.fail(f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable: {exc.orig}")
    try:
        yield make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def sqlite_url(directory: Path) -> str:
    return f"sqlite:///{directory / 'roomwatch.db'}"


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty database: a SQLite file, then a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A database migrated to the head revision, on SQLite and on PostgreSQL."""
    db = open_database(database_url)
    yield db
    db.dispose()


@pytest.fixture
def sqlite_database(tmp_path: Path) -> Iterator[Database]:
    db = open_database(sqlite_url(tmp_path))
    yield db
    db.dispose()


@pytest.fixture
def placed_database(database: Database) -> Database:
    """``database`` after ``sync_inventory(small_inventory())``."""
    sync_inventory(database, small_inventory())
    return database


T0 = datetime(2025, 3, 3, 8, 10, tzinfo=UTC)


def small_inventory() -> Inventory:
    """One school: room r1 (agent-1: host, switch, camera behind it), room r2 (agent-2)."""
    return Inventory.model_validate(
        {
            "sites": [
                {
                    "id": "s1",
                    "name": "School One",
                    "rooms": [
                        {
                            "id": "r1",
                            "name": "Room 1",
                            "building": "A",
                            "agents": ["agent-1"],
                            "devices": [
                                {"id": "host", "kind": "host", "model": "RS-8000"},
                                {"id": "sw", "kind": "switch", "model": "S1850"},
                                {"id": "cam1", "kind": "camera", "model": "CAM-A", "parent": "sw"},
                            ],
                        },
                        {
                            "id": "r2",
                            "name": "Room 2",
                            "agents": ["agent-2"],
                            "devices": [{"id": "host", "kind": "host"}],
                        },
                    ],
                }
            ]
        }
    )


def wire_metrics(agent: str, seq: int, ts: datetime, *samples: DeviceSample) -> MetricsMessage:
    """A metrics message as the collector receives it: encoded, then decoded from its topic."""
    message = MetricsMessage(agent=agent, seq=seq, ts=ts, interval_s=30, devices=list(samples))
    decoded = wire.decode(wire.topic(agent, wire.Kind.METRICS), wire.encode(message))
    assert isinstance(decoded, MetricsMessage)
    return decoded


def write_hourly_rollups(session: Session, rows: list[dict[str, Any]]) -> None:
    """Hourly rollup rows (device_id, metric, hour, count, sum, min, max) through the
    collector's own bulk path: one JSON document per 10,000 rows on PostgreSQL."""
    bulk_upsert(
        session,
        RollupHourly.__table__,  # type: ignore[arg-type]
        rows,
        ["device_id", "metric", "hour"],
        lambda new: {"count": new["count"]},
    )
