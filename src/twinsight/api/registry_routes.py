"""``/registry/models``: the model registry (versions, activation, attachments), and
``/twins/{id}/derived``: which model version produced each of a twin's derived values.

Thin routes over :class:`~twinsight.analytics.registry.ModelRegistry` and
:class:`~twinsight.analytics.registry_derived.DerivedValues`. Artefacts are never
uploaded or served here (they are written by Twinsight's own training commands). An
unknown model answers 404 ``ModelNotFound``, an unknown version 404
``ModelVersionNotFound``, attaching to a twin or DTDL model that does not exist 404
``TwinNotFound``/``ModelNotFound``, a malformed body 400 ``InvalidArgument``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from twinsight.analytics.registry import attachment_dict, version_dict
from twinsight.api.body import read_json
from twinsight.api.responses import JsonResponse
from twinsight.core.errors import BadRequest
from twinsight.hub import Hub

MAX_BODY = 4 * 1024
_ATTACH_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "twin": {"type": "string"},
                        "model": {"type": "string"},
                        "version": {"oneOf": [{"type": "integer"}, {"const": "active"}]},
                    },
                },
                "example": {"model": "dtmi:twinsight:factory:Motor;1", "version": "active"},
            }
        },
    }
}


def _target(body: Any) -> tuple[str, str, int | None]:
    """``(target_kind, target, version)`` from an attach body."""
    if not isinstance(body, dict):
        raise BadRequest("the attachment must be a JSON object", code="InvalidArgument")
    unknown = sorted(set(body) - {"twin", "model", "version"})
    if unknown:
        raise BadRequest(
            f"unknown field(s) {', '.join(unknown)} in the attachment (use twin or model, "
            "and version)",
            code="InvalidArgument",
        )
    kinds = [k for k in ("twin", "model") if k in body]
    if len(kinds) != 1 or not isinstance(body[kinds[0]], str) or not body[kinds[0]]:
        raise BadRequest(
            "name exactly one of twin (a twin id) or model (a DTDL model id) as a string",
            code="InvalidArgument",
        )
    version = body.get("version", "active")
    if version in ("active", "latest", None):
        return kinds[0], body[kinds[0]], None
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise BadRequest(
            f'version must be a positive integer or "active", not {version!r}',
            code="InvalidArgument",
        )
    return kinds[0], body[kinds[0]], version


def router(hub: Hub) -> APIRouter:
    r = APIRouter(tags=["model registry"])
    registry = hub.registry

    @r.get("/registry/models")
    def list_models() -> JsonResponse:
        """Every registered model with its versions' numbers, kind and active version, and
        every twin's calibrated physics parameters (kind ``physics``, named
        ``model@twin``; their versions live at ``href``)."""
        by_name: dict[str, list[Any]] = {}
        for v in registry.versions():
            by_name.setdefault(v.name, []).append(v)
        value = []
        for name, versions in by_name.items():
            newest = versions[-1]
            value.append(
                {
                    "name": name,
                    "kind": newest.kind,
                    "description": newest.description,
                    "versions": [v.version for v in versions],
                    "activeVersion": registry.active_version(name),
                    "latest": version_dict(newest),
                }
            )
        # Calibrated physics parameters keep their own versions per twin (docs/estimation.md);
        # listed here, not copied: the newest version is the one that runs.
        for twin_id, model, latest in hub.parameters.calibrated():
            value.append(
                {
                    "name": f"{model}@{twin_id}",
                    "kind": "physics",
                    "description": f"calibrated parameters of the {model} model of {twin_id}",
                    "versions": list(range(1, latest + 1)),
                    "activeVersion": latest,
                    "twin": twin_id,
                    "href": f"/twins/{twin_id}/parameters/versions",
                }
            )
        return JsonResponse({"value": value})

    @r.get("/registry/models/{name}")
    def get_model(name: str) -> JsonResponse:
        """One model: its versions (metrics, training summary), active version and
        attachments."""
        versions = registry.versions(name)
        active = registry.active_version(name)
        return JsonResponse(
            {
                "name": name,
                "kind": versions[-1].kind,
                "activeVersion": active,
                "versions": [version_dict(v, active=active) for v in versions],
                "attachments": [attachment_dict(a) for a in registry.attachments(name)],
            }
        )

    @r.get("/registry/models/{name}/versions/{version}")
    def get_version(name: str, version: int) -> JsonResponse:
        return JsonResponse(
            version_dict(registry.get(name, version), active=registry.active_version(name))
        )

    @r.post("/registry/models/{name}/versions/{version}/activate")
    def activate(name: str, version: int) -> JsonResponse:
        """Make ``version`` the active one (an older one rolls back); attachments that
        follow the active version use it from their next prediction on."""
        made = registry.activate(name, version)
        return JsonResponse(version_dict(made, active=made.version))

    @r.post("/registry/models/{name}/attachments", status_code=201, openapi_extra=_ATTACH_BODY)
    async def attach(name: str, request: Request) -> JsonResponse:
        """Attach the model to a twin (``{"twin": id}``) or to every twin of a DTDL model
        (``{"model": dtmi}``), pinned (``"version": 2``) or following the active version
        (``"version": "active"``, the default)."""
        body = await read_json(request, max_bytes=MAX_BODY, what="attachment")
        kind, target, version = _target(body)
        made = registry.attach(name, kind, target, version)
        return JsonResponse(attachment_dict(made), status_code=201)

    @r.delete("/registry/models/{name}/attachments/{kind}/{target}", status_code=204)
    def detach(name: str, kind: str, target: str) -> Response:
        registry.detach(name, kind, target)
        return Response(status_code=204)

    @r.get("/twins/{twin_id}/derived")
    def derived(twin_id: str) -> JsonResponse:
        """The twin's derived values (telemetry a model produced), each with the model
        name and version that produced it last, and when."""
        hub.twins.get_twin(twin_id)  # 404 for an unknown twin
        return JsonResponse(
            {"twin": twin_id, "value": [d.to_dict() for d in hub.derived.of(twin_id)]}
        )

    return r
