"""The command service against a real Mosquitto: commands and desired values go out on
the documented topics with a correlation id, devices answer, the outcome is recorded with
its audit trail; bad input is refused and named, an offline device times out after its
retries, approvals happen once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from brokers import MOSQUITTO, mosquitto, wait_until
from support import build_factory
from twinsight.control.actions import Action, Verdict
from twinsight.control.delivery import DeliverySettings, DeviceTopics
from twinsight.core.errors import Conflict, NotFound, ValidationFailed
from twinsight.core.events import ActionChanged
from twinsight.core.messages import RawMessage
from twinsight.hub import Hub
from twinsight.ingest.connectors.mqtt_commands import MqttDeviceEndpoint
from twinsight.ingest.mapping import load_mapping_file
from twinsight.scenarios.factory import MAPPING_FILE

pytestmark = pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto not installed")

MOTOR = "line-1-motor"
PUMP = "line-1-pump"  # nobody serves it: an offline device
SETTINGS = DeliverySettings(timeout=0.4, retries=2, completion=1.5)


class Device:
    """A test device for ``line-1-motor``: answers commands accepted-then-done, acks
    desired values and (unless ``silent_report``) reports them through normal ingest."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.seen: list[tuple[str, dict[str, Any]]] = []
        self.silent_report = False
        self.lock = threading.Lock()

    def __call__(self, device: str, kind: str, body: dict[str, Any]) -> dict[str, Any] | None:
        with self.lock:
            self.seen.append((kind, body))
        if kind == "desired":
            if not self.silent_report:
                report = {"ts": int(datetime.now(UTC).timestamp() * 1000), **body["desired"]}
                self.hub.ingest.submit(
                    [
                        RawMessage(
                            "mqtt",
                            "factory/line-1/motor/telemetry",
                            orjson.dumps(report),
                            datetime.now(UTC),
                        )
                    ]
                )
            return {"status": "accepted"}
        return {"status": "done", "response": "running"}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[Hub, Device, list[ActionChanged]]]:
    with (
        mosquitto(tmp_path / "broker") as broker,
        Hub(mapping=load_mapping_file(MAPPING_FILE)) as hub,
    ):
        build_factory(hub)
        events: list[ActionChanged] = []
        hub.bus.subscribe(events.append, ActionChanged)
        topics = DeviceTopics(prefix="plant", table={MOTOR: "factory/line-1/motor"})
        device = Device(hub)
        endpoint = MqttDeviceEndpoint(
            broker.url, hub.clock, ["factory/line-1/motor"], device, prefix="plant"
        )
        endpoint.start()
        try:
            hub.start_command_delivery(broker.url, topics, SETTINGS)
            yield hub, device, events
        finally:
            endpoint.stop()


def settled(hub: Hub, action_id: str, state: str) -> None:
    wait_until(lambda: hub.actions.get(action_id).state == state, 10, f"action {state}")


def test_a_command_reaches_the_device_with_its_correlation_id_and_is_recorded_done(
    world: tuple[Hub, Device, list[ActionChanged]],
) -> None:
    hub, device, events = world
    record = hub.actions.submit(
        Action("command", MOTOR, "resetFault", "cleared after inspection", "user:ana", "trip")
    )
    assert record.state == "sent"
    assert record.topic == "plant/factory/line-1/motor/commands/resetFault/request"
    settled(hub, record.id, "done")
    assert device.seen == [
        ("command:resetFault", {"id": record.id, "request": "cleared after inspection"})
    ]
    done = hub.actions.get(record.id)
    assert done.response == "running" and done.attempts == 1
    assert [e.record.state for e in events if e.record.id == record.id] == ["sent", "done"]
    audit = hub.actions.audit(action_id=record.id)
    assert [a.event for a in audit] == ["done", "sent"]  # newest first
    assert audit[1].actor == "user:ana" and "because trip" in audit[1].detail


def test_an_offline_device_is_retried_with_the_same_id_then_timed_out(
    world: tuple[Hub, Device, list[ActionChanged]],
) -> None:
    hub, device, _ = world
    record = hub.actions.submit(Action("command", PUMP, "stop", None, "user:ana"))
    settled(hub, record.id, "timed_out")
    out = hub.actions.get(record.id)
    assert out.attempts == 3
    assert "no answer after 3 attempt(s)" in out.error
    events = [a.event for a in reversed(hub.actions.audit(action_id=record.id))]
    assert events == ["sent", "sent", "sent", "timed_out"]  # two retries logged
    assert device.seen == []  # the motor's device saw nothing of it


def test_arguments_outside_the_schema_are_refused_named_and_recorded(
    world: tuple[Hub, Device, list[ActionChanged]],
) -> None:
    hub, device, _ = world
    with pytest.raises(ValidationFailed, match=r"/note: expected a string, got the number 42"):
        hub.actions.submit(Action("command", MOTOR, "resetFault", 42, "user:bo"))
    with pytest.raises(ValidationFailed, match="speedSetpoint"):
        hub.actions.submit(Action("property", MOTOR, "speedSetpoint", "fast", "user:bo"))
    with pytest.raises(ValidationFailed, match=r"ratedPower.*not writable"):
        hub.actions.submit(Action("property", MOTOR, "ratedPower", 30.0, "user:bo"))
    refused = hub.actions.list_actions(states=["refused"])
    assert len(refused) == 3 and all(r.guard == "model" for r in refused)
    assert device.seen == []


def test_an_unknown_command_or_twin_is_a_404_and_recorded(
    world: tuple[Hub, Device, list[ActionChanged]],
) -> None:
    hub, _, _ = world
    with pytest.raises(NotFound, match=r"command 'explode'.*it has: resetFault, start, stop"):
        hub.actions.submit(Action("command", MOTOR, "explode"))
    with pytest.raises(NotFound, match="no twin 'line-9-motor'"):
        hub.actions.submit(Action("command", "line-9-motor", "stop"))
    assert {a.error for a in hub.actions.list_actions()} == {
        "CommandNotFound",
        "DigitalTwinNotFound",
    }


class Asks:
    name = "operator-first"

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def check(self, action: Action) -> Verdict:
        return Verdict.allow(self.name, self.mode, "speed changes need a person")  # type: ignore[arg-type]


def test_approval_delivers_once_and_a_sent_action_cannot_be_rejected(
    world: tuple[Hub, Device, list[ActionChanged]],
) -> None:
    hub, device, _ = world
    hub.actions.add_guard(Asks("approve"))
    record = hub.actions.submit(Action("command", MOTOR, "start", None, "rule:restart"))
    assert record.state == "pending_approval" and device.seen == []
    approved = hub.actions.approve(record.id, "user:ana")
    assert approved.state == "sent" and approved.decided_by == "user:ana"
    with pytest.raises(Conflict, match=r"is (sent|done); only an action that is pending_approval"):
        hub.actions.approve(record.id, "user:ana")
    with pytest.raises(Conflict, match="can be rejected"):
        hub.actions.reject(record.id, "user:bo", "too late")
    settled(hub, record.id, "done")
    assert len(device.seen) == 1


def test_a_refusing_guard_sends_nothing_and_keeps_its_prediction(
    world: tuple[Hub, Device, list[ActionChanged]],
) -> None:
    hub, device, _ = world

    class TooHot:
        name = "simulate-first"

        def check(self, action: Action) -> Verdict:
            return Verdict.refuse(self.name, "winding over 120 °C", {"max": 131.2})

    hub.actions.add_guard(TooHot())
    record = hub.actions.submit(Action("property", MOTOR, "speedSetpoint", 2900.0, "opt:mpc"))
    assert record.state == "refused" and record.prediction == {"max": 131.2}
    assert hub.actions.audit(action_id=record.id)[0].actor == "simulate-first"
    assert device.seen == []


def test_a_recommendation_applied_goes_through_the_guards_again(
    world: tuple[Hub, Device, list[ActionChanged]],
) -> None:
    hub, _, _ = world
    guard = Asks("recommend")
    hub.actions.add_guard(guard)
    record = hub.actions.submit(Action("property", MOTOR, "speedSetpoint", 1300.0, "opt:mpc"))
    assert record.state == "recommended"
    applied = hub.actions.apply(record.id, "user:ana")
    assert applied.state == "sent"
    settled(hub, record.id, "done")
    rejected = hub.actions.submit(Action("property", MOTOR, "speedSetpoint", 1200.0, "opt:mpc"))
    assert hub.actions.reject(rejected.id, "user:ana", "not now").state == "rejected"


def test_a_desired_value_is_pending_until_reported_through_ingest(
    world: tuple[Hub, Device, list[ActionChanged]],
) -> None:
    hub, _, _ = world
    record = hub.actions.submit(Action("property", MOTOR, "speedSetpoint", 1234.5, "user:ana"))
    assert record.topic == "plant/factory/line-1/motor/desired"
    settled(hub, record.id, "done")
    assert hub.twins.get_twin(MOTOR)["speedSetpoint"] == 1234.5
    desired = hub.actions.desired(MOTOR)["speedSetpoint"]
    assert desired["reportedValue"] == 1234.5 and desired["pending"] is False


def test_a_device_that_never_converges_is_flagged_timed_out(
    world: tuple[Hub, Device, list[ActionChanged]],
) -> None:
    hub, device, _ = world
    device.silent_report = True
    record = hub.actions.submit(Action("property", MOTOR, "speedSetpoint", 999.0, "user:ana"))
    wait_until(lambda: hub.actions.get(record.id).state == "accepted", 10, "accepted")
    assert hub.actions.desired(MOTOR)["speedSetpoint"]["pending"] is True
    settled(hub, record.id, "timed_out")
    assert "never converged" in hub.actions.get(record.id).error
    assert hub.twins.get_twin(MOTOR)["speedSetpoint"] == 1480.0
