"""The model's prediction of each measurement before the update, and its standard
deviation: the other half of a residual, published only where the configuration asks."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from sim.thermal import thermal_model
from support import build_factory
from twinsight.core.clock import ManualClock
from twinsight.core.errors import SimulationError
from twinsight.core.events import TelemetryReceived
from twinsight.core.provenance import producer
from twinsight.hub import Hub
from twinsight.live_estimation import start_estimators
from twinsight.scenarios.factory.estimation import estimators
from twinsight.scenarios.factory.sim import simulation_spec
from twinsight.sim.estimation import (
    EstimatedState,
    EstimatorBinding,
    EstimatorConfig,
    Measurement,
    Method,
    StateEstimator,
)

NOISE = 0.5


def _config(method: Method, *, predicted: bool = True) -> EstimatorConfig:
    return EstimatorConfig(
        (
            EstimatedState("winding", q=1e-3, initial_std=5.0, publish_as="windingTemperature"),
            EstimatedState("housing", q=1e-3, initial_std=5.0),
        ),
        (
            Measurement(
                "housingTemperature", "housingTemperature", r=NOISE**2, publish_predicted=predicted
            ),
        ),
        method=method,
    )


@pytest.mark.parametrize("method", ["kf", "ekf", "ukf"])
def test_the_prediction_is_the_model_s_value_before_the_update(method: Method) -> None:
    model = thermal_model(winding=60.0, housing=40.0)
    estimator = StateEstimator(model, _config(method))
    model.set_inputs({"loss": 300.0})
    estimator.predict(10.0)
    before = model.outputs()["housingTemperature"]
    prior_std = estimator.estimates()["housing"].std
    result = estimator.update({"housingTemperature": before + 2.0})

    predicted = result.predicted["housingTemperature"]
    assert predicted.value == pytest.approx(before, abs=1e-6)
    # measured minus predicted spreads by the model's uncertainty and the sensor's
    assert predicted.std == pytest.approx(math.hypot(prior_std, NOISE), rel=1e-3)
    assert model.outputs()["housingTemperature"] > before  # the update moved the estimate
    sensors = estimator.virtual_sensors()
    assert sensors["housingTemperaturePredicted"] == predicted.value
    assert sensors["housingTemperaturePredictedStd"] == predicted.std
    assert estimator.predicted_measurements() == {"housingTemperature": predicted}


def test_a_refused_measurement_still_has_its_prediction() -> None:
    """The gate refuses what the model cannot explain — exactly what a residual is for."""
    estimator = StateEstimator(thermal_model(), _config("ukf"))
    result = estimator.update({"housingTemperature": 95.0})
    assert result.rejected == ("housingTemperature",)
    assert result.predicted["housingTemperature"].value == pytest.approx(20.0)
    assert estimator.virtual_sensors()["housingTemperaturePredicted"] == pytest.approx(20.0)


def test_predictions_are_published_only_when_asked_and_only_for_what_was_measured() -> None:
    quiet = StateEstimator(thermal_model(), _config("ukf", predicted=False))
    quiet.update({"housingTemperature": 20.5})
    assert set(quiet.virtual_sensors()) == {"windingTemperature", "windingTemperatureStd"}
    assert "housingTemperature" in quiet.predicted_measurements()  # known, not published

    loud = StateEstimator(thermal_model(), _config("ukf"))
    assert "housingTemperaturePredicted" not in loud.virtual_sensors()  # nothing measured yet
    loud.update({"housingTemperature": 20.5})
    assert "housingTemperaturePredicted" in loud.virtual_sensors()
    loud.update({"housingTemperature": None})  # a missing sample predicts nothing
    assert "housingTemperaturePredicted" not in loud.virtual_sensors()


def test_the_published_names_are_declared_checked_and_read_from_data() -> None:
    config = EstimatorConfig.from_dict(
        {
            "states": {"winding": {"q": 1e-3}, "housing": {"q": 1e-3, "publish_as": "h"}},
            "measurements": {
                "housingTemperature": {
                    "output": "housingTemperature",
                    "r": 0.25,
                    "publish_predicted": True,
                }
            },
        }
    )
    expected = ("h", "hStd", "housingTemperaturePredicted", "housingTemperaturePredictedStd")
    assert config.published == expected
    assert EstimatorBinding(config, twin="m1").published == expected
    with pytest.raises(SimulationError, match="published name named more than once"):
        EstimatorConfig(
            (EstimatedState("housing", q=1.0, publish_as="housingTemperaturePredicted"),),
            (Measurement("housingTemperature", "housingTemperature", 1.0, True),),
        )


def test_predictions_follow_a_healthy_run_within_their_std() -> None:
    """Over a noisy run of the true model, measured minus predicted, divided by the
    predicted std, is about standard normal: the yardstick is honest."""
    model = thermal_model(winding=60.0, housing=40.0)
    truth = thermal_model(winding=60.0, housing=40.0)
    estimator = StateEstimator(model, _config("kf"))
    rng = np.random.default_rng(5)
    z = []
    for k in range(2_000):
        loss = 500.0 if (k // 300) % 2 else 150.0
        for m in (model, truth):
            m.set_inputs({"loss": loss})
        truth.advance(1.0)
        estimator.predict(1.0)
        measured = truth.outputs()["housingTemperature"] + rng.normal(0.0, NOISE)
        estimator.update({"housingTemperature": measured})
        prior = estimator.predicted_measurements()["housingTemperature"]
        z.append((measured - prior.value) / prior.std)
    settled = np.array(z[100:])
    assert abs(float(settled.mean())) < 0.1
    assert 0.85 < float(settled.std()) < 1.15


def test_a_live_estimator_names_the_parameters_behind_what_it_publishes() -> None:
    """``<model>-estimator`` version 1 on the world's own parameters, ``n + 1`` once the
    twin's calibrated parameter version ``n`` is saved while it runs."""
    t0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    with Hub(clock=ManualClock(t0)) as hub:
        build_factory(hub)
        hub.simulation = replace(simulation_spec(), estimators=estimators())
        start_estimators(hub, hub.simulation, strict=True)
        seen: list[TelemetryReceived] = []
        hub.bus.subscribe(
            lambda e: seen.append(e) if "windingTemperaturePredicted" in e.payload else None,
            TelemetryReceived,
        )

        def sample(k: int) -> None:
            hub.twins.publish_telemetry(
                "line-1-motor",
                {"windingTemperature": 60.0, "speed": 1470.0},
                message_id=f"m{k}",
                source_time=t0 + timedelta(seconds=5 * k),
            )

        sample(0)
        hub.parameters.save("line-1-motor", "motor", {"housing_resistance": 0.04})
        sample(1)
        assert [producer(e.properties) for e in seen] == [
            ("motor-estimator", 1),
            ("motor-estimator", 2),
        ]
        assert hub.twins.value_target("line-1-motor", "telemetry", "windingTemperaturePredicted")
