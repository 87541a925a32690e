"""Ninety days of the demo rooms' past, written before the live part starts.

Everything goes through the paths the collector itself uses: samples become line protocol
(``collector.ingest.points``) written with the TSDB writer, and hourly rollups through
``RollupBatch``, which marks the days the collector then folds into daily rollups; faults
are opened, handled and closed by the fault workflow with the SLA service's clocks; users
are made in ``collector.demo.accounts``. Samples are 15 minutes apart in the last two weeks
and an hour apart before (not the agents' 5 seconds), so the whole past takes seconds.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from roomwatch.collector.config import CollectorConfig
from roomwatch.collector.db import report_store
from roomwatch.collector.db.faults_store import device_pk
from roomwatch.collector.db.ingest_store import ensure_devices_many
from roomwatch.collector.db.models import Fault
from roomwatch.collector.db.rollups import RollupBatch
from roomwatch.collector.db.session import Database, open_database
from roomwatch.collector.demo import history, past_faults
from roomwatch.collector.ingest.points import Placement, metrics_lines
from roomwatch.collector.ingest.tsdb import TsdbWriter
from roomwatch.collector.maintenance import MaintenanceCalendar
from roomwatch.collector.rules.book import RuleBook
from roomwatch.collector.rules.model import load_rule_pack
from roomwatch.collector.sla.calendar import package_holidays
from roomwatch.collector.sla.providers import CalendarProvider
from roomwatch.collector.sla.service import SlaService
from roomwatch.collector.workflow import ServiceHooks, Workflow

log = logging.getLogger(__name__)

HISTORY_DAYS = 90
HISTORY_STEP = timedelta(minutes=15)  # in the last FINE_DAYS (the 7-day chart)
COARSE_STEP = timedelta(hours=1)  # before: the 90-day chart and hourly rollups need no more
FINE_DAYS = 14
LINES_PER_WRITE = 20_000
WORKERS = 2
SPARE_MODELS_HELD = {"DS-2CD2185FWD-I": 1, "P1435-LE": 1, "S5720-28P-PWR-LI-AC": 1}


@dataclass(frozen=True)
class BackfillReport:
    start: datetime
    end: datetime
    samples: int  # metrics messages, one per room and step
    lines: int  # line-protocol lines written to the TSDB
    rollup_rows: int
    faults: int
    seconds: float


def backfill(
    db: Database,
    config: CollectorConfig,
    rooms: Sequence[history.RoomHistory],
    site_id: str,
    now: datetime,
    days: int = HISTORY_DAYS,
    step: timedelta = HISTORY_STEP,
) -> BackfillReport:
    """Write ``days`` of history of ``rooms`` ending at ``now`` (exclusive)."""
    started = time.perf_counter()
    end = now.astimezone(UTC).replace(second=0, microsecond=0)
    end -= timedelta(minutes=end.minute % int(step.total_seconds() // 60 or 1))
    start = end - timedelta(days=days)
    faults = past_faults.plan_faults(rooms, start, end)
    outages = [f.outage for f in faults if f.outage is not None]
    with db.session(write=True) as session:
        # The agent reports itself as a device; ingest makes its row from the agent's first
        # message, which in the demo's past came 90 days ago.
        ensure_devices_many(session, {room.room_id: [history.agent_device()] for room in rooms})
    # Rooms are independent: two processes write them (Python folds and formats the samples;
    # SQLite and the TSDB take turns). Days are folded into daily rollups by the collector,
    # which works through the marks RollupBatch leaves, a few dates at a time.
    jobs = [(config, room, site_id, start, end, step, outages) for room in rooms]
    context = multiprocessing.get_context("spawn")  # the demo's threads are not forked
    with ProcessPoolExecutor(max_workers=WORKERS, mp_context=context) as pool:
        written = list(pool.map(_room_samples, *zip(*jobs, strict=True)))
    samples, lines, rows = (sum(column) for column in zip(*written, strict=True))
    with db.session(write=True) as session:
        replayed = past_faults.replay_faults(session, _workflow(config, now), faults)
        _spares(session, site_id, now)
    report = BackfillReport(
        start, end, samples, lines, rows, replayed, time.perf_counter() - started
    )
    log.info("demo history written: %s", report)
    return report


def _room_samples(
    config: CollectorConfig,
    room: history.RoomHistory,
    site_id: str,
    start: datetime,
    end: datetime,
    step: timedelta,
    outages: Sequence[history.Outage],
) -> tuple[int, int, int]:
    """One room's samples into the TSDB and the hourly rollups: (messages, lines, rows)."""
    db = open_database(config.database.url, migrate=False)
    tsdb = TsdbWriter(config.tsdb) if config.tsdb.enabled else None
    place = Placement(site=site_id, room=room.room_id)
    with db.session() as session:
        pks = {d: device_pk(session, room.room_id, d) for d in history.KINDS}
    batch = RollupBatch()
    sender = _LineSender(tsdb)
    messages = 0
    try:
        messages_of_room = history.room_messages(
            room, start, end, outages, config.timezone, step, COARSE_STEP, FINE_DAYS
        )
        for message in messages_of_room:
            messages += 1
            for sample in message.devices:
                pk = pks.get(sample.device)
                if pk is not None:
                    batch.add_sample(pk, sample, message.ts)
            if tsdb is not None:
                sender.add(metrics_lines(message, place))
        sender.send()
        with db.session(write=True) as session:
            rows = batch.flush(session)
        sender.wait()
    finally:
        sender.close()
        db.dispose()
    return messages, sender.lines, rows


class _LineSender:
    """Line protocol written in chunks, one write in flight while the next lines are made
    (the TSDB parses them on the other core)."""

    def __init__(self, tsdb: TsdbWriter | None) -> None:
        self.tsdb = tsdb
        self.lines = 0
        self._pending: list[str] = []
        self._thread = ThreadPoolExecutor(max_workers=1)
        self._in_flight: Future[None] | None = None

    def add(self, lines: list[str]) -> None:
        self._pending.extend(lines)
        if len(self._pending) >= LINES_PER_WRITE:
            self.send()

    def send(self) -> None:
        if self.tsdb is None or not self._pending:
            return
        self.wait()
        self._in_flight = self._thread.submit(self.tsdb.write, self._pending)
        self.lines += len(self._pending)
        self._pending = []

    def wait(self) -> None:
        """Until the write in flight is done; raises what it raised."""
        if self._in_flight is not None:
            self._in_flight.result()
            self._in_flight = None

    def close(self) -> None:
        self._thread.shutdown()
        if self.tsdb is not None:
            self.tsdb.close()


def _workflow(config: CollectorConfig, now: datetime) -> Workflow:
    """The collector's workflow with SLA clocks and rules, but silent: nobody is told today
    about faults of last month."""
    holidays = package_holidays(config.sla.holidays_country, config.sla.holidays_subdiv)
    sla = SlaService(
        CalendarProvider(holidays, config.sla.timezone), clock=lambda: now, notify=False
    )
    return Workflow(
        hooks=_SilentHooks(sla),
        calendar=MaintenanceCalendar(config.timezone),
        rules=RuleBook(load_rule_pack(config.faults.rules_files)),
    )


class _SilentHooks(ServiceHooks):
    """SLA clocks as the collector runs them, without notifications."""

    def notify(self, session: Session, fault: Fault, transition: str, at: datetime) -> None:
        return None


def _spares(session: Session, site_id: str, at: datetime) -> None:
    """Spares kept at the school: some models covered, the UPS and the NVR short."""
    for model, held in SPARE_MODELS_HELD.items():
        used = 1 if model == "DS-2CD2185FWD-I" else 0
        report_store.put_spare_stock(
            session, site_id, model, at, held=held, used=used, location="网络中心 2 号柜"
        )
