"""``twinsight demo`` as a user runs it: the factory twin graph served, MQTT messages on its
embedded broker (or an external one) turning into live twin state, history and dead
letters, the simulated plant publishing, faster than real time when asked, and bad
options refused with a clear message."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from adt import free_port
from brokers import mosquitto, needs_mosquitto, wait_until
from twinsight.cli_demo import DEFAULT_BROKER_PORT, embedded_broker_port

TWINSIGHT = Path(sys.executable).parent / "twinsight"


@dataclass(frozen=True)
class Demo:
    url: str
    broker: int
    log: Path


def _start(tmp_path: Path, *extra: str, broker: int | None = None) -> Iterator[Demo]:
    port = free_port()
    broker_options = [] if broker == 0 else ["--broker-port", str(broker or free_port())]
    log = tmp_path / "demo.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                str(TWINSIGHT),
                "demo",
                "--port",
                str(port),
                *broker_options,
                "--data-dir",
                str(tmp_path / "demo"),
                *extra,
            ],
            stdout=sink,
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
        assert process.poll() is None, log.read_text()
        yield Demo(url, int(broker_options[1]) if broker_options else 0, log)
    finally:
        process.terminate()
        process.wait(20)


_running = contextmanager(_start)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Demo]:
    """The demo without its simulated plant: only what the test publishes arrives."""
    yield from _start(tmp_path, "--no-simulate")


@pytest.fixture
def simulated_demo(tmp_path: Path) -> Iterator[Demo]:
    """The demo as a first-time user starts it (three lines, real time)."""
    yield from _start(tmp_path)


def test_published_values_reach_twins_history_and_dead_letters(demo: Demo) -> None:
    url, broker = demo.url, demo.broker
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
    simulated_demo: Demo,
) -> None:
    url = simulated_demo.url

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
    wait_until(
        lambda: len(readings("line-3-conveyor", "speed")) >= 2,
        timeout=30,
        what="the third line's conveyor to report",
    )
    assert all(isinstance(v, int) for v in readings("line-3-conveyor", "partsProduced"))
    assert httpx.get(f"{url}/deadletters").json()["value"] == []  # all mapped, all valid
    log = simulated_demo.log.read_text()
    assert "factory: 3 line(s) of conveyor → motor → pump → tank (12 machines)" in log
    assert "simulated plant: 12 machines publishing to mqtt://127.0.0.1:" in log
    assert f"open {url}/" in log


def _history(
    url: str, twin: str, name: str, *, newest: int = 200, order: str = "desc"
) -> list[dict[str, Any]]:
    """The ``newest`` latest points of a series (the oldest with ``order="asc"``), in time
    order."""
    response = httpx.get(f"{url}/history/{twin}/{name}", params={"limit": newest, "order": order})
    points = list(response.json()["value"]) if response.status_code == 200 else []
    return points[::-1] if order == "desc" else points


def test_a_larger_faster_demo_follows_a_speed_setpoint(tmp_path: Path) -> None:
    """--lines 4 --speed 120: 21 twins, simulated time two minutes a wall second, and a
    motor's speed set-point written through the API drives the simulated motor."""
    with _running(tmp_path, "--lines", "4", "--speed", "120", "--seed", "3", "--no-faults") as demo:
        url = demo.url
        assert httpx.get(f"{url}/health").json()["twins"] == 1 + 4 * 5
        started = time.monotonic()
        wait_until(
            lambda: len(_history(url, "line-4-motor", "speed")) >= 30,
            timeout=60,
            what="line 4's motor to report",
        )
        first = _history(url, "line-4-motor", "speed", newest=1, order="asc")[0]
        last = _history(url, "line-4-motor", "speed", newest=1)[0]
        wall = time.monotonic() - started
        span = datetime.fromisoformat(last["time"]) - datetime.fromisoformat(first["time"])
        assert span.total_seconds() > 10 * wall  # far faster than real time
        assert "at 120× real time; no faults" in demo.log.read_text()
        patch = [{"op": "replace", "path": "/speedSetpoint", "value": 900.0}]
        assert httpx.patch(f"{url}/digitaltwins/line-2-motor", json=patch).status_code == 204

        def slowed() -> bool:
            recent = [p["value"] for p in _history(url, "line-2-motor", "speed")[-3:]]
            return bool(recent) and all(850.0 < v < 900.0 for v in recent)  # less the slip

        wait_until(slowed, timeout=30, what="line 2's motor to ramp down to 900 rpm")
        other = _history(url, "line-1-motor", "speed")[-1]["value"]
        assert other > 1400.0  # the other motors keep their set-point
        flows = {n: _history(url, f"line-{n}-pump", "flow")[-1]["value"] for n in (1, 2)}
        assert flows[2] < 0.8 * flows[1]  # and the pump it drives delivers less


@needs_mosquitto
def test_the_demo_runs_on_an_external_broker(tmp_path: Path) -> None:
    with (
        mosquitto(tmp_path / "broker") as broker,
        _running(tmp_path, "--broker", broker.url, broker=0) as demo,
    ):
        wait_until(
            lambda: len(_history(demo.url, "line-1-conveyor", "speed")) >= 2,
            timeout=60,
            what="the conveyor's readings through Mosquitto",
        )
        assert f"publishing to {broker.url}" in demo.log.read_text()
        assert "embedded MQTT broker" not in demo.log.read_text()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--speed", "0"], "--speed must be a positive number"),
        (["--speed", "-2"], "--speed must be a positive number"),
        (["--speed", "nan"], "--speed must be a positive number"),
        (["--lines", "0"], "--lines"),
        (["--broker", "http://localhost:1883"], "--broker must look like mqtt://host:port"),
        (["--broker", "mqtt://localhost:99999"], "has a bad port"),
        (["--broker", "mqtt://localhost:1883", "--broker-port", "1999"], "either --broker"),
    ],
)
def test_bad_demo_options_are_refused_before_anything_starts(
    tmp_path: Path, options: list[str], message: str
) -> None:
    result = subprocess.run(
        [str(TWINSIGHT), "demo", "--data", str(tmp_path / "demo"), *options],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in " ".join((result.stdout + result.stderr).split())
    assert not (tmp_path / "demo").exists()  # refused before the data folder was opened


def _port_free(port: int) -> bool:
    """Whether a server could listen on ``port`` again (as servers do, SO_REUSEADDR: the
    closed connections' TIME_WAIT does not count, a listener still open does)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def test_ctrl_c_stops_the_demo_cleanly_and_keeps_its_data(tmp_path: Path) -> None:
    """SIGINT, as Ctrl+C in a terminal sends it (the child gets the terminal's default
    handling even when the test runner ignores the signal): the demo stops within seconds
    with exit code 0, says so, frees its ports, and the same data folder opens again with the
    readings recorded before."""
    port, broker = free_port(), free_port()
    command = [str(TWINSIGHT), "demo", "--port", str(port), "--broker-port", str(broker)]
    command += ["--data-dir", str(tmp_path / "demo")]
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "demo.log"

    def terminal_default() -> None:
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    with log.open("wb") as sink:
        process = subprocess.Popen(  # resetting one signal in the child is safe
            command,
            stdout=sink,
            stderr=subprocess.STDOUT,
            preexec_fn=terminal_default,  # noqa: PLW1509
        )

    def readings_or_exit() -> bool:
        if process.poll() is not None:
            return True
        try:
            return len(_history(url, "line-1-tank", "level")) >= 2
        except httpx.HTTPError:  # not listening yet
            return False

    try:
        wait_until(
            readings_or_exit,
            timeout=90,
            what="the simulated plant's readings",
        )
        assert process.poll() is None, log.read_text()
        kept = _history(url, "line-1-tank", "level")
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    text = log.read_text()
    assert "Traceback" not in text
    assert "Shutting down" in text
    assert f"embedded MQTT broker (amqtt) on mqtt://127.0.0.1:{broker} stopped" in text
    assert _port_free(port) and _port_free(broker)
    # the same data folder (``_running`` uses tmp_path / "demo") opens again, readings kept
    with _running(tmp_path, "--no-simulate") as again:
        assert httpx.get(f"{again.url}/health").json()["twins"] == 1 + 3 * 5
        times = {p["time"] for p in _history(again.url, "line-1-tank", "level", newest=1000)}
        assert {p["time"] for p in kept} <= times


def test_a_taken_default_broker_port_gives_the_demo_a_free_one() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        default = taken.getsockname()[1]
        port, note = embedded_broker_port(default, default)
        assert port not in (default, 0) and _port_free(port)
        assert note is not None and f"port {default} is in use" in note
        assert f"mqtt://127.0.0.1:{port}" in note
        assert embedded_broker_port(1999, default) == (1999, None)  # asked for: as asked
    assert embedded_broker_port(default, default) == (default, None)  # free again


def test_with_port_1883_taken_the_plant_still_publishes_over_mqtt(tmp_path: Path) -> None:
    """The default embedded-broker port is often taken by a broker the machine runs (Debian's
    mosquitto service, installed by set-up): the demo's plant must still go through MQTT and
    the connectors, on a port of the demo's own, and say which."""
    holder = socket.socket()
    try:
        if _port_free(DEFAULT_BROKER_PORT):  # else something else holds it already
            holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            holder.bind(("127.0.0.1", DEFAULT_BROKER_PORT))
            holder.listen()
        with _running(tmp_path, broker=0) as demo:  # no --broker-port: the default
            wait_until(
                lambda: len(_history(demo.url, "line-1-tank", "level")) >= 1,
                timeout=60,
                what="a tank level through the demo's own broker",
            )
            log = demo.log.read_text()
        assert f"port {DEFAULT_BROKER_PORT} is in use" in log
        listening = re.search(r"embedded MQTT broker \(amqtt\) listening on (mqtt://\S+)", log)
        assert listening is not None and listening[1] != f"mqtt://127.0.0.1:{DEFAULT_BROKER_PORT}"
        assert f"simulated plant: 12 machines publishing to {listening[1]}" in log
    finally:
        holder.close()
