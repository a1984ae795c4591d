"""The default forecaster: daily/weekly cycles as Fourier terms, the rest as an AR process.

``y[t] = s(t) + r[t]``: ``s`` is a weighted least-squares fit of a level and sines and
cosines of the detected (or given) seasons — a daily shape, and a weekly one on top so
Sundays may differ from Mondays — with exponentially decaying weights, so the fit follows a
level that moved (a half-life of ``half_life_cycles`` of the longest season, or of
:data:`NON_SEASONAL_HALF_LIFE` steps without one). What the cycles do not explain, ``r``,
is persistent (a machine running warm stays warm for a while), so it is forecast by an
autoregression on its last few values, kept stable (its roots are pulled inside the unit
circle) so a forecast never runs away.

The interval is built from errors, not from a normal assumption:

1. the fitted model forecasts every stretch of its own past from every origin (on
   leave-one-out residuals, so the seasonal terms do not flatter themselves); the empirical
   quantiles of those errors at each step ahead give the interval's shape — skewed errors
   give a skewed band, and the band widens with the horizon as fast as the errors do;
2. that shape is then calibrated out of sample: the model is refitted on the window cut at
   ``calibration_origins`` earlier points, each forecasts what followed, and the band is
   widened by how much larger those honest errors were than the in-sample ones (never
   narrowed). Level shifts and holidays that a fit cannot see coming are what this catches.

The same honest errors choose how the residuals are carried forward: as a deviation that
fades (an AR model of the residuals) or as a level that moved and stays moved (an AR model
of their changes, added up) — whichever forecast what followed the cuts better.

``bench/forecast.py`` measures MASE and coverage on NAB series (docs/benchmarks.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from twinsight.analytics.forecast.base import Forecaster, error_quantiles
from twinsight.analytics.forecast.seasonality import choose_seasons
from twinsight.analytics.forecast.series import FloatArray, RegularSeries

NON_SEASONAL_HALF_LIFE = 500
MAX_ERROR_ORIGINS = 3000
"""Past origins the interval's errors are measured from (the most recent ones)."""

STABLE_RADIUS = 0.995
HUBER_K = 1.345
EXACT_ORDER = 100
MAX_WIDENING = 4.0
CALIBRATION_STEPS = 24
"""Steps ahead the out-of-sample calibration looks at when the series has no season (with
one, a whole cycle of the shortest season)."""


@dataclass(frozen=True)
class _Fit:
    """One least-squares fit: the seasonal terms' coefficients, the residuals (also
    leave-one-out) and two AR models of them — of their levels (a deviation fades) and of
    their changes (a deviation stays: a level that moved)."""

    origin: int  # absolute step number of the first value
    n: int
    beta: FloatArray
    residuals: FloatArray
    loo_residuals: FloatArray
    phi_levels: FloatArray
    phi_changes: FloatArray

    def phi(self, changes: bool) -> FloatArray:
        return self.phi_changes if changes else self.phi_levels


class HarmonicAR(Forecaster):
    """Fourier seasonality + level by weighted least squares, AR(``ar_order``) residuals,
    interval from calibrated past errors. ``seasons`` in seconds; ``None`` detects a day
    and a week. ``harmonics``: sine/cosine pairs for the shortest season and for a longer
    one."""

    name = "harmonic-ar"
    version = 1
    min_points = 16

    def __init__(
        self,
        seasons: Sequence[float] | None = None,
        *,
        ar_order: int = 3,
        half_life_cycles: float = 3.0,
        harmonics: tuple[int, int] = (12, 80),
        calibration_origins: int = 8,
        seasonal_lag: bool = True,
        robust_passes: int = 2,
    ) -> None:
        super().__init__()
        if ar_order < 1:
            raise ValueError(f"ar_order must be at least 1, not {ar_order}")
        self.given_seasons = None if seasons is None else tuple(seasons)
        self.ar_order = ar_order
        self.half_life_cycles = half_life_cycles
        self.harmonics = harmonics
        self.calibration_origins = calibration_origins
        self.seasonal_lag = seasonal_lag
        self.robust_passes = robust_passes
        self.periods: list[int] = []
        self.widening = 1.0
        """How much the out-of-sample calibration widened the band (1: not at all)."""
        self.changes = False
        """Whether the residuals are carried forward by their changes (a level that moved
        stays moved) rather than their levels (a deviation fades); chosen by calibration."""
        self._fit_: _Fit | None = None
        self._weights: FloatArray = np.zeros(0)
        self._errors_for = 0
        self._errors: FloatArray = np.zeros((0, 0))

    # ------------------------------------------------------------------ design

    def _design(self, index: FloatArray) -> FloatArray:
        """Columns: a constant, then sin/cos pairs per season (absolute step numbers, so
        phases follow the clock, not where the data happens to start)."""
        columns = [np.ones_like(index)]
        for rank, period in enumerate(self.periods, start=1):
            shorter = self.periods[0] if rank > 1 else 0
            pairs = min(self.harmonics[min(rank, 2) - 1], max(1, (period - 1) // 2))
            for k in range(1, pairs + 1):
                if shorter and (k * shorter) % period == 0:
                    continue  # the same wave as one of the shorter season's
                angle = 2 * math.pi * k * np.mod(index, period) / period
                columns.extend((np.sin(angle), np.cos(angle)))
        return np.column_stack(columns)

    def _fit_values(self, origin: int, y: FloatArray, x: FloatArray) -> _Fit:
        """Weighted least squares by the normal equations (the design has a few hundred
        columns at most, so this is one small solve), then :attr:`robust_passes` of Huber
        reweighting; the final weights are kept for the calibration's refits. ``x`` is the
        design of ``y``'s steps. Also the leave-one-out residuals ``r / (1 - leverage)``:
        what the fit would have missed had it not seen the value."""
        n = y.size
        half_life = (
            self.half_life_cycles * max(self.periods) if self.periods else NON_SEASONAL_HALF_LIFE
        )
        recency = 0.5 ** ((n - 1 - np.arange(n)) / half_life)
        weights = recency
        for robust_pass in range(self.robust_passes + 1):
            weighted = x * weights[:, None]
            gram = _ridged(x.T @ weighted)
            beta = np.asarray(np.linalg.solve(gram, weighted.T @ y), dtype=np.float64)
            residuals = y - x @ beta
            if robust_pass == self.robust_passes:
                break
            # Huber weights: a stretch of odd values (a fault, a holiday, a level that
            # moved) must not bend the seasonal shape; the AR part carries it instead
            spread = 1.4826 * float(np.median(np.abs(residuals - np.median(residuals))))
            if not spread > 0:
                break
            size = np.maximum(np.abs(residuals), 1e-300)
            weights = recency * np.minimum(1.0, HUBER_K * spread / size)
        self._weights = weights
        leverage = weights * np.einsum("ij,ji->i", x, np.linalg.solve(gram, x.T))
        loo_residuals = residuals / (1.0 - np.minimum(leverage, 0.99))
        return self._with_ar(origin, beta, residuals, loo_residuals)

    def _with_ar(
        self, origin: int, beta: FloatArray, residuals: FloatArray, loo_residuals: FloatArray
    ) -> _Fit:
        lags = self._lags(residuals.size)
        return _Fit(
            origin,
            residuals.size,
            beta,
            residuals,
            loo_residuals,
            _stable_ar(residuals, lags),
            _stable_ar(np.diff(residuals), lags),
        )

    def _refits(self, origin: int, y: FloatArray, x: FloatArray, cuts: FloatArray) -> list[_Fit]:
        """Fits on ``y[:cut]`` for each (ascending) cut, with the main fit's weights: a
        window's recency weights differ from the whole's by one factor, which the solve
        ignores, so the normal equations of each cut are running sums — one pass over the
        data for all the refits."""
        k = x.shape[1]
        gram = np.zeros((k, k))
        moment = np.zeros(k)
        done = 0
        fits = []
        for cut in cuts.astype(int):
            rows = x[done:cut]
            weighted = rows * self._weights[done:cut, None]
            gram += rows.T @ weighted
            moment += weighted.T @ y[done:cut]
            done = cut
            beta = np.asarray(np.linalg.solve(_ridged(gram.copy()), moment), dtype=np.float64)
            residuals = y[:cut] - x[:cut] @ beta
            fits.append(self._with_ar(origin, beta, residuals, residuals))
        return fits

    def _lags(self, n: int) -> list[int]:
        """The residuals' AR lags: the last ``ar_order`` steps and, with a season, one cycle
        of the shortest (a busier-than-usual day tends to be followed by another)."""
        lags = list(range(1, min(self.ar_order, max(1, n // 8)) + 1))
        if self.seasonal_lag and self.periods and 4 * self.periods[0] < n:
            lags.append(self.periods[0])
        return lags

    def _point(self, fit: _Fit, horizon: int, changes: bool) -> FloatArray:
        index = fit.origin + fit.n + np.arange(horizon, dtype=np.float64)
        seasonal = self._design(index) @ fit.beta
        origins = np.array([fit.n])
        path = _residual_forecasts(fit.residuals, origins, fit.phi(changes), horizon, changes)
        return np.asarray(seasonal + path[0], dtype=np.float64)

    # ---------------------------------------------------------------- fitting

    def _fit(self, series: RegularSeries) -> None:
        self.periods, notes = choose_seasons(series, self.given_seasons)
        self._notes.extend(notes)
        if not self.periods:
            self._notes.append("no daily or weekly season found: level and autoregression only")
        n = len(series)
        if self._design(np.zeros(1)).shape[1] * 2 > n:
            self._notes.append("too few values for the seasonal terms: level only")
            self.periods = []
        origin = round(series.start / series.step)
        x = self._design(origin + np.arange(n, dtype=np.float64))
        self._fit_ = self._fit_values(origin, series.values, x)
        self._errors_for = 0
        self.widening = self._calibrate(origin, series.values, x)

    def _calibrate(self, origin: int, y: FloatArray, x: FloatArray) -> float:
        """Refit on the window cut at earlier origins and forecast what followed, both
        ways of carrying the residuals forward; keep the way with the smaller honest error
        (:attr:`changes`), and widen the band by how much larger that error was than the
        in-sample one over the same steps ahead (at least 1, at most
        :data:`MAX_WIDENING`)."""
        self.changes = False
        steps = min(self.periods[0] if self.periods else CALIBRATION_STEPS, y.size // 4)
        if self.calibration_origins < 1 or steps < 1:
            return 1.0
        first = max(y.size // 2, self._fit_values_min())
        # the last cuts see fewer steps ahead, but they are the ones that see a level that
        # moved lately
        cuts = np.unique(np.linspace(first, y.size - 1, self.calibration_origins).astype(int))
        cuts = cuts[cuts < y.size]
        honest: dict[bool, list[FloatArray]] = {False: [], True: []}
        ahead: list[int] = []
        for cut, fit in zip(cuts, self._refits(origin, y, x, cuts), strict=True):
            seen = min(steps, y.size - cut)
            ahead.append(seen)
            for changes, errors in honest.items():
                errors.append(np.abs(y[cut : cut + seen] - self._point(fit, seen, changes)))
        if not ahead:
            return 1.0
        totals = {k: float(sum(e.sum() for e in v)) for k, v in honest.items()}
        self.changes = totals[True] < totals[False]
        if self.changes:
            self._notes.append("the residuals' level moved: forecast from their changes")
        # the in-sample error at each step ahead, summed over the same steps the cuts saw
        typical = np.nanmean(np.abs(self._past_errors(steps)), axis=0)
        reference = float(sum(typical[:seen].sum() for seen in ahead))
        if not reference > 0:
            return 1.0
        return float(np.clip(totals[self.changes] / reference, 1.0, MAX_WIDENING))

    def _fit_values_min(self) -> int:
        return max(self.min_points, 2 * int(self._design(np.zeros(1)).shape[1]))

    # ------------------------------------------------------------- predicting

    def _predict(self, horizon: int, level: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        assert self._fit_ is not None  # _predict is only called after a fit
        value = self._point(self._fit_, horizon, self.changes)
        low, high = error_quantiles(self._past_errors(horizon), level)
        return value, value + self.widening * low, value + self.widening * high

    def _past_errors(self, horizon: int) -> FloatArray:
        """Errors (truth − forecast) of forecasting the leave-one-out residuals from past
        origins, one column per step ahead; computed once per fit for the longest horizon
        asked."""
        if self._errors_for >= horizon:
            return self._errors[:, :horizon]
        assert self._fit_ is not None
        r = self._fit_.loo_residuals
        phi = self._fit_.phi(self.changes)
        first = phi.size + 1
        origins = np.arange(max(first, r.size - MAX_ERROR_ORIGINS), r.size)
        paths = _residual_forecasts(r, origins, phi, horizon, self.changes)
        targets = origins[:, None] + np.arange(horizon)[None, :]
        truth = np.where(targets < r.size, r[np.minimum(targets, r.size - 1)], np.nan)
        self._errors = truth - paths
        self._errors_for = horizon
        return self._errors


def _ridged(gram: FloatArray) -> FloatArray:
    """``gram`` with a tiny ridge on its diagonal, so terms the data cannot tell apart
    (a season barely covered) give a solution rather than a singular matrix."""
    gram[np.diag_indices_from(gram)] += 1e-9 * max(1.0, float(np.trace(gram)) / gram.shape[0])
    return gram


def _stable_ar(residuals: FloatArray, lags: Sequence[int]) -> FloatArray:
    """AR coefficients on the given ``lags`` by least squares, as a dense vector over lags
    ``1..max(lags)`` (zeros elsewhere), made stable.

    The spectral radius ``ρ`` (largest root modulus) is that of the companion matrix up to
    :data:`EXACT_ORDER` lags; beyond, its eigenvalues cost too much per fit (a seasonal lag
    of 288 is a 288×288 problem, ~80 ms), so Cauchy's bound is used instead: the ``ρ`` with
    ``Σ|φ_k| ρ^-k = 1``, never below the true radius and equal to it when all coefficients
    are positive. When ``ρ`` exceeds :data:`STABLE_RADIUS`, ``φ_k`` is scaled by
    ``(STABLE_RADIUS/ρ)^k``, which scales every root by that factor.
    """
    order = max(lags)
    phi = np.zeros(order)
    if residuals.size <= 2 * order + len(lags):
        return phi
    columns = np.column_stack([residuals[order - k : residuals.size - k] for k in lags])
    phi[np.asarray(lags) - 1] = np.linalg.lstsq(columns, residuals[order:], rcond=None)[0]
    if order <= EXACT_ORDER:
        companion = np.zeros((order, order))
        companion[0] = phi
        companion[1:, :-1] = np.eye(order - 1)
        radius = float(np.abs(np.linalg.eigvals(companion)).max())
        if radius > STABLE_RADIUS:
            phi = phi * (STABLE_RADIUS / radius) ** np.arange(1, order + 1)
        return phi
    powers = np.asarray(lags, dtype=np.float64)
    size = np.abs(phi[np.asarray(lags) - 1])

    def bound(rho: float) -> float:
        return float((size * rho**-powers).sum())

    if bound(STABLE_RADIUS) <= 1.0:
        return phi
    low, high = STABLE_RADIUS, max(2.0, float(size.sum()) + 1.0)
    for _ in range(60):
        middle = (low + high) / 2
        if bound(middle) > 1.0:
            low = middle
        else:
            high = middle
    return phi * (STABLE_RADIUS / high) ** np.arange(1, order + 1)


def _residual_forecasts(
    r: FloatArray, origins: npt.NDArray[np.int64], phi: FloatArray, horizon: int, changes: bool
) -> FloatArray:
    """Forecasts of ``r[o : o + horizon]`` from ``r[:o]`` for every origin ``o``: by an AR
    model of the residuals themselves, or (``changes``) of their step-to-step changes,
    added up from the last residual. ``origins`` must be at least ``phi.size + 1``."""
    p = phi.size
    if not origins.size:
        return np.zeros((0, horizon))
    if changes:
        d = np.diff(r)
        states = np.stack([d[o - 1 - p : o - 1] for o in origins])
        steps = np.cumsum(_ar_paths(states, phi, horizon), axis=1)
        return np.asarray(r[origins - 1][:, None] + steps, dtype=np.float64)
    return _ar_paths(np.stack([r[o - p : o] for o in origins]), phi, horizon)


def _ar_paths(states: FloatArray, phi: FloatArray, horizon: int) -> FloatArray:
    """Forecast ``horizon`` steps of an AR process from many starting states at once
    (``states``: rows of the last ``p`` values, oldest first)."""
    p = phi.size
    used = np.flatnonzero(phi)
    out = np.empty((states.shape[0], horizon))
    window = np.concatenate([np.asarray(states, dtype=np.float64), out], axis=1)
    for j in range(horizon):
        # value p + j depends on values p + j - lag for each used lag
        nxt = window[:, p + j - 1 - used] @ phi[used] if used.size else 0.0
        window[:, p + j] = nxt
    out[:] = window[:, p:]
    return out
