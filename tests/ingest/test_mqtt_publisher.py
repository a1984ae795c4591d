"""The MQTT publisher (what virtual devices publish through): bad addresses, unreachable
brokers and refused credentials are clear errors; a real Mosquitto receives what is
published, in order, also in batches, past a small in-flight window and across a broker
restart; a broker that stops acknowledging makes publishing fail instead of hang."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from brokers import MOSQUITTO_PASSWD, Mosquitto, free_port, mosquitto, needs_mosquitto, wait_until
from twinsight.core.errors import ConnectorError
from twinsight.ingest.connectors.mqtt_publisher import MqttPublisher, publish_packet


@pytest.mark.parametrize("url", ["http://127.0.0.1:1883", "mqtt://", "broker:1883"])
def test_a_bad_url_is_refused_with_the_url(url: str) -> None:
    with pytest.raises(ConnectorError, match="must look like mqtt://host:port"):
        MqttPublisher(url)


def test_an_unreachable_broker_is_a_clear_error() -> None:
    publisher = MqttPublisher(f"mqtt://127.0.0.1:{free_port()}", connect_timeout=2)
    with pytest.raises(ConnectorError, match="cannot reach MQTT broker"):
        publisher.start()


@needs_mosquitto
def test_published_messages_reach_a_subscriber(tmp_path: Path) -> None:
    with mosquitto(tmp_path / "broker") as broker:
        received: list[bytes] = []
        client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        subscribed: list[bool] = []
        client.on_message = lambda c, u, m: received.append(m.payload)
        client.on_subscribe = lambda *args: subscribed.append(True)
        client.connect("127.0.0.1", broker.port)
        client.subscribe("plant/#", qos=1)
        client.loop_start()
        publisher = MqttPublisher(broker.url)
        publisher.start()
        try:
            wait_until(lambda: bool(subscribed), what="the subscription to be acknowledged")
            for i in range(20):
                publisher.publish("plant/x", str(i).encode(), qos=1)
            wait_until(lambda: len(received) == 20, what="20 messages")
            assert received == [str(i).encode() for i in range(20)]
            assert publisher.published == 20
        finally:
            publisher.stop()
            client.loop_stop()
            client.disconnect()


@contextmanager
def subscriber(port: int, topic: str = "plant/#") -> Iterator[list[bytes]]:
    """A paho subscriber at QoS 1 (a client independent of the code under test)."""
    received: list[bytes] = []
    subscribed = threading.Event()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.on_message = lambda c, u, m: received.append(m.payload)
    client.on_subscribe = lambda *args: subscribed.set()
    client.connect("127.0.0.1", port)
    client.subscribe(topic, qos=1)
    client.loop_start()
    try:
        assert subscribed.wait(10), "the subscription was not acknowledged"
        yield received
    finally:
        client.loop_stop()
        client.disconnect()


def test_a_publish_packet_is_mqtt_3_1_1() -> None:
    # QoS 1: fixed header 0x32, remaining length, topic, packet id, payload.
    assert publish_packet(b"a/b", b"xy", 1, 7) == b"\x32\x09\x00\x03a/b\x00\x07xy"
    assert publish_packet(b"a", b"", 0, 0) == b"\x30\x03\x00\x01a"
    long = publish_packet(b"t", b"x" * 200, 1, 1)
    assert long[:3] == b"\x32\xcd\x01"  # 205 as a two-byte varint
    assert len(long) == 3 + 205


@pytest.mark.parametrize(
    ("topic", "qos", "message"),
    [
        ("plant/+/x", 1, "cannot publish to topic"),
        ("", 0, "cannot publish"),
        ("a", 2, "QoS 0 or 1"),
    ],
)
def test_a_bad_topic_or_qos_is_refused(topic: str, qos: int, message: str) -> None:
    publisher = MqttPublisher("mqtt://127.0.0.1:1")
    with pytest.raises(ConnectorError, match=message):
        publisher.publish(topic, b"x", qos=qos)


@needs_mosquitto
def test_batches_past_a_small_window_all_arrive_in_order(tmp_path: Path) -> None:
    with mosquitto(tmp_path / "broker") as broker, subscriber(broker.port) as received:
        publisher = MqttPublisher(broker.url, max_inflight=5)
        publisher.start()
        try:
            for batch in range(10):
                publisher.publish_many([("plant/x", f"{batch}-{i}".encode(), 1) for i in range(50)])
            publisher.publish_many([("plant/q0", b"qos0", 0)])
            assert publisher.flush(10)
            assert publisher.unacknowledged == 0
            assert publisher.published == 501
            wait_until(lambda: len(received) == 501, what="501 messages")
            # In order at QoS 1 (MQTT orders a topic's messages of one QoS; the QoS 0 one
            # may overtake those the broker still queues for the subscriber).
            qos1 = [m for m in received if m != b"qos0"]
            assert qos1 == [f"{b}-{i}".encode() for b in range(10) for i in range(50)]
        finally:
            publisher.stop()


@needs_mosquitto
def test_qos1_messages_published_while_the_broker_is_down_arrive_after_it_is_back(
    tmp_path: Path,
) -> None:
    broker = Mosquitto(tmp_path / "broker")
    broker.start()
    publisher = MqttPublisher(broker.url, connect_timeout=30)
    try:
        publisher.start()
        publisher.publish("plant/x", b"before", qos=1)
        assert publisher.flush(10)
        broker.stop()
        wait_until(lambda: not publisher.connected, what="the publisher to notice")
        publisher.publish_many([("plant/x", f"during-{i}".encode(), 1) for i in range(3)])
        assert publisher.unacknowledged == 3
        broker.start()
        with subscriber(broker.port) as received:
            # The subscriber is in before the publisher's back-off (1 s, then 2 s) ends.
            assert publisher.flush(20)
            wait_until(lambda: len(received) == 3, what="the 3 messages sent again")
            assert sorted(received) == [b"during-0", b"during-1", b"during-2"]
        assert publisher.reconnects == 1
    finally:
        publisher.stop()
        broker.stop()


@needs_mosquitto
def test_qos1_messages_published_before_the_start_go_out_at_the_start(tmp_path: Path) -> None:
    with mosquitto(tmp_path / "broker") as broker, subscriber(broker.port) as received:
        publisher = MqttPublisher(broker.url)
        publisher.publish_many([("plant/x", b"early-1", 1), ("plant/x", b"early-2", 1)])
        publisher.start()
        try:
            assert publisher.flush(10)
            wait_until(lambda: len(received) == 2, what="the 2 early messages")
            assert received == [b"early-1", b"early-2"]
        finally:
            publisher.stop()


@needs_mosquitto
@pytest.mark.skipif(MOSQUITTO_PASSWD is None, reason="mosquitto_passwd missing")
def test_refused_credentials_are_a_clear_error(tmp_path: Path) -> None:
    with mosquitto(tmp_path / "broker", users={"plant": "secret"}) as broker:
        wrong = MqttPublisher(broker.url, username="plant", password="wrong")
        with pytest.raises(ConnectorError, match="refused the publisher: "):
            wrong.start()
        right = MqttPublisher(broker.url, username="plant", password="secret")
        right.start()
        right.publish("plant/x", b"1", qos=1)
        assert right.flush(10)
        right.stop()


@contextmanager
def silent_broker() -> Iterator[int]:
    """Accepts one MQTT connection and its CONNACK, then never acknowledges a PUBLISH."""
    server = socket.create_server(("127.0.0.1", 0))
    connections: list[socket.socket] = []

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = server.accept()
            connections.append(conn)
            conn.recv(1024)  # CONNECT
            conn.sendall(b"\x20\x02\x00\x00")  # CONNACK, accepted
            while conn.recv(65536):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        server.close()
        for conn in connections:
            conn.close()
        thread.join(5)


def test_a_broker_that_stops_acknowledging_makes_publishing_fail_not_hang() -> None:
    with silent_broker() as port:
        publisher = MqttPublisher(f"mqtt://127.0.0.1:{port}", max_inflight=3, connect_timeout=1)
        publisher.start()
        try:
            publisher.publish_many([("plant/x", b"1", 1)] * 3)
            with pytest.raises(ConnectorError, match="acknowledged none of 3 messages"):
                publisher.publish("plant/x", b"4", qos=1)
            assert not publisher.flush(0.1)
        finally:
            publisher.stop()


@needs_mosquitto
def test_mqtt5_keeps_within_the_brokers_receive_maximum_and_delivers_everything(
    tmp_path: Path,
) -> None:
    """Mosquitto announces Receive Maximum 5 here (MQTT 5.0 §3.2.2.3.3: a client must not
    have more QoS 1 messages unacknowledged); Mosquitto itself tolerates more, so the window
    is asserted directly."""
    with mosquitto(tmp_path / "broker", max_inflight=5) as broker, subscriber(broker.port) as got:
        publisher = MqttPublisher(broker.url, protocol="5", max_inflight=1000)
        publisher.start()
        try:
            assert publisher.protocol_used == "5"
            assert publisher.window == 5
            publisher.publish_many(("plant/x", str(i).encode(), 1) for i in range(300))
            assert publisher.flush(10)
            wait_until(lambda: len(got) == 300, what="300 messages")
            assert got == [str(i).encode() for i in range(300)]
            assert publisher.reconnects == 0
        finally:
            publisher.stop()


def test_an_unknown_protocol_is_refused_with_the_choices() -> None:
    with pytest.raises(ConnectorError, match=r"one of 3\.1\.1, 5, auto, not '4'"):
        MqttPublisher("mqtt://127.0.0.1:1883", protocol="4")
