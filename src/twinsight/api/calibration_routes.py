"""``/twins/{id}/calibrations`` and ``/twins/{id}/parameters``: calibrate a twin's model
from its history and manage the parameter versions it runs with.

Thin routes over :class:`~twinsight.sim.twin_calibration.TwinCalibrations`. A calibration
replays history through the model many times, seconds of CPU work: it goes to the thread
pool so the server keeps serving. A hub without a simulated world answers 409
``NoSimulation``, a twin no binding covers 409 ``TwinNotSimulated``, an unknown twin 404,
a malformed request 400 ``InvalidArgument`` naming the field, and a window with nothing
recorded 422 ``NoHistory``; a refused calibration stores nothing. Reads need the ``read``
scope, everything else ``write``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from twinsight.api.body import read_json
from twinsight.api.responses import JsonResponse
from twinsight.hub import Hub
from twinsight.sim.calibration_request import CalibrationRequest
from twinsight.sim.twin_calibration import TwinCalibrations, version_dict

MAX_BODY = 64 * 1024
_CALIBRATION_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["parameters", "from", "to"],
                    "properties": {
                        "parameters": {"type": "array", "items": {"type": "string"}},
                        "from": {"type": "string", "format": "date-time"},
                        "to": {"type": "string", "format": "date-time"},
                        "step": {"type": "number", "exclusiveMinimum": 0},
                        "outputs": {"oneOf": [{"type": "array"}, {"type": "object"}]},
                        "inputs": {"type": "object"},
                        "states": {"type": "object"},
                        "initial": {"type": "object"},
                        "apply": {"type": "boolean", "default": True},
                        "maxEvaluations": {"type": "integer", "minimum": 1, "default": 200},
                    },
                },
                "example": {
                    "parameters": ["housing_resistance", "winding_resistance"],
                    "from": "2026-03-01T08:10:00Z",
                    "to": "2026-03-01T10:10:00Z",
                },
            }
        },
    }
}


def service(hub: Hub) -> TwinCalibrations:
    """The calibration service over the hub's simulated world (409 when there is none)."""
    return TwinCalibrations(
        hub.twins, hub.models, hub.history, hub.parameters, hub.require_simulation()
    )


def router(hub: Hub) -> APIRouter:
    r = APIRouter(tags=["calibration"])

    @r.post("/twins/{twin_id}/calibrations", openapi_extra=_CALIBRATION_BODY)
    async def calibrate(twin_id: str, request: Request) -> JsonResponse:
        """Fit ``{"parameters": [...], "from": ISO, "to": ISO, "step"?, "outputs"?,
        "inputs"?, "states"?, "initial"?, "apply"?: true}`` from the twin's history;
        answers the fit report and the version stored (201), or only the report for a dry
        run (``"apply": false``, 200)."""
        body = await read_json(request, max_bytes=MAX_BODY, what="calibration request")
        wanted = CalibrationRequest.from_dict(body)
        calibrations = service(hub)
        outcome = await run_in_threadpool(calibrations.calibrate, twin_id, wanted)
        return JsonResponse(outcome.to_dict(), status_code=201 if outcome.version else 200)

    @r.get("/twins/{twin_id}/parameters")
    def parameters(twin_id: str) -> JsonResponse:
        """The model's parameters now, each with its source (default, twin, binding or the
        calibrated version)."""
        return JsonResponse(service(hub).parameters(twin_id))

    @r.get("/twins/{twin_id}/parameters/versions")
    def versions(twin_id: str) -> JsonResponse:
        found = service(hub).versions(twin_id)
        return JsonResponse({"twin": twin_id, "value": [version_dict(v) for v in found]})

    @r.get("/twins/{twin_id}/parameters/versions/{version}")
    def version(twin_id: str, version: int) -> JsonResponse:
        return JsonResponse(version_dict(service(hub).version(twin_id, version)))

    @r.post("/twins/{twin_id}/parameters/versions/{version}/activate", status_code=201)
    def activate(twin_id: str, version: int) -> JsonResponse:
        """Make ``version`` active again: its values are saved as the next version."""
        made: Any = service(hub).activate(twin_id, version)
        return JsonResponse(version_dict(made), status_code=201)

    return r
