"""/alarms and /twins/{id}/anomalies over HTTP, and alarm events on the live streams: a
tank's level over its ``alarmLimits`` raises a limit alarm that the API lists, filters,
pages and acknowledges, that SSE and WebSocket subscribers see raised, acknowledged and
cleared; bad input is refused with a clear error and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from adt import running_server
from streams.clients import recv_until, sse_data, sse_events, subscribe, wait_for, ws_client
from support import add_factory_models, api_error
from twinsight.analytics.monitoring import parse_monitoring
from twinsight.core.clock import ManualClock
from twinsight.hub import Hub
from twinsight.scenarios.factory import world

T0 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)
MONITORS = """
monitors:
  - name: tank-level-limits
    model: dtmi:twinsight:factory:Tank;1
    stream: level
    limit: {above: alarmLimits.high, below: alarmLimits.low, deadband: 0.05}
    alarm: {severity: critical, raise_after: 2, clear_after: 2}
  - name: motor-vibration
    model: dtmi:twinsight:factory:Machine;1
    stream: vibration
    detector: robust_z
    parameters: {warmup: 5}
    alarm: {severity: major, raise: 0.9, clear: 0.5, raise_after: 2}
"""


@pytest.fixture
def hub() -> Iterator[Hub]:
    with Hub(clock=ManualClock(T0)) as hub:
        add_factory_models(hub)
        world.build(hub.twins, lines=3)
        hub.start_monitoring(parse_monitoring(MONITORS, "test.yaml"))
        yield hub


@pytest.fixture
def base(hub: Hub) -> Iterator[str]:
    with running_server(hub) as url:
        yield url


_seconds = iter(range(1, 1_000_000))


def _telemetry(client: httpx.Client, base: str, twin: str, payload: dict[str, Any]) -> None:
    """Telemetry stamped one second after the previous (monitors learn in time order)."""
    when = T0 + timedelta(seconds=next(_seconds))
    response = client.post(
        f"{base}/digitaltwins/{twin}/telemetry",
        json=payload,
        headers={"Message-Id": f"m-{when.timestamp()}", "Telemetry-Source-Time": when.isoformat()},
    )
    assert response.status_code == 204, response.text


def _levels(client: httpx.Client, base: str, twin: str, *levels: float) -> None:
    for level in levels:
        _telemetry(client, base, twin, {"level": level})


def _raise_tank_alarm(client: httpx.Client, base: str, twin: str = "line-1-tank") -> dict[str, Any]:
    _levels(client, base, twin, 3.0, 3.7, 3.8)  # high limit 3.5, two samples over it
    page = client.get(f"{base}/alarms", params={"twin": twin, "active": "true"}).json()
    assert len(page["value"]) == 1, page
    alarm: dict[str, Any] = page["value"][0]
    return alarm


def test_a_limit_alarm_is_listed_read_acknowledged_and_cleared(base: str) -> None:
    with httpx.Client(timeout=10) as client:
        alarm = _raise_tank_alarm(client, base)
        assert alarm["condition"] == "limit:level:high"
        assert (alarm["state"], alarm["severity"], alarm["active"]) == ("raised", "critical", True)
        assert alarm["value"] == 3.8 and alarm["count"] == 1
        assert "over the high limit 3.5" in alarm["message"]
        assert alarm["acknowledgedBy"] is None and alarm["cleared"] is None
        one = client.get(f"{base}/alarms/{alarm['id']}").json()
        assert one == alarm
        acked = client.post(
            f"{base}/alarms/{alarm['id']}/acknowledge", json={"by": "ana", "note": "on it"}
        )
        assert acked.status_code == 200, acked.text
        assert (acked.json()["state"], acked.json()["acknowledgedBy"]) == ("acknowledged", "ana")
        assert acked.json()["note"] == "on it"
        _levels(client, base, "line-1-tank", 3.4, 3.3)  # back under 3.5 - 0.05, twice
        cleared = client.get(f"{base}/alarms/{alarm['id']}").json()
        assert (cleared["state"], cleared["active"], cleared["value"]) == ("cleared", False, 3.3)
        assert cleared["acknowledgedBy"] == "ana"
        assert client.get(f"{base}/alarms", params={"active": "true"}).json()["value"] == []


def test_filters_and_paging(base: str) -> None:
    with httpx.Client(timeout=10) as client:
        first = _raise_tank_alarm(client, base, "line-1-tank")
        second = _raise_tank_alarm(client, base, "line-2-tank")
        _levels(client, base, "line-3-tank", 0.3, 0.2)  # under the low limit 0.5
        low = client.get(f"{base}/alarms", params={"twin": "line-3-tank"}).json()["value"]
        assert [a["condition"] for a in low] == ["limit:level:low"]
        client.post(f"{base}/alarms/{first['id']}/acknowledge", json={"by": "ana"})
        by_state = client.get(f"{base}/alarms", params={"state": "acknowledged"}).json()
        assert [a["id"] for a in by_state["value"]] == [first["id"]]
        several = client.get(f"{base}/alarms", params={"state": "raised,cleared"}).json()
        assert {a["id"] for a in several["value"]} == {second["id"], low[0]["id"]}
        assert client.get(f"{base}/alarms", params={"severity": "minor"}).json()["value"] == []
        page = client.get(f"{base}/alarms", headers={"max-items-per-page": "2"}).json()
        assert len(page["value"]) == 2 and page["nextLink"]
        rest = client.get(page["nextLink"]).json()
        assert len(rest["value"]) == 1 and rest["nextLink"] is None
        ids = {a["id"] for a in page["value"] + rest["value"]}
        assert ids == {first["id"], second["id"], low[0]["id"]}


def test_bad_requests_are_refused_clearly_and_change_nothing(base: str) -> None:
    with httpx.Client(timeout=10) as client:
        alarm = _raise_tank_alarm(client, base)
        url = f"{base}/alarms/{alarm['id']}/acknowledge"
        message = api_error(client.get(f"{base}/alarms/nope"), 404, "AlarmNotFound")
        assert "no alarm 'nope'" in message
        api_error(
            client.post(f"{base}/alarms/nope/acknowledge", json={"by": "a"}), 404, "AlarmNotFound"
        )
        assert "unknown alarm state 'open'" in api_error(
            client.get(f"{base}/alarms", params={"state": "open"}), 400, "InvalidArgument"
        )
        assert "unknown severity 'fatal'" in api_error(
            client.get(f"{base}/alarms", params={"severity": "fatal"}), 400, "InvalidArgument"
        )
        assert "active" in api_error(
            client.get(f"{base}/alarms", params={"active": "maybe"}), 400, "InvalidArgument"
        )
        api_error(
            client.get(f"{base}/alarms", params={"continuationToken": "x"}), 400, "InvalidArgument"
        )
        assert "who acknowledges" in api_error(
            client.post(url, json={"by": ""}), 400, "InvalidArgument"
        )
        assert "'by'" in api_error(client.post(url, json={"by": 5}), 400, "InvalidArgument")
        assert "unknown field(s) ['who']" in api_error(
            client.post(url, json={"who": "ana"}), 400, "InvalidArgument"
        )
        api_error(client.post(url, json=["ana"]), 400, "InvalidArgument")
        api_error(client.post(url, content=b"{not json"), 400, "InvalidArgument")
        assert client.get(f"{base}/alarms/{alarm['id']}").json()["state"] == "raised"
        assert client.post(url, json={"by": "ana"}).status_code == 200
        twice = api_error(client.post(url, json={"by": "ben"}), 409, "AlarmAlreadyAcknowledged")
        assert "already acknowledged by ana" in twice
        assert client.get(f"{base}/alarms/{alarm['id']}").json()["acknowledgedBy"] == "ana"


def test_anomaly_scores_per_stream_of_a_twin(base: str) -> None:
    with httpx.Client(timeout=10) as client:
        for value in (0.10, 0.11, 0.10, 0.09, 0.10, 0.11, 0.10, "loud"):
            _telemetry(client, base, "line-1-motor", {"vibration": value})
        body = client.get(f"{base}/twins/line-1-motor/anomalies").json()
        assert body["twinId"] == "line-1-motor"
        (score,) = body["value"]
        assert (score["monitor"], score["stream"], score["detector"]) == (
            "motor-vibration", "vibration", "robust_z",
        )  # fmt: skip
        assert 0.0 <= score["score"] <= 1.0 and score["value"] == 0.10
        assert (score["samples"], score["skipped"]) == (7, 1)
        assert "not a number: 'loud'" in score["lastSkip"]
        assert client.get(f"{base}/twins/line-1-pump/anomalies").json()["value"] == []
        api_error(client.get(f"{base}/twins/nope/anomalies"), 404, "DigitalTwinNotFound")


def test_alarm_events_on_sse_and_websocket_filtered_by_twin(hub: Hub, base: str) -> None:
    with (
        httpx.Client(timeout=10) as client,
        client.stream(
            "GET", f"{base}/streams/events", params={"twin": "line-1-tank", "type": "alarm.*"}
        ) as response,
        ws_client(base) as ws,
    ):
        events = sse_events(response)
        assert "connected" in next(events)["comments"]
        subscribe(ws, {"twins": ["line-1-tank"], "types": ["alarm.*"]})  # waits for the ack
        _raise_tank_alarm(client, base, "line-2-tank")  # another twin: filtered out
        alarm = _raise_tank_alarm(client, base, "line-1-tank")
        client.post(f"{base}/alarms/{alarm['id']}/acknowledge", json={"by": "ana"})
        _levels(client, base, "line-1-tank", 3.2, 3.1)
        got = sse_data(events, 3)
        frames = recv_until(ws, lambda f: f.get("event", {}).get("type") == "alarm.cleared")
    assert [e["type"] for e in got] == ["alarm.raised", "alarm.acknowledged", "alarm.cleared"]
    assert {e["twinId"] for e in got} == {"line-1-tank"}
    assert got[0]["model"] == "dtmi:twinsight:factory:Tank;1"
    assert got[0]["alarm"]["id"] == alarm["id"] and got[0]["alarm"]["state"] == "raised"
    assert got[1]["alarm"]["acknowledgedBy"] == "ana"
    assert got[2]["alarm"]["state"] == "cleared"
    ws_types = [f["event"]["type"] for f in frames if f["type"] == "event"]
    assert ws_types == ["alarm.raised", "alarm.acknowledged", "alarm.cleared"]
    wait_for(lambda: hub.streams.subscriptions == 0, what="the subscriptions to end")


def test_reading_alarms_needs_read_and_acknowledging_needs_write(hub: Hub) -> None:
    read = hub.tokens.create("reader", ["read"])
    write = hub.tokens.create("operator", ["write"])
    hub.alarms.report(
        "line-1-tank", "limit:level:high", source="limit", severity="critical", message="high"
    )
    with running_server(hub, require_auth=True) as url, httpx.Client(timeout=10) as client:
        api_error(client.get(f"{url}/alarms"), 401, "Unauthorized")
        listed = client.get(f"{url}/alarms", headers={"Authorization": f"Bearer {read}"})
        assert listed.status_code == 200
        (alarm,) = listed.json()["value"]
        ack = f"{url}/alarms/{alarm['id']}/acknowledge"
        denied = client.post(ack, json={"by": "r"}, headers={"Authorization": f"Bearer {read}"})
        api_error(denied, 403, "Forbidden")
        done = client.post(ack, json={"by": "o"}, headers={"Authorization": f"Bearer {write}"})
        assert done.status_code == 200 and done.json()["acknowledgedBy"] == "o"
