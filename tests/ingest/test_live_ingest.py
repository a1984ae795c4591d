"""What ``twinsight serve`` starts for live data (:mod:`twinsight.live_ingest`), end to end
through the real ingest pipeline: MQTT via the embedded broker or Mosquitto, and CoAP."""

from __future__ import annotations

import logging
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from brokers import free_port, mosquitto, needs_mosquitto, wait_until
from twinsight.core.clock import ManualClock
from twinsight.core.errors import ConnectorError, TwinsightError
from twinsight.hub import Hub
from twinsight.ingest.mapping import parse_mapping
from twinsight.live_ingest import IngestOptions, start_ingest
from twinsight.models.loader import load_paths
from twinsight.scenarios.factory import MODELS_DIR, world

MAPPING = parse_mapping(
    """
mappings:
  - name: motor
    topic: "plant/{twin}/motor"
    twin: "{twin}"
    format: json
    values:
      - {field: power, property: ratedPower}
""",
    "live-test.yaml",
)


@pytest.fixture
def hub(clock: ManualClock) -> Iterator[Hub]:
    with Hub(clock=clock, mapping=MAPPING) as h:
        docs, errors = load_paths([MODELS_DIR])
        assert errors == []
        h.models.add(docs)
        world.build(h.twins)
        yield h


def publish(port: int, topic: str, payload: bytes) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.publish(topic, payload, qos=1).wait_for_publish(10)
    client.disconnect()
    client.loop_stop()


def power(hub: Hub) -> object:
    return hub.twins.get_twin("line-1-motor").get("ratedPower")


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def test_embedded_broker_and_coap_feed_the_pipeline(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    broker_port = free_port()
    coap_port = free_port(socket.SOCK_DGRAM)
    options = IngestOptions(
        mqtt_topics=("plant/#",), embedded_broker_port=broker_port, coap_port=coap_port
    )
    with caplog.at_level(logging.INFO):
        parts = start_ingest(hub, options, http_port=8080)
    assert len(hub.connectors) == len(parts) == 3  # broker, its subscriber, CoAP
    assert f"embedded MQTT broker (amqtt) listening on mqtt://127.0.0.1:{broker_port}" in (
        caplog.text
    )
    assert f"CoAP endpoint listening on coap://127.0.0.1:{coap_port}" in caplog.text

    publish(broker_port, "plant/line-1-motor/motor", orjson.dumps({"power": 3.0}))
    wait_until(lambda: power(hub) == 3.0, what="MQTT value in the twin")

    coap_client = next(
        (shutil.which(n) for n in ("coap-client", "coap-client-notls") if shutil.which(n)), None
    )
    if coap_client:
        subprocess.run(
            [coap_client, "-m", "post", "-e", '{"power": 4.0}',
             f"coap://127.0.0.1:{coap_port}/plant/line-1-motor/motor"],
            check=True, capture_output=True, timeout=30,
        )  # fmt: skip
        assert power(hub) == 4.0

    hub.close()  # the hub owns them: all stopped, the broker's port is free again
    assert hub.connectors == []
    assert not accepts(broker_port)


@needs_mosquitto
def test_an_external_broker_with_a_shared_group(hub: Hub, tmp_path: Path) -> None:
    with mosquitto(tmp_path / "m") as broker:
        options = IngestOptions(
            mqtt_url=broker.url, mqtt_topics=("plant/#",), mqtt_shared_group="twinsight"
        )
        [connector] = start_ingest(hub, options, http_port=18080)
        assert connector.client_id.endswith("-18080")  # type: ignore[attr-defined]
        publish(broker.port, "plant/line-1-motor/motor", orjson.dumps({"power": 5.5}))
        wait_until(lambda: power(hub) == 5.5, what="value through Mosquitto")
        hub.close()


def test_a_busy_default_port_is_skipped_but_an_explicit_one_is_an_error(
    hub: Hub, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setattr("twinsight.live_ingest.DEFAULT_EMBEDDED_BROKER_PORT", port)
        with caplog.at_level(logging.WARNING):
            assert start_ingest(hub, IngestOptions(), http_port=1) == []
        assert "embedded MQTT broker not started" in caplog.text
        with pytest.raises(ConnectorError, match="already in use"):
            start_ingest(hub, IngestOptions(embedded_broker_port=port), http_port=1)
    assert start_ingest(hub, IngestOptions(embedded_broker_port=0), http_port=1) == []


def test_bad_settings_are_refused_before_anything_starts() -> None:
    for bad in (
        IngestOptions(mqtt_url="tcp://x"),
        IngestOptions(mqtt_url="mqtt://x", mqtt_shared_group="a/b"),
        IngestOptions(mqtt_url="mqtt://x", mqtt_topics=("",)),
    ):
        with pytest.raises(TwinsightError):
            bad.settings_check()
    IngestOptions(mqtt_url="mqtts://broker:8883", mqtt_shared_group="g").settings_check()


def test_serve_refuses_bad_mqtt_options_with_exit_2(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from twinsight.cli import app

    runner = CliRunner()
    d = ["--data-dir", str(tmp_path / "d")]
    bad_url = runner.invoke(app, ["serve", "--mqtt", "tcp://broker", *d])
    assert bad_url.exit_code == 2 and "mqtt://host:port" in bad_url.output
    bad_protocol = runner.invoke(app, ["serve", "--mqtt", "mqtt://b", "--mqtt-protocol", "4", *d])
    assert bad_protocol.exit_code == 2 and "--mqtt-protocol" in bad_protocol.output
    assert not (tmp_path / "d").exists()  # refused before anything was opened
