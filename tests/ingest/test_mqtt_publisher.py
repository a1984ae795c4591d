"""The MQTT publisher (what virtual devices publish through): bad addresses and unreachable
brokers are clear errors; a real Mosquitto receives what is published."""

from __future__ import annotations

from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from brokers import free_port, mosquitto, needs_mosquitto, wait_until
from twinsight.core.errors import ConnectorError
from twinsight.ingest.connectors.mqtt_publisher import MqttPublisher


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
