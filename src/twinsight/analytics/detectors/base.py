"""The one interface every online anomaly detector keeps.

Streams arrive one value at a time and never end, so a detector must judge a value as it
comes (``score_one``) and then fold it into what it knows (``learn_one``), in constant
memory — river's ``learn_one``/``score_one`` split, which keeps scoring free of side
effects (a dashboard may ask "how odd is this?" without teaching the detector).

Rules every implementation keeps, checked by the contract test:

* a score is a float in ``[0, 1]``: 0 is "as expected", 1 is "as odd as it gets"; a
  threshold on it is the caller's choice (alarms, NAB's threshold optimisation);
* the same seed and the same stream give the same scores;
* ``snapshot`` / ``restore`` fork a detector for what-if runs and survive restarts;
* a value that is not finite (NaN, ±inf — a dropped reading, a broken sensor) never
  corrupts the state: ``learn_one`` ignores it and ``score_one`` gives ``0.0``, with the
  reason logged; a missing reading says nothing about the process, and the data-quality
  checks report it elsewhere.
"""

from __future__ import annotations

import copy
import logging
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

NON_FINITE_SCORE = 0.0
"""The defined score of a NaN or infinite value (see the module notes for why 0)."""


@dataclass(frozen=True)
class Snapshot:
    """An opaque, independent copy of a detector's state, for :meth:`Detector.restore`."""

    kind: str
    state: Any


class Detector(ABC):
    """An online detector for one numeric stream.

    ``t`` is the value's source time in seconds since the epoch; detectors may use it (for
    gaps, seasonality) or ignore it, but callers always pass it so that one can.
    """

    name: str = "detector"
    """Short name used in benchmark results and model versions."""

    @abstractmethod
    def learn_one(self, t: float, x: float) -> None:
        """Fold one value into the detector's state."""

    @abstractmethod
    def score_one(self, t: float, x: float) -> float:
        """How anomalous ``x`` is given everything learnt so far, in ``[0, 1]``; no side
        effects."""

    def process_one(self, t: float, x: float) -> float:
        """Score a value, then learn it: the prequential order of a live stream (and of
        NAB). Implementations may fuse the two for speed; the result must be the same."""
        score = self.score_one(t, x)
        self.learn_one(t, x)
        return score

    def snapshot(self) -> Snapshot:
        """An independent copy of the state; later learning does not change it."""
        return Snapshot(type(self).__name__, copy.deepcopy(self.__dict__))

    def restore(self, snapshot: Snapshot) -> None:
        """Go back to a state taken by :meth:`snapshot` (of a detector of the same kind)."""
        if snapshot.kind != type(self).__name__:
            raise ValueError(f"a {snapshot.kind} snapshot cannot restore a {type(self).__name__}")
        self.__dict__.update(copy.deepcopy(snapshot.state))


def is_finite(x: float) -> bool:
    """True for a usable value; logs why a value is skipped so the reason is not lost."""
    if math.isfinite(x):
        return True
    log.debug("anomaly detector skipped a non-finite value %r", x)
    return False
