"""The hybrid only a twin can do: an anomaly detector on the residual between a motor's
measured winding temperature and its physics model's prediction finds a cooling fault
that a detector on the raw temperature cannot tell from the load's swings.

The factory's live estimator runs as the server starts it; the plant is the motor's own
model, so the estimator's model is right — until the motor's cooling starts to fail
(the housing-to-air thermal resistance creeps up by 60 % over an hour, a clogged fan),
which the model does not know. The load changes every 20 minutes throughout.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from sim.motor_history import SPEED_NOISE, TEMPERATURE_NOISE, solo_model
from support import build_factory
from twinsight.analytics.detectors import (
    DEFAULT_DETECTOR,
    Detector,
    ResidualDetector,
    RobustZScoreDetector,
)
from twinsight.core.clock import ManualClock
from twinsight.core.events import TelemetryReceived
from twinsight.core.provenance import producer
from twinsight.hub import Hub
from twinsight.live_estimation import start_estimators
from twinsight.scenarios.factory.estimation import estimators
from twinsight.scenarios.factory.sim import simulation_spec

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
MOTOR = "line-1-motor"
EVERY = 5.0  # s, the factory devices' period
SETTLE = 20 * 60  # s the estimator is given to find the warm motor's state
FAULT = 90 * 60  # s: the cooling starts to fail
END = 180 * 60
LOADS = (0.9, 0.4, 0.7)  # each held 20 minutes, the same cycle before and after the fault
HOUSING_RESISTANCE = 0.035  # K/W, the motor model's own value


@dataclass
class Run:
    times: np.ndarray  # s since the start
    measured: np.ndarray
    predicted: np.ndarray
    predicted_std: np.ndarray
    producers: set[tuple[str, int] | None]


@pytest.fixture(scope="module")
def run() -> Iterator[Run]:
    with Hub(clock=ManualClock(T0)) as hub:
        build_factory(hub)
        hub.simulation = replace(simulation_spec(), estimators=estimators())
        start_estimators(hub, hub.simulation, strict=True)
        published: dict[datetime, TelemetryReceived] = {}
        hub.bus.subscribe(
            lambda e: (
                published.__setitem__(e.source_time, e)
                if e.twin_id == MOTOR and "windingTemperaturePredicted" in e.payload
                else None
            ),
            TelemetryReceived,
        )
        truth = solo_model(hub, MOTOR, {})
        truth.set_state({"winding_temperature": 70.0, "housing_temperature": 45.0})
        rng = np.random.default_rng(7)
        times, measured, predicted, std = [], [], [], []
        for k in range(int(END / EVERY)):
            t = k * EVERY
            failing = min(1.0, max(0.0, (t - FAULT) / 3600.0))
            truth.set_parameters({"housing_resistance": HOUSING_RESISTANCE * (1 + 0.6 * failing)})
            truth.set_inputs({"load": LOADS[int(t // 1200) % len(LOADS)]})
            out = truth.outputs()
            winding = round(out["temperature"] + rng.normal(0, TEMPERATURE_NOISE), 2)
            when = T0 + timedelta(seconds=t)
            hub.twins.publish_telemetry(
                MOTOR,
                {
                    "windingTemperature": winding,
                    "speed": round(out["speed"] + rng.normal(0, SPEED_NOISE), 1),
                },
                message_id=f"m{k}",
                source_time=when,
            )
            estimate = published[when].payload  # published at the sample's own time
            times.append(t)
            measured.append(winding)
            predicted.append(estimate["windingTemperaturePredicted"])
            std.append(estimate["windingTemperaturePredictedStd"])
            truth.advance(EVERY)
        yield Run(
            np.array(times),
            np.array(measured),
            np.array(predicted),
            np.array(std),
            {producer(e.properties) for e in published.values()},
        )


def _scores(detector: Detector, times: np.ndarray, values: np.ndarray) -> np.ndarray:
    start = T0.timestamp()
    return np.array(
        [detector.process_one(start + t, float(x)) for t, x in zip(times, values, strict=True)]
    )


def _first_alarm(run: Run, scores: np.ndarray) -> float | None:
    """Minutes from the fault's start to the first score above every score of the
    healthy hour (the threshold with no false alarm), or None if there is none."""
    healthy = (run.times >= SETTLE) & (run.times < FAULT)
    threshold = scores[healthy].max()
    above = np.nonzero((run.times >= FAULT) & (scores > threshold))[0]
    return float(run.times[above[0]] - FAULT) / 60 if above.size else None


def test_the_prediction_is_published_with_its_producer(run: Run) -> None:
    assert run.producers == {("motor-estimator", 1)}
    assert len(run.predicted) == len(run.times)
    healthy = (run.times >= SETTLE) & (run.times < FAULT)
    z = (run.measured - run.predicted) / run.predicted_std
    assert abs(float(z[healthy].mean())) < 0.15 and 0.8 < float(z[healthy].std()) < 1.2


def test_the_residual_detector_finds_the_fault_the_raw_temperature_hides(run: Run) -> None:
    settled = run.times >= SETTLE
    times = run.times[settled]
    residual = ((run.measured - run.predicted) / run.predicted_std)[settled]
    view = Run(times, run.measured[settled], run.predicted[settled], run.predicted_std[settled],
               run.producers)  # fmt: skip

    hybrid = _scores(ResidualDetector(scale=1.0), times, residual)
    healthy = times < FAULT
    assert hybrid[healthy].max() < 0.9999  # no alarm at 0.9999 while the model fits
    at_threshold = np.nonzero(~healthy & (hybrid > 0.9999))[0]
    assert at_threshold.size, "the residual detector never flagged the cooling fault"
    found_after = (times[at_threshold[0]] - FAULT) / 60
    assert found_after < 60, found_after
    assert float(np.mean(hybrid[times >= FAULT + 3600] > 0.9999)) > 0.9  # and it stays found

    # The raw temperature swings 30 K with the load: at any threshold that keeps the
    # healthy hour quiet, a plain detector flags the fault later than the residual
    # detector, or never.
    raw = view.measured
    for plain in (DEFAULT_DETECTOR(), RobustZScoreDetector()):
        scores = _scores(plain, times, raw)
        plain_after = _first_alarm(view, scores)
        assert plain_after is None or plain_after > found_after + 15, (plain.name, plain_after)
    assert np.ptp(raw[healthy]) > 20  # the load really moved the temperature


def test_a_residual_without_its_std_is_scaled_by_the_detector(run: Run) -> None:
    """The same, on measured minus predicted in kelvin: the detector learns the scale."""
    settled = run.times >= SETTLE
    times = run.times[settled]
    residual = (run.measured - run.predicted)[settled]
    scores = _scores(ResidualDetector(), times, residual)
    healthy = times < FAULT
    assert scores[healthy].max() < 0.9999
    found = np.nonzero(~healthy & (scores > 0.9999))[0]
    assert found.size and (times[found[0]] - FAULT) / 60 < 60
