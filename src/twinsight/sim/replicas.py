"""Monte-Carlo runs as replicas: many runs of a fleet world in one vectorised simulation.

A sweep that runs a 100-machine plant a thousand times one run after another pays
Python's per-step overhead a thousand times. When every member of the co-simulation is a
fleet (:class:`~twinsight.sim.ode.OdeFleet`), the runs can instead be laid side by side:
run ``k`` of machine ``m`` becomes member ``"k/m"`` of a fleet ``copies`` times bigger, each
coupling's index arrays are tiled the same way, and one numpy operation then moves every
machine of every run. Each run draws its own parameter values; runs never interact, since
couplings only connect members of the same copy.

The copies are split into chunks that run in parallel through any executor with a
``map`` method (a process pool over all cores by default; Dask's
``client.get_executor()`` or Ray's ``ray.util.multiprocessing.Pool`` on a cluster).

A run whose sample the model refuses (a value outside a parameter's bounds) or that
diverges fails alone: the copies it shared a fleet with are run again without it (halving
the group until the failing runs stand alone, so a rare failure costs about twice its
chunk), its results are NaN, and :attr:`ReplicaResults.failures` names it with the error.
Only when every run fails is the sweep an error.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from twinsight.core.errors import SimulationError
from twinsight.sim.cosim import CoSimulation, FleetConnection
from twinsight.sim.ode import OdeFleet

Sampler = Callable[[np.random.Generator, int], Mapping[tuple[str, str], NDArray[np.float64]]]
"""``sampler(rng, copies)`` → values per (fleet member, parameter): an array of ``copies``
values (one per run, shared by the fleet's machines) or of shape ``(copies, machines)``."""


class MapExecutor(Protocol):
    """Anything that maps a function over items, in parallel or not."""

    def map(self, fn: Callable[[Any], Any], *iterables: Any) -> Any: ...


def replicate(cosim: CoSimulation, copies: int) -> CoSimulation:
    """``copies`` independent copies of ``cosim`` (whose members must all be fleets) as
    one co-simulation, starting where ``cosim`` is now."""
    members: dict[str, OdeFleet] = {}
    for name, member in cosim.members.items():
        if not isinstance(member, OdeFleet):
            raise SimulationError(
                f"only fleets can be replicated, and {name!r} is a {type(member).__name__} "
                "(bind its DTDL model with fleet=True)"
            )
        members[name] = member.replicated(copies)
    sizes = {name: len(m.members) // copies for name, m in members.items()}
    connections: list[FleetConnection] = []
    for c in cosim.connections:
        if not isinstance(c, FleetConnection):
            raise SimulationError(f"only fleet couplings can be replicated, not {c}")
        ns, nt = sizes[c.source], sizes[c.target]
        connections.append(
            FleetConnection(
                c.source,
                c.output,
                c.target,
                c.input,
                tuple(i + k * ns for k in range(copies) for i in c.source_index),
                tuple(i + k * nt for k in range(copies) for i in c.target_index),
                c.gain,
                c.offset,
            )
        )
    return CoSimulation(members, connections, algorithm=cosim.algorithm)


@dataclass(frozen=True, slots=True)
class Chunk:
    """One chunk of runs, as sent to a worker (picklable when ``build`` and ``sampler``
    are module-level functions)."""

    build: Callable[[], CoSimulation]
    sampler: Sampler
    first: int
    copies: int
    seed: int
    duration: float
    step: float
    observe: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class ReplicaResults:
    """Per observed ``(member, output)``: its final value and its maximum over the run,
    each an array of shape ``(runs, machines)``; and the sampled parameters per run."""

    final: Mapping[tuple[str, str], NDArray[np.float64]]
    peak: Mapping[tuple[str, str], NDArray[np.float64]]
    samples: Mapping[tuple[str, str], NDArray[np.float64]]
    runs: int
    failures: tuple[tuple[int, str], ...] = ()
    """``(run, error)`` for each run that failed (its results are NaN)."""

    def summary(self, key: tuple[str, str], which: str = "final") -> dict[str, float]:
        """Mean, standard deviation and percentiles of one observed output over every run
        that completed and every machine."""
        values = (self.final if which == "final" else self.peak)[key]
        if self.failures:
            failed = [run for run, _ in self.failures]
            values = np.delete(values, failed, axis=0)
        values = values.ravel()
        p5, p50, p95 = np.percentile(values, [5, 50, 95])
        return {
            "mean": float(values.mean()),
            "std": float(values.std()),
            "p5": float(p5),
            "p50": float(p50),
            "p95": float(p95),
            "min": float(values.min()),
            "max": float(values.max()),
        }


def run_chunk(chunk: Chunk) -> ReplicaResults:
    """Build the world, draw this chunk's parameters, run its copies side by side, observe;
    runs that fail are isolated (see the module docstring)."""
    base = chunk.build()
    rng = np.random.default_rng([chunk.seed, chunk.first])
    drawn = dict(chunk.sampler(rng, chunk.copies))
    per_run: dict[tuple[str, str], NDArray[np.float64]] = {}
    for (member, parameter), values in drawn.items():
        fleet = base.members.get(member)
        if not isinstance(fleet, OdeFleet):
            raise SimulationError(f"a sample names {member!r}, which is not a fleet here")
        machines = len(fleet.members)
        array = np.asarray(values, dtype=np.float64)
        if array.shape == (chunk.copies,):
            array = np.repeat(array[:, None], machines, axis=1)
        elif array.shape != (chunk.copies, machines):
            raise SimulationError(
                f"samples for {member}.{parameter} have shape {array.shape}; expected "
                f"({chunk.copies},) or ({chunk.copies}, {machines})"
            )
        per_run[(member, parameter)] = array
    machines_of = {key[0]: len(base.members[key[0]].members) for key in chunk.observe}  # type: ignore[attr-defined]
    final = {k: np.full((chunk.copies, machines_of[k[0]]), np.nan) for k in chunk.observe}
    peak = {k: np.full((chunk.copies, machines_of[k[0]]), np.nan) for k in chunk.observe}
    failures: list[tuple[int, str]] = []
    groups = [np.arange(chunk.copies)]
    while groups:
        runs = groups.pop()
        try:
            done = _run_copies(base, chunk, {k: v[runs] for k, v in per_run.items()}, len(runs))
        except SimulationError as error:
            if len(runs) == 1:  # alone, its machines are copy 0: name them as in the world
                message = re.sub(r"(?<![\w/])0/", "", str(error))
                failures.append((chunk.first + int(runs[0]), message))
            else:  # run each half again: the failing runs end up alone
                groups += [runs[len(runs) // 2 :], runs[: len(runs) // 2]]
            continue
        for key in chunk.observe:
            final[key][runs], peak[key][runs] = done[0][key], done[1][key]
    return ReplicaResults(
        final=final,
        peak=peak,
        samples={k: np.asarray(v, dtype=np.float64) for k, v in drawn.items()},
        runs=chunk.copies,
        failures=tuple(sorted(failures)),
    )


Observed = dict[tuple[str, str], NDArray[np.float64]]


def _run_copies(
    base: CoSimulation,
    chunk: Chunk,
    samples: Mapping[tuple[str, str], NDArray[np.float64]],
    copies: int,
) -> tuple[Observed, Observed]:
    """``copies`` copies of ``base`` with their samples (``(copies, machines)`` each), run
    for the chunk's duration: the observed outputs' final values and peaks, ``(copies,
    machines)`` each."""
    cosim = replicate(base, copies)
    fleets: dict[str, OdeFleet] = {name: m for name, m in cosim.members.items()}  # type: ignore[misc]
    for (member, parameter), values in samples.items():
        fleets[member].set_parameters_array(parameter, values.ravel())
    steps = max(1, round(chunk.duration / chunk.step))
    peak = {key: np.full(len(fleets[key[0]].members), -math.inf) for key in chunk.observe}
    for _ in range(steps):
        cosim.step(chunk.step)
        arrays = {name: fleets[name].output_arrays() for name in {k[0] for k in chunk.observe}}
        for key in chunk.observe:
            np.maximum(peak[key], arrays[key[0]][key[1]], out=peak[key])
    arrays = {name: fleets[name].output_arrays() for name in {k[0] for k in chunk.observe}}
    return (
        {key: arrays[key[0]][key[1]].reshape(copies, -1) for key in chunk.observe},
        {key: peak[key].reshape(copies, -1) for key in chunk.observe},
    )


def monte_carlo(
    build: Callable[[], CoSimulation],
    sampler: Sampler,
    *,
    runs: int,
    duration: float,
    step: float,
    observe: Sequence[tuple[str, str]],
    seed: int = 0,
    chunks: int | None = None,
    executor: MapExecutor | None = None,
) -> ReplicaResults:
    """``runs`` Monte-Carlo runs of the fleet world ``build()`` makes, in ``chunks``
    (one per core by default) through ``executor`` (a process pool by default)."""
    if runs < 1:
        raise SimulationError(f"a sweep needs at least one run, not {runs}")
    if not (duration > 0 and step > 0):
        raise SimulationError("duration and step must be positive")
    chunks = max(1, min(runs, chunks or os.cpu_count() or 1))
    sizes = [runs // chunks + (1 if i < runs % chunks else 0) for i in range(chunks)]
    starts = np.cumsum([0, *sizes[:-1]])
    work = [
        Chunk(build, sampler, int(first), size, seed, duration, step, tuple(observe))
        for first, size in zip(starts, sizes, strict=True)
    ]
    if executor is None and chunks > 1:
        with ProcessPoolExecutor(max_workers=chunks) as pool:
            parts = list(pool.map(run_chunk, work))
    elif executor is None:
        parts = [run_chunk(work[0])]
    else:
        parts = list(executor.map(run_chunk, work))
    failures = tuple(f for p in parts for f in p.failures)
    if len(failures) == runs:
        raise SimulationError(
            f"every one of the {runs} runs failed; run {failures[0][0]}: {failures[0][1]}"
        )
    return ReplicaResults(
        final={k: np.concatenate([p.final[k] for p in parts]) for k in parts[0].final},
        peak={k: np.concatenate([p.peak[k] for p in parts]) for k in parts[0].peak},
        samples={k: np.concatenate([p.samples[k] for p in parts]) for k in parts[0].samples},
        runs=runs,
        failures=failures,
    )
