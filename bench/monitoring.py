"""Live monitoring throughput: samples per second from the event bus through the monitors
to the alarms, on the factory's world and monitoring file.

What it does: builds the factory (``--lines`` lines, in memory), starts the factory's
monitoring file (``src/twinsight/scenarios/factory/monitoring.yaml``: robust z-scores on
vibration, flow and pressure, the residual detector on the winding temperature, the
tank's level limits) and publishes synthetic telemetry on the bus — each motor, pump and
tank one message per sample time with the names the monitors watch, noisy around the
plant's levels, and every ``--fault-every`` sample times one twin's value far off, so the
hysteresis raises and clears alarms (written to SQLite) as it would on a faulty plant.
Timed: only the publishing loop, twice — on the hub's bus (with its other subscribers: the
history recorder, live streams, data quality) and on a bus with nothing but the runner
(bus → runner → detectors → hysteresis → alarm store), the runner's own throughput.
Two ways in: one ``TelemetryReceived`` per message, and the same samples packed as one
``TelemetrySeries`` of ``--pack`` sample times per twin (a SenML pack).

Usage (from the repo root): ``python bench/monitoring.py [--quick]``; the last line of
stdout is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support import add_factory_models
from twinsight.analytics.monitoring import MonitoringRunner, load_monitoring_file
from twinsight.core.clock import ManualClock
from twinsight.core.events import EventBus, TelemetryReceived, TelemetrySeries
from twinsight.hub import Hub
from twinsight.scenarios import factory
from twinsight.scenarios.factory import world

T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)
NS = "dtmi:twinsight:factory"
LEVELS = {
    "motor": {
        "vibration": (0.1, 0.005),
        "windingTemperature": (75.0, 0.3),
        "windingTemperaturePredicted": (75.0, 0.0),
        "windingTemperaturePredictedStd": (0.35, 0.0),
    },
    "pump": {"flow": (100.0, 0.5), "dischargePressure": (314.0, 1.0)},
    "tank": {"level": (2.75, 0.005)},
}
MODELS = {"motor": f"{NS}:Motor;1", "pump": f"{NS}:Pump;1", "tank": f"{NS}:Tank;1"}


def _payloads(
    lines: int, times: int, fault_every: int, seed: int
) -> dict[str, tuple[str, dict[str, np.ndarray]]]:
    """Per twin: its model and one array per name over ``times`` sample times."""
    rng = np.random.default_rng(seed)
    out: dict[str, tuple[str, dict[str, np.ndarray]]] = {}
    for line in range(1, lines + 1):
        for kind, names in LEVELS.items():
            twin = f"line-{line}-{kind}"
            columns = {
                name: mean + std * np.clip(rng.standard_normal(times), -4, 4)
                for name, (mean, std) in names.items()
            }
            out[twin] = (MODELS[kind], columns)
    twins = sorted(out)
    for k, start in enumerate(range(fault_every, times, fault_every)):
        _, columns = out[twins[k % len(twins)]]
        name = next(iter(columns))
        columns[name][start : start + 60] *= 2.0  # 60 samples (5 min) far off
    return out


def _run(lines: int, times: int, pack: int, fault_every: int, seed: int) -> dict[str, float]:
    data = _payloads(lines, times, fault_every, seed)
    figures: dict[str, float] = {}
    spec = load_monitoring_file(factory.MONITORING_FILE)
    for mode in ("messages", "packs", "messages_runner_alone", "packs_runner_alone"):
        with Hub(clock=ManualClock(T0)) as hub:
            add_factory_models(hub)
            world.build(hub.twins, lines=lines)
            bus = hub.bus
            if mode.endswith("_runner_alone"):  # a bus with nothing but the runner on it
                bus = EventBus()
                MonitoringRunner(
                    spec, hub.alarms, bus, twin_document=hub.twins.index.twin,
                    lineage=hub.streams.lineage,
                )  # fmt: skip
            else:
                hub.start_monitoring(spec)
            step = int(5e6)
            start_us = int(T0.timestamp() * 1e6)
            samples = sum(len(cols) * times for _, cols in data.values())
            began = time.perf_counter()
            if mode.startswith("messages"):
                for i in range(times):
                    when = T0 + timedelta(seconds=5 * i)
                    for twin, (model, columns) in data.items():
                        payload = {name: float(col[i]) for name, col in columns.items()}
                        bus.publish(
                            TelemetryReceived(twin, model, None, f"m{i}", payload, when, when)
                        )
            else:
                for i in range(0, times, pack):
                    for twin, (model, columns) in data.items():
                        bus.publish(
                            TelemetrySeries(
                                twin,
                                model,
                                None,
                                f"p{i}",
                                T0,
                                [start_us + step * j for j in range(i, min(i + pack, times))],
                                {n: col[i : i + pack].tolist() for n, col in columns.items()},
                            )
                        )
            seconds = time.perf_counter() - began
            alarms = hub.alarms.list()
            figures[f"{mode}_samples_per_s"] = samples / seconds
            figures[f"{mode}_alarms"] = len(alarms)
            figures[f"{mode}_alarms_cleared"] = sum(not a.active for a in alarms)
    figures["samples"] = samples
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=10)
    parser.add_argument("--times", type=int, default=2000, help="sample times per twin")
    parser.add_argument("--pack", type=int, default=100, help="sample times per series")
    parser.add_argument("--fault-every", type=int, default=400)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="3 lines, 600 times, 1 run")
    args = parser.parse_args()
    if args.quick:
        args.lines, args.times, args.repeat = 3, 600, 1
    runs = [
        _run(args.lines, args.times, args.pack, args.fault_every, seed)
        for seed in range(args.repeat)
    ]
    for run in runs:
        print(
            f"messages {run['messages_samples_per_s']:,.0f} samples/s, "
            f"packs {run['packs_samples_per_s']:,.0f} samples/s; the runner alone "
            f"{run['messages_runner_alone_samples_per_s']:,.0f} / "
            f"{run['packs_runner_alone_samples_per_s']:,.0f} samples/s, "
            f"{run['messages_alarms']:.0f} alarms ({run['messages_alarms_cleared']:.0f} cleared)"
        )
    result = {
        "bench": "monitoring",
        "lines": args.lines,
        "twins_watched": args.lines * 3,
        "sample_times": args.times,
        "samples_per_run": runs[0]["samples"],
        "runs": args.repeat,
        "messages_samples_per_s_median": statistics.median(
            r["messages_samples_per_s"] for r in runs
        ),
        "packs_samples_per_s_median": statistics.median(r["packs_samples_per_s"] for r in runs),
        "messages_runner_alone_samples_per_s_median": statistics.median(
            r["messages_runner_alone_samples_per_s"] for r in runs
        ),
        "packs_runner_alone_samples_per_s_median": statistics.median(
            r["packs_runner_alone_samples_per_s"] for r in runs
        ),
        "alarms_per_run": [r["messages_alarms"] for r in runs],
        "alarms_per_run_packs": [r["packs_alarms"] for r in runs],
        "python": platform.python_version(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
