"""The MQTT side of a collector group member: one persistent session per partition it holds.

Each partition's session belongs to the partition's broker account (``collector-p007``) and
is subscribed to the partition's agents by name, one filter (``wire.agent_subscription``)
each. Only the lease holder logs in as that account, so the agents of a partition reach
one collector at a time, in the order the broker received them; a member that takes a
partition over resumes the session and receives what the broker queued for it and what
the previous holder received but never acknowledged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from roomwatch.agent.wire import agent_subscription
from roomwatch.collector.config import CollectorMqtt
from roomwatch.collector.db import lease_store
from roomwatch.collector.db.session import Database
from roomwatch.collector.group.partitions import partition_account, partition_of
from roomwatch.collector.ingest.pipeline import Received
from roomwatch.collector.ingest.subscriber import Subscriber

log = logging.getLogger(__name__)


class PartitionSessions:
    def __init__(
        self,
        mqtt: CollectorMqtt,
        partitions: int,
        db: Database,
        deliver: Callable[[Received], None],
        on_session_lost: Callable[[], None] = lambda: None,
    ) -> None:
        self.mqtt = mqtt
        self.partitions = partitions
        self.db = db
        self._deliver = deliver
        self._on_session_lost = on_session_lost
        self._lock = threading.Lock()
        self._sessions: dict[int, Subscriber] = {}

    def filters(self, partition: int) -> list[str]:
        """The topic filters of the partition's agents (the inventory's, from SQL)."""
        with self.db.session() as session:
            agents = lease_store.placed_agents(session)
        return sorted(
            agent_subscription(a) for a in agents if partition_of(a, self.partitions) == partition
        )

    def serve(self, partition: int) -> None:
        """Log in as the partition's account and resume its session."""
        account = partition_account(self.mqtt.username, partition)
        config = self.mqtt.model_copy(update={"username": account, "client_id": account})
        subscriber = Subscriber(
            config,
            self._deliver,
            self._on_session_lost,
            filters=self.filters(partition),
            partition=partition,
        )
        with self._lock:
            previous = self._sessions.pop(partition, None)
            self._sessions[partition] = subscriber
        if previous is not None:
            previous.stop()
        subscriber.start()
        log.info("serving agent partition %d (broker account %s)", partition, account)

    def leave(self, partition: int) -> None:
        """Disconnect the partition's session; the broker keeps it for the next holder."""
        with self._lock:
            subscriber = self._sessions.pop(partition, None)
        if subscriber is not None:
            subscriber.stop()
            log.info("no longer serving agent partition %d", partition)

    def refresh(self) -> None:
        """Follow inventory changes: agents added or removed since the sessions began."""
        with self._lock:
            sessions = dict(self._sessions)
        for partition, subscriber in sessions.items():
            subscriber.set_filters(self.filters(partition))

    def ack(self, received: Received) -> None:
        """Acknowledge on the session the message came from, if it is still served here."""
        with self._lock:
            subscriber = self._sessions.get(received.partition)  # type: ignore[arg-type]
        if subscriber is not None:
            subscriber.ack(received)

    def connected(self) -> set[int]:
        with self._lock:
            return {p for p, s in self._sessions.items() if s.connected}

    def stop(self) -> None:
        with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for subscriber in sessions:
            subscriber.stop()
