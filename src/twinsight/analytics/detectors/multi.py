"""Detectors over several streams of one twin at once: a vector in, one score out.

Why a second, small interface beside :class:`~twinsight.analytics.detectors.base.Detector`:
a fault often shows as an unusual *combination* — a motor drawing more current while its
speed stays flat — where each stream alone is within its usual range. A one-stream
detector cannot see that; a detector of the joint distribution can. The single-stream
interface stays as it is (and its contract test); a multi-stream detector learns and
scores a mapping of stream name → value, under the same rules:

* a score is a float in ``[0, 1]``;
* the same seed and the same vectors give the same scores;
* ``snapshot`` / ``restore`` fork the state;
* a vector with a missing stream or a value that is not finite is scored
  :data:`~twinsight.analytics.detectors.base.NON_FINITE_SCORE` and not learnt, the reason
  kept in ``last_reason`` and logged — never an exception.

The one built in, :class:`MahalanobisDetector`, is the Mahalanobis distance of the vector
from an exponentially weighted mean under an exponentially weighted covariance, robustified
by Huber-type down-weighting of outlying vectors. Chosen because, for roughly Gaussian
sensor noise around an operating point, the squared distance follows a chi-squared law with
as many degrees of freedom as streams — so its CDF is a calibrated score needing no
per-plant tuning — and because the covariance is exactly what encodes "current moves with
speed": a vector breaking a usual correlation lands far away even when each coordinate is
ordinary. The down-weighting keeps a developing fault from being learnt as normal.
"""

from __future__ import annotations

import copy
import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.special import gammainc
from scipy.stats import chi2

from twinsight.analytics.detectors.base import NON_FINITE_SCORE, Snapshot

log = logging.getLogger(__name__)


class MultiDetector(ABC):
    """An online detector of one twin's streams taken together (see the module notes)."""

    name: str = "multi"

    def __init__(self, streams: Sequence[str]) -> None:
        if len(streams) < 2 or len(set(streams)) != len(streams):
            raise ValueError("a multi-stream detector needs at least two different streams")
        self.streams: tuple[str, ...] = tuple(streams)
        self.last_reason: str | None = None

    def vector(self, values: Mapping[str, float]) -> np.ndarray | None:
        """The values in stream order, or ``None`` (with ``last_reason`` set) when one is
        missing or not finite."""
        out = np.empty(len(self.streams))
        for i, stream in enumerate(self.streams):
            x = values.get(stream)
            if x is None or not math.isfinite(x):
                what = "missing" if x is None else f"not finite ({x!r})"
                self._refuse(f"stream {stream!r} is {what}")
                return None
            out[i] = x
        self.last_reason = None
        return out

    def _refuse(self, reason: str) -> None:
        self.last_reason = f"{reason}: scored {NON_FINITE_SCORE}, not learnt"
        log.debug("%s detector: %s", self.name, self.last_reason)

    @abstractmethod
    def learn_one(self, t: float, values: Mapping[str, float]) -> None:
        """Fold one vector into the state (an incomplete or non-finite one is ignored)."""

    @abstractmethod
    def score_one(self, t: float, values: Mapping[str, float]) -> float:
        """How anomalous the vector is, in ``[0, 1]``; no side effects on the model."""

    def process_one(self, t: float, values: Mapping[str, float]) -> float:
        """Score, then learn (the prequential order of a live stream)."""
        score = self.score_one(t, values)
        self.learn_one(t, values)
        return score

    def snapshot(self) -> Snapshot:
        return Snapshot(type(self).__name__, copy.deepcopy(self.__dict__))

    def restore(self, snapshot: Snapshot) -> None:
        if snapshot.kind != type(self).__name__:
            raise ValueError(f"a {snapshot.kind} snapshot cannot restore a {type(self).__name__}")
        self.__dict__.update(copy.deepcopy(snapshot.state))


class MahalanobisDetector(MultiDetector):
    """Robust online Mahalanobis distance, scored by its chi-squared CDF.

    ``alpha`` is the weight of a new vector in the mean and covariance once warm (about
    ``1/alpha`` samples of memory); the first ``warmup`` vectors are averaged equally and
    scored 0. A vector further than the ``clip`` quantile of the chi distribution is learnt
    with weight ``cutoff / distance`` (Huber), so a fault is not absorbed in a few samples.
    ``floor`` is a relative variance floor per stream, so a constant stream does not make
    the covariance singular."""

    name = "mahalanobis"

    def __init__(
        self,
        streams: Sequence[str],
        *,
        alpha: float = 0.002,
        warmup: int = 60,
        clip: float = 0.99,
        floor: float = 1e-6,
        seed: int | None = None,
    ) -> None:
        super().__init__(streams)
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), not {alpha}")
        if warmup < 2:
            raise ValueError(f"warmup must be at least 2, not {warmup}")
        if not 0.5 < clip < 1.0:
            raise ValueError(f"clip must be a quantile in (0.5, 1), not {clip}")
        if not floor > 0.0:
            raise ValueError(f"floor must be positive, not {floor}")
        self.alpha = alpha
        self.warmup = warmup
        self.floor = floor
        self.seed = seed  # deterministic anyway: kept for the common signature
        k = len(self.streams)
        self.cutoff = math.sqrt(float(np.asarray(chi2.ppf(clip, k))))
        self.n = 0
        self.mean = np.zeros(k)
        self.cov = np.zeros((k, k))

    def _distance2(self, x: np.ndarray) -> float:
        diff = x - self.mean
        scale = np.maximum(np.diag(self.cov), self.floor * (1.0 + self.mean**2))
        regular = self.cov + np.diag(scale * 1e-3 + self.floor * (1.0 + self.mean**2))
        try:
            solved = np.linalg.solve(regular, diff)
        except np.linalg.LinAlgError:
            solved = diff / scale
        return max(float(diff @ solved), 0.0)

    def score_one(self, t: float, values: Mapping[str, float]) -> float:
        x = self.vector(values)
        if x is None or self.n < self.warmup:
            return NON_FINITE_SCORE
        d2 = self._distance2(x)
        score = float(gammainc(len(self.streams) / 2.0, d2 / 2.0))  # chi-squared CDF
        return min(max(score, 0.0), 1.0) if math.isfinite(score) else 1.0

    def learn_one(self, t: float, values: Mapping[str, float]) -> None:
        x = self.vector(values)
        if x is None:
            return
        weight = 1.0
        if self.n >= self.warmup:
            d = math.sqrt(self._distance2(x))
            if d > self.cutoff:
                weight = self.cutoff / d
        self.n += 1
        a = max(self.alpha, 1.0 / self.n) * weight
        diff = x - self.mean
        self.mean = self.mean + a * diff
        self.cov = (1.0 - a) * (self.cov + a * np.outer(diff, diff))


def multi_detector_classes() -> dict[str, type[MultiDetector]]:
    """Every concrete multi-stream detector class, by its ``name``."""
    found: dict[str, type[MultiDetector]] = {}
    pending: list[type[MultiDetector]] = list(MultiDetector.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        found.setdefault(cls.name, cls)
    return found


def make_multi_detector(
    name: str, streams: Sequence[str], parameters: Mapping[str, Any]
) -> MultiDetector:
    """A new multi-stream detector ``name`` over ``streams``; :class:`ValueError` naming
    the known ones, or the parameter refused, otherwise."""
    classes = multi_detector_classes()
    cls = classes.get(name)
    if cls is None:
        raise ValueError(
            f"unknown multi-stream detector {name!r}; registered: {', '.join(sorted(classes))}"
        )
    try:
        return cls(streams, **parameters)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"detector {name!r}: {exc}") from None
