"""The publisher: moves spooled messages to the MQTT broker, and deletes them on PUBACK.

paho-mqtt 2.x, MQTT v5, QoS 1, ``clean_start=False`` with a session expiry. Its network
thread reconnects with exponential backoff (``mqtt.reconnect_min_s`` .. ``reconnect_max_s``).
A pump thread hands spooled messages to paho while connected, never more than
``mqtt.max_inflight`` unacknowledged at once, in two lanes: messages spooled since the
connection came up go at once (the room's current health first), the backlog from before
drains oldest-first at ``spool.backlog_rate_per_s`` so a room coming back does not flood
the broker.

On every connect the spool's acknowledged messages kept for replay (``spool.replay_window_s``)
are made pending again and go out first in the backlog lane: a broker that crashed may have
acknowledged them and lost them before its next persistence save.

Retained status: ``online`` on every connect, ``offline`` as the Last Will (set anew before
each connect so each carries its own seq) and on a clean stop. The retained inventory is
re-sent on every connect and whenever it changes. Status and inventory are not spooled: a
newer one replaces an older one, so replaying a stale one after an outage would be wrong.

Logs are quiet: one line when the connection fails (with the broker's reason code, never a
password), one when it is back.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from functools import partial
from typing import Any, Literal, cast

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from roomwatch.agent import __version__, wire
from roomwatch.agent.config import AgentConfig
from roomwatch.agent.errors import ConfigError, SpoolError
from roomwatch.agent.selfhealth import FailureLog
from roomwatch.agent.spool import Spool, SpooledMessage

log = logging.getLogger(__name__)

InventoryBuilder = Callable[[int], wire.InventoryMessage]
_PUMP_TICK_S = 0.2
# With nothing spooled and nothing in flight the pump sleeps until woken (a message spooled,
# a connect, a PUBACK); this is only a safety net. Ticking at _PUMP_TICK_S then cost an idle
# agent two spool queries every 0.2 s: ~15 % of its CPU (bench/agent_footprint.py).
_IDLE_TICK_S = 5.0


# Settings a live connection was made with: changing one needs a new connection.
_CONNECTION_FIELDS = ("host", "port", "username", "tls", "keepalive_s", "session_expiry_s")


def needs_new_connection(old: AgentConfig, new: AgentConfig) -> bool:
    """True when ``new`` changes how the broker is reached, not just credentials or rates."""
    return any(getattr(old.mqtt, f) != getattr(new.mqtt, f) for f in _CONNECTION_FIELDS)


@dataclass(frozen=True)
class PublisherCounters:
    published: int
    publish_failures: int
    reconnects: int


class _TokenBucket:
    """At most ``rate_per_s`` takes per second on average, bursts up to one second's worth."""

    def __init__(self, rate_per_s: float, clock_s: Callable[[], float]) -> None:
        self._rate_per_s = rate_per_s
        self._capacity = max(1.0, rate_per_s)
        self._tokens = self._capacity
        self.clock_s = clock_s
        self._last_s = clock_s()

    def take(self, wanted: int) -> int:
        now_s = self.clock_s()
        elapsed_s = max(0.0, now_s - self._last_s)
        self._tokens = min(self._capacity, self._tokens + elapsed_s * self._rate_per_s)
        self._last_s = now_s
        granted = min(wanted, int(self._tokens))
        self._tokens -= granted
        return granted


class Publisher:
    """Publishes what the spool holds; see the module docstring for the guarantees."""

    def __init__(
        self,
        config: AgentConfig,
        spool: Spool,
        now: Callable[[], datetime] = wire.now,
        clock_s: Callable[[], float] = time.monotonic,
    ) -> None:
        """Prepare the client; ConfigError if the TLS files cannot be loaded. No socket yet."""
        self._config = config
        self._spool = spool
        self._now = now
        self._max_inflight = config.mqtt.max_inflight
        self._backlog = _TokenBucket(config.spool.backlog_rate_per_s, clock_s)
        self._lock = threading.Condition()
        self._seq_by_mid: dict[int, int | None] = {}  # handed to paho, not yet acknowledged
        self._early_acks: dict[int, ReasonCode] = {}  # PUBACKs that beat their registration
        self._live_after_seq = 0
        self._inventory: InventoryBuilder | None = None
        self._session_up = False  # guarded by _lock with _inventory: see publish_inventory
        self._inventory_lock = threading.Lock()  # held while an inventory is published
        self._connected = False
        self._ever_connected = False
        self._stopping = False
        self._problem: str | None = None
        self._failures = FailureLog(log)
        self._counts = {"published": 0, "publish_failures": 0, "reconnects": 0}
        self.refusal: ReasonCode | None = None
        """The reason code of the last refused connection; None once connected."""
        self._wake = threading.Event()
        self._pump_thread = threading.Thread(
            target=self._pump_loop, name="roomwatch-pump", daemon=True
        )
        self._client = self._make_client()

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def broker(self) -> str:
        return f"{self._config.mqtt.host}:{self._config.mqtt.port}"

    def counters(self) -> PublisherCounters:
        with self._lock:
            return PublisherCounters(**self._counts)

    def start(self) -> None:
        """Connect in the background (retrying with backoff) and start publishing."""
        mqtt_config = self._config.mqtt
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = mqtt_config.session_expiry_s
        self._client.connect_async(
            mqtt_config.host,
            mqtt_config.port,
            keepalive=mqtt_config.keepalive_s,
            clean_start=False,
            properties=properties,
        )
        self._client.loop_start()
        self._pump_thread.start()

    def notify(self) -> None:
        """A message was spooled: publish it as soon as the connection allows."""
        self._wake.set()

    def use_spool(self, spool: Spool) -> None:
        """Take messages from ``spool`` from now on (the runner's fallback when a disk fails)."""
        self._spool = spool
        self._live_after_seq = 0
        self._wake.set()

    def reconfigure(self, config: AgentConfig) -> None:
        """Apply a reloaded config that keeps the connection (see ``needs_new_connection``):
        the password is used from the next connect on, rates and limits at once."""
        mqtt_config = config.mqtt
        password = mqtt_config.password.get_secret_value() if mqtt_config.password else None
        self._client.username_pw_set(config.mqtt_username, password)
        self._client.max_inflight_messages_set(mqtt_config.max_inflight)
        cast(Any, self._client).reconnect_delay_set(
            min_delay=mqtt_config.reconnect_min_s, max_delay=mqtt_config.reconnect_max_s
        )
        with self._lock:
            self._config = config
            self._max_inflight = mqtt_config.max_inflight
            self._backlog = _TokenBucket(config.spool.backlog_rate_per_s, self._backlog.clock_s)
        self._wake.set()

    def adopt_counters(self, previous: Publisher) -> None:
        """Continue the totals of the publisher this one replaces (a config reload)."""
        with self._lock:
            self._counts = asdict(previous.counters())
            self._ever_connected = previous._ever_connected

    def publish_inventory(self, build: InventoryBuilder) -> None:
        """Publish the retained inventory now (if connected) and again on every connect.

        Under the lock with ``_on_connect``: whichever comes second publishes it, so an
        inventory handed over while the connection comes up is sent exactly once."""
        with self._inventory_lock:  # the last one published is the newest: it stays retained
            with self._lock:
                self._inventory = build
                online = self._session_up
            if online:
                self._publish_retained(wire.Kind.INVENTORY, build)

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait until nothing handed to the broker awaits its PUBACK; False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: not self._seq_by_mid, timeout_s)

    def stop(
        self, reason: str = "stopped", timeout_s: float = 5.0, *, announce_offline: bool = True
    ) -> None:
        """Flush the spool, publish the retained ``offline`` status, disconnect cleanly.

        Flushing and waiting for PUBACKs take at most ``timeout_s``; what is still spooled
        then stays on disk for the next start. ``announce_offline=False`` (a publisher
        replaced by a config reload) leaves the status alone: a new connection follows.
        """
        deadline_s = time.monotonic() + timeout_s
        self._stopping = True
        self._wake.set()
        if self._pump_thread.is_alive():
            self._pump_thread.join(timeout_s)
        if self._connected:
            self._flush(deadline_s)
            if announce_offline:
                offline = partial(self._status, state="offline", reason=reason)
                self._publish_retained(wire.Kind.STATUS, offline)
            self.wait_idle(max(0.1, deadline_s - time.monotonic()))
        self._client.disconnect()  # a normal DISCONNECT: the broker drops the Last Will
        self._client.loop_stop()
        self._connected = False

    def _flush(self, deadline_s: float) -> None:
        """Hand every spooled message to paho (no backlog rate limit) until the deadline."""
        while self._connected and time.monotonic() < deadline_s:
            with self._lock:
                inflight = {seq for seq in self._seq_by_mid.values() if seq is not None}
            try:
                batch = self._fresh(self._max_inflight - len(inflight), inflight)
            except SpoolError as exc:
                self._failures.failed("spool read", exc)
                return
            if not batch and not inflight:
                return
            for message in batch:
                self._hand_to_paho(message)
            with self._lock:  # wait for a PUBACK to free a slot
                self._lock.wait(min(_PUMP_TICK_S, max(0.0, deadline_s - time.monotonic())))

    # -- client set-up -----------------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        config = self._config
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=config.agent_id,
            protocol=mqtt.MQTTv5,
        )
        password = config.mqtt.password.get_secret_value() if config.mqtt.password else None
        client.username_pw_set(config.mqtt_username, password)
        client.max_inflight_messages_set(config.mqtt.max_inflight)
        # paho types the delays as int but computes with them as numbers; fractions work.
        cast(Any, client).reconnect_delay_set(
            min_delay=config.mqtt.reconnect_min_s, max_delay=config.mqtt.reconnect_max_s
        )
        self._configure_tls(client)
        client.on_pre_connect = self._on_pre_connect
        client.on_connect = self._on_connect
        client.on_connect_fail = self._on_connect_fail
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        return client

    def _configure_tls(self, client: mqtt.Client) -> None:
        tls = self._config.mqtt.tls
        if tls is None:
            return
        try:
            client.tls_set(
                ca_certs=str(tls.ca_file) if tls.ca_file else None,
                certfile=str(tls.cert_file) if tls.cert_file else None,
                keyfile=str(tls.key_file) if tls.key_file else None,
                cert_reqs=ssl.CERT_NONE if tls.insecure_skip_verify else ssl.CERT_REQUIRED,
            )
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"mqtt.tls: cannot load the TLS files: {exc}") from None
        if tls.insecure_skip_verify:
            client.tls_insecure_set(True)

    # -- paho callbacks (network thread) ----------------------------------------------

    def _on_pre_connect(self, client: mqtt.Client, _userdata: Any) -> None:
        # A fresh Last Will per connection attempt, so two outages never share one seq.
        try:
            seq = self._spool.reserve()
        except SpoolError as exc:
            self._failures.failed("spool (Last Will)", exc)
            return
        will = self._status(seq, "offline", "connection lost")
        topic = wire.topic(self._config.agent_id, wire.Kind.STATUS)
        client.will_set(topic, wire.encode(will), qos=1, retain=True)

    def _on_connect(
        self, _client: mqtt.Client, _userdata: Any, flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        if reason.is_failure:
            self.refusal = reason
            self._report_problem(
                f"broker {self.broker} refused the connection of user "
                f"{self._config.mqtt_username!r}: {reason} ({reason.value:#04x})"
            )
            return
        self.refusal = None
        self._report_recovery(f"connected to broker {self.broker}")
        with self._lock:
            if self._ever_connected:
                self._counts["reconnects"] += 1
            self._ever_connected = True
        self._publish_retained(wire.Kind.STATUS, partial(self._status, state="online"))
        try:
            replayed = self._spool.requeue_acknowledged()
            self._live_after_seq = self._spool.last_seq()
        except SpoolError as exc:
            self._failures.failed("spool", exc)
        else:
            if replayed:
                log.debug("re-sending %d recently acknowledged messages", replayed)
        with self._inventory_lock:
            with self._lock:
                self._session_up = True
                inventory = self._inventory
            if inventory is not None:
                self._publish_retained(wire.Kind.INVENTORY, inventory)
        self._connected = True
        self._wake.set()

    def _on_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        self._report_problem(f"cannot reach broker {self.broker}; retrying with backoff")

    def _on_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        with self._lock:
            self._session_up = False
        was_connected, self._connected = self._connected, False
        if was_connected and not self._stopping:
            self._report_problem(f"lost the connection to broker {self.broker}: {reason}")

    def _on_publish(
        self, _client: mqtt.Client, _userdata: Any, mid: int, reason: ReasonCode, _props: Any
    ) -> None:
        with self._lock:
            if mid not in self._seq_by_mid:
                self._early_acks[mid] = reason
                return
            seq = self._seq_by_mid.pop(mid)
        self._acknowledged(seq, reason)

    # -- publishing --------------------------------------------------------------------

    def _hand_to_paho(self, message: SpooledMessage) -> None:
        topic = wire.topic(self._config.agent_id, wire.Kind(message.kind))
        self._send(topic, message.payload, retain=False, seq=message.seq)

    def _publish_retained(self, kind: wire.Kind, build: Callable[[int], wire.Envelope]) -> None:
        try:
            seq = self._spool.reserve()
        except SpoolError as exc:
            self._failures.failed(f"spool ({kind.value})", exc)
            return
        topic = wire.topic(self._config.agent_id, kind)
        self._send(topic, wire.encode(build(seq)), retain=True, seq=None)

    def _send(self, topic: str, payload: bytes, retain: bool, seq: int | None) -> None:
        """Publish at QoS 1 and remember which spooled seq (if any) the PUBACK commits."""
        info = self._client.publish(topic, payload, qos=1, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            # NO_CONN is fine: paho keeps the message and sends it after the reconnect.
            with self._lock:
                self._counts["publish_failures"] += 1
            self._failures.failed("publish", mqtt.error_string(info.rc))
            return
        with self._lock:
            early = self._early_acks.pop(info.mid, None)
            if early is None:
                self._seq_by_mid[info.mid] = seq
                return
        self._acknowledged(seq, early)

    def _acknowledged(self, seq: int | None, reason: ReasonCode) -> None:
        """The broker answered: the message is no longer ours to keep, whatever it said.

        A refusal (e.g. not authorised for the topic) would be refused again on every retry
        and block the spool, so it is counted and logged once, and the message let go.
        """
        if seq is not None:
            try:
                self._spool.commit(seq)
            except SpoolError as exc:
                self._failures.failed("spool commit", exc)
        with self._lock:
            self._counts["publish_failures" if reason.is_failure else "published"] += 1
            self._lock.notify_all()
        if reason.is_failure:
            self._failures.failed("broker accepting messages", f"{reason} ({reason.value:#04x})")
        else:
            self._failures.ok("broker accepting messages")
        self._wake.set()

    # -- the pump thread ---------------------------------------------------------------

    def _pump_loop(self) -> None:
        idle = False
        while not self._stopping:
            self._wake.wait(_IDLE_TICK_S if idle else _PUMP_TICK_S)
            self._wake.clear()
            idle = False
            if self._stopping or not self._connected:
                continue
            try:
                idle = self._pump_once()
            except SpoolError as exc:
                self._failures.failed("spool read", exc)
            else:
                self._failures.ok("spool read")

    def _pump_once(self) -> bool:
        """Hand what may go now to paho; True when the spool had nothing to send at all."""
        with self._lock:
            inflight = {seq for seq in self._seq_by_mid.values() if seq is not None}
        free = self._max_inflight - len(inflight)
        live = self._fresh(free, inflight, after_seq=self._live_after_seq)
        backlog_wanted = self._backlog.take(free - len(live)) if free > len(live) else 0
        backlog = self._fresh(backlog_wanted, inflight, through_seq=self._live_after_seq)
        for message in live + backlog:
            if not self._connected or self._stopping:
                return False
            self._hand_to_paho(message)
        return not inflight and not live and not backlog and backlog_wanted > 0

    def _fresh(
        self, limit: int, inflight: set[int], after_seq: int = 0, through_seq: int | None = None
    ) -> list[SpooledMessage]:
        """Up to ``limit`` spooled messages not already handed to paho, oldest first."""
        if limit <= 0:
            return []
        found = self._spool.pending(limit + len(inflight), after_seq, through_seq)
        return [m for m in found if m.seq not in inflight][:limit]

    # -- small helpers -----------------------------------------------------------------

    def _status(
        self, seq: int, state: Literal["online", "offline"], reason: str = ""
    ) -> wire.StatusMessage:
        return wire.StatusMessage(
            agent=self._config.agent_id,
            seq=seq,
            ts=self._now(),
            state=state,
            agent_version=__version__,
            reason=reason,
        )

    def _report_problem(self, text: str) -> None:
        if text != self._problem:
            self._problem = text
            log.warning("%s", text)

    def _report_recovery(self, text: str) -> None:
        if self._problem is not None or not self._ever_connected:
            log.info("%s", text)
        self._problem = None
