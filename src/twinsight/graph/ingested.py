"""Applying values from live data to twin state, in batches, ordered by source time.

The ingest pipeline has already mapped and validated the values; what is decided here is
which of them become the twin's *current* state: the newest by source time wins, an older
value (late data) is kept in history only, and the same value at the same time again
(a duplicate) changes nothing. A batch is written in one transaction.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any, NamedTuple

import numpy as np

from twinsight.core.columns import NumberColumn
from twinsight.core.errors import NotFound, ValidationFailed
from twinsight.models.dtdl import Interface, ModelSet, Schema


@dataclass(frozen=True, slots=True)
class ValueTarget:
    """Where a live value lands in a twin's model: its schema and declared unit."""

    kind: str
    component: str | None
    name: str
    schema: Schema
    unit: str | None


class IngestedProperty(NamedTuple):
    """A validated property value for a twin, with the time it was measured (a named tuple:
    one is built per value on the ingest path)."""

    twin_id: str
    component: str | None
    name: str
    value: Any
    time: datetime
    source_time: bool
    """Whether ``time`` came from the device (recorded as ``sourceTime``)."""


class IngestedColumn(NamedTuple):
    """Validated values of one twin property with their source times, as columns (several
    messages or a pack read together): times in integer microseconds since the epoch.

    Why: a batch may carry hundreds of values of one property, of which only the newest
    becomes state; a column in ascending time is decided with a binary search instead of a
    datetime and a comparison per value. A :class:`~twinsight.core.columns.NumberColumn`
    (what the ingest pipeline sends) is searched as its array, and only the values that
    decide something become Python numbers."""

    twin_id: str
    component: str | None
    name: str
    times: Sequence[int]
    values: Sequence[Any]

    def as_updates(self) -> list[IngestedProperty]:
        """The column as one :class:`IngestedProperty` per value (the general road)."""
        return [
            IngestedProperty(
                self.twin_id, self.component, self.name, value, _EPOCH + _US * us, True
            )
            for us, value in zip(self.times, self.values, strict=True)
        ]


@dataclass(frozen=True, slots=True)
class ApplyStats:
    changed_twins: int
    late: int
    duplicates: int
    missing_twins: int = 0


def resolve_target(interface: Interface, models: ModelSet, kind: str, path: str) -> ValueTarget:
    """The property or telemetry ``path`` (``name`` or ``component.name``) of ``interface``."""
    component, _, name = path.rpartition(".")
    holder = interface
    if component:
        definition = interface.components.get(component)
        if definition is None:
            raise ValidationFailed(f"{interface.id} has no component {component!r}")
        holder = models.interface(definition.schema)
    contents: Mapping[str, Any] = holder.properties if kind == "property" else holder.telemetries
    content = contents.get(name)
    if content is None:
        other = holder.telemetries if kind == "property" else holder.properties
        hint = (
            f"; it is a {'telemetry' if kind == 'property' else 'property'} — map it as one"
            if name in other
            else ""
        )
        raise ValidationFailed(f"{holder.id} defines no {kind} {name!r}{hint}")
    return ValueTarget(kind, component or None, name, content.schema, content.unit)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def _time_of(entry: Mapping[str, Any]) -> datetime | None:
    text = entry.get("sourceTime") or entry.get("lastUpdateTime")
    return datetime.fromisoformat(text) if isinstance(text, str) else None


def _iso(time: datetime) -> str:
    return time.isoformat().replace("+00:00", "Z")


def merge_updates(
    current: Mapping[str, Any],
    updates: Sequence[IngestedProperty],
    now: str,
    columns: Sequence[IngestedColumn] = (),
) -> tuple[dict[str, Any] | None, int, int]:
    """The twin after ``updates`` and ``columns`` (or ``None`` if nothing changed), and the
    counts of late and duplicate values. Copies only what changes: documents are immutable
    values.

    Updates are taken per property in source-time order: one older than the property's
    current time is late, one at the same time with the same value is a duplicate, any
    other becomes the current value. Only the last of those is written into the document,
    so a batch of many values of one property costs one metadata entry, not one each. A
    column in strictly ascending time, alone for its property in the batch, comes to the
    same with a binary search (:func:`_merge_column`)."""
    groups: dict[tuple[str | None, str], list[IngestedProperty]] = {}
    for update in updates:
        key = (update.component, update.name)
        group = groups.get(key)
        if group is None:
            groups[key] = [update]
        else:
            group.append(update)
    whole: dict[tuple[str | None, str], IngestedColumn] = {}
    for column in columns:
        key = (column.component, column.name)
        if key in groups or key in whole or not _ascending(column.times):
            group = groups.setdefault(key, [])
            if key in whole:  # in the order they came, so a tie in time goes as before
                group.extend(whole.pop(key).as_updates())
            group.extend(column.as_updates())
        else:
            whole[key] = column
    doc = dict(current)
    meta = dict(doc["$metadata"])
    doc["$metadata"] = meta
    components: dict[str, dict[str, Any]] = {}
    late = duplicates = 0
    changed = False
    now_time: datetime | None = None
    for (component, name), group in groups.items():
        holder, holder_meta = _holder(doc, meta, components, component)
        previous = _current_time(holder_meta, name)
        value = holder.get(name)
        winner: IngestedProperty | None = None
        if len(group) > 1:
            group.sort(key=_by_time)
        for update in group:
            if previous is not None:
                if update.time < previous:
                    late += 1
                    continue
                if update.time == previous and value == update.value:
                    duplicates += 1
                    continue
            winner = update
            value = update.value
            if update.source_time:
                previous = update.time
            else:  # the entry will say lastUpdateTime = now, which later values compare to
                if now_time is None:
                    now_time = datetime.fromisoformat(now)
                previous = now_time
        if winner is None:
            continue
        holder[name] = winner.value
        new_entry = {"lastUpdateTime": now}
        if winner.source_time:
            new_entry["sourceTime"] = _iso(winner.time)
        holder_meta[name] = new_entry
        if component is not None:
            holder_meta["$lastUpdateTime"] = now
        changed = True
    for (component, name), column in whole.items():
        holder, holder_meta = _holder(doc, meta, components, component)
        previous = _current_time(holder_meta, name)
        start, column_duplicates = _merge_column(column, previous, holder.get(name))
        late += start
        duplicates += column_duplicates
        if start + column_duplicates >= len(column.times):
            continue
        holder[name] = _at(column.values, -1)
        holder_meta[name] = {
            "lastUpdateTime": now,
            "sourceTime": _iso(_EPOCH + _US * _at(column.times, -1)),
        }
        if component is not None:
            holder_meta["$lastUpdateTime"] = now
        changed = True
    if not changed:
        return None, late, duplicates
    meta["$lastUpdateTime"] = now
    return doc, late, duplicates


def _holder(
    doc: dict[str, Any],
    meta: dict[str, Any],
    components: dict[str, dict[str, Any]],
    component: str | None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The (copied) document or component a property lives in, and its metadata."""
    if component is None:
        return doc, meta
    holder = components.get(component) or _copy_component(doc, components, component)
    return holder, holder["$metadata"]


def _current_time(holder_meta: Mapping[str, Any], name: str) -> datetime | None:
    entry = holder_meta.get(name)
    return _time_of(entry) if isinstance(entry, Mapping) else None


def _ascending(times: Sequence[int]) -> bool:
    if isinstance(times, NumberColumn):
        stamps = np.asarray(times)
        return bool((stamps[1:] > stamps[:-1]).all())
    return all(a < b for a, b in pairwise(times))


def _at(values: Sequence[Any], index: int) -> Any:
    """``values[index]``, without converting a whole :class:`NumberColumn`."""
    return values.at(index) if isinstance(values, NumberColumn) else values[index]


def _merge_column(column: IngestedColumn, previous: datetime | None, value: Any) -> tuple[int, int]:
    """(how many of the column's values are late, how many are duplicates) against the
    property's current time and value; the values after those become state, the last one
    winning — what :func:`merge_updates` decides value by value, for a column in strictly
    ascending time: those before the current time are late, and only the first at or after
    it can repeat the current time (and be a duplicate, with the same value)."""
    if previous is None:
        return 0, 0
    if previous.tzinfo is None:
        previous = previous.replace(tzinfo=UTC)
    times = column.times
    current_us = (previous - _EPOCH) // _US
    if isinstance(times, NumberColumn):
        late = int(np.searchsorted(np.asarray(times), current_us, side="left"))
    else:
        late = bisect_left(times, current_us)
    if late < len(times) and _at(times, late) == current_us and _at(column.values, late) == value:
        return late, 1
    return late, 0


def _by_time(update: IngestedProperty) -> datetime:
    return update.time


def _copy_component(
    doc: dict[str, Any], copies: dict[str, dict[str, Any]], name: str
) -> dict[str, Any]:
    component = dict(doc.get(name) or {})
    component["$metadata"] = dict(component.get("$metadata") or {})
    doc[name] = copies[name] = component
    return component


def missing(twin_id: str) -> NotFound:
    return NotFound(f"there is no twin {twin_id!r}", code="DigitalTwinNotFound")
