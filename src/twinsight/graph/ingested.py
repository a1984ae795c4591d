"""Applying values from live data to twin state, in batches, ordered by source time.

The ingest pipeline has already mapped and validated the values; what is decided here is
which of them become the twin's *current* state: the newest by source time wins, an older
value (late data) is kept in history only, and the same value at the same time again
(a duplicate) changes nothing. A batch is written in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

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


def _time_of(entry: Mapping[str, Any]) -> datetime | None:
    text = entry.get("sourceTime") or entry.get("lastUpdateTime")
    return datetime.fromisoformat(text) if isinstance(text, str) else None


def _iso(time: datetime) -> str:
    return time.isoformat().replace("+00:00", "Z")


def merge_updates(
    current: Mapping[str, Any], updates: Sequence[IngestedProperty], now: str
) -> tuple[dict[str, Any] | None, int, int]:
    """The twin after ``updates`` (or ``None`` if nothing changed), and the counts of late and
    duplicate values. Copies only what changes: documents are immutable values.

    Updates are taken per property in source-time order: one older than the property's
    current time is late, one at the same time with the same value is a duplicate, any
    other becomes the current value. Only the last of those is written into the document,
    so a batch of many values of one property costs one metadata entry, not one each."""
    groups: dict[tuple[str | None, str], list[IngestedProperty]] = {}
    for update in updates:
        key = (update.component, update.name)
        group = groups.get(key)
        if group is None:
            groups[key] = [update]
        else:
            group.append(update)
    doc = dict(current)
    meta = dict(doc["$metadata"])
    doc["$metadata"] = meta
    components: dict[str, dict[str, Any]] = {}
    late = duplicates = 0
    changed = False
    now_time: datetime | None = None
    for (component, name), group in groups.items():
        if component is None:
            holder, holder_meta = doc, meta
        else:
            holder = components.get(component) or _copy_component(doc, components, component)
            holder_meta = holder["$metadata"]
        entry = holder_meta.get(name)
        previous = _time_of(entry) if isinstance(entry, Mapping) else None
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
    if not changed:
        return None, late, duplicates
    meta["$lastUpdateTime"] = now
    return doc, late, duplicates


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
