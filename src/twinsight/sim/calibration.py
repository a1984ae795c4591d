"""Calibrate a model's parameters from recorded data by least squares.

The recorded inputs are replayed through the model from a recorded initial state, and
``scipy.optimize.least_squares`` moves the chosen parameters — inside their declared
bounds (``Variable.min``/``max``) — until the simulated outputs match the recorded ones.
Each output's residuals are divided by that output's spread, so a temperature in K and a
current in A count alike.

The :class:`CalibrationReport` says how far to trust the result, not only the values:
standard errors and 95 % confidence intervals from the Jacobian at the optimum
(``cov = s² (JᵀJ)⁻¹``), the residual RMSE and R² of each output, how many iterations it
took and the optimizer's own convergence message. :meth:`CalibrationReport.summary` is
the JSON-able form that :class:`~twinsight.sim.parameters.ParameterVersions` keeps with a
saved version; :func:`plot` draws measured against fitted.

The data come as plain arrays (:class:`CalibrationData`);
:meth:`CalibrationData.from_history` builds them from a twin's recorded series, resampled
to a fixed step.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import least_squares
from scipy.stats import t as student_t

from twinsight.core.errors import BadRequest, SimulationError
from twinsight.history.service import MAX_LIMIT, History, parse_time
from twinsight.sim.model import SimulationModel

Array = NDArray[np.float64]


def _array(values: ArrayLike, what: str) -> Array:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as error:
        raise SimulationError(f"{what} must be numbers: {error}") from None
    if array.ndim != 1:
        raise SimulationError(f"{what} must be one-dimensional, got shape {array.shape}")
    return array


@dataclass(frozen=True)
class CalibrationData:
    """Recorded data to fit: sample ``times`` in seconds (increasing), the model
    ``inputs`` at each sample (held until the next), the measured model ``outputs`` at each
    sample (NaN where nothing was measured) and the ``initial_state`` at the first sample.
    """

    times: Array
    inputs: Mapping[str, Array] = field(default_factory=dict)
    outputs: Mapping[str, Array] = field(default_factory=dict)
    initial_state: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        times = _array(self.times, "times")
        object.__setattr__(self, "times", times)
        if times.size and (not np.all(np.isfinite(times)) or np.any(np.diff(times) <= 0)):
            raise SimulationError("calibration times must be finite and strictly increasing")
        for kind in ("inputs", "outputs"):
            series = {k: _array(v, f"{kind[:-1]} {k!r}") for k, v in getattr(self, kind).items()}
            wrong = sorted(k for k, v in series.items() if v.size != times.size)
            if wrong:
                raise SimulationError(
                    f"{kind} {', '.join(wrong)} do not have one value per time ({times.size})"
                )
            object.__setattr__(self, kind, series)
        for name, values in self.inputs.items():
            if not np.all(np.isfinite(values)):
                raise SimulationError(f"input {name!r} has missing values; fill them first")

    @classmethod
    def from_history(
        cls,
        history: History,
        twin_id: str,
        *,
        start: datetime | str,
        end: datetime | str,
        step: float | None,
        inputs: Mapping[str, str] = {},
        outputs: Mapping[str, str] = {},
        states: Mapping[str, str] = {},
        convert: Mapping[str, Callable[[Any], float | None]] = {},
    ) -> CalibrationData:
        """Data from a twin's recorded series between ``start`` and ``end`` on a grid of
        ``step`` seconds. Each mapping goes from a model name to the twin's property or
        telemetry name. Inputs are held from one recorded value to the next (a set-point
        stays until changed). Outputs take the recorded value nearest each grid time within
        half a step, and NaN where there is none: interpolating would invent measurements,
        and the fit would count them as independent evidence and report confidence
        intervals far too narrow. States take the last value recorded at or before ``start``:
        a noisy initial value biases the fit (its error decays only with the model's slowest
        time constant), so prefer a known rest state, such as a cold machine at ambient.

        ``step=None`` takes the measured outputs' own median sampling interval, so every
        recorded sample is used once. ``convert`` turns a twin name's recorded values into
        the model's (unit conversion, an operating state such as ``running`` as 1.0);
        ``None`` from it drops the value. Without it, numbers are taken as they are."""
        lo, hi = parse_time(start, "start"), parse_time(end, "end")
        assert lo is not None and hi is not None
        span = (hi - lo).total_seconds()
        if span <= 0:
            raise SimulationError(f"end {hi.isoformat()} is not after start {lo.isoformat()}")
        fetched = {
            name: _recorded(history, twin_id, name, lo, hi, convert.get(name))
            for name in {*inputs.values(), *outputs.values(), *states.values()}
        }
        if step is None:
            step = _median_interval([fetched[n][0] for n in outputs.values()], span)
        if not step > 0:
            raise SimulationError(f"the resampling step must be > 0 s, got {step}")
        times = np.arange(0.0, span, step)
        return cls(
            times,
            inputs={m: _resample(*fetched[n], times, "hold") for m, n in inputs.items()},
            outputs={m: _resample(*fetched[n], times, "nearest") for m, n in outputs.items()},
            initial_state={
                m: float(_resample(*fetched[n], times[:1], "hold")[0]) for m, n in states.items()
            },
        )


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    return float(value) if isinstance(value, int | float) else None


def _median_interval(series_times: Sequence[Array], span: float) -> float:
    """The median gap between recorded samples inside the window (the whole window when
    there is at most one sample)."""
    gaps = [np.diff(t[(t >= 0) & (t <= span)]) for t in series_times]
    joined = np.concatenate(gaps) if gaps else np.empty(0)
    joined = joined[joined > 0]
    return float(np.median(joined)) if joined.size else span


def _recorded(
    history: History,
    twin_id: str,
    name: str,
    start: datetime,
    end: datetime,
    convert: Callable[[Any], float | None] | None = None,
) -> tuple[Array, Array]:
    """A series' numeric points as (seconds after ``start``, value), including the last
    point before ``start`` so a held input has a value from the first sample on."""
    try:
        before = history.range(f"{twin_id}/{name}", None, start, limit=1, order="desc")
        points = before[::-1] + history.range(f"{twin_id}/{name}", start, end, limit=MAX_LIMIT)
    except BadRequest as error:
        raise SimulationError(f"cannot read {twin_id}/{name} from history: {error}") from None
    to_number = convert or _number
    pairs = [
        ((p.time - start) / timedelta(seconds=1), value)
        for p in points
        if (value := to_number(p.value)) is not None
    ]
    if not pairs:
        raise SimulationError(
            f"{twin_id}/{name} has no numeric values recorded in the window "
            f"{start.isoformat()} .. {end.isoformat()}",
            code="NoHistory",
        )
    t, v = zip(*pairs, strict=True)
    return np.array(t, dtype=float), np.array(v, dtype=float)


def _resample(t: Array, v: Array, grid: Array, how: Literal["hold", "linear", "nearest"]) -> Array:
    if how == "linear":
        return np.interp(grid, t, v, left=math.nan, right=math.nan).astype(float)
    if how == "nearest":
        half = (grid[1] - grid[0]) / 2 if grid.size > 1 else math.inf
        right = np.clip(np.searchsorted(t, grid), 0, t.size - 1)
        left = np.clip(right - 1, 0, t.size - 1)
        nearest = np.where(np.abs(t[left] - grid) <= np.abs(t[right] - grid), left, right)
        picked = v[nearest].astype(float)
        picked[np.abs(t[nearest] - grid) >= half] = math.nan
        return picked
    index = np.searchsorted(t, grid, side="right") - 1
    held = v[np.clip(index, 0, None)].astype(float)
    held[index < 0] = v[0]  # nothing recorded before: the first value is the best guess
    return held


@dataclass(frozen=True)
class ParameterFit:
    """One fitted parameter: the value, where the fit started, its standard error and its
    95 % confidence interval (NaN when the data cannot tell the parameter apart)."""

    name: str
    value: float
    initial: float
    std_error: float
    ci_low: float
    ci_high: float
    unit: str = ""


@dataclass(frozen=True)
class CalibrationReport:
    """What a calibration found and how well it fits (see the module docstring)."""

    model: str
    parameters: Mapping[str, ParameterFit]
    rmse: Mapping[str, float]
    r2: Mapping[str, float]
    iterations: int
    evaluations: int
    converged: bool
    message: str
    samples: int
    times: Array
    measured: Mapping[str, Array]
    fitted: Mapping[str, Array]
    units: Mapping[str, str] = field(default_factory=dict)

    def values(self) -> dict[str, float]:
        """The fitted parameter values, ready for ``model.set_parameters``."""
        return {name: fit.value for name, fit in self.parameters.items()}

    def residuals(self) -> dict[str, dict[str, float | int | None]]:
        """Per output, what is left unexplained (measured - fitted, where measured):
        count, mean (a bias the model cannot fit), standard deviation (about the sensor
        noise when the model fits), largest absolute value and the 5/50/95 % quantiles."""

        def number(x: float) -> float | None:
            return float(x) if math.isfinite(x) else None

        summary: dict[str, dict[str, float | int | None]] = {}
        for output, measured in self.measured.items():
            left = (measured - self.fitted[output])[np.isfinite(measured)]
            if not left.size:
                summary[output] = {"count": 0}
                continue
            p5, p50, p95 = np.percentile(left, [5, 50, 95])
            summary[output] = {
                "count": int(left.size),
                "mean": number(float(left.mean())),
                "std": number(float(left.std(ddof=1))) if left.size > 1 else None,
                "maxAbs": number(float(np.abs(left).max())),
                "p5": number(float(p5)),
                "median": number(float(p50)),
                "p95": number(float(p95)),
            }
        return summary

    def summary(self) -> dict[str, Any]:
        """The report without its arrays, as plain JSON-able data."""

        def number(x: float) -> float | None:
            return x if math.isfinite(x) else None

        return {
            "model": self.model,
            "parameters": {
                n: {
                    "value": f.value,
                    "initial": f.initial,
                    "stdError": number(f.std_error),
                    "ci95": [number(f.ci_low), number(f.ci_high)],
                }
                for n, f in self.parameters.items()
            },
            "rmse": {k: number(v) for k, v in self.rmse.items()},
            "r2": {k: number(v) for k, v in self.r2.items()},
            "iterations": self.iterations,
            "evaluations": self.evaluations,
            "converged": self.converged,
            "message": self.message,
            "samples": self.samples,
            "residuals": self.residuals(),
        }

    def __str__(self) -> str:
        lines = [f"calibration of {self.model!r}: {self.message}"]
        lines.append(f"  {'parameter':<12} {'value':>12} {'std error':>11}   95% interval")
        for fit in self.parameters.values():
            lines.append(
                f"  {fit.name:<12} {fit.value:>12.5g} {fit.std_error:>11.3g}   "
                f"[{fit.ci_low:.5g}, {fit.ci_high:.5g}] {fit.unit}".rstrip()
            )
        for output in self.rmse:
            unit = self.units.get(output, "")
            lines.append(
                f"  {output}: RMSE {self.rmse[output]:.4g} {unit}, R² {self.r2[output]:.5f}"
            )
        lines.append(
            f"  {self.samples} samples, {self.iterations} iterations, "
            f"{self.evaluations} model runs, converged: {self.converged}"
        )
        return "\n".join(lines)


class _Replay:
    """Runs the recorded inputs through the model for one parameter vector."""

    def __init__(self, model: SimulationModel, data: CalibrationData, names: Sequence[str]) -> None:
        self.model = model
        self.data = data
        self.names = list(names)
        self.start = model.snapshot()
        self.steps = np.diff(data.times)
        self.inputs = [
            {name: float(values[k]) for name, values in data.inputs.items()}
            for k in range(data.times.size)
        ]
        self.runs = 0

    def __call__(self, p: Array) -> dict[str, Array]:
        self.runs += 1
        model = self.model
        outputs = list(self.data.outputs)
        result = np.empty((len(outputs), self.data.times.size))
        try:
            model.restore(self.start)
            model.set_parameters(dict(zip(self.names, map(float, p), strict=True)))
            model.set_state(self.data.initial_state)
            for k in range(self.data.times.size):
                if self.inputs[k]:
                    model.set_inputs(self.inputs[k])
                values = model.outputs()
                result[:, k] = [values[name] for name in outputs]
                if k < self.steps.size:
                    model.advance(float(self.steps[k]))
        except SimulationError as error:
            tried = ", ".join(f"{n}={v:.6g}" for n, v in zip(self.names, p, strict=True))
            raise SimulationError(
                f"calibration stopped: the model failed with {tried}: {error.message}",
                model=model.description.name,
                code="CalibrationDiverged",
            ) from error
        finally:
            model.restore(self.start)
        if not np.all(np.isfinite(result)):
            tried = ", ".join(f"{n}={v:.6g}" for n, v in zip(self.names, p, strict=True))
            raise SimulationError(
                f"calibration stopped: the model's outputs are not finite with {tried}",
                model=model.description.name,
                code="CalibrationDiverged",
            )
        return dict(zip(outputs, result, strict=True))


def _check(model: SimulationModel, data: CalibrationData, names: Sequence[str]) -> list[str]:
    d = model.description
    problems: list[str] = []
    known = {
        "parameter": {v.name for v in d.parameters},
        "input": {v.name for v in d.inputs},
        "output": {v.name for v in d.outputs},
        "state": {v.name for v in d.states},
    }
    for kind, given in (
        ("parameter", names),
        ("input", data.inputs),
        ("output", data.outputs),
        ("state", data.initial_state),
    ):
        problems += [
            f"unknown {kind} {n!r} (its {kind}s: {', '.join(sorted(known[kind])) or 'none'})"
            for n in given
            if n not in known[kind]
        ]
    if not names:
        problems.append("no parameter to calibrate")
    if len(set(names)) != len(names):
        problems.append("a parameter is named more than once")
    if not data.outputs:
        problems.append("no measured output to compare with")
    return problems


def calibrate(
    model: SimulationModel,
    data: CalibrationData,
    parameters: Sequence[str],
    *,
    initial: Mapping[str, float] | None = None,
    max_evaluations: int = 200,
) -> CalibrationReport:
    """Fit ``parameters`` of ``model`` to ``data`` (see the module docstring). The search
    starts from ``initial`` (default: the model's current values); the model is left
    exactly as it was (apply ``report.values()`` to use the result)."""
    name = model.description.name
    problems = _check(model, data, parameters)
    if problems:
        raise SimulationError(
            "cannot calibrate: " + "; ".join(problems),
            model=name,
            details=[{"code": "SimulationError", "message": p} for p in problems],
        )
    measured = {k: np.asarray(v, dtype=float) for k, v in data.outputs.items()}
    observed = {k: np.isfinite(v) for k, v in measured.items()}
    count = sum(int(m.sum()) for m in observed.values())
    if count == 0:
        raise SimulationError("cannot calibrate: there is no measured value", model=name)
    if count <= len(parameters):
        raise SimulationError(
            f"cannot calibrate {len(parameters)} parameters from {count} measured values: "
            "it needs more values than parameters",
            model=name,
        )
    variables = [model.description.parameter(p) for p in parameters]
    current = model.parameters()
    x0 = np.array([float((initial or {}).get(p, current[p])) for p in parameters])
    low = np.array([v.min for v in variables])
    high = np.array([v.max for v in variables])
    outside = [f"{p} = {x:g}" for p, x, lo, hi in zip(parameters, x0, low, high, strict=True)
               if not lo <= x <= hi or lo == hi]  # fmt: skip
    if outside:
        raise SimulationError(
            f"cannot calibrate: start values outside their bounds (or fixed): {', '.join(outside)}",
            model=name,
        )
    # keep the start strictly inside the bounds, which least_squares requires
    x0 = np.clip(x0, np.nextafter(low, high), np.nextafter(high, low))
    scale = {
        k: float(np.std(v[observed[k]])) or float(np.abs(v[observed[k]]).mean()) or 1.0
        for k, v in measured.items()
    }
    replay = _Replay(model, data, parameters)

    def residuals(p: Array) -> Array:
        simulated = replay(p)
        return np.concatenate(
            [(simulated[k] - measured[k])[observed[k]] / scale[k] for k in measured]
        )

    replay(x0)  # a model that fails at the start values says so before any search
    fit = least_squares(residuals, x0, bounds=(low, high), x_scale="jac", max_nfev=max_evaluations)
    fitted = replay(fit.x)
    dof = count - len(parameters)
    s2 = float(fit.fun @ fit.fun) / dof
    jac = np.asarray(fit.jac, dtype=float)
    try:
        covariance = s2 * np.linalg.inv(jac.T @ jac)
        std_errors = np.sqrt(np.clip(np.diag(covariance), 0.0, None))
    except np.linalg.LinAlgError:
        std_errors = np.full(len(parameters), math.nan)
    quantile = float(student_t.ppf(0.975, dof))
    fits = {
        p: ParameterFit(
            p, float(x), float(x_start), float(se), float(x - quantile * se),
            float(x + quantile * se), v.unit,
        )
        for p, x, x_start, se, v in zip(parameters, fit.x, x0, std_errors, variables, strict=True)
    }  # fmt: skip
    rmse: dict[str, float] = {}
    r2: dict[str, float] = {}
    for k, values in measured.items():
        error = (fitted[k] - values)[observed[k]]
        rmse[k] = float(np.sqrt(np.mean(error**2)))
        spread = float(np.sum((values[observed[k]] - values[observed[k]].mean()) ** 2))
        r2[k] = 1.0 - float(np.sum(error**2)) / spread if spread > 0 else math.nan
    units = {v.name: v.unit for v in model.description.outputs if v.name in measured}
    return CalibrationReport(
        model=name,
        parameters=fits,
        rmse=rmse,
        r2=r2,
        iterations=int(fit.njev or 0),
        evaluations=replay.runs,
        converged=bool(fit.status > 0),
        message=str(fit.message),
        samples=int(data.times.size),
        times=data.times,
        measured=measured,
        fitted=fitted,
        units=units,
    )


def plot(report: CalibrationReport, path: Path | str | None = None) -> bytes:
    """Measured against fitted, one panel per output, with the residuals below; returns
    the PNG (and writes it to ``path`` when given). Drawn on Matplotlib's Agg canvas
    without ``pyplot``, so it is safe in a server thread."""
    from matplotlib.figure import Figure

    outputs = list(report.measured)
    figure = Figure(figsize=(9.0, 3.2 * len(outputs) + 0.6), layout="constrained")
    axes = figure.subplots(2 * len(outputs), 1, sharex=True, squeeze=False,
                           height_ratios=[3, 1] * len(outputs))[:, 0]  # fmt: skip
    minutes = report.times / 60.0
    for i, output in enumerate(outputs):
        top, bottom = axes[2 * i], axes[2 * i + 1]
        unit = report.units.get(output, "")
        top.plot(minutes, report.measured[output], ".", color="#9ca3af", markersize=2.5,
                 label="measured")  # fmt: skip
        quality = f"RMSE {report.rmse[output]:.3g} {unit}, R² {report.r2[output]:.4f}"
        top.plot(
            minutes, report.fitted[output], color="#2563eb", linewidth=1.6,
            label=f"fitted ({quality})",
        )  # fmt: skip
        top.set_ylabel(f"{output}\n[{unit}]" if unit else output, fontsize=9)
        top.legend(loc="best", fontsize=8)
        top.grid(True, alpha=0.3)
        bottom.plot(minutes, report.measured[output] - report.fitted[output], ".",
                    color="#f59e0b", markersize=2)  # fmt: skip
        bottom.axhline(0.0, color="#374151", linewidth=0.8)
        bottom.set_ylabel("residual", fontsize=9)
        bottom.grid(True, alpha=0.3)
    axes[-1].set_xlabel("minutes")
    fitted = ", ".join(
        f"{f.name} = {f.value:.4g} ± {f.ci_high - f.value:.2g}" for f in report.parameters.values()
    )
    figure.suptitle(f"Calibration of {report.model}: {fitted}", fontsize=10)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    png = buffer.getvalue()
    if path is not None:
        Path(path).write_bytes(png)
    return png
