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
"""

from __future__ import annotations

import math
import os
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

    def summary(self, key: tuple[str, str], which: str = "final") -> dict[str, float]:
        """Mean, standard deviation and percentiles of one observed output over every run
        and machine."""
        values = (self.final if which == "final" else self.peak)[key].ravel()
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
    """Build the world, replicate it, draw this chunk's parameters, run, observe."""
    base = chunk.build()
    cosim = replicate(base, chunk.copies)
    rng = np.random.default_rng([chunk.seed, chunk.first])
    drawn = dict(chunk.sampler(rng, chunk.copies))
    for (member, parameter), values in drawn.items():
        fleet = cosim.members.get(member)
        if not isinstance(fleet, OdeFleet):
            raise SimulationError(f"a sample names {member!r}, which is not a fleet here")
        machines = len(fleet.members) // chunk.copies
        array = np.asarray(values, dtype=np.float64)
        if array.shape == (chunk.copies,):
            array = np.repeat(array, machines)
        elif array.shape == (chunk.copies, machines):
            array = array.ravel()
        else:
            raise SimulationError(
                f"samples for {member}.{parameter} have shape {array.shape}; expected "
                f"({chunk.copies},) or ({chunk.copies}, {machines})"
            )
        fleet.set_parameters_array(parameter, array)
    fleets: dict[str, OdeFleet] = {name: m for name, m in cosim.members.items()}  # type: ignore[misc]
    steps = max(1, round(chunk.duration / chunk.step))
    peak = {key: np.full(len(fleets[key[0]].members), -math.inf) for key in chunk.observe}
    for _ in range(steps):
        cosim.step(chunk.step)
        arrays = {name: fleets[name].output_arrays() for name in {k[0] for k in chunk.observe}}
        for key in chunk.observe:
            np.maximum(peak[key], arrays[key[0]][key[1]], out=peak[key])
    arrays = {name: fleets[name].output_arrays() for name in {k[0] for k in chunk.observe}}
    shape = {key: (chunk.copies, -1) for key in chunk.observe}
    return ReplicaResults(
        final={key: arrays[key[0]][key[1]].reshape(shape[key]) for key in chunk.observe},
        peak={key: peak[key].reshape(shape[key]) for key in chunk.observe},
        samples={k: np.asarray(v, dtype=np.float64) for k, v in drawn.items()},
        runs=chunk.copies,
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
    return ReplicaResults(
        final={k: np.concatenate([p.final[k] for p in parts]) for k in parts[0].final},
        peak={k: np.concatenate([p.peak[k] for p in parts]) for k in parts[0].peak},
        samples={k: np.concatenate([p.samples[k] for p in parts]) for k in parts[0].samples},
        runs=runs,
    )
