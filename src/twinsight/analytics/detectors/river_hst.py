"""Half-Space Trees from river, behind Twinsight's detector interface.

Why river: its Half-Space Trees are a maintained, streaming isolation-style learner (random
splits of a bounded feature space, mass counted over a sliding window), so we reuse it
rather than write our own. The trees need features in ``[0, 1]``; an online min-max scaler
in front provides that. The value and its change since the previous value are the
features, so a jump is seen even when the new level is within the usual range. river is
imported only here.
"""

from __future__ import annotations

import math
from typing import Any

from river import anomaly, compose, preprocessing

from twinsight.analytics.detectors.base import NON_FINITE_SCORE, Detector, is_finite


class HalfSpaceTreesDetector(Detector):
    """river's ``HalfSpaceTrees`` over (value, change), min-max scaled online."""

    name = "hst"

    def __init__(
        self, *, n_trees: int = 10, height: int = 5, window_size: int = 250, seed: int = 0
    ) -> None:
        self.seed = seed
        self._model: Any = compose.Pipeline(
            preprocessing.MinMaxScaler(),
            anomaly.HalfSpaceTrees(
                n_trees=n_trees, height=height, window_size=window_size, seed=seed
            ),
        )
        self._previous: float | None = None

    def _features(self, x: float) -> dict[str, float]:
        change = 0.0 if self._previous is None else x - self._previous
        return {"value": x, "change": change}

    def score_one(self, t: float, x: float) -> float:
        if not is_finite(x):
            return NON_FINITE_SCORE
        score = float(self._model.score_one(self._features(x)))
        # river's score is a normalised mass in [0, 1]; clamp against rounding and NaN.
        if math.isnan(score):
            return 0.0
        return min(1.0, max(0.0, score))

    def learn_one(self, t: float, x: float) -> None:
        if not is_finite(x):
            return
        self._model.learn_one(self._features(x))
        self._previous = x
