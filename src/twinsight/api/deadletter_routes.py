"""``/deadletters``: inspect, replay and discard messages the ingest pipeline could not use."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from twinsight.api.body import read_json
from twinsight.api.responses import JsonResponse
from twinsight.core.errors import BadRequest
from twinsight.core.ports import DeadLetter
from twinsight.hub import Hub

PREVIEW_BYTES = 2048


def letter_summary(letter: DeadLetter) -> dict[str, Any]:
    return {
        "id": letter.id,
        "source": letter.source,
        "address": letter.address,
        "client": letter.client,
        "mapping": letter.mapping,
        "received": letter.received.isoformat(),
        "reason": letter.reason,
        "status": letter.status,
        "attempts": letter.attempts,
        "size": len(letter.payload),
    }


def letter_detail(letter: DeadLetter) -> dict[str, Any]:
    """A letter with its payload: exact bytes as base64, and a text preview when it is
    UTF-8 (what a person wants to read first)."""
    try:
        preview: str | None = letter.payload[:PREVIEW_BYTES].decode("utf-8")
    except UnicodeDecodeError:
        preview = None
    return {
        **letter_summary(letter),
        "payloadBase64": base64.b64encode(letter.payload).decode(),
        "payloadPreview": preview,
    }


def _ids(body: Any) -> list[int]:
    ids = body.get("ids") if isinstance(body, dict) else None
    if not isinstance(ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) for i in ids
    ):
        raise BadRequest('the body must be {"ids": [1, 2, ...]}', code="InvalidArgument")
    return ids


def router(hub: Hub) -> APIRouter:
    r = APIRouter(tags=["dead letters"])
    letters = hub.dead_letters

    @r.get("/deadletters")
    async def list_letters(
        status: Annotated[
            str, Query(description="pending, replayed, discarded or all")
        ] = "pending",
        source: str | None = None,
        prefix: Annotated[str | None, Query(description="address prefix")] = None,
        after: Annotated[int, Query(ge=0, description="continue after this id")] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> JsonResponse:
        chosen = None if status == "all" else status
        page = letters.list(
            status=chosen, source=source, address_prefix=prefix, after_id=after, limit=limit
        )
        return JsonResponse(
            {
                "value": [letter_summary(x) for x in page],
                "next": page[-1].id if len(page) == limit else None,
                "pending": letters.count("pending"),
            }
        )

    @r.get("/deadletters/{letter_id}")
    async def get_letter(letter_id: int) -> JsonResponse:
        return JsonResponse(letter_detail(letters.get(letter_id)))

    @r.post("/deadletters/replay")
    async def replay(request: Request) -> JsonResponse:
        body = await read_json(request, max_bytes=1024 * 1024, what="replay request")
        if isinstance(body, dict) and body.get("allPending") is True:
            result = letters.replay_pending()
        else:
            result = letters.replay(_ids(body))
        return JsonResponse(
            {
                "replayed": result.replayed,
                "stillFailing": [
                    {"id": i, "reason": reason} for i, reason in result.still_failing.items()
                ],
            }
        )

    @r.post("/deadletters/discard")
    async def discard(request: Request) -> JsonResponse:
        body = await read_json(request, max_bytes=1024 * 1024, what="discard request")
        ids = _ids(body)
        letters.discard(ids)
        return JsonResponse({"discarded": ids})

    return r
