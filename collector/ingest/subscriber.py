"""The collector's MQTT side: a persistent MQTT v5 session with manual acknowledgement.

A message is acknowledged (PUBACK) only after the pipeline stored it; until then the broker
keeps it for this session and re-delivers it after a reconnect or a collector restart.

Every CONNECT has clean start **off**, the very first one included. mosquitto 2.0 writes a
session to its persistence file only when the client's latest CONNECT had clean start off;
a v5 session begun with clean start on (paho's ``MQTT_CLEAN_START_FIRST_ONLY``) lives in
memory only, so a broker restart drops it, and everything agents publish between that
restart and the collector's return is acknowledged to them and then discarded.

An acknowledgement belongs to the connection the message came in on: message ids are per
connection, so a PUBACK for a message received before a reconnect could acknowledge a
different message on the new one. Such late acknowledgements are dropped; the broker sends
those messages again (the session keeps them) and the pipeline stores them once. Connection
numbers are unique in the process, across subscribers, so a partition served again by a
new subscriber never takes an acknowledgement meant for an earlier one.

A lone collector subscribes to every agent; a member of a collector group runs one
subscriber per partition it holds, logged in as the partition's account and subscribed to
the partition's agents by name (``filters``, kept current with ``set_filters``).
"""

from __future__ import annotations

import itertools
import logging
import ssl
import threading
from collections.abc import Callable, Iterable
from typing import Any, cast

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from roomwatch.agent.wire import subscriptions
from roomwatch.collector.config import CollectorMqtt
from roomwatch.collector.ingest.pipeline import Received

log = logging.getLogger(__name__)
_CONNECTIONS = itertools.count(1)  # process-wide: see the module docstring


class Subscriber:
    def __init__(
        self,
        config: CollectorMqtt,
        on_message: Callable[[Received], None],
        on_session_lost: Callable[[], None] = lambda: None,
        *,
        filters: Iterable[str] | None = None,
        partition: int | None = None,
    ) -> None:
        self.config = config
        self.partition = partition
        self._filters = set(subscriptions() if filters is None else filters)
        self._deliver = on_message
        self._on_session_lost = on_session_lost
        self.connected = False
        self._refused_logged = False
        self._connection = 0
        self._ever_connected = False
        self._lock = threading.Lock()
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=config.client_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        client.username_pw_set(
            config.username, config.password.get_secret_value() if config.password else None
        )
        if config.tls is not None:
            client.tls_set(
                ca_certs=str(config.tls.ca_file) if config.tls.ca_file else None,
                certfile=str(config.tls.cert_file) if config.tls.cert_file else None,
                keyfile=str(config.tls.key_file) if config.tls.key_file else None,
                cert_reqs=ssl.CERT_NONE if config.tls.insecure_skip_verify else ssl.CERT_REQUIRED,
            )
        # paho types the delays as int but computes with them as numbers; fractions work.
        cast(Any, client).reconnect_delay_set(
            min_delay=config.reconnect_min_s, max_delay=config.reconnect_max_s
        )
        client.max_inflight_messages_set(config.receive_maximum)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        self.client = client

    def start(self) -> None:
        """Connect in the background; paho reconnects on its own after a loss."""
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = self.config.session_expiry_s
        props.ReceiveMaximum = self.config.receive_maximum
        self.client.connect_async(
            self.config.host,
            self.config.port,
            keepalive=self.config.keepalive_s,
            clean_start=False,  # always: see the module docstring
            properties=props,
        )
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def ack(self, received: Received) -> None:
        """Acknowledge a stored message, if it came in on the current connection."""
        if received.qos == 0:
            return
        with self._lock:
            if received.connection != self._connection or not self.connected:
                return  # the broker re-sends it on this connection; it is a duplicate then
            self.client.ack(received.mid, received.qos)

    def _on_connect(
        self, client: mqtt.Client, _userdata: object, flags: Any, reason: object, _props: object
    ) -> None:
        if getattr(reason, "is_failure", False):
            if not self._refused_logged:
                log.error(
                    "broker %s:%d refused the collector: %s",
                    self.config.host,
                    self.config.port,
                    reason,
                )
                self._refused_logged = True
            return
        with self._lock:
            self._connection = next(_CONNECTIONS)
            first, self._ever_connected = not self._ever_connected, True
            self.connected = True
            filters = sorted(self._filters)
        self._refused_logged = False
        session_present = bool(getattr(flags, "session_present", False))
        if session_present:
            log.info("connected to broker %s:%d", self.config.host, self.config.port)
        elif first:
            log.info(
                "connected to broker %s:%d with a new session", self.config.host, self.config.port
            )
        else:
            self._on_session_lost()
            log.warning(
                "broker %s:%d no longer had this collector's session (restarted without "
                "persistence, or crashed before saving it): what it queued meanwhile is gone; "
                "agents re-send their last spool.replay_window_s",
                self.config.host,
                self.config.port,
            )
        if filters:
            client.subscribe([(topic, 1) for topic in filters])

    def set_filters(self, filters: Iterable[str]) -> None:
        """Subscribe to ``filters`` from now on: new ones at once, dropped ones unsubscribed
        (the session keeps its subscriptions across connections, so both must be said)."""
        wanted = set(filters)
        with self._lock:
            added, removed = wanted - self._filters, self._filters - wanted
            self._filters = wanted
            connected = self.connected
        if connected and added:
            self.client.subscribe([(topic, 1) for topic in sorted(added)])
        if connected and removed:
            self.client.unsubscribe(sorted(removed))

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: object,
        reason: object,
        _props: object,
    ) -> None:
        with self._lock:
            was_connected, self.connected = self.connected, False
        if was_connected:
            log.warning("lost the broker connection (%s); reconnecting", reason)

    def _on_message(
        self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage
    ) -> None:
        self._deliver(
            Received(
                message.topic,
                bytes(message.payload),
                message.mid,
                message.qos,
                connection=self._connection,
                partition=self.partition,
            )
        )
