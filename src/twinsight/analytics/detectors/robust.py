"""The robust level-and-spread update both z-score detectors learn with.

A level (exponentially weighted mean, weight ``alpha``) and a spread (exponentially
weighted mean absolute deviation from it, weight ``spread_alpha``): both in O(1) time and
memory, no window stored. The spread learns each deviation clipped at ``clip`` spreads
once past ``warmup`` values, so one spike does not inflate it and hide the next; before
that, and while a constant stream has no spread yet, it learns freely. Early on, both
weights are at least ``1 / n`` (a plain running mean), so the first values are not
under-weighted against the zero start.

The detectors' fused ``process_one`` paths inline the same arithmetic for speed; the
contract test checks that they agree with the ``learn_one`` paths that call this.
"""

from __future__ import annotations


def robust_update(
    level: float,
    spread: float,
    x: float,
    n: int,
    *,
    alpha: float,
    spread_alpha: float,
    clip: float,
    warmup: int,
) -> tuple[float, float]:
    """``(level, spread)`` after learning ``x``, the ``n``-th value (counted from 1)."""
    if n == 1:
        return x, spread
    residual = x - level
    deviation = abs(residual)
    if n > warmup and spread > 0.0:
        deviation = min(deviation, clip * spread)
    inv = 1.0 / n
    spread += max(spread_alpha, inv) * (deviation - spread)
    level += max(alpha, inv) * residual
    return level, spread
