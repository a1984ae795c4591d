"""A state estimator that keeps a simulation model in step with live measurements.

The model predicts; measurements correct; the corrected estimate is written back into the
model (``set_state``, and ``set_parameters`` for estimated parameters), so the model runs
on from the best estimate rather than drifting away on its own. States nobody measures are
estimated too, with their uncertainty: those are the *virtual sensors*.

Missing measurements are simply not applied (a prediction alone widens the uncertainty),
and a measurement whose innovation is implausible under the filter's own uncertainty —
its normalized squared innovation beyond the chi-square quantile of ``config.gate`` — is
refused and counted instead of dragging the estimate away.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray
from scipy.stats import chi2

from twinsight.core.errors import SimulationError
from twinsight.sim.estimation.config import EstimatorConfig
from twinsight.sim.estimation.filters import (
    ExtendedKalman,
    Filter,
    LinearKalman,
    UnscentedKalman,
)
from twinsight.sim.estimation.linear import LinearModel
from twinsight.sim.model import SimulationModel, Snapshot

Vector = NDArray[np.float64]
Matrix = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Estimate:
    """One estimated value and its standard deviation (square root of its variance)."""

    value: float
    std: float


@dataclass(frozen=True, slots=True)
class UpdateResult:
    """What one :meth:`StateEstimator.update` did with each measurement it was given."""

    accepted: tuple[str, ...] = ()
    rejected: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    distances: Mapping[str, float] = field(default_factory=dict)
    """Normalized squared innovation of each measurement present (chi-square, 1 dof)."""
    predicted: Mapping[str, Estimate] = field(default_factory=dict)
    """Each present measurement as the model predicted it before the update, with the
    standard deviation of measured minus predicted (the square root of the innovation
    covariance ``S``): the residual's yardstick, refused measurements included."""


class _Access:
    """The model seen as functions of the estimated vector, for the filters.

    Every evaluation starts from a snapshot and puts the model back afterwards, so sigma
    points and finite differences never leave a trace on the live model.
    """

    def __init__(self, model: SimulationModel, config: EstimatorConfig) -> None:
        self.model = model
        d = model.description
        states = {v.name: v for v in d.states}
        parameters = {v.name: v for v in d.parameters}
        inputs = {v.name: v for v in d.inputs}
        self.names = [s.name for s in config.states]
        # What each estimated value is: a state, else a parameter, else an input (an
        # unmeasured load estimated as a random walk, like a parameter).
        self.kinds = [
            "state" if n in states else "parameter" if n in parameters else "input"
            for n in self.names
        ]
        self.is_state = [kind == "state" for kind in self.kinds]
        bounds = [states.get(n) or parameters.get(n) or inputs[n] for n in self.names]
        self.low = np.array([v.min for v in bounds], dtype=float)
        self.high = np.array([v.max for v in bounds], dtype=float)
        self.q = np.array([s.q for s in config.states], dtype=float)
        self.outputs = [m.output for m in config.measurements]
        self.base: Snapshot = model.snapshot()

    def read(self) -> Vector:
        values = {
            "state": self.model.state(),
            "parameter": self.model.parameters(),
            "input": self.model.inputs(),
        }
        return np.array(
            [values[kind][name] for name, kind in zip(self.names, self.kinds, strict=True)],
            dtype=float,
        )

    def write(self, x: Vector) -> None:
        clipped = np.clip(x, self.low, self.high)
        values: dict[str, dict[str, float]] = {"state": {}, "parameter": {}, "input": {}}
        for name, kind, value in zip(self.names, self.kinds, clipped, strict=True):
            values[kind][name] = float(value)
        if values["parameter"]:
            self.model.set_parameters(values["parameter"])
        if values["input"]:
            self.model.set_inputs(values["input"])
        if values["state"]:
            self.model.set_state(values["state"])

    def transition(self, x: Vector, dt: float) -> Vector:
        try:
            self.model.restore(self.base)
            self.write(x)
            self.model.advance(dt)
            return self.read()
        finally:
            self.model.restore(self.base)

    def measure(self, x: Vector, rows: Sequence[int]) -> Vector:
        try:
            self.model.restore(self.base)
            self.write(x)
            outputs = self.model.outputs()
            return np.array([outputs[self.outputs[r]] for r in rows], dtype=float)
        finally:
            self.model.restore(self.base)

    def process_noise(self, dt: float) -> Matrix:
        return np.diag(self.q * dt)


class StateEstimator:
    """Kalman filtering of one model (see the module docstring).

    >>> from twinsight.sim.functions import FunctionModel
    >>> from twinsight.sim.estimation.config import EstimatedState, Measurement
    >>> tank = FunctionModel.from_function(
    ...     "tank", lambda t, u, v: {"level": v["level"]}, states={"level": 1.0},
    ...     outputs=("level",), step=lambda t, dt, x, u, p: {"level": x["level"]})
    >>> estimator = StateEstimator(tank, EstimatorConfig(
    ...     (EstimatedState("level", q=1e-4, initial_std=1.0),),
    ...     (Measurement("levelSensor", "level", r=0.01),), method="ekf"))
    >>> estimator.predict(1.0); result = estimator.update({"levelSensor": 2.0})
    >>> round(tank.state()["level"], 2), result.accepted
    (1.99, ('levelSensor',))
    """

    def __init__(self, model: SimulationModel, config: EstimatorConfig) -> None:
        config.check(model.description)
        self._model = model
        self._config = config
        self._access = _Access(model, config)
        self._measurements = {m.name: i for i, m in enumerate(config.measurements)}
        self._r = np.array([m.r for m in config.measurements], dtype=float)
        self._threshold = math.inf if config.gate is None else float(chi2.ppf(config.gate, 1))
        self.accepted: dict[str, int] = dict.fromkeys(self._measurements, 0)
        """How many values of each measurement were applied."""
        self.rejected: dict[str, int] = dict.fromkeys(self._measurements, 0)
        """How many values of each measurement the outlier gate refused."""
        self._predicted: dict[str, Estimate] = {}
        x = self._access.read()
        p = np.diag(np.array([s.initial_std for s in config.states], dtype=float) ** 2)
        self._filter = self._make_filter(x, p)

    def _make_filter(self, x: Vector, p: Matrix) -> Filter:
        config, model = self._config, self._model
        if config.method == "ukf":
            return UnscentedKalman(self._access, x, p, len(config.measurements))
        if config.method == "ekf":
            return ExtendedKalman(self._access, x, p, config.jacobian_step)
        if not isinstance(model, LinearModel):
            raise SimulationError(
                "the linear Kalman filter (method 'kf') needs a linear model that provides "
                "its matrices (state_space); choose 'ekf' or 'ukf' for this one",
                model=model.description.name,
            )
        declared = [v.name for v in model.description.states]
        estimated = self._access.names
        if sorted(estimated) != sorted(declared):
            raise SimulationError(
                "the linear Kalman filter estimates exactly the model's states "
                f"({', '.join(declared)}), not {', '.join(estimated)}",
                model=model.description.name,
            )
        outputs = [v.name for v in model.description.outputs]
        return LinearKalman(
            model,
            self._access,
            [declared.index(name) for name in estimated],
            [outputs.index(m.output) for m in config.measurements],
            x,
            p,
        )

    @property
    def model(self) -> SimulationModel:
        return self._model

    @property
    def config(self) -> EstimatorConfig:
        return self._config

    @property
    def time(self) -> float:
        """The model time the estimate is for."""
        return self._model.time

    # ---------------------------------------------------------------- filtering

    def predict(self, dt: float) -> None:
        """Move the estimate ``dt`` seconds forward with the model (inputs held). A step of
        zero does nothing (two samples with one time stamp)."""
        if dt == 0:
            return
        if not (dt > 0 and math.isfinite(dt)):
            raise SimulationError(
                f"predict needs a positive, finite step in seconds, got {dt!r}",
                model=self._model.description.name,
            )
        self._access.base = self._model.snapshot()
        try:
            self._filter.predict(dt)
        except np.linalg.LinAlgError as error:
            raise SimulationError(
                f"the estimate's covariance broke down while predicting: {error}",
                model=self._model.description.name,
            ) from error
        # The model runs on: its own step moves time and whatever is not estimated, then
        # the estimated values are set to the filter's prediction.
        self._model.advance(dt)
        self._commit()

    def update(self, measurements: Mapping[str, float | None]) -> UpdateResult:
        """Correct the estimate with the measurements taken now. A name missing from the
        mapping, or given as ``None``/NaN, is a missing sample; an unknown name is an error
        (a typo would otherwise be silently never applied)."""
        unknown = sorted(set(measurements) - self._measurements.keys())
        if unknown:
            raise SimulationError(
                f"unknown measurement {', '.join(map(repr, unknown))} "
                f"(declared: {', '.join(self._measurements)})",
                model=self._model.description.name,
            )
        present: list[tuple[str, int, float]] = []
        missing: list[str] = []
        for name, row in self._measurements.items():
            value = measurements.get(name)
            if value is None or not math.isfinite(float(value)):
                missing.append(name)
            else:
                present.append((name, row, float(value)))
        if not present:
            self._predicted = {}
            return UpdateResult(missing=tuple(missing))
        self._access.base = self._model.snapshot()
        rows = [row for _, row, _ in present]
        z = np.array([value for _, _, value in present], dtype=float)
        predicted, s = self._filter.innovation(rows, np.diag(self._r[rows]))
        variances = np.diag(s)
        distances = (z - predicted) ** 2 / variances
        self._predicted = {
            name: Estimate(float(predicted[i]), math.sqrt(max(float(variances[i]), 0.0)))
            for i, (name, _, _) in enumerate(present)
        }
        keep = [i for i, d in enumerate(distances) if d <= self._threshold]
        accepted = tuple(present[i][0] for i in keep)
        rejected = tuple(name for i, (name, _, _) in enumerate(present) if i not in keep)
        for name in accepted:
            self.accepted[name] += 1
        for name in rejected:
            self.rejected[name] += 1
        if keep:
            kept_rows = [rows[i] for i in keep]
            try:
                self._filter.update(z[keep], kept_rows, np.diag(self._r[kept_rows]))
            except np.linalg.LinAlgError as error:
                raise SimulationError(
                    f"the estimate's covariance broke down while updating: {error}",
                    model=self._model.description.name,
                ) from error
            self._commit()
        return UpdateResult(
            accepted,
            rejected,
            tuple(missing),
            {present[i][0]: float(d) for i, d in enumerate(distances)},
            dict(self._predicted),
        )

    def step(self, dt: float, measurements: Mapping[str, float | None]) -> UpdateResult:
        """``predict(dt)`` then ``update(measurements)``."""
        self.predict(dt)
        return self.update(measurements)

    def _commit(self) -> None:
        """Keep the estimate inside the variables' bounds and write it into the model."""
        x = np.clip(self._filter.x, self._access.low, self._access.high)
        p = self._filter.P
        self._filter.P = (p + p.T) / 2  # rounding makes it drift from symmetric
        self._filter.x = x
        self._access.write(x)

    # ---------------------------------------------------------------- results

    def estimates(self) -> dict[str, Estimate]:
        """Every estimated value with its standard deviation."""
        x, p = self._filter.x, self._filter.P
        return {
            name: Estimate(float(x[i]), math.sqrt(max(float(p[i, i]), 0.0)))
            for i, name in enumerate(self._access.names)
        }

    def covariance(self) -> Matrix:
        """The full covariance of the estimated values (in configuration order)."""
        return self._filter.P.copy()

    def predicted_measurements(self) -> dict[str, Estimate]:
        """What the last :meth:`update` expected each measurement it was given to be,
        before correcting the estimate with it (see :attr:`UpdateResult.predicted`)."""
        return dict(self._predicted)

    def virtual_sensors(self) -> dict[str, float]:
        """The published values: ``{publish_as: value, publish_as + "Std": std}`` for
        every estimated state that declares a ``publish_as`` name, and
        ``{<name>Predicted: value, <name>PredictedStd: std}`` for every measurement with
        ``publish_predicted`` that the last update was given."""
        estimates = self.estimates()
        sensors: dict[str, float] = {}
        for spec in self._config.states:
            if spec.publish_as:
                estimate = estimates[spec.name]
                sensors[spec.publish_as] = estimate.value
                sensors[f"{spec.publish_as}Std"] = estimate.std
        for measurement in self._config.measurements:
            prior = self._predicted.get(measurement.name)
            if measurement.publish_predicted and prior is not None:
                value_name, std_name = measurement.predicted_names
                sensors[value_name] = prior.value
                sensors[std_name] = prior.std
        return sensors
