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
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, runtime_checkable

from twinsight.core.errors import BadRequest, NotFound, SimulationError, TwinsightError
from twinsight.graph.service import TwinGraph
from twinsight.history import History
from twinsight.ingest.units import converter
from twinsight.sim.cosim import Algorithm, Connection, CoSimulation, FleetConnection
from twinsight.sim.model import SimulationModel, Variable

ValueKind = Literal["property", "telemetry"]
ModelFactory = Callable[[str], SimulationModel]
"""Builds a fresh model instance for the member (twin id) it will simulate."""
FleetFactory = Callable[[Sequence[str]], SimulationModel]
"""Builds one vectorised model (an :class:`~twinsight.sim.ode.OdeFleet`) for many twins,
whose variables are namespaced ``"{twin}.{name}"``."""


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
    fleet: bool = False
    """Simulate all the twins of ``dtdl_model`` as one vectorised model (much faster for
    many twins; needs a fleet factory for ``model``)."""

    def __post_init__(self) -> None:
        if (self.twin is None) == (self.dtdl_model is None):
            raise SimulationError(
                f"a binding of model {self.model!r} names either a twin or a DTDL model, "
                "not both and not neither"
            )
        if self.fleet and self.dtdl_model is None:
            raise SimulationError(
                f"a fleet binding of model {self.model!r} needs a DTDL model, not one twin"
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


class CalibratedParameters(Protocol):
    """The calibrated parameters a twin's model runs with (see
    :class:`~twinsight.sim.parameters.ParameterVersions`), as they were at ``at``."""

    def active_values(
        self, twin_id: str, model_name: str, at: datetime | None = None
    ) -> dict[str, float]: ...


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
    """A model variable and the twin value it is bound to, with the unit conversions.
    ``member`` is the co-simulation member that holds ``variable``: the twin itself, or the
    fleet that simulates it (then ``variable`` is namespaced ``"{twin}.{name}"``)."""

    twin: str
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
    locations: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Per twin: the member simulating it and the prefix of its variables there."""
    measured: frozenset[tuple[str, str]] = frozenset()
    """``(member, state variable)`` of every state started from a twin's value."""

    def start_unmeasured_states(self) -> dict[str, tuple[str, ...]]:
        """Start the states no twin value set where their models say they settle for the
        inputs the twins gave (a model's ``steady_start``, e.g. a motor drive's speed from
        its running state and set-point); the rest keep their declared start. A fork and
        the live plant call it once their inputs are read, so they begin without a
        transient reality never had. The inputs that couplings feed are settled before
        and after (:meth:`CoSimulation.settle_inputs`): a model's start may depend on
        them, and they on the states it starts. Returns the states set per member."""
        self.cosim.settle_inputs()
        started: dict[str, tuple[str, ...]] = {}
        for name, model in self.cosim.members.items():
            if isinstance(model, StartsSteady):
                measured = {variable for member, variable in self.measured if member == name}
                if states := model.start_steady(measured):
                    started[name] = states
        self.cosim.settle_inputs()
        return started

    @property
    def members(self) -> Mapping[str, SimulationModel]:
        return self.cosim.members

    def locate(self, twin_id: str) -> tuple[SimulationModel, str]:
        """The model simulating ``twin_id`` and the prefix of the twin's variables in it
        (empty for a model of its own, ``"{twin}."`` in a fleet)."""
        member, prefix = self.locations.get(twin_id, (twin_id, ""))
        try:
            return self.cosim.members[member], prefix
        except KeyError:
            raise SimulationError(f"twin {twin_id!r} is not simulated here") from None

    def close(self) -> None:
        self.cosim.close()


@runtime_checkable
class StartsSteady(Protocol):
    """A model that can start its unmeasured states settled (an ODE model or fleet)."""

    def start_steady(self, measured: Collection[str] = ()) -> tuple[str, ...]: ...


class SimulationBuilder:
    """Turns bindings and couplings into a :class:`TwinSimulation` of the twins in the graph
    (optionally only a subgraph, and with values as they were at a past time)."""

    def __init__(
        self,
        graph: TwinGraph,
        catalog: Mapping[str, ModelFactory],
        reader: ValueReader | None = None,
        fleets: Mapping[str, FleetFactory] | None = None,
        calibrated: CalibratedParameters | None = None,
    ) -> None:
        self._graph = graph
        self._catalog = catalog
        self._fleets = fleets or {}
        self._reader = reader or GraphValues(graph)
        self._calibrated = calibrated

    def build(
        self,
        bindings: Sequence[ModelBinding],
        couplings: Sequence[Coupling] = (),
        *,
        twins: Iterable[str] | None = None,
        at: datetime | None = None,
        algorithm: Algorithm = "gauss-seidel",
    ) -> TwinSimulation:
        """The co-simulation of the bound twins (those in ``twins`` when given), states and
        inputs read from them (as they were ``at``, when given). States no twin value sets
        keep their declared start, so a run from here is reproducible whatever the twins
        say; :meth:`TwinSimulation.start_unmeasured_states` settles them for the inputs."""
        only = set(twins) if twins is not None else None
        bound = self._resolve(bindings, only)
        if not bound:
            raise SimulationError(
                "no twin matches the bindings"
                + (f" among {', '.join(sorted(only))}" if only is not None else "")
            )
        members: dict[str, SimulationModel] = {}
        locations: dict[str, tuple[str, str]] = {}
        notes: list[str] = []
        inputs: list[Route] = []
        outputs: list[Route] = []
        states: list[Route] = []
        fleets: dict[int, tuple[ModelBinding, list[str]]] = {}
        fleet_index: dict[str, int] = {}  # twin -> its position in its fleet
        try:
            for twin_id, binding in bound.items():
                if binding.fleet:
                    fleets.setdefault(id(binding), (binding, []))[1].append(twin_id)
                    continue
                members[twin_id] = self._instantiate(binding, twin_id)
                locations[twin_id] = (twin_id, "")
            for binding, twin_ids in fleets.values():
                member = self._fleet_name(binding.model, members)
                fleet = members[member] = self._instantiate_fleet(binding, twin_ids)
                order = list(getattr(fleet, "members", twin_ids))
                fleet_index.update({t: i for i, t in enumerate(order)})
                locations.update({t: (member, f"{t}.") for t in twin_ids})
            for twin_id, binding in bound.items():
                member, prefix = locations[twin_id]
                model = members[member]
                self._apply_parameters(model, binding, twin_id, prefix, at, notes)
                where = (twin_id, member, prefix)
                states += self._routes(model, binding, binding.states, where, "states")
                inputs += self._routes(model, binding, binding.inputs, where, "inputs")
                outputs += self._routes(model, binding, binding.outputs, where, "outputs")
            measured: set[tuple[str, str]] = set()
            for route in states:
                read = self._read_number(route, at)
                if read is None:
                    notes.append(f"{route.twin}: no value for state {route.variable}; default")
                else:
                    members[route.member].set_state({route.variable: read})
                    measured.add((route.member, route.variable))
            connections, fed = self._connections(couplings, bound, locations, fleet_index)
            inputs = [r for r in inputs if (r.member, r.variable) not in fed]
            # Inputs start as the twins have them (now, or at the fork time), so a run
            # that reads no twin on the way (a what-if, a sweep) starts from reality too.
            for route in inputs:
                read = self._read_number(route, at)
                if read is not None:
                    members[route.member].set_inputs({route.variable: read})
            cosim = CoSimulation(members, connections, algorithm=algorithm)
        except BaseException:
            for model in members.values():
                model.close()
            raise
        return TwinSimulation(
            cosim,
            {t: b.model for t, b in bound.items()},
            inputs,
            outputs,
            states,
            notes,
            locations,
            frozenset(measured),
        )

    def resolve(self, bindings: Sequence[ModelBinding]) -> dict[str, ModelBinding]:
        """Which binding simulates each twin in the graph now, as :meth:`build` chooses
        (a twin bound by name keeps that binding; otherwise the first DTDL binding wins)."""
        return self._resolve(bindings, None)

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

    @staticmethod
    def _fleet_name(model: str, members: Mapping[str, SimulationModel]) -> str:
        name, n = f"fleet:{model}", 1
        while name in members:
            n += 1
            name = f"fleet:{model}:{n}"
        return name

    def _instantiate_fleet(self, binding: ModelBinding, twin_ids: list[str]) -> SimulationModel:
        factory = self._fleets.get(binding.model)
        if factory is None:
            raise SimulationError(
                f"binding for {binding.target} asks for a fleet, but model {binding.model!r} "
                f"has no fleet factory (fleets: {', '.join(sorted(self._fleets)) or 'none'})"
            )
        try:
            return factory(twin_ids)
        except TwinsightError:
            raise
        except Exception as error:
            raise SimulationError(
                f"could not build a fleet of {binding.model!r} for {len(twin_ids)} twins: "
                f"{type(error).__name__}: {error}"
            ) from error

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
        prefix: str,
        at: datetime | None,
        notes: list[str],
    ) -> None:
        values: dict[str, float] = {}
        declared = {v.name: v for v in model.description.parameters}
        for parameter, path in binding.parameters.items():
            variable = _declared(declared, prefix, parameter, "parameter", binding.model, twin_id)
            route = self._route(twin_id, twin_id, variable, TwinValue(path))
            read = self._read_number(route, at)
            if read is None:
                notes.append(f"{twin_id}: no value for parameter {parameter}; default")
            else:
                values[prefix + parameter] = read
        for parameter, value in binding.values.items():
            _declared(declared, prefix, parameter, "parameter", binding.model, twin_id)
            values[prefix + parameter] = value
        if self._calibrated is not None:  # calibrated on this twin: they win
            for parameter, value in self._calibrated.active_values(
                twin_id, binding.model, at
            ).items():
                if prefix + parameter in declared:
                    values[prefix + parameter] = value
                else:
                    notes.append(f"{twin_id}: calibrated {parameter} is not a parameter; skipped")
        model.set_parameters(values)

    def _routes(
        self,
        model: SimulationModel,
        binding: ModelBinding,
        mapping: Mapping[str, str | TwinValue],
        where: tuple[str, str, str],
        kind: Literal["states", "inputs", "outputs"],
    ) -> list[Route]:
        twin_id, member, prefix = where
        declared = {v.name: v for v in getattr(model.description, kind)}
        return [
            self._route(
                twin_id,
                member,
                _declared(declared, prefix, variable, kind[:-1], binding.model, twin_id),
                TwinValue.parse(text),
            )
            for variable, text in mapping.items()
        ]

    def _route(self, twin_id: str, member: str, variable: Variable, value: TwinValue) -> Route:
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
        return Route(twin_id, member, variable.name, value, to_twin, to_model)

    def _read_number(self, route: Route, at: datetime | None) -> float | None:
        return model_value(route, self._reader.read(route.twin, route.value, at))

    def _connections(
        self,
        couplings: Sequence[Coupling],
        bound: Mapping[str, ModelBinding],
        locations: Mapping[str, tuple[str, str]],
        fleet_index: Mapping[str, int],
    ) -> tuple[list[Connection | FleetConnection], set[tuple[str, str]]]:
        """Connections for every coupled pair of bound twins; pairs between two fleets are
        gathered into one :class:`FleetConnection` per coupling. Also returns the inputs
        they feed (member, variable), which are then not read from the twins."""
        connections: list[Connection | FleetConnection] = []
        fed: set[tuple[str, str]] = set()
        for coupling in couplings:
            pairs: dict[tuple[str, str], tuple[list[int], list[int]]] = {}
            for twin_id, binding in bound.items():
                if binding.model != coupling.source_model:
                    continue
                for rel in self._graph.list_relationships(twin_id, coupling.relationship):
                    target = rel["$targetId"]
                    if target not in bound or bound[target].model != coupling.target_model:
                        continue
                    source, sink = (target, twin_id) if coupling.reverse else (twin_id, target)
                    (src_member, src_prefix) = locations[source]
                    (dst_member, dst_prefix) = locations[sink]
                    fed.add((dst_member, dst_prefix + coupling.input))
                    if src_prefix and dst_prefix:
                        lists = pairs.setdefault((src_member, dst_member), ([], []))
                        lists[0].append(fleet_index[source])
                        lists[1].append(fleet_index[sink])
                        continue
                    connections.append(
                        Connection(
                            src_member,
                            src_prefix + coupling.output,
                            dst_member,
                            dst_prefix + coupling.input,
                            coupling.gain,
                            coupling.offset,
                        )
                    )
            for (src_member, dst_member), (src_index, dst_index) in pairs.items():
                connections.append(
                    FleetConnection(
                        src_member,
                        coupling.output,
                        dst_member,
                        coupling.input,
                        tuple(src_index),
                        tuple(dst_index),
                        coupling.gain,
                        coupling.offset,
                    )
                )
        return connections, fed


_STATE_WORDS = {
    "running": 1.0,
    "on": 1.0,
    "stopped": 0.0,
    "off": 0.0,
    "idle": 0.0,
    "fault": 0.0,
    "maintenance": 0.0,
}
"""Enum values that map naturally onto a 0/1 input (a machine's operating state)."""


def model_value(route: Route, raw: Any) -> float | None:
    """A twin's value as the number the model takes, in the model's unit: numbers
    converted, booleans and operating states (``running``/``stopped``…) as 1.0/0.0, ``None``
    when the twin has no value; anything else is a :class:`SimulationError` naming it."""
    if raw is None:
        return None
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    if isinstance(raw, int | float) and math.isfinite(raw):
        return route.to_model(float(raw))
    if isinstance(raw, str) and raw in _STATE_WORDS:
        return _STATE_WORDS[raw]
    raise SimulationError(
        f"twin {route.twin!r}: {route.value.path} = {raw!r} is not a number for {route.variable}",
        model=route.twin,
    )


def _declared(
    declared: Mapping[str, Variable], prefix: str, name: str, kind: str, model: str, twin_id: str
) -> Variable:
    variable = declared.get(prefix + name)
    if variable is None:
        own = [n[len(prefix) :] for n in declared if n.startswith(prefix)]
        known = ", ".join(sorted(own)) or "none"
        raise SimulationError(
            f"binding of model {model!r} to twin {twin_id!r} names {kind} {name!r}, which the "
            f"model does not have (its {kind}s: {known})",
            model=twin_id,
        )
    return variable


def _same(value: float) -> float:
    return value
