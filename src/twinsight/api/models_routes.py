"""``/models``: upload, list, get, decommission and delete DTDL models (ADT-compatible)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response

from twinsight.api.body import read_json
from twinsight.api.paging import page_of
from twinsight.api.responses import JsonResponse
from twinsight.core.errors import BadRequest
from twinsight.hub import Hub
from twinsight.models.diagnostics import Document
from twinsight.models.repository import ModelInfo

MAX_UPLOAD_BYTES = 32 * 1024 * 1024
MAX_MODELS_PER_UPLOAD = 1000


def model_data(info: ModelInfo, *, include_definition: bool) -> dict[str, Any]:
    """A model as Azure's ``DigitalTwinsModelData``."""
    data: dict[str, Any] = {
        "id": info.id,
        "displayName": info.display_name,
        "description": info.description,
        "uploadTime": info.upload_time.isoformat(),
        "decommissioned": info.decommissioned,
    }
    if include_definition:
        data["model"] = info.definition
    return data


def router(hub: Hub) -> APIRouter:
    r = APIRouter(tags=["models"])

    @r.post("/models", status_code=201)
    async def add_models(request: Request) -> JsonResponse:
        body = await read_json(request, max_bytes=MAX_UPLOAD_BYTES, what="model upload")
        if not isinstance(body, list):
            raise BadRequest(
                "the body must be a JSON array of DTDL interfaces", code="InvalidArgument"
            )
        if len(body) > MAX_MODELS_PER_UPLOAD:
            raise BadRequest(
                f"{len(body)} models in one upload; the limit is {MAX_MODELS_PER_UPLOAD}",
                code="InvalidArgument",
            )
        added = hub.models.add([Document("request body", body)])
        return JsonResponse(
            [model_data(m, include_definition=True) for m in added], status_code=201
        )

    @r.get("/models")
    async def list_models(
        request: Request,
        dependencies_for: Annotated[list[str] | None, Query(alias="dependenciesFor")] = None,
        include_definition: Annotated[bool, Query(alias="includeModelDefinition")] = False,
        continuation: Annotated[str | None, Query(alias="continuationToken")] = None,
        max_items: Annotated[int | None, Header(alias="max-items-per-page")] = None,
    ) -> JsonResponse:
        models = hub.models.list_models(dependencies_for or ())
        items = [model_data(m, include_definition=include_definition) for m in models]
        return JsonResponse(page_of(items, request, continuation, max_items))

    @r.get("/models/{model_id}")
    async def get_model(
        model_id: str,
        include_definition: Annotated[bool, Query(alias="includeModelDefinition")] = False,
    ) -> JsonResponse:
        info = hub.models.get(model_id)
        return JsonResponse(model_data(info, include_definition=include_definition))

    @r.patch("/models/{model_id}", status_code=204)
    async def patch_model(model_id: str, request: Request) -> Response:
        body = await read_json(request, max_bytes=64 * 1024, what="model patch")
        ops = body if isinstance(body, list) else None
        ok = (
            ops is not None
            and len(ops) == 1
            and isinstance(ops[0], dict)
            and ops[0].get("op") == "replace"
            and ops[0].get("path") == "/decommissioned"
            and ops[0].get("value") is True
        )
        if not ok:
            raise BadRequest(
                'the only supported model patch is [{"op": "replace", "path": '
                '"/decommissioned", "value": true}]',
                code="InvalidArgument",
            )
        hub.models.decommission(model_id)
        return Response(status_code=204)

    @r.delete("/models/{model_id}", status_code=204)
    async def delete_model(model_id: str) -> Response:
        hub.models.delete(model_id)
        return Response(status_code=204)

    return r
