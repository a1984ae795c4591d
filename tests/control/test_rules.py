"""Rules on the factory world's live bus (hub, twin graph, alarms, manual clock), acting
through a recording stand-in for the command service; the factory's rule file; bad rule
files; contradictory rules at load and at run time; dry runs that send nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from support import add_factory_models
from twinsight.control.actions import Action
from twinsight.control.guards_config import load_guards_file, parse_guards
from twinsight.control.guards_state import TwinState
from twinsight.control.guards_yaml import ControlFileError
from twinsight.control.rules import RuleEngine
from twinsight.control.rules_config import (
    check_rules,
    contradictions,
    load_rules_file,
    parse_rules,
    refused_by_guards,
)
from twinsight.core.clock import ManualClock
from twinsight.core.events import RuleFired
from twinsight.hub import Hub
from twinsight.scenarios import factory
from twinsight.scenarios.factory import world
from twinsight.store.sqlite.rules import SqliteRuleStore

T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)
MOTOR = "dtmi:twinsight:factory:Motor;1"


class RecordingSubmit:
    """Test double of the command service's ``submit``: records the actions it is handed."""

    def __init__(self) -> None:
        self.actions: list[Action] = []

    def __call__(self, action: Action) -> dict[str, Any]:
        self.actions.append(action)
        return {"state": "sent"}


class StreamSink:
    """A live-streams sink that keeps what it is offered (as a WebSocket would send it)."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []

    def offer(self, tag: str, seq: int, body: Any) -> None:
        self.bodies.append(orjson.loads(body) if isinstance(body, bytes) else dict(body))


@pytest.fixture
def hub() -> Iterator[Hub]:
    with Hub(clock=ManualClock(T0)) as hub:
        add_factory_models(hub)
        world.build(hub.twins, lines=2)
        yield hub


def _state(hub: Hub) -> TwinState:
    return TwinState(hub.twins, hub.models, hub.history, hub.alarms)


def _engine(hub: Hub, text: str, submit: RecordingSubmit) -> RuleEngine:
    spec = parse_rules(text, "rules.yaml")
    check_rules(spec, _state(hub))
    return RuleEngine(
        spec,
        _state(hub),
        hub.bus,
        SqliteRuleStore(hub.db),
        hub.clock,
        submit,
        history=hub.history,
        warnings=contradictions(spec),
    )


def _temperature(hub: Hub, twin: str, value: float, *, after: float = 5.0) -> None:
    clock = hub.clock
    assert isinstance(clock, ManualClock)
    clock.advance(after)
    hub.twins.publish_telemetry(
        twin,
        {"windingTemperature": value},
        message_id=f"{twin}-{clock.now()}",
        source_time=clock.now(),
    )


HOT = f"""
rules:
  - name: hot-motor
    model: {MOTOR}
    when: windingTemperature > 100
    clear: windingTemperature < 95
    for: 2 min
    then: {{property: speedSetpoint, value: 1400, reason: too hot}}
"""


def test_a_condition_held_for_its_duration_fires_once_then_rearms_after_clearing(
    hub: Hub,
) -> None:
    submit = RecordingSubmit()
    engine = _engine(hub, HOT, submit)
    fired: list[RuleFired] = []
    hub.bus.subscribe(fired.append, RuleFired)
    _temperature(hub, "line-1-motor", 101)
    _temperature(hub, "line-1-motor", 102, after=60)
    assert submit.actions == []  # held 60 s of 120
    _temperature(hub, "line-1-motor", 99, after=30)  # dips under 100: the wait restarts
    _temperature(hub, "line-1-motor", 103, after=5)
    _temperature(hub, "line-1-motor", 103, after=100)
    assert submit.actions == []
    _temperature(hub, "line-1-motor", 104, after=25)  # 125 s over 100
    assert len(submit.actions) == 1
    action = submit.actions[0]
    assert (action.kind, action.twin_id, action.name, action.value) == (
        "property",
        "line-1-motor",
        "speedSetpoint",
        1400,
    )
    assert action.requested_by == "rule:hot-motor" and action.reason == "too hot"
    # hysteresis: 97 is not under 95, so no re-arm; staying hot does not fire again
    _temperature(hub, "line-1-motor", 97, after=60)
    _temperature(hub, "line-1-motor", 105, after=200)
    assert len(submit.actions) == 1
    _temperature(hub, "line-1-motor", 94, after=10)  # clears
    _temperature(hub, "line-1-motor", 106, after=10)
    _temperature(hub, "line-1-motor", 106, after=130)
    assert len(submit.actions) == 2
    # another motor's readings never fired it
    assert {a.twin_id for a in submit.actions} == {"line-1-motor"}
    firings = engine.firings("hot-motor")
    assert [f.outcome for f in firings] == ["submitted", "submitted"]
    assert len(fired) == 2 and fired[0].firing.rule == "hot-motor"
    engine.close()


def test_disabled_rules_do_not_fire_and_the_switch_is_stored(hub: Hub) -> None:
    submit = RecordingSubmit()
    engine = _engine(hub, HOT.replace("for: 2 min", "for: 0 s"), submit)
    engine.set_enabled("hot-motor", False)
    _temperature(hub, "line-1-motor", 120)
    assert submit.actions == []
    engine.close()
    again = _engine(hub, HOT.replace("for: 2 min", "for: 0 s"), submit)  # a restart
    assert again.status("hot-motor").enabled is False
    again.set_enabled("hot-motor", True)
    _temperature(hub, "line-1-motor", 121)
    assert len(submit.actions) == 1
    again.close()


def test_notification_on_a_prediction(hub: Hub) -> None:
    submit = RecordingSubmit()
    engine = _engine(
        hub,
        f"""
rules:
  - name: rul-low
    model: {MOTOR}
    when: remainingUsefulLife < 500
    clear: remainingUsefulLife > 600
    then: {{notify: {{message: plan maintenance, severity: major}}}}
""",
        submit,
    )
    fired: list[RuleFired] = []
    hub.bus.subscribe(fired.append, RuleFired)
    streamed = StreamSink()
    hub.streams.subscribe(hub.streams.parse_filter({"types": ["rule.*"]}), streamed)
    hub.twins.publish_telemetry("line-2-motor", {"remainingUsefulLife": 480.0}, message_id="r")
    assert submit.actions == []
    assert [f.firing.outcome for f in fired] == ["notified"]
    assert fired[0].firing.value == "plan maintenance" and fired[0].firing.twin_id == "line-2-motor"
    # on the live streams (WebSocket/SSE, webhooks) as a rule.fired event
    assert [b["type"] for b in streamed.bodies] == ["rule.fired"]
    assert streamed.bodies[0]["firing"]["value"] == "plan maintenance"
    assert streamed.bodies[0]["model"] == MOTOR
    engine.close()


def test_alarm_conditions(hub: Hub) -> None:
    submit = RecordingSubmit()
    engine = _engine(
        hub,
        f"""
rules:
  - name: vibration-stop
    model: {MOTOR}
    when: "alarm('anomaly:vibration')"
    then: {{command: stop}}
""",
        submit,
    )
    hub.alarms.report(
        "line-1-motor", "anomaly:vibration", source="robust_z", severity="major", message="x"
    )
    assert [(a.kind, a.name, a.twin_id) for a in submit.actions] == [
        ("command", "stop", "line-1-motor")
    ]
    engine.close()


CONTRADICTORY = f"""
conflict_window: 5 min
rules:
  - name: slow-when-hot
    model: {MOTOR}
    when: windingTemperature > 100
    then: {{property: speedSetpoint, value: 1400}}
  - name: fast-when-warm
    model: {MOTOR}
    when: windingTemperature > 90
    then: {{property: speedSetpoint, value: 1600}}
  - name: fast-when-cold
    model: {MOTOR}
    when: windingTemperature < 50
    then: {{property: speedSetpoint, value: 1600}}
"""


def test_contradictory_rules_are_reported_at_load_and_the_second_is_not_sent(hub: Hub) -> None:
    spec = parse_rules(CONTRADICTORY, "rules.yaml")
    warnings = contradictions(spec)
    assert len(warnings) == 1, warnings  # cold (< 50) never overlaps hot (> 100)
    assert "'slow-when-hot' and 'fast-when-warm' contradict" in warnings[0]
    submit = RecordingSubmit()
    engine = _engine(hub, CONTRADICTORY, submit)
    assert engine.warnings == tuple(warnings)
    _temperature(hub, "line-1-motor", 105)
    assert [a.value for a in submit.actions] == [1400]
    outcomes = {f.rule: f for f in engine.firings()}
    assert outcomes["fast-when-warm"].outcome == "conflict"
    assert "rule 'slow-when-hot' set speedSetpoint = 1400" in outcomes["fast-when-warm"].detail
    engine.close()


def test_a_rule_its_guard_always_refuses_is_reported(hub: Hub) -> None:
    spec = parse_rules(
        f"rules:\n  - {{name: too-fast, model: '{MOTOR}', when: 'windingTemperature < 40',"
        " then: {property: speedSetpoint, value: 2500}}\n",
        "rules.yaml",
    )
    guards = load_guards_file(factory.GUARDS_FILE)
    warnings = refused_by_guards(spec, guards)
    assert warnings and "'too-fast'" in warnings[0] and "'motor-speed'" in warnings[0]


def test_dry_run_on_the_current_state_and_on_history_sends_nothing(hub: Hub) -> None:
    submit = RecordingSubmit()
    engine = _engine(hub, HOT.replace("    clear: windingTemperature < 95\n", ""), submit)
    engine.set_enabled("hot-motor", False)  # so the live run does not act meanwhile
    for i in range(40):
        _temperature(hub, "line-1-motor", 90 + i, after=10)  # over 100 from i = 11
    hub.recorder.flush()
    now = engine.dry_run("hot-motor")
    by_twin = {t["twin"]: t for t in now["twins"]}
    assert by_twin["line-1-motor"]["holds"] is True
    assert by_twin["line-2-motor"]["holds"] is False
    replay = engine.dry_run("hot-motor", since=3600)
    assert [f["twin"] for f in replay["firings"]] == ["line-1-motor"]
    fired_at = datetime.fromisoformat(replay["firings"][0]["time"])
    assert fired_at == T0 + timedelta(seconds=10 * 12 + 120)  # 101 at 120 s, held 2 min
    assert submit.actions == [] and engine.firings() == []
    engine.close()


def test_the_factory_rule_file_loads_against_the_factory_models(hub: Hub) -> None:
    loaded = load_rules_file(factory.RULES_FILE, _state(hub))
    assert {r.name for r in loaded.spec.rules} >= {"hot-motor-slows-down", "rul-maintenance"}
    assert loaded.warnings == ()


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("    when: 'windingTemperature >'\n", "rules[0].when: cannot parse"),
        ("    when: 'x > 1'\n    for: -5 min\n", "a duration cannot be negative"),
        ("    when: 'x > 1'\n    for: soon\n", "'soon' is not a duration"),
        (
            "    when: 'x > 1'\n    then: {command: start}\n  - name: r\n"
            f"    model: '{MOTOR}'\n    when: 'x > 2'\n",
            "rule name 'r' is used twice",
        ),
    ],
)
def test_bad_rule_files_are_refused_with_line_and_field(
    tmp_path: Path, body: str, expected: str
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(
        f"rules:\n  - name: r\n    model: '{MOTOR}'\n{body}    then: {{command: stop}}\n"
    )
    with pytest.raises(ControlFileError) as caught:
        load_rules_file(path)
    assert any(expected in p and "line " in p for p in caught.value.problems), caught.value.problems


def test_unknown_twin_model_or_property_is_refused(hub: Hub) -> None:
    spec = parse_rules(
        "rules:\n"
        "  - {name: a, model: 'dtmi:x:Nope;1', when: 'x > 1', then: {command: stop}}\n"
        "  - {name: b, twins: [ghost], when: 'x > 1', then: {command: stop}}\n"
        f"  - {{name: c, model: '{MOTOR}', when: 'colour > 1', then: {{command: stop}}}}\n"
        f"  - {{name: d, model: '{MOTOR}', when: 'speed > 1', then: {{command: explode}}}}\n",
        "rules.yaml",
    )
    with pytest.raises(ControlFileError) as caught:
        check_rules(spec, _state(hub), "rules.yaml")
    problems = " | ".join(caught.value.problems)
    assert "no model 'dtmi:x:Nope;1'" in problems
    assert "no twin 'ghost'" in problems
    assert "declares no property or telemetry 'colour'" in problems
    assert "declares no command 'explode'" in problems


def test_names_inside_components_and_object_fields_are_known(hub: Hub) -> None:
    spec = parse_rules(
        f"rules:\n  - {{name: worn, model: '{MOTOR}', when: 'bearing.wear > 0.8',"
        " then: {command: stop}}\n"
        "  - {name: full, model: 'dtmi:twinsight:factory:Tank;1',"
        " when: 'level > alarmLimits.high', then: {notify: {message: full}}}\n",
        "rules.yaml",
    )
    check_rules(spec, _state(hub))  # raises if a name were unknown
    bad = parse_rules(
        f"rules:\n  - {{name: worn, model: '{MOTOR}', when: 'bearing.colour > 0.8',"
        " then: {command: stop}}\n",
        "rules.yaml",
    )
    with pytest.raises(ControlFileError) as caught:
        check_rules(bad, _state(hub))
    assert "'bearing.colour'" in caught.value.problems[0]


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (
            parse_rules,
            "rules:\n  - {name: 'slow down!', twins: [m1], when: 'x > 1', then: {command: stop}}\n",
        ),
        (parse_guards, "guards:\n  - {name: 'no spaces here', twins: [m1], command: stop}\n"),
    ],
)
def test_a_rule_or_guard_name_the_api_cannot_address_is_refused_with_its_line(
    parse: Callable[[str, str], object], text: str
) -> None:
    with pytest.raises(ControlFileError) as caught:
        parse(text, "control.yaml")
    assert any(
        "control.yaml: line 2" in p and "letters, digits and _ . : - only" in p
        for p in caught.value.problems
    ), caught.value.problems
