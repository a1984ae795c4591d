"""``/ingest``: devices and gateways that speak HTTP push raw messages here.

The route interprets nothing: the body is the payload as sent (any content type), the path
after ``/ingest/`` is its address (as an MQTT topic would be), and both go to the ingest
pipeline as a :class:`~twinsight.core.messages.RawMessage`, which maps, validates, stores or
dead-letters it. The answer is 202 with what became of it (the pipeline's
:class:`~twinsight.core.messages.IngestResult`): "accepted", since a message whose mapping
fails is kept as a dead letter rather than refused, so the sender need not retry it.

Size limits answer 413 before anything is read into memory beyond the limit; a batch of the
wrong shape answers 400 naming the problem. Writing needs the ``write`` scope when tokens
are required (any POST but ``/query``, see :mod:`twinsight.api.auth`).
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from twinsight.api.body import read_json
from twinsight.api.responses import JsonResponse
from twinsight.core.clock import Clock
from twinsight.core.errors import BadRequest, PayloadTooLarge
from twinsight.core.messages import IngestResult, MessageSink, RawMessage

MAX_MESSAGE_BYTES = 256 * 1024
MAX_BATCH_BYTES = 8 * 1024 * 1024
MAX_BATCH_MESSAGES = 10_000


def result_body(result: IngestResult) -> dict[str, int]:
    return {
        "messages": result.messages,
        "values": result.values,
        "deadLetters": result.dead_letters,
        "lateValues": result.late_values,
        "duplicateValues": result.duplicate_values,
    }


async def _read_body(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(f"the message is {int(declared):,} bytes; the limit is {max_bytes:,}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(f"the message is larger than the limit of {max_bytes:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def _client(request: Request) -> str:
    return request.client.host if request.client is not None else ""


def parse_batch(body: Any, max_messages: int) -> list[tuple[str, bytes]]:
    """``{"messages": [{"address": str, "payload": str | any JSON}]}`` → (address, bytes).

    A string payload is sent as its UTF-8 bytes, any other JSON value re-serialized, so a
    device can embed its JSON document directly or pass a non-JSON text as a string.
    """
    if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
        raise BadRequest(
            'a batch is a JSON object {"messages": [{"address": ..., "payload": ...}, ...]}',
            code="InvalidArgument",
        )
    items = body["messages"]
    if not items:
        raise BadRequest("the batch holds no messages", code="InvalidArgument")
    if len(items) > max_messages:
        raise PayloadTooLarge(
            f"the batch holds {len(items):,} messages; the limit is {max_messages:,}"
        )
    out: list[tuple[str, bytes]] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise BadRequest(f"messages[{i}] is not an object", code="InvalidArgument")
        address = item.get("address")
        if not isinstance(address, str) or not address.strip("/"):
            raise BadRequest(
                f"messages[{i}].address must be a non-empty string", code="InvalidArgument"
            )
        if "payload" not in item:
            raise BadRequest(f"messages[{i}] has no payload", code="InvalidArgument")
        payload = item["payload"]
        data = payload.encode() if isinstance(payload, str) else orjson.dumps(payload)
        out.append((address.strip("/"), data))
    return out


def router(
    sink: MessageSink,
    clock: Clock,
    *,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
    max_batch_bytes: int = MAX_BATCH_BYTES,
    max_batch_messages: int = MAX_BATCH_MESSAGES,
) -> APIRouter:
    """The routes over any :class:`MessageSink` (the hub passes its ingest pipeline)."""
    r = APIRouter(prefix="/ingest", tags=["ingest"])

    @r.post("", status_code=202, summary="Ingest a batch of messages")
    async def ingest_batch(request: Request) -> JsonResponse:
        body = await read_json(request, max_bytes=max_batch_bytes, what="batch")
        now = clock.now()
        client = _client(request)
        messages = [
            RawMessage("http", address, payload, now, client=client)
            for address, payload in parse_batch(body, max_batch_messages)
        ]
        result = await run_in_threadpool(sink.submit, messages)
        return JsonResponse(result_body(result), status_code=202)

    @r.post("/{address:path}", status_code=202, summary="Ingest one message")
    async def ingest_one(address: str, request: Request) -> JsonResponse:
        address = address.strip("/")
        if not address:
            raise BadRequest("give the message's address: POST /ingest/<address>")
        payload = await _read_body(request, max_message_bytes)
        message = RawMessage("http", address, payload, clock.now(), client=_client(request))
        result = await run_in_threadpool(sink.submit, [message])
        return JsonResponse(result_body(result), status_code=202)

    return r
