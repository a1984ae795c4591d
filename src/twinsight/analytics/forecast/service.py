"""Forecasts of recorded series, on request: read the recent history, fit, cache.

:class:`SeriesForecasts` answers "what comes next for twin T's series N?" from the history
store alone: it reads the series' newest points, resamples them to a step (given, or the
series' own typical spacing), fits the default forecaster and predicts. A page asks again
every few seconds; refitting each time would waste a core, so a fit is kept and reused
until the series has new data *and* the fit is older than ``refit_after`` (at least two
steps). The forecaster is registered in the model registry (when the hub has one) on first
use, so every forecast names the registered version that produced it.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from twinsight.analytics.forecast.base import Forecast
from twinsight.analytics.forecast.harmonic import HarmonicAR
from twinsight.analytics.forecast.series import ForecastError, resample
from twinsight.analytics.registry import ModelRegistry
from twinsight.core.clock import Clock
from twinsight.core.errors import BadRequest, NotFound
from twinsight.history import History
from twinsight.history.service import MAX_LIMIT, parse_bucket

MAX_STEPS = 2016
"""Most steps a fit looks back over (a week of 5-minute steps, six weeks of half hours)."""
MAX_HORIZON_STEPS = 1000
"""Most steps ahead a request may ask for: beyond that an interval says little."""
SPACING_SAMPLE = 200
"""Newest raw points whose median spacing is the default step."""
MIN_STEP = 1.0
MAX_CACHED = 256
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class _Fitted:
    model: HarmonicAR
    last_time: float  # newest raw point the fit saw, seconds since the epoch
    fitted_at: datetime
    points: int  # raw points read


@dataclass(frozen=True)
class SeriesForecast:
    """One answer: the forecast, the step it was made at, and when its fit was made."""

    series: str
    step: float
    forecast: Forecast
    fitted_at: datetime
    history_points: int
    history_steps: int
    version: int


def _seconds(t: datetime) -> float:
    return (t - _EPOCH).total_seconds()


def nice_step(spacing: float) -> float:
    """A typical spacing rounded to a step people recognise: whole seconds up to a minute,
    whole minutes up to an hour, then whole hours (so steps line up with the clock)."""
    if not math.isfinite(spacing) or spacing <= MIN_STEP:
        return MIN_STEP
    for unit in (3600.0, 60.0):
        if spacing >= unit:
            return round(spacing / unit) * unit
    return float(round(spacing))


class SeriesForecasts:
    """Forecasts of recorded series with a bounded cache of fits (see the module notes)."""

    def __init__(
        self,
        history: History,
        clock: Clock,
        registry: ModelRegistry | None = None,
        *,
        refit_after: float = 15.0,
    ) -> None:
        self._history = history
        self._clock = clock
        self._registry = registry
        self._refit_after = refit_after
        self._cache: OrderedDict[tuple[str, str, float], _Fitted] = OrderedDict()
        self._lock = threading.Lock()
        self._version: int | None = None
        self._registering = threading.Lock()

    # --------------------------------------------------------------- settings

    @staticmethod
    def settings() -> dict[str, Any]:
        """What identifies the forecaster's method: a change here is a new version."""
        model = HarmonicAR()
        return {
            "method": model.name,
            "methodVersion": model.version,
            "arOrder": model.ar_order,
            "halfLifeCycles": model.half_life_cycles,
            "harmonics": list(model.harmonics),
            "calibrationOrigins": model.calibration_origins,
            "maxSteps": MAX_STEPS,
        }

    def version(self) -> int:
        """The registered version of the forecaster these settings make (registered on
        first use, once even when the first requests arrive together); without a registry,
        the method's own version."""
        with self._registering:
            if self._version is None:
                self._version = self._find_or_register()
            return self._version

    def _find_or_register(self) -> int:
        if self._registry is None:
            return HarmonicAR.version
        wanted = self.settings()
        try:
            known = self._registry.versions(HarmonicAR.name)
        except NotFound:
            known = []
        same = [v.version for v in known if v.training == wanted]
        if same:
            return same[-1]
        made = self._registry.register(
            HarmonicAR.name,
            "forecaster",
            HarmonicAR(),
            description="short-term forecast with a prediction interval for any numeric "
            "series: daily/weekly Fourier terms, AR residuals, calibrated past errors "
            "(fitted per series on request; figures: bench/forecast.py)",
            training=wanted,
        )
        return made.version

    # ------------------------------------------------------------- forecasts

    def forecast(
        self,
        twin_id: str,
        name: str,
        *,
        horizon: int,
        level: float = 0.8,
        step: str | float | None = None,
    ) -> SeriesForecast:
        """``horizon`` steps after the series' newest value, with a ``level`` interval.
        Refused: an unknown series (404), a non-numeric one, a bad horizon, level or step
        (400), too little history to fit (422)."""
        if isinstance(horizon, bool) or not 1 <= horizon <= MAX_HORIZON_STEPS:
            raise BadRequest(
                f"horizon must be 1..{MAX_HORIZON_STEPS} steps, not {horizon}",
                code="InvalidArgument",
            )
        if not (0 < level < 1 and math.isfinite(level)):
            raise BadRequest(
                f"level must lie strictly between 0 and 1 (e.g. 0.8), not {level}",
                code="InvalidArgument",
            )
        key = f"{twin_id}/{name}"
        newest = self._history.latest([(twin_id, name)])
        if not newest:
            raise NotFound(f"there is no recorded series {key!r}", code="SeriesNotFound")
        seconds = self._step(twin_id, name, step)
        fitted = self._fitted(twin_id, name, seconds, _seconds(newest[0].time))
        model = fitted.model
        return SeriesForecast(
            key,
            seconds,
            model.predict(horizon, level),
            fitted.fitted_at,
            fitted.points,
            len(model.series),
            self.version(),
        )

    def _step(self, twin_id: str, name: str, step: str | float | None) -> float:
        if step is not None:
            seconds = parse_bucket(step)
            if seconds < MIN_STEP:
                raise BadRequest(
                    f"step must be at least {MIN_STEP:g} s, not {seconds:g} s",
                    code="InvalidArgument",
                )
            return seconds
        newest = self._history.range((twin_id, name), limit=SPACING_SAMPLE, order="desc")
        times = sorted(_seconds(p.time) for p in newest)
        gaps = np.diff(times)
        gaps = gaps[gaps > 0]
        return nice_step(float(np.median(gaps))) if gaps.size else MIN_STEP

    def _fitted(self, twin_id: str, name: str, step: float, newest: float) -> _Fitted:
        cache_key = (twin_id, name, step)
        now = self._clock.now()
        with self._lock:
            cached = self._cache.get(cache_key)
            if cached is not None:
                self._cache.move_to_end(cache_key)
                age = (now - cached.fitted_at).total_seconds()
                if newest <= cached.last_time or age < max(self._refit_after, 2 * step):
                    return cached
        fitted = self._fit(twin_id, name, step, now)
        with self._lock:
            self._cache[cache_key] = fitted
            self._cache.move_to_end(cache_key)
            while len(self._cache) > MAX_CACHED:
                self._cache.popitem(last=False)
        return fitted

    def _fit(self, twin_id: str, name: str, step: float, now: datetime) -> _Fitted:
        key = f"{twin_id}/{name}"
        newest = self._history.latest([(twin_id, name)])[0].time
        start = newest - timedelta(seconds=step * MAX_STEPS)
        points = self._history.range((twin_id, name), start, limit=MAX_LIMIT, order="desc")
        points.reverse()
        times: list[float] = []
        values: list[float] = []
        for p in points:
            value = p.value
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise BadRequest(
                    f"series {key!r} is not numeric: it holds {type(value).__name__} values "
                    f"such as {value!r} at {p.time.isoformat()}",
                    code="SeriesNotNumeric",
                )
            times.append(_seconds(p.time))
            values.append(float(value))
        try:
            model = HarmonicAR().fit(resample(times, values, step).tail(MAX_STEPS))
        except ForecastError as err:
            message = f"cannot forecast {key} at a {step:g} s step: {err.message}"
            raise ForecastError(message) from None
        return _Fitted(model, times[-1], now, len(points))

    def forget(self, twin_id: str | None = None) -> None:
        """Drop cached fits (of one twin, or all)."""
        with self._lock:
            for k in [k for k in self._cache if twin_id is None or k[0] == twin_id]:
                del self._cache[k]


def forecast_body(answer: SeriesForecast, properties: Mapping[str, str]) -> dict[str, Any]:
    """The JSON the API answers with (times ISO 8601 UTC)."""
    f = answer.forecast

    def iso(seconds: float) -> str:
        stamp = _EPOCH + timedelta(seconds=float(seconds))
        return stamp.isoformat().replace("+00:00", "Z")

    return {
        "series": answer.series,
        "model": f.model,
        "version": answer.version,
        "properties": dict(properties),
        "step": answer.step,
        "horizon": int(f.times.size),
        "level": f.level,
        "fittedAt": answer.fitted_at.isoformat().replace("+00:00", "Z"),
        "history": {"points": answer.history_points, "steps": answer.history_steps},
        "notes": list(f.notes),
        "value": [
            {"time": iso(t), "value": float(v), "lower": float(lo), "upper": float(hi)}
            for t, v, lo, hi in zip(f.times, f.value, f.lower, f.upper, strict=True)
        ],
    }
