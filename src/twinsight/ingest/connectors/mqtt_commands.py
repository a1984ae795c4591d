"""MQTT for commands and desired values: both ends of the topic scheme of
:mod:`twinsight.control.delivery`.

* :class:`MqttCommandTransport` is the platform's side: it publishes requests (QoS 1) and
  subscribes to ``<prefix>/#``, passing every ``.../response`` message to the delivery.
  Both through the platform's own :class:`~.mqtt_publisher.MqttPublisher` (whose
  subscriber keeps the MQTT 5 properties), on two connections: on one, the broker's
  PUBACK and a forwarded answer follow each other closely, and Nagle's algorithm on the
  broker's side held the second back for a delayed ACK (p95 round trip 6 → 46 ms).
* :class:`MqttDeviceEndpoint` is a device's side (the demo's virtual devices, tests): it
  subscribes to the requests and desired values of the devices it serves and publishes
  what its handler answers.

Correlation, both ways: on MQTT 5 (``protocol="5"``, or ``"auto"``, the default, when the
broker speaks it) a request carries the Response Topic (its ``.../response`` topic) and
Correlation Data (the correlation id) properties, a device answers on that Response Topic
with the same Correlation Data, and the platform matches the answer by it. The JSON body
carries the id (``"id"``) as well, so a device on MQTT 3.1.1 answers on the
``.../response`` topic of the scheme with the body's id and is matched by that; with a
3.1.1-only broker (the embedded amqtt one) ``"auto"`` falls back to 3.1.1 and the body's id
is all there is.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import orjson

from twinsight.core.clock import Clock
from twinsight.ingest.connectors import mqtt_wire as wire
from twinsight.ingest.connectors.mqtt_publisher import MqttPublisher

log = logging.getLogger(__name__)

Listener = Callable[[str, bytes, str | None], None]
"""``(topic, payload, correlation id from the MQTT 5 Correlation Data or None)``."""


class MqttCommandTransport:
    """Publishes command requests and desired values; hears the devices' answers."""

    def __init__(
        self, url: str, clock: Clock, *, prefix: str = "twinsight", protocol: str = "auto"
    ) -> None:
        self.url = url
        self.prefix = prefix
        self._clock = clock
        self._publisher = MqttPublisher(
            url, client_id=f"twinsight-commands-{uuid.uuid4().hex[:8]}", protocol=protocol
        )
        self._subscriber = MqttPublisher(
            url, client_id=f"twinsight-answers-{uuid.uuid4().hex[:8]}", protocol=protocol
        )
        self._listener: Listener | None = None

    @property
    def protocol_used(self) -> str | None:
        """``"5"`` or ``"3.1.1"`` once started."""
        return self._publisher.protocol_used

    def listen(self, handler: Listener) -> None:
        self._listener = handler

    def publish(self, topic: str, payload: bytes, correlation: str | None = None) -> None:
        """Publish a request; on MQTT 5 with ``<topic>/response`` (``.../request`` becomes
        ``.../response``) as its Response Topic and ``correlation`` as Correlation Data."""
        if correlation is None:
            self._publisher.publish(topic, payload, qos=1)
            return
        self._publisher.publish(
            topic,
            payload,
            qos=1,
            response_topic=response_topic_of(topic),
            correlation=correlation.encode(),
        )

    def start(self) -> None:
        if self._listener is not None:
            self._subscriber.subscribe((f"{self.prefix}/#",), self._on_message)
            self._subscriber.start()
        self._publisher.start()
        log.info("commands go to %s over MQTT %s", self.url, self.protocol_used)

    def stop(self) -> None:
        self._publisher.stop()
        if self._listener is not None:
            self._subscriber.stop()

    def _on_message(self, topic: str, payload: bytes, props: dict[int, bytes]) -> None:
        if self._listener is None or not topic.endswith("/response"):
            return
        data = props.get(wire.CORRELATION_DATA)
        self._listener(topic, payload, data.decode(errors="replace") if data else None)


def response_topic_of(request_topic: str) -> str:
    """The scheme's answer topic: ``.../request`` → ``.../response``, ``.../desired`` →
    ``.../desired/response``."""
    if request_topic.endswith("/request"):
        return request_topic[: -len("request")] + "response"
    return f"{request_topic}/response"


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
        protocol: str = "auto",
    ) -> None:
        self.url = url
        self.prefix = prefix
        self._clock = clock
        self._devices = sorted(devices, key=len, reverse=True)  # longest match first
        self._handler = handler
        # Two connections, as for the platform's side (see the module's docstring).
        self._publisher = MqttPublisher(
            url, client_id=f"twinsight-device-{uuid.uuid4().hex[:8]}", protocol=protocol
        )
        self._subscriber = MqttPublisher(
            url, client_id=f"twinsight-requests-{uuid.uuid4().hex[:8]}", protocol=protocol
        )
        topics: list[str] = []
        for device in devices:
            topics += [f"{prefix}/{device}/commands/#", f"{prefix}/{device}/desired"]
        self._subscriber.subscribe(topics or ["#"], self._on_message)
        self.received = 0

    @property
    def protocol_used(self) -> str | None:
        """``"5"`` or ``"3.1.1"`` once started."""
        return self._publisher.protocol_used

    def start(self) -> None:
        self._publisher.start()
        self._subscriber.start()
        log.info("device endpoint on %s speaks MQTT %s", self.url, self.protocol_used)

    def stop(self) -> None:
        self._subscriber.stop()
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

    def _on_message(self, topic: str, payload: bytes, props: dict[int, bytes]) -> None:
        """Answer a request: on its MQTT 5 Response Topic with its Correlation Data when it
        has them, else on the scheme's ``.../response`` topic with the body's id."""
        if topic.endswith("/response"):
            return
        where = self._split(topic)
        if where is None:
            return
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError:
            log.warning("request on %s is not JSON; ignored", topic)
            return
        response_topic = props.get(wire.RESPONSE_TOPIC)
        correlation = props.get(wire.CORRELATION_DATA)
        if not isinstance(body, dict) or not (
            isinstance(body.get("id"), str) or (response_topic and correlation)
        ):
            log.warning("request on %s has no correlation id; ignored", topic)
            return
        self.received += 1
        device, kind = where
        answer = self._handler(device, kind, body)
        if answer is None:
            return
        reply = {"id": body.get("id", ""), **answer, "time": datetime.now(UTC).isoformat()}
        if response_topic and correlation is not None:
            self._publisher.publish(
                response_topic.decode(errors="replace"),
                orjson.dumps(reply),
                qos=1,
                correlation=correlation,
            )
            return
        self._publisher.publish(response_topic_of(topic), orjson.dumps(reply), qos=1)
