"""MQTT for commands and desired values: both ends of the topic scheme of
:mod:`twinsight.control.delivery`.

* :class:`MqttCommandTransport` is the platform's side: it publishes requests (QoS 1,
  with the platform's own :class:`~.mqtt_publisher.MqttPublisher`) and subscribes to
  ``<prefix>/#`` with the platform's own subscriber (:class:`~.mqtt.MqttConnector`),
  passing every ``.../response`` message to the delivery.
* :class:`MqttDeviceEndpoint` is a device's side (the demo's virtual devices, tests): it
  subscribes to the requests and desired values of the devices it serves and publishes
  what its handler answers on the matching ``.../response`` topic.

Correlation is carried in the JSON body (``"id"``), which works on MQTT 3.1.1 and 5 alike;
both ends speak 3.1.1 so the embedded broker serves them too. MQTT 5's response-topic and
correlation-data properties are not used yet (the publisher speaks only 3.1.1).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import orjson

from twinsight.core.clock import Clock
from twinsight.core.messages import IngestResult, RawMessage
from twinsight.ingest.connectors.mqtt import MqttConnector, MqttSettings
from twinsight.ingest.connectors.mqtt_publisher import MqttPublisher

log = logging.getLogger(__name__)

Listener = Callable[[str, bytes], None]


class _Sink:
    """Hands each received message to a callback (no ingest pipeline behind it)."""

    def __init__(self, handler: Listener, accept: Callable[[str], bool]) -> None:
        self._handler = handler
        self._accept = accept

    def submit(self, messages: list[RawMessage]) -> IngestResult:
        for message in messages:
            if self._accept(message.address):
                try:
                    self._handler(message.address, message.payload)
                except Exception:
                    log.exception("handling the message on %s failed", message.address)
        return IngestResult(len(messages), 0, 0)


class MqttCommandTransport:
    """Publishes command requests and desired values; hears the devices' answers."""

    def __init__(self, url: str, clock: Clock, *, prefix: str = "twinsight") -> None:
        self.url = url
        self.prefix = prefix
        self._clock = clock
        self._publisher = MqttPublisher(url, client_id=f"twinsight-commands-{uuid.uuid4().hex[:8]}")
        self._listener: Listener | None = None
        self._connector: MqttConnector | None = None

    def listen(self, handler: Listener) -> None:
        self._listener = handler

    def publish(self, topic: str, payload: bytes) -> None:
        self._publisher.publish(topic, payload, qos=1)

    def start(self) -> None:
        if self._listener is not None:
            sink = _Sink(self._listener, lambda topic: topic.endswith("/response"))
            settings = MqttSettings(self.url, topics=(f"{self.prefix}/#",), protocol="3.1.1")
            self._connector = MqttConnector(sink, settings, self._clock)
            self._connector.start()
        self._publisher.start()

    def stop(self) -> None:
        self._publisher.stop()
        if self._connector is not None:
            self._connector.stop()
            self._connector = None


DeviceHandler = Callable[[str, str, dict[str, object]], dict[str, object] | None]
"""``(device, kind, body) -> answer``: ``kind`` is ``command:<path>`` or ``desired``;
the answer (``{"status": ..., "response": ...}``) is published with the request's id, or
nothing when ``None`` (a device that stays silent)."""


class MqttDeviceEndpoint:
    """A device's end: subscribes to ``<prefix>/<device>/commands/#`` and
    ``<prefix>/<device>/desired`` of each of ``devices`` and answers through ``handler``."""

    def __init__(
        self,
        url: str,
        clock: Clock,
        devices: Sequence[str],
        handler: DeviceHandler,
        *,
        prefix: str = "twinsight",
    ) -> None:
        self.url = url
        self.prefix = prefix
        self._clock = clock
        self._devices = sorted(devices, key=len, reverse=True)  # longest match first
        self._handler = handler
        self._publisher = MqttPublisher(url, client_id=f"twinsight-device-{uuid.uuid4().hex[:8]}")
        topics: list[str] = []
        for device in devices:
            topics += [f"{prefix}/{device}/commands/#", f"{prefix}/{device}/desired"]
        self._settings = MqttSettings(url, topics=tuple(topics) or ("#",), protocol="3.1.1")
        self._connector: MqttConnector | None = None
        self.received = 0

    def start(self) -> None:
        self._publisher.start()
        sink = _Sink(self._on_message, lambda topic: not topic.endswith("/response"))
        self._connector = MqttConnector(sink, self._settings, self._clock)
        self._connector.start()

    def stop(self) -> None:
        if self._connector is not None:
            self._connector.stop()
            self._connector = None
        self._publisher.stop()

    def _split(self, topic: str) -> tuple[str, str] | None:
        for device in self._devices:
            head = f"{self.prefix}/{device}/"
            if not topic.startswith(head):
                continue
            rest = topic[len(head) :]
            if rest == "desired":
                return device, "desired"
            if rest.startswith("commands/") and rest.endswith("/request"):
                return device, "command:" + rest[len("commands/") : -len("/request")]
        return None

    def _on_message(self, topic: str, payload: bytes) -> None:
        where = self._split(topic)
        if where is None:
            return
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError:
            log.warning("request on %s is not JSON; ignored", topic)
            return
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            log.warning("request on %s has no correlation id; ignored", topic)
            return
        self.received += 1
        device, kind = where
        answer = self._handler(device, kind, body)
        if answer is None:
            return
        reply = {"id": body["id"], **answer, "time": datetime.now(UTC).isoformat()}
        response_topic = (
            f"{topic}/response" if kind == "desired" else topic[: -len("request")] + "response"
        )
        self._publisher.publish(response_topic, orjson.dumps(reply), qos=1)
