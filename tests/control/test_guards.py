"""Guards from the factory's guard file on the factory world (hub, twin graph, what-if
machinery, manual clock): bounds, rate limits, interlocks through the graph, modes, and
simulate-before-actuating — plus guard files that must be refused."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from support import add_factory_models
from twinsight.control.actions import Action, Verdict, combine
from twinsight.control.guards import build_guards
from twinsight.control.guards_config import check_guards, load_guards_file, parse_guards
from twinsight.control.guards_state import TwinState
from twinsight.control.guards_yaml import ControlFileError
from twinsight.control.simulate_first import SimulateFirstGuard
from twinsight.core.clock import ManualClock
from twinsight.hub import Hub
from twinsight.scenarios import factory
from twinsight.scenarios.factory import world
from twinsight.scenarios.factory.sim import simulation_spec

T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)


@pytest.fixture
def hub() -> Iterator[Hub]:
    with Hub(clock=ManualClock(T0)) as hub:
        add_factory_models(hub)
        world.build(hub.twins, lines=2)
        hub.simulation = simulation_spec()
        yield hub


def _state(hub: Hub) -> TwinState:
    return TwinState(hub.twins, hub.models, hub.history, hub.alarms)


def _verdict(hub: Hub, action: Action, *, simulate: bool = False) -> Verdict:
    state = _state(hub)
    spec = load_guards_file(factory.GUARDS_FILE, state)
    guards = build_guards(spec, state, hub.clock)
    if simulate:
        guards.append(SimulateFirstGuard(spec, state, lambda: hub.scenarios, hub.clock))
    return combine([g.check(action) for g in guards])


def _speed(value: float, twin: str = "line-1-motor") -> Action:
    return Action("property", twin, "speedSetpoint", value, requested_by="test")


def test_bounds_refuse_a_set_point_over_the_max_and_allow_one_inside(hub: Hub) -> None:
    refused = _verdict(hub, _speed(1750))
    assert not refused.allowed
    assert refused.guard == "bounds:motor-speed"
    assert "1750 is over its max 1700 revolutionPerMinute" in refused.reason
    assert _verdict(hub, _speed(1600)).allowed


def test_bounds_in_another_unit_are_converted_to_the_models(hub: Hub) -> None:
    state = _state(hub)
    spec = parse_guards(
        "guards:\n  - {name: hz, model: 'dtmi:twinsight:factory:Motor;1', property: "
        "speedSetpoint, bounds: {max: 25, unit: revolutionPerSecond}}\n",
        "g.yaml",
    )
    check_guards(spec, state)
    bounds = build_guards(spec, state, hub.clock)[0]
    assert bounds.check(_speed(1490)).allowed  # 25 rev/s = 1500 rpm
    assert "over its max 1500" in bounds.check(_speed(1510)).reason


def test_rate_limits_the_step_and_the_count(hub: Hub) -> None:
    state = _state(hub)
    spec = load_guards_file(factory.GUARDS_FILE, state)
    rate = build_guards(spec, state, hub.clock)[2]
    assert rate.name == "rate"
    # current set-point 1480: +300 rpm at once is more than 200 per minute
    too_far = rate.check(_speed(1780))
    assert not too_far.allowed and "more than the 200 allowed" in too_far.reason
    assert rate.check(_speed(1600)).allowed
    hub.twins.patch_twin(
        "line-1-motor", [{"op": "replace", "path": "/speedSetpoint", "value": 1600.0}]
    )
    # 30 s later only half a minute's step (100 rpm) is allowed
    assert isinstance(hub.clock, ManualClock)
    hub.clock.advance(30)
    assert not rate.check(_speed(1750)).allowed
    assert rate.check(_speed(1650)).allowed
    # the count: 10 per 10 minutes
    for _ in range(8):
        hub.clock.advance(60)
        assert rate.check(_speed(1600)).allowed
    count = rate.check(_speed(1600))
    assert not count.allowed and "the most allowed is 10" in count.reason
    hub.clock.advance(600)
    assert rate.check(_speed(1600)).allowed


def test_interlock_on_the_twins_own_state(hub: Hub) -> None:
    hub.twins.patch_twin("line-1-motor", [{"op": "replace", "path": "/state", "value": "fault"}])
    refused = _verdict(hub, _speed(1500))
    assert not refused.allowed and refused.guard == "interlock:motor-speed"
    assert "not in service" in refused.reason
    start = _verdict(hub, Action("command", "line-1-motor", "start"))
    assert not start.allowed and "clear the fault first" in start.reason
    assert _verdict(hub, _speed(1500, "line-2-motor")).allowed


def test_interlock_through_the_graph_no_speed_up_while_the_tank_is_over_its_high_limit(
    hub: Hub,
) -> None:
    hub.twins.publish_telemetry("line-1-tank", {"level": 3.6}, message_id="m1")
    hub.recorder.flush()
    speed_up = _verdict(hub, _speed(1550))
    assert not speed_up.allowed
    assert "on line-1-tank" in speed_up.reason and "over its high limit" in speed_up.reason
    assert _verdict(hub, _speed(1400)).allowed  # slowing down is fine
    assert _verdict(hub, _speed(1550, "line-2-motor")).allowed  # another line's tank


def test_modes_come_from_the_file(hub: Hub) -> None:
    assert _verdict(hub, _speed(1500)).mode == "auto"
    start = _verdict(hub, Action("command", "line-1-pump", "start"))
    assert start.allowed and start.mode == "approve"


def test_simulate_first_refuses_an_overheating_set_point_with_the_predicted_temperature(
    hub: Hub,
) -> None:
    # from 1600 rpm, so the rate guard lets a 90-rpm step through to the simulation
    hub.twins.patch_twin(
        "line-1-motor", [{"op": "replace", "path": "/speedSetpoint", "value": 1600.0}]
    )
    before = hub.twins.get_twin("line-1-motor")
    refused = _verdict(hub, _speed(1690), simulate=True)
    assert not refused.allowed, refused
    assert refused.guard == "simulate:motor-speed"
    predicted = refused.prediction["line-1-motor.temperature"]
    assert predicted["max"] > 110 and predicted["limit"] == 110
    assert predicted["baseline"] < 110
    assert predicted["at"].startswith("2026-05-04T0")
    assert "line-1-motor.temperature to 11" in refused.reason
    # a moderate change passes
    moderate = _verdict(hub, _speed(1550), simulate=True)
    assert moderate.allowed, moderate.reason
    # nothing changed on the live twin, and no scenario was left behind
    assert hub.twins.get_twin("line-1-motor") == before
    assert hub.scenarios.list() == []


def test_simulate_first_without_a_simulated_world_refuses_with_the_reason(hub: Hub) -> None:
    hub.simulation = None
    refused = _verdict(hub, _speed(1500), simulate=True)
    assert not refused.allowed and "cannot simulate" in refused.reason


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "guards:\n  - name: g\n    twins: [line-1-motor]\n    property: speedSetpoint\n"
            "    bounds: {min: 10, max: 5}\n",
            "line 5: guards[0].bounds: min 10 is over max 5",
        ),
        (
            "guards:\n  - name: g\n    twins: [line-1-motor]\n    property: speedSetpoint\n"
            "    rate: {max_actions: 2, per: -5 min}\n",
            "guards[0].rate.per: a duration cannot be negative",
        ),
        (
            "guards:\n  - name: g\n    twins: [line-1-motor]\n    property: speedSetpoint\n"
            "    interlocks:\n      - when: 'state == '\n",
            "guards[0].interlocks[0].when: cannot parse",
        ),
        (
            "guards:\n  - name: g\n    twins: [line-1-motor]\n    property: speedSetpoint\n"
            "    interlocks:\n      - when: \"__import__('os')\"\n",
            "is not allowed in a condition",
        ),
        ("guards:\n  - name: g\n    property: x\n", "name either a model or twins"),
        (
            "guards:\n  - {name: g, twins: [line-1-motor], command: start}\n"
            "  - {name: g, twins: [line-2-motor], command: stop}\n",
            "guard name 'g' is used twice",
        ),
    ],
)
def test_bad_guard_files_are_refused_with_line_and_field(text: str, expected: str) -> None:
    with pytest.raises(ControlFileError) as caught:
        parse_guards(text, "guards.yaml")
    assert any(expected in p for p in caught.value.problems), caught.value.problems


def test_unknown_names_are_refused_against_the_models(hub: Hub) -> None:
    spec = parse_guards(
        "guards:\n"
        "  - {name: a, model: 'dtmi:x:Nope;1', property: speedSetpoint}\n"
        "  - {name: b, twins: [no-such-twin], command: start}\n"
        "  - {name: c, model: 'dtmi:twinsight:factory:Motor;1', property: warpFactor}\n"
        "  - {name: d, model: 'dtmi:twinsight:factory:Motor;1', property: speedSetpoint,\n"
        "     bounds: {max: 5, unit: metre}}\n"
        "  - name: e\n    model: 'dtmi:twinsight:factory:Motor;1'\n    command: start\n"
        "    interlocks: [{when: 'colour == 1'}, {via: drives, when: 'level > 1'}]\n",
        "guards.yaml",
    )
    with pytest.raises(ControlFileError) as caught:
        check_guards(spec, _state(hub), "guards.yaml")
    problems = " | ".join(caught.value.problems)
    assert "no model 'dtmi:x:Nope;1'" in problems
    assert "no twin 'no-such-twin'" in problems
    assert "declares no property 'warpFactor'" in problems
    assert "cannot convert 'metre' into 'revolutionPerMinute'" in problems
    assert "declares no property or telemetry 'colour'" in problems
    assert "declares no relationship 'drives' (it has: feeds)" in problems


def test_the_hubs_command_service_records_the_guards_verdict_and_prediction(hub: Hub) -> None:
    """As docs/guards.md shows it: guards started on the hub stand in front of submit."""
    hub.start_guards(load_guards_file(factory.GUARDS_FILE, _state(hub)))
    record = hub.actions.submit(_speed(1750.0))
    assert (record.state, record.guard) == ("refused", "bounds:motor-speed")
    assert record.verdict == (
        "speedSetpoint = 1750 is over its max 1700 revolutionPerMinute (guard motor-speed)"
    )
    hub.twins.patch_twin(
        "line-1-motor", [{"op": "replace", "path": "/speedSetpoint", "value": 1600.0}]
    )
    hot = hub.actions.submit(_speed(1690.0))
    assert hot.state == "refused" and hot.guard == "simulate:motor-speed"
    assert hot.prediction is not None
    assert hot.prediction["line-1-motor.temperature"]["limit"] == 110
    peak = hot.prediction["line-1-motor.temperature"]["max"]
    assert 110 < peak < 120  # about 114.6 °C two hours on (docs/guards.md)
    assert f"predicted to take line-1-motor.temperature to {peak:.1f} °C" in hot.verdict
    assert [a.state for a in hub.actions.list_actions(twin_id="line-1-motor")] == [
        "refused",
        "refused",
    ]


def test_the_factory_lets_a_set_point_fall_at_once_but_rise_only_by_its_step(hub: Hub) -> None:
    state = _state(hub)
    rate = build_guards(load_guards_file(factory.GUARDS_FILE, state), state, hub.clock)[2]
    assert rate.check(_speed(1000)).allowed  # from 1480: a 480-rpm fall
    assert not rate.check(_speed(1700)).allowed  # a 220-rpm rise


def test_simulate_first_follows_relationships_to_the_tank_it_would_overfill(hub: Hub) -> None:
    state = _state(hub)
    spec = parse_guards(
        "guards:\n"
        "  - name: fill\n"
        "    model: 'dtmi:twinsight:factory:Motor;1'\n"
        "    property: speedSetpoint\n"
        "    simulate:\n"
        "      horizon: 2 h\n"
        "      constraints: [{via: feeds.feeds, output: level, max: 3.0, unit: m}]\n",
        "g.yaml",
    )
    check_guards(spec, state)
    guard = SimulateFirstGuard(spec, state, lambda: hub.scenarios, hub.clock)
    refused = guard.check(_speed(1690))
    assert not refused.allowed, refused
    level = refused.prediction["line-1-tank.level"]
    assert level["max"] > 3.0 > level["baseline"]
    assert "line-1-tank.level" in refused.reason and " m, over its max 3 m" in refused.reason
    assert guard.check(_speed(1400)).allowed
