"""Per-client flood control: a token bucket per sender, so one chatty or broken device cannot
starve everyone else. Messages over the rate are not dropped: they become dead letters with
the reason, and can be replayed."""

from __future__ import annotations

from datetime import datetime


class FloodGuard:
    """``rate`` messages per second per client, with bursts of up to ``burst``; ``rate`` 0
    turns the guard off."""

    def __init__(self, rate: float = 0.0, burst: float = 0.0) -> None:
        self.rate = rate
        self.burst = burst or rate
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, client: str, now: datetime) -> bool:
        if self.rate <= 0 or not client:
            return True
        t = now.timestamp()
        tokens, last = self._buckets.get(client, (self.burst, t))
        tokens = min(self.burst, tokens + (t - last) * self.rate)
        if tokens < 1.0:
            self._buckets[client] = (tokens, t)
            return False
        self._buckets[client] = (tokens - 1.0, t)
        return True
