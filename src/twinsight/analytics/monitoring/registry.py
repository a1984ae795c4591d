"""Detectors by name: every concrete :class:`Detector` subclass that has been imported.

Why by discovery, not a list: a monitoring file names its detector (``robust_z``,
``rarity``, ``hst``, ``residual``, ...), and a detector added to
:mod:`twinsight.analytics.detectors` must be usable there without touching this module.
"""

from __future__ import annotations

import inspect
from typing import Any

import twinsight.analytics.detectors  # noqa: F401 - imports the built-in detectors
from twinsight.analytics.detectors.base import Detector


def detector_classes() -> dict[str, type[Detector]]:
    """Every concrete detector class, by its ``name``."""
    found: dict[str, type[Detector]] = {}
    pending: list[type[Detector]] = list(Detector.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if not inspect.isabstract(cls):
            found.setdefault(cls.name, cls)
    return found


def make_detector(name: str, parameters: dict[str, Any]) -> Detector:
    """A new detector ``name`` with ``parameters``; :class:`ValueError` naming the known
    detectors, or saying which parameter was refused, otherwise."""
    classes = detector_classes()
    cls = classes.get(name)
    if cls is None:
        raise ValueError(f"unknown detector {name!r}; registered: {', '.join(sorted(classes))}")
    try:
        return cls(**parameters)
    except TypeError as exc:
        raise ValueError(f"detector {name!r}: {exc}") from None
    except ValueError as exc:
        raise ValueError(f"detector {name!r}: {exc}") from None
