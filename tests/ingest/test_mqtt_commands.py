"""MQTT 5 response topics and correlation data on the command path, against a real
Mosquitto (which speaks MQTT 5) and the embedded amqtt broker (3.1.1 only: the fallback).

The devices here are raw paho-mqtt clients, so what is asserted is what goes over the wire,
not what our own endpoint believes it sent."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from brokers import MOSQUITTO, mosquitto, wait_until
from twinsight.control.delivery import Delivery, DeliverySettings, DeviceTopics
from twinsight.core.clock import WallClock
from twinsight.core.errors import ConnectorError
from twinsight.ingest.connectors import mqtt_wire as wire
from twinsight.ingest.connectors.embedded_broker import EmbeddedBroker
from twinsight.ingest.connectors.mqtt_commands import MqttCommandTransport, MqttDeviceEndpoint
from twinsight.ingest.connectors.mqtt_publisher import MqttPublisher

needs_mosquitto = pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto not installed")

SETTINGS = DeliverySettings(timeout=3.0, retries=0, completion=5.0)


class RawDevice:
    """A paho-mqtt device subscribed to ``plant/pump-1/commands/#``; records each request
    with its MQTT 5 properties and answers through ``answer``."""

    def __init__(self, url: str, *, v5: bool, answer: Any) -> None:
        host, port = url.removeprefix("mqtt://").split(":")
        protocol = paho.MQTTv5 if v5 else paho.MQTTv311
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2, client_id=f"raw-{uuid.uuid4().hex[:6]}", protocol=protocol
        )
        self.requests: list[tuple[str, dict[str, Any], str | None, bytes | None]] = []
        self.subscribed = threading.Event()
        self._answer = answer
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.connect(host, int(port))
        self.client.subscribe("plant/pump-1/commands/#", qos=1)
        self.client.loop_start()
        assert self.subscribed.wait(5)

    def _on_message(self, client: paho.Client, _: object, msg: paho.MQTTMessage) -> None:
        if msg.topic.endswith("/response"):
            return
        props = msg.properties
        response_topic = getattr(props, "ResponseTopic", None)
        correlation = getattr(props, "CorrelationData", None)
        body = orjson.loads(msg.payload)
        self.requests.append((msg.topic, body, response_topic, correlation))
        self._answer(client, msg.topic, body, response_topic, correlation)

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def answer_by_properties_only(
    client: paho.Client, topic: str, body: dict[str, Any], rt: str | None, corr: bytes | None
) -> None:
    """An MQTT 5 device that trusts only the properties: no id in its body."""
    props = Properties(PacketTypes.PUBLISH)
    props.CorrelationData = corr
    assert rt is not None
    client.publish(rt, orjson.dumps({"status": "done", "response": 7}), qos=1, properties=props)


def answer_by_body_id(
    client: paho.Client, topic: str, body: dict[str, Any], rt: str | None, corr: bytes | None
) -> None:
    """An MQTT 3.1.1 device: the scheme's response topic and the body's id."""
    reply = {"id": body["id"], "status": "done", "response": 3}
    client.publish(topic.removesuffix("request") + "response", orjson.dumps(reply), qos=1)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[str]:
    with mosquitto(tmp_path / "broker") as running:
        yield running.url


def deliver(url: str, protocol: str = "auto") -> tuple[Delivery, MqttCommandTransport, list[Any]]:
    transport = MqttCommandTransport(url, WallClock(), prefix="plant", protocol=protocol)
    delivery = Delivery(transport, DeviceTopics(prefix="plant"), SETTINGS)
    outcomes: list[Any] = []
    delivery.on_outcome(lambda *outcome: outcomes.append(outcome))
    delivery.start()
    return delivery, transport, outcomes


@needs_mosquitto
def test_an_mqtt5_request_carries_response_topic_and_correlation_data_and_is_matched_by_them(
    broker: str,
) -> None:
    device = RawDevice(broker, v5=True, answer=answer_by_properties_only)
    delivery, transport, outcomes = deliver(broker)
    try:
        assert transport.protocol_used == "5"
        topic = delivery.topics.command("pump-1", "prime")
        delivery.send("action-1", "corr-123", topic, {"request": 2})
        wait_until(lambda: outcomes, 10, "the device's answer")
    finally:
        delivery.stop()
        device.stop()
    [(seen_topic, body, response_topic, correlation)] = device.requests
    assert seen_topic == "plant/pump-1/commands/prime/request"
    assert response_topic == "plant/pump-1/commands/prime/response"
    assert correlation == b"corr-123"
    assert body["id"] == "corr-123"  # kept in the body for 3.1.1 devices
    # The answer had no id in its body: only the Correlation Data matched it.
    assert outcomes == [("action-1", "done", 7, "", 1)]


@needs_mosquitto
def test_an_mqtt311_device_is_still_matched_by_the_body_id(broker: str) -> None:
    device = RawDevice(broker, v5=False, answer=answer_by_body_id)
    delivery, transport, outcomes = deliver(broker)
    try:
        assert transport.protocol_used == "5"  # the platform speaks 5; the device does not
        delivery.send("action-2", "corr-311", delivery.topics.command("pump-1", "prime"), {})
        wait_until(lambda: outcomes, 10, "the device's answer")
    finally:
        delivery.stop()
        device.stop()
    assert device.requests[0][2] is None  # a 3.1.1 subscriber gets no properties
    assert outcomes == [("action-2", "done", 3, "", 1)]


@needs_mosquitto
def test_the_platforms_device_endpoint_answers_on_the_response_topic_with_the_correlation_data(
    broker: str,
) -> None:
    """A raw MQTT 5 requester with its own reply topic and no id in the body: the demo's
    devices answer where the request asked, with the same Correlation Data."""
    answers: list[paho.MQTTMessage] = []
    endpoint = MqttDeviceEndpoint(
        broker, WallClock(), ["pump-1"], lambda *_: {"status": "done"}, prefix="plant"
    )
    endpoint.start()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="requester", protocol=paho.MQTTv5)
    client.on_message = lambda _c, _u, msg: answers.append(msg)
    host, port = broker.removeprefix("mqtt://").split(":")
    try:
        assert endpoint.protocol_used == "5"
        client.connect(host, int(port))
        client.subscribe("elsewhere/replies", qos=1)
        client.loop_start()
        props = Properties(PacketTypes.PUBLISH)
        props.ResponseTopic = "elsewhere/replies"
        props.CorrelationData = b"\x00\x01binary"
        wait_until(client.is_connected, 5, "requester connected")
        client.publish("plant/pump-1/commands/start/request", b"{}", qos=1, properties=props)
        wait_until(lambda: answers, 10, "the endpoint's answer")
    finally:
        client.loop_stop()
        client.disconnect()
        endpoint.stop()
    [answer] = answers
    assert answer.topic == "elsewhere/replies"
    assert answer.properties.CorrelationData == b"\x00\x01binary"
    assert orjson.loads(answer.payload)["status"] == "done"


def test_a_311_only_broker_makes_auto_fall_back_and_commands_still_round_trip() -> None:
    broker = EmbeddedBroker(port=0, prefer="amqtt")
    broker.start()
    try:
        assert broker.kind == "amqtt"
        endpoint = MqttDeviceEndpoint(
            broker.url, WallClock(), ["pump-1"], lambda *_: {"status": "done"}, prefix="plant"
        )
        endpoint.start()
        delivery, transport, outcomes = deliver(broker.url)
        try:
            assert transport.protocol_used == "3.1.1"
            assert endpoint.protocol_used == "3.1.1"
            delivery.send("action-3", "corr-amqtt", delivery.topics.command("pump-1", "x"), {})
            wait_until(lambda: outcomes, 10, "the device's answer")
        finally:
            delivery.stop()
            endpoint.stop()
    finally:
        broker.stop()
    assert outcomes == [("action-3", "done", None, "", 1)]


def test_protocol_5_is_refused_clearly_by_a_311_only_broker() -> None:
    broker = EmbeddedBroker(port=0, prefer="amqtt")
    broker.start()
    try:
        publisher = MqttPublisher(broker.url, protocol="5", connect_timeout=3)
        with pytest.raises(ConnectorError, match="does not speak MQTT 5"):
            publisher.start()
    finally:
        broker.stop()


def test_mqtt5_properties_encode_and_parse_back() -> None:
    block = wire.encode_properties({wire.RESPONSE_TOPIC: b"a/b", wire.CORRELATION_DATA: b"\x01"})
    packet = (
        b"\x32" + wire.varint(2 + 3 + 2 + len(block) + 2) + b"\x00\x03t/x\x00\x07" + block + b"hi"
    )
    out: list[wire.Publish | wire.Control] = []
    assert wire.parse(bytearray(packet), True, out) == len(packet)
    [message] = out
    assert isinstance(message, wire.Publish)
    assert (message.topic, message.payload, message.mid) == (b"t/x", b"hi", 7)
    assert wire.properties(message.props) == {0x08: b"a/b", 0x09: b"\x01"}


def test_a_truncated_property_block_is_a_protocol_error() -> None:
    with pytest.raises(wire.ProtocolError):
        wire.properties(b"\x08\x00\x09ab")
    with pytest.raises(wire.ProtocolError):
        wire.properties(b"\x7f\x00")
