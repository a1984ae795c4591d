"""The co-simulation master: several models advanced together on one fixed step.

Connected twins (a motor driving a pump filling a tank) are simulated as separate models —
an ODE here, an FMU there, a SimPy line beside them — whose outputs feed each other's
inputs. The master owns the one thing they share, time, and moves data between them at
**communication points** ``t, t + h, t + 2h, …``.

The algorithm (fixed step ``h``, zero-order hold on every exchanged value):

* **Gauss-Seidel** (the default). Members are ordered so that a model comes after the
  models it takes inputs from (a topological order of the connection graph; members on a
  cycle keep the order they were added in). For each member in that order: set its inputs
  from the *current* outputs of its sources — already at ``t + h`` for sources that went
  before it, still at ``t`` for those on a cycle that come later — then advance it by
  ``h``. A chain motor → pump → tank therefore sees each upstream value of the same step,
  with no one-step delay along the chain.
* **Jacobi**. Read every member's outputs at ``t``, set all inputs from them, then advance
  every member by ``h``. Each connection lags one step; members are independent within a
  step, which is what a parallel master needs.

Either way, an input that no connection feeds keeps the value last set on it (from a twin,
a schedule or a what-if change). A member that raises stops the run with a
:class:`~twinsight.core.errors.SimulationError` naming that member and the time; other
co-simulations (other scenarios, the live twin) are not affected.

Within a step numpy's floating-point warnings are off (``twinsight.sim.floats``, entered
once per step or run rather than in every model): a member whose arithmetic overflows is
told by its non-finite state, which an ODE model refuses as diverged, not by a warning.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from twinsight.core.errors import SimulationError
from twinsight.sim.floats import quiet_floats, quietly
from twinsight.sim.model import SimulationModel, Snapshot

Algorithm = Literal["gauss-seidel", "jacobi"]


@dataclass(frozen=True, slots=True)
class Connection:
    """``target.input`` follows ``source.output`` (times ``gain`` plus ``offset``, for a
    unit change such as rpm → rad/s)."""

    source: str
    output: str
    target: str
    input: str
    gain: float = 1.0
    offset: float = 0.0

    def __str__(self) -> str:
        return f"{self.source}.{self.output} → {self.target}.{self.input}"


@dataclass(frozen=True, slots=True)
class FleetConnection:
    """Between two fleets (members simulated as one vectorised model, see
    :class:`~twinsight.sim.ode.OdeFleet`): input ``input`` of fleet member
    ``target_index[k]`` follows output ``output`` of source member ``source_index[k]``.
    One array operation per step instead of one dict entry per pair of twins."""

    source: str
    output: str
    target: str
    input: str
    source_index: tuple[int, ...]
    target_index: tuple[int, ...]
    gain: float = 1.0
    offset: float = 0.0

    def __str__(self) -> str:
        return (
            f"{self.source}.{self.output} → {self.target}.{self.input} "
            f"({len(self.target_index)} pair{'' if len(self.target_index) == 1 else 's'})"
        )


@runtime_checkable
class Fleet(Protocol):
    """What the master needs of a vectorised member (an OdeFleet)."""

    def output_arrays(self) -> Mapping[str, NDArray[np.float64]]: ...

    def inputs_array(self) -> NDArray[np.float64]: ...

    def set_inputs_array(self, name: str, values: NDArray[np.float64]) -> None: ...


@dataclass(frozen=True, slots=True)
class Results:
    """Recorded values at every communication point: ``times`` (s from the run's start,
    first point included) and one array per ``"member.variable"``."""

    times: NDArray[np.float64]
    series: Mapping[str, NDArray[np.float64]]

    def __getitem__(self, key: str) -> NDArray[np.float64]:
        try:
            return self.series[key]
        except KeyError:
            known = ", ".join(sorted(self.series)) or "nothing"
            raise SimulationError(f"no recorded series {key!r} (recorded: {known})") from None

    def final(self) -> dict[str, float]:
        """The last recorded value of every series."""
        return {key: float(values[-1]) for key, values in self.series.items()}


ProgressCallback = Callable[[int, int], None]
"""``progress(steps_done, steps_total)``, called as a run goes (for a progress bar)."""


class CoSimulation:
    """Fixed-step master over named members (see the module docstring)."""

    def __init__(
        self,
        members: Mapping[str, SimulationModel],
        connections: Iterable[Connection | FleetConnection] = (),
        *,
        algorithm: Algorithm = "gauss-seidel",
    ) -> None:
        if algorithm not in ("gauss-seidel", "jacobi"):
            raise SimulationError(f"unknown master algorithm {algorithm!r}")
        self._members = dict(members)
        every = tuple(connections)
        self._connections = tuple(c for c in every if isinstance(c, Connection))
        self._fleet_connections = tuple(c for c in every if isinstance(c, FleetConnection))
        self._algorithm: Algorithm = algorithm
        self._check(self._connections)
        self._check_fleets(self._fleet_connections)
        self._order = _topological_order(list(self._members), every)
        self._fleet_feeds: dict[str, list[FleetConnection]] = {name: [] for name in self._members}
        for fc in self._fleet_connections:
            self._fleet_feeds[fc.target].append(fc)
        self._fleet_plans = {
            name: _fleet_plan(self._members, feeds)
            for name, feeds in self._fleet_feeds.items()
            if feeds
        }
        # Per target member: (input, source member, output, gain, offset), built once.
        self._feeds: dict[str, list[tuple[str, str, str, float, float]]] = {
            name: [] for name in self._members
        }
        for c in self._connections:
            self._feeds[c.target].append((c.input, c.source, c.output, c.gain, c.offset))
        self._time = 0.0

    # ------------------------------------------------------------------ set-up
    def _check(self, connections: Sequence[Connection]) -> None:
        problems: list[str] = []
        fed: dict[tuple[str, str], Connection] = {}
        for c in connections:
            for end, variable, kind in (
                (c.source, c.output, "outputs"),
                (c.target, c.input, "inputs"),
            ):
                member = self._members.get(end)
                if member is None:
                    problems.append(f"{c}: no member {end!r}")
                    continue
                names = {v.name for v in getattr(member.description, kind)}
                if variable not in names:
                    problems.append(
                        f"{c}: {end!r} has no {kind[:-1]} {variable!r} "
                        f"(its {kind}: {', '.join(sorted(names)) or 'none'})"
                    )
            if not (math.isfinite(c.gain) and math.isfinite(c.offset)):
                problems.append(f"{c}: gain and offset must be finite")
            previous = fed.get((c.target, c.input))
            if previous is not None:
                problems.append(f"{c.target}.{c.input} is fed twice: by {previous} and by {c}")
            fed[(c.target, c.input)] = c
        if problems:
            raise SimulationError(
                "the co-simulation is wired wrongly: " + "; ".join(problems),
                details=[{"code": "BadConnection", "message": p} for p in problems],
            )

    def _check_fleets(self, connections: Sequence[FleetConnection]) -> None:
        problems: list[str] = []
        for c in connections:
            for end, variable, kind in (
                (c.source, c.output, "outputs"),
                (c.target, c.input, "inputs"),
            ):
                member = self._members.get(end)
                if member is None:
                    problems.append(f"{c}: no member {end!r}")
                    continue
                if not isinstance(member, Fleet):
                    problems.append(f"{c}: {end!r} is not a fleet")
                    continue
                system = getattr(member, "system", None)
                names = {v.name for v in getattr(system.description, kind)} if system else set()
                if variable not in names:
                    problems.append(f"{c}: fleet {end!r} has no {kind[:-1]} {variable!r}")
            if len(c.source_index) != len(c.target_index):
                problems.append(f"{c}: source and target index lists differ in length")
        if problems:
            raise SimulationError(
                "the co-simulation is wired wrongly: " + "; ".join(problems),
                details=[{"code": "BadConnection", "message": p} for p in problems],
            )

    @property
    def members(self) -> Mapping[str, SimulationModel]:
        return self._members

    @property
    def connections(self) -> tuple[Connection | FleetConnection, ...]:
        return self._connections + self._fleet_connections

    @property
    def algorithm(self) -> Algorithm:
        return self._algorithm

    @property
    def order(self) -> tuple[str, ...]:
        """The order members advance in within a step (Gauss-Seidel)."""
        return self._order

    @property
    def time(self) -> float:
        return self._time

    # ----------------------------------------------------------------- stepping
    def _feed(self, name: str, outputs: Mapping[str, Mapping[str, float]] | None) -> None:
        plan = self._fleet_plans.get(name)
        if plan is not None:
            plan.feed()
        feeds = self._feeds[name]
        if not feeds:
            return
        values: dict[str, float] = {}
        for input_name, source, output, gain, offset in feeds:
            produced = outputs[source] if outputs is not None else self._members[source].outputs()
            values[input_name] = produced[output] * gain + offset
        self._members[name].set_inputs(values)

    def settle_inputs(self, rounds: int = 5) -> None:
        """Exchange values between the members ``rounds`` times without advancing time, so
        inputs that connections feed start consistent with the members' states instead of
        at their declared defaults. Why: in a loop (a motor's load is its pump's shaft
        power, the pump's speed the motor's) the first step otherwise starts from a guess
        — a pump turned at the motor's no-load speed, an overloaded motor for one step —
        that the live plant never showed. Like FMI's initialization mode, solved here by
        fixed-point (Gauss-Seidel) iteration; a fork and the live start call it once."""
        current = ""
        try:
            with quiet_floats():
                for _ in range(rounds):
                    for current in self._order:
                        self._feed(current, None)
        except SimulationError as error:
            raise SimulationError(
                f"member {current!r} failed while the inputs were settled at t={self._time:g} "
                f"s: {error.message}",
                model=current,
                code=error.code,
                details=error.details,
            ) from error

    def step(self, h: float) -> None:
        """Advance every member by ``h`` seconds, exchanging values first."""
        if not h > 0 or math.isinf(h):
            raise SimulationError(f"the communication step must be positive and finite, got {h!r}")
        quietly(lambda: self._step(h))

    def _step(self, h: float) -> None:
        current = ""
        try:
            if self._algorithm == "jacobi":
                snapshot = {name: m.outputs() for name, m in self._members.items()}
                for current in self._order:
                    self._feed(current, snapshot)
                for current in self._order:
                    self._members[current].advance(h)
            else:
                for current in self._order:
                    self._feed(current, None)
                    self._members[current].advance(h)
        except SimulationError as error:
            raise SimulationError(
                f"member {current!r} failed in the step from t={self._time:g} s: {error.message}",
                model=current,
                code=error.code,
                details=error.details,
            ) from error
        self._time += h

    def run(
        self,
        duration: float,
        h: float,
        *,
        record: Iterable[str] | None = None,
        progress: ProgressCallback | None = None,
    ) -> Results:
        """Step for ``duration`` seconds and record ``record`` (``"member.variable"`` keys of
        outputs; every output of every member when ``None``) at each communication point."""
        if not duration > 0 or math.isinf(duration):
            raise SimulationError(f"a run needs a positive, finite duration, got {duration!r}")
        if not h > 0 or math.isinf(h):
            raise SimulationError(f"the communication step must be positive and finite, got {h!r}")
        steps = max(1, round(duration / h))
        keys = list(record) if record is not None else self.output_keys()
        wanted = self._parse_keys(keys)
        values = np.empty((len(keys), steps + 1))
        times = np.empty(steps + 1)
        start = self._time
        self._record(wanted, values[:, 0])
        times[0] = 0.0
        report_every = max(1, steps // 100)
        with quiet_floats():  # once for the run, not per step (see twinsight.sim.floats)
            for i in range(1, steps + 1):
                self.step(h)
                self._record(wanted, values[:, i])
                times[i] = self._time - start
                if progress is not None and (i % report_every == 0 or i == steps):
                    progress(i, steps)
        return Results(times, {key: values[k] for k, key in enumerate(keys)})

    def output_keys(self) -> list[str]:
        return [
            f"{name}.{v.name}" for name, m in self._members.items() for v in m.description.outputs
        ]

    def _parse_keys(self, keys: Sequence[str]) -> list[tuple[str, list[tuple[int, str]]]]:
        by_member: dict[str, list[tuple[int, str]]] = {}
        for index, key in enumerate(keys):
            member, variable = self._split(key)
            by_member.setdefault(member, []).append((index, variable))
        return list(by_member.items())

    def _split(self, key: str) -> tuple[str, str]:
        # Member names may contain dots (twin ids do not, but fleet members do): the member
        # is the longest prefix that names one.
        for cut in range(len(key) - 1, 0, -1):
            if key[cut] == "." and key[:cut] in self._members:
                member, variable = key[:cut], key[cut + 1 :]
                outputs = {v.name for v in self._members[member].description.outputs}
                if variable in outputs:
                    return member, variable
                raise SimulationError(
                    f"cannot record {key!r}: {member!r} has no output {variable!r} "
                    f"(its outputs: {', '.join(sorted(outputs))})"
                )
        raise SimulationError(
            f"cannot record {key!r}: no member of that name (members: {', '.join(self._members)})"
        )

    def _record(
        self, wanted: list[tuple[str, list[tuple[int, str]]]], column: NDArray[np.float64]
    ) -> None:
        for member, variables in wanted:
            outputs = self._members[member].outputs()
            for index, variable in variables:
                column[index] = outputs[variable]

    # ----------------------------------------------------------------- forking
    def snapshot(self) -> dict[str, Snapshot]:
        """Every member's snapshot, plus the master's time under the key ``""``."""
        snaps = {name: m.snapshot() for name, m in self._members.items()}
        snaps[""] = Snapshot("", self._time)
        return snaps

    def restore(self, snapshots: Mapping[str, Snapshot]) -> None:
        missing = sorted(set(self._members) - set(snapshots))
        if missing:
            raise SimulationError(f"the snapshot has no state for {', '.join(missing)}")
        for name, member in self._members.items():
            member.restore(snapshots[name])
        self._time = snapshots[""].time if "" in snapshots else self._time

    def close(self) -> None:
        for member in self._members.values():
            member.close()


@dataclass(frozen=True, slots=True)
class _FleetFeed:
    """One fleet connection as the master runs it: the source fleet itself, the target's
    input row, and index arrays only where members do not pair up one to one in order
    (``None`` then: the whole output array feeds the whole row, no fancy indexing)."""

    source: Any
    output: str
    row: int
    source_index: NDArray[np.intp] | None
    target_index: NDArray[np.intp] | None
    gain: float
    offset: float


@dataclass(frozen=True, slots=True)
class _FleetPlan:
    """Every fleet connection into one target fleet, worked out once at set-up: each step
    then costs one copy of the target's input matrix, an array operation per connection
    and one bounds check per fed row (a step of the 100-machine factory is a few hundred
    microseconds, so per-step dict building and index conversion showed)."""

    target: Any
    feeds: tuple[_FleetFeed, ...]
    rows: tuple[int, ...]
    names: tuple[str, ...]
    replace: Any  # the target's replace_inputs_array, or None

    def feed(self) -> None:
        target = self.target
        updated = target.inputs_array()  # a copy, handed over to the target below
        for feed in self.feeds:
            values = feed.source.output_arrays()[feed.output]
            if feed.source_index is not None:
                values = values[feed.source_index]
            if feed.gain != 1.0:
                values = values * feed.gain
            if feed.offset:
                values = values + feed.offset
            if feed.target_index is None:
                updated[feed.row] = values
            else:
                updated[feed.row, feed.target_index] = values
        if self.replace is not None:  # one check per fed row, no second copy
            self.replace(updated, self.rows)
        else:
            for name, row in zip(self.names, self.rows, strict=True):
                target.set_inputs_array(name, updated[row])


def _fleet_plan(members: Mapping[str, SimulationModel], feeds: list[FleetConnection]) -> _FleetPlan:
    """The plan for one target fleet (members were checked to be fleets at set-up)."""
    target: Any = members[feeds[0].target]
    rows = {v.name: i for i, v in enumerate(target.system.description.inputs)}

    def index(pairs: tuple[int, ...], fleet: Any) -> NDArray[np.intp] | None:
        if pairs == tuple(range(len(getattr(fleet, "members", ())))):
            return None  # member k to member k, all of them: no indexing needed
        return np.asarray(pairs, dtype=np.intp)

    planned = tuple(
        _FleetFeed(
            members[fc.source],
            fc.output,
            rows[fc.input],
            index(fc.source_index, members[fc.source]),
            index(fc.target_index, target),
            fc.gain,
            fc.offset,
        )
        for fc in feeds
    )
    names = tuple(dict.fromkeys(fc.input for fc in feeds))
    return _FleetPlan(
        target,
        planned,
        tuple(rows[name] for name in names),
        names,
        getattr(target, "replace_inputs_array", None),
    )


def _topological_order(
    names: list[str], connections: Sequence[Connection | FleetConnection]
) -> tuple[str, ...]:
    """Sources before targets (Kahn's algorithm, stable in ``names`` order); members on a
    cycle are appended in ``names`` order, which is where Gauss-Seidel must guess."""
    upstream: dict[str, set[str]] = {name: set() for name in names}
    for c in connections:
        if c.source != c.target:
            upstream[c.target].add(c.source)
    order: list[str] = []
    placed: set[str] = set()
    progress = True
    while progress:
        progress = False
        for name in names:
            if name not in placed and upstream[name] <= placed:
                order.append(name)
                placed.add(name)
                progress = True
    order.extend(name for name in names if name not in placed)
    return tuple(order)
