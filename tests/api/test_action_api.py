"""Commands, desired values, approvals and the audit log over HTTP against a real
Mosquitto and a device that answers; action events on the WebSocket stream; bad input
refused with the argument named."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from adt import running_server
from brokers import MOSQUITTO, mosquitto, wait_until
from streams.clients import recv_until, subscribe, ws_client
from support import api_error, build_factory
from twinsight.control.actions import Action, Verdict
from twinsight.control.delivery import DeliverySettings, DeviceTopics
from twinsight.core.messages import RawMessage
from twinsight.hub import Hub
from twinsight.ingest.connectors.mqtt_commands import MqttDeviceEndpoint
from twinsight.ingest.mapping import load_mapping_file
from twinsight.scenarios.factory import MAPPING_FILE

pytestmark = pytest.mark.skipif(MOSQUITTO is None, reason="mosquitto not installed")
MOTOR = "line-1-motor"


class SpeedNeedsApproval:
    name = "speed-approval"

    def check(self, action: Action) -> Verdict:
        if action.kind == "property" and action.requested_by.startswith("optimizer:"):
            return Verdict.allow(self.name, "approve", "optimiser set-points need a person")
        return Verdict.allow(self.name)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Hub, str]]:
    with (
        mosquitto(tmp_path / "broker") as broker,
        Hub(mapping=load_mapping_file(MAPPING_FILE)) as hub,
    ):
        build_factory(hub)

        def device(name: str, kind: str, body: dict[str, Any]) -> dict[str, Any]:
            if kind == "desired":
                report = {"ts": int(datetime.now(UTC).timestamp() * 1000), **body["desired"]}
                topic = "factory/line-1/motor/telemetry"
                now = datetime.now(UTC)
                hub.ingest.submit([RawMessage("mqtt", topic, orjson.dumps(report), now)])
                return {"status": "accepted"}
            return {"status": "done", "response": True}

        endpoint = MqttDeviceEndpoint(broker.url, hub.clock, ["factory/line-1/motor"], device)
        endpoint.start()
        hub.start_command_delivery(
            broker.url,
            DeviceTopics(table={MOTOR: "factory/line-1/motor"}),
            DeliverySettings(timeout=0.4, retries=1, completion=2.0),
        )
        hub.actions.add_guard(SpeedNeedsApproval())
        try:
            with running_server(hub) as base:
                yield hub, base
        finally:
            endpoint.stop()


def _state(base: str, action_id: str, state: str) -> None:
    wait_until(lambda: httpx.get(f"{base}/actions/{action_id}").json()["state"] == state, 10, state)


def test_a_command_over_http_is_done_listed_audited_and_streamed(
    served: tuple[Hub, str],
) -> None:
    _, base = served
    with ws_client(base) as ws:
        subscribe(ws, {"twins": [MOTOR], "types": ["action.*"]})
        r = httpx.post(
            f"{base}/digitaltwins/{MOTOR}/commands/stop",
            params={"requestedBy": "user:ana", "reason": "guard open"},
        )
        assert r.status_code == 202, r.text
        action = r.json()
        assert action["state"] == "sent" and action["requestedBy"] == "user:ana"
        frames = recv_until(ws, lambda f: f.get("event", {}).get("type") == "action.done")
    types = [f["event"]["type"] for f in frames if "event" in f]
    assert types == ["action.sent", "action.done"]
    assert frames[-1]["event"]["action"]["response"] is True
    listed = httpx.get(f"{base}/actions", params={"twin": MOTOR, "state": "done"}).json()
    assert [a["id"] for a in listed["value"]] == [action["id"]]
    audit = httpx.get(f"{base}/audit", params={"action": action["id"]}).json()["value"]
    assert [e["event"] for e in audit] == ["done", "sent"]
    assert audit[1]["actor"] == "user:ana" and "guard open" in audit[1]["detail"]


def test_bad_input_is_refused_with_the_argument_named(served: tuple[Hub, str]) -> None:
    _, base = served
    r = httpx.post(f"{base}/digitaltwins/{MOTOR}/commands/resetFault", json=42)
    assert "/note: expected a string" in api_error(r, 400, "ValidationFailed")
    r = httpx.post(f"{base}/digitaltwins/{MOTOR}/commands/launch")
    assert "command 'launch'" in api_error(r, 404, "CommandNotFound")
    r = httpx.post(f"{base}/digitaltwins/nope/commands/stop")
    assert "no twin 'nope'" in api_error(r, 404, "DigitalTwinNotFound")
    r = httpx.post(f"{base}/digitaltwins/{MOTOR}/components/gearbox/commands/stop")
    assert "component 'gearbox'" in api_error(r, 404, "ComponentNotFound")
    r = httpx.put(f"{base}/twins/{MOTOR}/desired/speedSetpoint", content=b"{bad")
    assert "not valid JSON" in api_error(r, 400, "InvalidArgument")
    r = httpx.get(f"{base}/actions", params={"state": "lost"})
    assert "unknown ['lost']" in api_error(r, 400, "InvalidArgument")
    r = httpx.post(f"{base}/actions/nope/approve", json={"by": "ana"})
    api_error(r, 404, "ActionNotFound")
    refused = httpx.get(f"{base}/actions", params={"state": "refused"}).json()["value"]
    assert len(refused) == 4  # every model refusal is recorded


def test_an_optimiser_set_point_waits_for_approval_then_converges(
    served: tuple[Hub, str],
) -> None:
    hub, base = served
    r = httpx.put(
        f"{base}/twins/{MOTOR}/desired/speedSetpoint",
        json=1350.0,
        params={"requestedBy": "optimizer:line-mpc", "reason": "more throughput"},
    )
    assert r.status_code == 202 and r.json()["state"] == "pending_approval"
    action_id = r.json()["id"]
    assert hub.twins.get_twin(MOTOR)["speedSetpoint"] == 1480.0  # nothing sent yet
    r = httpx.post(f"{base}/actions/{action_id}/approve", json={})
    assert "'by'" in api_error(r, 400, "InvalidArgument")
    r = httpx.post(f"{base}/actions/{action_id}/approve", json={"by": "user:ana"})
    assert r.status_code == 200 and r.json()["decidedBy"] == "user:ana"
    _state(base, action_id, "done")
    desired = httpx.get(f"{base}/twins/{MOTOR}/desired").json()["desired"]["speedSetpoint"]
    assert desired["desiredValue"] == 1350.0 and desired["reportedValue"] == 1350.0
    r = httpx.post(f"{base}/actions/{action_id}/approve", json={"by": "user:ana"})
    api_error(r, 409, "ActionNotDecidable")
    r = httpx.post(f"{base}/actions/{action_id}/reject", json={"by": "user:bo"})
    api_error(r, 409, "ActionNotDecidable")


def test_the_command_line_invokes_lists_approves_and_reads_the_audit(
    served: tuple[Hub, str],
) -> None:
    from typer.testing import CliRunner

    from twinsight.cli import app

    hub, base = served
    cli = CliRunner()
    ran = cli.invoke(
        app,
        ["command", MOTOR, "resetFault", "--json", '"after inspection"', "--by", "user:cy",
         "--server", base],
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    assert "sent  command line-1-motor.resetFault" in ran.output
    ran = cli.invoke(app, ["command", MOTOR, "resetFault", "--json", "42", "--server", base])
    assert ran.exit_code == 1 and "ValidationFailed" in ran.output
    ran = cli.invoke(app, ["command", MOTOR, "resetFault", "--json", "{oops", "--server", base])
    assert ran.exit_code == 2 and "not valid JSON" in ran.output
    pending = hub.actions.submit(
        Action("property", MOTOR, "speedSetpoint", 1400.0, "optimizer:line-mpc")
    )
    listed = cli.invoke(
        app, ["actions", "list", "--state", "pending_approval", "--server", base, "--json"]
    )
    assert [a["id"] for a in orjson.loads(listed.stdout)] == [pending.id]
    ran = cli.invoke(app, ["actions", "approve", pending.id, "--by", "user:cy", "--server", base])
    assert ran.exit_code == 0 and f"{pending.id}  sent" in ran.output
    ran = cli.invoke(app, ["actions", "reject", pending.id, "--by", "user:cy", "--server", base])
    assert ran.exit_code == 1 and "ActionNotDecidable" in ran.output
    ran = cli.invoke(app, ["audit", "--action", pending.id, "--server", base, "--json"])
    assert [e["actor"] for e in orjson.loads(ran.stdout)][-2:] == ["user:cy", "optimizer:line-mpc"]


def test_an_asker_may_ask_for_approval_or_only_a_recommendation(served: tuple[Hub, str]) -> None:
    hub, base = served
    url = f"{base}/digitaltwins/{MOTOR}/commands/stop"
    r = httpx.post(url, params={"mode": "recommend", "requestedBy": "rule:hot"})
    assert r.status_code == 202 and r.json()["state"] == "recommended"
    assert hub.actions.get(r.json()["id"]).mode == "recommend"
    r = httpx.post(url, params={"mode": "maybe"})
    assert r.status_code in (400, 422) and "mode" in r.text
