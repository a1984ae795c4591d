"""Rules on the live event stream: when a condition on a twin holds long enough, act.

The engine subscribes to the bus like the monitoring runner does: twin changes (property
values), telemetry (also derived values such as ``remainingUsefulLife``) and alarm
changes. For each rule and twin it keeps a small state machine — armed → pending (the
condition holds, waiting ``for``) → fired → re-armed once the ``clear`` condition holds
(hysteresis) — on the data's own times, so a replay of history behaves like the live run.

A firing builds an :class:`~twinsight.control.actions.Action` (a command or a property
write) handed to ``submit`` — the command service, which runs the guards — or a
notification (:class:`~twinsight.core.events.RuleFired` on the bus). Every firing is
recorded through :class:`~twinsight.core.ports.RuleStore`. Two rules that set the same
property of a twin to different values within ``conflict_window`` are contradictory at
run time: the second action is not sent, and that is recorded.

Dry runs (:meth:`RuleEngine.dry_run`) evaluate a rule against the current state or replay
recent history through a fresh state machine, and report what would fire, sending
nothing and recording nothing.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from twinsight.control.actions import Action
from twinsight.control.guards_state import TwinState
from twinsight.control.rules_config import Rule, RuleSpec
from twinsight.core.clock import Clock
from twinsight.core.errors import BadRequest, NotFound, TwinsightError
from twinsight.core.events import (
    AlarmChanged,
    EventBus,
    RuleFired,
    TelemetryReceived,
    TwinChanged,
)
from twinsight.core.ports import RuleFiring, RuleStore

log = logging.getLogger(__name__)

Submit = Callable[[Action], Any]
"""Hands an action to the command service; its answer is recorded with the firing."""
MAX_DRY_RUN = 7 * 86400.0
"""Longest history a dry run replays (s)."""


@dataclass(slots=True)
class _Track:
    """One rule on one twin."""

    pending_since: datetime | None = None
    fired: bool = False
    last_fired: datetime | None = None


@dataclass(frozen=True, slots=True)
class RuleStatus:
    rule: Rule
    enabled: bool
    active_on: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        r = self.rule
        return {
            "name": r.name,
            "description": r.description,
            "model": r.model,
            "twins": r.twins,
            "when": r.when,
            "clear": r.clear,
            "for": r.for_seconds,
            "cooldown": r.cooldown,
            "then": r.then.model_dump(by_alias=True, exclude_none=True),
            "enabled": self.enabled,
            "activeOn": list(self.active_on),
        }


@dataclass(slots=True)
class _Values:
    """Latest values of a twin seen on the bus (telemetry is not in the twin document)."""

    by_twin: dict[str, dict[str, Any]] = field(default_factory=dict)


def firing_json(firing: RuleFiring) -> dict[str, Any]:
    return {
        "id": firing.id,
        "rule": firing.rule,
        "twin": firing.twin_id,
        "time": firing.time.isoformat().replace("+00:00", "Z"),
        "kind": firing.kind,
        "name": firing.name,
        "value": firing.value,
        "outcome": firing.outcome,
        "detail": firing.detail,
    }


class RuleEngine:
    """Evaluates a rule file on the live bus and acts through ``submit``."""

    def __init__(
        self,
        spec: RuleSpec,
        state: TwinState,
        bus: EventBus,
        store: RuleStore,
        clock: Clock,
        submit: Submit | None = None,
        *,
        history: Any = None,
        warnings: Iterable[str] = (),
    ) -> None:
        self.spec = spec
        self.warnings = tuple(warnings)
        self._state = state
        self._bus = bus
        self._store = store
        self._clock = clock
        self._submit = submit
        self._history = history
        self._rules = {r.name: r for r in spec.rules}
        switches = store.enabled_states()
        self._enabled = {r.name: switches.get(r.name, r.enabled) for r in spec.rules}
        self._tracks: dict[tuple[str, str], _Track] = {}
        # (rule, twin) -> whether the rule watches the twin; forgotten when twins come,
        # go or change model
        self._applies_to: dict[tuple[str, str], bool] = {}
        self._values = _Values()
        # (twin, kind, name) -> (time, rule, value) of the last action sent
        self._recent: dict[tuple[str, str, str], tuple[datetime, str, Any]] = {}
        self._lock = threading.RLock()
        for warning in self.warnings:
            log.warning("rules: %s", warning)
        self._unsubscribe = [
            bus.subscribe(self._on_twin, TwinChanged),
            bus.subscribe(self._on_telemetry, TelemetryReceived),
            bus.subscribe(self._on_alarm, AlarmChanged),
        ]

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        self._unsubscribe = []

    # ------------------------------------------------------------------ API
    def rule(self, name: str) -> Rule:
        rule = self._rules.get(name)
        if rule is None:
            raise NotFound(
                f"no rule {name!r} (rules: {', '.join(self._rules) or 'none'})",
                code="RuleNotFound",
            )
        return rule

    def status(self, name: str) -> RuleStatus:
        rule = self.rule(name)
        with self._lock:
            active = tuple(t for (r, t), track in self._tracks.items() if r == name and track.fired)
        return RuleStatus(rule, self._enabled[name], active)

    def list_rules(self) -> list[RuleStatus]:
        return [self.status(name) for name in self._rules]

    def set_enabled(self, name: str, enabled: bool) -> RuleStatus:
        """Switch a rule on or off (kept across restarts); switching off forgets its
        pending and fired state, so it starts armed when switched on again."""
        self.rule(name)
        self._store.set_enabled(name, enabled)
        with self._lock:
            self._enabled[name] = enabled
            for key in [k for k in self._tracks if k[0] == name]:
                del self._tracks[key]
        return self.status(name)

    def firings(self, rule: str | None = None, twin_id: str | None = None) -> list[RuleFiring]:
        if rule is not None:
            self.rule(rule)
        return self._store.list_firings(rule=rule, twin_id=twin_id)

    # ----------------------------------------------------------------- events
    def _on_twin(self, event: TwinChanged) -> None:
        if event.kind != "update" or (event.old or {}).get("$metadata", {}).get("$model") != (
            event.new or {}
        ).get("$metadata", {}).get("$model"):
            self._applies_to.clear()
        if event.kind == "delete":
            with self._lock:
                self._values.by_twin.pop(event.twin_id, None)
                for key in [k for k in self._tracks if k[1] == event.twin_id]:
                    del self._tracks[key]
            return
        self.evaluate(event.twin_id, event.time)

    def _on_telemetry(self, event: TelemetryReceived) -> None:
        if event.component is not None:
            prefix = f"{event.component}."
            payload = {prefix + k: v for k, v in event.payload.items()}
        else:
            payload = dict(event.payload)
        with self._lock:
            self._values.by_twin.setdefault(event.twin_id, {}).update(payload)
        self.evaluate(event.twin_id, event.source_time or event.time, names=set(payload))

    def _on_alarm(self, event: AlarmChanged) -> None:
        self.evaluate(event.alarm.twin_id, event.time)

    # ------------------------------------------------------------- evaluation
    def _applies(self, rule: Rule, twin_id: str) -> bool:
        key = (rule.name, twin_id)
        known = self._applies_to.get(key)
        if known is None:
            if rule.twins is not None:
                known = twin_id in rule.twins
            else:
                known = rule.model is not None and self._state.is_a(twin_id, rule.model)
            self._applies_to[key] = known
        return known

    def _lookup(self, twin_id: str) -> Callable[[str], Any]:
        seen = self._values.by_twin.get(twin_id, {})

        def lookup(path: str) -> Any:
            if path in seen:
                return seen[path]
            return self._state.value(twin_id, path)

        return lookup

    def evaluate(self, twin_id: str, time: datetime, names: set[str] | None = None) -> None:
        """Evaluate the enabled rules of ``twin_id`` at ``time`` (those reading one of
        ``names``, when given)."""
        for rule in self._rules.values():
            if not self._enabled.get(rule.name) or not self._applies(rule, twin_id):
                continue
            if names is not None:
                read = rule.on.names | (rule.off.names if rule.off is not None else frozenset())
                if not (read & names) and not rule.on.alarms:
                    continue
            try:
                fire = self._step(rule, twin_id, time, self._lookup(twin_id), self._alarm(twin_id))
            except Exception:
                log.exception("rule %s failed on %s", rule.name, twin_id)
                continue
            if fire:
                self._fire(rule, twin_id, time)

    def _alarm(self, twin_id: str) -> Callable[[str | None], bool]:
        return lambda condition: self._state.has_alarm(twin_id, condition)

    def _step(
        self,
        rule: Rule,
        twin_id: str,
        time: datetime,
        lookup: Callable[[str], Any],
        alarm: Callable[[str | None], bool],
        tracks: dict[tuple[str, str], _Track] | None = None,
    ) -> bool:
        """Advance one rule's state machine on one twin; True when it fires now."""
        table = self._tracks if tracks is None else tracks
        with self._lock:
            track = table.setdefault((rule.name, twin_id), _Track())
            if track.fired:
                off = rule.off
                cleared = (
                    off.evaluate(lookup, alarm) if off else not rule.on.evaluate(lookup, alarm)
                )
                if cleared:
                    track.fired = False
                    track.pending_since = None
                return False
            if not rule.on.evaluate(lookup, alarm):
                track.pending_since = None
                return False
            if track.pending_since is None:
                track.pending_since = time
            held = (time - track.pending_since).total_seconds()
            if held < rule.for_seconds:
                return False
            if (
                track.last_fired is not None
                and (time - track.last_fired).total_seconds() < rule.cooldown
            ):
                return False
            track.fired = True
            track.last_fired = time
            return True

    # ----------------------------------------------------------------- acting
    def _fire(self, rule: Rule, twin_id: str, time: datetime) -> RuleFiring:
        then = rule.then
        firing = RuleFiring(
            id=uuid.uuid4().hex[:12],
            rule=rule.name,
            twin_id=twin_id,
            time=time,
            kind=then.kind,
            name=then.name,
            value=then.value if then.notify is None else then.notify.message,
            outcome="notified",
        )
        reason = then.reason or f"rule {rule.name}: {rule.when}"
        if then.kind == "notify":
            detail = f"{then.notify.severity if then.notify else 'warning'}: {reason}"
            firing = replace(firing, detail=detail)
        else:
            firing = self._act(rule, twin_id, time, firing, reason)
        self._store.put_firing(firing)
        self._bus.publish(RuleFired(firing, self._clock.now()))
        return firing

    def _act(
        self, rule: Rule, twin_id: str, time: datetime, firing: RuleFiring, reason: str
    ) -> RuleFiring:
        then = rule.then
        key = (twin_id, then.kind, then.name)
        with self._lock:
            recent = self._recent.get(key)
            window = timedelta(seconds=self.spec.conflict_window)
            if (
                recent is not None
                and recent[1] != rule.name
                and recent[2] != then.value
                and time - recent[0] < window
            ):
                return replace(
                    firing,
                    outcome="conflict",
                    detail=(
                        f"not sent: rule {recent[1]!r} set {then.name} = {recent[2]!r} on "
                        f"{twin_id} {(time - recent[0]).total_seconds():.0f} s earlier "
                        f"(conflict window {self.spec.conflict_window:g} s)"
                    ),
                )
            self._recent[key] = (time, rule.name, then.value)
        if self._submit is None:
            return replace(firing, outcome="failed", detail="no command service to submit to")
        action = Action(
            "property" if then.kind == "property" else "command",
            twin_id,
            then.name,
            then.value,
            requested_by=f"rule:{rule.name}",
            reason=reason,
        )
        try:
            answer = self._submit(action)
        except TwinsightError as exc:
            return replace(firing, outcome="failed", detail=exc.message)
        return replace(firing, outcome="submitted", detail=_describe(answer))

    # ---------------------------------------------------------------- dry run
    def dry_run(self, name: str, *, since: float | None = None) -> dict[str, Any]:
        """What ``name`` would do, sending and recording nothing: against the current
        state (``since`` None) or replaying the last ``since`` seconds of history."""
        rule = self.rule(name)
        twins = self._twins_of(rule)
        now = self._clock.now()
        results: list[dict[str, Any]] = []
        if since is None:
            for twin in twins:
                holds = rule.on.evaluate(self._lookup(twin), self._alarm(twin))
                results.append(
                    {
                        "twin": twin,
                        "holds": holds,
                        "wouldFire": holds and rule.for_seconds == 0,
                        "note": (
                            f"must hold for {rule.for_seconds:g} s first"
                            if holds and rule.for_seconds
                            else ""
                        ),
                    }
                )
            return {"rule": name, "mode": "current", "twins": results, "action": _then(rule)}
        if not 0 < since <= MAX_DRY_RUN:
            raise BadRequest(
                f"since must be 1..{MAX_DRY_RUN:g} s, got {since:g}", code="InvalidArgument"
            )
        if self._history is None:
            raise BadRequest("no history to replay on this hub", code="InvalidArgument")
        start = now - timedelta(seconds=since)
        fired: list[dict[str, Any]] = []
        names = sorted(rule.on.names | (rule.off.names if rule.off else frozenset()))
        for twin in twins:
            timeline: list[tuple[datetime, str, Any]] = []
            for path in names:
                try:
                    points = self._history.range(f"{twin}/{path}", start, now, limit=100_000)
                except TwinsightError:
                    points = []
                timeline += [(p.time, path, p.value) for p in points]
            timeline.sort(key=lambda item: item[0])
            values: dict[str, Any] = {}
            tracks: dict[tuple[str, str], _Track] = {}

            def lookup(path: str, twin: str = twin, values: dict[str, Any] = values) -> Any:
                return values[path] if path in values else self._state.value(twin, path)

            for when, path, value in timeline:
                values[path] = value
                if self._step(rule, twin, when, lookup, self._alarm(twin), tracks):
                    fired.append({"twin": twin, "time": _iso(when), "values": dict(values)})
        return {
            "rule": name,
            "mode": "history",
            "since": _iso(start),
            "firings": fired,
            "action": _then(rule),
        }

    def _twins_of(self, rule: Rule) -> list[str]:
        if rule.twins is not None:
            return [t for t in rule.twins if self._state.document(t) is not None]
        assert rule.model is not None
        return sorted(self._state.graph.index.twins_of_model(rule.model))


def _then(rule: Rule) -> dict[str, Any]:
    return rule.then.model_dump(by_alias=True, exclude_none=True)


def _iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")


def _describe(answer: Any) -> str:
    """A short text of what the command service answered (an action record's id, state
    and verdict)."""
    if answer is None:
        return "submitted"
    state = getattr(answer, "state", None)
    if state is not None:
        parts = [f"action {getattr(answer, 'id', '?')}: {state}"]
        verdict = getattr(answer, "verdict", None)
        if verdict:
            parts.append(str(verdict))
        return " — ".join(parts)
    if isinstance(answer, Mapping):
        return ", ".join(f"{k}={v}" for k, v in answer.items())
    return str(answer)
