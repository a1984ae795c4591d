"""Random numbers whose whole state is one counter, so a snapshot can hold it as a float.

A discrete-event model's snapshot must carry its random-number state, and the model
interface keeps state as a dict of floats. A numpy ``Generator``'s state is a dict of
128-bit integers that does not fit there; a *counter-based* stream does: draw ``k`` of a
stream is a hash of ``(seed, stream label, k)``, so the state is just ``k``, an integer
that a float holds exactly up to 2**53 draws.

Each random quantity of a model (processing times of machine 3, its failures, its repairs)
has its own stream. That keeps runs comparable across what-if scenarios: changing the
repair time of one machine does not shift the processing times drawn anywhere else
(common random numbers).

The hash is the SplitMix64 finaliser, a bijective 64-bit mixer with good avalanche; it is
a few integer operations in pure Python, cheaper than building a numpy generator per draw.
"""

from __future__ import annotations

import math
from statistics import NormalDist

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15  # 2**64 / golden ratio: the counter's stride
_UNIT = 2.0**-53
_STANDARD_NORMAL = NormalDist()
MAX_SEED = 2**53
"""Seeds are kept as floats, so they must be integers a float holds exactly."""


def _mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
    return z ^ (z >> 31)


def stream_key(seed: int, *labels: int) -> int:
    """The key of the stream named by ``labels`` under ``seed``; distinct labels give
    unrelated streams."""
    key = _mix((seed + _GOLDEN) & _MASK)
    for label in labels:
        key = _mix((key ^ _mix((label + 1) * _GOLDEN & _MASK)) & _MASK)
    return key


class Stream:
    """One counter-based random stream: ``draws`` is its entire state."""

    __slots__ = ("_key", "draws")

    def __init__(self, key: int, draws: int = 0) -> None:
        self._key = key
        self.draws = draws

    def uniform(self) -> float:
        """A uniform number in the open interval (0, 1) (never 0, so logs are safe)."""
        self.draws += 1
        z = _mix((self._key + self.draws * _GOLDEN) & _MASK)
        return ((z >> 11) + 0.5) * _UNIT

    def exponential(self, mean: float) -> float:
        return -mean * math.log(self.uniform())

    def lognormal(self, mean: float, cv: float) -> float:
        """A positive number with the given mean and coefficient of variation: a
        processing time that varies but can never be negative."""
        if cv <= 0.0:
            return mean
        sigma2 = math.log1p(cv * cv)
        z = _STANDARD_NORMAL.inv_cdf(self.uniform())
        return mean * math.exp(math.sqrt(sigma2) * z - sigma2 / 2.0)

    def binomial(self, n: int, p: float) -> int:
        """How many of ``n`` independent trials with probability ``p`` succeed, from one
        uniform by inverting the distribution (cheap while ``n * p`` is small, as a
        scrap count is)."""
        if n <= 0 or p <= 0.0:
            return 0
        if p >= 1.0:
            return n
        u = self.uniform()
        k = 0
        pmf = (1.0 - p) ** n
        cdf = pmf
        ratio = p / (1.0 - p)
        while u > cdf and k < n:
            pmf *= (n - k) / (k + 1) * ratio
            k += 1
            cdf += pmf
        return k
