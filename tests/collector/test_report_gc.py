"""A report pauses Python's cycle collector while it gathers its data (docs/reports.md,
"Cost"); the collector process must have it back afterwards, whatever happened."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from roomwatch.collector.db.session import Database
from roomwatch.collector.errors import NotFoundError
from roomwatch.collector.reports import build
from roomwatch.collector.reports.period import parse_period


@pytest.fixture
def collector_on() -> Iterator[None]:
    was = gc.isenabled()
    gc.enable()
    yield
    if not was:
        gc.disable()


def test_a_failed_report_leaves_the_cycle_collector_on(database: Database, collector_on: None):
    period = parse_period("2025Q1", "Asia/Shanghai")
    with database.session() as session, pytest.raises(NotFoundError):
        build.build_report(session, "no-such-site", period, "en", datetime.now(UTC))
    assert gc.isenabled()


def test_overlapping_reports_keep_it_paused_until_the_last_ends(collector_on: None):
    first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()
    seen: dict[str, bool] = {}

    def first() -> None:
        with build._cyclic_gc_paused():
            first_in.set()
            second_in.wait(5)
        first_out.set()

    def second() -> None:
        first_in.wait(5)
        with build._cyclic_gc_paused():
            second_in.set()
            first_out.wait(5)
            seen["after the first ended"] = gc.isenabled()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == {"after the first ended": False}
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off(collector_on: None):
    gc.disable()
    with build._cyclic_gc_paused():
        pass
    assert not gc.isenabled()
