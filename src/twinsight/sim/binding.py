"""Models bound to twins, described rather than coded.

A :class:`ModelBinding` attaches a catalogued model to one twin, or to every twin of a DTDL
model, and says where each of its variables lives on the twin: parameters read from twin
properties (a motor's ``ratedPower``), states started from the twin's live values (its
winding temperature, so a fork starts where reality is), inputs read before each step (a
setpoint an operator wrote) and outputs written after it (telemetry or properties).

A :class:`Coupling` wires bound twins to each other through the graph: for every
relationship of a given name between two bound twins, an output of one feeds an input of
the other (a pump ``drivenBy`` a motor takes the motor's speed). :func:`build_simulation`
turns bindings and couplings into a :class:`~twinsight.sim.cosim.CoSimulation` whose
members are named by twin id.

Units: a variable's unit (as DTDL names it, e.g. ``degreeCelsius``) is converted to and
from the unit the twin's DTDL model declares for the bound property or telemetry, so a
model in kelvin can feed a twin in degrees Celsius.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from twinsight.core.errors import BadRequest, NotFound, SimulationError, TwinsightError
from twinsight.graph.service import TwinGraph
from twinsight.history import History
from twinsight.ingest.units import converter
from twinsight.sim.cosim import Algorithm, Connection, CoSimulation
from twinsight.sim.model import SimulationModel, Variable

ValueKind = Literal["property", "telemetry"]
ModelFactory = Callable[[str], SimulationModel]
"""Builds a fresh model instance for the member (twin id) it will simulate."""


@dataclass(frozen=True, slots=True)
class TwinValue:
    """Where a value lives on a twin: a property or telemetry ``path`` (``name`` or
    ``component.name``)."""

    path: str
    kind: ValueKind = "property"

    @classmethod
    def parse(cls, text: str | TwinValue) -> TwinValue:
        """``"temperature"`` is a property; ``"telemetry:temperature"`` is telemetry."""
        if isinstance(text, TwinValue):
            return text
        kind, _, path = text.rpartition(":")
        if kind not in ("", "property", "telemetry") or not path:
            raise SimulationError(
                f"bad twin value {text!r}: write 'name', 'component.name', "
                "'property:name' or 'telemetry:name'"
            )
        return cls(path, kind or "property")  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class ModelBinding:
    """One model attached to ``twin``, or to every twin of ``dtdl_model`` (and its
    subtypes). Mappings go from model variable name to twin value."""

    model: str
    twin: str | None = None
    dtdl_model: str | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    states: Mapping[str, str | TwinValue] = field(default_factory=dict)
    inputs: Mapping[str, str | TwinValue] = field(default_factory=dict)
    outputs: Mapping[str, str | TwinValue] = field(default_factory=dict)
    values: Mapping[str, float] = field(default_factory=dict)
    """Fixed parameter values (applied after those read from the twin)."""

    def __post_init__(self) -> None:
        if (self.twin is None) == (self.dtdl_model is None):
            raise SimulationError(
                f"a binding of model {self.model!r} names either a twin or a DTDL model, "
                "not both and not neither"
            )

    @property
    def target(self) -> str:
        return self.twin if self.twin is not None else f"every {self.dtdl_model}"


@dataclass(frozen=True, slots=True)
class Coupling:
    """For each relationship ``relationship`` from a twin bound to ``source_model`` to a
    twin bound to ``target_model``: ``output`` of one feeds ``input`` of the other — of the
    target when ``reverse`` is false, of the source when it is true (a pump ``drivenBy`` a
    motor takes the motor's speed: the relationship's target feeds its source)."""

    relationship: str
    source_model: str
    target_model: str
    output: str
    input: str
    reverse: bool = False
    gain: float = 1.0
    offset: float = 0.0


class ValueReader(Protocol):
    """Reads a twin's value now (``at=None``) or as it was at a past time."""

    def read(self, twin_id: str, value: TwinValue, at: datetime | None) -> Any: ...


class GraphValues:
    """Twin values from the graph (current properties) and history (telemetry, and any
    value at a past time: the newest point at or before it)."""

    def __init__(self, graph: TwinGraph, history: History | None = None) -> None:
        self._graph = graph
        self._history = history

    def read(self, twin_id: str, value: TwinValue, at: datetime | None) -> Any:
        if value.kind == "property" and at is None:
            current: Any = self._graph.get_twin(twin_id)
            for part in value.path.split("."):
                if not isinstance(current, Mapping) or part not in current:
                    return None
                current = current[part]
            return current
        if self._history is None:
            return None
        series = f"{twin_id}/{value.path}"
        try:
            if at is None:
                points = self._history.latest([series])
            else:
                points = self._history.range(series, end=_just_after(at), limit=1, order="desc")
        except BadRequest:  # no such series recorded yet
            return None
        return points[0].value if points else None


def _just_after(at: datetime) -> datetime:
    return at + timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Route:
    """A model variable and the twin value it is bound to, with the unit conversions."""

    member: str
    variable: str
    value: TwinValue
    to_twin: Callable[[float], float]
    to_model: Callable[[float], float]


@dataclass
class TwinSimulation:
    """A co-simulation of bound twins, with the routes between its variables and the
    twins (inputs read before a step, outputs written after it)."""

    cosim: CoSimulation
    models: Mapping[str, str]
    """Catalogue model name of each member (twin id)."""
    inputs: list[Route]
    outputs: list[Route]
    states: list[Route]
    notes: list[str] = field(default_factory=list)
    """What was not found on the twins and was left at the model's default."""

    @property
    def members(self) -> Mapping[str, SimulationModel]:
        return self.cosim.members

    def close(self) -> None:
        self.cosim.close()


class SimulationBuilder:
    """Turns bindings and couplings into a :class:`TwinSimulation` of the twins in the graph
    (optionally only a subgraph, and with values as they were at a past time)."""

    def __init__(
        self,
        graph: TwinGraph,
        catalog: Mapping[str, ModelFactory],
        reader: ValueReader | None = None,
    ) -> None:
        self._graph = graph
        self._catalog = catalog
        self._reader = reader or GraphValues(graph)

    def build(
        self,
        bindings: Sequence[ModelBinding],
        couplings: Sequence[Coupling] = (),
        *,
        twins: Iterable[str] | None = None,
        at: datetime | None = None,
        algorithm: Algorithm = "gauss-seidel",
    ) -> TwinSimulation:
        only = set(twins) if twins is not None else None
        bound = self._resolve(bindings, only)
        if not bound:
            raise SimulationError(
                "no twin matches the bindings"
                + (f" among {', '.join(sorted(only))}" if only is not None else "")
            )
        members: dict[str, SimulationModel] = {}
        notes: list[str] = []
        inputs: list[Route] = []
        outputs: list[Route] = []
        states: list[Route] = []
        try:
            for twin_id, binding in bound.items():
                model = self._instantiate(binding, twin_id)
                members[twin_id] = model
                self._apply_parameters(model, binding, twin_id, at, notes)
                states += self._routes(model, binding, binding.states, twin_id, "states")
                inputs += self._routes(model, binding, binding.inputs, twin_id, "inputs")
                outputs += self._routes(model, binding, binding.outputs, twin_id, "outputs")
            for route in states:
                read = self._read_number(route, at)
                if read is None:
                    notes.append(f"{route.member}: no value for state {route.variable}; default")
                else:
                    members[route.member].set_state({route.variable: read})
            connections = self._connections(couplings, bound)
            fed = {(c.target, c.input) for c in connections}
            inputs = [r for r in inputs if (r.member, r.variable) not in fed]
            cosim = CoSimulation(members, connections, algorithm=algorithm)
        except BaseException:
            for model in members.values():
                model.close()
            raise
        return TwinSimulation(
            cosim, {t: b.model for t, b in bound.items()}, inputs, outputs, states, notes
        )

    # ------------------------------------------------------------------ pieces
    def _resolve(
        self, bindings: Sequence[ModelBinding], only: set[str] | None
    ) -> dict[str, ModelBinding]:
        bound: dict[str, ModelBinding] = {}
        for binding in bindings:
            if binding.model not in self._catalog:
                known = ", ".join(sorted(self._catalog)) or "none"
                raise SimulationError(
                    f"binding for {binding.target}: no model {binding.model!r} in the "
                    f"catalogue (known: {known})"
                )
            if binding.twin is not None:
                try:
                    self._graph.get_twin(binding.twin)
                except NotFound:
                    raise SimulationError(
                        f"binding of model {binding.model!r}: there is no twin {binding.twin!r}"
                    ) from None
                ids = [binding.twin]
            else:
                ids = self._twins_of(binding.dtdl_model or "")
            for twin_id in ids:
                if only is not None and twin_id not in only:
                    continue
                if twin_id in bound and binding.twin is None:
                    continue  # a twin bound by name, or by an earlier binding, keeps it
                bound[twin_id] = binding
        if only is not None:
            unknown = sorted(only - set(bound))
            missing = [t for t in unknown if not self._exists(t)]
            if missing:
                raise SimulationError(f"no such twin: {', '.join(missing)}")
        return bound

    def _exists(self, twin_id: str) -> bool:
        try:
            self._graph.get_twin(twin_id)
        except NotFound:
            return False
        return True

    def _twins_of(self, dtdl_model: str) -> list[str]:
        text = f"SELECT T.$dtId FROM digitaltwins T WHERE IS_OF_MODEL('{dtdl_model}')"
        ids: list[str] = []
        page = self._graph.query(text, page_size=1000)
        while True:
            ids += [item["$dtId"] for item in page.items]
            if page.continuation is None:
                return sorted(ids)
            page = self._graph.query(None, continuation=page.continuation, page_size=1000)

    def _instantiate(self, binding: ModelBinding, twin_id: str) -> SimulationModel:
        try:
            return self._catalog[binding.model](twin_id)
        except TwinsightError:
            raise
        except Exception as error:  # a user's factory: report it on this twin only
            raise SimulationError(
                f"could not build model {binding.model!r} for twin {twin_id!r}: "
                f"{type(error).__name__}: {error}",
                model=twin_id,
            ) from error

    def _apply_parameters(
        self,
        model: SimulationModel,
        binding: ModelBinding,
        twin_id: str,
        at: datetime | None,
        notes: list[str],
    ) -> None:
        values: dict[str, float] = {}
        declared = {v.name: v for v in model.description.parameters}
        for parameter, path in binding.parameters.items():
            variable = _declared(declared, parameter, "parameter", binding.model, twin_id)
            route = self._route(twin_id, variable, TwinValue(path))
            read = self._read_number(route, at)
            if read is None:
                notes.append(f"{twin_id}: no value for parameter {parameter}; default")
            else:
                values[parameter] = read
        for parameter, value in binding.values.items():
            _declared(declared, parameter, "parameter", binding.model, twin_id)
            values[parameter] = value
        model.set_parameters(values)

    def _routes(
        self,
        model: SimulationModel,
        binding: ModelBinding,
        mapping: Mapping[str, str | TwinValue],
        twin_id: str,
        kind: Literal["states", "inputs", "outputs"],
    ) -> list[Route]:
        declared = {v.name: v for v in getattr(model.description, kind)}
        return [
            self._route(
                twin_id,
                _declared(declared, variable, kind[:-1], binding.model, twin_id),
                TwinValue.parse(text),
            )
            for variable, text in mapping.items()
        ]

    def _route(self, twin_id: str, variable: Variable, value: TwinValue) -> Route:
        try:
            target = self._graph.value_target(twin_id, value.kind, value.path)
        except TwinsightError as error:
            raise SimulationError(
                f"twin {twin_id!r} cannot hold {variable.name} at {value.kind} "
                f"{value.path!r}: {error.message}",
                model=twin_id,
            ) from None
        if variable.unit and target.unit:
            try:
                to_twin = converter(variable.unit, target.unit)
                to_model = converter(target.unit, variable.unit)
            except TwinsightError as error:
                raise SimulationError(
                    f"{variable.name} is in {variable.unit} but twin {twin_id!r} declares "
                    f"{value.path} in {target.unit}: {error.message}",
                    model=twin_id,
                ) from None
        else:
            to_twin = to_model = _same
        return Route(twin_id, variable.name, value, to_twin, to_model)

    def _read_number(self, route: Route, at: datetime | None) -> float | None:
        raw = self._reader.read(route.member, route.value, at)
        if raw is None:
            return None
        if isinstance(raw, bool):
            return 1.0 if raw else 0.0
        if isinstance(raw, int | float) and math.isfinite(raw):
            return route.to_model(float(raw))
        if isinstance(raw, str) and raw in _STATE_WORDS:
            return _STATE_WORDS[raw]
        raise SimulationError(
            f"twin {route.member!r}: {route.value.path} = {raw!r} is not a number for "
            f"{route.variable}",
            model=route.member,
        )

    def _connections(
        self, couplings: Sequence[Coupling], bound: Mapping[str, ModelBinding]
    ) -> list[Connection]:
        connections: list[Connection] = []
        for coupling in couplings:
            for twin_id, binding in bound.items():
                if binding.model != coupling.source_model:
                    continue
                for rel in self._graph.list_relationships(twin_id, coupling.relationship):
                    target = rel["$targetId"]
                    if target not in bound or bound[target].model != coupling.target_model:
                        continue
                    source, sink = (target, twin_id) if coupling.reverse else (twin_id, target)
                    connections.append(
                        Connection(
                            source,
                            coupling.output,
                            sink,
                            coupling.input,
                            coupling.gain,
                            coupling.offset,
                        )
                    )
        return connections


_STATE_WORDS = {"running": 1.0, "stopped": 0.0, "on": 1.0, "off": 0.0}
"""Enum values that map naturally onto a 0/1 input (a machine's operating state)."""


def _declared(
    declared: Mapping[str, Variable], name: str, kind: str, model: str, twin_id: str
) -> Variable:
    variable = declared.get(name)
    if variable is None:
        known = ", ".join(sorted(declared)) or "none"
        raise SimulationError(
            f"binding of model {model!r} to twin {twin_id!r} names {kind} {name!r}, which the "
            f"model does not have (its {kind}s: {known})",
            model=twin_id,
        )
    return variable


def _same(value: float) -> float:
    return value
