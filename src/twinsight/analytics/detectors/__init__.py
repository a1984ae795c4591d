"""Online anomaly detectors behind one small interface (see :mod:`.base`).

Every concrete :class:`Detector` in this package is found and run through the same
contract test, so a new detector cannot skip the checks.
"""

from twinsight.analytics.detectors.base import Detector, Snapshot
from twinsight.analytics.detectors.rarity import RarityDetector
from twinsight.analytics.detectors.residual import ResidualDetector
from twinsight.analytics.detectors.river_hst import HalfSpaceTreesDetector
from twinsight.analytics.detectors.statistical import RobustZScoreDetector

DEFAULT_DETECTOR = RarityDetector
"""The detector the platform uses when a twin asks for none, and the one NAB measures."""

__all__ = [
    "DEFAULT_DETECTOR",
    "Detector",
    "HalfSpaceTreesDetector",
    "RarityDetector",
    "ResidualDetector",
    "RobustZScoreDetector",
    "Snapshot",
]
