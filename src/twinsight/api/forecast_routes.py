"""``/history/{twin}/{name}/forecast``: what comes next for a recorded series.

A thin route over :class:`~twinsight.analytics.forecast.service.SeriesForecasts`: it checks
the twin exists, passes the parameters on and answers with the forecast's points
(``time, value, lower, upper``), the model and its registered version (also as the
provenance properties derived values carry). Parameters are taken as strings and checked
here, so a bad one gets a 400 naming it; an unknown twin or series is a 404, too little
history to fit a 422 (``ForecastUnavailable``). Fits are cached (see the service), so a page
polling every few seconds costs a history read and a prediction, not a fit.
"""

from __future__ import annotations

from fastapi import APIRouter

from twinsight.analytics.forecast.service import SeriesForecasts, forecast_body
from twinsight.api.responses import JsonResponse
from twinsight.core.errors import BadRequest
from twinsight.core.provenance import produced_by
from twinsight.hub import Hub


def _number(text: str, what: str, kind: type[int] | type[float]) -> float:
    try:
        return kind(text)
    except ValueError:
        wanted = "a whole number" if kind is int else "a number"
        raise BadRequest(f"{what} must be {wanted}, not {text!r}", code="InvalidArgument") from None


def router(hub: Hub) -> APIRouter:
    r = APIRouter(prefix="/history", tags=["history"])
    forecasts = SeriesForecasts(hub.history, hub.clock, hub.registry)

    @r.get("/{twin_id}/{name}/forecast")
    def forecast(
        twin_id: str,
        name: str,
        horizon: str = "12",
        level: str = "0.8",
        step: str | None = None,
    ) -> JsonResponse:
        """The next ``horizon`` steps of the series with a central ``level`` prediction
        interval; ``step`` (``30s``, ``5m``, seconds) defaults to the series' own spacing."""
        steps = int(_number(horizon, "horizon", int))
        share = _number(level, "level", float)
        hub.twins.get_twin(twin_id)  # 404 DigitalTwinNotFound for an unknown twin
        answer = forecasts.forecast(twin_id, name, horizon=steps, level=share, step=step)
        return JsonResponse(
            forecast_body(answer, produced_by(answer.forecast.model, answer.version))
        )

    return r
