"""A two-node thermal model of a motor, shared by the estimation and calibration tests.

The winding (small heat capacity) is heated by the copper losses and passes heat to the
housing (large heat capacity), which loses it to the ambient air. Only the housing
temperature is easy to measure; the winding temperature is what one wants to know.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from twinsight.sim.estimation import StateSpaceModel
from twinsight.sim.model import ModelDescription, Variable

TRUE = {"c_winding": 500.0, "r_winding": 0.05, "c_housing": 4000.0, "r_housing": 0.1}


def _matrices(p: Mapping[str, float]) -> tuple[list[list[float]], ...]:
    cw, rw, ch, rh = p["c_winding"], p["r_winding"], p["c_housing"], p["r_housing"]
    a = [[-1 / (rw * cw), 1 / (rw * cw)], [1 / (rw * ch), -(1 / rw + 1 / rh) / ch]]
    b = [[1 / cw, 0.0], [0.0, 1 / (rh * ch)]]
    c = [[1.0, 0.0], [0.0, 1.0]]
    d = [[0.0, 0.0], [0.0, 0.0]]
    return a, b, c, d


def thermal_model(
    parameters: Mapping[str, float] | None = None, winding: float = 20.0, housing: float = 20.0
) -> StateSpaceModel:
    values = {**TRUE, **(parameters or {})}
    description = ModelDescription(
        "motor-thermal",
        parameters=(
            Variable("c_winding", values["c_winding"], "J/K", min=10.0, max=1e5),
            Variable("r_winding", values["r_winding"], "K/W", min=1e-3, max=1.0),
            Variable("c_housing", values["c_housing"], "J/K", min=10.0, max=1e6),
            Variable("r_housing", values["r_housing"], "K/W", min=1e-3, max=1.0),
        ),
        states=(
            Variable("winding", winding, "degC", min=-50.0, max=400.0),
            Variable("housing", housing, "degC", min=-50.0, max=400.0),
        ),
        inputs=(Variable("loss", 0.0, "W", min=0.0), Variable("ambient", 20.0, "degC")),
        outputs=(Variable("windingTemperature", unit="degC"), Variable("housingTemperature")),
    )
    return StateSpaceModel(description, _matrices)


def loss_profile(seconds: int) -> np.ndarray:
    """Copper losses in W per second of a duty cycle: idle, full load, part load, full."""
    t = np.arange(seconds)
    return np.select([t < 60, t < 400, t < 700], [0.0, 500.0, 200.0], 450.0).astype(float)


def simulate(
    losses: np.ndarray, dt: float = 1.0, parameters: Mapping[str, float] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """True (winding, housing) temperatures at each sample, starting from 20 °C, with the
    loss of sample k held from sample k to k+1."""
    model = thermal_model(parameters)
    winding, housing = [], []
    for loss in losses:
        state = model.state()
        winding.append(state["winding"])
        housing.append(state["housing"])
        model.set_inputs({"loss": float(loss)})
        model.advance(dt)
    return np.array(winding), np.array(housing)
