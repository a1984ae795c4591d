"""``POST /query``: the Azure Digital Twins query language, paged by continuation token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request

from twinsight.api.body import read_json
from twinsight.api.paging import page_size
from twinsight.api.responses import JsonResponse
from twinsight.core.errors import BadRequest
from twinsight.hub import Hub

MAX_QUERY_BYTES = 64 * 1024


def router(hub: Hub) -> APIRouter:
    r = APIRouter(tags=["query"])

    @r.post("/query")
    async def query(
        request: Request,
        max_items: Annotated[int | None, Header(alias="max-items-per-page")] = None,
    ) -> JsonResponse:
        body = await read_json(request, max_bytes=MAX_QUERY_BYTES, what="query request")
        if not isinstance(body, dict):
            raise BadRequest(
                'the body must be {"query": "...", "continuationToken": ...}',
                code="InvalidArgument",
            )
        continuation = body.get("continuationToken")
        if continuation is not None and not isinstance(continuation, str):
            raise BadRequest("continuationToken must be a string", code="InvalidArgument")
        page = hub.twins.query(
            body.get("query"),
            continuation=continuation,
            page_size=page_size(max_items),
        )
        return JsonResponse(
            {"value": page.items, "continuationToken": page.continuation},
            headers={"query-charge": f"{max(1.0, len(page.items) / 10):.2f}"},
        )

    return r
