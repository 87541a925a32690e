"""Running the collector: database, inventory, ingest worker, MQTT session and the API.

A member of a collector group (``group.enabled``, PostgreSQL) serves only the agent
partitions it leases, each through its own MQTT session (``collector.group``); the group's
background jobs (SLA sweep, notification outbox, readiness checks, advisories, dedupe
pruning) run on the member holding the leader lease, and each member checks the silence of
its own agents.

Under systemd (``Type=notify``) ``serve()`` reports READY=1 once the API listens, and
WATCHDOG=1 while the ingest worker is alive and not stuck (it may be retrying a failing
TSDB; that is not stuck). Old (agent, seq) dedupe records are pruned every
``ingest.dedupe_prune_every_s``.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from datetime import UTC, datetime

import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from roomwatch.agent.sdnotify import Notifier
from roomwatch.collector.config import CollectorConfig
from roomwatch.collector.db import lease_store
from roomwatch.collector.db.daily_fold import fold_pending
from roomwatch.collector.db.session import Database, open_database
from roomwatch.collector.dispatch.readiness import ReadinessCheck
from roomwatch.collector.faults import FaultTracker
from roomwatch.collector.group.member import GroupMember
from roomwatch.collector.group.partitions import partition_of
from roomwatch.collector.group.sessions import PartitionSessions
from roomwatch.collector.ingest.pipeline import Clock, IngestPipeline, Received
from roomwatch.collector.ingest.stats import IngestStats
from roomwatch.collector.ingest.subscriber import Subscriber
from roomwatch.collector.ingest.tsdb import TsdbWriter
from roomwatch.collector.maintenance import MaintenanceCalendar
from roomwatch.collector.reports.reminders import send_reminders
from roomwatch.collector.reports.service import ReportService
from roomwatch.collector.rules.book import RuleBook
from roomwatch.collector.rules.model import load_rule_pack
from roomwatch.collector.sla.runtime import SlaTicker, load_sla_data
from roomwatch.collector.workflow import ServiceHooks, Workflow

log = logging.getLogger(__name__)

FOLD_DATES = 2  # UTC dates of daily rollups folded per run (a few seconds of write lock)
FOLD_BACKLOG_S = 5.0
FOLD_IDLE_S = 600.0
WORKER_STALL_S = 90.0  # no sign of life from the ingest worker for this long = hung


class CollectorService:
    """Everything but the HTTP server; ``serve()`` adds that and blocks."""

    def __init__(self, config: CollectorConfig, clock: Clock = lambda: datetime.now(UTC)) -> None:
        self.config = config
        self.clock = clock
        self.registry = CollectorRegistry()
        self.stats = IngestStats(self.registry)
        self.rule_pack = load_rule_pack(config.faults.rules_files)
        self.rules = [rule for rule in self.rule_pack if rule.enabled]
        if config.group.enabled:
            # Members starting together would race on migrations and the inventory.
            with lease_store.startup_lock(config.database.url):
                self.db: Database = open_database(config.database.url)
                self._sync_inventory()
        else:
            self.db = open_database(config.database.url)
            self._sync_inventory()
        # One workflow (SLA hooks, maintenance calendar, rule book) for the fault tracker and
        # the API: the spare quota the API moves is decided by the tracker's rules.
        self.sla = SlaTicker.build(self.db, config.sla, clock)
        load_sla_data(self.db, clock(), config.sla.files, self.sla.service)
        self.rule_book = RuleBook(self.rule_pack)
        self.workflow = Workflow(
            hooks=ServiceHooks(self.sla.service),
            calendar=MaintenanceCalendar(config.timezone),
            rules=self.rule_book,
        )
        self.tsdb = TsdbWriter(config.tsdb)
        self.pipeline = IngestPipeline(
            self.db,
            self.tsdb,
            FaultTracker(self.rule_book, self.workflow, self.workflow.calendar),
            self.stats,
            config.ingest,
            clock,
        )
        self._subscriber: Subscriber | None = None
        self.sessions: PartitionSessions | None = None
        self.group: GroupMember | None = None
        if config.group.enabled:
            self.sessions = PartitionSessions(
                config.mqtt,
                config.group.partitions,
                self.db,
                self.pipeline.submit,
                on_session_lost=self.stats.sessions_lost.inc,
            )
            self.group = GroupMember(
                self.db,
                config.group.partitions,
                config.group.lease_s or float(config.mqtt.keepalive_s),
                on_gain=self.sessions.serve,
                on_lose=self.sessions.leave,
                on_cycle=self.sessions.refresh,
            )
            self.pipeline.partitions = self.group
        else:
            self._subscriber = Subscriber(
                config.mqtt, self.pipeline.submit, on_session_lost=self.stats.sessions_lost.inc
            )
        self._worker = threading.Thread(target=self._work, name="ingest", daemon=True)
        self.reports = ReportService(
            self.db, self.workflow, config.timezone, clock, inventory_file=config.inventory_file
        )
        self.readiness = ReadinessCheck(self.db, config.readiness, clock, config.sla.timezone)
        self._apps: list[FastAPI] = []
        self._next_silence_check = 0.0
        self._next_prune = 0.0
        self._next_advisories = time.monotonic() + config.faults.advisories_every_s
        self._next_fold = 0.0

    def _sync_inventory(self) -> None:
        if self.config.inventory_file is None:
            log.warning("no inventory_file configured: every agent is unknown until one is")
            return
        from roomwatch.collector.inventory import load_inventory, sync_inventory

        sync_inventory(self.db, load_inventory(self.config.inventory_file))

    def start(self) -> None:
        self._worker.start()
        if self.group is not None:
            self.group.start()
        if self._subscriber is not None:
            self._subscriber.start()

    def _work(self) -> None:
        ack = self.sessions.ack if self.sessions is not None else self._ack_alone
        self.pipeline.run(ack, tick=self._tick)

    @property
    def subscriber(self) -> Subscriber:
        """The MQTT session of a lone collector (a group member has one per partition)."""
        if self._subscriber is None:
            raise RuntimeError("a collector group member has a session per partition: .sessions")
        return self._subscriber

    def _ack_alone(self, received: Received) -> None:
        self.subscriber.ack(received)

    def _serves(self, agent_id: str) -> bool:
        """Whether this collector writes the agent's faults (always, unless in a group)."""
        if self.group is None:
            return True
        return self.group.owns(partition_of(agent_id, self.config.group.partitions))

    def healthy(self) -> bool:
        """The ingest worker runs and showed a sign of life recently."""
        stalled_s = time.monotonic() - self.pipeline.heartbeat_s
        return self._worker.is_alive() and stalled_s < WORKER_STALL_S

    def _tick(self) -> None:
        now = time.monotonic()
        if self.group is None or self.group.is_leader:
            self._group_jobs(now)
        if now < self._next_silence_check:
            return
        self._next_silence_check = now + self.config.faults.evaluate_every_s
        try:
            self.pipeline.check_silence(self.config.faults.agent_silence_s, self._serves)
        except Exception as exc:
            log.error("silence check failed: %s", exc)

    def _group_jobs(self, now: float) -> None:
        """Jobs that run once per group: on the leader, or on a collector alone."""
        self.sla.tick()  # breaches, escalations, notification delivery (each at its period)
        self.readiness.tick()  # the pre-class check, once per site and school day
        if now >= self._next_prune:
            self._next_prune = now + self.config.ingest.dedupe_prune_every_s
            try:
                self.pipeline.prune_dedupe()
            except Exception as exc:
                log.error("pruning old dedupe records failed: %s", exc)
        if now >= self._next_advisories:
            # A device upgraded (or downgraded) since: its advisory fault resolves (or opens).
            self._next_advisories = now + self.config.faults.advisories_every_s
            try:
                self.reports.apply_advisories()
            except Exception as exc:
                log.error("matching vendor advisories failed: %s", exc)
            try:  # on the same hour: each inspection's reminder goes out once (SQL)
                send_reminders(self.db, self.reports, self.reports.clock())
            except Exception as exc:
                log.error("sending inspection reminders failed: %s", exc)
        if now >= self._next_fold:
            self._next_fold = now + self._fold_daily_rollups()

    def _fold_daily_rollups(self) -> float:
        """Fold settled days into daily rollups (the reports read them); returns the
        seconds until the next fold: soon while a backlog remains, else in a while."""
        try:
            with self.db.session(write=True) as session:
                folded = fold_pending(session, self.clock(), self.config.timezone, FOLD_DATES)
        except Exception as exc:
            log.error("folding daily rollups failed: %s", exc)
            return FOLD_IDLE_S
        return FOLD_BACKLOG_S if folded else FOLD_IDLE_S

    def stop(self) -> None:
        if self._subscriber is not None:
            self._subscriber.stop()
        if self.group is not None:
            self.group.stop()  # stops the partitions' sessions, then gives the leases back
        self.pipeline.stop()
        self._worker.join(timeout=10)
        for app in self._apps:
            app.state.report_jobs.shutdown()  # queued reports stay in SQL for the next collector
        self.tsdb.close()
        self.db.dispose()

    def app(self) -> FastAPI:
        from roomwatch.collector.api.app import create_app
        from roomwatch.collector.web import WebSettings

        web = WebSettings(
            tsdb_url=self.config.tsdb.url if self.config.tsdb.enabled else None,
            timezone=self.config.timezone,
            grafana_url=self.config.api.grafana_url,
            grafana_flavour=self.config.api.grafana_flavour,
        )
        app = create_app(
            self.db,
            self.registry,
            web=web,
            workflow=self.workflow,
            rule_pack=self.rule_pack,
            clock=self.clock,
            max_body_bytes=self.config.api.max_body_bytes,
        )
        app.state.sla = self.sla.service  # the routes use the configured calendar
        app.state.inventory_file = self.config.inventory_file  # reports' sign-off and logo
        self._apps.append(app)
        return app

    def http_config(self) -> uvicorn.Config:
        """The API's HTTP server settings. ``X-Forwarded-For`` names the client (the address
        the sign-in limits count) only on requests from ``api.forwarded_allow_ips``; with
        none listed (the default) the header is ignored, because anything on the host (a
        local process, or a proxy that passes the header on) could otherwise pose as a fresh
        address on every guess."""
        proxies = self.config.api.forwarded_allow_ips
        return uvicorn.Config(
            self.app(),
            host=self.config.api.host,
            port=self.config.api.port,
            proxy_headers=bool(proxies),
            forwarded_allow_ips=proxies,
            log_level="warning",
            # Open dashboards hold live (SSE) streams: do not wait for them to end.
            timeout_graceful_shutdown=3,
        )

    def serve(self) -> None:
        """Start ingest and serve the API until SIGINT/SIGTERM."""
        self.start()
        server = uvicorn.Server(self.http_config())
        log.info("API on http://%s:%d", self.config.api.host, self.config.api.port)
        supervisor = _Supervisor(self, server, Notifier())
        supervisor.start()
        if threading.current_thread() is threading.main_thread():
            # uvicorn re-raises the stop signal after its own shutdown; with the default
            # handler that would end the process before ingest is stopped below.
            for signum in (signal.SIGINT, signal.SIGTERM):
                signal.signal(signum, lambda *_: None)
        try:
            server.run()
        finally:
            supervisor.stop()
            self.stop()


class _Supervisor(threading.Thread):
    """Tells systemd READY=1 once the API listens, then WATCHDOG=1 while ingest is healthy."""

    def __init__(self, service: CollectorService, server: uvicorn.Server, notifier: Notifier):
        super().__init__(name="sd-notify", daemon=True)
        self._service = service
        self._server = server
        self._notifier = notifier
        self._done = threading.Event()

    def run(self) -> None:
        while not self._server.started:
            if self._done.wait(0.05):
                return
        self._notifier.ready("collector ingesting")
        period_s = self._notifier.watchdog_interval_s
        while period_s is not None and not self._done.is_set():
            if self._service.healthy():
                self._notifier.watchdog()
            self._done.wait(period_s)

    def stop(self) -> None:
        self._notifier.stopping()
        self._done.set()
