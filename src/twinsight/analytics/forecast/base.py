"""The one interface every forecaster keeps, and what a forecast is.

``fit`` on a :class:`~twinsight.analytics.forecast.series.RegularSeries` (or ``fit_points``
on raw points, resampled to a step), then ``predict(horizon, level)``: ``horizon`` values
after the last one, each with a point forecast and a central prediction interval that
should hold the truth ``level`` of the time. A forecaster that cannot do what was asked
with the data it got either raises a
:class:`~twinsight.analytics.forecast.series.ForecastError` or falls back to something
simpler and says so in :attr:`Forecast.notes` — never a crash, never a silent guess.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Self

import numpy as np

from twinsight.analytics.forecast.series import FloatArray, ForecastError, RegularSeries, resample

MAX_HORIZON = 10_000
"""More steps ahead than this is refused: no model here says anything useful that far."""


@dataclass(frozen=True)
class Forecast:
    """``horizon`` forecast steps: times (seconds since the epoch), point forecasts and the
    bounds of the central ``level`` prediction interval."""

    times: FloatArray
    value: FloatArray
    lower: FloatArray
    upper: FloatArray
    level: float
    model: str
    version: int
    notes: tuple[str, ...] = ()


def check_request(horizon: int, level: float) -> None:
    """Refuse a horizon or level no forecaster can honour, naming it."""
    if isinstance(horizon, bool) or not isinstance(horizon, int) or horizon < 1:
        raise ForecastError(f"the horizon must be a whole number of steps ≥ 1, not {horizon!r}")
    if horizon > MAX_HORIZON:
        raise ForecastError(f"the horizon must be at most {MAX_HORIZON} steps, not {horizon}")
    if not (isinstance(level, int | float) and 0 < level < 1 and math.isfinite(level)):
        raise ForecastError(f"the interval level must lie strictly between 0 and 1, not {level!r}")


def error_quantiles(errors: FloatArray, level: float) -> tuple[FloatArray, FloatArray]:
    """Per-horizon lower and upper quantiles of signed forecast errors (``truth - forecast``,
    one column per step ahead, NaN where not observed), with the finite-sample conformal
    correction (the ``ceil((n+1)·q)/n`` quantile) so a few dozen errors do not give an
    interval that is too narrow."""
    alpha = (1.0 - level) / 2.0
    lows = np.empty(errors.shape[1])
    highs = np.empty(errors.shape[1])
    for j in range(errors.shape[1]):
        column = errors[:, j]
        column = column[np.isfinite(column)]
        n = column.size
        if n == 0:
            lows[j] = highs[j] = np.nan
            continue
        hi_q = min(1.0, math.ceil((n + 1) * (1 - alpha)) / n)
        lo_q = 1.0 - hi_q
        lows[j] = float(np.quantile(column, lo_q))
        highs[j] = float(np.quantile(column, hi_q))
    # a step whose errors are unknown borrows the nearest known one
    for bound in (lows, highs):
        known = np.flatnonzero(np.isfinite(bound))
        if known.size == 0:
            bound[:] = 0.0
        elif known.size < bound.size:
            bound[:] = np.interp(np.arange(bound.size), known, bound[known])
    return np.minimum(lows, 0.0), np.maximum(highs, 0.0)


class Forecaster(ABC):
    """Fit on a regular series, then predict ``horizon`` steps with an interval.

    Subclasses implement :meth:`_fit` and :meth:`_predict`; this class checks the input,
    handles the constant series (the forecast is that constant, with a zero-width interval)
    and keeps the notes about what was repaired or simplified.
    """

    name: str = "forecaster"
    """Registered model name (used for provenance and the model registry)."""

    version: int = 1
    """Bumped whenever the method changes what it predicts for the same data."""

    min_points: int = 8
    """Fewer values than this are refused."""

    def __init__(self) -> None:
        self._series: RegularSeries | None = None
        self._constant: float | None = None
        self._notes: list[str] = []

    @property
    def notes(self) -> tuple[str, ...]:
        """What the fit repaired, fell back on or left out, in words."""
        return tuple(self._notes)

    @property
    def series(self) -> RegularSeries:
        if self._series is None:
            raise ForecastError(f"{self.name} has not been fitted: call fit() first")
        return self._series

    def fit(self, series: RegularSeries) -> Self:
        if len(series) < self.min_points:
            raise ForecastError(
                f"{self.name} needs at least {self.min_points} values at a {series.step:g} s "
                f"step, the series has {len(series)}"
            )
        self._series = series
        self._notes = list(series.notes)
        values = series.values
        if float(np.ptp(values)) <= 1e-12 * max(1.0, float(np.abs(values).max())):
            self._constant = float(values[-1])
            self._notes.append("the series is constant: forecast is that value, interval width 0")
            return self
        self._constant = None
        self._fit(series)
        return self

    def fit_points(
        self,
        times: Sequence[float] | FloatArray,
        values: Sequence[float] | FloatArray,
        step: float,
    ) -> Self:
        """:meth:`fit` on raw points resampled to ``step`` seconds (see ``resample``)."""
        return self.fit(resample(times, values, step))

    def predict(self, horizon: int, level: float = 0.8) -> Forecast:
        check_request(horizon, level)
        series = self.series
        times = series.end + series.step * np.arange(1, horizon + 1, dtype=np.float64)
        if self._constant is not None:
            flat = np.full(horizon, self._constant)
            return Forecast(times, flat, flat, flat, level, self.name, self.version, self.notes)
        value, lower, upper = self._predict(horizon, level)
        return Forecast(times, value, lower, upper, level, self.name, self.version, self.notes)

    @abstractmethod
    def _fit(self, series: RegularSeries) -> None:
        """Learn from a non-constant series of at least :attr:`min_points` values."""

    @abstractmethod
    def _predict(self, horizon: int, level: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        """Point forecasts and interval bounds for ``horizon`` steps."""
