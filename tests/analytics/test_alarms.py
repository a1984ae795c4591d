"""Alarms: lifecycle, de-duplication, hysteresis, refused transitions, durability, events."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from twinsight.analytics.alarms import AlarmService, Hysteresis
from twinsight.core.clock import ManualClock
from twinsight.core.errors import BadRequest, Conflict, NotFound
from twinsight.core.events import AlarmChanged
from twinsight.hub import Hub

T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)


@pytest.fixture
def hub() -> Iterator[Hub]:
    with Hub(clock=ManualClock(T0)) as hub:
        yield hub


def _events(hub: Hub) -> list[AlarmChanged]:
    seen: list[AlarmChanged] = []
    hub.bus.subscribe(seen.append, AlarmChanged)
    return seen


def _raise(alarms: AlarmService, twin: str = "line-1-tank", value: float = 3.7) -> str:
    return alarms.report(
        twin,
        "limit:level:high",
        source="limit alarmLimits.high",
        severity="critical",
        message=f"level {value} m over the high limit 3.5 m",
        value=value,
        time=T0,
    ).id


def test_raise_acknowledge_clear_with_an_event_for_each(hub: Hub) -> None:
    events = _events(hub)
    alarm_id = _raise(hub.alarms)
    alarm = hub.alarms.get(alarm_id)
    assert (alarm.state, alarm.count, alarm.raised, alarm.value) == ("raised", 1, T0, 3.7)
    acked = hub.alarms.acknowledge(alarm_id, "ana", "valve checked")
    assert (acked.state, acked.acknowledged_by, acked.note) == (
        "acknowledged",
        "ana",
        "valve checked",
    )
    assert acked.acknowledged == T0  # the hub clock's now
    cleared = hub.alarms.clear(
        "line-1-tank", "limit:level:high", value=3.2, time=T0 + timedelta(minutes=5)
    )
    assert cleared is not None
    assert (cleared.state, cleared.cleared, cleared.value) == (
        "cleared",
        T0 + timedelta(minutes=5),
        3.2,
    )
    assert cleared.acknowledged_by == "ana"  # who acknowledged stays on the record
    assert [(e.transition, e.alarm.id) for e in events] == [
        ("raised", alarm_id),
        ("acknowledged", alarm_id),
        ("cleared", alarm_id),
    ]
    assert events[-1].alarm.state == "cleared"


def test_an_alarm_may_clear_unacknowledged_and_be_acknowledged_afterwards(hub: Hub) -> None:
    alarm_id = _raise(hub.alarms)
    hub.alarms.clear("line-1-tank", "limit:level:high")
    cleared = hub.alarms.get(alarm_id)
    assert (cleared.state, cleared.acknowledged, cleared.acknowledged_by) == ("cleared", None, None)
    late = hub.alarms.acknowledge(alarm_id, "ben")
    assert (late.state, late.acknowledged_by) == ("cleared", "ben")  # stays cleared


def test_a_repeated_condition_updates_the_active_alarm_never_a_second_one(hub: Hub) -> None:
    events = _events(hub)
    first = _raise(hub.alarms, value=3.6)
    again = hub.alarms.report(
        "line-1-tank",
        "limit:level:high",
        source="limit alarmLimits.high",
        severity="critical",
        message="level 3.9 m",
        value=3.9,
        time=T0 + timedelta(seconds=30),
    )
    assert again.id == first
    assert (again.count, again.value, again.last_time, again.raised) == (
        2, 3.9, T0 + timedelta(seconds=30), T0,
    )  # fmt: skip
    assert len(hub.alarms.list(twin_id="line-1-tank")) == 1
    assert [e.transition for e in events] == ["raised", "updated"]
    # Another twin, or another condition on the same twin, is another alarm.
    other = _raise(hub.alarms, twin="line-2-tank")
    low = hub.alarms.report(
        "line-1-tank", "limit:level:low", source="limit", severity="major", message="low"
    )
    assert len({first, other, low.id}) == 3
    # After it cleared, the condition coming back is a new alarm.
    hub.alarms.clear("line-1-tank", "limit:level:high")
    back = _raise(hub.alarms)
    assert back != first
    assert [a.id for a in hub.alarms.list(twin_id="line-1-tank", active_only=True)] == [
        back,
        low.id,
    ]


def test_acknowledging_twice_an_unknown_id_or_without_a_name_is_refused(hub: Hub) -> None:
    alarm_id = _raise(hub.alarms)
    hub.alarms.acknowledge(alarm_id, "ana")
    with pytest.raises(Conflict, match="already acknowledged by ana") as twice:
        hub.alarms.acknowledge(alarm_id, "ben")
    assert twice.value.code == "AlarmAlreadyAcknowledged"
    hub.alarms.clear("line-1-tank", "limit:level:high")
    with pytest.raises(Conflict, match="already acknowledged"):  # cleared and acknowledged
        hub.alarms.acknowledge(alarm_id, "ben")
    with pytest.raises(NotFound, match="no alarm 'nope'") as unknown:
        hub.alarms.acknowledge("nope", "ana")
    assert unknown.value.code == "AlarmNotFound"
    fresh = _raise(hub.alarms)
    with pytest.raises(BadRequest, match="who acknowledges"):
        hub.alarms.acknowledge(fresh, "  ")
    assert hub.alarms.get(fresh).state == "raised"  # a refusal changes nothing


def test_bad_severity_state_and_clearing_nothing(hub: Hub) -> None:
    with pytest.raises(BadRequest, match="unknown severity 'fatal'"):
        hub.alarms.report("t", "c", source="s", severity="fatal", message="m")
    with pytest.raises(BadRequest, match="unknown alarm state 'open'"):
        hub.alarms.list(states=["open"])
    assert hub.alarms.clear("t", "c") is None  # nothing active: idempotent, no event


def test_listing_puts_active_first_then_severity_then_newest(hub: Hub) -> None:
    clock = hub.clock
    assert isinstance(clock, ManualClock)

    def report(twin: str, severity: str, minute: int) -> str:
        return hub.alarms.report(
            twin, "anomaly:x", source="s", severity=severity, message="m",
            time=T0 + timedelta(minutes=minute),
        ).id  # fmt: skip

    old_minor = report("a", "minor", 0)
    cleared_critical = report("b", "critical", 1)
    hub.alarms.clear("b", "anomaly:x")
    new_minor = report("c", "minor", 2)
    major = report("d", "major", 3)
    assert [a.id for a in hub.alarms.list()] == [major, new_minor, old_minor, cleared_critical]
    assert [a.id for a in hub.alarms.list(severities=["minor"])] == [new_minor, old_minor]
    assert [a.id for a in hub.alarms.list(states=["cleared"])] == [cleared_critical]


def test_alarms_survive_a_restart_and_stay_deduplicated(tmp_path: Path) -> None:
    with Hub(tmp_path, clock=ManualClock(T0)) as hub:
        alarm_id = _raise(hub.alarms)
        hub.alarms.acknowledge(alarm_id, "ana", "seen")
    with Hub(tmp_path, clock=ManualClock(T0)) as hub:
        alarm = hub.alarms.get(alarm_id)
        assert (alarm.state, alarm.acknowledged_by, alarm.note, alarm.value) == (
            "acknowledged", "ana", "seen", 3.7,
        )  # fmt: skip
        assert _raise(hub.alarms, value=3.8) == alarm_id  # still the one active alarm
        assert hub.alarms.get(alarm_id).count == 2


def test_the_store_refuses_a_second_active_alarm_of_a_condition(hub: Hub) -> None:
    from dataclasses import replace

    alarm = hub.alarms.get(_raise(hub.alarms))
    with pytest.raises(Conflict, match="already has an active 'limit:level:high' alarm"):
        hub.alarms.store.put_alarm(replace(alarm, id="another"))


def test_hysteresis_raises_after_n_and_clears_after_m_below_the_lower_threshold() -> None:
    h = Hysteresis(raise_at=0.8, clear_at=0.5, raise_after=3, clear_after=2)
    assert [h.update(x) for x in (0.9, 0.9, 0.7, 0.9, 0.85)] == [None] * 5  # run broken at 0.7
    assert h.update(0.95) == "raise" and h.active
    assert [h.update(x) for x in (0.6, 0.79, 0.4, 0.7)] == [None] * 4  # between: holds
    assert h.update(math.nan) is None and h.active  # NaN neither counts nor restarts
    assert [h.update(x) for x in (0.3, 0.2)] == [None, "clear"]
    assert not h.active


def test_hysteresis_below_and_bad_settings() -> None:
    low = Hysteresis(raise_at=0.5, clear_at=0.7, direction="below", raise_after=1, clear_after=1)
    assert [low.update(x) for x in (0.6, 0.5, 0.6, 0.8)] == [None, "raise", None, "clear"]
    with pytest.raises(ValueError, match=r"clear_at .* must lie at or below raise_at"):
        Hysteresis(raise_at=0.5, clear_at=0.8)
    with pytest.raises(ValueError, match="at least 1"):
        Hysteresis(raise_at=0.8, clear_at=0.5, raise_after=0)
    with pytest.raises(ValueError, match="finite"):
        Hysteresis(raise_at=math.inf, clear_at=0.5)
