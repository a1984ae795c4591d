"""Live streams over a real server: SSE and WebSocket subscribers receive the events caused
by twin API writes and by the ingest pipeline, filtered as asked; bad input is answered
clearly; a slow consumer is told what it lost; authentication is enforced."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from adt import running_server
from ingest.test_pipeline import make_hub, motor, msg
from streams.clients import (
    recv,
    recv_until,
    send_telemetry,
    sse_data,
    sse_events,
    subscribe,
    update_twin,
    wait_for,
    ws_client,
)
from twinsight.core.clock import ManualClock
from twinsight.core.events import TelemetryReceived
from twinsight.hub import Hub

MACHINE = "dtmi:twinsight:factory:Machine;1"
MOTOR = "dtmi:twinsight:factory:Motor;1"


@pytest.fixture
def hub(clock: ManualClock) -> Iterator[Hub]:
    with make_hub(clock) as h:
        yield h


@pytest.fixture
def base(hub: Hub) -> Iterator[str]:
    with running_server(hub) as url:
        yield url


def test_sse_carries_twin_updates_as_changed_properties_only(hub: Hub, base: str) -> None:
    with (
        httpx.Client(timeout=10) as client,
        client.stream("GET", f"{base}/streams/events", params={"twin": "line-1-motor"}) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response)
        first = next(events)  # the stream is live once this comment arrives
        assert "connected" in first["comments"]
        with httpx.Client(timeout=10) as writer:
            update_twin(writer, base, "line-2-motor", ratedPower=99.0)  # filtered out
            update_twin(writer, base, "line-1-motor", ratedPower=16.5)
            send_telemetry(writer, base, "line-1-motor", {"windingTemperature": 71.5})
        got = sse_data(events, 2)
    assert got[0]["type"] == "twin.updated"
    assert got[0]["twinId"] == "line-1-motor"
    assert got[0]["model"] == MOTOR
    # Only the changed property, not the whole document.
    assert got[0]["changes"] == {"ratedPower": {"value": 16.5, "sourceTime": None}}
    assert got[1]["type"] == "telemetry"
    assert got[1]["telemetry"] == {"windingTemperature": 71.5}
    assert int(got[1]["_id"]) > int(got[0]["_id"])
    wait_for(lambda: hub.streams.subscriptions == 0, what="the SSE subscription to end")


def test_sse_resumes_from_last_event_id(hub: Hub, base: str) -> None:
    with httpx.Client(timeout=10) as client:
        for value in (1.0, 2.0, 3.0):
            send_telemetry(client, base, "line-1-pump", {"pressure": value})
        with client.stream(
            "GET", f"{base}/streams/events", params={"twin": "line-1-pump"}
        ) as response:
            events = sse_events(response)
            next(events)
            send_telemetry(client, base, "line-1-pump", {"pressure": 4.0})
            (live,) = sse_data(events, 1)
        seq = int(live["_id"])
        # Resume from just before the first of the four: the last three are replayed.
        with client.stream(
            "GET",
            f"{base}/streams/events",
            params={"twin": "line-1-pump"},
            headers={"Last-Event-ID": str(seq - 3)},
        ) as response:
            replayed = sse_data(sse_events(response), 3)
    assert [e["telemetry"]["pressure"] for e in replayed] == [2.0, 3.0, 4.0]
    assert replayed[-1]["_id"] == str(seq)


def test_sse_heartbeat_comment_when_silent(hub: Hub, base: str) -> None:
    hub.streams.heartbeat = 0.05
    with (
        httpx.Client(timeout=10) as client,
        client.stream("GET", f"{base}/streams/events") as response,
    ):
        events = sse_events(response)
        next(events)
        assert "heartbeat" in next(events)["comments"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"type": "twin.exploded"}, "unknown event type"),
        ({"model": "not-a-dtmi"}, "is not a DTMI"),
        ({"model": "dtmi:nobody:Uploaded;1"}, "no model"),
        ({"queue": "0"}, ""),
    ],
)
def test_sse_bad_filters_are_400(base: str, params: dict[str, str], message: str) -> None:
    response = httpx.get(f"{base}/streams/events", params=params, timeout=10)
    assert response.status_code == 400
    assert message in response.json()["error"]["message"]


def test_sse_bad_last_event_id_is_400(base: str) -> None:
    response = httpx.get(
        f"{base}/streams/events", headers={"Last-Event-ID": "yesterday"}, timeout=10
    )
    assert response.status_code == 400
    assert "Last-Event-ID" in response.json()["error"]["message"]


def test_websocket_filters_by_twin_model_with_inheritance_name_and_type(
    hub: Hub, base: str
) -> None:
    with ws_client(base) as ws:
        machines = subscribe(ws, {"models": [MACHINE]}, "machines")
        line2 = subscribe(ws, {"twins": "line-2-*"}, "line2")
        temps = subscribe(ws, {"names": ["windingTemperature"]}, "temps")
        rels = subscribe(ws, {"types": ["relationship.*"]})
        everything = subscribe(ws, {})
        with httpx.Client(timeout=10) as client:
            update_twin(client, base, "line-1-motor", ratedPower=17.0)  # Motor extends Machine
            update_twin(client, base, "line-1", targetRate=130.0)  # a ProductionLine
            send_telemetry(client, base, "line-2-motor", {"windingTemperature": 80.0})
            response = client.delete(f"{base}/digitaltwins/line-1/relationships/has-tank")
            assert response.status_code == 204
            send_telemetry(client, base, "site", {"end": True})
        frames = recv_until(
            ws,
            lambda f: (
                f.get("subscription") == everything and f["event"].get("telemetry") == {"end": True}
            ),
        )
    got: dict[str, list[tuple[str, str]]] = {}
    for frame in frames:
        assert frame["type"] == "event", frame
        got.setdefault(frame["subscription"], []).append(
            (frame["event"]["type"], frame["event"]["twinId"])
        )
    assert got[machines] == [("twin.updated", "line-1-motor"), ("telemetry", "line-2-motor")]
    assert got[line2] == [("telemetry", "line-2-motor")]
    assert got[temps] == [("telemetry", "line-2-motor")]
    assert got[rels] == [("relationship.deleted", "line-1")]
    assert len(got[everything]) == 5
    rel_event = next(f["event"] for f in frames if f["subscription"] == rels)
    assert rel_event["name"] == "hasMachine"
    assert rel_event["targetId"] == "line-1-tank"
    assert rel_event["model"] == "dtmi:twinsight:factory:ProductionLine;1"


def test_websocket_receives_ingested_values(hub: Hub, base: str, clock: ManualClock) -> None:
    with ws_client(base) as ws:
        sub = subscribe(ws, {"twins": ["line-1-motor"]})
        result = hub.ingest.submit([motor(clock, 0, temp=212.0, power=18.0, wear=0.25)])
        assert result.values == 3
        frames = [recv(ws), recv(ws)]
    events = {f["event"]["type"]: f["event"] for f in frames}
    assert all(f["subscription"] == sub for f in frames)
    # 212 °F arrives as 100 °C: the stream carries the stored, converted value.
    assert events["telemetry"]["telemetry"] == {"windingTemperature": pytest.approx(100.0)}
    assert events["telemetry"]["sourceTime"] == "2026-01-01T00:00:00Z"
    changes = events["twin.updated"]["changes"]
    assert changes["ratedPower"]["value"] == 18.0
    assert changes["bearing.wear"]["value"] == 0.25  # component property as comp.prop
    assert changes["ratedPower"]["sourceTime"] == "2026-01-01T00:00:00Z"


def test_websocket_unsubscribe_stops_events(hub: Hub, base: str) -> None:
    with ws_client(base) as ws:
        a = subscribe(ws, {"twins": "line-1-pump"})
        b = subscribe(ws, {})
        ws.send(json.dumps({"unsubscribe": a}))
        assert recv(ws) == {"type": "unsubscribed", "subscription": a}
        with httpx.Client(timeout=10) as client:
            send_telemetry(client, base, "line-1-pump", {"pressure": 5.0})
        frame = recv(ws)
    assert frame["subscription"] == b
    assert hub.streams.subscriptions in (0, 1)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("not json at all", "not JSON"),
        ('{"hello": 1}', "subscribe"),
        ('{"subscribe": {"colour": "red"}}', "unknown filter 'colour'"),
        ('{"subscribe": {"twins": 7}}', "must be a string or a list"),
        ('{"subscribe": {}, "id": "has spaces"}', "subscription id"),
        ('{"unsubscribe": "nope"}', "no subscription 'nope'"),
        ('{"subscribe": {"types": ["twin.*", "gossip"]}}', "unknown event type 'gossip'"),
    ],
)
def test_websocket_bad_messages_get_an_error_frame_not_a_disconnect(
    base: str, message: str, expected: str
) -> None:
    with ws_client(base) as ws:
        ws.send(message)
        error = recv(ws)
        assert error["type"] == "error"
        assert expected in error["error"]["message"]
        # Still connected and usable.
        subscribe(ws, {})


def test_websocket_binary_frame_is_an_error(base: str) -> None:
    with ws_client(base) as ws:
        ws.send(b"\x00\x01")
        error = recv(ws)
        assert error["type"] == "error"
        assert "binary" in error["error"]["message"]


def test_slow_websocket_consumer_gets_overflow_notice_and_newest_events(
    hub: Hub, base: str
) -> None:
    """A consumer that stops reading loses its oldest events, is told how many, and never
    slows the publisher (the bus handler only appends to a bounded mailbox)."""
    blob = "x" * 64 * 1024
    total = 300
    with ws_client(base, query="?queue=4", max_queue=1) as ws:
        subscribe(ws, {"twins": "line-1-tank"})

        def publish() -> None:
            for i in range(total):
                hub.bus.publish(
                    TelemetryReceived(
                        "line-1-tank",
                        "dtmi:twinsight:factory:Tank;1",
                        None,
                        f"m{i}",
                        {"i": i, "blob": blob},
                        datetime(2026, 1, 1, tzinfo=UTC),
                    )
                )

        publisher = threading.Thread(target=publish)
        publisher.start()
        publisher.join(timeout=30)
        assert not publisher.is_alive(), "the publisher was blocked by a slow consumer"
        frames = recv_until(
            ws, lambda f: f["type"] == "event" and f["event"]["telemetry"]["i"] == total - 1
        )
    dropped = sum(f["dropped"] for f in frames if f["type"] == "overflow")
    received = [f["event"]["telemetry"]["i"] for f in frames if f["type"] == "event"]
    assert dropped > 0
    assert received == sorted(received)
    assert len(received) + dropped == total


def test_mailbox_bound_keeps_newest_and_counts_dropped() -> None:
    import asyncio

    from twinsight.streams import AsyncMailbox

    async def scenario() -> tuple[int, list[int]]:
        box = AsyncMailbox(asyncio.get_running_loop(), maxsize=3)
        for seq in range(1, 11):
            box.offer("", seq, b"{}")
        batch = await box.take()
        assert batch is not None
        return batch.dropped, [seq for _, seq, _ in batch.items]

    assert asyncio.run(scenario()) == (7, [8, 9, 10])


# ----------------------------------------------------------------------------- auth


@pytest.fixture
def secured(hub: Hub) -> Iterator[tuple[str, str]]:
    token = hub.tokens.create("reader", ["read"])
    with running_server(hub, require_auth=True) as url:
        yield url, token


def test_websocket_without_token_is_closed_4401(secured: tuple[str, str]) -> None:
    base, _ = secured
    with ws_client(base) as ws, pytest.raises(ConnectionClosed) as info:
        ws.recv(timeout=10)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 4401


def test_websocket_with_bad_token_is_closed_4401(secured: tuple[str, str]) -> None:
    base, _ = secured
    with (
        ws_client(base, query="?access_token=wrong") as ws,
        pytest.raises(ConnectionClosed) as info,
    ):
        ws.recv(timeout=10)
    assert info.value.rcvd is not None
    assert info.value.rcvd.code == 4401


def test_websocket_with_read_token_in_header_or_query_works(
    hub: Hub, secured: tuple[str, str]
) -> None:
    base, token = secured
    with ws_client(base, additional_headers={"Authorization": f"Bearer {token}"}) as ws:
        subscribe(ws, {})
    with ws_client(base, query=f"?access_token={token}") as ws:
        subscribe(ws, {"twins": "site"})
        hub.twins.publish_telemetry("site", {"ok": 1}, message_id="m1")
        assert recv(ws)["event"]["telemetry"] == {"ok": 1}


def test_sse_requires_a_read_token(hub: Hub, secured: tuple[str, str]) -> None:
    base, token = secured
    assert httpx.get(f"{base}/streams/events", timeout=10).status_code == 401
    with (
        httpx.Client(timeout=10) as client,
        client.stream(
            "GET", f"{base}/streams/events", params={"access_token": token, "twin": "site"}
        ) as response,
    ):
        assert response.status_code == 200
        events = sse_events(response)
        next(events)
        hub.twins.publish_telemetry("site", {"ok": 2}, message_id="m2")
        assert sse_data(events, 1)[0]["telemetry"] == {"ok": 2}


def test_ingest_rejects_do_not_reach_streams(hub: Hub, base: str, clock: ManualClock) -> None:
    with ws_client(base) as ws:
        subscribe(ws, {})
        hub.ingest.submit([msg("plant/line-1-motor/motor", b"{not json", clock)])
        hub.twins.publish_telemetry("site", {"after": 1}, message_id="m3")
        frame = recv(ws)
    # The first thing the subscriber sees is the later telemetry: a rejected message makes
    # no stream event (it is a dead letter and a data-quality reject instead).
    assert frame["event"]["telemetry"] == {"after": 1}


def test_batch_mode_coalesces_waiting_events_into_one_frame() -> None:
    """With ``?batch=true`` the events a writer takes together leave as one ``batch`` frame
    (what keeps p99 low at 10,000 events/s); without it, one frame per event."""
    import asyncio

    from twinsight.api.stream_routes import _write_frames
    from twinsight.streams import AsyncMailbox

    class FakeSocket:
        def __init__(self) -> None:
            self.sent: list[dict[str, object]] = []

        async def send_text(self, text: str) -> None:
            self.sent.append(json.loads(text))

    async def scenario(coalesce: bool) -> list[dict[str, object]]:
        box = AsyncMailbox(asyncio.get_running_loop(), maxsize=10)
        for seq in (1, 2, 3):
            box.offer("s1", seq, b'{"type":"telemetry","n":%d}' % seq)
        socket = FakeSocket()
        writer = asyncio.create_task(_write_frames(socket, box, coalesce))  # type: ignore[arg-type]
        while len(socket.sent) < (1 if coalesce else 3):
            await asyncio.sleep(0)
        writer.cancel()
        return socket.sent

    (batch,) = asyncio.run(scenario(True))
    assert batch["type"] == "batch"
    assert [e["id"] for e in batch["events"]] == [1, 2, 3]  # type: ignore[union-attr,index]
    singles = asyncio.run(scenario(False))
    assert [f["type"] for f in singles] == ["event"] * 3
