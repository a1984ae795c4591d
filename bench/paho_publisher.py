"""The virtual devices' publisher as it was before Twinsight spoke MQTT itself: paho-mqtt.

Kept only so ``python bench/plant.py --publisher paho`` can measure the before and after on
the same machine in the same state. It is the previous adapter with one fix: when paho's
queue is full (``MQTT_ERR_QUEUE_SIZE``) it waits and tries again, where the adapter called
``wait_for_publish`` on the message paho had refused and failed with ``ValueError`` as soon
as a simulation outran the broker.
"""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode


class PahoPublisher:
    """Publishes through paho-mqtt (MQTT 3.1.1), paho's default window of 100 in flight."""

    def __init__(self, url: str, *, client_id: str = "", max_inflight: int = 100) -> None:
        parts = urlsplit(url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 1883
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311
        )
        self._client.max_inflight_messages_set(max_inflight)
        self._client.max_queued_messages_set(10 * max_inflight)
        self._connected = threading.Event()
        self._client.on_connect = lambda *args: self._connected.set()
        self.published = 0

    def start(self) -> None:
        self._client.connect(self._host, self._port, keepalive=30)
        self._client.loop_start()
        if not self._connected.wait(10):
            raise SystemExit("paho did not connect")

    def publish(self, topic: str, payload: bytes, *, qos: int = 0) -> None:
        while self._client.publish(topic, payload, qos=qos).rc == MQTTErrorCode.MQTT_ERR_QUEUE_SIZE:
            time.sleep(0.0005)
        self.published += 1

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until paho holds no unacknowledged message (polls paho's own table)."""
        deadline = time.monotonic() + (10.0 if timeout is None else timeout)
        while self._client._out_messages and time.monotonic() < deadline:
            time.sleep(0.002)
        return not self._client._out_messages

    def stop(self) -> None:
        self.flush()
        self._client.disconnect()
        self._client.loop_stop()
