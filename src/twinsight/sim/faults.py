"""Faults injected into a running simulation, now and then, as a plant suffers them.

A demo plant whose data never goes wrong teaches nothing about finding what goes wrong. A
:class:`FaultInjector` rides along a :class:`~twinsight.sim.live.LiveSimulation` (as one
of its output writers: after each step it looks at the simulated time) and, at random
but seeded moments, gives one simulated machine a fault for a while. Faults are declared,
not coded: a :class:`FaultKind` names the catalogue model it strikes, the model input
that carries it (a motor's ``bearing_fault``, a tank's ``valve_opening``), the faulty
value and how long the fault lasts. The physics does the rest, so a fault shows in the
twin's telemetry the way it would in a real plant's (a failing bearing shakes and heats,
a stuck valve lets the tank fill) and later analytics can find it there.

Each injection and each recovery is logged (``fault injected: line-2-motor bearing wear
…``) and kept in :attr:`FaultInjector.history`, so a run's faults can be checked against
what a detector found.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from twinsight.core.errors import SimulationError
from twinsight.sim.binding import Route, TwinSimulation

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class FaultKind:
    """One kind of fault: while it lasts, input ``input`` of a twin simulated by catalogue
    model ``model`` moves from ``healthy`` to a value drawn from ``value`` (uniformly)
    over ``onset`` seconds, and goes back to ``healthy`` after a duration drawn from
    ``duration`` (seconds, uniformly)."""

    name: str
    model: str
    input: str
    value: tuple[float, float]
    duration: tuple[float, float]
    healthy: float = 0.0
    onset: float = 0.0
    """Seconds over which the fault develops (0: at once, like a valve that sticks)."""
    effect: str = ""
    """What it does to the telemetry, for the log."""
    weight: float = 1.0
    """How often this kind is chosen relative to the others."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One injected fault: on which twin, what, when and how severe."""

    twin: str
    kind: FaultKind
    value: float
    start: datetime
    end: datetime

    def describe(self) -> str:
        minutes = (self.end - self.start).total_seconds() / 60.0
        onset = f" over {self.kind.onset / 60.0:.0f} min" if self.kind.onset else ""
        effect = f": {self.kind.effect}" if self.kind.effect else ""
        return (
            f"{self.twin} {self.kind.name} ({self.kind.input} {self.kind.healthy:g} → "
            f"{self.value:.2f}{onset}, for {minutes:.0f} min){effect}"
        )


class FaultInjector:
    """Injects faults of ``kinds`` into ``simulation`` at random, seeded moments: the gaps
    between two injections are exponential with mean ``mean_interval`` seconds (the first
    with mean ``first_after``, so a new run shows one soon). One twin has at most one
    fault at a time. Use it as an output writer of a live simulation."""

    def __init__(
        self,
        simulation: TwinSimulation,
        kinds: Sequence[FaultKind],
        *,
        seed: int = 0,
        mean_interval: float = 3600.0,
        first_after: float | None = None,
    ) -> None:
        if not mean_interval > 0:
            raise SimulationError(f"mean_interval must be positive, not {mean_interval!r}")
        self._simulation = simulation
        self._rng = np.random.default_rng(seed)
        self._mean = float(mean_interval)
        self._first = float(first_after if first_after is not None else mean_interval)
        self._kinds: list[FaultKind] = []
        self._targets: dict[str, list[str]] = {}
        for kind in kinds:
            twins = sorted(t for t, m in simulation.models.items() if m == kind.model)
            for twin in twins:
                self._check_input(twin, kind)
            if twins:
                self._kinds.append(kind)
                self._targets[kind.name] = twins
        self.active: dict[str, Fault] = {}
        """The faults in force now, by twin."""
        self.history: list[Fault] = []
        """Every fault injected so far, in order."""
        self._next: datetime | None = None

    def _check_input(self, twin: str, kind: FaultKind) -> None:
        model, prefix = self._simulation.locate(twin)
        names = {v.name for v in model.description.inputs}
        if prefix + kind.input not in names:
            raise SimulationError(
                f"fault {kind.name!r}: model {kind.model!r} has no input {kind.input!r}",
                model=twin,
            )

    def write(self, when: datetime, values: Sequence[tuple[Route, float]] = ()) -> None:
        """After a step ending at ``when``: recover what is over, inject what is due, and
        set every active fault's input for the next step."""
        if self._next is None:
            self._next = when + self._gap(self._first)
        for fault in list(self.active.values()):
            if when >= fault.end:
                self._set(fault.twin, fault.kind, fault.kind.healthy)
                del self.active[fault.twin]
                log.warning("fault cleared: %s %s", fault.twin, fault.kind.name)
        while when >= self._next:
            self._inject_random(when)
            self._next += self._gap(self._mean)
        for fault in self.active.values():
            self._set(fault.twin, fault.kind, self._level(fault, when))

    def inject(
        self,
        twin: str,
        kind: str,
        when: datetime,
        *,
        value: float | None = None,
        duration: float | None = None,
    ) -> Fault:
        """Give ``twin`` a fault of kind ``kind`` from ``when`` on (value and duration drawn
        when not given); it takes effect from the next step."""
        chosen = next((k for k in self._kinds if k.name == kind), None)
        if chosen is None:
            known = ", ".join(k.name for k in self._kinds) or "none"
            raise SimulationError(f"no fault kind {kind!r} here (known: {known})")
        if twin not in self._targets[chosen.name]:
            raise SimulationError(f"twin {twin!r} cannot have a {kind} fault", model=twin)
        level = float(self._rng.uniform(*chosen.value)) if value is None else float(value)
        seconds = float(self._rng.uniform(*chosen.duration)) if duration is None else duration
        fault = Fault(twin, chosen, level, when, when + timedelta(seconds=seconds))
        self.active[twin] = fault
        self.history.append(fault)
        self._set(twin, chosen, self._level(fault, when))
        log.warning("fault injected: %s", fault.describe())
        return fault

    def _inject_random(self, when: datetime) -> None:
        weights = np.array([k.weight for k in self._kinds], dtype=np.float64)
        if not self._kinds or weights.sum() <= 0:
            return
        kind = self._kinds[int(self._rng.choice(len(self._kinds), p=weights / weights.sum()))]
        free = [t for t in self._targets[kind.name] if t not in self.active]
        if not free:
            return
        self.inject(free[int(self._rng.integers(len(free)))], kind.name, when)

    def _gap(self, mean: float) -> timedelta:
        return timedelta(seconds=float(self._rng.exponential(mean)))

    @staticmethod
    def _level(fault: Fault, when: datetime) -> float:
        onset = fault.kind.onset
        if onset <= 0:
            return fault.value
        share = min(1.0, max(0.0, (when - fault.start).total_seconds() / onset))
        return fault.kind.healthy + (fault.value - fault.kind.healthy) * share

    def _set(self, twin: str, kind: FaultKind, value: float) -> None:
        model, prefix = self._simulation.locate(twin)
        model.set_inputs({prefix + kind.input: value})
