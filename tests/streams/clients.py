"""Test clients for live streams: a WebSocket reader and an SSE parser, both with deadlines
(a missing event fails the test quickly instead of hanging it)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from websockets.sync.client import ClientConnection, connect

from twinsight.hub import Hub

Frame = dict[str, Any]


def ws_url(base: str, path: str = "/streams/ws") -> str:
    return base.replace("http://", "ws://", 1) + path


@contextmanager
def ws_client(base: str, *, query: str = "", **kwargs: Any) -> Iterator[ClientConnection]:
    with connect(ws_url(base) + query, open_timeout=10, **kwargs) as ws:
        yield ws


def recv(ws: ClientConnection, timeout: float = 10.0) -> Frame:
    frame = json.loads(ws.recv(timeout=timeout))
    assert isinstance(frame, dict)
    return frame


def subscribe(ws: ClientConnection, filters: dict[str, Any], sub_id: str | None = None) -> str:
    message: dict[str, Any] = {"subscribe": filters}
    if sub_id is not None:
        message["id"] = sub_id
    ws.send(json.dumps(message))
    ack = recv(ws)
    assert ack["type"] == "subscribed", ack
    return str(ack["subscription"])


def recv_until(
    ws: ClientConnection, done: Callable[[Frame], bool], timeout: float = 10.0
) -> list[Frame]:
    """Every frame up to and including the first for which ``done`` is true."""
    deadline = time.monotonic() + timeout
    frames: list[Frame] = []
    while True:
        frame = recv(ws, max(0.01, deadline - time.monotonic()))
        frames.append(frame)
        if done(frame):
            return frames


def sse_events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """Parse a ``text/event-stream`` body into events: ``{"id", "data", "comments"}``."""
    event: dict[str, Any] = {"id": None, "data": [], "comments": []}
    for line in response.iter_lines():
        if line == "":
            if event["data"] or event["comments"]:
                yield {
                    **event,
                    "data": json.loads("\n".join(event["data"])) if event["data"] else None,
                }
            event = {"id": None, "data": [], "comments": []}
        elif line.startswith(":"):
            event["comments"].append(line[1:].strip())
        else:
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "data":
                event["data"].append(value)
            elif field == "id":
                event["id"] = value


def sse_data(events: Iterator[dict[str, Any]], count: int) -> list[dict[str, Any]]:
    """The next ``count`` data events (comments skipped), each with its ``_id``."""
    out: list[dict[str, Any]] = []
    for event in events:
        if event["data"] is not None:
            out.append({**event["data"], "_id": event["id"]})
            if len(out) == count:
                return out
    raise AssertionError(f"the stream ended after {len(out)} of {count} events")


def update_twin(client: httpx.Client, base: str, twin_id: str, **values: Any) -> None:
    """Replace some properties of a twin with PUT (a read-modify-write of the document)."""
    doc = client.get(f"{base}/digitaltwins/{twin_id}").json()
    doc.pop("$etag")
    doc.update(values)
    response = client.put(f"{base}/digitaltwins/{twin_id}", json=doc)
    assert response.status_code == 200, response.text


def send_telemetry(client: httpx.Client, base: str, twin_id: str, payload: dict[str, Any]) -> None:
    response = client.post(
        f"{base}/digitaltwins/{twin_id}/telemetry",
        json=payload,
        headers={"Message-Id": f"m-{time.monotonic_ns()}"},
    )
    assert response.status_code == 204, response.text


def wait_for(condition: Callable[[], bool], timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def subscriptions(hub: Hub) -> int:
    return hub.streams.subscriptions
