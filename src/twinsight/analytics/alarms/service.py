"""The alarm service: raise, update, acknowledge and clear alarms, durably, with events.

Lifecycle (ISA-18.2 in three states)::

    raised ──acknowledge──► acknowledged ──clear──► cleared
       └────────────────clear────────────────────────┘   (cleared, unacknowledged:
                                                           may still be acknowledged once)

- **De-duplication.** A condition already active on a twin is one alarm: reporting it
  again updates that alarm (``count`` + 1, the last value and time, the severity and
  message of the latest report) and never makes a second. The store enforces it too.
- **Every transition is an event** (:class:`~twinsight.core.events.AlarmChanged`:
  ``raised``, ``updated``, ``acknowledged``, ``cleared``) on the bus, after the change is
  durable, so live streams and the page follow without polling.
- **Bad transitions are refused** with the reason: acknowledging an alarm already
  acknowledged (:class:`~twinsight.core.errors.Conflict`, ``AlarmAlreadyAcknowledged``),
  an unknown id (:class:`~twinsight.core.errors.NotFound`, ``AlarmNotFound``).

Reporters (the monitoring runner, a rule) decide *when* through
:class:`~twinsight.analytics.alarms.hysteresis.Hysteresis`; this service only keeps the
books. It is thread-safe: the bus may call reporters from any thread.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from twinsight.core.clock import Clock
from twinsight.core.errors import BadRequest, Conflict, NotFound
from twinsight.core.events import AlarmChanged, AlarmTransition, EventBus
from twinsight.core.ports import Alarm, AlarmStore

SEVERITIES = ("critical", "major", "minor", "warning")
"""Alarm severities, most urgent first."""
STATES = ("raised", "acknowledged", "cleared")
MAX_TEXT = 2000
"""Longest message, note or name kept (longer ones are cut, not refused)."""


def severity_rank(severity: str) -> int:
    """0 for the most urgent severity; unknown ones sort last."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


def check_severity(severity: str) -> str:
    if severity not in SEVERITIES:
        raise BadRequest(
            f"unknown severity {severity!r}; use {', '.join(SEVERITIES)}", code="InvalidArgument"
        )
    return severity


class AlarmService:
    """Alarms of a hub: kept in ``store``, announced on ``bus`` (see the module notes)."""

    def __init__(self, store: AlarmStore, bus: EventBus, clock: Clock) -> None:
        self.store = store
        self._bus = bus
        self._clock = clock
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ reporting

    def report(
        self,
        twin_id: str,
        condition: str,
        *,
        source: str,
        severity: str,
        message: str,
        value: float | None = None,
        time: datetime | None = None,
    ) -> Alarm:
        """The condition is present on the twin: raise an alarm, or update the active one
        (de-duplication). ``time`` is when it was observed (the data's source time; now
        if not given)."""
        check_severity(severity)
        if not twin_id or not condition:
            raise BadRequest("an alarm needs a twin and a condition", code="InvalidArgument")
        when = time or self._clock.now()
        with self._lock:
            current = self.store.active_alarm(twin_id, condition)
            if current is None:
                alarm = Alarm(
                    id=uuid.uuid4().hex,
                    twin_id=twin_id,
                    condition=condition,
                    source=source[:MAX_TEXT],
                    severity=severity,
                    message=message[:MAX_TEXT],
                    value=value,
                    state="raised",
                    raised=when,
                    last_time=when,
                )
                transition: AlarmTransition = "raised"
            else:
                alarm = replace(
                    current,
                    source=source[:MAX_TEXT],
                    severity=severity,
                    message=message[:MAX_TEXT],
                    value=value,
                    last_time=max(when, current.last_time),
                    count=current.count + 1,
                )
                transition = "updated"
            self.store.put_alarm(alarm)
        self._announce(transition, alarm)
        return alarm

    def clear(
        self,
        twin_id: str,
        condition: str,
        *,
        value: float | None = None,
        time: datetime | None = None,
    ) -> Alarm | None:
        """The condition is gone: clear its active alarm (``None`` when none was active,
        which is not an error: clearing is idempotent)."""
        with self._lock:
            current = self.store.active_alarm(twin_id, condition)
            if current is None:
                return None
            when = time or self._clock.now()
            alarm = replace(
                current,
                state="cleared",
                cleared=max(when, current.last_time),
                value=value if value is not None else current.value,
            )
            self.store.put_alarm(alarm)
        self._announce("cleared", alarm)
        return alarm

    # ------------------------------------------------------------------ operators

    def acknowledge(self, alarm_id: str, by: str, note: str = "") -> Alarm:
        """An operator has seen the alarm. Allowed once, while active or after it cleared
        unacknowledged; a second acknowledgement is a :class:`Conflict`."""
        if not isinstance(by, str) or not by.strip():
            raise BadRequest("say who acknowledges the alarm ('by')", code="InvalidArgument")
        with self._lock:
            current = self.get(alarm_id)
            if current.acknowledged is not None:
                raise Conflict(
                    f"alarm {alarm_id} was already acknowledged by {current.acknowledged_by} "
                    f"at {current.acknowledged.isoformat()}",
                    code="AlarmAlreadyAcknowledged",
                )
            alarm = replace(
                current,
                state="acknowledged" if current.active else "cleared",
                acknowledged=self._clock.now(),
                acknowledged_by=by.strip()[:MAX_TEXT],
                note=note[:MAX_TEXT],
            )
            self.store.put_alarm(alarm)
        self._announce("acknowledged", alarm)
        return alarm

    # ------------------------------------------------------------------ reading

    def get(self, alarm_id: str) -> Alarm:
        alarm = self.store.get_alarm(alarm_id)
        if alarm is None:
            raise NotFound(f"there is no alarm {alarm_id!r}", code="AlarmNotFound")
        return alarm

    def active(self, twin_id: str, condition: str) -> Alarm | None:
        return self.store.active_alarm(twin_id, condition)

    def list(
        self,
        *,
        twin_id: str | None = None,
        states: Sequence[str] = (),
        severities: Sequence[str] = (),
        active_only: bool = False,
    ) -> list[Alarm]:
        """Matching alarms, the way an operator reads them: active first, then by
        severity (most urgent first), then newest raised first."""
        for state in states:
            if state not in STATES:
                raise BadRequest(
                    f"unknown alarm state {state!r}; use {', '.join(STATES)}",
                    code="InvalidArgument",
                )
        for severity in severities:
            check_severity(severity)
        alarms = self.store.list_alarms(
            twin_id=twin_id, states=states, severities=severities, active_only=active_only
        )
        # sorted() is stable: newest-raised-first from the store survives within a rank.
        return sorted(alarms, key=lambda a: (not a.active, severity_rank(a.severity)))

    def _announce(self, transition: AlarmTransition, alarm: Alarm) -> None:
        self._bus.publish(AlarmChanged(transition, alarm, self._clock.now()))
