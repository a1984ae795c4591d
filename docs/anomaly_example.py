"""The example of docs/anomaly.md: a factory motor's cooling fails slowly while its load
changes every 20 minutes; an anomaly detector on the residual between the measured
winding temperature and the motor model's prediction finds it, a detector on the raw
temperature does not.

Run from the repository root: ``.venv/bin/python docs/anomaly_example.py``. It prints
what the document shows and writes docs/img/residual.png.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from twinsight.analytics.detectors import DEFAULT_DETECTOR, ResidualDetector
from twinsight.core.clock import ManualClock
from twinsight.core.events import TelemetryReceived
from twinsight.hub import Hub
from twinsight.live_estimation import start_estimators
from twinsight.models.loader import load_paths
from twinsight.scenarios.factory import MODELS_DIR, world
from twinsight.scenarios.factory.estimation import estimators
from twinsight.scenarios.factory.sim import simulation_spec
from twinsight.sim.binding import GraphValues, SimulationBuilder
from twinsight.sim.twin_calibration import binding_for

IMG = Path(__file__).parent / "img"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
MOTOR = "line-1-motor"
EVERY = 5.0  # s between device readings
SETTLE, FAULT, END = 20 * 60, 90 * 60, 180 * 60  # s
LOADS = (0.9, 0.4, 0.7)  # each held 20 minutes


def main() -> None:
    with Hub(clock=ManualClock(T0)) as hub:
        documents, errors = load_paths([MODELS_DIR])
        assert not errors, errors
        hub.models.add(documents)
        world.build(hub.twins)
        hub.simulation = replace(simulation_spec(), estimators=estimators())
        start_estimators(hub, hub.simulation, strict=True)
        published: dict[datetime, dict[str, float]] = {}
        hub.bus.subscribe(
            lambda e: (
                published.__setitem__(e.source_time, e.payload)
                if e.twin_id == MOTOR and "windingTemperaturePredicted" in e.payload
                else None
            ),
            TelemetryReceived,
        )

        # The plant: the motor's own model (so the estimator's model is right), warm,
        # until its housing-to-air resistance creeps up 60 % over an hour from FAULT.
        binding = binding_for(hub.twins, hub.models, hub.simulation, MOTOR)
        solo = replace(binding, twin=MOTOR, dtdl_model=None, fleet=False)
        builder = SimulationBuilder(hub.twins, hub.simulation.catalog, GraphValues(hub.twins))
        plant, _ = builder.build([solo], twins=[MOTOR]).locate(MOTOR)
        healthy_plant, _ = builder.build([solo], twins=[MOTOR]).locate(MOTOR)
        for model in (plant, healthy_plant):
            model.set_state({"winding_temperature": 70.0, "housing_temperature": 45.0})
        resistance = plant.parameters()["housing_resistance"]
        rng = np.random.default_rng(7)
        rows = []
        for k in range(int(END / EVERY)):
            t = k * EVERY
            failing = min(1.0, max(0.0, (t - FAULT) / 3600.0))
            plant.set_parameters({"housing_resistance": resistance * (1 + 0.6 * failing)})
            load = LOADS[int(t // 1200) % len(LOADS)]
            for model in (plant, healthy_plant):
                model.set_inputs({"load": load})
            out = plant.outputs()
            winding = round(out["temperature"] + rng.normal(0, 0.3), 2)
            when = T0 + timedelta(seconds=t)
            hub.twins.publish_telemetry(
                MOTOR,
                {"windingTemperature": winding, "speed": out["speed"] + rng.normal(0, 2.0)},
                message_id=f"m{k}",
                source_time=when,
            )
            sensors = published[when]
            rows.append(
                (
                    t,
                    winding,
                    sensors["windingTemperaturePredicted"],
                    sensors["windingTemperaturePredictedStd"],
                    out["temperature"] - healthy_plant.outputs()["temperature"],
                )
            )
            plant.advance(EVERY)
            healthy_plant.advance(EVERY)

    t, measured, predicted, std, excess = np.array(rows).T
    keep = t >= SETTLE
    t, measured, predicted, std, excess = (a[keep] for a in (t, measured, predicted, std, excess))
    z = (measured - predicted) / std
    start = T0.timestamp()
    residual_detector, raw_detector = ResidualDetector(scale=1.0), DEFAULT_DETECTOR()
    residual_scores = np.array(
        [residual_detector.process_one(start + a, b) for a, b in zip(t, z, strict=True)]
    )
    raw_scores = np.array(
        [raw_detector.process_one(start + a, b) for a, b in zip(t, measured, strict=True)]
    )

    healthy = t < FAULT
    quiet = raw_scores[healthy].max()
    above = np.nonzero(~healthy & (raw_scores > quiet))[0]
    found = f"{(t[above[0]] - FAULT) / 60:.0f} min after the fault began" if above.size else "never"
    print(
        f"{raw_detector.name} on the raw temperature: highest score while healthy "
        f"{quiet:.3f} (load changes); a fault score above it: {found}"
    )
    flagged = np.nonzero(~healthy & (residual_scores > 0.9999))[0]
    first = flagged[0]
    print(
        f"residual detector: highest score while healthy {residual_scores[healthy].max():.5f}; "
        f"above 0.9999 first {(t[first] - FAULT) / 60:.0f} min after the fault began, when "
        f"the winding ran {excess[first]:.1f} K hotter than a healthy motor's"
    )
    print(f"healthy residual z: mean {z[healthy].mean():.2f}, std {z[healthy].std():.2f}")

    minutes = t / 60
    figure = Figure(figsize=(9, 7.5), layout="constrained")
    top, middle, bottom = figure.subplots(3, 1, sharex=True)
    top.plot(minutes, measured, lw=0.6, label="measured winding temperature")
    top.plot(minutes, predicted, lw=0.6, label="model's prediction before the update")
    top.set_ylabel("°C")
    top.legend(loc="upper left", fontsize=8)
    middle.plot(minutes, z, lw=0.4, color="grey", label="residual / predicted std")
    window = int(600 / EVERY)
    mean = np.convolve(z, np.ones(window) / window, mode="full")[: len(z)]
    middle.plot(minutes[window:], mean[window:], lw=1.2, label="its 10-minute mean")
    middle.plot(minutes, excess, lw=1.2, color="crimson", label="fault's extra heat (K, truth)")
    middle.legend(loc="upper left", fontsize=8)
    for scores, label in (
        (residual_scores, "residual detector"),
        (raw_scores, f"{raw_detector.name} (the default) on the raw temperature"),
    ):
        bottom.plot(minutes, -np.log10(np.clip(1 - scores, 1e-16, 1)), lw=0.6, label=label)
    bottom.axhline(4, color="black", lw=0.6, ls="--")
    bottom.set_ylabel("-log10(1 - score)")
    bottom.set_xlabel("minutes")
    bottom.legend(loc="upper left", fontsize=8)
    for axis in (top, middle, bottom):
        axis.axvspan(FAULT / 60, END / 60, color="orange", alpha=0.08)
    figure.savefig(IMG / "residual.png", dpi=110)


if __name__ == "__main__":
    main()
