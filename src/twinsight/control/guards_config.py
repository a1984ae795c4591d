"""The guard file: bounds, rate limits, interlocks, modes and simulate-first constraints,
per DTDL model or twin, per command or property (YAML; format in docs/guards.md).

>>> spec = parse_guards('''
... guards:
...   - name: motor-speed
...     model: dtmi:twinsight:factory:Motor;1
...     property: speedSetpoint
...     bounds: {min: 0, max: 1700, unit: revolutionPerMinute}
...     rate: {max_actions: 6, per: 10 min}
...     interlocks:
...       - when: "state == 'fault'"
... ''', "guards.yaml")
>>> spec.guards[0].bounds.max, spec.guards[0].rate.per
(1700.0, 600.0)

A shape mistake is refused with its line and field; names are checked against the twin
graph's models by :func:`check_guards` (unknown model, twin, property or command, a unit
that does not measure what the model's does).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator, model_validator

from twinsight.control.actions import Mode
from twinsight.control.guards_conditions import Condition, ConditionError
from twinsight.control.guards_state import TwinState
from twinsight.control.guards_yaml import (
    ControlFileError,
    Strict,
    entry_name,
    parse_yaml,
    read_text,
    seconds,
    unique_names,
)
from twinsight.core.errors import TwinsightError
from twinsight.core.locations import line_of
from twinsight.ingest.units import UnitError, converter

ACTION_NAMES = frozenset({"value", "current"})
"""Names a guard's conditions may use besides the twin's: the action's value and the
property's current value on the acted-on twin."""


def _duration(value: Any) -> float:
    return seconds(value)


class Bounds(Strict):
    """``min``/``max`` of a property's value or a command's argument, in ``unit`` (the
    model's declared unit when omitted)."""

    min: float | None = None
    max: float | None = None
    unit: str | None = None
    argument: str | None = None
    """For a command: the request field to check (the whole request when omitted)."""

    @model_validator(mode="after")
    def _ordered(self) -> Bounds:
        if self.min is None and self.max is None:
            raise ValueError("bounds need a min, a max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} is over max {self.max:g}")
        return self


class Rate(Strict):
    """At most ``max_actions`` per ``per`` per twin; a set-point moves at most
    ``max_step`` per ``step_per`` (both optional)."""

    max_actions: int | None = Field(default=None, ge=1, le=1_000_000)
    per: float = 60.0
    max_step: float | None = Field(default=None, gt=0.0)
    step_per: float = 60.0
    step_direction: Literal["both", "up", "down"] = "both"
    """Which changes ``max_step`` limits: ``up`` lets a set-point fall at once (slowing a
    machine down is what protects it), ``down`` lets it rise at once."""

    _per = field_validator("per", "step_per", mode="before")(_duration)

    @model_validator(mode="after")
    def _something(self) -> Rate:
        if self.max_actions is None and self.max_step is None:
            raise ValueError("a rate needs max_actions, max_step or both")
        if self.per <= 0 or self.step_per <= 0:
            raise ValueError("a rate's window must be longer than zero")
        return self


class Interlock(Strict):
    """The action is refused while ``when`` holds on the twin (or on each twin reached
    ``via`` relationships, ``feeds.feeds``)."""

    when: str
    via: str | None = Field(default=None, pattern=r"^\^?[A-Za-z][\w]*(\.\^?[A-Za-z][\w]*)*$")
    reason: str = ""

    @field_validator("when")
    @classmethod
    def _parses(cls, text: str) -> str:
        try:
            Condition.parse(text, extra_names=ACTION_NAMES)
        except ConditionError as exc:
            raise ValueError(str(exc)) from None
        return text

    @property
    def condition(self) -> Condition:
        return Condition.parse(self.when, extra_names=ACTION_NAMES)


class Constraint(Strict):
    """A simulated output that must stay within ``min``/``max`` over the horizon, on the
    acted-on twin or on the twins reached ``via`` relationships."""

    output: str = Field(min_length=1)
    via: str | None = Field(default=None, pattern=r"^\^?[A-Za-z][\w]*(\.\^?[A-Za-z][\w]*)*$")
    min: float | None = None
    max: float | None = None
    unit: str = ""

    @model_validator(mode="after")
    def _limits(self) -> Constraint:
        if self.min is None and self.max is None:
            raise ValueError("a constraint needs a min, a max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min:g} is over max {self.max:g}")
        return self


class Simulate(Strict):
    """Simulate before actuating: run the action on a fork of now for ``horizon``."""

    horizon: float = 7200.0
    step: float | None = None
    neighbourhood: int = Field(default=2, ge=0, le=5)
    """Relationship hops (either way) of twins forked with the acted-on one, so the
    machines it is coupled to are simulated with it."""
    inputs: dict[str, float] = Field(default_factory=dict)
    """For a command: the model inputs it sets (``start``: ``{running: 1}``)."""
    constraints: list[Constraint] = Field(min_length=1)

    _h = field_validator("horizon", "step", mode="before")(
        lambda v: None if v is None else seconds(v)
    )

    @model_validator(mode="after")
    def _positive(self) -> Simulate:
        if self.horizon <= 0:
            raise ValueError("the horizon must be longer than zero")
        if self.step is not None and not 0 < self.step <= self.horizon:
            raise ValueError("the step must be longer than zero and at most the horizon")
        return self


class GuardEntry(Strict):
    """The guards of one action (a property or a command) on one model's twins or on
    listed twins."""

    name: str = Field(min_length=1, max_length=100)
    model: str | None = None
    twins: list[str] | None = None
    property_name: str | None = Field(default=None, alias="property")
    command: str | None = None
    mode: Mode = "auto"
    bounds: Bounds | None = None
    rate: Rate | None = None
    interlocks: list[Interlock] = Field(default_factory=list)
    simulate: Simulate | None = None

    _name = field_validator("name")(entry_name)

    @model_validator(mode="after")
    def _target(self) -> GuardEntry:
        if (self.model is None) == (self.twins is None):
            raise ValueError("name either a model or twins, not both and not neither")
        if (self.property_name is None) == (self.command is None):
            raise ValueError("name either a property or a command, not both and not neither")
        if self.twins is not None and not self.twins:
            raise ValueError("twins must name at least one twin")
        return self

    @property
    def action_kind(self) -> str:
        return "property" if self.property_name is not None else "command"

    @property
    def action_name(self) -> str:
        return self.property_name if self.property_name is not None else str(self.command)


class GuardSpec(Strict):
    """A whole guard file."""

    guards: list[GuardEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique(self) -> GuardSpec:
        unique_names((entry.name for entry in self.guards), "guard")
        return self


def parse_guards(text: str, name: str) -> GuardSpec:
    """Parse and check a guard file's shape (see :func:`check_guards` for its names)."""
    spec, _ = parse_yaml(text, name, GuardSpec)
    return spec


def load_guards_file(path: Path | str, state: TwinState | None = None) -> GuardSpec:
    """Read a guard file, check its shape and, given ``state``, its names and units."""
    text = read_text(path)
    spec, root = parse_yaml(text, str(path), GuardSpec)
    if state is not None:
        check_guards(spec, state, str(path), root)
    return spec


def check_guards(
    spec: GuardSpec, state: TwinState, name: str = "guards", root: yaml.Node | None = None
) -> None:
    """Check every entry's model or twins, property or command and units against the
    twin graph; one :class:`ControlFileError` lists every problem with its line."""
    problems: list[str] = []
    for i, entry in enumerate(spec.guards):

        def where(*loc: Any, i: int = i) -> str:
            line = line_of(root, ("guards", i, *loc)) if root is not None else None
            field = ".".join(str(p) for p in ("guards", i, *loc))
            return f"{name}: line {line}: {field}" if line is not None else f"{name}: {field}"

        targets: list[tuple[str | None, str | None]] = (
            [(entry.model, None)]
            if entry.model is not None
            else [(None, t) for t in entry.twins or ()]
        )
        for model, twin in targets:
            try:
                interface = state.interface(model=model, twin=twin)
            except TwinsightError as exc:
                problems.append(f"{where('model' if model else 'twins')}: {exc.message}")
                continue
            kinds = ("properties",) if entry.property_name is not None else ("commands",)
            declared = state.declared(interface, entry.action_name, kinds)
            if declared is None:
                problems.append(
                    f"{where(entry.action_kind)}: {interface.id} declares no "
                    f"{entry.action_kind} {entry.action_name!r}"
                )
                continue
            unit = getattr(declared, "unit", None)
            if entry.bounds is not None and entry.bounds.unit and unit:
                try:
                    converter(entry.bounds.unit, unit)
                except UnitError as exc:
                    problems.append(f"{where('bounds', 'unit')}: {exc.message}")
            for k, interlock in enumerate(entry.interlocks):
                if interlock.via is None:
                    problems += state.check_names(
                        interface, interlock.condition.names, where("interlocks", k, "when")
                    )
                else:
                    problems += _check_via(interface, interlock.via, where("interlocks", k, "via"))
            for k, constraint in enumerate(entry.simulate.constraints if entry.simulate else ()):
                if constraint.via is not None:
                    problems += _check_via(
                        interface, constraint.via, where("simulate", "constraints", k, "via")
                    )
    if problems:
        raise ControlFileError(problems)


def _check_via(interface: Any, via: str, where: str) -> list[str]:
    """The first hop of a relationship path must be a relationship the model declares
    (later hops start from other models, checked when followed: an unknown name reaches
    no twin)."""
    first = via.split(".", maxsplit=1)[0]
    if first.startswith("^") or first in interface.relationships:
        return []
    known = ", ".join(sorted(interface.relationships)) or "none"
    return [f"{where}: {interface.id} declares no relationship {first!r} (it has: {known})"]
