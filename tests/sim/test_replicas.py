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


def with_bad_runs(rng: np.random.Generator, runs: int) -> Mapping[tuple[str, str], Any]:
    """Run 2's motors have an impossible efficiency; run 5's first motor a 1 J/K winding,
    which diverges on the 60 s step; the other runs are healthy."""
    efficiency = rng.uniform(0.85, 0.95, (runs, MACHINES))
    efficiency[2] = 2.0
    winding = np.full((runs, MACHINES), 6000.0)
    winding[5, 0] = 1.0
    return {("motors", "efficiency"): efficiency, ("motors", "winding_capacity"): winding}


def test_a_run_that_is_refused_or_diverges_fails_alone() -> None:
    common: dict[str, Any] = {
        "runs": 8,
        "duration": 3600.0,
        "step": 60.0,
        "observe": [("motors", "temperature")],
        "seed": 5,
    }
    result = monte_carlo(plant, with_bad_runs, chunks=1, **common)
    assert [run for run, _ in result.failures] == [2, 5]
    assert "parameter m0.efficiency = 2 is outside its bounds" in result.failures[0][1]
    assert "diverged" in result.failures[1][1] and "members (m0)" in result.failures[1][1]
    final = result.final[("motors", "temperature")]
    assert np.isnan(final[[2, 5]]).all() and np.isfinite(np.delete(final, [2, 5], 0)).all()
    # The healthy runs give what they give alone, with the same samples.
    efficiency = result.samples[("motors", "efficiency")]
    for run in (0, 7):
        alone = plant()
        alone.members["motors"].set_parameters_array("efficiency", efficiency[run])  # type: ignore[attr-defined]
        alone.run(3600.0, 60.0, record=[])
        expected = alone.members["motors"].output_arrays()["temperature"]  # type: ignore[attr-defined]
        np.testing.assert_allclose(final[run], expected, rtol=1e-12)
    summary = result.summary(("motors", "temperature"))
    assert np.isfinite(list(summary.values())).all()
    assert summary["max"] == pytest.approx(np.nanmax(final))


def test_a_sweep_where_every_run_fails_is_an_error() -> None:
    def impossible(rng: np.random.Generator, runs: int) -> Mapping[tuple[str, str], Any]:
        return {("motors", "efficiency"): np.full(runs, 2.0)}

    with pytest.raises(SimulationError, match=r"every one of the 3 runs failed; run 0: .*bounds"):
        monte_carlo(plant, impossible, runs=3, duration=60.0, step=60.0, observe=[], chunks=1)
