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


def _start(tmp_path: Path, *extra: str) -> Iterator[tuple[str, int]]:
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
            *extra,
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


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """The demo without its simulated plant: only what the test publishes arrives."""
    yield from _start(tmp_path, "--no-simulate")


@pytest.fixture
def simulated_demo(tmp_path: Path) -> Iterator[tuple[str, int]]:
    yield from _start(tmp_path)


def test_published_values_reach_twins_history_and_dead_letters(demo: tuple[str, int]) -> None:
    url, broker = demo
    assert httpx.get(f"{url}/health").json()["twins"] == 1 + 3 * 5  # site, 3 lines of 4
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


def test_the_simulated_plant_publishes_through_the_broker_into_history(
    simulated_demo: tuple[str, int],
) -> None:
    url, _ = simulated_demo

    def readings(twin: str, name: str) -> list[float]:
        response = httpx.get(f"{url}/history/{twin}/{name}")
        return [p["value"] for p in response.json()["value"]] if response.status_code == 200 else []

    wait_until(
        lambda: len(readings("line-2-tank", "level")) >= 2,
        timeout=60,
        what="two simulated tank levels to arrive over MQTT",
    )
    assert all(0.0 < v < 5.5 for v in readings("line-2-tank", "level"))
    flows = readings("line-1-pump", "flow")
    assert flows and all(v > 0.0 for v in flows)  # the pumps are turning
    temperatures = readings("line-1-motor", "windingTemperature")
    assert temperatures and all(-20.0 < v < 200.0 for v in temperatures)
    assert httpx.get(f"{url}/deadletters").json()["value"] == []  # all mapped, all valid
