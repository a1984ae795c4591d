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
from typing import Any

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


@dataclass(frozen=True, slots=True)
class IngestedProperty:
    """A validated property value for a twin, with the time it was measured."""

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
    duplicate values. Copies only what changes: documents are immutable values."""
    doc = dict(current)
    meta = dict(doc["$metadata"])
    doc["$metadata"] = meta
    components: dict[str, dict[str, Any]] = {}
    late = duplicates = 0
    changed = False
    for update in sorted(updates, key=lambda u: u.time):
        if update.component is None:
            holder, holder_meta = doc, meta
        else:
            holder = components.get(update.component) or _copy_component(
                doc, components, update.component
            )
            holder_meta = holder["$metadata"]
        entry = holder_meta.get(update.name)
        previous = _time_of(entry) if isinstance(entry, Mapping) else None
        if previous is not None:
            if update.time < previous:
                late += 1
                continue
            if update.time == previous and holder.get(update.name) == update.value:
                duplicates += 1
                continue
        holder[update.name] = update.value
        new_entry = {"lastUpdateTime": now}
        if update.source_time:
            new_entry["sourceTime"] = _iso(update.time)
        holder_meta[update.name] = new_entry
        if update.component is not None:
            holder_meta["$lastUpdateTime"] = now
        changed = True
    if not changed:
        return None, late, duplicates
    meta["$lastUpdateTime"] = now
    return doc, late, duplicates


def _copy_component(
    doc: dict[str, Any], copies: dict[str, dict[str, Any]], name: str
) -> dict[str, Any]:
    component = dict(doc.get(name) or {})
    component["$metadata"] = dict(component.get("$metadata") or {})
    doc[name] = copies[name] = component
    return component


def missing(twin_id: str) -> NotFound:
    return NotFound(f"there is no twin {twin_id!r}", code="DigitalTwinNotFound")
