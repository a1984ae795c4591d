"""``/webhooks``: declarative webhook routes, their delivery counters and failed deliveries.

Thin routes over :class:`~twinsight.streams.webhooks.Webhooks`. The secret is write-only: a
route is shown with ``"signed": true`` instead.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from twinsight.api.body import read_json
from twinsight.api.responses import JsonResponse
from twinsight.core.errors import BadRequest
from twinsight.core.ports import WebhookFailure, WebhookRoute
from twinsight.hub import Hub

MAX_BODY = 64 * 1024
FAILURE_EXCERPT = 2048
_FIELDS = frozenset({"id", "url", "filter", "secret", "enabled", "description"})


def failure_json(failure: WebhookFailure) -> dict[str, Any]:
    return {
        "id": failure.id,
        "route": failure.route_id,
        "status": failure.status,
        "events": failure.events,
        "attempts": failure.attempts,
        "error": failure.error,
        "statusCode": failure.status_code,
        "firstFailed": failure.first_failed.isoformat(),
        "lastFailed": failure.last_failed.isoformat(),
        "size": len(failure.body),
        "bodyPreview": failure.body[:FAILURE_EXCERPT].decode("utf-8", "replace"),
    }


def router(hub: Hub) -> APIRouter:
    r = APIRouter(tags=["webhooks"])
    webhooks = hub.webhooks

    def route_json(route: WebhookRoute) -> dict[str, Any]:
        stats = webhooks.stats(route.id)
        return {
            "id": route.id,
            "url": route.url,
            "filter": route.filter,
            "signed": route.secret is not None,
            "enabled": route.enabled,
            "description": route.description,
            "created": route.created.isoformat(),
            "pendingFailures": webhooks.registry.store.count_failures(route.id, "pending"),
            "stats": stats.to_json() if stats is not None else None,
        }

    @r.post("/webhooks", status_code=201)
    async def add(request: Request) -> JsonResponse:
        """Create a route: ``{"url", "filter"?, "secret"?, "enabled"?, "description"?, "id"?}``."""
        body = await read_json(request, max_bytes=MAX_BODY, what="webhook")
        if not isinstance(body, dict):
            raise BadRequest("the body must be a JSON object", code="InvalidArgument")
        unknown = set(body) - _FIELDS
        if unknown:
            raise BadRequest(
                f"unknown field(s) {sorted(unknown)}; use {sorted(_FIELDS)}",
                code="InvalidArgument",
            )
        fields = {k: v for k, v in body.items() if k != "id"}
        route = webhooks.add(route_id=body.get("id"), **fields)
        return JsonResponse(route_json(route), status_code=201)

    @r.get("/webhooks")
    async def list_routes() -> JsonResponse:
        return JsonResponse({"value": [route_json(x) for x in webhooks.registry.routes()]})

    @r.get("/webhooks/{route_id}")
    async def get_route(route_id: str) -> JsonResponse:
        return JsonResponse(route_json(webhooks.registry.get(route_id)))

    @r.patch("/webhooks/{route_id}")
    def set_enabled(route_id: str, body: dict[str, Any]) -> JsonResponse:
        """``{"enabled": false}`` pauses delivery (events meanwhile are not queued)."""
        if set(body) != {"enabled"} or not isinstance(body["enabled"], bool):
            raise BadRequest('the body must be {"enabled": true|false}', code="InvalidArgument")
        return JsonResponse(route_json(webhooks.set_enabled(route_id, body["enabled"])))

    @r.delete("/webhooks/{route_id}", status_code=204)
    def remove(route_id: str) -> Response:
        """Stop delivering, forget the route and its failures (sync: waits for the worker)."""
        webhooks.remove(route_id)
        return Response(status_code=204)

    @r.get("/webhooks/{route_id}/failures")
    async def failures(
        route_id: str,
        status: Annotated[str, Query(description="pending, delivered or all")] = "pending",
        after: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> JsonResponse:
        page = webhooks.registry.failures(
            route_id, status=None if status == "all" else status, after_id=after, limit=limit
        )
        return JsonResponse(
            {
                "value": [failure_json(f) for f in page],
                "next": page[-1].id if len(page) == limit else None,
            }
        )

    @r.post("/webhooks/{route_id}/failures/retry")
    def retry(route_id: str, body: dict[str, Any] | None = None) -> JsonResponse:
        """Re-send failed deliveries once each: ``{"ids": [...]}`` or every pending one.
        Synchronous (a thread-pool route): the answer says which were delivered."""
        ids = None
        if body:
            ids = body.get("ids")
            if (
                set(body) != {"ids"}
                or not isinstance(ids, list)
                or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
            ):
                raise BadRequest(
                    'the body must be empty or {"ids": [1, 2, ...]}', code="InvalidArgument"
                )
        sent, failed = webhooks.resend(route_id, ids)
        return JsonResponse(
            {"delivered": sent, "failed": [{"id": k, "error": v} for k, v in failed.items()]}
        )

    return r
