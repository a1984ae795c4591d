"""``/streams``: live events over Server-Sent Events and WebSocket.

Thin routes over :class:`~twinsight.streams.LiveStreams`: parse the filter (a bad one is a
400 or an error frame), register a bounded mailbox, and copy the already-serialized event
bytes to the socket. The protocol is described in ``docs/streams.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Query, WebSocket
from fastapi.responses import StreamingResponse
from starlette.websockets import WebSocketDisconnect

from twinsight.core.errors import BadRequest, TwinsightError
from twinsight.hub import Hub
from twinsight.streams import AsyncMailbox, Batch, Subscription

log = logging.getLogger(__name__)

MAX_SUBSCRIPTIONS = 100
"""Subscriptions one WebSocket connection may hold at once."""
MAX_QUEUE = 100_000
_TAG = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
Terms = Annotated[list[str] | None, Query()]
QueueSize = Annotated[
    int | None, Query(ge=1, le=MAX_QUEUE, description="mailbox bound (events) for this client")
]


def _overflow(dropped: int) -> bytes:
    return orjson.dumps({"type": "overflow", "dropped": dropped})


def _sse_chunk(batch: Batch) -> bytes:
    parts: list[bytes] = []
    if batch.dropped:
        parts.append(b"data: " + _overflow(batch.dropped) + b"\n\n")
    for _, seq, body in batch.items:
        parts.append(b"id: %d\ndata: %s\n\n" % (seq, body))
    return b"".join(parts)


def _last_event_id(header: str | None, query: str | None) -> int | None:
    raw = header if header is not None else query
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(
            f"Last-Event-ID {raw!r} is not an event id this server issued",
            code="InvalidArgument",
        ) from None
    if value < 0:
        raise BadRequest("Last-Event-ID must not be negative", code="InvalidArgument")
    return value


def _error_frame(error: TwinsightError, request_id: str | None = None) -> bytes:
    frame: dict[str, Any] = {"type": "error", **error.to_body()}
    if request_id is not None:
        frame["id"] = request_id
    return orjson.dumps(frame)


def router(hub: Hub) -> APIRouter:
    r = APIRouter(tags=["live streams"])
    streams = hub.streams

    @r.get("/streams/events", response_class=StreamingResponse)
    async def server_sent_events(
        twin: Terms = None,
        model: Terms = None,
        name: Terms = None,
        event_type: Annotated[list[str] | None, Query(alias="type")] = None,
        queue: QueueSize = None,
        last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
        last_event_query: Annotated[str | None, Query(alias="lastEventId")] = None,
    ) -> StreamingResponse:
        """Events as ``text/event-stream``: one ``data:`` JSON line per event with an ``id``,
        a ``: heartbeat`` comment every 15 s of silence, ``Last-Event-ID`` resumption."""
        raw: dict[str, Any] = {"twins": twin, "models": model, "names": name}
        raw["types"] = event_type
        stream_filter = streams.parse_filter({k: v for k, v in raw.items() if v})
        after = _last_event_id(last_event_id, last_event_query)
        loop = asyncio.get_running_loop()
        size = queue or streams.queue_size

        async def body() -> AsyncIterator[bytes]:
            # Registered inside the generator so that it is always unregistered (finally)
            # once the response ends, however it ends.
            mailbox = AsyncMailbox(loop, size)
            sub = streams.subscribe(stream_filter, mailbox, after=after)
            try:
                yield b"retry: 3000\n: connected\n\n"
                while True:
                    batch = await mailbox.take(streams.heartbeat)
                    yield b": heartbeat\n\n" if batch is None else _sse_chunk(batch)
            finally:
                sub.close()

        return StreamingResponse(
            body(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    @r.websocket("/streams/ws")
    async def websocket_stream(
        websocket: WebSocket, queue: QueueSize = None, batch: bool = False
    ) -> None:
        """Subscribe and unsubscribe with JSON messages; events arrive tagged with the
        subscription they matched. A bad message is answered with an error frame. With
        ``?batch=true`` events waiting together are sent as one ``batch`` frame."""
        await websocket.accept()
        mailbox = AsyncMailbox(asyncio.get_running_loop(), queue or streams.queue_size)
        subs: dict[str, Subscription] = {}
        counter = 0
        writer = asyncio.create_task(_write_frames(websocket, mailbox, batch))
        try:
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text")
                if text is None:
                    mailbox.control(
                        _error_frame(BadRequest("binary frames are not understood; send JSON text"))
                    )
                    continue
                try:
                    request = orjson.loads(text)
                except orjson.JSONDecodeError as exc:
                    mailbox.control(_error_frame(BadRequest(f"the message is not JSON: {exc}")))
                    continue
                try:
                    if isinstance(request, dict) and "subscribe" in request:
                        counter += 1
                        tag = _subscription_id(request.get("id"), counter, subs)
                        stream_filter = streams.parse_filter(request["subscribe"])
                        # The acknowledgement is queued before the subscription exists, so
                        # it always reaches the client before the first event.
                        mailbox.control(
                            orjson.dumps(
                                {
                                    "type": "subscribed",
                                    "subscription": tag,
                                    "filter": stream_filter.to_json(),
                                }
                            )
                        )
                        subs[tag] = streams.subscribe(stream_filter, mailbox, tag)
                    elif isinstance(request, dict) and "unsubscribe" in request:
                        tag = request["unsubscribe"]
                        sub = subs.pop(tag, None) if isinstance(tag, str) else None
                        if sub is None:
                            raise BadRequest(f"no subscription {tag!r} on this connection")
                        sub.close()
                        mailbox.control(orjson.dumps({"type": "unsubscribed", "subscription": tag}))
                    else:
                        raise BadRequest('send {"subscribe": {filters}} or {"unsubscribe": "<id>"}')
                except TwinsightError as exc:
                    ref = request.get("id") if isinstance(request, dict) else None
                    mailbox.control(_error_frame(exc, ref if isinstance(ref, str) else None))
        except WebSocketDisconnect:
            pass
        finally:
            for sub in subs.values():
                sub.close()
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer

    return r


def _subscription_id(requested: Any, counter: int, subs: dict[str, Subscription]) -> str:
    if len(subs) >= MAX_SUBSCRIPTIONS:
        raise BadRequest(f"at most {MAX_SUBSCRIPTIONS} subscriptions per connection")
    if requested is None:
        tag = f"s{counter}"
        while tag in subs:
            counter += 1
            tag = f"s{counter}"
        return tag
    if not isinstance(requested, str) or not _TAG.match(requested):
        raise BadRequest(
            "a subscription id is 1-64 characters of letters, digits, '_', '.', ':' or '-'"
        )
    if requested in subs:
        raise BadRequest(f"subscription {requested!r} already exists on this connection")
    return requested


async def _write_frames(websocket: WebSocket, mailbox: AsyncMailbox, coalesce: bool) -> None:
    """The connection's only writer: control messages first, then the overflow notice, then
    events, each frame built by concatenating the event's shared serialized bytes. With
    ``coalesce``, the events taken together go out as one ``batch`` frame: under load that
    divides the per-frame cost (server and client) by the batch size."""
    try:
        while True:
            batch = await mailbox.take()
            assert batch is not None
            for frame in batch.control:
                await websocket.send_text(frame.decode())
            if batch.dropped:
                await websocket.send_text(_overflow(batch.dropped).decode())
            frames = [
                b'{"type":"event","subscription":"%s","id":%d,"event":%s}'
                % (tag.encode(), seq, body)
                for tag, seq, body in batch.items
            ]
            if coalesce and len(frames) > 1:
                joined = b'{"type":"batch","events":[' + b",".join(frames) + b"]}"
                await websocket.send_text(joined.decode())
                continue
            for frame in frames:
                await websocket.send_text(frame.decode())
    except (WebSocketDisconnect, RuntimeError, OSError) as exc:
        log.debug("websocket writer stopped: %s", exc)
