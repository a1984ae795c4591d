"""``/digitaltwins``: twins, relationships, components and telemetry (ADT-compatible).

Thin routes: read headers and body, call :class:`~twinsight.graph.service.TwinGraph`, answer
with Azure's status codes and the ``ETag`` header. Routes are ``async`` and call the
in-memory service directly: it never waits on the network, and keeping one event-loop
thread avoids thread-pool hand-offs on the hot read path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response

from twinsight.api.body import read_json
from twinsight.api.paging import page_of
from twinsight.api.responses import JsonResponse
from twinsight.core.errors import BadRequest
from twinsight.hub import Hub

MAX_TWIN_BYTES = 256 * 1024
"""Largest twin, patch or relationship body accepted (a twin is state, not a blob store)."""

IfMatch = Annotated[str | None, Header(alias="If-Match")]
IfNoneMatch = Annotated[str | None, Header(alias="If-None-Match")]
MaxItems = Annotated[int | None, Header(alias="max-items-per-page")]
Continuation = Annotated[str | None, Query(alias="continuationToken")]


def _with_etag(doc: dict[str, Any], status: int = 200) -> JsonResponse:
    return JsonResponse(doc, status_code=status, headers={"ETag": doc["$etag"]})


def _no_content(etag: str | None = None) -> Response:
    return Response(status_code=204, headers={"ETag": etag} if etag else None)


def _source_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(
            f"Telemetry-Source-Time {value!r} is not an RFC 3339 date-time",
            code="InvalidArgument",
        ) from exc


def router(hub: Hub) -> APIRouter:
    r = APIRouter(tags=["digital twins"])
    graph = hub.twins

    @r.get("/digitaltwins/{twin_id}")
    async def get_twin(twin_id: str) -> JsonResponse:
        return _with_etag(graph.get_twin(twin_id))

    @r.put("/digitaltwins/{twin_id}")
    async def put_twin(
        twin_id: str,
        request: Request,
        if_none_match: IfNoneMatch = None,
        if_match: IfMatch = None,
    ) -> JsonResponse:
        body = await read_json(request, max_bytes=MAX_TWIN_BYTES, what="twin")
        return _with_etag(
            graph.upsert_twin(twin_id, body, if_none_match=if_none_match, if_match=if_match)
        )

    @r.patch("/digitaltwins/{twin_id}", status_code=204)
    async def patch_twin(twin_id: str, request: Request, if_match: IfMatch = None) -> Response:
        ops = await read_json(request, max_bytes=MAX_TWIN_BYTES, what="patch")
        return _no_content(graph.patch_twin(twin_id, ops, if_match=if_match)["$etag"])

    @r.delete("/digitaltwins/{twin_id}", status_code=204)
    async def delete_twin(twin_id: str, if_match: IfMatch = None) -> Response:
        graph.delete_twin(twin_id, if_match=if_match)
        return _no_content()

    @r.get("/digitaltwins/{twin_id}/components/{component}")
    async def get_component(twin_id: str, component: str) -> JsonResponse:
        value = graph.get_component(twin_id, component)
        etag = graph.get_twin(twin_id)["$etag"]
        return JsonResponse(value, headers={"ETag": etag})

    @r.patch("/digitaltwins/{twin_id}/components/{component}", status_code=204)
    async def patch_component(
        twin_id: str, component: str, request: Request, if_match: IfMatch = None
    ) -> Response:
        ops = await read_json(request, max_bytes=MAX_TWIN_BYTES, what="patch")
        twin = graph.patch_twin(twin_id, ops, if_match=if_match, component=component)
        return _no_content(twin["$etag"])

    @r.get("/digitaltwins/{twin_id}/relationships")
    async def list_relationships(
        twin_id: str,
        request: Request,
        name: Annotated[str | None, Query(alias="relationshipName")] = None,
        continuation: Continuation = None,
        max_items: MaxItems = None,
    ) -> JsonResponse:
        rels = graph.list_relationships(twin_id, name)
        return JsonResponse(page_of(rels, request, continuation, max_items))

    @r.get("/digitaltwins/{twin_id}/incomingrelationships")
    async def list_incoming(
        twin_id: str,
        request: Request,
        continuation: Continuation = None,
        max_items: MaxItems = None,
    ) -> JsonResponse:
        rels = graph.list_incoming(twin_id)
        return JsonResponse(page_of(rels, request, continuation, max_items))

    @r.get("/digitaltwins/{twin_id}/relationships/{relationship_id}")
    async def get_relationship(twin_id: str, relationship_id: str) -> JsonResponse:
        return _with_etag(graph.get_relationship(twin_id, relationship_id))

    @r.put("/digitaltwins/{twin_id}/relationships/{relationship_id}")
    async def put_relationship(
        twin_id: str,
        relationship_id: str,
        request: Request,
        if_none_match: IfNoneMatch = None,
        if_match: IfMatch = None,
    ) -> JsonResponse:
        body = await read_json(request, max_bytes=MAX_TWIN_BYTES, what="relationship")
        return _with_etag(
            graph.upsert_relationship(
                twin_id, relationship_id, body, if_none_match=if_none_match, if_match=if_match
            )
        )

    @r.patch("/digitaltwins/{twin_id}/relationships/{relationship_id}", status_code=204)
    async def patch_relationship(
        twin_id: str, relationship_id: str, request: Request, if_match: IfMatch = None
    ) -> Response:
        ops = await read_json(request, max_bytes=MAX_TWIN_BYTES, what="patch")
        rel = graph.patch_relationship(twin_id, relationship_id, ops, if_match=if_match)
        return _no_content(rel["$etag"])

    @r.delete("/digitaltwins/{twin_id}/relationships/{relationship_id}", status_code=204)
    async def delete_relationship(
        twin_id: str, relationship_id: str, if_match: IfMatch = None
    ) -> Response:
        graph.delete_relationship(twin_id, relationship_id, if_match=if_match)
        return _no_content()

    async def _telemetry(
        twin_id: str,
        component: str | None,
        request: Request,
        message_id: str | None,
        source_time: str | None,
    ) -> Response:
        if not message_id:
            raise BadRequest("the Message-Id header is required", code="InvalidArgument")
        payload = await read_json(request, max_bytes=MAX_TWIN_BYTES, what="telemetry")
        graph.publish_telemetry(
            twin_id,
            payload,
            message_id=message_id,
            source_time=_source_time(source_time),
            component=component,
        )
        return _no_content()

    @r.post("/digitaltwins/{twin_id}/telemetry", status_code=204)
    async def send_telemetry(
        twin_id: str,
        request: Request,
        message_id: Annotated[str | None, Header(alias="Message-Id")] = None,
        source_time: Annotated[str | None, Header(alias="Telemetry-Source-Time")] = None,
    ) -> Response:
        return await _telemetry(twin_id, None, request, message_id, source_time)

    @r.post("/digitaltwins/{twin_id}/components/{component}/telemetry", status_code=204)
    async def send_component_telemetry(
        twin_id: str,
        component: str,
        request: Request,
        message_id: Annotated[str | None, Header(alias="Message-Id")] = None,
        source_time: Annotated[str | None, Header(alias="Telemetry-Source-Time")] = None,
    ) -> Response:
        return await _telemetry(twin_id, component, request, message_id, source_time)

    return r
