"""Retention policies: how long the history keeps which series.

Described, not coded (a small record per rule): ``RetentionPolicy("pump-*", "vibration.*",
timedelta(days=7))`` keeps a week of vibration fields of every pump. A series matched by
several policies keeps its points for the longest of their ages, so adding a policy can
never delete data another policy promised to keep.

>>> from datetime import timedelta
>>> policy = RetentionPolicy("pump-*", "vibration.*", timedelta(days=7))
>>> policy.matches("pump-1", "vibration.rms"), policy.matches("fan-1", "vibration.rms")
(True, False)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from fnmatch import fnmatchcase


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """Keep points of series whose twin id and name match the globs for ``max_age``."""

    twin: str
    name: str
    max_age: timedelta

    def __post_init__(self) -> None:
        if self.max_age <= timedelta(0):
            raise ValueError(f"a retention age must be positive, not {self.max_age}")

    def matches(self, twin_id: str, name: str) -> bool:
        return fnmatchcase(twin_id, self.twin) and fnmatchcase(name, self.name)
