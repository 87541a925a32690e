"""The ingest pipeline: validate, dedupe, store (TSDB and SQL), evaluate faults, then ack.

One worker thread owns all writes. Messages arrive from the MQTT thread into an inbox; the
worker takes a batch, writes its lines to the TSDB (in a helper thread, while it runs the
batch's SQL), commits SQL (dedupe rows, latest state, rollups, faults) in one transaction
once the TSDB accepted the lines, and only then acknowledges the batch to the broker. If
the TSDB or SQL is out (unreachable, timing out, 5xx, locked), nothing is acknowledged and
the batch is retried, so a crash or an outage re-delivers instead of losing; the (agent,
seq) rows make re-delivery harmless, and a TSDB rewrite has the same series and timestamps,
so it overwrites instead of adding points.

Poison messages never hold the queue. Every message is screened against ``ingest.limits``
before anything is stored (``collector.ingest.screen``); one past a bound is acknowledged,
counted and quarantined. A batch that still fails because of what is in it (a 4xx from the
TSDB, a constraint or overflow in SQL) is split in halves until the culprit is alone; the
others are stored, the culprit quarantined (``collector.ingest.poison``).

While a batch keeps failing, the broker holds everything after it (up to the session's
receive maximum in flight, the rest queued), ``roomwatch_collector_pending_age_seconds``
shows how long the oldest message has waited, and the log has one line when storing starts
failing and one when it works again. (agent, seq) rows older than
``ingest.dedupe_keep_days`` are pruned by ``prune_dedupe``, which the runner calls
periodically.

In a collector group (``partitions``) a batch keeps only the messages of partitions this
collector holds, and its transaction checks, just before it commits, that it still holds
them under the same fencing token; a lease lost meanwhile fails the batch like an outage,
and the retry leaves that partition's messages out, unacknowledged, for the new holder.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Protocol

from sqlalchemy.orm import Session

from roomwatch.agent.wire import (
    DeviceSample,
    EventsMessage,
    InventoryMessage,
    MetricsMessage,
    StatusMessage,
)
from roomwatch.collector.config import IngestConfig
from roomwatch.collector.db import ingest_store, lookup, quarantine_store
from roomwatch.collector.db.models import Device
from roomwatch.collector.db.rollups import RollupBatch
from roomwatch.collector.db.session import Database
from roomwatch.collector.faults import FaultTracker, Subject, Transition
from roomwatch.collector.ingest import poison
from roomwatch.collector.ingest.inbox import Inbox
from roomwatch.collector.ingest.points import Placement, event_lines, metrics_lines
from roomwatch.collector.ingest.screen import AnyMessage, Placements, Screen, Screened
from roomwatch.collector.ingest.stats import IngestStats
from roomwatch.collector.ingest.tsdb import TsdbWriter

log = logging.getLogger(__name__)


class _Stopped:
    """What a retried store returns when ``stop()`` came before it could happen."""


STOPPED = _Stopped()

RETRY_MAX_S = 10.0  # a TSDB or database that is back is used within this long
Clock = Callable[[], datetime]
Ack = Callable[["Received"], None]


@dataclass(frozen=True)
class Received:
    topic: str
    payload: bytes
    mid: int = 0
    qos: int = 0
    connection: int = 0
    """Which broker connection it came in on (an ack is only valid on that one)."""
    partition: int | None = None
    """The agent partition whose session it came in on (a collector group); None alone."""
    received_s: float = field(default_factory=time.monotonic)


class PartitionGuard(Protocol):
    """What a collector group member tells the pipeline (``collector.group.member``)."""

    def owns(self, partition: int | None) -> bool: ...

    def fence(self, session: Session, partitions: set[int]) -> None: ...


@dataclass
class _Batch:
    received: list[Received]
    lines: list[str] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    newest_sample: datetime | None = None
    screened: Screened = field(default_factory=Screened)
    quarantine_dropped: int = 0


class IngestPipeline:
    def __init__(
        self,
        db: Database,
        tsdb: TsdbWriter,
        faults: FaultTracker,
        stats: IngestStats,
        config: IngestConfig,
        clock: Clock = lambda: datetime.now(UTC),
    ) -> None:
        self.db = db
        self.tsdb = tsdb
        self.faults = faults
        self.stats = stats
        self.config = config
        self.clock = clock
        self._inbox: Inbox[Received] = Inbox()
        self._tsdb_writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tsdb-write")
        self.screen = Screen(stats, config, clock)
        self._stop = threading.Event()
        self._last_eval: dict[str, datetime] = {}
        self.retry_delay_s = 1.0
        self.retry_max_s = RETRY_MAX_S
        self._oldest_pending_s: float | None = None
        self.heartbeat_s = time.monotonic()
        """When the worker last showed it is alive (a watchdog reads it)."""
        self.partitions: PartitionGuard | None = None
        """Set on a member of a collector group: see the module docstring."""
        stats.pending_age.set_function(self.pending_age_s)
        stats.queue_depth.set_function(lambda: len(self._inbox))

    # --- feeding -------------------------------------------------------------------------
    def submit(self, received: Received) -> None:
        """Called from the MQTT thread for every message."""
        self._inbox.put(received)

    # --- the worker ----------------------------------------------------------------------
    def run(self, ack: Ack, tick: Callable[[], None] | None = None) -> None:
        """Process batches until ``stop()``; ``tick`` runs between batches (silence checks)."""
        # What is alive once ingest starts (modules, SQLAlchemy metadata, the app, the rules)
        # stays alive: keep the full collections that every few batches trigger from
        # scanning it all again (a profile put ~9 % of a batch's time in them).
        gc.freeze()
        while not self._stop.is_set():
            self.heartbeat_s = time.monotonic()
            batch = self._take_batch()
            if batch:
                self._store_until_done(batch, ack)
            if tick is not None:
                tick()

    def stop(self) -> None:
        self._stop.set()

    def _take_batch(self) -> list[Received]:
        return self._inbox.take(self.config.batch_max, 0.2, self.config.batch_wait_s)

    def pending_age_s(self) -> float:
        """Seconds the oldest received but unacknowledged message has waited (0: none)."""
        oldest = self._oldest_pending_s
        if oldest is None:
            oldest = self._inbox.oldest_received_s()
        return 0.0 if oldest is None else max(0.0, time.monotonic() - oldest)

    def _store_until_done(self, batch: list[Received], ack: Ack) -> None:
        """Store the batch, retrying outages with backoff until it works; then acknowledge it.

        A part that fails because of its content is split in halves until the culprit is
        alone; the culprit is quarantined and acknowledged like the stored ones. A part not
        stored when ``stop()`` comes is not acknowledged: the broker delivers it again."""
        self._oldest_pending_s = batch[0].received_s
        parts = [batch]
        while parts and not self._stop.is_set():
            part = parts.pop(0)
            error = self._retrying_outages(partial(self.process, part))
            if error is STOPPED:
                return
            if isinstance(error, BaseException) and len(part) > 1:
                half = len(part) // 2
                parts[:0] = [part[:half], part[half:]]
                continue
            if isinstance(error, BaseException) and not self._quarantine_failed(part[0], error):
                return
            for item in part:
                ack(item)
        self._oldest_pending_s = None

    def _retrying_outages(self, work: Callable[[], object]) -> BaseException | _Stopped | None:
        """Run ``work`` until it succeeds (None) or fails on content (that error); an outage
        is retried with backoff, logged once when it starts and once when it ends. STOPPED
        when ``stop()`` came first: ``work`` did not happen."""
        delay = self.retry_delay_s
        failing_since: float | None = None
        while not self._stop.is_set():
            self.heartbeat_s = time.monotonic()
            try:
                work()
            except Exception as exc:
                if not poison.is_outage(exc):
                    return exc
                if failing_since is None:
                    failing_since = time.monotonic()
                    log.error("storing ingested messages failed, retrying until it works: %s", exc)
                self.stats.store_retries.inc()
                self._stop.wait(delay)
                delay = min(delay * 2, self.retry_max_s)
                continue
            if failing_since is not None:
                log.info(
                    "storing ingested messages works again after %.0f s",
                    time.monotonic() - failing_since,
                )
            return None
        return STOPPED

    def _quarantine_failed(self, received: Received, error: BaseException) -> bool:
        """Keep ``received`` in quarantine; False when ``stop()`` came first (not written)."""
        item = self.screen.failed(received, error)
        dropped = 0

        def record() -> None:
            nonlocal dropped
            with self.db.session(write=True) as session:
                dropped = self._keep_quarantined(session, [item])

        outcome = self._retrying_outages(record)
        if outcome is None:
            self.stats.quarantined.labels(item.stage).inc()
            self.stats.quarantine_dropped.inc(dropped)
        return outcome is not STOPPED

    def _keep_quarantined(self, session: Session, items: list[quarantine_store.Quarantined]) -> int:
        """Add the rows, then delete the oldest past ``quarantine_max_rows`` (an agent
        sending nothing but garbage must not grow the table without end); return how many
        were deleted."""
        if not items:
            return 0
        quarantine_store.add_many(session, items)
        return quarantine_store.trim(session, self.config.limits.quarantine_max_rows)

    def prune_dedupe(self) -> int:
        """Forget (agent, seq) pairs received more than ``dedupe_keep_days`` ago."""
        cutoff = self.clock() - timedelta(days=self.config.dedupe_keep_days)
        with self.db.session() as session:
            removed = ingest_store.prune_ingested(session, cutoff)
            quarantine_store.prune(session, cutoff)
        self.stats.dedupe_pruned.inc(removed)
        if removed:
            log.debug("forgot %d (agent, seq) pairs received before %s", removed, cutoff)
        return removed

    # --- one batch -----------------------------------------------------------------------
    def process(self, received: list[Received]) -> list[Transition]:
        """Store one batch exactly once; raises (and stores nothing) if TSDB or SQL fail.

        SQL is batched across the whole batch (one claim, one device lookup, one latest-state
        upsert, one rollup upsert), because per-message statements cap ingest at a few
        hundred messages a second.
        """
        if self.partitions is not None:
            received = [r for r in received if self.partitions.owns(r.partition)]
        batch = _Batch(received)
        now = self.clock()
        screened = batch.screened
        checked = (self.screen.message(r, now, screened) for r in received)
        decoded = [m for m in checked if m is not None]
        with self.db.session(write=True) as session:
            fresh = ingest_store.claim_many(session, [(m.agent, m.seq) for m in decoded], now)
            self.stats.duplicates.inc(fresh.count(False))
            new = [m for m, is_new in zip(decoded, fresh, strict=True) if is_new]
            placements = lookup.agent_placements(session, {m.agent for m in new})
            placed = self.screen.within_room_limits(
                session, [m for m in new if self.screen.placed(m, placements)], placements, screened
            )
            batch.lines = _lines(placed, placements)
            with self._writing_to_tsdb(batch.lines):
                self._store_all_metrics(
                    session, [m for m in placed if isinstance(m, MetricsMessage)], placements, batch
                )
                for message in placed:
                    if not isinstance(message, MetricsMessage):
                        self._store_other(session, message, placements[message.agent], batch)
            batch.quarantine_dropped = self._keep_quarantined(session, screened.quarantine)
            if self.partitions is not None:
                self.partitions.fence(
                    session, {r.partition for r in received if r.partition is not None}
                )
        self._count(batch, decoded)
        return batch.transitions

    @contextmanager
    def _writing_to_tsdb(self, lines: list[str]) -> Iterator[None]:
        """Write ``lines`` to the TSDB while the body runs the batch's SQL (the worker would
        otherwise wait for the TSDB doing nothing); raise at the end if the write failed, so
        the transaction rolls back and nothing is acknowledged."""
        pending = self._tsdb_writer.submit(self._write_lines, lines)
        try:
            yield
        finally:
            failed = pending.exception()  # waits for the write, also when the SQL failed
            if failed is not None:
                self.stats.tsdb_errors.inc()
        if failed is not None:
            raise failed
        self.stats.tsdb_latency.observe(pending.result())

    def _write_lines(self, lines: list[str]) -> float:
        """Write to the TSDB (in the writer thread); return how long it took."""
        started = time.perf_counter()
        self.tsdb.write(lines)
        return time.perf_counter() - started

    def _store_other(
        self, session: Session, message: AnyMessage, placement: tuple[str, str], batch: _Batch
    ) -> None:
        site_id, room_id = placement
        if isinstance(message, EventsMessage):
            ingest_store.set_agent_status(session, message.agent, True, self.clock())
            subject = Subject(room_id=room_id, agent_id=message.agent, site_id=site_id)
            batch.transitions += self.faults.observe_events(session, subject, message.events)
        elif isinstance(message, StatusMessage):
            self._store_status(session, message, placement, batch)
        elif isinstance(message, InventoryMessage):
            ingest_store.apply_inventory_message(session, room_id, message)
            ingest_store.set_agent_status(
                session,
                message.agent,
                True,
                self.clock(),
                version=message.agent_version,
                hostname=message.hostname,
            )

    def _store_all_metrics(
        self,
        session: Session,
        messages: list[MetricsMessage],
        placements: Placements,
        batch: _Batch,
    ) -> None:
        if not messages:
            return
        by_room: dict[str, list[DeviceSample]] = {}
        for message in messages:
            by_room.setdefault(placements[message.agent][1], []).extend(message.devices)
        devices = ingest_store.ensure_devices_many(session, by_room)
        rollups = RollupBatch()
        latest: list[tuple[int, DeviceSample, datetime]] = []
        seen: dict[str, datetime] = {}
        for message in messages:
            room_id = placements[message.agent][1]
            for sample in message.devices:
                device_pk = devices[room_id][sample.device].id
                latest.append((device_pk, sample, message.ts))
                rollups.add_sample(device_pk, sample, message.ts)
            seen[message.agent] = self.clock()
            batch.newest_sample = max(filter(None, (batch.newest_sample, message.ts)))
        ingest_store.store_latest_many(session, latest)
        rollups.flush(session)
        ingest_store.set_agents_online(session, seen)
        self.faults.load_rooms(session, {placements[m.agent][1] for m in messages})
        for message in messages:
            self._evaluate_faults(session, message, placements[message.agent], devices, batch)

    def _evaluate_faults(
        self,
        session: Session,
        message: MetricsMessage,
        placement: tuple[str, str],
        devices: dict[str, dict[str, Device]],
        batch: _Batch,
    ) -> None:
        if not self._is_newest(message.agent, message.ts):
            return  # a backlog message: stored, but fault state only moves forward in time
        site_id, room_id = placement
        subject = Subject(room_id=room_id, agent_id=message.agent, site_id=site_id)
        samples = [(sample, devices[room_id][sample.device].id) for sample in message.devices]
        batch.transitions += self.faults.observe_message(session, subject, samples, message.ts)

    def _store_status(
        self, session: Session, message: StatusMessage, placement: tuple[str, str], batch: _Batch
    ) -> None:
        """Status is applied in arrival order at arrival time: a Last Will is composed when the
        agent connects, so its own timestamp is older than the samples it follows."""
        online = message.state == "online"
        now = self.clock()
        ingest_store.set_agent_status(
            session, message.agent, online, now, version=message.agent_version
        )
        self._last_eval[message.agent] = max(now, self._last_eval.get(message.agent, now))
        site_id, room_id = placement
        batch.transitions += self.faults.agent_presence(
            session, room_id, message.agent, online, now, site_id=site_id
        )

    def _is_newest(self, agent: str, ts: datetime) -> bool:
        last = self._last_eval.get(agent)
        if last is not None and ts < last:
            return False
        self._last_eval[agent] = ts
        return True

    def check_silence(
        self, silence_s: float, serves: Callable[[str], bool] = lambda _agent: True
    ) -> list[Transition]:
        """Agents that stopped talking without a Last Will (power cut, network gone); in a
        collector group only those this member ``serves`` (their faults are its to write)."""
        now = self.clock()
        transitions: list[Transition] = []
        with self.db.session(write=True) as session:
            for agent_id, room_id in lookup.silent_agents(
                session, now - timedelta(seconds=silence_s)
            ):
                if not serves(agent_id):
                    continue
                log.warning("agent %s silent for more than %.0f s", agent_id, silence_s)
                ingest_store.set_agent_status(session, agent_id, False, now)
                transitions += self.faults.agent_presence(session, room_id, agent_id, False, now)
        self._log_transitions(transitions)
        return transitions

    def _count(self, batch: _Batch, decoded: list[AnyMessage]) -> None:
        self.stats.batches.inc()
        for item in batch.screened.quarantine:
            self.stats.quarantined.labels(item.stage).inc()
        self.stats.quarantine_dropped.inc(batch.quarantine_dropped)
        self.stats.points.inc(len(batch.lines))
        for kind, count in Counter(message.type for message in decoded).items():
            self.stats.messages.labels(kind).inc(count)
        if batch.newest_sample is not None:
            self.stats.lag.set(max(0.0, (self.clock() - batch.newest_sample).total_seconds()))
        self._log_transitions(batch.transitions)

    def _log_transitions(self, transitions: list[Transition]) -> None:
        for t in transitions:
            self.stats.faults.labels(t.kind, t.level.name).inc()
            log.info("fault %s %s: %s [%s]", t.fault_id, t.kind, t.title, t.level.name)


def _lines(messages: list[AnyMessage], placements: Placements) -> list[str]:
    """The TSDB lines of a batch's metrics and events, under the inventory's site and room."""
    lines: list[str] = []
    for message in messages:
        site_id, room_id = placements[message.agent]
        if isinstance(message, MetricsMessage):
            lines.extend(metrics_lines(message, Placement(site=site_id, room=room_id)))
        elif isinstance(message, EventsMessage):
            lines.extend(event_lines(message, Placement(site=site_id, room=room_id)))
    return lines
