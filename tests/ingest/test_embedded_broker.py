"""The embedded broker: a paho publisher's messages reach the MQTT connector through it,
with amqtt (the default) and with the Mosquitto fallback."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from brokers import MOSQUITTO, wait_until
from sinks import RecordingSink
from twinsight.core.clock import ManualClock
from twinsight.core.errors import ConnectorError
from twinsight.ingest.connectors.embedded_broker import EmbeddedBroker, Kind
from twinsight.ingest.connectors.mqtt import MqttConnector, MqttSettings


@pytest.fixture
def stop_later() -> Iterator[list[EmbeddedBroker | MqttConnector]]:
    things: list[EmbeddedBroker | MqttConnector] = []
    yield things
    for thing in reversed(things):
        thing.stop()


@pytest.mark.parametrize(
    "prefer",
    [
        "amqtt",
        pytest.param(
            "mosquitto", marks=pytest.mark.skipif(MOSQUITTO is None, reason="no mosquitto")
        ),
    ],
)
def test_round_trip_through_the_embedded_broker(
    prefer: Kind,
    clock: ManualClock,
    stop_later: list[EmbeddedBroker | MqttConnector],
    caplog: pytest.LogCaptureFixture,
) -> None:
    broker = EmbeddedBroker(port=0, prefer=prefer)
    with caplog.at_level(logging.INFO, logger="twinsight.ingest.embedded_broker"):
        broker.start()
    stop_later.append(broker)
    assert broker.kind == prefer
    assert f"embedded MQTT broker ({prefer}) listening on {broker.url}" in caplog.text

    sink = RecordingSink()
    settings = MqttSettings(broker.url, topics=("demo/#",), qos=1, protocol="3.1.1")
    connector = MqttConnector(sink, settings, clock)
    connector.start()
    stop_later.append(connector)

    pub = mqtt.Client(CallbackAPIVersion.VERSION2)
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    payloads = [f'{{"t": {i}}}'.encode() for i in range(100)]
    for info in [pub.publish("demo/room1", p, qos=1) for p in payloads]:
        info.wait_for_publish(10)
    pub.disconnect()
    pub.loop_stop()
    wait_until(lambda: connector.stats().acked == 100, what="100 acked messages")
    assert sink.payloads() == payloads
    assert {m.address for m in sink.messages} == {"demo/room1"}


def test_a_taken_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConnectorError, match=f"{port} is already in use"):
            EmbeddedBroker(port=port).start()


def test_stop_frees_the_port(stop_later: list[EmbeddedBroker | MqttConnector]) -> None:
    broker = EmbeddedBroker(port=0)
    broker.start()
    port = broker.port
    broker.stop()
    again = EmbeddedBroker(port=port)
    again.start()  # would fail with "already in use" if the first still listened
    stop_later.append(again)
    assert again.port == port and again.kind == "amqtt"


def _connect_packet(level: int) -> bytes:
    """An MQTT CONNECT asking for protocol ``level`` (5 carries an empty property list)."""
    body = b"\x00\x04MQTT" + bytes([level, 0x02, 0, 60]) + (b"\x00" if level == 5 else b"")
    body += b"\x00\x01x"  # client id "x"
    return bytes([0x10, len(body)]) + body


def test_a_clients_mqtt5_attempt_is_not_warned_about_other_refusals_are(
    stop_later: list[EmbeddedBroker | MqttConnector], caplog: pytest.LogCaptureFixture
) -> None:
    """The platform's MQTT clients try MQTT 5 first and fall back to 3.1.1 on amqtt, saying
    so themselves: amqtt's warnings about that attempt would greet every demo start twice
    per client. A client refused for any other reason is still warned about, naming it."""
    broker = EmbeddedBroker(port=0)
    broker.start()
    stop_later.append(broker)
    with caplog.at_level(logging.WARNING, logger="amqtt"):
        for level in (5, 7):
            with socket.create_connection(("127.0.0.1", broker.port), timeout=5) as client:
                client.sendall(_connect_packet(level))
                client.recv(16)  # CONNACK "unacceptable protocol version", then closed
        wait_until(
            lambda: any(r.getMessage().endswith(": 7") for r in caplog.records),
            timeout=10,
            what="amqtt's warning about the protocol level 7 client",
        )
    warned = [r.getMessage() for r in caplog.records if r.name.startswith("amqtt")]
    assert len(warned) == 1, warned
    assert warned[0].startswith("Failed to initialize client session: Invalid protocol from")
