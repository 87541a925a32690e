"""The collector's own counters, exposed on /metrics (Prometheus text format)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class IngestStats:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.messages = Counter(
            "roomwatch_collector_messages_total",
            "Valid messages received, by kind.",
            ["kind"],
            registry=registry,
        )
        self.invalid = Counter(
            "roomwatch_collector_invalid_messages_total",
            "Messages rejected by validation.",
            registry=registry,
        )
        self.rejected = Counter(
            "roomwatch_collector_rejected_messages_total",
            "Messages refused by an ingest limit (ingest.limits), by reason; quarantined.",
            ["reason"],
            registry=registry,
        )
        self.quarantined = Counter(
            "roomwatch_collector_quarantined_messages_total",
            "Messages acknowledged without being stored, by where they failed (wire, limits,"
            " tsdb, sql, store); kept in the quarantine table.",
            ["stage"],
            registry=registry,
        )
        self.quarantine_dropped = Counter(
            "roomwatch_collector_quarantine_dropped_total",
            "Quarantined messages deleted, oldest first, to keep the quarantine table within"
            " ingest.limits.quarantine_max_rows.",
            registry=registry,
        )
        self.duplicates = Counter(
            "roomwatch_collector_duplicates_total",
            "Re-delivered (agent, seq) ignored.",
            registry=registry,
        )
        self.unknown_agents = Counter(
            "roomwatch_collector_unknown_agent_messages_total",
            "Messages from agents the inventory does not place in a room.",
            registry=registry,
        )
        self.points = Counter(
            "roomwatch_collector_points_total", "Points written to the TSDB.", registry=registry
        )
        self.tsdb_errors = Counter(
            "roomwatch_collector_tsdb_write_errors_total",
            "TSDB writes that failed (retried).",
            registry=registry,
        )
        self.tsdb_latency = Histogram(
            "roomwatch_collector_tsdb_write_seconds",
            "Latency of TSDB batch writes.",
            registry=registry,
        )
        self.batches = Counter(
            "roomwatch_collector_batches_total", "Batches committed.", registry=registry
        )
        self.faults = Counter(
            "roomwatch_collector_fault_transitions_total",
            "Faults opened and resolved, by level.",
            ["transition", "level"],
            registry=registry,
        )
        self.queue_depth = Gauge(
            "roomwatch_collector_queue_depth",
            "Messages received but not yet stored.",
            registry=registry,
        )
        self.lag = Gauge(
            "roomwatch_collector_lag_seconds",
            "Age of the newest sample stored in the last batch.",
            registry=registry,
        )
        self.pending_age = Gauge(
            "roomwatch_collector_pending_age_seconds",
            "How long the oldest message received but not yet stored and acknowledged has"
            " waited; grows while the TSDB or SQL is down.",
            registry=registry,
        )
        self.store_retries = Counter(
            "roomwatch_collector_store_retries_total",
            "Batches that failed to store and were retried (nothing was acknowledged).",
            registry=registry,
        )
        self.sessions_lost = Counter(
            "roomwatch_collector_broker_sessions_lost_total",
            "Reconnects where the broker no longer had this collector's session.",
            registry=registry,
        )
        self.dedupe_pruned = Counter(
            "roomwatch_collector_dedupe_pruned_total",
            "Old (agent, seq) records deleted after ingest.dedupe_keep_days.",
            registry=registry,
        )
