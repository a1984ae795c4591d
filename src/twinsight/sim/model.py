"""The one small interface every simulation model speaks.

An ODE on SciPy, an FMU through fmpy, a SimPy production line and a plain Python function
all look the same from outside: named **parameters** (fixed during a run, bounded),
**state** (what the model remembers between steps, and what a fork copies), **inputs** (set
from outside before a step) and **outputs** (read after one), and one verb, ``advance(dt)``.
Time is model time in seconds from the model's start; a clock (wall or simulated) decides
how model time relates to the world's.

Everything is a ``float`` (booleans as 0.0/1.0): that keeps the co-simulation master, the
twin bindings, state estimation and what-if forks free of per-model special cases.

:class:`BaseModel` does the bookkeeping (name checks, bounds, snapshots) so an
implementation writes only ``_advance`` and ``_outputs``; the contract test in
``tests/sim/test_contract.py`` runs every implementation through the same checks.

>>> from twinsight.sim.functions import FunctionModel
>>> gain = FunctionModel.from_function(
...     "gain", lambda t, u, p: {"y": p["k"] * u["x"]},
...     parameters={"k": 2.0}, inputs={"x": 0.0}, outputs=("y",))
>>> gain.set_inputs({"x": 3.0}); gain.advance(1.0); gain.outputs()
{'y': 6.0}
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol, runtime_checkable

from twinsight.core.errors import SimulationError


@dataclass(frozen=True, slots=True)
class Variable:
    """One named quantity of a model: its unit, its start value and, for parameters and
    inputs, the bounds a value must lie in (checked on every set, so a scenario with
    impossible parameters fails before it runs)."""

    name: str
    start: float = 0.0
    unit: str = ""
    description: str = ""
    min: float = -math.inf
    max: float = math.inf

    def check(self, value: float, *, kind: str, model: str) -> float:
        """``value`` as a float inside the bounds, or a :class:`SimulationError` saying
        which variable, what value, and what was allowed."""
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise SimulationError(
                f"{kind} {self.name!r} must be a number, got {value!r}", model=model
            ) from None
        if math.isnan(number):
            raise SimulationError(f"{kind} {self.name!r} is NaN", model=model)
        if not self.min <= number <= self.max:
            raise SimulationError(
                f"{kind} {self.name!r} = {number:g} is outside its bounds "
                f"[{self.min:g}, {self.max:g}]" + (f" {self.unit}" if self.unit else ""),
                model=model,
            )
        return number


def variables(*items: Variable | str) -> tuple[Variable, ...]:
    """A tuple of variables; a bare string is a variable with that name and defaults."""
    return tuple(item if isinstance(item, Variable) else Variable(item) for item in items)


@dataclass(frozen=True, slots=True)
class ModelDescription:
    """What a model is, declared rather than coded: its name and its variables."""

    name: str
    parameters: tuple[Variable, ...] = ()
    states: tuple[Variable, ...] = ()
    inputs: tuple[Variable, ...] = ()
    outputs: tuple[Variable, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        for kind in ("parameters", "states", "inputs", "outputs"):
            counts = Counter(v.name for v in getattr(self, kind))
            duplicated = sorted(n for n, c in counts.items() if c > 1)
            if duplicated:
                raise SimulationError(
                    f"{kind} named more than once: {', '.join(duplicated)}", model=self.name
                )

    def parameter(self, name: str) -> Variable:
        return _find(self.parameters, name, "parameter", self.name)

    def input(self, name: str) -> Variable:
        return _find(self.inputs, name, "input", self.name)

    def state(self, name: str) -> Variable:
        return _find(self.states, name, "state", self.name)


def _find(items: tuple[Variable, ...], name: str, kind: str, model: str) -> Variable:
    for item in items:
        if item.name == name:
            return item
    known = ", ".join(v.name for v in items) or "none"
    raise SimulationError(f"has no {kind} {name!r} (its {kind}s: {known})", model=model)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything needed to put a model back where it was: the fork of a what-if run and
    the rewind of a state estimator. Immutable, so one snapshot can seed many runs."""

    model: str
    time: float
    parameters: Mapping[str, float] = field(default_factory=dict)
    state: Mapping[str, float] = field(default_factory=dict)
    inputs: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("parameters", "state", "inputs"):
            object.__setattr__(self, name, MappingProxyType(dict(getattr(self, name))))


@runtime_checkable
class SimulationModel(Protocol):
    """The uniform interface (see the module docstring)."""

    @property
    def description(self) -> ModelDescription: ...

    @property
    def time(self) -> float:
        """Model time in seconds since the start."""
        ...

    def parameters(self) -> dict[str, float]: ...

    def set_parameters(self, values: Mapping[str, float]) -> None: ...

    def state(self) -> dict[str, float]: ...

    def set_state(self, values: Mapping[str, float]) -> None: ...

    def inputs(self) -> dict[str, float]: ...

    def set_inputs(self, values: Mapping[str, float]) -> None: ...

    def outputs(self) -> dict[str, float]: ...

    def advance(self, dt: float) -> None:
        """Move model time forward by ``dt`` seconds (> 0) with the inputs held."""
        ...

    def snapshot(self) -> Snapshot: ...

    def restore(self, snapshot: Snapshot) -> None: ...

    def close(self) -> None: ...


class BaseModel:
    """Bookkeeping shared by the implementations: values keyed by declared names, bounds
    checked on every set, snapshots, and errors that name the model.

    A subclass provides ``_advance(dt)`` (move its state) and ``_outputs()`` (read it). It
    may override ``state``/``set_state`` when its state does not live in ``self._state``
    (an FMU keeps it inside the FMU).
    """

    def __init__(self, description: ModelDescription) -> None:
        self._description = description
        self._time = 0.0
        self._parameters = {v.name: float(v.start) for v in description.parameters}
        self._state = {v.name: float(v.start) for v in description.states}
        self._inputs = {v.name: float(v.start) for v in description.inputs}

    @property
    def description(self) -> ModelDescription:
        return self._description

    @property
    def name(self) -> str:
        return self._description.name

    @property
    def time(self) -> float:
        return self._time

    def parameters(self) -> dict[str, float]:
        return dict(self._parameters)

    def set_parameters(self, values: Mapping[str, float]) -> None:
        checked = self._checked(values, self._description.parameters, "parameter")
        self._parameters.update(checked)
        self._parameters_changed(checked)

    def state(self) -> dict[str, float]:
        return dict(self._state)

    def set_state(self, values: Mapping[str, float]) -> None:
        self._state.update(self._checked(values, self._description.states, "state"))

    def inputs(self) -> dict[str, float]:
        return dict(self._inputs)

    def set_inputs(self, values: Mapping[str, float]) -> None:
        self._inputs.update(self._checked(values, self._description.inputs, "input"))

    def outputs(self) -> dict[str, float]:
        return self._outputs()

    def advance(self, dt: float) -> None:
        if not dt > 0 or math.isinf(dt):
            raise SimulationError(
                f"advance needs a positive, finite step in seconds, got {dt!r}", model=self.name
            )
        try:
            self._advance(dt)
        except SimulationError:
            raise
        except (ArithmeticError, ValueError, TypeError, KeyError) as error:
            raise SimulationError(
                f"failed while advancing from t={self._time:g} s by {dt:g} s: "
                f"{type(error).__name__}: {error}",
                model=self.name,
            ) from error
        self._time += dt
        self._check_finite()

    def snapshot(self) -> Snapshot:
        return Snapshot(self.name, self._time, self.parameters(), self.state(), self.inputs())

    def restore(self, snapshot: Snapshot) -> None:
        if snapshot.model != self.name:
            raise SimulationError(
                f"cannot restore a snapshot of model {snapshot.model!r}", model=self.name
            )
        self.set_parameters(snapshot.parameters)
        self.set_state(snapshot.state)
        self.set_inputs(snapshot.inputs)
        self._time = snapshot.time

    def close(self) -> None:
        """Release what the model holds (an FMU's instance); plain models hold nothing."""

    # -- for subclasses --------------------------------------------------------------
    def _advance(self, dt: float) -> None:
        raise NotImplementedError

    def _outputs(self) -> dict[str, float]:
        raise NotImplementedError

    def _parameters_changed(self, changed: Mapping[str, float]) -> None:
        """Hook for models that precompute from their parameters."""

    def _check_finite(self) -> None:
        bad = sorted(name for name, value in self.state().items() if not math.isfinite(value))
        if bad:
            raise SimulationError(
                f"diverged at t={self._time:g} s: state {', '.join(bad)} is not finite",
                model=self.name,
                code="SimulationDiverged",
            )

    def _checked(
        self, values: Mapping[str, float], declared: Iterable[Variable], kind: str
    ) -> dict[str, float]:
        by_name = {v.name: v for v in declared}
        checked: dict[str, float] = {}
        unknown = sorted(set(values) - by_name.keys())
        if unknown:
            known = ", ".join(by_name) or "none"
            raise SimulationError(
                f"has no {kind} {', '.join(map(repr, unknown))} (its {kind}s: {known})",
                model=self.name,
            )
        for name, value in values.items():
            checked[name] = by_name[name].check(value, kind=kind, model=self.name)
        return checked
