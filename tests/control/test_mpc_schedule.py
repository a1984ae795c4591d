"""The line MPC run against the live factory twins on the hub's clock: each interval of
plant time one recommendation per configured motor with its predicted effect, the next
interval superseding it; a twin without fresh readings skipped; an infeasible problem
written to the audit log (served by ``GET /audit``) with nothing submitted."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from brokers import wait_until
from support import add_factory_models
from twinsight.api.app import create_app
from twinsight.control.mpc_line import LineCase
from twinsight.control.mpc_schedule import LineMpcScheduler, LineMpcSettings
from twinsight.core.clock import ManualClock
from twinsight.hub import Hub
from twinsight.scenarios.factory import world

MOTORS = ("line-1-motor", "line-2-motor")
OPTIMIZER = "optimizer:line-mpc"


@pytest.fixture
def hub() -> Iterator[Hub]:
    clock = ManualClock(datetime(2026, 7, 1, 12, 0, tzinfo=UTC))
    with Hub(clock=clock) as hub:
        add_factory_models(hub)
        world.build(hub.twins, lines=2)
        yield hub


def _readings(hub: Hub, twins: tuple[str, ...] = MOTORS) -> None:
    for twin_id in twins:
        hub.twins.publish_telemetry(
            twin_id,
            {"windingTemperature": 80.0, "speed": 1400.0},
            message_id=f"r-{twin_id}-{hub.clock.now().timestamp()}",
        )
    hub.recorder.flush()


def _scheduler(hub: Hub, settings: LineMpcSettings) -> LineMpcScheduler:
    return LineMpcScheduler(settings, hub.clock, hub.actions, hub.control_state(), hub.history)


def _advance(hub: Hub, seconds: float) -> None:
    clock = hub.clock
    assert isinstance(clock, ManualClock)
    clock.advance(seconds)


def test_each_interval_recommends_one_move_per_motor_and_supersedes_the_last(hub: Hub) -> None:
    scheduler = _scheduler(hub, LineMpcSettings(twins=MOTORS, interval=600.0, horizon=6))
    _readings(hub)
    first = scheduler.tick()
    assert [r.twin_id for r in first] == list(MOTORS)
    for done in first:
        assert done.result is not None and done.result.status in ("optimal", "feasible")
        assert done.action is not None and done.action.state == "recommended"
        assert done.action.requested_by == OPTIMIZER and done.action.name == "speedSetpoint"
        effect = done.action.prediction
        assert effect is not None
        peak = effect["peakWindingTemperature"]
        assert peak["withMoves"] <= peak["limit"] == 116.0  # 120 °C less the 4 K back-off
        assert peak["held"] > 0.0 and effect["horizonHours"] == 1.0
        assert effect["meanBeltSpeed"]["held"] == pytest.approx(0.8 * 1400 / 1500, abs=1e-3)
        assert "over the next 1 h" in done.action.reason

    _advance(hub, 300.0)  # half an interval: nothing is due
    assert scheduler.tick() == []

    _advance(hub, 300.0)
    _readings(hub)
    second = scheduler.tick()
    assert len(second) == len(MOTORS)
    for old, new in zip(first, second, strict=True):
        assert old.action is not None and new.action is not None
        assert new.superseded == (old.action.id,)
        replaced = hub.actions.get(old.action.id)
        assert replaced.state == "rejected" and replaced.decided_by == OPTIMIZER
        assert replaced.error == f"superseded by a newer recommendation {new.action.id}"
    open_now = hub.actions.list_actions(states=["recommended"], requested_by=OPTIMIZER)
    assert sorted(a.id for a in open_now) == sorted(r.action.id for r in second if r.action)


def test_a_twin_without_fresh_readings_is_skipped_and_said_so_once(
    hub: Hub, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = _scheduler(hub, LineMpcSettings(twins=MOTORS, interval=600.0))
    _readings(hub, MOTORS[:1])  # line-2-motor has reported nothing
    with caplog.at_level(logging.INFO, logger="twinsight.control.mpc_schedule"):
        rounds = scheduler.tick()
        again = scheduler.tick()  # line-2 is retried at once, not logged again
    skipped = [r for r in rounds if r.result is None]
    assert [r.twin_id for r in skipped] == ["line-2-motor"]
    assert skipped[0].skipped == "no windingTemperature reading yet"
    assert [r.twin_id for r in again] == ["line-2-motor"]
    assert sum("line-2-motor skipped" in m for m in caplog.messages) == 1
    assert hub.actions.list_actions(twin_id="line-2-motor") == []

    _advance(hub, 1800.0)  # line-1's reading is now half an hour old
    late = {r.twin_id: r for r in scheduler.tick()}
    assert late["line-1-motor"].result is None
    assert "1800 s old" in late["line-1-motor"].skipped


def test_an_infeasible_problem_is_audited_and_nothing_is_submitted(hub: Hub) -> None:
    below_ambient = LineCase(temperature_limit=20.0, back_off=0.0)  # the hall is 25 °C
    scheduler = _scheduler(
        hub, LineMpcSettings(twins=MOTORS[:1], interval=600.0, case=below_ambient)
    )
    _readings(hub, MOTORS[:1])
    (done,) = scheduler.tick()
    assert done.result is not None and done.result.status == "infeasible"
    assert done.action is None
    assert hub.actions.list_actions(twin_id="line-1-motor") == []  # nothing for a device

    (entry,) = hub.actions.audit(twin_id="line-1-motor")
    assert entry.actor == OPTIMIZER and entry.event == "infeasible" and entry.action_id == ""
    assert entry.detail.startswith("no action: the solver's status is infeasible: ")
    assert "winding temperature <= 20" in entry.detail

    with TestClient(create_app(hub)) as client:
        served = client.get("/audit", params={"twin": "line-1-motor"}).json()["value"]
    assert [(e["actor"], e["event"], e["actionId"]) for e in served] == [
        (OPTIMIZER, "infeasible", "")
    ]
    assert "winding temperature <= 20" in served[0]["detail"]


def test_the_hub_runs_it_on_a_thread_until_closed(hub: Hub) -> None:
    _readings(hub)
    scheduler = hub.start_line_mpc(LineMpcSettings(twins=MOTORS[:1]))
    assert scheduler in hub.connectors
    wait_until(
        lambda: hub.actions.list_actions(states=["recommended"], requested_by=OPTIMIZER),
        timeout=30,
    )
    (made,) = hub.actions.list_actions(requested_by=OPTIMIZER)
    assert made.twin_id == "line-1-motor" and made.prediction is not None


def test_a_plan_stays_within_the_rise_a_rate_guard_allows(hub: Hub) -> None:
    unlimited = _scheduler(hub, LineMpcSettings(twins=MOTORS[:1]))
    limited = _scheduler(hub, LineMpcSettings(twins=MOTORS[1:], max_rise=50.0))
    _readings(hub)  # both at 1400 rpm and 80 °C: room to speed up
    (free,) = unlimited.tick()
    (held_back,) = limited.tick()
    assert free.action is not None and free.action.value > 1450.0
    assert held_back.action is not None and 1400.0 < held_back.action.value <= 1450.0


def test_a_solve_without_a_move_withdraws_the_last_recommendation(hub: Hub) -> None:
    scheduler = _scheduler(hub, LineMpcSettings(twins=MOTORS[:1]))
    _readings(hub, MOTORS[:1])
    (first,) = scheduler.tick()
    assert first.action is not None
    scheduler.mpc.case = LineCase(temperature_limit=20.0, back_off=0.0, control_interval=600.0)
    _advance(hub, 600.0)
    _readings(hub, MOTORS[:1])
    (second,) = scheduler.tick()
    assert second.result is not None and second.result.status == "infeasible"
    assert second.action is None and second.superseded == (first.action.id,)
    withdrawn = hub.actions.get(first.action.id)
    assert withdrawn.state == "rejected"
    assert withdrawn.error == "superseded: the newest solve found no move (infeasible)"


def test_serve_line_mpc_starts_the_scheduler_after_the_other_control(hub: Hub) -> None:
    from twinsight.cli import _with_line_mpc

    started: list[str] = []
    assert _with_line_mpc(None, None) is None
    start = _with_line_mpc(lambda h: started.append("guards"), (900.0, 4))
    assert start is not None
    start(hub)
    (scheduler,) = [c for c in hub.connectors if isinstance(c, LineMpcScheduler)]
    assert started == ["guards"]
    assert (scheduler.settings.interval, scheduler.settings.horizon) == (900.0, 4)
    assert scheduler.mpc.case.control_interval == 900.0
