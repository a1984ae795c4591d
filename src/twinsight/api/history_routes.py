"""``/history``: Twinsight's own time-series routes (not part of the ADT API).

Thin routes over :class:`~twinsight.history.History`: parameters go to the service as
strings, and the service's :class:`~twinsight.core.errors.BadRequest` (bad time, end before
start, unknown function or series, bucket too small or too many buckets) becomes a 400 in
the standard error format. Routes are sync (``def``): they wait on the database, so FastAPI
runs them on its thread pool rather than blocking the event loop.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from twinsight.api.responses import JsonResponse
from twinsight.core.errors import BadRequest
from twinsight.core.ports import Bucket, HistoryKind, HistoryPoint, SeriesInfo
from twinsight.hub import Hub

SeriesParam = Annotated[list[str] | None, Query(description="TWIN/NAME, repeatable")]
# Parameters are taken as strings and checked here or in the service, so every bad value
# gets a message naming it and a 400 (FastAPI's own validation errors currently map to 500).


def _iso(point_time: Any) -> str | None:
    return None if point_time is None else str(point_time.isoformat()).replace("+00:00", "Z")


def _point(p: HistoryPoint) -> dict[str, Any]:
    return {"time": _iso(p.time), "value": p.value}


def _info(s: SeriesInfo) -> dict[str, Any]:
    return {
        "series": f"{s.twin_id}/{s.name}",
        "twinId": s.twin_id,
        "name": s.name,
        "kind": s.kind,
        "count": s.count,
        "first": _iso(s.first),
        "last": _iso(s.last),
    }


def _bucket(b: Bucket) -> dict[str, Any]:
    return {"start": _iso(b.start), **b.values}


def _required(series: list[str] | None) -> list[str]:
    if not series:
        raise BadRequest(
            "name at least one series: series=TWIN/NAME (repeatable)", code="InvalidArgument"
        )
    return series


def router(hub: Hub) -> APIRouter:
    r = APIRouter(prefix="/history", tags=["history"])
    history = hub.history

    @r.get("/series")
    def list_series(
        twin: str | None = None, prefix: str | None = None, kind: str | None = None
    ) -> JsonResponse:
        if kind not in (None, "property", "telemetry"):
            raise BadRequest(
                f"kind must be property or telemetry, not {kind!r}", code="InvalidArgument"
            )
        wanted: HistoryKind | None = "property" if kind == "property" else None
        if kind == "telemetry":
            wanted = "telemetry"
        return JsonResponse({"value": [_info(s) for s in history.series(twin, prefix, wanted)]})

    @r.get("/latest")
    def latest(series: SeriesParam = None) -> JsonResponse:
        points = history.latest(_required(series))
        return JsonResponse(
            {
                "value": [
                    {"series": f"{p.twin_id}/{p.name}", "kind": p.kind, **_point(p)} for p in points
                ]
            }
        )

    @r.get("/aggregate")
    def aggregate(
        series: SeriesParam = None,
        start: str | None = None,
        end: str | None = None,
        bucket: str = "1m",
        fn: Annotated[list[str] | None, Query()] = None,
    ) -> JsonResponse:
        if start is None:
            raise BadRequest("an aggregate needs a start time (start=...)", code="InvalidArgument")
        result = history.aggregate(
            _required(series), start, end, bucket=bucket, functions=fn or ["avg"]
        )
        return JsonResponse(
            {
                "value": [
                    {"series": k, "buckets": [_bucket(b) for b in v]} for k, v in result.items()
                ]
            }
        )

    @r.get("/export")
    def export(
        series: SeriesParam = None,
        start: str | None = None,
        end: str | None = None,
        format: str = "csv",
    ) -> StreamingResponse:
        if format not in ("csv", "parquet"):
            raise BadRequest(
                f"format must be csv or parquet, not {format!r}", code="InvalidArgument"
            )
        fmt: Literal["csv", "parquet"] = "csv" if format == "csv" else "parquet"
        chunks = history.export_chunks(_required(series), start, end, format=fmt)
        media = "text/csv; charset=utf-8" if fmt == "csv" else "application/vnd.apache.parquet"
        return StreamingResponse(
            chunks,
            media_type=media,
            headers={"Content-Disposition": f'attachment; filename="history.{fmt}"'},
        )

    @r.get("/{twin_id}/{name}")
    def points(
        twin_id: str,
        name: str,
        start: str | None = None,
        end: str | None = None,
        limit: str = "1000",
        order: str = "asc",
    ) -> JsonResponse:
        try:
            count = int(limit)
        except ValueError:
            raise BadRequest(
                f"limit must be a whole number, not {limit!r}", code="InvalidArgument"
            ) from None
        if order not in ("asc", "desc"):
            raise BadRequest(f"order must be asc or desc, not {order!r}", code="InvalidArgument")
        found = history.range(
            (twin_id, name), start, end, limit=count, order="desc" if order == "desc" else "asc"
        )
        return JsonResponse({"series": f"{twin_id}/{name}", "value": [_point(p) for p in found]})

    return r
