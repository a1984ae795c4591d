"""Safety guards built from a guard file: bounds, rate limits, interlocks and modes.

Each is a :class:`~twinsight.control.actions.Guard`: the command service asks every guard
about an action before anything reaches a device, and the first refusal wins
(:func:`~twinsight.control.actions.combine`). Why separate guards rather than one: a
refusal names the guard that refused (``bounds:motor-speed``), so the audit log says
which safety rule stopped what.

>>> from twinsight.control.guards_config import parse_guards
>>> spec = parse_guards('''
... guards:
...   - {name: speed, twins: [m1], property: speedSetpoint, bounds: {min: 0, max: 1700}}
... ''', "g.yaml")
>>> guard = BoundsGuard(spec)
>>> guard.check(Action("property", "m1", "speedSetpoint", 1800)).reason
'speedSetpoint = 1800 is over its max 1700 (guard speed)'
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from twinsight.control.actions import Action, Guard, Verdict, combine
from twinsight.control.guards_config import GuardEntry, GuardSpec
from twinsight.control.guards_state import TwinState
from twinsight.core.clock import Clock
from twinsight.ingest.units import converter


def matches(entry: GuardEntry, action: Action, is_a: Callable[[str, str], bool]) -> bool:
    """Whether ``entry`` guards ``action`` (its kind, name and twin or the twin's model)."""
    if entry.action_kind != action.kind or entry.action_name != action.name:
        return False
    if entry.twins is not None:
        return action.twin_id in entry.twins
    return entry.model is not None and is_a(action.twin_id, entry.model)


class _EntryGuard:
    """A guard that looks at the entries of a guard file that match an action."""

    name = "guard"

    def __init__(self, spec: GuardSpec, is_a: Callable[[str, str], bool] | None = None) -> None:
        self._entries = tuple(spec.guards)
        self._is_a = is_a or (lambda twin, model: False)

    def entries(self, action: Action) -> Iterable[GuardEntry]:
        return (e for e in self._entries if matches(e, action, self._is_a))

    def check(self, action: Action) -> Verdict:
        for entry in self.entries(action):
            verdict = self.check_entry(entry, action)
            if not verdict.allowed:
                return verdict
        return Verdict.allow(self.name)

    def check_entry(self, entry: GuardEntry, action: Action) -> Verdict:
        raise NotImplementedError


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class BoundsGuard(_EntryGuard):
    """Refuses a value (or a command's argument) outside the declared min/max; bounds
    written in another unit than the model's are converted once."""

    name = "bounds"

    def __init__(
        self,
        spec: GuardSpec,
        is_a: Callable[[str, str], bool] | None = None,
        unit_of: Callable[[str, str, str], str | None] | None = None,
    ) -> None:
        super().__init__(spec, is_a)
        self._unit_of = unit_of

    def check_entry(self, entry: GuardEntry, action: Action) -> Verdict:
        bounds = entry.bounds
        if bounds is None:
            return Verdict.allow(self.name)
        raw = action.value
        label = action.name
        if bounds.argument is not None:
            label = f"{action.name}.{bounds.argument}"
            raw = raw.get(bounds.argument) if isinstance(raw, Mapping) else None
        value = _number(raw)
        if value is None:
            return Verdict.refuse(
                f"bounds:{entry.name}",
                f"{label} must be a number to check its bounds, got {raw!r} (guard {entry.name})",
            )
        low, high = bounds.min, bounds.max
        unit = self._unit_of(action.twin_id, action.kind, action.name) if self._unit_of else None
        if bounds.unit and unit and bounds.unit != unit:
            convert = converter(bounds.unit, unit)
            low = convert(low) if low is not None else None
            high = convert(high) if high is not None else None
        suffix = f" {unit}" if unit else ""
        if low is not None and value < low:
            return Verdict.refuse(
                f"bounds:{entry.name}",
                f"{label} = {value:g} is under its min {low:g}{suffix} (guard {entry.name})",
            )
        if high is not None and value > high:
            return Verdict.refuse(
                f"bounds:{entry.name}",
                f"{label} = {value:g} is over its max {high:g}{suffix} (guard {entry.name})",
            )
        return Verdict.allow(self.name)


class RateGuard(_EntryGuard):
    """At most N actions per window per twin and name, and a set-point's change limited
    to ``max_step`` per ``step_per`` since the last change this guard let through.

    Counts the actions it allowed (another guard may still refuse them later: the limit
    errs on the side of fewer actions)."""

    name = "rate"

    def __init__(
        self,
        spec: GuardSpec,
        clock: Clock,
        is_a: Callable[[str, str], bool] | None = None,
        current: Callable[[str, str], Any] | None = None,
    ) -> None:
        super().__init__(spec, is_a)
        self._clock = clock
        self._current = current or (lambda twin, name: None)
        self._times: dict[tuple[str, str, str], deque[datetime]] = {}
        self._last_change: dict[tuple[str, str, str], datetime] = {}
        self._lock = threading.Lock()

    def check_entry(self, entry: GuardEntry, action: Action) -> Verdict:
        rate = entry.rate
        if rate is None:
            return Verdict.allow(self.name)
        now = self._clock.now()
        key = (entry.name, action.twin_id, action.name)
        with self._lock:
            if rate.max_actions is not None:
                times = self._times.setdefault(key, deque())
                while times and (now - times[0]).total_seconds() >= rate.per:
                    times.popleft()
                if len(times) >= rate.max_actions:
                    return Verdict.refuse(
                        f"rate:{entry.name}",
                        f"{action.name} on {action.twin_id}: {len(times)} action(s) in the "
                        f"last {rate.per:g} s, the most allowed is {rate.max_actions} "
                        f"(guard {entry.name})",
                    )
            if rate.max_step is not None:
                value = _number(action.value)
                current = _number(self._current(action.twin_id, action.name))
                limited = value is not None and current is not None
                if value is not None and current is not None and rate.step_direction != "both":
                    limited = (value > current) == (rate.step_direction == "up")
                if limited and value is not None and current is not None:
                    last = self._last_change.get(key)
                    share = (
                        1.0
                        if last is None
                        else min(1.0, (now - last).total_seconds() / rate.step_per)
                    )
                    allowed = rate.max_step * share
                    if abs(value - current) > allowed + 1e-9:
                        return Verdict.refuse(
                            f"rate:{entry.name}",
                            f"{action.name} on {action.twin_id}: a step from {current:g} to "
                            f"{value:g} is more than the {allowed:g} allowed now (at most "
                            f"{rate.max_step:g} per {rate.step_per:g} s; guard {entry.name})",
                        )
                self._last_change[key] = now
            if rate.max_actions is not None:
                self._times[key].append(now)
        return Verdict.allow(self.name)


class InterlockGuard(_EntryGuard):
    """Refuses an action while a declared condition holds on the twin or on a twin
    related to it (followed through the twin graph)."""

    name = "interlock"

    def __init__(self, spec: GuardSpec, state: TwinState) -> None:
        super().__init__(spec, state.is_a)
        self._state = state

    def check_entry(self, entry: GuardEntry, action: Action) -> Verdict:
        current = self._state.value(action.twin_id, action.name)
        for interlock in entry.interlocks:
            twins = (
                [action.twin_id]
                if interlock.via is None
                else self._state.related(action.twin_id, interlock.via)
            )
            for twin in twins:

                def lookup(path: str, twin: str = twin) -> Any:
                    if path == "value":
                        return action.value
                    if path == "current":
                        return current
                    return self._state.value(twin, path)

                def alarm(condition: str | None, twin: str = twin) -> bool:
                    return self._state.has_alarm(twin, condition)

                if interlock.condition.evaluate(lookup, alarm):
                    on = "" if twin == action.twin_id else f" on {twin}"
                    why = f": {interlock.reason}" if interlock.reason else ""
                    return Verdict.refuse(
                        f"interlock:{entry.name}",
                        f"{action.name} on {action.twin_id} is interlocked while "
                        f"{interlock.when}{on}{why} (guard {entry.name})",
                    )
        return Verdict.allow(self.name)


class ModeGuard(_EntryGuard):
    """Says how far an allowed action goes: delivered (auto), held for approval, or only
    recommended — the strictest mode of the matching entries."""

    name = "mode"

    def check_entry(self, entry: GuardEntry, action: Action) -> Verdict:
        del action
        return Verdict.allow(f"mode:{entry.name}", entry.mode, f"mode {entry.mode} ({entry.name})")

    def check(self, action: Action) -> Verdict:
        verdicts = [self.check_entry(e, action) for e in self.entries(action)]
        return combine(verdicts) if verdicts else Verdict.allow(self.name)


def build_guards(spec: GuardSpec, state: TwinState, clock: Clock) -> list[Guard]:
    """The guards of a guard file, in the order the command service should ask them
    (cheap checks first; simulate-before-actuating, when wanted, is added separately)."""

    def unit_of(twin: str, kind: str, name: str) -> str | None:
        if kind != "property":
            return None
        try:
            return state.graph.value_target(twin, "property", name).unit
        except Exception:  # an unknown twin or name: bounds stay as written
            return None

    return [
        BoundsGuard(spec, state.is_a, unit_of),
        InterlockGuard(spec, state),
        RateGuard(spec, clock, state.is_a, state.value),
        ModeGuard(spec, state.is_a),
    ]
