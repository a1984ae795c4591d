"""Subscription filters: which twins, models, names and event types a consumer wants.

A filter is a small declarative record, parsed once (bad input is a
:class:`~twinsight.core.errors.BadRequest` naming the problem) and then matched against
every event's :class:`~twinsight.streams.events.EventMeta` without touching JSON:

- ``twins``: exact ids or globs (``line-1-*``);
- ``models``: DTMIs, *with inheritance* — a filter on ``dtmi:...:Machine;1`` matches Motor
  twins, because a Motor is a Machine (asked of the model set's ``bases``);
- ``names``: property, telemetry or relationship names, or an alarm's condition (globs
  allowed; component properties and component telemetry are ``component.name``);
- ``types``: event types from :data:`~twinsight.streams.events.EVENT_TYPES`, or ``twin.*``
  ``relationship.*``, ``alarm.*``, ``action.*`` and ``rule.*``.

Every given dimension must match; an empty dimension matches everything. A name filter
selects events that touch at least one matching name; the event is delivered whole.

>>> f = parse_filter({"twins": ["line-1-*"], "types": ["telemetry"]}, known_model=None)
>>> f.matches(EventMeta("telemetry", "line-1-motor", "dtmi:x:M;1", frozenset({"t"})), None)
True
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from twinsight.core.errors import BadRequest
from twinsight.streams.events import EVENT_TYPES, EventMeta

MAX_TERMS = 100
"""Most values one filter dimension may hold (a filter is a selection, not a data set)."""
MAX_TERM_LENGTH = 512
FILTER_KEYS = ("twins", "models", "names", "types")
_SINGULAR = {"twin": "twins", "model": "models", "name": "names", "type": "types"}
_TYPE_PATTERNS = frozenset(
    (*EVENT_TYPES, "twin.*", "relationship.*", "alarm.*", "action.*", "rule.*", "*")
)
_DTMI = re.compile(r"^dtmi:[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?(?::[A-Za-z0-9_]+)*;[0-9]+$")
_GLOB = re.compile(r"[*?\[]")


class _Terms:
    """Exact values in a set, globs compiled into one regular expression."""

    __slots__ = ("exact", "pattern")

    def __init__(self, values: Iterable[str]) -> None:
        exact: set[str] = set()
        globs: list[str] = []
        for value in values:
            if _GLOB.search(value):
                globs.append(value)
            else:
                exact.add(value)
        self.exact = frozenset(exact)
        self.pattern = (
            re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in globs)) if globs else None
        )

    def match(self, value: str) -> bool:
        return value in self.exact or (self.pattern is not None and bool(self.pattern.match(value)))

    def any(self, values: frozenset[str]) -> bool:
        if not self.exact.isdisjoint(values):
            return True
        pattern = self.pattern
        return pattern is not None and any(pattern.match(v) for v in values)


@dataclass(frozen=True, slots=True)
class StreamFilter:
    """A parsed filter; ``spec`` is its normalized JSON form (echoed back to clients)."""

    spec: Mapping[str, tuple[str, ...]]
    twins: _Terms | None
    models: frozenset[str]
    names: _Terms | None
    types: _Terms | None

    def matches(self, meta: EventMeta, lineage: Callable[[str], frozenset[str]] | None) -> bool:
        """Whether an event passes; ``lineage(model)`` is the model and all its bases."""
        if self.types is not None and not self.types.match(meta.type):
            return False
        if self.twins is not None and not self.twins.match(meta.twin_id):
            return False
        if self.models:
            family = lineage(meta.model) if lineage is not None else frozenset((meta.model,))
            if self.models.isdisjoint(family):
                return False
        return self.names is None or self.names.any(meta.names)

    def to_json(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.spec.items()}


def _strings(key: str, raw: Any) -> list[str]:
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise BadRequest(
            f"filter {key!r} must be a string or a list of strings", code="InvalidArgument"
        )
    values = [p.strip() for v in raw for p in v.split(",")]
    values = [v for v in values if v]
    if len(values) > MAX_TERMS:
        raise BadRequest(
            f"filter {key!r} has {len(values)} values; at most {MAX_TERMS}",
            code="InvalidArgument",
        )
    for value in values:
        if len(value) > MAX_TERM_LENGTH:
            raise BadRequest(
                f"filter {key!r} value is longer than {MAX_TERM_LENGTH} characters",
                code="InvalidArgument",
            )
    return values


def parse_filter(raw: Any, known_model: Callable[[str], bool] | None) -> StreamFilter:
    """Parse ``{"twins": [...], "models": [...], "names": [...], "types": [...]}`` (each a
    list or a comma-separated string; singular keys accepted). ``known_model(dtmi)`` says
    whether a model exists: a filter on a model nobody uploaded is a typo, refused."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise BadRequest("a filter must be a JSON object", code="InvalidArgument")
    spec: dict[str, list[str]] = {}
    for key, value in raw.items():
        canonical = _SINGULAR.get(key, key)
        if canonical not in FILTER_KEYS:
            raise BadRequest(
                f"unknown filter {key!r}; use {', '.join(FILTER_KEYS)}", code="InvalidArgument"
            )
        spec.setdefault(canonical, []).extend(_strings(key, value))
    for kind in spec.get("types", ()):
        if kind not in _TYPE_PATTERNS:
            raise BadRequest(
                f"unknown event type {kind!r}; use {', '.join(sorted(_TYPE_PATTERNS))}",
                code="InvalidArgument",
            )
    for model in spec.get("models", ()):
        if not _DTMI.match(model):
            raise BadRequest(f"{model!r} is not a DTMI", code="InvalidArgument")
        if known_model is not None and not known_model(model):
            raise BadRequest(f"no model {model!r} has been uploaded", code="ModelNotFound")
    normalized = {k: tuple(dict.fromkeys(v)) for k, v in spec.items() if v}
    return StreamFilter(
        normalized,
        _Terms(normalized["twins"]) if "twins" in normalized else None,
        frozenset(normalized.get("models", ())),
        _Terms(normalized["names"]) if "names" in normalized else None,
        _Terms(normalized["types"]) if "types" in normalized else None,
    )
