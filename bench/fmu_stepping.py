"""FMU stepping benchmark: what running an FMU through Twinsight costs over raw fmpy.

The FMU is the first-order lag of ``tests/sim/fmus/lag.c`` (FMI 2.0, Co-Simulation), whose
step is a few floating-point operations, so the figures are the overhead of the Python
around the FMU, not the FMU's own work. In one run and one process, the same FMU is stepped
N times, each step setting the input, stepping and reading both outputs:

* ``twinsight_us_per_step``: ``FmuModel.set_inputs``, ``advance``, ``outputs``;
* ``fmpy_us_per_step``: the plain fmpy loop a user would write on ``FMU2Slave``
  (``setReal``, ``doStep``, ``getReal``) — the goal is ``ratio`` = twinsight / fmpy <= 1.2;
* ``fmpy_cached_us_per_step``: fmpy's low-level ``fmi2SetReal``/``fmi2DoStep``/
  ``fmi2GetReal`` with buffers built once (the floor for any Python caller), and
  ``ratio_to_cached``.

Each figure is the median over repeats (runs alternate so drift hits both sides alike).

Usage (from the repo root): ``python bench/fmu_stepping.py [--quick]`` (quick: < 1 min).
The last line of stdout is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the test FMUs

import fmpy
from fmpy.fmi2 import FMU2Slave
from fmpy.model_description import read_model_description

from sim.fmus.build import lag_fmu
from twinsight.sim.fmu import FmuModel

DT = 0.01


def _inputs(n: int) -> list[float]:
    return [1.0 + 0.5 * ((i % 100) / 100.0) for i in range(n)]


def run_twinsight(path: Path, steps: int) -> float:
    """Microseconds per step through FmuModel."""
    model = FmuModel(path, kind="co-simulation")
    values = _inputs(steps)
    set_inputs, advance, outputs = model.set_inputs, model.advance, model.outputs
    start = time.perf_counter()
    for u in values:
        set_inputs({"u": u})
        advance(DT)
        outputs()
    elapsed = time.perf_counter() - start
    model.close()
    return elapsed / steps * 1e6


def _raw_fmu(path: Path) -> tuple[Any, str, dict[str, int]]:
    md = read_model_description(str(path))
    unzipped = fmpy.extract(str(path), unzipdir=tempfile.mkdtemp(prefix="bench-fmu-"))
    fmu = FMU2Slave(
        guid=md.guid,
        unzipDirectory=str(unzipped),
        modelIdentifier=md.coSimulation.modelIdentifier,
        instanceName="raw",
    )
    fmu.instantiate()
    fmu.setupExperiment(startTime=0.0)
    fmu.enterInitializationMode()
    fmu.exitInitializationMode()
    vrs = {v.name: v.valueReference for v in md.modelVariables}
    return fmu, str(unzipped), vrs


def _close_raw(fmu: Any, unzipped: str) -> None:
    fmu.terminate()
    fmu.freeInstance()
    shutil.rmtree(unzipped, ignore_errors=True)


def run_fmpy(path: Path, steps: int) -> float:
    """Microseconds per step with fmpy's FMU2Slave as a user would call it."""
    fmu, unzipped, vrs = _raw_fmu(path)
    inputs, outputs = [vrs["u"]], [vrs["y"], vrs["above"]]
    values = _inputs(steps)
    t = 0.0
    start = time.perf_counter()
    for u in values:
        fmu.setReal(inputs, [u])
        fmu.doStep(t, DT)
        fmu.getReal(outputs)
        t += DT
    elapsed = time.perf_counter() - start
    _close_raw(fmu, unzipped)
    return elapsed / steps * 1e6


def run_fmpy_cached(path: Path, steps: int) -> float:
    """Microseconds per step with fmpy's low-level calls and buffers built once."""
    fmu, unzipped, vrs = _raw_fmu(path)
    c = fmu.component
    in_vr = (ctypes.c_uint * 1)(vrs["u"])
    in_value = (ctypes.c_double * 1)()
    out_vr = (ctypes.c_uint * 2)(vrs["y"], vrs["above"])
    out_value = (ctypes.c_double * 2)()
    set_real, do_step, get_real = fmu.fmi2SetReal, fmu.fmi2DoStep, fmu.fmi2GetReal
    values = _inputs(steps)
    t = 0.0
    start = time.perf_counter()
    for u in values:
        in_value[0] = u
        set_real(c, in_vr, 1, in_value)
        do_step(c, t, DT, 1)
        get_real(c, out_vr, 2, out_value)
        list(out_value)
        t += DT
    elapsed = time.perf_counter() - start
    _close_raw(fmu, unzipped)
    return elapsed / steps * 1e6


def measure(quick: bool, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Every figure of this benchmark as a dict (``quick``: a run under a minute)."""
    say = progress or (lambda message: None)
    steps, repeats = (20_000, 5) if quick else (100_000, 9)
    path = lag_fmu(2)
    runners = {"twinsight": run_twinsight, "fmpy": run_fmpy, "fmpy_cached": run_fmpy_cached}
    for run in runners.values():  # warm up: load, first calls, caches
        run(path, 1_000)
    samples: dict[str, list[float]] = {name: [] for name in runners}
    for repeat in range(repeats):
        order = list(runners.items())
        if repeat % 2:
            order.reverse()
        for name, run in order:
            samples[name].append(run(path, steps))
        say(
            f"repeat {repeat + 1}/{repeats}: "
            + ", ".join(f"{name} {values[-1]:.2f} us/step" for name, values in samples.items())
        )
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return {
        "fmu": "lag (FMI 2.0 co-simulation, C)",
        "steps": steps,
        "repeats": repeats,
        "twinsight_us_per_step": round(medians["twinsight"], 3),
        "fmpy_us_per_step": round(medians["fmpy"], 3),
        "fmpy_cached_us_per_step": round(medians["fmpy_cached"], 3),
        "ratio": round(medians["twinsight"] / medians["fmpy"], 3),
        "ratio_to_cached": round(medians["twinsight"] / medians["fmpy_cached"], 3),
        "goal_ratio": 1.2,
        "goal_met": medians["twinsight"] / medians["fmpy"] <= 1.2,
        "python": platform.python_version(),
        "fmpy": fmpy.__version__,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a run under a minute")
    args = parser.parse_args()
    result = measure(args.quick, progress=lambda message: print(message, file=sys.stderr))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
