"""The command service: every action on a device goes through here.

``submit`` checks the action against the twin's DTDL model, runs it past every registered
:class:`~twinsight.control.actions.Guard`, then refuses it, holds it for approval, keeps it
as a recommendation or delivers it (:mod:`twinsight.control.delivery`). Each step is
stored with an audit entry in one transaction and published as an
:class:`~twinsight.core.events.ActionChanged` event.

States and transitions (docs/control.md)::

    submit ─► refused                       (model check or a guard said no; nothing sent)
           ─► pending_approval ─approve─► sent     ─reject─► rejected
           ─► recommended      ─apply───► sent | refused (guards again)
                               ─reject──► rejected
           ─► sent ─► accepted ─► done | failed | timed_out
                   ─► done | failed | timed_out

A desired property (kind ``property``) is ``done`` only when the device *reports* the value
(through normal ingest, within a tolerance), not when it says it took it; one that never
converges ends ``timed_out``.
"""

from __future__ import annotations

import math
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, get_args

import orjson

from twinsight.control.actions import Action, Guard, Mode, Verdict, combine
from twinsight.control.delivery import Delivery
from twinsight.control.validation import check_action
from twinsight.core.clock import Clock
from twinsight.core.errors import Conflict, NotFound, TwinsightError
from twinsight.core.events import (
    ActionChanged,
    EventBus,
    TelemetryReceived,
    TelemetrySeries,
    TwinChanged,
)
from twinsight.core.ports import ActionRecord, ActionState, ActionStore, AuditEntry
from twinsight.graph.service import TwinGraph
from twinsight.models.repository import ModelRepository

OPEN_STATES: frozenset[str] = frozenset({"sent", "accepted"})
DECIDABLE: frozenset[str] = frozenset({"pending_approval", "recommended"})
FINAL_STATES: frozenset[str] = frozenset({"refused", "rejected", "done", "failed", "timed_out"})
TRANSITIONS: Mapping[str, frozenset[str]] = {
    "pending_approval": frozenset({"sent", "rejected", "refused", "failed"}),
    "recommended": frozenset({"sent", "rejected", "refused", "failed"}),
    "sent": frozenset({"accepted", "done", "failed", "timed_out"}),
    "accepted": frozenset({"done", "failed", "timed_out"}),
}
"""Allowed moves out of each non-final state; final states have none."""

TOLERANCE = 1e-6
"""Relative tolerance (and absolute, near zero) within which a reported number matches the
desired one."""


def _matches(desired: Any, reported: Any, tolerance: float) -> bool:
    if isinstance(desired, int | float) and isinstance(reported, int | float):
        if isinstance(desired, bool) or isinstance(reported, bool):
            return desired == reported
        return math.isclose(float(desired), float(reported), rel_tol=tolerance, abs_tol=tolerance)
    return bool(desired == reported)


def _json_default(value: Any) -> Any:
    item = getattr(value, "item", None)  # a NumPy scalar
    if callable(item):
        return item()
    tolist = getattr(value, "tolist", None)  # a NumPy array
    if callable(tolist):
        return tolist()
    return str(value)


def _plain(value: Mapping[str, Any]) -> dict[str, Any] | None:
    """A guard's prediction as plain JSON (a simulation's NumPy numbers included), so it
    can be stored, streamed and served as it is; ``None`` when empty."""
    if not value:
        return None
    plain: dict[str, Any] = orjson.loads(
        orjson.dumps(
            dict(value),
            default=_json_default,
            option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY,
        )
    )
    return plain


def _path_value(document: Mapping[str, Any] | None, path: str) -> tuple[bool, Any]:
    node: Any = document
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return False, None
        node = node[part]
    return True, node


class CommandService:
    """Validates, guards, records and delivers actions; keeps the audit log."""

    def __init__(
        self,
        store: ActionStore,
        bus: EventBus,
        clock: Clock,
        twins: TwinGraph,
        models: ModelRepository,
        delivery: Delivery | None = None,
        *,
        tolerance: float = TOLERANCE,
    ) -> None:
        self.store = store
        self._bus = bus
        self._clock = clock
        self._twins = twins
        self._models = models
        self._guards: list[Guard] = []
        self._lock = threading.RLock()
        self.tolerance = tolerance
        self.delivery: Delivery | None = None
        # Desired values waiting for the device to report them: twin -> path -> action id.
        self._awaiting: dict[str, dict[str, str]] = {}
        # whole_series: a SenML pack is looked at once (its newest values), so the bus need
        # not split every pack into samples for this subscriber.
        self._unsubscribe = [
            bus.subscribe(self._on_twin_changed, TwinChanged),
            bus.subscribe(self._on_telemetry, TelemetryReceived, whole_series=True),
            bus.subscribe(self._on_series, TelemetrySeries),
        ]
        if delivery is not None:
            self.attach_delivery(delivery)

    def _abandon_in_flight(self) -> None:
        """Actions a previous run sent and never settled cannot be heard any more (the
        delivery's watch lived in that process): they end ``timed_out``, said so, instead
        of staying ``sent`` for ever. Done when delivery starts, so a command-line tool
        opening the same data folder beside a running server leaves its actions alone."""
        for record in self.store.list_actions(states=sorted(OPEN_STATES)):
            self._save(
                replace(
                    record,
                    state="timed_out",
                    error="the platform restarted before the device's answer arrived",
                ),
                "platform",
                "timed_out: the platform restarted before the device's answer arrived",
            )

    # ------------------------------------------------------------------ wiring

    def attach_delivery(self, delivery: Delivery) -> None:
        """Deliver through ``delivery`` from now on (the hub wires the MQTT adapter in)."""
        if self.delivery is None:
            self._abandon_in_flight()
        self.delivery = delivery
        delivery.on_outcome(self._on_outcome)

    def add_guard(self, guard: Guard) -> None:
        self._guards.append(guard)

    def remove_guard(self, guard: Guard) -> None:
        if guard in self._guards:
            self._guards.remove(guard)

    @property
    def guards(self) -> list[Guard]:
        return list(self._guards)

    def close(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()

    # ------------------------------------------------------------------ reads

    def get(self, action_id: str) -> ActionRecord:
        record = self.store.get_action(action_id)
        if record is None:
            raise NotFound(f"there is no action {action_id!r}", code="ActionNotFound")
        return record

    def list_actions(
        self,
        *,
        twin_id: str | None = None,
        states: Sequence[str] = (),
        requested_by: str | None = None,
    ) -> list[ActionRecord]:
        return self.store.list_actions(twin_id=twin_id, states=states, requested_by=requested_by)

    def audit(
        self, *, twin_id: str | None = None, action_id: str | None = None
    ) -> list[AuditEntry]:
        return self.store.list_audit(twin_id=twin_id, action_id=action_id)

    def desired(self, twin_id: str) -> dict[str, Any]:
        """The twin's desired values not reported yet, and the last outcome of each path."""
        twin = self._twins.get_twin(twin_id)
        pending: dict[str, Any] = {}
        for record in self.store.list_actions(twin_id=twin_id):
            if record.kind != "property":
                continue
            path = self._path(record)
            if path in pending:
                continue  # newest first: the latest desired value of a path wins
            _, reported = _path_value(twin, path)
            pending[path] = {
                "desiredValue": record.value,
                "reportedValue": reported,
                "state": record.state,
                "pending": record.state in OPEN_STATES,
                "actionId": record.id,
                "since": record.created.isoformat(),
                "error": record.error,
            }
        return pending

    # ------------------------------------------------------------------ writes

    def submit(
        self, action: Action, *, mode: Mode = "auto", prediction: Mapping[str, Any] | None = None
    ) -> ActionRecord:
        """Check, guard and (as far as the verdict lets it) deliver ``action``.

        ``mode``: the asker may ask for less than the guards allow (an optimiser that only
        recommends, a rule that wants a person to approve); the stricter of the two wins.
        ``prediction``: what the asker foresees the action doing (an optimiser's predicted
        effect), kept with the guards' own prediction on the record.
        A model error is recorded as ``refused`` and raised (4xx naming the argument)."""
        now = self._clock.now()
        record = ActionRecord(
            id=uuid.uuid4().hex,
            kind=action.kind,
            twin_id=action.twin_id,
            name=action.name,
            value=action.value,
            requested_by=action.requested_by,
            reason=action.reason,
            state="refused",
            created=now,
            updated=now,
            component=action.component,
        )
        try:
            check_action(action, self._twins.index.twin(action.twin_id), self._models.model_set)
        except TwinsightError as error:
            refused = replace(record, verdict=error.message, guard="model", error=error.code)
            self._save(refused, action.requested_by, f"invalid: {error.message}")
            raise
        verdict = self._judge(action, mode)
        record = replace(
            record,
            mode=verdict.mode,
            verdict=verdict.reason,
            guard=verdict.guard,
            prediction=_plain({**(prediction or {}), **verdict.prediction}),
        )
        if not verdict.allowed:
            self._save(record, verdict.guard or "guard", f"refused: {verdict.reason}")
            return record
        if verdict.mode == "approve":
            record = replace(record, state="pending_approval")
            self._save(record, action.requested_by, _asked(action, verdict))
            return record
        if verdict.mode == "recommend":
            record = replace(record, state="recommended")
            self._save(record, action.requested_by, _asked(action, verdict))
            return record
        return self._deliver(record, action.requested_by, _asked(action, verdict))

    def note_decision(self, twin_id: str, actor: str, event: str, detail: str) -> AuditEntry:
        """Record a decision that produced no action (an optimiser that found no feasible
        move, say): an audit entry with an empty ``action_id``; nothing reaches a device."""
        entry = AuditEntry(self._clock.now(), "", twin_id, event, actor, detail)
        self.store.append_audit(entry)
        return entry

    def approve(self, action_id: str, by: str) -> ActionRecord:
        """An operator approves a pending action: it is delivered (once; a second approval
        is a 409)."""
        with self._lock:
            record = self._decidable(action_id, "approve", ("pending_approval",))
            record = replace(record, decided_by=by)
            return self._deliver(record, by, "approved")

    def apply(self, action_id: str, by: str) -> ActionRecord:
        """An operator applies a recommendation: the guards see it again as the operator's
        action; a refusal still wins, anything else is delivered."""
        with self._lock:
            record = self._decidable(action_id, "apply", ("recommended",))
            action = Action(
                kind=record.kind,  # type: ignore[arg-type]
                twin_id=record.twin_id,
                name=record.name,
                value=record.value,
                requested_by=by,
                reason=f"applied recommendation {record.id}",
                component=record.component,
            )
            verdict = self._judge(action)
            record = replace(record, decided_by=by)
            if not verdict.allowed:
                refused = replace(
                    record,
                    state="refused",
                    verdict=verdict.reason,
                    guard=verdict.guard,
                    prediction=_plain(verdict.prediction) or record.prediction,
                )
                return self._save(refused, verdict.guard or "guard", f"refused: {verdict.reason}")
            return self._deliver(record, by, "applied")

    def reject(self, action_id: str, by: str, reason: str = "") -> ActionRecord:
        """An operator rejects a pending action or a recommendation; nothing is sent."""
        with self._lock:
            record = self._decidable(action_id, "reject", tuple(DECIDABLE))
            record = replace(record, state="rejected", decided_by=by, error=reason)
            return self._save(record, by, f"rejected: {reason}" if reason else "rejected")

    # ------------------------------------------------------------------ internals

    def _judge(self, action: Action, mode: Mode = "auto") -> Verdict:
        verdicts = [] if mode == "auto" else [Verdict.allow("requester", mode)]
        for guard in self._guards:
            try:
                verdicts.append(guard.check(action))
            except Exception as exc:  # a broken guard must not let an action through
                name = getattr(guard, "name", type(guard).__name__)
                verdicts.append(Verdict.refuse(name, f"guard {name!r} failed: {exc}"))
        return combine(verdicts)

    def _decidable(self, action_id: str, what: str, states: tuple[str, ...]) -> ActionRecord:
        record = self.get(action_id)
        if record.state not in states:
            raise Conflict(
                f"action {action_id} is {record.state}; only an action that is "
                f"{' or '.join(states)} can be {what.rstrip('e')}ed",
                code="ActionNotDecidable",
            )
        return record

    @staticmethod
    def _path(record: ActionRecord) -> str:
        return f"{record.component}.{record.name}" if record.component else record.name

    def _deliver(self, record: ActionRecord, actor: str, detail: str) -> ActionRecord:
        delivery = self.delivery
        if delivery is None:
            failed = replace(
                record,
                state="failed",
                error="no device connection: the hub has no command delivery (start the "
                "server with an MQTT broker)",
            )
            return self._save(failed, "platform", failed.error)
        topics = delivery.topics
        if record.kind == "command":
            topic = topics.command(record.twin_id, record.name, record.component)
            body: dict[str, Any] = {"request": record.value}
        else:
            topic = topics.desired(record.twin_id)
            body = {"desired": {self._path(record): record.value}}
            with self._lock:
                previous = self._awaiting.setdefault(record.twin_id, {}).get(self._path(record))
                self._awaiting[record.twin_id][self._path(record)] = record.id
            if previous is not None:
                delivery.settle(previous)
                self._finish(previous, "failed", None, "superseded by a newer desired value", 0)
        sent = replace(record, state="sent", topic=topic, correlation_id=record.id, attempts=1)
        self._save(sent, actor, f"{detail}; sent on {topic}")
        try:
            delivery.send(record.id, record.id, topic, body, await_report=record.kind == "property")
        except TwinsightError as error:
            return self._finish(record.id, "failed", None, f"could not send: {error.message}", 1)
        return sent

    def _on_outcome(
        self, action_id: str, state: str, response: Any, error: str, attempts: int
    ) -> None:
        if state == "retry":
            record = self.store.get_action(action_id)
            if record is not None and record.state in OPEN_STATES:
                self._save(
                    replace(record, attempts=attempts),
                    "platform",
                    f"no answer: sent again (attempt {attempts})",
                    event=False,
                )
            return
        self._finish(action_id, state, response, error, attempts)

    def _finish(
        self, action_id: str, state: str, response: Any, error: str, attempts: int
    ) -> ActionRecord:
        with self._lock:
            record = self.get(action_id)
            if state not in TRANSITIONS.get(record.state, frozenset()):
                return record
            if state != "accepted" and record.kind == "property":
                paths = self._awaiting.get(record.twin_id, {})
                if paths.get(self._path(record)) == action_id:
                    del paths[self._path(record)]
            updated = replace(
                record,
                state=state,  # type: ignore[arg-type]
                response=response if response is not None else record.response,
                error=error,
                attempts=max(attempts, record.attempts),
            )
            actor = "platform" if state == "timed_out" else f"device:{record.twin_id}"
            return self._save(updated, actor, f"{state}: {error}" if error else state)

    def _save(
        self, record: ActionRecord, actor: str, detail: str, *, event: bool = True
    ) -> ActionRecord:
        now = self._clock.now()
        record = replace(record, updated=now)
        entry = AuditEntry(now, record.id, record.twin_id, record.state, actor, detail)
        self.store.put_action(record, entry)
        if event:
            self._bus.publish(ActionChanged(record, now))
        return record

    # ------------------------------------------------------------- reported values

    def _reported(self, twin_id: str, values: Mapping[str, Any], prefix: str = "") -> None:
        paths = self._awaiting.get(twin_id)
        if not paths:
            return
        for path, action_id in list(paths.items()):
            found, value = _path_value(values, path[len(prefix) :] if prefix else path)
            if prefix and not path.startswith(prefix):
                continue
            if not found:
                continue
            record = self.store.get_action(action_id)
            if record is None or not _matches(record.value, value, self.tolerance):
                continue
            if self.delivery is not None:
                self.delivery.settle(action_id)
            self._finish(action_id, "done", {"reported": value}, "", record.attempts)

    def _on_twin_changed(self, event: TwinChanged) -> None:
        if event.new is not None and event.twin_id in self._awaiting:
            self._reported(event.twin_id, event.new)

    def _on_telemetry(self, event: TelemetryReceived) -> None:
        if event.twin_id in self._awaiting:
            prefix = f"{event.component}." if event.component else ""
            self._reported(event.twin_id, event.payload, prefix)

    def _on_series(self, event: TelemetrySeries) -> None:
        if event.twin_id in self._awaiting:
            newest: dict[str, Any] = {}
            for name, column in event.values.items():
                for value in reversed(column):
                    if value is not None:
                        newest[name] = value
                        break
            prefix = f"{event.component}." if event.component else ""
            self._reported(event.twin_id, newest, prefix)


def _asked(action: Action, verdict: Verdict) -> str:
    parts = [f"{action.kind} {action.name}"]
    if action.reason:
        parts.append(f"because {action.reason}")
    if verdict.reason:
        parts.append(f"guards: {verdict.reason}")
    return "; ".join(parts)


ACTION_STATES: tuple[ActionState, ...] = get_args(ActionState)
"""Every action state, in the order :data:`ActionState` declares them."""
