"""``/alarms``: list, read and acknowledge alarms; ``/twins/{id}/anomalies``: the latest
anomaly score of each monitored stream of a twin (docs/alarms.md).

Thin routes over :class:`~twinsight.analytics.alarms.AlarmService` and the hub's
monitoring runner; alarms are raised and cleared by the platform, never through the API.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request

from twinsight.api.body import read_json
from twinsight.api.paging import page_of
from twinsight.api.responses import JsonResponse
from twinsight.core.errors import BadRequest
from twinsight.hub import Hub
from twinsight.streams.events import alarm_json

MAX_BODY = 16 * 1024
MaxItems = Annotated[int | None, Header(alias="max-items-per-page")]
Continuation = Annotated[str | None, Query(alias="continuationToken")]
_ACK_FIELDS = frozenset({"by", "note"})


def _terms(raw: list[str] | None) -> list[str]:
    """Repeated or comma-separated query values."""
    return [t.strip() for value in raw or () for t in value.split(",") if t.strip()]


def router(hub: Hub) -> APIRouter:
    r = APIRouter(tags=["alarms"])
    alarms = hub.alarms

    @r.get("/alarms")
    def list_alarms(
        request: Request,
        twin: Annotated[str | None, Query(description="only this twin's alarms")] = None,
        state: Annotated[
            list[str] | None, Query(description="raised, acknowledged, cleared (any of)")
        ] = None,
        severity: Annotated[
            list[str] | None, Query(description="critical, major, minor, warning (any of)")
        ] = None,
        active: Annotated[
            bool, Query(description="only alarms not cleared yet (raised or acknowledged)")
        ] = False,
        continuation: Continuation = None,
        max_items: MaxItems = None,
    ) -> JsonResponse:
        """Alarms, active first, then by severity (most urgent first), then newest."""
        found = alarms.list(
            twin_id=twin,
            states=_terms(state),
            severities=_terms(severity),
            active_only=active,
        )
        items = [alarm_json(a) for a in found]
        return JsonResponse(page_of(items, request, continuation, max_items))

    @r.get("/alarms/{alarm_id}")
    def get_alarm(alarm_id: str) -> JsonResponse:
        return JsonResponse(alarm_json(alarms.get(alarm_id)))

    @r.post("/alarms/{alarm_id}/acknowledge")
    async def acknowledge(alarm_id: str, request: Request) -> JsonResponse:
        """``{"by": "who", "note": "optional"}``: an operator has seen the alarm. Once
        only (a second answers 409 ``AlarmAlreadyAcknowledged``)."""
        body = await read_json(request, max_bytes=MAX_BODY, what="acknowledgement")
        if not isinstance(body, dict):
            raise BadRequest(
                'the body must be a JSON object {"by": "who", "note": "..."}',
                code="InvalidArgument",
            )
        unknown = set(body) - _ACK_FIELDS
        if unknown:
            raise BadRequest(
                f"unknown field(s) {sorted(unknown)}; use {sorted(_ACK_FIELDS)}",
                code="InvalidArgument",
            )
        by, note = body.get("by"), body.get("note", "")
        if not isinstance(by, str) or not isinstance(note, str):
            raise BadRequest(
                "'by' (who acknowledges) must be a string, and 'note' too if given",
                code="InvalidArgument",
            )
        return JsonResponse(alarm_json(alarms.acknowledge(alarm_id, by, note)))

    @r.get("/twins/{twin_id}/anomalies")
    def anomalies(twin_id: str) -> JsonResponse:
        """The latest score of every monitored stream of the twin (empty when no monitor
        watches it), with the detector, the value scored and whether its alarm is on."""
        hub.twins.get_twin(twin_id)  # 404 for a twin that does not exist
        runner = hub.monitoring
        value: list[dict[str, Any]] = (
            [s.to_json() for s in runner.scores(twin_id)] if runner is not None else []
        )
        return JsonResponse({"twinId": twin_id, "value": value})

    return r
