"""``/quality``: data quality per stream (rate, gaps, late and out-of-range values, rejects).

Thin routes over :class:`~twinsight.streams.quality.QualityTracker`, an in-memory read model
rebuilt from the event bus (see ``docs/streams.md``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from twinsight.api.responses import JsonResponse
from twinsight.core.errors import NotFound
from twinsight.hub import Hub


def router(hub: Hub) -> APIRouter:
    r = APIRouter(tags=["data quality"])
    quality = hub.quality

    @r.get("/quality")
    async def summary(limit: Annotated[int, Query(ge=1, le=10_000)] = 100) -> JsonResponse:
        """Totals and the ``limit`` worst series (silent first, then most problems)."""
        return JsonResponse(quality.summary(limit))

    # Declared before /quality/{twin_id}: a twin named "rejects" is reached through
    # GET /quality/{twin_id} only via its series in the summary.
    @r.get("/quality/rejects")
    async def rejects() -> JsonResponse:
        """Rejected messages per source, address and client."""
        return JsonResponse({"value": quality.rejects()})

    @r.get("/quality/{twin_id}")
    async def twin_series(twin_id: str) -> JsonResponse:
        """Every tracked series of one twin, worst first."""
        if hub.twins.index.twin(twin_id) is None and not quality.knows(twin_id):
            raise NotFound(f"there is no twin {twin_id!r}", code="DigitalTwinNotFound")
        return JsonResponse({"twinId": twin_id, "series": quality.series(twin_id)})

    return r
