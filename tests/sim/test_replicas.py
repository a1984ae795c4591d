"""Monte-Carlo replicas: copies of a fleet world side by side give exactly what separate
runs with the same parameters give, and the sweep splits runs over workers."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pytest

from twinsight.core.errors import SimulationError
from twinsight.sim.cosim import CoSimulation, FleetConnection
from twinsight.sim.functions import FunctionModel
from twinsight.sim.physics.motor import motor_system
from twinsight.sim.physics.pump import pump_system
from twinsight.sim.replicas import monte_carlo, replicate

MACHINES = 3


def plant() -> CoSimulation:
    """Three motors driving three pumps (speed one way, shaft power back as load)."""
    motors = motor_system().fleet([f"m{i}" for i in range(MACHINES)], solver="rk4", max_step=60)
    pumps = pump_system().fleet([f"p{i}" for i in range(MACHINES)], solver="rk4", max_step=5)
    index = tuple(range(MACHINES))
    return CoSimulation(
        {"motors": motors, "pumps": pumps},
        [
            FleetConnection("motors", "speed", "pumps", "speed", index, index),
            FleetConnection("pumps", "shaft_power", "motors", "load", index, index, gain=1 / 15),
        ],
    )


def efficiencies(rng: np.random.Generator, runs: int) -> Mapping[tuple[str, str], Any]:
    return {("motors", "efficiency"): rng.uniform(0.85, 0.95, (runs, MACHINES))}


def test_replicas_equal_separate_runs_with_the_same_parameters() -> None:
    values = np.array([[0.86, 0.90, 0.94], [0.92, 0.88, 0.85]])
    together = replicate(plant(), 2)
    together.members["motors"].set_parameters_array("efficiency", values.ravel())  # type: ignore[attr-defined]
    together.run(3 * 3600.0, 60.0, record=[])
    merged = together.members["motors"].output_arrays()["temperature"]  # type: ignore[attr-defined]
    for k in range(2):
        alone = plant()
        alone.members["motors"].set_parameters_array("efficiency", values[k])  # type: ignore[attr-defined]
        alone.run(3 * 3600.0, 60.0, record=[])
        expected = alone.members["motors"].output_arrays()["temperature"]  # type: ignore[attr-defined]
        np.testing.assert_allclose(merged[k * MACHINES : (k + 1) * MACHINES], expected, rtol=1e-12)
    # Different efficiencies gave different temperatures: the copies did not share anything.
    assert len({round(float(t), 6) for t in merged}) == 2 * MACHINES


def test_a_sweep_gives_the_same_result_however_it_is_split() -> None:
    common: dict[str, Any] = {
        "runs": 8,
        "duration": 3600.0,
        "step": 60.0,
        "observe": [("motors", "temperature")],
        "seed": 5,
    }
    one = monte_carlo(plant, efficiencies, chunks=1, **common)
    with ThreadPoolExecutor(2) as pool:
        two = monte_carlo(plant, efficiencies, chunks=2, executor=pool, **common)
    assert one.final[("motors", "temperature")].shape == (8, MACHINES)
    # The chunks draw from their own seeded streams, so the samples differ by split, but
    # each run's result follows from its own sample exactly: hotter for lower efficiency.
    for result in (one, two):
        eff = result.samples[("motors", "efficiency")].ravel()
        temp = result.final[("motors", "temperature")].ravel()
        assert np.all(np.diff(temp[np.argsort(eff)]) < 0)
        summary = result.summary(("motors", "temperature"), "peak")
        assert summary["p5"] <= summary["p50"] <= summary["p95"]


def test_only_fleets_can_be_replicated() -> None:
    single = FunctionModel.from_function("f", lambda t, u, v: {"y": 1.0}, outputs=("y",))
    with pytest.raises(SimulationError, match="only fleets can be replicated"):
        replicate(CoSimulation({"f": single}), 2)


def test_samples_of_the_wrong_shape_are_refused() -> None:
    def wrong(rng: np.random.Generator, runs: int) -> Mapping[tuple[str, str], Any]:
        return {("motors", "efficiency"): np.full((runs, MACHINES + 1), 0.9)}

    with pytest.raises(SimulationError, match="have shape"):
        monte_carlo(plant, wrong, runs=2, duration=60.0, step=60.0, observe=[], chunks=1)
