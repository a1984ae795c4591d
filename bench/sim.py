"""Simulation benchmark: the factory run a day ahead, a Monte-Carlo sweep, FMU stepping.

In one run:

* ``factory_speedup``: a 100-machine factory (25 lines of motor, pump, tank and conveyor
  twins, all 100 simulated as four vectorised fleets coupled through the twin graph: the
  motors, pumps and tanks by their physics, the conveyors by their flow model,
  ``simulation_spec(conveyors="flow")``) simulated 24 hours ahead with a 60 s communication
  step; the figure is simulated time over wall time, median of repeats (goal ≥ 100,000×).
* ``physics_fleets_speedup``: the same plant without its conveyors (the 75 motors, pumps
  and tanks; the goal figure before the conveyors had a flow model), and
  ``per_twin_speedup`` those 75 with one model per twin (one hour, extrapolated).
* ``full_plant_speedup``: all 100 machines with the conveyors' discrete-event lines
  instead (``simulation_spec(conveyors=True)``, what ``twinsight demo`` runs), a few
  simulated hours: what the SimPy lines cost.
* ``monte_carlo_seconds``: 1,000 runs of the 100-machine factory (flow conveyors) a day
  ahead, each with its own motor efficiencies and lives, pump curves, tank valves and
  conveyor stations' rates and reliability, on every core (goal ≤ 60 s; runs are laid
  side by side as replicas, see ``twinsight.sim.replicas``), wall time including the
  worker processes' start.
* ``fmu``: stepping an FMU through ``FmuModel`` against raw fmpy on the same FMU (goal ratio
  ≤ 1.2), from ``bench/fmu_stepping.py``.

Usage (from the repository root): ``python bench/sim.py [--quick]`` (quick: 100 runs,
fewer repeats; under a minute). The last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from twinsight.core.clock import ManualClock
from twinsight.hub import Hub
from twinsight.models.loader import load_paths
from twinsight.scenarios.factory import world
from twinsight.scenarios.factory.sim import ConveyorChoice, simulation_spec
from twinsight.sim.binding import GraphValues, SimulationBuilder, TwinSimulation
from twinsight.sim.cosim import CoSimulation
from twinsight.sim.replicas import monte_carlo

BENCH = Path(__file__).resolve().parent
LINES = 25  # x 4 machines = 100
DAY = 86_400.0
MODELS = (
    Path(__file__).resolve().parents[1] / "src" / "twinsight" / "scenarios" / "factory" / "models"
)


def factory(fleet: bool = True, conveyors: ConveyorChoice = "flow") -> TwinSimulation:
    """The 100-machine factory's simulation, built from its twin graph (its 75 motors,
    pumps and tanks, and the 25 conveyors as ``conveyors`` says: flow models by default,
    ``True`` discrete-event lines, ``False`` none)."""
    hub = Hub(clock=ManualClock(datetime(2026, 1, 1, tzinfo=UTC)))
    docs, errors = load_paths([MODELS])
    assert errors == [], errors
    hub.models.add(docs)
    world.build(hub.twins, lines=LINES)
    spec = simulation_spec(fleet=fleet, conveyors=conveyors)
    builder = SimulationBuilder(
        hub.twins, spec.catalog, GraphValues(hub.twins, hub.history), fleets=spec.fleets
    )
    simulation = builder.build(spec.bindings, spec.couplings)
    hub.close()
    return simulation


def factory_cosim() -> CoSimulation:
    """For the Monte-Carlo workers (module level, so it pickles by reference)."""
    return factory().cosim


def sample(rng: np.random.Generator, runs: int) -> dict[tuple[str, str], Any]:
    """Per run and machine: how each physical part may differ from its datasheet."""
    machines = LINES
    return {
        ("fleet:motor", "efficiency"): rng.uniform(0.88, 0.94, (runs, machines)),
        ("fleet:motor", "rated_life"): rng.lognormal(np.log(40_000.0), 0.2, (runs, machines)),
        ("fleet:pump", "bep_flow"): rng.normal(100.0, 5.0, (runs, machines)),
        ("fleet:tank", "valve_coefficient"): rng.normal(60.0, 3.0, (runs, machines)),
        ("fleet:conveyor-flow", "m1.rate"): rng.normal(16.0, 0.8, (runs, machines)),
        ("fleet:conveyor-flow", "m2.rate"): rng.normal(14.0, 0.7, (runs, machines)),
        ("fleet:conveyor-flow", "m2.mtbf"): rng.lognormal(np.log(28_800.0), 0.3, (runs, machines)),
    }


def speedup(simulation: TwinSimulation, horizon: float) -> float:
    start = time.perf_counter()
    simulation.cosim.run(horizon, 60.0, record=[])
    return horizon / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute)")
    parser.add_argument("--runs", type=int, default=None, help="Monte-Carlo runs (1000)")
    args = parser.parse_args()
    repeats = 3 if args.quick else 5
    runs = args.runs or (100 if args.quick else 1000)
    if runs < 1:
        parser.error("--runs must be at least 1")

    print(f"factory: {LINES * 4} machines, 24 h ahead, {repeats} repeats", file=sys.stderr)
    # The whole plant and its 75 physics machines alone, repeat by repeat in turn, so a
    # change in the machine's load hits both alike and their ratio stays fair.
    speedups, physics = [], []
    for _ in range(repeats):
        speedups.append(speedup(factory(), DAY))
        physics.append(speedup(factory(conveyors=False), DAY))
    print(f"  speed-up {statistics.median(speedups):,.0f}x (flow conveyors)", file=sys.stderr)
    per_twin = speedup(factory(fleet=False, conveyors=False), 3600.0)
    print(f"  75 physics machines: {statistics.median(physics):,.0f}x", file=sys.stderr)
    full_hours = 2.0 if args.quick else 6.0
    full = [speedup(factory(conveyors=True), full_hours * 3600.0) for _ in range(repeats)]
    print(f"  with discrete-event conveyors: {statistics.median(full):,.0f}x", file=sys.stderr)

    print(f"Monte-Carlo: {runs} runs on {os.cpu_count()} cores", file=sys.stderr)
    start = time.perf_counter()
    results = monte_carlo(
        factory_cosim,
        sample,
        runs=runs,
        duration=DAY,
        step=60.0,
        observe=[
            ("fleet:motor", "temperature"),
            ("fleet:motor", "wear"),
            ("fleet:tank", "level"),
            ("fleet:conveyor-flow", "produced"),
        ],
        seed=7,
    )
    mc_seconds = time.perf_counter() - start
    print(f"  {mc_seconds:.1f} s", file=sys.stderr)

    print("FMU stepping: Twinsight vs raw fmpy", file=sys.stderr)
    # This file is named sim.py: take its folder off the path, or ``import sim`` (the tests'
    # package that builds the test FMUs, a namespace package) would find this script.
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
    loader = importlib.util.spec_from_file_location("fmu_stepping", BENCH / "fmu_stepping.py")
    assert loader is not None and loader.loader is not None
    fmu_stepping = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(fmu_stepping)
    fmu = fmu_stepping.measure(args.quick)

    figures = {
        "benchmark": "sim",
        "quick": args.quick,
        "machines": LINES * 4,
        "simulated_machines": LINES * 4,
        "conveyor_model": "flow",
        "factory_speedup": round(statistics.median(speedups)),
        "factory_speedup_runs": [round(s) for s in speedups],
        "physics_fleets_speedup": round(statistics.median(physics)),
        "physics_fleets_speedup_runs": [round(s) for s in physics],
        "flow_conveyors_cost": round(
            statistics.median(f / p for f, p in zip(speedups, physics, strict=True)), 3
        ),
        "per_twin_speedup": round(per_twin),
        "full_plant_speedup": round(statistics.median(full)),
        "full_plant_speedup_runs": [round(s) for s in full],
        "full_plant_hours": full_hours,
        "monte_carlo_runs": runs,
        "monte_carlo_seconds": round(mc_seconds, 2),
        "monte_carlo_failed_runs": len(results.failures),
        "monte_carlo_seconds_per_1000": round(mc_seconds * 1000 / runs, 2),
        "peak_winding_temperature_c": results.summary(("fleet:motor", "temperature"), "peak"),
        "final_tank_level_m": results.summary(("fleet:tank", "level")),
        "parts_produced_per_line_day": results.summary(("fleet:conveyor-flow", "produced")),
        "fmu": fmu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
