"""The simulation catalogue as a user reads it: what each model of a world is, what it takes
and gives, where it is bound on the twins, and what a what-if run may change.

A what-if's :class:`~twinsight.sim.forks.Changes` name model variables (``efficiency``,
``speed_setpoint``), not twin properties, and :func:`~twinsight.sim.forks.prepare` refuses
a change to an input that a coupling feeds. This listing shows those names with their
units, defaults and bounds, read from the same :class:`~twinsight.sim.spec.SimulationSpec`
and the same catalogue factories a scenario builds its models from, so the names listed are
the names a run accepts (``GET /simulation/models``, ``twinsight sim models``).

A model's description is read from one instance its factory builds (and closes again) for
a member named after the catalogue entry. A factory whose models differ per twin (a random
seed drawn from the twin id) shows the defaults of that one instance.

What may change in a what-if: every parameter, and every input no coupling feeds.
An input a coupling feeds (a pump's speed, fed by its motor through ``drivenBy``) is set
from the other model every step, so a change there would never be seen; it is listed with
``fed_by`` and is not changeable. The refusal applies where the relationship joins two
simulated twins in the fork, which is every such pair in a fork of the whole world.
States are where a fork starts from, and outputs are results: neither is a change.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from twinsight.core.errors import NotFound, TwinsightError
from twinsight.graph.service import TwinGraph
from twinsight.sim.binding import (
    Coupling,
    ModelBinding,
    ModelFactory,
    SimulationBuilder,
    TwinValue,
)
from twinsight.sim.model import ModelDescription, Variable
from twinsight.sim.spec import SimulationSpec

VariableKind = Literal["parameter", "state", "input", "output"]
KINDS: tuple[VariableKind, ...] = ("parameter", "state", "input", "output")


@dataclass(frozen=True, slots=True)
class CatalogueVariable:
    """One variable of a catalogue model, with what a what-if may do with it."""

    kind: VariableKind
    variable: Variable
    default: float | None
    """The value a freshly built model has (``None`` for outputs, which are results)."""
    changeable: bool
    """Whether a what-if's changes may set it (parameters, and inputs no coupling feeds)."""
    fed_by: str | None = None
    """For an input: the coupling that feeds it, e.g. ``"motor.speed via drivenBy"``."""
    feeds: tuple[str, ...] = ()
    """For an output: the inputs of other models it feeds through couplings."""
    recorded: bool = False
    """For an output: whether what-if runs record it (the spec's ``record``)."""

    @property
    def name(self) -> str:
        return self.variable.name

    def to_dict(self) -> dict[str, Any]:
        v = self.variable
        body: dict[str, Any] = {
            "name": v.name,
            "unit": v.unit,
            "default": self.default,
            "min": _bound(v.min),
            "max": _bound(v.max),
            "description": v.description,
            "changeable": self.changeable,
        }
        if self.kind == "input":
            body["fedBy"] = self.fed_by
        if self.kind == "output":
            body["feeds"] = list(self.feeds)
            body["recorded"] = self.recorded
        return body


@dataclass(frozen=True, slots=True)
class CatalogueBinding:
    """A binding of the model from the spec, and the twins it simulates in the graph now."""

    binding: ModelBinding
    twins: tuple[str, ...]

    def mapping(self, kind: VariableKind) -> dict[str, str]:
        """Model variable → twin value (``property:path`` or ``telemetry:path``)."""
        b = self.binding
        if kind == "parameter":  # always read from properties (see SimulationBuilder)
            return {name: f"property:{path}" for name, path in b.parameters.items()}
        return _mapping({"state": b.states, "input": b.inputs, "output": b.outputs}[kind])

    def to_dict(self) -> dict[str, Any]:
        b = self.binding
        return {
            "twin": b.twin,
            "dtdlModel": b.dtdl_model,
            "fleet": b.fleet,
            **{f"{kind}s": self.mapping(kind) for kind in KINDS},
            "values": dict(b.values),
            "twins": list(self.twins),
        }


@dataclass(frozen=True, slots=True)
class CatalogueModel:
    """One model of the world's catalogue, as :func:`describe_catalogue` reads it."""

    name: str
    description: str
    variables: tuple[CatalogueVariable, ...]
    bindings: tuple[CatalogueBinding, ...]
    fleet_factory: bool
    """Whether the world also has a vectorised (fleet) factory of this model."""
    problems: tuple[str, ...] = ()
    """What could not be read (a factory that raised, bindings the graph cannot resolve)."""

    def of_kind(self, kind: VariableKind) -> tuple[CatalogueVariable, ...]:
        return tuple(v for v in self.variables if v.kind == kind)

    def variable(self, kind: VariableKind, name: str) -> CatalogueVariable:
        for v in self.variables:
            if v.kind == kind and v.name == name:
                return v
        known = ", ".join(v.name for v in self.of_kind(kind)) or "none"
        raise NotFound(f"model {self.name!r} has no {kind} {name!r} (its {kind}s: {known})")

    def bound_to(self, kind: VariableKind, name: str) -> tuple[str, ...]:
        """Where the bindings take or put this variable on the twins, and fixed values
        (``= 60``), without repeats."""
        found: list[str] = []
        for b in self.bindings:
            text = b.mapping(kind).get(name)
            if text is None and kind == "parameter" and name in b.binding.values:
                text = f"= {b.binding.values[name]:g}"
            if text is not None and text not in found:
                found.append(text)
        return tuple(found)

    @property
    def twins(self) -> tuple[str, ...]:
        """Every twin this model simulates now, in binding order."""
        return tuple(t for b in self.bindings for t in b.twins)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "fleetFactory": self.fleet_factory,
            **{f"{kind}s": [v.to_dict() for v in self.of_kind(kind)] for kind in KINDS},
            "bindings": [b.to_dict() for b in self.bindings],
            "twins": list(self.twins),
            "problems": list(self.problems),
        }


def catalogue_dict(spec: SimulationSpec, models: list[CatalogueModel]) -> dict[str, Any]:
    """The JSON form of a world's catalogue, as the API answers it and the CLI prints it."""
    return {
        "description": spec.description,
        "step": spec.step,
        "value": [m.to_dict() for m in models],
    }


def describe_catalogue(
    spec: SimulationSpec, graph: TwinGraph | None = None
) -> list[CatalogueModel]:
    """Every catalogue model of ``spec``, in catalogue order; with ``graph``, the twins each
    binding simulates now. A model that cannot be read is listed with its problem; the
    others are still described."""
    bound, problem = _bound_twins(spec, graph)
    return [
        _describe(spec, name, factory, bound, problem) for name, factory in spec.catalog.items()
    ]


def describe_model(
    spec: SimulationSpec, name: str, graph: TwinGraph | None = None
) -> CatalogueModel:
    """One catalogue model of ``spec`` (see :func:`describe_catalogue`); an unknown name is
    a :class:`NotFound` listing the known ones."""
    factory = spec.catalog.get(name)
    if factory is None:
        known = ", ".join(spec.catalog) or "none"
        raise NotFound(
            f"the simulated world has no model {name!r} (its models: {known})",
            code="SimulationModelNotFound",
        )
    bound, problem = _bound_twins(spec, graph)
    return _describe(spec, name, factory, bound, problem)


# ------------------------------------------------------------------------------ pieces


def _describe(
    spec: SimulationSpec,
    name: str,
    factory: ModelFactory,
    bound: Mapping[str, ModelBinding],
    resolve_problem: str | None,
) -> CatalogueModel:
    bindings = tuple(
        CatalogueBinding(b, tuple(t for t, chosen in bound.items() if chosen is b))
        for b in spec.bindings
        if b.model == name
    )
    problems = [resolve_problem] if resolve_problem and bindings else []
    read = _read(name, factory)
    defaults: dict[tuple[str, str], float] = {}
    if isinstance(read, str):
        problems.append(read)
        description = ModelDescription(name)
    else:
        description, defaults = read
    fed_by, feeds = _couplings(spec.couplings, name)
    record = set(spec.record)
    variables = [
        CatalogueVariable("parameter", v, defaults.get(("parameter", v.name)), changeable=True)
        for v in description.parameters
    ]
    variables += [
        CatalogueVariable("state", v, defaults.get(("state", v.name)), changeable=False)
        for v in description.states
    ]
    variables += [
        CatalogueVariable(
            "input",
            v,
            defaults.get(("input", v.name)),
            changeable=v.name not in fed_by,
            fed_by=fed_by.get(v.name),
        )
        for v in description.inputs
    ]
    variables += [
        CatalogueVariable(
            "output",
            v,
            None,
            changeable=False,
            feeds=tuple(feeds.get(v.name, ())),
            recorded=not record or _recorded(v.name, record),
        )
        for v in description.outputs
    ]
    return CatalogueModel(
        name,
        description.description,
        tuple(variables),
        bindings,
        fleet_factory=name in spec.fleets,
        problems=tuple(problems),
    )


def _read(
    name: str, factory: ModelFactory
) -> tuple[ModelDescription, dict[tuple[str, str], float]] | str:
    """The description and starting values of a model the factory builds, or why it could
    not be built (a user's factory may raise anything: it is reported, not raised)."""
    try:
        model = factory(name)
    except Exception as error:
        message = error.message if isinstance(error, TwinsightError) else str(error)
        return f"could not build model {name!r}: {type(error).__name__}: {message}"
    try:
        values = (
            {("parameter", k): v for k, v in model.parameters().items()}
            | {("state", k): v for k, v in model.state().items()}
            | {("input", k): v for k, v in model.inputs().items()}
        )
        return model.description, values
    finally:
        model.close()


def _bound_twins(
    spec: SimulationSpec, graph: TwinGraph | None
) -> tuple[dict[str, ModelBinding], str | None]:
    """Which binding simulates each twin now (as a fork would choose), or why the graph
    cannot say."""
    if graph is None:
        return {}, None
    builder = SimulationBuilder(graph, spec.catalog, fleets=spec.fleets)
    try:
        return builder.resolve(spec.bindings), None
    except TwinsightError as error:
        return {}, f"the bindings do not resolve on the twin graph: {error.message}"


def _couplings(
    couplings: tuple[Coupling, ...], model: str
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The inputs of ``model`` that couplings feed (with where from) and the outputs that
    feed other models' inputs (with where to)."""
    fed_by: dict[str, list[str]] = {}
    feeds: dict[str, list[str]] = {}
    for c in couplings:
        # a coupling's output belongs to the relationship's source model unless reversed
        giver, taker = (
            (c.target_model, c.source_model) if c.reverse else (c.source_model, c.target_model)
        )
        scale = _scale(c)
        if taker == model:
            fed_by.setdefault(c.input, []).append(f"{giver}.{c.output} via {c.relationship}{scale}")
        if giver == model:
            feeds.setdefault(c.output, []).append(f"{taker}.{c.input} via {c.relationship}{scale}")
    return {name: "; ".join(sources) for name, sources in fed_by.items()}, feeds


def _scale(c: Coupling) -> str:
    parts = []
    if c.gain != 1.0:
        parts.append(f"× {c.gain:.4g}")
    if c.offset != 0.0:
        parts.append(f"{'+' if c.offset > 0 else '−'} {abs(c.offset):.4g}")
    return f" ({' '.join(parts)})" if parts else ""


def _recorded(output: str, record: set[str]) -> bool:
    """As :func:`~twinsight.sim.forks.fork_of` chooses: by bare name, or as some twin's."""
    return output in record or any(r.rpartition(".")[2] == output for r in record)


def _mapping(mapping: Mapping[str, str | TwinValue]) -> dict[str, str]:
    values = {name: TwinValue.parse(text) for name, text in mapping.items()}
    return {name: f"{value.kind}:{value.path}" for name, value in values.items()}


def _bound(value: float) -> float | None:
    """A bound as JSON can hold it: unbounded is ``None``."""
    return value if math.isfinite(value) else None
