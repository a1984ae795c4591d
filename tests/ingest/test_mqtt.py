"""The MQTT connector against a real Mosquitto: protocols, QoS, credentials, TLS, shared
subscriptions, and the rule that QoS 1 messages are acknowledged only once stored."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from brokers import Mosquitto, mosquitto, needs_mosquitto, wait_until
from sinks import RecordingSink
from twinsight.core.clock import ManualClock
from twinsight.core.errors import ConnectorError, TwinsightError
from twinsight.ingest.connectors.mqtt import MqttConnector, MqttSettings

pytestmark = needs_mosquitto


def publisher(broker: Mosquitto, protocol: int = mqtt.MQTTv311, **tls: str) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=protocol)
    if tls:
        client.tls_set(ca_certs=tls["ca"])
        port = broker.tls_port
    else:
        port = broker.port
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def publish(client: mqtt.Client, topic: str, payloads: list[bytes], qos: int = 1) -> None:
    infos = [client.publish(topic, p, qos=qos) for p in payloads]
    for info in infos:
        info.wait_for_publish(10)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with mosquitto(tmp_path / "mosquitto") as b:
        yield b


@pytest.fixture
def running(clock: ManualClock) -> Iterator[list[MqttConnector]]:
    """Connectors started by a test, stopped afterwards even when it fails."""
    started: list[MqttConnector] = []
    yield started
    for c in started:
        c.stop()


def start(
    running: list[MqttConnector], sink: RecordingSink, settings: MqttSettings, clock: ManualClock
) -> MqttConnector:
    connector = MqttConnector(sink, settings, clock)
    connector.start()
    running.append(connector)
    return connector


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
@pytest.mark.parametrize("qos", [0, 1])
def test_messages_reach_the_sink_with_topic_payload_and_arrival_time(
    broker: Mosquitto, running: list[MqttConnector], clock: ManualClock, protocol: str, qos: int
) -> None:
    sink = RecordingSink()
    settings = MqttSettings(broker.url, topics=("plant/+/temp",), qos=qos, protocol=protocol)
    connector = start(running, sink, settings, clock)
    pub = publisher(broker)
    payloads = [json.dumps({"t": i}).encode() for i in range(50)]
    publish(pub, "plant/line1/temp", payloads, qos=qos)
    publish(pub, "plant/other", [b"not subscribed"], qos=qos)
    pub.disconnect()
    wait_until(lambda: len(sink.messages) == 50, what="50 messages")
    got = sink.messages
    assert [m.payload for m in got] == payloads  # one publisher: order is kept
    assert {m.address for m in got} == {"plant/line1/temp"}
    assert {m.source for m in got} == {"mqtt"}
    assert {m.received for m in got} == {clock.now()}
    wait_until(lambda: connector.stats().acked == (50 if qos == 1 else 0), what="acks")
    stats = connector.stats()
    assert stats.received == stats.submitted == 50
    assert stats.connected


def test_qos1_acks_flow_so_more_than_the_inflight_window_arrives(
    tmp_path: Path, running: list[MqttConnector], clock: ManualClock
) -> None:
    """The broker sends at most 5 unacknowledged messages here: 300 can only all arrive if
    the connector really sends PUBACKs after storing (manual_ack)."""
    with mosquitto(tmp_path / "m", max_inflight=5) as broker:
        sink = RecordingSink()
        settings = MqttSettings(broker.url, topics=("t",), qos=1, protocol="3.1.1", inflight=5)
        connector = start(running, sink, settings, clock)
        pub = publisher(broker)
        publish(pub, "t", [str(i).encode() for i in range(300)])
        wait_until(lambda: connector.stats().acked == 300, what="300 acks")
        assert len(sink.messages) == 300
        assert all(len(b) <= 5 for b in sink.batches)  # a batch closes at the window
        pub.disconnect()


def test_username_and_password(
    tmp_path: Path, running: list[MqttConnector], clock: ManualClock
) -> None:
    with mosquitto(tmp_path / "m", users={"ingest": "s3cret"}) as broker:
        sink = RecordingSink()
        good = MqttSettings(broker.url, topics=("a",), username="ingest", password="s3cret")
        start(running, sink, good, clock)
        pub = mqtt.Client(CallbackAPIVersion.VERSION2)
        pub.username_pw_set("ingest", "s3cret")
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        publish(pub, "a", [b"1"])
        wait_until(lambda: sink.payloads() == [b"1"], what="message")
        pub.disconnect()

        for protocol in ("3.1.1", "5"):
            bad = MqttSettings(
                broker.url, topics=("a",), username="ingest", password="wrong", protocol=protocol
            )
            with pytest.raises(ConnectorError, match="refused the connection") as info:
                MqttConnector(RecordingSink(), bad, clock).start()
            assert "password" in info.value.message
            assert "wrong" not in info.value.message  # never echo a secret

        anonymous = MqttSettings(broker.url, topics=("a",))
        with pytest.raises(ConnectorError, match=r"not authorized|bad user name"):
            MqttConnector(RecordingSink(), anonymous, clock).start()


def test_tls_with_the_brokers_ca_and_refused_with_another(
    tmp_path: Path, running: list[MqttConnector], clock: ManualClock
) -> None:
    from brokers import make_tls_files

    with mosquitto(tmp_path / "m", tls=True) as broker:
        assert broker.tls is not None
        sink = RecordingSink()
        settings = MqttSettings(broker.tls_url, topics=("secure/#",), ca_file=str(broker.tls.ca))
        connector = start(running, sink, settings, clock)
        pub = publisher(broker, ca=str(broker.tls.ca))
        publish(pub, "secure/x", [b"over tls"])
        wait_until(lambda: connector.stats().acked == 1, what="TLS message acked")
        assert sink.payloads() == [b"over tls"]
        pub.disconnect()

        stranger = make_tls_files(tmp_path / "other")
        wrong_ca = MqttSettings(broker.tls_url, topics=("#",), ca_file=str(stranger.ca))
        with pytest.raises(ConnectorError, match="TLS handshake"):
            MqttConnector(RecordingSink(), wrong_ca, clock).start()


def test_shared_subscription_splits_one_stream_between_two_workers(
    broker: Mosquitto, running: list[MqttConnector], clock: ManualClock
) -> None:
    sinks = [RecordingSink(), RecordingSink()]
    for sink in sinks:
        settings = MqttSettings(broker.url, topics=("fleet/#",), shared_group="ingest", qos=1)
        start(running, sink, settings, clock)
    pub = publisher(broker, protocol=mqtt.MQTTv5)
    payloads = [str(i).encode() for i in range(400)]
    publish(pub, "fleet/truck7", payloads)
    pub.disconnect()
    wait_until(lambda: sum(len(s.messages) for s in sinks) >= 400, what="400 messages")
    counts = [len(s.messages) for s in sinks]
    together = sorted(p for s in sinks for p in s.payloads())
    assert together == sorted(payloads)  # every message exactly once across both
    assert all(c > 0 for c in counts), counts  # and both got a share


def test_a_failing_sink_is_retried_and_the_message_acked_only_after_storing(
    broker: Mosquitto,
    running: list[MqttConnector],
    clock: ManualClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = RecordingSink(fail_first=1)
    settings = MqttSettings(broker.url, topics=("x",), qos=1, reconnect_min=1)
    connector = start(running, sink, settings, clock)
    pub = publisher(broker)
    with caplog.at_level(logging.WARNING, logger="twinsight.ingest.mqtt"):
        publish(pub, "x", [b"keep me"])
        wait_until(lambda: sink.attempts == 1, what="first attempt")
        assert connector.stats().acked == 0  # refused by the sink: not acknowledged
        wait_until(lambda: connector.stats().acked == 1, what="retry and ack")
    pub.disconnect()
    assert sink.payloads() == [b"keep me"]
    assert sink.attempts == 2
    stats = connector.stats()
    assert (stats.submitted, stats.acked, stats.submit_failures) == (1, 1, 1)
    assert "ingest sink failed" in caplog.text and "nothing acknowledged" in caplog.text


CRASHING_SUBSCRIBER = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime
    from twinsight.core.clock import ManualClock
    from twinsight.ingest.connectors.mqtt import MqttConnector, MqttSettings

    class NeverStores:
        def submit(self, messages):
            print("received", len(messages), flush=True)
            raise RuntimeError("storage down")

    settings = MqttSettings(sys.argv[1], topics=("crash/#",), qos=1, client_id="crashy",
                            protocol=sys.argv[2])
    MqttConnector(NeverStores(), settings, ManualClock(datetime(2026, 1, 1, tzinfo=UTC))).start()
    print("ready", flush=True)
    time.sleep(60)
    """
)


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_a_message_not_stored_before_a_crash_is_redelivered_then_acked_once(
    broker: Mosquitto,
    running: list[MqttConnector],
    clock: ManualClock,
    tmp_path: Path,
    protocol: str,
) -> None:
    """The at-least-once promise end to end: kill -9 a subscriber whose sink cannot store;
    the same client id started again gets the message from the broker; once stored and
    acknowledged, a third start gets nothing more."""
    script = tmp_path / "crashy.py"
    script.write_text(CRASHING_SUBSCRIBER)
    child = subprocess.Popen(
        [sys.executable, str(script), broker.url, protocol],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
        pub = publisher(broker)
        publish(pub, "crash/1", [b"precious"])
        assert child.stdout.readline().startswith("received 1")
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
        if child.stdout:
            child.stdout.close()

    settings = MqttSettings(
        broker.url, topics=("crash/#",), qos=1, client_id="crashy", protocol=protocol
    )
    sink = RecordingSink()
    connector = start(running, sink, settings, clock)
    wait_until(lambda: sink.payloads() == [b"precious"], what="redelivery")
    wait_until(lambda: connector.stats().acked == 1, what="ack")
    connector.stop()
    running.remove(connector)

    again = RecordingSink()
    start(running, again, settings, clock)
    publish(pub, "crash/1", [b"marker"])  # once the marker is in, anything redelivered is too
    wait_until(lambda: b"marker" in again.payloads(), what="marker")
    assert again.payloads() == [b"marker"]
    pub.disconnect()


def test_settings_are_checked() -> None:
    for bad in (
        {"url": "http://x"},
        {"url": "mqtt://x:99999"},
        {"topics": ()},
        {"qos": 2},
        {"protocol": "3.1"},
        {"shared_group": "a/b"},
        {"batch_size": 0},
        {"cert_file": "c.pem"},
    ):
        with pytest.raises(TwinsightError):
            MqttSettings(**bad)
    s = MqttSettings("mqtts://u:pw@example.com", username="u", password="pw")
    assert s.port == 8883 and "pw" not in s.safe_url
