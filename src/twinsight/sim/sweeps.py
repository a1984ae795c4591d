"""Sweeps and Monte-Carlo runs: many what-if runs from one fork, summarised as distributions.

A :class:`Sweep` draws parameter values from distributions (uniform, normal, lognormal,
triangular, choice), seeded, either independently at random or as a Latin hypercube
(``scipy.stats.qmc``: every stratum of every parameter sampled once, so fewer runs cover
the space). Each sample is one run from the same :class:`~twinsight.sim.forks.Fork`; each
recorded output is reduced to one number per run (its final value by default) and the runs
are summarised per output: mean, standard deviation, 5th/50th/95th percentiles, and a
histogram (PNG).

**Executors.** Runs go through anything with a ``map(fn, iterable)`` method, so the same
sweep runs on every core of this machine (the default: a process pool with one worker per
core), in this process (:class:`SerialExecutor`), or on a cluster::

    # Dask: the distributed client offers a concurrent.futures executor
    from dask.distributed import Client
    result = run_sweep(fork, sweep, executor=Client("tcp://scheduler:8786").get_executor())

    # Ray: a multiprocessing-style pool over the cluster
    from ray.util.multiprocessing import Pool
    result = run_sweep(fork, sweep, executor=Pool())

The work unit sent to a worker (:class:`SweepTask`) is plain data plus the world's
module-level factory functions: the worker rebuilds the co-simulation from the fork without
the twin graph, so the worker needs Twinsight and the world's model code installed, nothing
else. Samples are drawn here, before any run, so the result does not depend on how the runs
were spread: the same seed gives the same summary serially, on 2 processes or on 200.

A run that fails (a sampled value outside a parameter's bounds, a model that diverges or
raises) is reported with its sampled values and the reason; the others complete.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field, replace
from typing import Any, Literal, Protocol

import numpy as np
from numpy.typing import NDArray

from twinsight.core.errors import BadRequest, SimulationError, TwinsightError
from twinsight.sim.cosim import ProgressCallback
from twinsight.sim.forks import Changes, Fork, check_run, run_fork

Statistic = Literal["final", "mean", "max", "min"]
Sampling = Literal["random", "lhs"]
STATISTICS: tuple[Statistic, ...] = ("final", "mean", "max", "min")
_EPS = 1e-12


# ------------------------------------------------------------------------ distributions


class Distribution(Protocol):
    """A parameter distribution: maps uniform numbers in (0, 1) to values (its inverse
    CDF), which serves both random and Latin-hypercube sampling."""

    def ppf(self, u: NDArray[np.float64]) -> NDArray[np.float64]: ...

    def to_dict(self) -> dict[str, Any]: ...


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise BadRequest(message, code="InvalidArgument")


def _finite(*values: float) -> bool:
    return all(isinstance(v, int | float) and math.isfinite(v) for v in values)


@dataclass(frozen=True, slots=True)
class Uniform:
    low: float
    high: float

    def __post_init__(self) -> None:
        _require(
            _finite(self.low, self.high) and self.low < self.high,
            f"uniform({self.low}, {self.high}): needs finite low < high",
        )

    def ppf(self, u: NDArray[np.float64]) -> NDArray[np.float64]:
        return self.low + u * (self.high - self.low)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "uniform", "low": self.low, "high": self.high}


@dataclass(frozen=True, slots=True)
class Normal:
    mean: float
    std: float

    def __post_init__(self) -> None:
        _require(
            _finite(self.mean, self.std) and self.std > 0,
            f"normal({self.mean}, {self.std}): needs a finite mean and std > 0",
        )

    def ppf(self, u: NDArray[np.float64]) -> NDArray[np.float64]:
        from scipy import stats

        return np.asarray(stats.norm.ppf(u, loc=self.mean, scale=self.std), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "normal", "mean": self.mean, "std": self.std}


@dataclass(frozen=True, slots=True)
class LogNormal:
    """``exp(N(mu, sigma))``: positive and right-skewed (a wear rate, a failure time);
    ``mu`` and ``sigma`` are of the logarithm, so the median is ``exp(mu)``."""

    mu: float
    sigma: float

    def __post_init__(self) -> None:
        _require(
            _finite(self.mu, self.sigma) and self.sigma > 0,
            f"lognormal({self.mu}, {self.sigma}): needs a finite mu and sigma > 0",
        )

    def ppf(self, u: NDArray[np.float64]) -> NDArray[np.float64]:
        from scipy import stats

        return np.asarray(
            stats.lognorm.ppf(u, s=self.sigma, scale=math.exp(self.mu)), dtype=np.float64
        )

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "lognormal", "mu": self.mu, "sigma": self.sigma}


@dataclass(frozen=True, slots=True)
class Triangular:
    low: float
    mode: float
    high: float

    def __post_init__(self) -> None:
        _require(
            _finite(self.low, self.mode, self.high)
            and self.low <= self.mode <= self.high
            and self.low < self.high,
            f"triangular({self.low}, {self.mode}, {self.high}): needs low <= mode <= high, "
            "low < high",
        )

    def ppf(self, u: NDArray[np.float64]) -> NDArray[np.float64]:
        from scipy import stats

        width = self.high - self.low
        shape = (self.mode - self.low) / width
        return np.asarray(stats.triang.ppf(u, shape, loc=self.low, scale=width), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        return {"kind": "triangular", "low": self.low, "mode": self.mode, "high": self.high}


@dataclass(frozen=True, slots=True)
class Choice:
    """One of ``values``, with ``weights`` (equal when omitted)."""

    values: tuple[float, ...]
    weights: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        _require(
            len(self.values) > 0 and _finite(*self.values),
            "choice(...) needs at least one finite value",
        )
        if self.weights is not None:
            _require(
                len(self.weights) == len(self.values)
                and _finite(*self.weights)
                and all(w >= 0 for w in self.weights)
                and sum(self.weights) > 0,
                "choice weights must be one non-negative number per value, not all zero",
            )

    def ppf(self, u: NDArray[np.float64]) -> NDArray[np.float64]:
        weights = np.asarray(self.weights or [1.0] * len(self.values), dtype=np.float64)
        edges = np.cumsum(weights) / weights.sum()
        index = np.minimum(np.searchsorted(edges, u, side="right"), len(self.values) - 1)
        return np.asarray(self.values, dtype=np.float64)[index]

    def to_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": "choice", "values": list(self.values)}
        if self.weights is not None:
            body["weights"] = list(self.weights)
        return body


_KINDS: dict[str, tuple[Callable[..., Distribution], tuple[str, ...]]] = {
    "uniform": (Uniform, ("low", "high")),
    "normal": (Normal, ("mean", "std")),
    "lognormal": (LogNormal, ("mu", "sigma")),
    "triangular": (Triangular, ("low", "mode", "high")),
}
_CALL = re.compile(r"^\s*([a-z]+)\s*\((.*)\)\s*$")


def parse_distribution(spec: str | Mapping[str, Any]) -> Distribution:
    """A distribution from text (``"uniform(10, 20)"``, ``"normal(15, 1.5)"``,
    ``"lognormal(0, 0.5)"``, ``"triangular(10, 12, 20)"``, ``"choice(10, 20, 40)"``) or
    from its JSON form (``{"kind": "uniform", "low": 10, "high": 20}``)."""
    if isinstance(spec, str):
        match = _CALL.match(spec)
        if match is None:
            raise BadRequest(
                f"bad distribution {spec!r}: write e.g. uniform(10, 20), normal(15, 1.5), "
                "lognormal(0, 0.5), triangular(10, 12, 20) or choice(10, 20, 40)",
                code="InvalidArgument",
            )
        kind, raw = match.groups()
        try:
            args = [float(a) for a in raw.split(",")] if raw.strip() else []
        except ValueError:
            raise BadRequest(
                f"bad distribution {spec!r}: the arguments must be numbers", code="InvalidArgument"
            ) from None
        if kind == "choice":
            return Choice(tuple(args))
        if kind not in _KINDS:
            raise BadRequest(_unknown_kind(kind), code="InvalidArgument")
        make, names = _KINDS[kind]
        if len(args) != len(names):
            raise BadRequest(
                f"bad distribution {spec!r}: {kind} takes {', '.join(names)}",
                code="InvalidArgument",
            )
        return make(*args)
    if not isinstance(spec, Mapping) or not isinstance(spec.get("kind"), str):
        raise BadRequest(
            'a distribution is text like "uniform(10, 20)" or an object with a "kind"',
            code="InvalidArgument",
        )
    kind = spec["kind"]
    given = {k: v for k, v in spec.items() if k != "kind"}
    if kind == "choice":
        weights = given.get("weights")
        return Choice(
            tuple(_numbers(given.get("values"), "choice values")),
            tuple(_numbers(weights, "choice weights")) if weights is not None else None,
        )
    if kind not in _KINDS:
        raise BadRequest(_unknown_kind(kind), code="InvalidArgument")
    make, names = _KINDS[kind]
    if set(given) != set(names):
        raise BadRequest(
            f"a {kind} distribution takes exactly {', '.join(names)} (got {', '.join(given)})",
            code="InvalidArgument",
        )
    return make(*(_numbers([given[n]], f"{kind} {n}")[0] for n in names))


def _numbers(raw: Any, what: str) -> list[float]:
    if not isinstance(raw, list | tuple) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in raw
    ):
        raise BadRequest(f"{what} must be a list of numbers", code="InvalidArgument")
    return [float(v) for v in raw]


def _unknown_kind(kind: str) -> str:
    return f"unknown distribution {kind!r} (known: {', '.join([*_KINDS, 'choice'])})"


# ------------------------------------------------------------------------------- sweep


@dataclass(frozen=True, slots=True)
class SweepParameter:
    """A parameter drawn per run: of one ``twin``, or of every twin a catalogue ``model``
    simulates (all get the same drawn value)."""

    parameter: str
    distribution: Distribution
    twin: str | None = None
    model: str | None = None

    def __post_init__(self) -> None:
        if (self.twin is None) == (self.model is None):
            raise BadRequest(
                f"sweep parameter {self.parameter!r} names either a twin or a model, "
                "not both and not neither",
                code="InvalidArgument",
            )

    @property
    def label(self) -> str:
        """``twin.parameter``, or ``model:MODEL.parameter`` for every twin of a model."""
        return (
            f"{self.twin}.{self.parameter}" if self.twin else f"model:{self.model}.{self.parameter}"
        )

    @classmethod
    def parse(cls, label: str, distribution: str | Mapping[str, Any]) -> SweepParameter:
        """From ``"twin.parameter"`` or ``"model:MODEL.parameter"`` and a distribution."""
        target, dot, parameter = label.rpartition(".")
        if not dot or not target or not parameter:
            raise BadRequest(
                f"bad sweep parameter {label!r}: write twin.parameter or model:MODEL.parameter",
                code="InvalidArgument",
            )
        dist = parse_distribution(distribution)
        if target.startswith("model:"):
            return cls(parameter, dist, model=target.removeprefix("model:"))
        return cls(parameter, dist, twin=target)


@dataclass(frozen=True, slots=True)
class Sweep:
    """``runs`` runs of ``horizon`` seconds from one fork, each with its own draw of
    ``parameters`` on top of the fixed ``changes``; ``record`` chooses outputs (``"twin.
    output"`` or an output name; all the fork records when empty), each reduced to one
    number per run by ``statistic``."""

    parameters: tuple[SweepParameter, ...]
    runs: int
    horizon: float
    step: float
    record: tuple[str, ...] = ()
    statistic: Statistic = "final"
    seed: int | None = 0
    sampling: Sampling = "random"
    changes: Changes = field(default_factory=Changes)

    def check(self) -> None:
        problems = check_run(self.horizon, self.step)
        if not isinstance(self.runs, int) or self.runs < 1:
            problems.append(f"a sweep needs at least one run, got {self.runs!r}")
        if not self.parameters:
            problems.append("a sweep needs at least one parameter to vary")
        labels = [p.label for p in self.parameters]
        twice = sorted({x for x in labels if labels.count(x) > 1})
        if twice:
            problems.append(f"parameters varied twice: {', '.join(twice)}")
        if self.statistic not in STATISTICS:
            problems.append(f"statistic must be one of {', '.join(STATISTICS)}")
        if self.sampling not in ("random", "lhs"):
            problems.append("sampling must be random or lhs")
        if problems:
            raise SimulationError(
                "the sweep cannot run: " + "; ".join(problems), code="InvalidSweep"
            )


def sample(
    parameters: Sequence[SweepParameter], runs: int, seed: int | None, sampling: Sampling
) -> NDArray[np.float64]:
    """``runs × len(parameters)`` drawn values, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    if sampling == "lhs":
        from scipy.stats import qmc

        u = qmc.LatinHypercube(d=len(parameters), seed=rng).random(runs)
    else:
        u = rng.random((runs, len(parameters)))
    u = np.clip(u, _EPS, 1.0 - _EPS)
    return np.column_stack([p.distribution.ppf(u[:, j]) for j, p in enumerate(parameters)])


# -------------------------------------------------------------------------- work units


@dataclass(frozen=True, slots=True)
class SweepTask:
    """One run, as sent to a worker: picklable (plain values and module-level factories)."""

    index: int
    fork: Fork
    changes: Changes
    horizon: float
    step: float
    statistic: Statistic
    sampled: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class SampleResult:
    """One run's outcome: its drawn values, one number per output, or why it failed."""

    index: int
    parameters: Mapping[str, float]
    values: Mapping[str, float]
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": self.index,
            "parameters": dict(self.parameters),
            "values": dict(self.values),
            "error": self.error,
        }


def run_task(task: SweepTask) -> SampleResult:
    """Run one sample (in a worker). Never raises for a model's failure: the failure is the
    result, so one bad sample cannot stop the others."""
    try:
        results = run_fork(task.fork, task.changes, horizon=task.horizon, step=task.step)
    except TwinsightError as error:
        return SampleResult(task.index, task.sampled, {}, error.message)
    except Exception as error:  # a user's model raising something unexpected
        return SampleResult(task.index, task.sampled, {}, f"{type(error).__name__}: {error}")
    reduce = _REDUCERS[task.statistic]
    return SampleResult(
        task.index, task.sampled, {k: float(reduce(v)) for k, v in results.series.items()}
    )


_REDUCERS: dict[str, Callable[[NDArray[np.float64]], Any]] = {
    "final": lambda v: v[-1],
    "mean": np.mean,
    "max": np.max,
    "min": np.min,
}


# ----------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class OutputSummary:
    """The distribution of one output over the runs that completed."""

    series: str
    count: int
    mean: float
    std: float
    p5: float
    p50: float
    p95: float
    min: float
    max: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "series": self.series,
            "count": self.count,
            "mean": self.mean,
            "std": self.std,
            "p5": self.p5,
            "p50": self.p50,
            "p95": self.p95,
            "min": self.min,
            "max": self.max,
        }


@dataclass(frozen=True, slots=True)
class SweepResult:
    sweep: Sweep
    samples: tuple[SampleResult, ...]
    summary: Mapping[str, OutputSummary]

    @property
    def failures(self) -> tuple[SampleResult, ...]:
        return tuple(s for s in self.samples if s.error is not None)

    def values(self, series: str) -> NDArray[np.float64]:
        """One output's value in every completed run, in run order."""
        return np.asarray(
            [s.values[series] for s in self.samples if s.error is None], dtype=np.float64
        )

    def to_dict(self, *, samples: bool = True) -> dict[str, Any]:
        body: dict[str, Any] = {
            "runs": len(self.samples),
            "completed": len(self.samples) - len(self.failures),
            "failed": len(self.failures),
            "statistic": self.sweep.statistic,
            "sampling": self.sweep.sampling,
            "seed": self.sweep.seed,
            "summary": [s.to_dict() for s in self.summary.values()],
            "failures": [f.to_dict() for f in self.failures],
        }
        if samples:
            body["samples"] = [s.to_dict() for s in self.samples]
        return body

    def histogram_png(self, series: Sequence[str] | None = None) -> bytes:
        """A PNG of each output's distribution over the runs (5/50/95 % marked)."""
        from twinsight.sim.plots import histogram_png

        chosen = list(series) if series else list(self.summary)
        unknown = [s for s in chosen if s not in self.summary]
        if unknown:
            raise BadRequest(
                f"the sweep recorded no {', '.join(unknown)} (recorded: {', '.join(self.summary)})",
                code="InvalidArgument",
            )
        return histogram_png(
            {k: self.values(k) for k in chosen},
            {k: self.summary[k].to_dict() for k in chosen},
            title=f"{len(self.samples)} runs, {self.sweep.statistic} value per run "
            f"({self.sweep.sampling} sampling, seed {self.sweep.seed})",
        )


def summarise(series: Sequence[str], samples: Sequence[SampleResult]) -> dict[str, OutputSummary]:
    out: dict[str, OutputSummary] = {}
    for key in series:
        values = np.asarray([s.values[key] for s in samples if s.error is None], dtype=np.float64)
        if not len(values):
            nan = math.nan
            out[key] = OutputSummary(key, 0, nan, nan, nan, nan, nan, nan, nan)
            continue
        p5, p50, p95 = (float(x) for x in np.percentile(values, [5, 50, 95]))
        out[key] = OutputSummary(
            key,
            len(values),
            float(np.mean(values)),
            float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
            p5,
            p50,
            p95,
            float(np.min(values)),
            float(np.max(values)),
        )
    return out


# ----------------------------------------------------------------------------- running


class Executor(Protocol):
    """Anything that maps a function over work units: ``concurrent.futures`` executors,
    Dask's ``client.get_executor()``, Ray's ``ray.util.multiprocessing.Pool``."""

    def map(
        self, fn: Callable[[SweepTask], SampleResult], iterable: Iterable[SweepTask], /
    ) -> Iterable[SampleResult]: ...


class SerialExecutor:
    """Runs every sample in this process, one after the other."""

    def map(
        self, fn: Callable[[SweepTask], SampleResult], iterable: Iterable[SweepTask], /
    ) -> Iterable[SampleResult]:
        return map(fn, iterable)


def default_workers() -> int:
    return max(1, os.cpu_count() or 1)


def process_pool(workers: int | None = None) -> ProcessPoolExecutor:
    """A pool of fresh worker processes (forkserver where available: forking a process
    that runs threads, as a server does, can deadlock)."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    return ProcessPoolExecutor(max_workers=workers or default_workers(), mp_context=context)


def run_sweep(
    fork: Fork,
    sweep: Sweep,
    *,
    executor: Executor | None = None,
    progress: ProgressCallback | None = None,
) -> SweepResult:
    """Draw the samples, run them through ``executor`` (a process pool with one worker per
    core when ``None``) and summarise each recorded output."""
    sweep.check()
    series = _series(fork, sweep.record)
    targets = _targets(fork, sweep.parameters)
    drawn = sample(sweep.parameters, sweep.runs, sweep.seed, sweep.sampling)
    narrowed = replace(fork, record=tuple(r for r in fork.record if r[0] in series))
    tasks = [
        SweepTask(
            index,
            narrowed,
            sweep.changes.merged(_changes(targets, sweep.parameters, row)),
            float(sweep.horizon),
            float(sweep.step),
            sweep.statistic,
            {p.label: float(v) for p, v in zip(sweep.parameters, row, strict=True)},
        )
        for index, row in enumerate(drawn)
    ]
    own = process_pool(min(default_workers(), len(tasks))) if executor is None else None
    pool: Executor = executor if executor is not None else own  # type: ignore[assignment]
    samples: list[SampleResult] = []
    try:
        for result in pool.map(run_task, tasks):
            samples.append(result)
            if progress is not None:
                progress(len(samples), len(tasks))
    except TwinsightError:
        raise
    except Exception as error:  # the executor itself broke (a worker killed, a lost cluster)
        raise SimulationError(
            f"the sweep's executor failed after {len(samples)} of {len(tasks)} runs: "
            f"{type(error).__name__}: {error}",
            code="SweepFailed",
        ) from error
    finally:
        if own is not None:
            own.shutdown()
    samples.sort(key=lambda s: s.index)
    return SweepResult(sweep, tuple(samples), summarise(series, samples))


def _series(fork: Fork, record: Sequence[str]) -> list[str]:
    every = list(fork.series)
    if not record:
        return every
    chosen = [key for key in every if key in record or key.rpartition(".")[2] in record]
    missing = [r for r in record if not any(k == r or k.rpartition(".")[2] == r for k in every)]
    if missing:
        raise SimulationError(
            f"the fork records no {', '.join(missing)} (it records: {', '.join(every)})",
            code="InvalidSweep",
        )
    return chosen


def _targets(fork: Fork, parameters: Sequence[SweepParameter]) -> list[list[str]]:
    """The twins each parameter applies to, after checking they exist and have it."""
    cosim = fork.build()
    problems: list[str] = []
    targets: list[list[str]] = []
    try:
        for p in parameters:
            if p.twin is not None:
                twins = [p.twin] if p.twin in fork.locations else []
                if not twins:
                    problems.append(
                        f"{p.label}: no twin {p.twin!r} in this fork "
                        f"(its twins: {', '.join(fork.twins)})"
                    )
            else:
                twins = [
                    t for t, (member, _) in fork.locations.items()
                    if fork.members[member].model == p.model
                ]  # fmt: skip
                if not twins:
                    models = sorted({m.model for m in fork.members.values()})
                    problems.append(
                        f"{p.label}: no twin of this fork is simulated by model {p.model!r} "
                        f"(its models: {', '.join(models)})"
                    )
            for twin in twins:
                member, prefix = fork.locations[twin]
                names = {v.name for v in cosim.members[member].description.parameters}
                if prefix + p.parameter not in names:
                    own = sorted(n[len(prefix) :] for n in names if n.startswith(prefix))
                    problems.append(
                        f"{p.label}: {twin!r} has no parameter {p.parameter!r} "
                        f"(its parameters: {', '.join(own) or 'none'})"
                    )
                    break
            targets.append(twins)
    finally:
        cosim.close()
    if problems:
        raise SimulationError("the sweep cannot run: " + "; ".join(problems), code="InvalidSweep")
    return targets


def _changes(
    targets: Sequence[Sequence[str]], parameters: Sequence[SweepParameter], row: Any
) -> Changes:
    values: dict[str, dict[str, float]] = {}
    for twins, p, value in zip(targets, parameters, row, strict=True):
        for twin in twins:
            values.setdefault(twin, {})[p.parameter] = float(value)
    return Changes(parameters=values)


SWEEP_FIELDS = frozenset(
    {"parameters", "runs", "horizon", "step", "record", "statistic", "seed", "sampling", "changes"}
)


def sweep_from_dict(raw: Mapping[str, Any], *, default_step: float) -> Sweep:
    """A sweep from its JSON form: ``{"parameters": {"twin.parameter" or
    "model:MODEL.parameter": distribution}, "runs", "horizon", "step"?, "record"?,
    "statistic"?, "seed"?, "sampling"?, "changes"?}``; a malformed field is a
    :class:`BadRequest` naming it."""
    unknown = sorted(set(raw) - SWEEP_FIELDS)
    if unknown:
        raise BadRequest(
            f"unknown sweep field(s) {', '.join(unknown)} "
            f"(known: {', '.join(sorted(SWEEP_FIELDS))})",
            code="InvalidArgument",
        )
    parameters = raw.get("parameters")
    if not isinstance(parameters, Mapping) or not parameters:
        raise BadRequest(
            'parameters must be an object like {"line-1-motor.ratedPower": "uniform(10, 20)"}',
            code="InvalidArgument",
        )
    runs = raw.get("runs")
    if isinstance(runs, bool) or not isinstance(runs, int):
        raise BadRequest(f"runs must be a whole number, got {runs!r}", code="InvalidArgument")
    record = raw.get("record", [])
    if not isinstance(record, list) or not all(isinstance(r, str) for r in record):
        raise BadRequest("record must be a list of output names", code="InvalidArgument")
    seed = raw.get("seed", 0)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise BadRequest(
            f"seed must be a whole number or null, got {seed!r}", code="InvalidArgument"
        )
    statistic = raw.get("statistic", "final")
    sampling = raw.get("sampling", "random")
    return Sweep(
        parameters=tuple(SweepParameter.parse(str(k), v) for k, v in parameters.items()),
        runs=runs,
        horizon=_field_number(raw.get("horizon"), "horizon"),
        step=_field_number(raw.get("step", default_step), "step"),
        record=tuple(record),
        statistic=statistic,
        seed=seed,
        sampling=sampling,
        changes=Changes.from_dict(raw.get("changes")),
    )


def _field_number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(
            f"{name} must be a number of seconds, got {value!r}", code="InvalidArgument"
        )
    return float(value)
