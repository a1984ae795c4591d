"""The seasonal-naive baseline: tomorrow looks like today (or next week like this week).

``ŷ[T+h] = y[T+h-k·m]`` with ``k = ceil(h/m)``: the last observed value at the same phase
of the season ``m``. It is the yardstick of Hyndman's MASE, so any forecaster worth its
keep must beat it. Its interval comes from its own in-sample errors at ``k`` seasons back
(empirical quantiles, so skewed errors give a skewed interval). Without a usable season it
falls back to the plain naive forecast (``m = 1``, the last value) and says so.
"""

from __future__ import annotations

import math

import numpy as np

from twinsight.analytics.forecast.base import Forecaster, error_quantiles
from twinsight.analytics.forecast.seasonality import DAY, MIN_CYCLES, season_steps
from twinsight.analytics.forecast.series import FloatArray, RegularSeries


class SeasonalNaive(Forecaster):
    """Repeat the last season; ``season`` in seconds (a day by default)."""

    name = "seasonal-naive"
    version = 1
    min_points = 2

    def __init__(self, season: float = DAY) -> None:
        super().__init__()
        self.season = season
        self.period = 1

    def _fit(self, series: RegularSeries) -> None:
        period = season_steps(self.season, series.step)
        if period and len(series) >= MIN_CYCLES * period:
            self.period = period
        else:
            self.period = 1
            self._notes.append(
                f"no usable {self.season:g} s season (needs {MIN_CYCLES} cycles of "
                f"{period or '?'} steps, the series has {len(series)}): naive forecast, "
                "the last value"
            )

    def _predict(self, horizon: int, level: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        y = self.series.values
        m = self.period
        steps = np.arange(1, horizon + 1)
        back = m * np.ceil(steps / m).astype(np.int64)
        value = y[y.size - back + steps - 1]
        lower = np.empty(horizon)
        upper = np.empty(horizon)
        for k in np.unique(back // m):
            lag = int(k * m)
            if lag >= y.size:
                errors = np.full((1, 1), np.nan)
            else:
                errors = (y[lag:] - y[:-lag]).reshape(-1, 1)
            low, high = error_quantiles(errors, level)
            where = back // m == k
            lower[where] = value[where] + low[0]
            upper[where] = value[where] + high[0]
        return value, lower, upper


def seasonal_naive_scale(values: FloatArray, period: int) -> float:
    """The denominator of Hyndman's MASE: the in-sample mean absolute error of the one-season
    naive forecast, ``mean(|y[t] - y[t-m]|)`` over ``t = m..n-1``."""
    if period < 1 or values.size <= period:
        return math.nan
    return float(np.mean(np.abs(values[period:] - values[:-period])))
