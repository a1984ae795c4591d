"""The factory's declared estimators, started as the server starts them: a motor's housing
temperature and load, which no sensor reports, appear on the twin as telemetry with their
standard deviation and follow the true values of a simulated run."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from sim.motor_history import SPEED_NOISE, TEMPERATURE_NOISE, solo_model
from support import build_factory
from twinsight.core.clock import ManualClock
from twinsight.core.errors import SimulationError
from twinsight.core.events import TelemetryReceived
from twinsight.hub import Hub
from twinsight.live_estimation import start_estimators
from twinsight.scenarios.factory.estimation import estimators
from twinsight.scenarios.factory.sim import simulation_spec
from twinsight.sim.estimation import EstimatedState, EstimatorBinding, EstimatorConfig, Measurement

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
MOTOR = "line-1-motor"
EVERY = 5.0  # s, the factory devices' period


@pytest.fixture
def hub() -> Iterator[Hub]:
    with Hub(clock=ManualClock(T0)) as hub:
        build_factory(hub)
        hub.simulation = replace(simulation_spec(), estimators=estimators())
        yield hub


def test_the_motor_s_hidden_housing_temperature_and_load_become_virtual_sensors(
    hub: Hub,
) -> None:
    assert hub.simulation is not None
    live = start_estimators(hub, hub.simulation)
    motors = sorted(e.twin_id for e in live)
    assert MOTOR in motors and all(m.endswith("-motor") for m in motors)
    published: list[TelemetryReceived] = []
    hub.bus.subscribe(
        lambda e: published.append(e) if "housingTemperature" in e.payload else None,
        TelemetryReceived,
    )

    # The truth: the same motor model, warm already (the estimator's model starts cold),
    # under a load that steps from 0.9 to 0.4 after 40 minutes.
    truth = solo_model(hub, MOTOR, {})
    truth.set_state({"winding_temperature": 70.0, "housing_temperature": 45.0})
    rng = np.random.default_rng(7)
    housing, load = [], []
    for k in range(int(80 * 60 / EVERY)):
        truth.set_inputs({"load": 0.9 if k * EVERY < 40 * 60 else 0.4})
        out = truth.outputs()
        housing.append(truth.state()["housing_temperature"])
        load.append(truth.inputs()["load"])
        hub.twins.publish_telemetry(
            MOTOR,
            {
                "windingTemperature": round(
                    out["temperature"] + rng.normal(0, TEMPERATURE_NOISE), 2
                ),
                "speed": round(out["speed"] + rng.normal(0, SPEED_NOISE), 1),
                "vibration": 0.1,
            },
            message_id=f"m{k}",
            source_time=T0 + timedelta(seconds=k * EVERY),
        )
        truth.advance(EVERY)

    estimator = next(e for e in live if e.twin_id == MOTOR)
    assert estimator.samples == len(housing) and estimator.failures == 0
    assert len(published) == len(housing)  # one estimate per sample, at its source time
    assert published[-1].source_time == T0 + timedelta(seconds=(len(housing) - 1) * EVERY)
    values = np.array([e.payload["housingTemperature"] for e in published])
    stds = np.array([e.payload["housingTemperatureStd"] for e in published])
    loads = np.array([e.payload["load"] for e in published])
    load_stds = np.array([e.payload["loadStd"] for e in published])
    # Started 20 K off and very unsure, the estimate settles on the truth and knows it.
    assert abs(values[0] - housing[0]) > 10 and stds[0] > 10
    settled = slice(len(values) // 4, None)
    error = values[settled] - np.array(housing)[settled]
    assert np.sqrt(np.mean(error**2)) < 1.5
    assert np.mean(np.abs(error) <= 3 * stds[settled]) > 0.95
    assert stds[-1] < stds[0] / 5
    # The load is found from the slip, and follows its step.
    load_error = loads[settled] - np.array(load)[settled]
    assert np.median(np.abs(load_error)) < 0.05
    assert np.mean(np.abs(load_error) <= 3 * load_stds[settled]) > 0.9
    # Other motors heard nothing, and published nothing.
    assert all(e.twin_id == MOTOR for e in published)

    hub.recorder.flush()
    recorded = hub.history.range(f"{MOTOR}/housingTemperatureStd", limit=10_000)
    assert len(recorded) == len(housing)


def test_an_estimator_that_does_not_fit_its_twin_s_model_is_refused_by_name(hub: Hub) -> None:
    bad = EstimatorConfig(
        (EstimatedState("bearing_temperature", q=1.0),),
        (Measurement("windingTemperature", output="temperature", r=0.1),),
    )
    spec = replace(simulation_spec(), estimators=(EstimatorBinding(bad, twin=MOTOR),))
    with pytest.raises(SimulationError, match="'bearing_temperature' is neither a state"):
        start_estimators(hub, spec, strict=True)
    assert start_estimators(hub, spec) == []  # live: logged and skipped, the server runs on
