"""Gauges read from SQL at scrape time: agents online and open faults per level."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from roomwatch.collector.db import queries
from roomwatch.collector.db.session import Database
from roomwatch.collector.levels import Level

log = logging.getLogger(__name__)


class DatabaseGauges(Collector):
    """State gauges for ``/metrics``; a database that does not answer reports ``up 0``."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "roomwatch_api_database_up", "1 when the database answered this scrape."
        )
        try:
            with self._database.session() as session:
                online, placed = queries.agents_online(session)
                by_level = queries.open_faults_by_level(session)
        except SQLAlchemyError as exc:
            log.debug("scrape without database: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily("roomwatch_agents_online", "Placed agents online.", value=online)
        yield GaugeMetricFamily(
            "roomwatch_agents_placed", "Agents the inventory places in a room.", value=placed
        )
        faults = GaugeMetricFamily(
            "roomwatch_open_faults", "Open faults by level.", labels=["level"]
        )
        for level in Level:
            faults.add_metric([level.name], by_level.get(level.value, 0))
        yield faults
