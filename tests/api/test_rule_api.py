"""/rules over HTTP on a hub running the factory's guard and rule files: a motor hot for
two minutes makes its rule submit a lower set-point to the command service (guarded,
recorded, visible as a firing and as an action); list, get, disable, enable, dry-run;
bad input refused with the reason and nothing changed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from adt import running_server
from support import add_factory_models, api_error
from twinsight.control.guards_config import load_guards_file
from twinsight.control.rules_config import load_rules_file
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
        state = hub.control_state()
        hub.start_guards(load_guards_file(factory.GUARDS_FILE, state))
        hub.start_rules(load_rules_file(factory.RULES_FILE, state))
        yield hub


@pytest.fixture
def base(hub: Hub) -> Iterator[str]:
    with running_server(hub) as url:
        yield url


def _hot(client: httpx.Client, base: str, hub: Hub, twin: str, seconds: int) -> None:
    clock = hub.clock
    assert isinstance(clock, ManualClock)
    for _ in range(seconds // 10 + 1):
        clock.advance(10)
        when = clock.now()
        response = client.post(
            f"{base}/digitaltwins/{twin}/telemetry",
            json={"windingTemperature": 104.0},
            headers={
                "Message-Id": f"t-{when.timestamp()}",
                "Telemetry-Source-Time": when.isoformat(),
            },
        )
        assert response.status_code == 204, response.text


def test_a_hot_motor_fires_its_rule_through_the_guarded_command_service(
    hub: Hub, base: str
) -> None:
    with httpx.Client() as client:
        listed = client.get(f"{base}/rules").json()
        names = {r["name"]: r for r in listed["value"]}
        assert names["hot-motor-slows-down"]["enabled"] is True
        assert names["hot-motor-slows-down"]["for"] == 120.0
        _hot(client, base, hub, "line-1-motor", 60)
        assert client.get(f"{base}/rules/hot-motor-slows-down/firings").json()["value"] == []
        _hot(client, base, hub, "line-1-motor", 70)
        firings = client.get(f"{base}/rules/hot-motor-slows-down/firings").json()["value"]
        assert len(firings) == 1
        firing = firings[0]
        assert (firing["twin"], firing["name"], firing["value"]) == (
            "line-1-motor",
            "speedSetpoint",
            1350,
        )
        assert firing["outcome"] == "submitted" and firing["detail"].startswith("action ")
        assert "mode auto (motor-speed)" in firing["detail"]  # past the factory guards
        actions = hub.actions.list_actions(twin_id="line-1-motor")
        assert [(a.requested_by, a.value) for a in actions] == [("rule:hot-motor-slows-down", 1350)]
        assert "winding over 100" in actions[0].reason
        active = client.get(f"{base}/rules/hot-motor-slows-down").json()["activeOn"]
        assert active == ["line-1-motor"]


def test_enable_disable_and_dry_run(hub: Hub, base: str) -> None:
    with httpx.Client() as client:
        off = client.post(f"{base}/rules/hot-motor-slows-down/disable").json()
        assert off["enabled"] is False
        _hot(client, base, hub, "line-2-motor", 200)
        assert client.get(f"{base}/rules/firings").json()["value"] == []
        now = client.post(f"{base}/rules/hot-motor-slows-down/dry-run", json={}).json()
        holds = {t["twin"]: t["holds"] for t in now["twins"]}
        assert holds["line-2-motor"] is True and holds["line-1-motor"] is False
        hub.recorder.flush()
        replay = client.post(
            f"{base}/rules/hot-motor-slows-down/dry-run", json={"since": "1 h"}
        ).json()
        assert [f["twin"] for f in replay["firings"]] == ["line-2-motor"]
        assert client.get(f"{base}/rules/firings").json()["value"] == []  # nothing recorded
        on = client.post(f"{base}/rules/hot-motor-slows-down/enable").json()
        assert on["enabled"] is True


def test_bad_input(base: str) -> None:
    with httpx.Client() as client:
        missing = client.get(f"{base}/rules/no-such-rule")
        assert "no rule 'no-such-rule'" in api_error(missing, 404, "RuleNotFound")
        bad = client.post(f"{base}/rules/rul-maintenance/dry-run", json={"since": "-5 min"})
        assert "cannot be negative" in api_error(bad, 400, "InvalidArgument")
        odd = client.post(f"{base}/rules/rul-maintenance/dry-run", json={"when": 1})
        api_error(odd, 400, "InvalidArgument")


def test_without_rules_the_routes_say_so() -> None:
    with Hub() as bare, running_server(bare) as url, httpx.Client() as client:
        api_error(client.get(f"{url}/rules"), 409, "NoRules")
