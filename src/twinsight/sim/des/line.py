"""A production line: a conveyor feeding machines in series through finite buffers.

::

    supply ─▶ conveyor ─▶ [b1] ─▶ M1 ─▶ [b2] ─▶ M2 ─▶ … ─▶ [bM] ─▶ MM ─▶ produced
                                   │            │                  │
                                   ▼            ▼                  ▼
                                 scrap        scrap              scrap

The conveyor brings parts from an unlimited supply at the line speed into buffer ``b1``.
Each machine takes up to a lot of parts from the buffer in front of it, processes them,
scraps some, and puts the rest into the next buffer; if that buffer has no room for the
lot, the machine is *blocked* holding it (a buffer of 0 is a direct hand-over to an idle
machine). A machine with an empty buffer in front is *starved*. Machines break down
after an exponential operating time (MTBF, counted only while processing) and are
repaired after an exponential repair time (MTTR, calendar time). Nothing is processed or
conveyed outside the shift calendar; parts in buffers and machines wait for the next shift.

**Granularity.** Parts move in lots of ``lot_size`` (a machine takes up to a lot, fewer
when fewer wait): one event per lot and machine instead of per part keeps a 24-hour run of
ten machines in milliseconds. The cost is resolution: counters move a lot at a time, and
buffer room is effectively whole lots. A lot's processing time is the per-part time times
its size, varied by a log-normal factor with the per-part coefficient of variation scaled
by ``1/sqrt(size)`` (the spread of a sum of independent part times).

**State.** Buffer levels, counters and, per station, the parts it holds, its remaining
work, operating time to the next failure, remaining repair, and its current activity
(kind, start, length, speed, sequence number) plus its random-stream draw counts: the
numbers :class:`~twinsight.sim.des.adapter.DesModel` rebuilds the processes from.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Generator, Mapping
from typing import Any

import simpy

from twinsight.core.errors import SimulationError
from twinsight.sim.des.adapter import DesModel
from twinsight.sim.des.shifts import ShiftCalendar
from twinsight.sim.des.streams import MAX_SEED, Stream, stream_key
from twinsight.sim.model import ModelDescription, Variable

# What a station is doing; the timed ones end on a scheduled event.
STARVED, RUNNING, BLOCKED, DOWN, OFF_SHIFT, STOPPED = range(6)
_TIMED = frozenset({RUNNING, DOWN, OFF_SHIFT})
_STATE_CODE = {STARVED: 0.0, RUNNING: 1.0, BLOCKED: 2.0, DOWN: 3.0, OFF_SHIFT: 4.0, STOPPED: 4.0}
"""``m<i>.state`` output: 0 idle (starved), 1 working, 2 blocked, 3 down, 4 off."""

# Random streams of a machine, one per quantity (common random numbers across scenarios).
_PROCESS, _FAILURE, _REPAIR, _SCRAP = range(4)
_STREAM_NAMES = ("process", "failure", "repair", "scrap")

_STATION_FIELDS = ("parts", "work", "mode", "start", "length", "speed", "seq")
_MACHINE_FIELDS = (
    *_STATION_FIELDS,
    "ttf",
    "repair",
    "busy",
    "failures",
    *(f"draws_{n}" for n in _STREAM_NAMES),
    "busy_seen",
    "utilisation",
)


def line_description(name: str, machines: int) -> ModelDescription:
    """The variables of a line of ``machines`` machines (numbered from 1)."""
    if isinstance(machines, bool) or not isinstance(machines, int) or machines < 1:
        raise SimulationError(
            f"a production line needs at least one machine, got {machines!r}", model=name
        )
    parameters = [
        Variable("line_speed", 12.0, "parts/min", "conveyor feed rate at speed factor 1", 0.0),
        Variable("lot_size", 25.0, "parts", "parts moved and processed together", 1.0, 1e6),
        Variable("seed", 1.0, "", "seed of the random streams (an integer)", 0.0, MAX_SEED),
        Variable("start_hour", 6.0, "h", "clock time at model time 0", 0.0, 24.0),
        Variable("shift_start_hour", 6.0, "h", "clock time the working day starts", 0.0, 24.0),
        Variable("shift_hours", 16.0, "h", "hours worked per day (24: never stops)", 0.0, 24.0),
    ]
    states = [Variable(n) for n in ("entered", "produced", "scrap", "throughput", "seq")]
    states += [Variable(f"conveyor.{f}") for f in _STATION_FIELDS]
    inputs = [Variable("speed_factor", 1.0, "", "scales conveyor and machine rates", 0.0, 1.5)]
    outputs = [
        Variable("entered", unit="parts", description="parts conveyed into the line"),
        Variable("produced", unit="parts", description="good parts out of the last machine"),
        Variable("scrap", unit="parts", description="parts scrapped by the machines"),
        Variable("wip", unit="parts", description="parts in buffers and machines"),
        Variable("throughput", unit="parts/h", description="over the last step"),
        Variable("on_shift", description="1 while the shift calendar says work"),
    ]
    for i in range(1, machines + 1):
        m, b = f"m{i}", f"b{i}"
        parameters += [
            Variable(f"{m}.rate", 15.0, "parts/min", "processing rate at speed factor 1", 1e-3),
            Variable(f"{m}.cv", 0.1, "", "coefficient of variation of a part's time", 0.0, 2.0),
            Variable(f"{m}.mtbf", 8 * 3600.0, "s", "mean operating time between failures", 1.0),
            Variable(f"{m}.mttr", 900.0, "s", "mean time to repair", 0.0),
            Variable(f"{m}.scrap_rate", 0.005, "", "fraction of parts scrapped", 0.0, 1.0),
            Variable(f"{b}.capacity", 100.0, "parts", f"buffer in front of {m}", 0.0),
        ]
        states += [Variable(f"{m}.{f}") for f in _MACHINE_FIELDS] + [Variable(f"{b}.level")]
        inputs.append(Variable(f"{m}.running", 1.0, "", "0 switches the machine off", 0.0, 1.0))
        outputs += [
            Variable(f"{m}.utilisation", description="fraction of the last step processing"),
            Variable(f"{m}.up", description="0 while broken down"),
            Variable(f"{m}.state", description="0 idle, 1 working, 2 blocked, 3 down, 4 off"),
            Variable(f"{m}.failures", description="breakdowns so far"),
            Variable(f"{b}.level", unit="parts"),
        ]
    return ModelDescription(
        name,
        parameters=tuple(parameters),
        states=tuple(states),
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        description=f"production line of {machines} machines in series",
    )


class ProductionLine(DesModel):
    """A conveyor and ``machines`` machines in series with buffers (module docstring).

    >>> line = ProductionLine("demo", machines=3, parameters={"m2.rate": 10.0})
    >>> line.advance(8 * 3600.0); line.outputs()["produced"] > 0
    True
    """

    def __init__(
        self,
        name: str = "line",
        machines: int = 5,
        *,
        parameters: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(line_description(name, machines))
        self.machines = machines
        self._run: _Line | None = None
        if parameters:
            self.set_parameters(parameters)

    def set_parameters(self, values: Mapping[str, float]) -> None:
        checked = self._checked(values, self._description.parameters, "parameter")
        for name in ("lot_size", "seed"):
            if name in checked and not checked[name].is_integer():
                raise SimulationError(
                    f"parameter {name!r} must be a whole number, got {checked[name]:g}",
                    model=self.name,
                )
        super().set_parameters(checked)

    def _build(self, env: simpy.Environment) -> None:
        self._run = _Line(env, self.machines, self._parameters, self._state, self._inputs)

    def _capture(self, dt: float) -> None:
        assert self._run is not None
        self._run.capture(self._state, dt)

    def _outputs(self) -> dict[str, float]:
        s, p = self._state, self._parameters
        calendar = ShiftCalendar(p["start_hour"], p["shift_start_hour"], p["shift_hours"])
        out = {
            "entered": s["entered"],
            "produced": s["produced"],
            "scrap": s["scrap"],
            "wip": 0.0,
            "throughput": s["throughput"],
            "on_shift": 1.0 if calendar.at(self._time)[0] else 0.0,
        }
        wip = 0.0
        for i in range(1, self.machines + 1):
            m, b = f"m{i}", f"b{i}"
            wip += s[f"{m}.parts"] + s[f"{b}.level"]
            out[f"{m}.utilisation"] = s[f"{m}.utilisation"]
            mode = int(s[f"{m}.mode"])
            out[f"{m}.up"] = 0.0 if mode == DOWN else 1.0
            if mode != DOWN and (not out["on_shift"] or self._inputs[f"{m}.running"] < 0.5):
                mode = OFF_SHIFT  # idle because nobody works now reads as off, not starved
            out[f"{m}.state"] = _STATE_CODE.get(mode, 0.0)
            out[f"{m}.failures"] = s[f"{m}.failures"]
            out[f"{b}.level"] = s[f"{b}.level"]
        out["wip"] = wip
        return out


class _Station:
    """The conveyor (index 0) or a machine: its numbers, and the event it waits on."""

    __slots__ = (
        "busy",
        "busy_seen",
        "failures",
        "index",
        "length",
        "mode",
        "parts",
        "repair",
        "seq",
        "speed",
        "start",
        "streams",
        "ttf",
        "wake",
        "work",
    )

    def __init__(self, index: int, values: Mapping[str, float], prefix: str, seed: int) -> None:
        self.index = index
        self.parts = int(values[f"{prefix}.parts"])
        self.work = values[f"{prefix}.work"]
        self.mode = int(values[f"{prefix}.mode"])
        self.start = values[f"{prefix}.start"]
        self.length = values[f"{prefix}.length"]
        self.speed = values[f"{prefix}.speed"]
        self.seq = int(values[f"{prefix}.seq"])
        self.wake: Any = None
        machine = index > 0
        self.ttf = values[f"{prefix}.ttf"] if machine else 0.0
        self.repair = values[f"{prefix}.repair"] if machine else 0.0
        self.busy = values[f"{prefix}.busy"] if machine else 0.0
        self.busy_seen = values[f"{prefix}.busy_seen"] if machine else 0.0
        self.failures = int(values[f"{prefix}.failures"]) if machine else 0
        self.streams = tuple(
            Stream(stream_key(seed, index, k), int(values[f"{prefix}.draws_{n}"]) if machine else 0)
            for k, n in enumerate(_STREAM_NAMES)
        )


class _Line:
    """One environment's worth of the line: plain numbers plus the SimPy processes that
    move them. Built from the model's dicts, written back by :meth:`capture`."""

    def __init__(
        self,
        env: simpy.Environment,
        machines: int,
        parameters: Mapping[str, float],
        state: Mapping[str, float],
        inputs: Mapping[str, float],
    ) -> None:
        p = parameters
        self.env = env
        self.machines = machines
        self.lot = int(p["lot_size"])
        self.shift_at = ShiftCalendar(p["start_hour"], p["shift_start_hour"], p["shift_hours"]).at
        self.line_speed = p["line_speed"]
        self.speed_factor = inputs["speed_factor"]
        r = range(1, machines + 1)
        # Index 0 is the conveyor, so machine i's numbers sit at index i.
        self.minutes_per_part = [0.0] + [60.0 / p[f"m{i}.rate"] for i in r]
        self.cv = [0.0] + [p[f"m{i}.cv"] for i in r]
        self.mtbf = [math.inf] + [p[f"m{i}.mtbf"] for i in r]
        self.mttr = [0.0] + [p[f"m{i}.mttr"] for i in r]
        self.scrap_rate = [0.0] + [p[f"m{i}.scrap_rate"] for i in r]
        self.capacity = [0.0] + [p[f"b{i}.capacity"] for i in r]
        self.running = [True] + [inputs[f"m{i}.running"] >= 0.5 for i in r]
        self.fails = [False] + [math.isfinite(m) for m in self.mtbf[1:]]
        self.levels = [0] + [int(state[f"b{i}.level"]) for i in r]
        self.entered = int(state["entered"])
        self.produced = int(state["produced"])
        self.scrap = int(state["scrap"])
        self.seq = int(state["seq"])
        seed = int(p["seed"])
        self.stations = [_Station(0, state, "conveyor", seed)] + [
            _Station(i, state, f"m{i}", seed) for i in r
        ]
        for st in self.stations[1:]:
            if self.fails[st.index] and st.streams[_FAILURE].draws == 0:
                st.ttf = st.streams[_FAILURE].exponential(self.mtbf[st.index])
        # Resumed activities are scheduled in their original order; waiting ones after.
        timed = sorted((s for s in self.stations if s.mode in _TIMED), key=lambda s: s.seq)
        waiting = [s for s in self.stations if s.mode not in _TIMED]
        for st in timed + waiting:
            env.process(self._station(st))

    # -- the process ---------------------------------------------------------------------
    def _station(self, st: _Station) -> Generator[Any, Any, None]:
        env = self.env
        if st.mode in _TIMED:
            if st.mode != RUNNING or st.speed == self._speed(st):
                yield DesModel._at(env, st.start, st.length)
                self._finish(st, st.length)
            else:  # the speed changed between steps: keep the progress, plan anew
                self._finish(st, env.now - st.start)
        while True:
            if st.repair > 0.0:
                yield self._begin(st, DOWN, st.repair)
                self._finish(st, st.length)
            elif st.parts == 0 and not self._acquire(st):
                yield self._wait(st, STARVED)
            elif st.work > 0.0:
                event = self._plan(st)
                if event is None:
                    yield self._wait(st, STOPPED)
                else:
                    yield event
                    self._finish(st, st.length)
            elif st.parts > 0 and not self._deliver(st):
                yield self._wait(st, BLOCKED)

    def _plan(self, st: _Station) -> Any:
        """The next timed activity of a station with work to do, or None if it cannot
        work until something is set from outside (switched off, speed 0)."""
        speed = self._speed(st)
        if speed <= 0.0:
            return None
        now = self.env.now
        on, change = self.shift_at(now)
        if not on:
            return self._begin(st, OFF_SHIFT, change - now)
        length = min(st.work / speed, change - now)
        if self.fails[st.index]:
            length = min(length, st.ttf)
        st.speed = speed
        return self._begin(st, RUNNING, length)

    def _finish(self, st: _Station, elapsed: float) -> None:
        """Account for ``elapsed`` seconds of the station's current activity."""
        if st.mode == DOWN:
            st.repair = 0.0 if elapsed >= st.length else st.repair - elapsed
        elif st.mode == RUNNING:
            st.busy += elapsed
            if elapsed == st.length and st.length == st.work / st.speed:
                st.work = 0.0
            else:
                st.work = max(0.0, st.work - elapsed * st.speed)
            if st.work == 0.0:
                self._complete(st)
            if self.fails[st.index]:
                st.ttf -= elapsed
                if st.ttf <= 0.0:
                    st.failures += 1
                    st.repair = st.streams[_REPAIR].exponential(self.mttr[st.index])
                    st.ttf = st.streams[_FAILURE].exponential(self.mtbf[st.index])
        st.mode = STARVED  # between activities; the loop decides what comes next

    def _complete(self, st: _Station) -> None:
        if self.scrap_rate[st.index] <= 0.0:
            return
        scrapped = st.streams[_SCRAP].binomial(st.parts, self.scrap_rate[st.index])
        st.parts -= scrapped
        self.scrap += scrapped

    # -- moving parts --------------------------------------------------------------------
    def _acquire(self, st: _Station) -> bool:
        """Take a lot: the conveyor from the supply, a machine from its buffer or, with the
        buffer empty, straight from a blocked upstream station."""
        i = st.index
        if i == 0:
            if self.line_speed <= 0.0:
                return False
            st.parts = self.lot
            st.work = self.lot * 60.0 / self.line_speed
            return True
        if not self.running[i]:
            return False
        up = self.stations[i - 1]
        if self.levels[i] > 0:
            taken = min(self.levels[i], self.lot)
            self.levels[i] -= taken
            self._load(st, taken)
            if up.mode == BLOCKED:
                _notify(up)
            return True
        if up.mode == BLOCKED and up.parts > 0:
            self._load(st, up.parts)
            self._handed_on(up)
            return True
        return False

    def _deliver(self, st: _Station) -> bool:
        """Put a finished lot into the next buffer, hand it to an idle next machine when
        the buffer is empty and too small for it, or (last machine) ship it."""
        i = st.index
        if i == self.machines:
            self.produced += st.parts
            st.parts = 0
            return True
        j = i + 1
        down = self.stations[j]
        if self.levels[j] + st.parts <= self.capacity[j]:
            self.levels[j] += st.parts
        elif self.levels[j] == 0 and down.mode == STARVED and down.parts == 0 and self.running[j]:
            self._load(down, st.parts)
        else:
            return False
        self._handed_on(st)
        if down.mode == STARVED:
            _notify(down)
        return True

    def _handed_on(self, st: _Station) -> None:
        if st.index == 0:
            self.entered += st.parts
        st.parts = 0
        _notify(st)

    def _load(self, st: _Station, parts: int) -> None:
        i = st.index
        st.parts = parts
        mean = parts * self.minutes_per_part[i]
        st.work = st.streams[_PROCESS].lognormal(mean, self.cv[i] / math.sqrt(parts))

    # -- helpers -------------------------------------------------------------------------
    def _speed(self, st: _Station) -> float:
        return self.speed_factor if self.running[st.index] else 0.0

    def _begin(self, st: _Station, mode: int, length: float) -> Any:
        st.mode, st.start, st.length = mode, self.env.now, length
        self.seq += 1
        st.seq = self.seq
        return self.env.timeout(length)  # starts now, so it ends at exactly start + length

    def _wait(self, st: _Station, mode: int) -> Any:
        st.mode = mode
        st.wake = self.env.event()
        return st.wake

    # -- back to numbers -----------------------------------------------------------------
    def capture(self, state: dict[str, float], dt: float) -> None:
        """Write the numbers into ``state`` without disturbing the processes."""
        now = self.env.now
        produced_before = state["produced"]
        state["entered"] = float(self.entered)
        state["produced"] = float(self.produced)
        state["scrap"] = float(self.scrap)
        state["seq"] = float(self.seq)
        state["throughput"] = (self.produced - produced_before) * 3600.0 / dt
        for st, keys in zip(self.stations, _state_keys(self.machines), strict=True):
            values = [st.parts, st.work, st.mode, st.start, st.length, st.speed, st.seq]
            if st.index:
                busy_now = st.busy + (now - st.start if st.mode == RUNNING else 0.0)
                utilisation = min(1.0, max(0.0, (busy_now - st.busy_seen) / dt))
                st.busy_seen = busy_now
                values += [st.ttf, st.repair, st.busy, st.failures]
                values += [stream.draws for stream in st.streams]
                values += [busy_now, utilisation, self.levels[st.index]]
            for key, value in zip(keys, values, strict=True):
                state[key] = float(value)


@functools.cache
def _state_keys(machines: int) -> tuple[tuple[str, ...], ...]:
    """Per station, the state names :meth:`_Line.capture` writes, in its order (built once
    per line size: formatting them every step cost more than the step)."""
    conveyor = tuple(f"conveyor.{f}" for f in _STATION_FIELDS)
    machine = (
        (*(f"m{i}.{f}" for f in _MACHINE_FIELDS), f"b{i}.level") for i in range(1, machines + 1)
    )
    return (conveyor, *machine)


def _notify(st: _Station) -> None:
    wake = st.wake
    if wake is not None and not wake.triggered:
        wake.succeed()
