"""A broker restart mid-stream: the connector notices, backs off, reconnects, subscribes
again (the restarted Mosquitto has no persistence, so nothing of the old session is left)
and ingests what is published afterwards; the log says what happened."""

from __future__ import annotations

import logging
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from brokers import Mosquitto, mosquitto, needs_mosquitto, wait_until
from sinks import RecordingSink
from twinsight.core.clock import ManualClock
from twinsight.ingest.connectors.mqtt import MqttConnector, MqttSettings

pytestmark = needs_mosquitto


def send(port: int, topic: str, payloads: list[bytes]) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    for info in [client.publish(topic, p, qos=1) for p in payloads]:
        info.wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_restart_mid_stream_reconnects_and_ingests_what_follows(
    tmp_path: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture, protocol: str
) -> None:
    sink = RecordingSink()
    with mosquitto(tmp_path / "m") as broker:
        settings = MqttSettings(
            broker.url,
            topics=("s/#",),
            protocol=protocol,
            client_id=f"restart-{protocol}",
            reconnect_min=1,
            reconnect_max=2,
        )
        connector = MqttConnector(sink, settings, clock)
        with caplog.at_level(logging.INFO, logger="twinsight.ingest.mqtt"):
            connector.start()
            try:
                before = [f"before {i}".encode() for i in range(20)]
                send(broker.port, "s/1", before)
                wait_until(lambda: connector.stats().acked == 20, what="first part")

                broker.restart()
                wait_until(lambda: connector.stats().reconnects == 1, timeout=20, what="reconnect")
                wait_until(lambda: connector.stats().connected, what="connected")
                # Subscribed again? Publish until something arrives (SUBACK may still be
                # on its way), then the rest.
                after = [f"after {i}".encode() for i in range(20)]
                wait_until(
                    lambda: send(broker.port, "s/probe", [b"probe"]) or b"probe" in sink.payloads(),
                    what="subscription renewed",
                )
                send(broker.port, "s/2", after)
                wait_until(lambda: all(p in sink.payloads() for p in after), what="second part")
            finally:
                connector.stop()
    payloads = sink.payloads()
    assert payloads[:20] == before
    assert [p for p in payloads if p.startswith(b"after")] == after
    assert "lost connection to broker" in caplog.text
    assert "retrying in 1.0 s" in caplog.text
    assert "reconnected to broker" in caplog.text


def test_a_broker_that_is_down_at_start_is_waited_for(
    tmp_path: Path, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    """start() does not fail on an unreachable broker: it says so and keeps trying."""
    broker = Mosquitto(tmp_path / "m")  # configured, not running yet
    sink = RecordingSink()
    settings = MqttSettings(broker.url, topics=("late/#",), connect_timeout=0.5, reconnect_max=1)
    connector = MqttConnector(sink, settings, clock)
    with caplog.at_level(logging.WARNING, logger="twinsight.ingest.mqtt"):
        connector.start()
    try:
        assert not connector.stats().connected
        assert "cannot reach MQTT broker" in caplog.text
        assert "still trying in the background" in caplog.text
        broker.start()
        wait_until(lambda: connector.stats().connected, timeout=20, what="late connect")
        wait_until(
            lambda: send(broker.port, "late/x", [b"hello"]) or b"hello" in sink.payloads(),
            what="message after a late start",
        )
    finally:
        connector.stop()
        broker.stop()
