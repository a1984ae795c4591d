"""What a state estimator estimates and measures, declared rather than coded.

A configuration names model quantities and noise levels only; it holds no model and no
filter, so it can be read from a file, checked against a model's description before any
data flows, and reused for every twin of the same kind.

>>> config = EstimatorConfig.from_dict({
...     "method": "ukf",
...     "states": {"winding": {"q": 0.01, "initial_std": 5, "publish_as": "windingTemperature"}},
...     "measurements": {"housingTemperature": {"output": "housing", "r": 0.25}},
...     "inputs": {"power": "loss"},
... })
>>> config.method, config.states[0].q, config.measurements[0].output
('ukf', 0.01, 'housing')
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, get_args

from twinsight.core.errors import SimulationError
from twinsight.sim.model import ModelDescription

Method = Literal["kf", "ekf", "ukf"]
METHODS: tuple[str, ...] = get_args(Method)


@dataclass(frozen=True, slots=True)
class EstimatedState:
    """One estimated quantity: a model state, or a model parameter (a slowly drifting
    resistance, a wrong nameplate value) or input (a load no sensor measures) estimated
    alongside the states as a random walk.

    ``q`` is the process noise as a variance *rate* (unit²/s): how far the model is trusted
    to drift from the truth per second of prediction, so the filter behaves the same
    whatever the sample rate. ``initial_std`` is the uncertainty of the start value.
    ``publish_as`` names the virtual sensor on the twin (with ``<name>Std`` beside it);
    ``None`` keeps the estimate internal.
    """

    name: str
    q: float
    initial_std: float = 1.0
    publish_as: str | None = None

    def __post_init__(self) -> None:
        if not (math.isfinite(self.q) and self.q >= 0):
            raise SimulationError(f"estimated state {self.name!r}: q must be >= 0, got {self.q}")
        if not (math.isfinite(self.initial_std) and self.initial_std > 0):
            raise SimulationError(
                f"estimated state {self.name!r}: initial_std must be > 0, got {self.initial_std}"
            )


@dataclass(frozen=True, slots=True)
class Measurement:
    """One measured value: its ``name`` in the live data (a twin's property or telemetry
    name), the model ``output`` it measures, and its noise variance ``r`` (unit²).

    ``publish_predicted`` also publishes what the model expected this measurement to be
    *before* each update (the prior predicted measurement) as ``<name>Predicted``, with
    the standard deviation of the difference to the measured value (square root of the
    innovation covariance, model and sensor uncertainty together) as
    ``<name>PredictedStd``. Measured minus predicted is the residual an anomaly detector
    watches: what the physics does not explain."""

    name: str
    output: str
    r: float
    publish_predicted: bool = False

    @property
    def predicted_names(self) -> tuple[str, str]:
        """The virtual sensors of the prediction: ``(<name>Predicted, <name>PredictedStd)``."""
        return f"{self.name}Predicted", f"{self.name}PredictedStd"

    def __post_init__(self) -> None:
        if not (math.isfinite(self.r) and self.r > 0):
            raise SimulationError(f"measurement {self.name!r}: r must be > 0, got {self.r}")


@dataclass(frozen=True, slots=True)
class EstimatorConfig:
    """The whole declaration: the filter ``method``, the estimated states, the
    measurements, the live values that drive model ``inputs`` (live name -> model input),
    the outlier gate (probability of the chi-square distribution a measurement's
    normalized innovation must fall within; ``None`` turns the gate off) and the relative
    finite-difference step of the EKF's Jacobians."""

    states: tuple[EstimatedState, ...]
    measurements: tuple[Measurement, ...]
    method: Method = "ukf"
    inputs: Mapping[str, str] = field(default_factory=dict)
    gate: float | None = 0.999
    jacobian_step: float = 1e-5

    def __post_init__(self) -> None:
        object.__setattr__(self, "inputs", MappingProxyType(dict(self.inputs)))
        problems: list[str] = []
        if self.method not in METHODS:
            problems.append(f"method {self.method!r} is not one of {', '.join(METHODS)}")
        if not self.states:
            problems.append("no state is estimated")
        if not self.measurements:
            problems.append("no measurement is declared")
        for kind, names in (
            ("estimated state", [s.name for s in self.states]),
            ("measurement", [m.name for m in self.measurements]),
            ("published name", list(self.published)),
        ):
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                problems.append(f"{kind} named more than once: {', '.join(twice)}")
        if self.gate is not None and not 0 < self.gate < 1:
            problems.append(f"gate must be a probability in (0, 1) or None, got {self.gate}")
        if not 0 < self.jacobian_step < 1:
            problems.append(f"jacobian_step must be in (0, 1), got {self.jacobian_step}")
        if problems:
            raise SimulationError("bad estimator configuration: " + "; ".join(problems))

    @property
    def published(self) -> tuple[str, ...]:
        """Every virtual sensor's name: each published state's ``publish_as`` and its
        ``Std``, each predicted measurement's ``Predicted`` and ``PredictedStd``."""
        names: list[str] = []
        for state in self.states:
            if state.publish_as:
                names += [state.publish_as, f"{state.publish_as}Std"]
        for measurement in self.measurements:
            if measurement.publish_predicted:
                names += measurement.predicted_names
        return tuple(names)

    def __reduce__(self) -> tuple[Any, ...]:
        # The read-only view of ``inputs`` cannot be pickled; a spec holding this
        # configuration is sent to sweep workers, so rebuild it from a plain dict.
        return (
            EstimatorConfig,
            (
                self.states,
                self.measurements,
                self.method,
                dict(self.inputs),
                self.gate,
                self.jacobian_step,
            ),
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EstimatorConfig:
        """A configuration from plain data (a YAML or JSON document): ``states`` and
        ``measurements`` are mappings from name to their fields."""
        known = {"method", "states", "measurements", "inputs", "gate", "jacobian_step"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SimulationError(f"unknown estimator configuration keys: {', '.join(unknown)}")
        try:
            states = tuple(
                EstimatedState(name, **fields) for name, fields in dict(data["states"]).items()
            )
            measurements = tuple(
                Measurement(name, **fields) for name, fields in dict(data["measurements"]).items()
            )
            return cls(
                states,
                measurements,
                method=data.get("method", "ukf"),
                inputs=dict(data.get("inputs", {})),
                gate=data.get("gate", 0.999),
                jacobian_step=data.get("jacobian_step", 1e-5),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise SimulationError(f"bad estimator configuration: {error}") from None

    def check(self, description: ModelDescription) -> None:
        """Raise one :class:`SimulationError` listing every name the model does not have,
        so a configuration for another model fails before any data is filtered."""
        states = {v.name for v in description.states}
        parameters = {v.name for v in description.parameters}
        outputs = {v.name for v in description.outputs}
        inputs = {v.name for v in description.inputs}
        problems = [
            f"estimated {s.name!r} is neither a state, a parameter nor an input"
            for s in self.states
            if s.name not in states | parameters | inputs
        ]
        problems += [
            f"input {name!r} is both estimated and driven by live value {live!r}"
            for live, name in self.inputs.items()
            if name in {s.name for s in self.states}
        ]
        problems += [
            f"measurement {m.name!r} measures unknown output {m.output!r}"
            for m in self.measurements
            if m.output not in outputs
        ]
        problems += [
            f"live value {live!r} drives unknown input {name!r}"
            for live, name in self.inputs.items()
            if name not in inputs
        ]
        if problems:
            known = (
                f"(states: {', '.join(sorted(states)) or 'none'}; parameters: "
                f"{', '.join(sorted(parameters)) or 'none'}; outputs: "
                f"{', '.join(sorted(outputs)) or 'none'}; inputs: "
                f"{', '.join(sorted(inputs)) or 'none'})"
            )
            raise SimulationError(
                "the estimator configuration does not fit the model: "
                + "; ".join(problems)
                + " "
                + known,
                model=description.name,
                details=[{"code": "SimulationError", "message": p} for p in problems],
            )


@dataclass(frozen=True, slots=True)
class EstimatorBinding:
    """Which twins a live estimator runs on, declared beside the world's model bindings
    (``SimulationSpec.estimators``): one ``twin``, or every twin of ``dtdl_model``. The
    estimator's model is the one the world's bindings give the twin (its parameters, the
    active calibrated version included, and its start state read from the twin), and
    ``config`` says what is estimated, measured and published. Live names in ``config``
    (measurements and inputs) are the twin's telemetry or property names; their values
    are converted into the model's units as the bindings convert them."""

    config: EstimatorConfig
    twin: str | None = None
    dtdl_model: str | None = None
    name: str = ""
    """For people and logs (default: the DTDL model or twin)."""

    def __post_init__(self) -> None:
        if (self.twin is None) == (self.dtdl_model is None):
            raise SimulationError(
                "an estimator names either a twin or a DTDL model, not both and not neither"
            )

    @property
    def target(self) -> str:
        return self.twin if self.twin is not None else f"every {self.dtdl_model}"

    @property
    def published(self) -> tuple[str, ...]:
        """The virtual sensors' names (see :attr:`EstimatorConfig.published`)."""
        return self.config.published
