"""An input nobody measures, estimated as a random walk alongside the states, and the
configuration checks that come with it."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pytest

from twinsight.core.errors import SimulationError
from twinsight.sim.estimation import EstimatedState, EstimatorConfig, Measurement, StateEstimator
from twinsight.sim.functions import FunctionModel
from twinsight.sim.model import ModelDescription, Variable


def _step(
    t: float, dt: float, x: Mapping[str, float], u: Mapping[str, float], p: Mapping[str, float]
) -> dict[str, float]:
    # a tank whose level rises with an unknown inflow and drains through a valve
    level = x["level"]
    return {"level": level + dt * (u["inflow"] - p["k"] * level)}


def _outputs(t: float, u: Mapping[str, float], v: Mapping[str, float]) -> dict[str, float]:
    return {"level": v["level"]}


def tank() -> FunctionModel:
    description = ModelDescription(
        "tank",
        parameters=(Variable("k", 0.01, min=0.0, max=1.0),),
        states=(Variable("level", 1.0, min=0.0),),
        inputs=(Variable("inflow", 0.0, min=0.0, max=10.0), Variable("valve", 1.0)),
        outputs=(Variable("level"),),
    )
    return FunctionModel(description, _outputs, _step)


def test_an_unmeasured_input_is_estimated_from_what_it_moves() -> None:
    truth, model = tank(), tank()
    truth.set_inputs({"inflow": 0.05})
    estimator = StateEstimator(
        model,
        EstimatorConfig(
            (
                EstimatedState("level", q=1e-6, initial_std=0.5),
                EstimatedState("inflow", q=1e-6, initial_std=0.1, publish_as="inflow"),
            ),
            (Measurement("levelSensor", "level", r=1e-4),),
        ),
    )
    rng = np.random.default_rng(3)
    for _ in range(400):
        truth.advance(1.0)
        estimator.predict(1.0)
        estimator.update({"levelSensor": truth.outputs()["level"] + rng.normal(0, 0.01)})
    found = estimator.estimates()["inflow"]
    assert found.value == pytest.approx(0.05, abs=3 * found.std) and found.std < 0.01
    assert model.inputs()["inflow"] == pytest.approx(found.value)  # the model runs with it
    assert set(estimator.virtual_sensors()) == {"inflow", "inflowStd"}


def test_an_input_cannot_be_both_estimated_and_driven() -> None:
    config = EstimatorConfig(
        (EstimatedState("inflow", q=1e-6),),
        (Measurement("levelSensor", "level", r=1e-4),),
        inputs={"flowMeter": "inflow"},
    )
    with pytest.raises(SimulationError, match="'inflow' is both estimated and driven"):
        StateEstimator(tank(), config)
