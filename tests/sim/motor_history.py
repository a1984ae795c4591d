"""A factory motor's recorded history, made by its own model with known parameters.

The motor is built exactly as the world's spec builds it for one twin (so whatever inputs
the motor binding reads, it reads here too), given the true parameter values and a load,
started cold, and stepped; what its device would report (winding temperature and speed,
with the device's noise) is appended to the hub's history, with the load as the live
estimator would have published it. Calibration and estimation tests then check that they
find the truth again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np

from twinsight.core.ports import HistoryPoint
from twinsight.hub import Hub
from twinsight.sim.binding import GraphValues, SimulationBuilder
from twinsight.sim.model import SimulationModel
from twinsight.sim.twin_calibration import binding_for

TEMPERATURE_NOISE = 0.3
SPEED_NOISE = 2.0


def solo_model(hub: Hub, twin_id: str, values: Mapping[str, float]) -> SimulationModel:
    """The twin's model as the world builds it, with ``values`` for its parameters."""
    assert hub.simulation is not None
    binding = binding_for(hub.twins, hub.models, hub.simulation, twin_id)
    solo = replace(binding, twin=twin_id, dtdl_model=None, fleet=False)
    builder = SimulationBuilder(hub.twins, hub.simulation.catalog, GraphValues(hub.twins))
    model, _ = builder.build([solo], twins=[twin_id]).locate(twin_id)
    model.set_parameters(dict(values))
    return model


@dataclass
class Run:
    times: list[datetime]
    winding: np.ndarray
    housing: np.ndarray


def record_motor_run(
    hub: Hub,
    twin_id: str,
    start: datetime,
    *,
    true: Mapping[str, float],
    loads: Mapping[float, float],
    seconds: float = 7200.0,
    every: float = 10.0,
    seed: int = 1,
    publish_load: bool = True,
) -> Run:
    """Run the motor from cold with ``loads`` (seconds after start -> load fraction, held)
    and append its device's readings between ``start`` and ``start + seconds``."""
    model = solo_model(hub, twin_id, true)
    model.set_state({"winding_temperature": 25.0, "housing_temperature": 25.0})
    rng = np.random.default_rng(seed)
    points = [  # a cold machine at ambient before the run, and running
        HistoryPoint(
            twin_id, "windingTemperature", "telemetry", start - timedelta(seconds=1), 25.0
        ),
        HistoryPoint(twin_id, "state", "property", start - timedelta(seconds=1), "running"),
    ]
    times: list[datetime] = []
    winding: list[float] = []
    housing: list[float] = []
    changes = sorted(loads.items())
    for k in range(int(seconds / every)):
        t = k * every
        load = [value for at, value in changes if at <= t][-1]
        model.set_inputs({"load": load})
        out = model.outputs()
        when = start + timedelta(seconds=t)
        state = model.state()
        times.append(when)
        winding.append(state["winding_temperature"])
        housing.append(state["housing_temperature"])
        fields = {
            "windingTemperature": float(out["temperature"] + rng.normal(0, TEMPERATURE_NOISE)),
            "speed": float(out["speed"] + rng.normal(0, SPEED_NOISE)),
        }
        if publish_load:
            fields["load"] = load
        points += [
            HistoryPoint(twin_id, name, "telemetry", when, value) for name, value in fields.items()
        ]
        model.advance(every)
    hub.history.append(points)
    return Run(times, np.array(winding), np.array(housing))
