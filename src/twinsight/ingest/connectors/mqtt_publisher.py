"""Publishing to an MQTT broker: what virtual devices (and later, commands) go out on.

A thin adapter over paho-mqtt: connect once, publish with QoS 0 or 1, reconnect by itself
(paho's back-off), and turn paho's failures into :class:`ConnectorError`. QoS 1 publishes
are bounded by paho's in-flight window, so a simulation that outruns the broker is slowed
down rather than buffering without limit.
"""

from __future__ import annotations

import logging
import threading
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from twinsight.core.errors import ConnectorError

log = logging.getLogger(__name__)


class MqttPublisher:
    """Publishes messages to ``url`` (``mqtt://host:port``)."""

    def __init__(
        self,
        url: str,
        *,
        client_id: str = "",
        username: str | None = None,
        password: str | None = None,
        connect_timeout: float = 10.0,
        max_inflight: int = 100,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme != "mqtt" or not parts.hostname:
            raise ConnectorError(f"MQTT publisher URL must look like mqtt://host:port: {url!r}")
        self._host = parts.hostname
        self._port = parts.port or 1883
        self._timeout = connect_timeout
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311
        )
        self._client.max_inflight_messages_set(max_inflight)
        self._client.max_queued_messages_set(10 * max_inflight)
        if username is not None:
            self._client.username_pw_set(username, password)
        self._connected = threading.Event()
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self.published = 0

    def _on_connect(
        self, client: object, userdata: object, flags: object, rc: object, *_: object
    ) -> None:
        if not getattr(rc, "is_failure", False):
            self._connected.set()
            log.info("publishing to mqtt://%s:%d", self._host, self._port)

    def _on_disconnect(self, *_: object) -> None:
        if self._connected.is_set():
            log.warning("publisher lost mqtt://%s:%d; reconnecting", self._host, self._port)
        self._connected.clear()

    def start(self) -> None:
        try:
            self._client.connect(self._host, self._port, keepalive=30)
        except OSError as error:
            raise ConnectorError(
                f"cannot reach MQTT broker mqtt://{self._host}:{self._port}: {error}"
            ) from error
        self._client.loop_start()
        if not self._connected.wait(self._timeout):
            self.stop()
            raise ConnectorError(
                f"MQTT broker mqtt://{self._host}:{self._port} did not accept the publisher "
                f"within {self._timeout:g} s"
            )

    def publish(self, topic: str, payload: bytes, *, qos: int = 0) -> None:
        info = self._client.publish(topic, payload, qos=qos)
        if info.rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
            # The broker is slower than we publish: wait for the window to open.
            info.wait_for_publish(self._timeout)
            info = self._client.publish(topic, payload, qos=qos)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise ConnectorError(f"MQTT publish to {topic!r} failed: {paho.error_string(info.rc)}")
        self.published += 1

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
