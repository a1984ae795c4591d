"""Simulate before actuating: a guard that tries an action on a fork of the world first.

Before a set-point or a command reaches a device, the acted-on twin and the twins coupled
to it (a few relationship hops either way) are forked as they are now
(:meth:`~twinsight.sim.scenarios.ScenarioService.fork`), the action is applied to the fork's
model inputs, and the fork runs ahead for the declared horizon — once as it is and once
with the action. If the run with the action breaks a declared constraint (a winding over
its temperature limit, a tank over its high level) *and* does worse than leaving things as
they are, the action is refused with the predicted violation as the reason and in the
verdict's ``prediction`` (value, limit, when). Why compare with the baseline: an action
that cools an already overheating motor must not be refused for the heat it reduces.

Scenarios never change live state: the fork is discarded after the run, and nothing is
written to the twins, their history or a broker. A prediction that cannot be made (no
simulated world, no model input bound to the property, a model that fails) refuses the
action with that reason: a guard that cannot check must not wave an action through.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from twinsight.control.actions import Action, Verdict
from twinsight.control.guards import _EntryGuard
from twinsight.control.guards_config import GuardEntry, GuardSpec, Simulate
from twinsight.control.guards_state import TwinState
from twinsight.core.clock import Clock
from twinsight.core.errors import TwinsightError
from twinsight.sim.binding import TwinValue
from twinsight.sim.cosim import Results
from twinsight.sim.forks import Changes, Fork, prepare, simulate
from twinsight.sim.scenarios import ScenarioService


class SimulateFirstGuard(_EntryGuard):
    """Refuses an action whose simulated effect breaks a declared constraint."""

    name = "simulate"

    def __init__(
        self,
        spec: GuardSpec,
        state: TwinState,
        scenarios: Callable[[], ScenarioService],
        clock: Clock,
    ) -> None:
        super().__init__(spec, state.is_a)
        self._state = state
        self._scenarios = scenarios
        self._clock = clock

    def check_entry(self, entry: GuardEntry, action: Action) -> Verdict:
        plan = entry.simulate
        if plan is None:
            return Verdict.allow(self.name)
        guard = f"simulate:{entry.name}"
        try:
            service = self._scenarios()
            inputs = self._inputs(service, entry, plan, action)
            fork = self._fork(service, action, plan)
            step = plan.step or service.spec.step
            changes = Changes(inputs={action.twin_id: inputs})
            baseline = _run(fork, Changes(), plan.horizon, step)
            changed = _run(fork, changes, plan.horizon, step)
        except TwinsightError as exc:
            return Verdict.refuse(
                guard, f"cannot simulate {action.name} on {action.twin_id} first: {exc.message}"
            )
        now = self._clock.now()
        for constraint in plan.constraints:
            twins = (
                [action.twin_id]
                if constraint.via is None
                else self._state.related(action.twin_id, constraint.via)
            )
            for twin in twins:
                key = f"{twin}.{constraint.output}"
                if key not in changed.series:
                    return Verdict.refuse(
                        guard,
                        f"cannot check {key}: the simulation does not record it "
                        f"(it records {', '.join(sorted(changed.series))})",
                    )
                for side, limit in (("max", constraint.max), ("min", constraint.min)):
                    if limit is None:
                        continue
                    worst, at = _worst(changed.times, changed.series[key], side)
                    base, _ = _worst(baseline.times, baseline.series[key], side)
                    broken = worst > limit if side == "max" else worst < limit
                    worse = worst > base + 1e-9 if side == "max" else worst < base - 1e-9
                    if broken and worse:
                        when = now + timedelta(seconds=at)
                        unit = f" {constraint.unit}" if constraint.unit else ""
                        word = "over" if side == "max" else "under"
                        return Verdict.refuse(
                            guard,
                            f"{action.name} = {action.value!r} on {action.twin_id} is predicted "
                            f"to take {key} to {worst:.1f}{unit}, {word} its {side} "
                            f"{limit:g}{unit}, {at / 60:.0f} min from now (without it: "
                            f"{base:.1f}{unit}; guard {entry.name})",
                            {
                                key: {
                                    side: round(worst, 3),
                                    "limit": limit,
                                    "baseline": round(base, 3),
                                    "at": when.isoformat().replace("+00:00", "Z"),
                                    "after_s": at,
                                }
                            },
                        )
        return Verdict.allow(self.name)

    # ----------------------------------------------------------------- helpers
    def _inputs(
        self, service: ScenarioService, entry: GuardEntry, plan: Simulate, action: Action
    ) -> dict[str, float]:
        if entry.command is not None:
            if not plan.inputs:
                raise TwinsightError(
                    f"guard {entry.name} names no model inputs for command {entry.command!r}"
                )
            return dict(plan.inputs)
        value = action.value
        if isinstance(value, bool):
            value = float(value)
        if not isinstance(value, int | float):
            raise TwinsightError(f"{action.name} = {value!r} is not a number to simulate")
        for binding in service.spec.bindings:
            bound = binding.twin == action.twin_id or (
                binding.dtdl_model is not None
                and self._state.is_a(action.twin_id, binding.dtdl_model)
            )
            if not bound:
                continue
            for variable, twin_value in binding.inputs.items():
                parsed = TwinValue.parse(twin_value)
                if parsed.kind == "property" and parsed.path == action.name:
                    return {variable: float(value)}
        raise TwinsightError(
            f"no simulation model input is bound to {action.name!r} of {action.twin_id}"
        )

    def _fork(self, service: ScenarioService, action: Action, plan: Simulate) -> Fork:
        twins = [t for t in self._neighbourhood(action.twin_id, plan.neighbourhood)]
        bound = [t for t in twins if self._bound(service, t)]
        scenario = service.fork(bound, name=f"simulate first: {action.name} on {action.twin_id}")
        try:
            return service.fork_of(scenario.id)
        finally:
            service.discard(scenario.id)

    def _bound(self, service: ScenarioService, twin: str) -> bool:
        return any(
            b.twin == twin or (b.dtdl_model is not None and self._state.is_a(twin, b.dtdl_model))
            for b in service.spec.bindings
        )

    def _neighbourhood(self, twin_id: str, hops: int) -> Iterable[str]:
        seen = {twin_id: 0}
        frontier = [twin_id]
        index = self._state.graph.index
        for depth in range(1, hops + 1):
            reached: list[str] = []
            for twin in frontier:
                reached += [r["$targetId"] for r in index.outgoing(twin)]
                reached += [r["$sourceId"] for r in index.incoming(twin)]
            frontier = [t for t in dict.fromkeys(reached) if t not in seen]
            for t in frontier:
                seen[t] = depth
        return seen


def _run(fork: Fork, changes: Changes, horizon: float, step: float) -> Results:
    prepared = prepare(fork, changes, horizon, step)
    try:
        return simulate(prepared)
    finally:
        prepared.cosim.close()


def _worst(times: Any, values: Any, side: str) -> tuple[float, float]:
    """The highest (``max``) or lowest (``min``) value of a run and its offset in seconds
    (NaN values, from a model that could not compute, count as the worst)."""
    best_value, best_at = (-math.inf if side == "max" else math.inf), 0.0
    for t, raw in zip(times, values, strict=True):
        v = float(raw)
        if math.isnan(v):
            return (math.inf if side == "max" else -math.inf), float(t)
        if (side == "max" and v > best_value) or (side == "min" and v < best_value):
            best_value, best_at = v, float(t)
    return best_value, best_at
