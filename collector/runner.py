"""Running the collector: database, inventory, ingest worker, MQTT session and the API."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime

import uvicorn
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from collector.config import CollectorConfig
from collector.db.session import Database, open_database
from collector.faults import FaultTracker
from collector.ingest.pipeline import Clock, IngestPipeline
from collector.ingest.stats import IngestStats
from collector.ingest.subscriber import Subscriber
from collector.ingest.tsdb import TsdbWriter
from collector.rules.engine import RuleEngine
from collector.rules.model import load_rules

log = logging.getLogger(__name__)


class CollectorService:
    """Everything but the HTTP server; ``serve()`` adds that and blocks."""

    def __init__(self, config: CollectorConfig, clock: Clock = lambda: datetime.now(UTC)) -> None:
        self.config = config
        self.clock = clock
        self.registry = CollectorRegistry()
        self.stats = IngestStats(self.registry)
        self.rules = load_rules(config.faults.rules_files)
        self.db: Database = open_database(config.database.url)
        self._sync_inventory()
        self.tsdb = TsdbWriter(config.tsdb)
        self.pipeline = IngestPipeline(
            self.db,
            self.tsdb,
            FaultTracker(RuleEngine(self.rules)),
            self.stats,
            config.ingest,
            clock,
        )
        self.subscriber = Subscriber(config.mqtt, self.pipeline.submit)
        self._worker = threading.Thread(target=self._work, name="ingest", daemon=True)
        self._next_silence_check = 0.0

    def _sync_inventory(self) -> None:
        if self.config.inventory_file is None:
            log.warning("no inventory_file configured: every agent is unknown until one is")
            return
        from collector.inventory import load_inventory, sync_inventory

        sync_inventory(self.db, load_inventory(self.config.inventory_file))

    def start(self) -> None:
        self._worker.start()
        self.subscriber.start()

    def _work(self) -> None:
        self.pipeline.run(self.subscriber.ack, tick=self._tick)

    def _tick(self) -> None:
        now = time.monotonic()
        if now < self._next_silence_check:
            return
        self._next_silence_check = now + self.config.faults.evaluate_every_s
        try:
            self.pipeline.check_silence(self.config.faults.agent_silence_s)
        except Exception as exc:
            log.error("silence check failed: %s", exc)

    def stop(self) -> None:
        self.subscriber.stop()
        self.pipeline.stop()
        self._worker.join(timeout=10)
        self.tsdb.close()
        self.db.dispose()

    def app(self) -> FastAPI:
        from collector.api.app import create_app

        return create_app(self.db, self.registry)

    def serve(self) -> None:
        """Start ingest and serve the API until SIGINT/SIGTERM."""
        self.start()
        server = uvicorn.Server(
            uvicorn.Config(
                self.app(),
                host=self.config.api.host,
                port=self.config.api.port,
                log_level="warning",
            )
        )
        log.info("API on http://%s:%d", self.config.api.host, self.config.api.port)
        try:
            server.run()
        finally:
            self.stop()
