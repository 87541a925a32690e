"""The collector's MQTT side: a persistent MQTT v5 session with manual acknowledgement.

A message is acknowledged (PUBACK) only after the pipeline stored it; until then the broker
keeps it for this session and re-delivers it after a reconnect or a collector restart.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from agent.wire import subscriptions
from collector.config import CollectorMqtt
from collector.ingest.pipeline import Received

log = logging.getLogger(__name__)


class Subscriber:
    def __init__(self, config: CollectorMqtt, on_message: Callable[[Received], None]) -> None:
        self.config = config
        self._deliver = on_message
        self.connected = False
        self._refused_logged = False
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
        client.reconnect_delay_set(min_delay=1, max_delay=30)
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
            clean_start=False,
            properties=props,
        )
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def ack(self, received: Received) -> None:
        if received.qos > 0:
            self.client.ack(received.mid, received.qos)

    def _on_connect(
        self, client: mqtt.Client, _userdata: object, _flags: object, reason: object, _props: object
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
        self.connected = True
        self._refused_logged = False
        log.info("connected to broker %s:%d", self.config.host, self.config.port)
        client.subscribe([(topic, 1) for topic in subscriptions(self.config.shared_group)])

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: object,
        _flags: object,
        reason: object,
        _props: object,
    ) -> None:
        if self.connected:
            log.warning("lost the broker connection (%s); reconnecting", reason)
        self.connected = False

    def _on_message(
        self, _client: mqtt.Client, _userdata: object, message: mqtt.MQTTMessage
    ) -> None:
        self._deliver(Received(message.topic, bytes(message.payload), message.mid, message.qos))
