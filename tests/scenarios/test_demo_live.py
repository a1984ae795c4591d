"""``twinsight demo`` as a user runs it: the factory twin graph served, and MQTT messages on
its embedded broker turning into live twin state, history and dead letters."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from adt import free_port
from brokers import wait_until

TWINSIGHT = Path(sys.executable).parent / "twinsight"


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, int]]:
    port, broker = free_port(), free_port()
    process = subprocess.Popen(
        [
            str(TWINSIGHT),
            "demo",
            "--port",
            str(port),
            "--broker-port",
            str(broker),
            "--data-dir",
            str(tmp_path / "demo"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/health").status_code == 200
        except httpx.HTTPError:
            return process.poll() is not None  # stop waiting if it died

    try:
        wait_until(up, timeout=60, what="the demo to answer /health")
        assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
        yield url, broker
    finally:
        process.terminate()
        process.wait(20)


def test_published_values_reach_twins_history_and_dead_letters(demo: tuple[str, int]) -> None:
    url, broker = demo
    assert httpx.get(f"{url}/health").json()["twins"] == 11
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.connect("127.0.0.1", broker)
    client.loop_start()
    now_ms = int(time.time() * 1000)
    infos = [
        client.publish(
            "factory/line-1/motor/telemetry",
            orjson.dumps({"ts": now_ms, "temperature": 71.5, "wear": 0.3}),
            qos=1,
        ),
        client.publish(
            "factory/line-1/pump/telemetry", orjson.dumps({"ts": now_ms, "pressure": "high"}), qos=1
        ),
    ]
    for info in infos:
        info.wait_for_publish(10)
    client.loop_stop()
    client.disconnect()

    def wear_arrived() -> bool:
        twin = httpx.get(f"{url}/digitaltwins/line-1-motor").json()
        return bool(twin["bearing"].get("wear") == 0.3)

    wait_until(wear_arrived, timeout=20, what="the motor's bearing wear to arrive")
    history = httpx.get(f"{url}/history/line-1-motor/windingTemperature").json()
    assert [p["value"] for p in history["value"]] == [71.5]
    letters = httpx.get(f"{url}/deadletters").json()["value"]
    assert [x["address"] for x in letters] == ["factory/line-1/pump/telemetry"]
    assert "dischargePressure" in letters[0]["reason"]
