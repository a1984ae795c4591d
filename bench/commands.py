"""Commands to devices: how long from ``submit`` to the device's answer being recorded.

A Mosquitto on a free port, an in-memory hub with the factory world, one device endpoint
serving every motor (it answers ``done`` at once) and the platform's delivery. Measures:

* sequential round trips (submit → request over MQTT → device → response → ``done``
  recorded with its audit entry): median and p95 in milliseconds;
* a burst of commands submitted at once to every motor: commands done per second;
* desired values: submit → ``accepted`` → the device reports the value through normal
  ingest → ``done``: median in milliseconds.

All of it twice: with platform and device on MQTT 3.1.1 (correlation id in the body), and
on MQTT 5 (Response Topic and Correlation Data properties; figures prefixed ``mqtt5_``).

``python bench/commands.py`` (``--quick``: fewer rounds); figures as one JSON object on
the last line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from broker import Broker  # noqa: E402
from twinsight.control.actions import Action  # noqa: E402
from twinsight.control.delivery import DeliverySettings  # noqa: E402
from twinsight.core.events import ActionChanged  # noqa: E402
from twinsight.core.messages import RawMessage  # noqa: E402
from twinsight.hub import Hub  # noqa: E402
from twinsight.ingest.connectors.mqtt_commands import MqttDeviceEndpoint  # noqa: E402
from twinsight.ingest.mapping import load_mapping_file  # noqa: E402
from twinsight.models.loader import load_paths  # noqa: E402
from twinsight.scenarios.factory import MAPPING_FILE, MODELS_DIR, world  # noqa: E402

LINES = 10


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    args = parser.parse_args()
    sequential, bursts, desired_rounds = (40, 3, 20) if args.quick else (300, 10, 100)
    with tempfile.TemporaryDirectory() as folder:
        broker = Broker(Path(folder))
        try:
            figures = run(broker.url, sequential, bursts, desired_rounds, "3.1.1")
            mqtt5 = run(broker.url, sequential, bursts, desired_rounds, "5")
            figures.update(
                {f"mqtt5_{k}": v for k, v in mqtt5.items() if k.endswith(("_median", "_p95"))}
            )
        finally:
            broker.stop()
    figures["quick"] = args.quick
    print(json.dumps(figures))


def run(
    url: str, sequential: int, bursts: int, desired_rounds: int, protocol: str
) -> dict[str, Any]:
    with Hub(mapping=load_mapping_file(MAPPING_FILE)) as hub:
        documents, _ = load_paths([MODELS_DIR])
        hub.models.add(documents)
        world.build(hub.twins, lines=LINES)
        motors = [f"line-{n}-motor" for n in range(1, LINES + 1)]
        settled: dict[str, threading.Event] = {}
        lock = threading.Lock()

        def on_change(event: ActionChanged) -> None:
            if event.record.state in ("done", "failed", "timed_out"):
                with lock:
                    waiter = settled.setdefault(event.record.id, threading.Event())
                waiter.set()

        hub.bus.subscribe(on_change, ActionChanged)

        def device(name: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
            if kind == "desired":
                line = name.split("-")[1]
                report = {"ts": int(datetime.now(UTC).timestamp() * 1000), **body["desired"]}
                topic = f"factory/line-{line}/motor/telemetry"
                hub.ingest.submit(
                    [RawMessage("mqtt", topic, orjson.dumps(report), datetime.now(UTC))]
                )
                return {"status": "accepted"}
            return {"status": "done", "response": True}

        endpoint = MqttDeviceEndpoint(url, hub.clock, motors, device, protocol=protocol)
        endpoint.start()
        hub.start_command_delivery(
            url, settings=DeliverySettings(timeout=10, retries=0), protocol=protocol
        )

        def wait(action_id: str) -> str:
            with lock:
                waiter = settled.setdefault(action_id, threading.Event())
            if not waiter.wait(30):
                raise SystemExit(f"action {action_id} did not settle")
            return hub.actions.get(action_id).state

        latencies = []
        for i in range(sequential):
            start = time.perf_counter()
            record = hub.actions.submit(
                Action("command", motors[i % LINES], "start", None, "bench")
            )
            assert wait(record.id) == "done"
            latencies.append((time.perf_counter() - start) * 1000)

        rates = []
        for _ in range(bursts):
            start = time.perf_counter()
            ids = [
                hub.actions.submit(Action("command", motor, "stop", None, "bench")).id
                for _ in range(10)
                for motor in motors
            ]
            assert all(wait(i) == "done" for i in ids)
            rates.append(len(ids) / (time.perf_counter() - start))

        desired = []
        for i in range(desired_rounds):
            start = time.perf_counter()
            value = 1000.0 + i
            record = hub.actions.submit(
                Action("property", motors[i % LINES], "speedSetpoint", value, "bench")
            )
            assert wait(record.id) == "done"
            desired.append((time.perf_counter() - start) * 1000)
        endpoint.stop()
    latencies.sort()
    return {
        "command_round_trip_ms_median": round(statistics.median(latencies), 2),
        "command_round_trip_ms_p95": round(latencies[int(0.95 * (len(latencies) - 1))], 2),
        "burst_commands_per_s_median": round(statistics.median(rates), 1),
        "desired_reported_ms_median": round(statistics.median(desired), 2),
        "sequential": sequential,
        "burst_size": 10 * LINES,
        "bursts": bursts,
        "desired_rounds": desired_rounds,
    }


if __name__ == "__main__":
    main()
