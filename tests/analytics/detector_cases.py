"""Every detector implementation, registered once, for the contract test.

Add a :class:`Case` for each new detector; ``test_detector_contract.py`` fails if a
concrete detector in ``twinsight.analytics.detectors`` has none, so none escapes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from twinsight.analytics.detectors import (
    HalfSpaceTreesDetector,
    RarityDetector,
    ResidualDetector,
    RobustZScoreDetector,
)
from twinsight.analytics.detectors.base import Detector


@dataclass(frozen=True)
class Case:
    """How to build one detector, given a seed."""

    id: str
    kind: type[Detector]
    build: Callable[[int], Detector]


CASES = [
    Case("rarity", RarityDetector, lambda seed: RarityDetector(seed=seed)),
    Case("residual", ResidualDetector, lambda seed: ResidualDetector(seed=seed)),
    Case(
        "residual_t_known_scale",
        ResidualDetector,
        lambda seed: ResidualDetector(scale=0.5, df=5.0, seed=seed),
    ),
    Case("robust_z", RobustZScoreDetector, lambda seed: RobustZScoreDetector(seed=seed)),
    Case(
        "hst",
        HalfSpaceTreesDetector,
        lambda seed: HalfSpaceTreesDetector(seed=seed, window_size=50),
    ),
]
