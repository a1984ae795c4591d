"""A fork: the frozen starting point of what-if runs, and running it with changes.

A :class:`Fork` is what a scenario or a sweep needs to simulate a twin or a subgraph
without the graph: which catalogue model simulates each member, the members' snapshots
taken when the fork was made (now, or rebuilt from history at a past time), how members
feed each other, and which outputs to record. It is plain data plus the catalogue's
module-level factory functions, so it can be stored as JSON and pickled to worker
processes or a cluster, and any number of runs can start from the same state.

:class:`Changes` are what a run alters: parameter values, constant input overrides and
piecewise-constant input schedules, per twin. :func:`prepare` builds a fresh
co-simulation from a fork and checks the changes *before* anything runs, reporting every
problem at once (unknown twin, parameter or input; a value out of bounds; an input that a
connection feeds, which a change would not reach); :func:`simulate` then steps it on
simulated time, as fast as the CPU allows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from twinsight.core.errors import BadRequest, SimulationError, TwinsightError
from twinsight.sim.binding import FleetFactory, ModelFactory, TwinSimulation
from twinsight.sim.cosim import (
    Algorithm,
    Connection,
    CoSimulation,
    FleetConnection,
    ProgressCallback,
    Results,
)
from twinsight.sim.model import SimulationModel, Snapshot, Variable

MAX_STEPS = 1_000_000
"""Most communication steps one run may take: a typo (a year at a millisecond step) would
otherwise hold a worker for hours."""

Schedule = tuple[tuple[float, float], ...]
"""``((offset_s, value), …)``: the input holds ``value`` from ``offset_s`` seconds after the
fork until the next entry (before the first entry it keeps its forked value)."""


# ----------------------------------------------------------------------------- changes


@dataclass(frozen=True, slots=True)
class Changes:
    """What a what-if run changes, per twin: ``parameters`` and constant ``inputs`` as
    ``{twin: {name: value}}``, ``schedules`` as ``{twin: {input: ((offset_s, value), …)}}``."""

    parameters: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    inputs: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    schedules: Mapping[str, Mapping[str, Schedule]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.parameters or self.inputs or self.schedules)

    def merged(self, other: Changes) -> Changes:
        """These changes with ``other``'s laid over them (``other`` wins per variable)."""

        def merge(a: Mapping[str, Mapping[str, Any]], b: Mapping[str, Mapping[str, Any]]) -> Any:
            out = {twin: dict(values) for twin, values in a.items()}
            for twin, values in b.items():
                out.setdefault(twin, {}).update(values)
            return out

        return Changes(
            merge(self.parameters, other.parameters),
            merge(self.inputs, other.inputs),
            merge(self.schedules, other.schedules),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "parameters": {t: dict(v) for t, v in self.parameters.items()},
            "inputs": {t: dict(v) for t, v in self.inputs.items()},
            "schedules": {
                t: {name: [list(point) for point in points] for name, points in v.items()}
                for t, v in self.schedules.items()
            },
        }

    @classmethod
    def from_dict(cls, raw: Any) -> Changes:
        """Changes from their JSON form; a malformed shape is a :class:`BadRequest` naming
        where (values are checked against the models later, by :func:`prepare`)."""
        if raw is None:
            return cls()
        if not isinstance(raw, Mapping):
            raise BadRequest("changes must be an object with parameters, inputs and schedules")
        unknown = sorted(set(raw) - {"parameters", "inputs", "schedules"})
        if unknown:
            raise BadRequest(
                f"changes has unknown key(s) {', '.join(unknown)} "
                "(known: parameters, inputs, schedules)"
            )
        return cls(
            _values(raw.get("parameters"), "parameters"),
            _values(raw.get("inputs"), "inputs"),
            _schedules(raw.get("schedules")),
        )


def _per_twin(raw: Any, where: str) -> Mapping[str, Mapping[str, Any]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping) or not all(isinstance(v, Mapping) for v in raw.values()):
        raise BadRequest(f"changes.{where} must be {{twin: {{name: value}}}}")
    return raw


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadRequest(f"{where} must be a number, got {value!r}")
    return float(value)


def _values(raw: Any, where: str) -> dict[str, dict[str, float]]:
    return {
        str(twin): {
            str(name): _number(value, f"changes.{where}.{twin}.{name}")
            for name, value in values.items()
        }
        for twin, values in _per_twin(raw, where).items()
    }


def _schedules(raw: Any) -> dict[str, dict[str, Schedule]]:
    out: dict[str, dict[str, Schedule]] = {}
    for twin, values in _per_twin(raw, "schedules").items():
        for name, points in values.items():
            where = f"changes.schedules.{twin}.{name}"
            if not isinstance(points, list | tuple) or not all(
                isinstance(p, list | tuple) and len(p) == 2 for p in points
            ):
                raise BadRequest(f"{where} must be a list of [offset_s, value] pairs")
            out.setdefault(str(twin), {})[str(name)] = tuple(
                (_number(p[0], f"{where} offset"), _number(p[1], f"{where} value")) for p in points
            )
    return out


# -------------------------------------------------------------------------------- fork


@dataclass(frozen=True, slots=True)
class Member:
    """One co-simulation member of a fork: a catalogue model for one twin, or a fleet
    (one vectorised model) for ``twins``, in the fleet's own order."""

    model: str
    twins: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Fork:
    """The starting point of what-if runs (see the module docstring)."""

    catalog: Mapping[str, ModelFactory]
    """Only the factories this fork uses, keyed by catalogue name."""
    fleets: Mapping[str, FleetFactory]
    """Only the fleet factories this fork uses."""
    members: Mapping[str, Member]
    snapshots: Mapping[str, Snapshot]
    locations: Mapping[str, tuple[str, str]]
    """Per twin: the member simulating it and the prefix of its variables there."""
    connections: tuple[Connection | FleetConnection, ...] = ()
    record: tuple[tuple[str, str, str], ...] = ()
    """``(series, member, output)``: the series ``"twin.output"`` every run records."""
    algorithm: Algorithm = "gauss-seidel"

    @property
    def twins(self) -> tuple[str, ...]:
        return tuple(self.locations)

    @property
    def series(self) -> tuple[str, ...]:
        return tuple(key for key, _, _ in self.record)

    def build(self) -> CoSimulation:
        """A fresh co-simulation in the forked state."""
        built: dict[str, SimulationModel] = {}
        try:
            for name, member in self.members.items():
                built[name] = self._instantiate(name, member)
                built[name].restore(self.snapshots[name])
            return CoSimulation(built, self.connections, algorithm=self.algorithm)
        except BaseException:
            for model in built.values():
                model.close()
            raise

    def _instantiate(self, name: str, member: Member) -> SimulationModel:
        factories: Mapping[str, Any] = self.catalog if member.twins is None else self.fleets
        factory = factories.get(member.model)
        if factory is None:
            raise SimulationError(
                f"the world has no {'model' if member.twins is None else 'fleet'} "
                f"{member.model!r} any more (known: {', '.join(sorted(factories)) or 'none'})",
                model=name,
            )
        try:
            model: SimulationModel = factory(name if member.twins is None else member.twins)
        except TwinsightError:
            raise
        except Exception as error:  # a user's factory: name it
            raise SimulationError(
                f"could not build model {member.model!r}: {type(error).__name__}: {error}",
                model=name,
            ) from error
        return model

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as its JSON document plus the factories (pickled by reference): snapshots
        # hold read-only mapping proxies, which pickle refuses.
        return (Fork.from_document, (self.to_document(), self.catalog, self.fleets))

    def to_document(self) -> dict[str, Any]:
        """The fork as JSON (without the factories, which the world provides again)."""
        return {
            "members": {
                name: {"model": m.model, "twins": None if m.twins is None else list(m.twins)}
                for name, m in self.members.items()
            },
            "snapshots": {
                member: {
                    "model": snap.model,
                    "time": snap.time,
                    "parameters": dict(snap.parameters),
                    "state": dict(snap.state),
                    "inputs": dict(snap.inputs),
                }
                for member, snap in self.snapshots.items()
            },
            "locations": {twin: list(where) for twin, where in self.locations.items()},
            "connections": [_connection_document(c) for c in self.connections],
            "record": [list(r) for r in self.record],
            "algorithm": self.algorithm,
        }

    @classmethod
    def from_document(
        cls,
        doc: Mapping[str, Any],
        catalog: Mapping[str, ModelFactory],
        fleets: Mapping[str, FleetFactory] | None = None,
    ) -> Fork:
        fleets = fleets or {}
        members = {
            name: Member(m["model"], None if m["twins"] is None else tuple(m["twins"]))
            for name, m in doc["members"].items()
        }
        missing = sorted(
            {
                m.model
                for m in members.values()
                if m.model not in (catalog if m.twins is None else fleets)
            }
        )
        if missing:
            raise SimulationError(
                f"the world no longer has model(s) {', '.join(missing)} this fork was made with"
            )
        snapshots = {
            member: Snapshot(s["model"], float(s["time"]), s["parameters"], s["state"], s["inputs"])
            for member, s in doc["snapshots"].items()
        }
        return cls(
            {m.model: catalog[m.model] for m in members.values() if m.twins is None},
            {m.model: fleets[m.model] for m in members.values() if m.twins is not None},
            members,
            snapshots,
            {twin: (where[0], where[1]) for twin, where in doc["locations"].items()},
            tuple(_connection(c) for c in doc["connections"]),
            tuple((r[0], r[1], r[2]) for r in doc["record"]),
            doc.get("algorithm", "gauss-seidel"),
        )


def _connection_document(c: Connection | FleetConnection) -> dict[str, Any]:
    body: dict[str, Any] = {
        "source": c.source,
        "output": c.output,
        "target": c.target,
        "input": c.input,
        "gain": c.gain,
        "offset": c.offset,
    }
    if isinstance(c, FleetConnection):
        body["sourceIndex"] = list(c.source_index)
        body["targetIndex"] = list(c.target_index)
    return body


def _connection(body: Mapping[str, Any]) -> Connection | FleetConnection:
    ends = (body["source"], body["output"], body["target"], body["input"])
    if "sourceIndex" in body:
        return FleetConnection(
            *ends,
            tuple(body["sourceIndex"]),
            tuple(body["targetIndex"]),
            body["gain"],
            body["offset"],
        )
    return Connection(*ends, body["gain"], body["offset"])


def fork_of(
    sim: TwinSimulation,
    catalog: Mapping[str, ModelFactory],
    fleets: Mapping[str, FleetFactory] | None = None,
    record: Iterable[str] = (),
    algorithm: Algorithm = "gauss-seidel",
) -> Fork:
    """A fork of ``sim`` as it is now. ``record`` names outputs to keep: ``"output"`` (of
    every twin whose model has one) or ``"twin.output"``; every output when empty."""
    fleets = fleets or {}
    locations = {twin: sim.locations.get(twin, (twin, "")) for twin in sim.models}
    members: dict[str, Member] = {}
    for twin, (member, prefix) in locations.items():
        if not prefix:
            members[member] = Member(sim.models[twin])
        elif member not in members:
            model = sim.members[member]
            order = getattr(model, "members", None)
            twins = (
                tuple(order)
                if order is not None
                else tuple(t for t, (m, _) in locations.items() if m == member)
            )
            members[member] = Member(sim.models[twin], twins)
    every: list[tuple[str, str, str]] = []
    for twin, (member, prefix) in locations.items():
        for variable in sim.members[member].description.outputs:
            if variable.name.startswith(prefix):
                name = variable.name[len(prefix) :]
                every.append((f"{twin}.{name}", member, variable.name))
    wanted = tuple(record)
    chosen = [r for r in every if r[0] in wanted or r[0].rpartition(".")[2] in wanted]
    if wanted and not chosen:
        raise SimulationError(
            f"none of the outputs to record ({', '.join(wanted)}) is an output of the forked "
            f"models (their outputs: {', '.join(r[0] for r in every)})"
        )
    return Fork(
        {m.model: catalog[m.model] for m in members.values() if m.twins is None},
        {m.model: fleets[m.model] for m in members.values() if m.twins is not None},
        members,
        {name: model.snapshot() for name, model in sim.members.items()},
        locations,
        sim.cosim.connections,
        tuple(chosen if wanted else every),
        algorithm,
    )


# ------------------------------------------------------------------------------ running


@dataclass(frozen=True, slots=True)
class Prepared:
    """A co-simulation in the forked state with the constant changes applied, and the
    schedule still to apply as ``(offset_s, member, input, value)`` in time order."""

    cosim: CoSimulation
    schedule: tuple[tuple[float, str, str, float], ...]
    horizon: float
    step: float
    record: tuple[tuple[str, str, str], ...]


def check_run(horizon: float, step: float) -> list[str]:
    """Problems with a run's horizon and step (empty when fine)."""
    problems: list[str] = []
    if not (isinstance(horizon, int | float) and math.isfinite(horizon) and horizon > 0):
        problems.append(f"the horizon must be a positive number of seconds, got {horizon!r}")
    if not (isinstance(step, int | float) and math.isfinite(step) and step > 0):
        problems.append(f"the step must be a positive number of seconds, got {step!r}")
    if not problems:
        if step > horizon:
            problems.append(f"the step ({step:g} s) is longer than the horizon ({horizon:g} s)")
        elif horizon / step > MAX_STEPS:
            problems.append(
                f"{horizon:g} s at a {step:g} s step is {horizon / step:,.0f} steps; the "
                f"limit is {MAX_STEPS:,} (choose a longer step or a shorter horizon)"
            )
    return problems


def prepare(fork: Fork, changes: Changes, horizon: float, step: float) -> Prepared:
    """Build ``fork`` and apply ``changes``, after checking them all: one
    :class:`SimulationError` lists every problem, and nothing has run."""
    problems = check_run(horizon, step)
    cosim = fork.build()
    try:
        problems += _check_changes(fork, cosim, changes)
        if problems:
            raise SimulationError(
                "the changes cannot be applied: " + "; ".join(problems),
                code="InvalidScenario",
                details=[{"code": "InvalidScenario", "message": p} for p in problems],
            )
        for twin, values in changes.parameters.items():
            member, prefix = fork.locations[twin]
            cosim.members[member].set_parameters({prefix + k: v for k, v in values.items()})
        for twin, values in changes.inputs.items():
            member, prefix = fork.locations[twin]
            cosim.members[member].set_inputs({prefix + k: v for k, v in values.items()})
        timeline = sorted(
            (offset, fork.locations[twin][0], fork.locations[twin][1] + name, value)
            for twin, inputs in changes.schedules.items()
            for name, points in inputs.items()
            for offset, value in points
        )
        return Prepared(cosim, tuple(timeline), float(horizon), float(step), fork.record)
    except BaseException:
        cosim.close()
        raise


def _check_changes(fork: Fork, cosim: CoSimulation, changes: Changes) -> list[str]:
    problems: list[str] = []
    fed: dict[tuple[str, str], str] = {}
    for c in cosim.connections:
        if isinstance(c, FleetConnection):
            fleet = fork.members[c.target].twins or ()
            for index in c.target_index:
                fed[(c.target, f"{fleet[index]}.{c.input}")] = str(c)
        else:
            fed[(c.target, c.input)] = str(c)
    tables: tuple[tuple[str, Mapping[str, Mapping[str, Any]]], ...] = (
        ("parameter", changes.parameters),
        ("input", changes.inputs),
        ("schedule", changes.schedules),
    )
    for kind, table in tables:
        for twin, values in table.items():
            where = fork.locations.get(twin)
            if where is None:
                problems.append(
                    f"{kind} change for {twin!r}, which is not in this fork "
                    f"(its twins: {', '.join(fork.locations)})"
                )
                continue
            member, prefix = where
            description = cosim.members[member].description
            declared = description.parameters if kind == "parameter" else description.inputs
            by_name = {v.name[len(prefix) :]: v for v in declared if v.name.startswith(prefix)}
            what = "parameter" if kind == "parameter" else "input"
            for name, value in values.items():
                variable = by_name.get(name)
                if variable is None:
                    problems.append(
                        f"{twin!r} has no {what} {name!r} "
                        f"(its {what}s: {', '.join(sorted(by_name)) or 'none'})"
                    )
                    continue
                if what == "input" and (member, variable.name) in fed:
                    problems.append(
                        f"{twin}.{name} is fed by {fed[(member, variable.name)]}; change the "
                        "source instead (a change to a fed input would be overwritten every step)"
                    )
                    continue
                points: Schedule = value if kind == "schedule" else ((0.0, value),)
                problems += _check_values(twin, name, points, what, variable)
    return problems


def _check_values(
    twin: str, name: str, points: Iterable[tuple[float, float]], what: str, variable: Variable
) -> list[str]:
    problems: list[str] = []
    previous = -math.inf
    for offset, value in points:
        if not (math.isfinite(offset) and offset >= 0):
            problems.append(f"schedule of {twin}.{name}: offset {offset!r} is not >= 0")
        elif offset <= previous:
            problems.append(
                f"schedule of {twin}.{name}: offsets must increase ({offset:g} after {previous:g})"
            )
        previous = offset
        try:
            Variable(name, min=variable.min, max=variable.max, unit=variable.unit).check(
                value, kind=what, model=twin
            )
        except SimulationError as error:
            problems.append(error.message)
    return problems


def simulate(prepared: Prepared, progress: ProgressCallback | None = None) -> Results:
    """Step a prepared run to its horizon and record the fork's outputs at every
    communication point (offsets in seconds from the fork, the start included), keyed
    ``"twin.output"``."""
    cosim, h = prepared.cosim, prepared.step
    by_member: dict[str, list[tuple[int, str]]] = {}
    for index, (_, member, output) in enumerate(prepared.record):
        by_member.setdefault(member, []).append((index, output))
    plan = list(by_member.items())
    steps = max(1, round(prepared.horizon / h))
    values = np.empty((len(prepared.record), steps + 1))
    times = np.arange(steps + 1, dtype=np.float64) * h
    schedule = prepared.schedule
    next_change = 0
    report_every = max(1, steps // 100)
    _read(cosim, plan, values[:, 0])
    for i in range(1, steps + 1):
        now = times[i - 1]
        changed: dict[str, dict[str, float]] = {}
        while next_change < len(schedule) and schedule[next_change][0] <= now + 1e-9 * h:
            _, member, name, value = schedule[next_change]
            changed.setdefault(member, {})[name] = value
            next_change += 1
        for member, inputs in changed.items():
            cosim.members[member].set_inputs(inputs)
        cosim.step(h)
        _read(cosim, plan, values[:, i])
        if progress is not None and (i % report_every == 0 or i == steps):
            progress(i, steps)
    return Results(times, {key: values[k] for k, (key, _, _) in enumerate(prepared.record)})


def _read(
    cosim: CoSimulation, plan: list[tuple[str, list[tuple[int, str]]]], column: NDArray[np.float64]
) -> None:
    for member, outputs in plan:
        produced = cosim.members[member].outputs()
        for index, output in outputs:
            column[index] = produced[output]


def run_fork(
    fork: Fork,
    changes: Changes | None = None,
    *,
    horizon: float,
    step: float,
    progress: ProgressCallback | None = None,
) -> Results:
    """Prepare and simulate one run from ``fork`` (the work a sweep sends to a worker)."""
    prepared = prepare(fork, changes or Changes(), horizon, step)
    try:
        return simulate(prepared, progress)
    finally:
        prepared.cosim.close()
