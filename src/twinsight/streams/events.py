"""Bus events → the one JSON shape every live consumer sees (WebSocket, SSE, webhooks).

Why one shape: a dashboard, a rule engine behind a webhook and a script on a WebSocket all
want the same thing — *what changed, on which twin, when* — so the translation is done
once, here, and the result is serialized once per event (see :mod:`twinsight.streams.hub`).

Twin updates carry only the properties that changed (old and new documents are diffed;
component properties are named ``component.property``), because a consumer of a live
stream wants the delta, not a 50-property document for every sensor tick.

>>> from datetime import UTC, datetime
>>> from twinsight.core.events import TwinChanged
>>> t = datetime(2026, 1, 1, tzinfo=UTC)
>>> old = {"$dtId": "m", "$metadata": {"$model": "dtmi:x:M;1"}, "speed": 1, "mode": "a"}
>>> new = {"$dtId": "m", "$metadata": {"$model": "dtmi:x:M;1"}, "speed": 2, "mode": "a"}
>>> stream_event(TwinChanged("update", "m", "dtmi:x:M;1", t, old, new))["changes"]
{'speed': {'value': 2, 'sourceTime': None}}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson

from twinsight.core.events import (
    ActionChanged,
    AlarmChanged,
    RelationshipChanged,
    RuleFired,
    TelemetryReceived,
    TelemetrySeries,
    TwinChanged,
)
from twinsight.core.ports import ActionRecord, Alarm, AuditEntry
from twinsight.core.provenance import producer

EVENT_TYPES = (
    "twin.created",
    "twin.updated",
    "twin.deleted",
    "relationship.created",
    "relationship.updated",
    "relationship.deleted",
    "telemetry",
    "alarm.raised",
    "alarm.updated",
    "alarm.acknowledged",
    "alarm.cleared",
    "action.refused",
    "action.pending_approval",
    "action.recommended",
    "action.rejected",
    "action.sent",
    "action.accepted",
    "action.done",
    "action.failed",
    "action.timed_out",
    "rule.fired",
)
"""Every ``type`` a stream event can have (plus the ``overflow`` notice, which is not an
event but a message about the stream itself)."""

_KIND = {"create": "created", "update": "updated", "delete": "deleted"}


@dataclass(frozen=True, slots=True)
class EventMeta:
    """What filters look at, kept beside the serialized bytes so matching never re-reads
    JSON: the event's type, twin, model and the property/telemetry/relationship names."""

    type: str
    twin_id: str
    model: str
    names: frozenset[str]


def _iso(time: datetime | None) -> str | None:
    return time.isoformat().replace("+00:00", "Z") if time is not None else None


def _is_component(value: Any) -> bool:
    return isinstance(value, Mapping) and "$metadata" in value


def _source_time(doc: Mapping[str, Any], name: str) -> Any:
    meta = doc.get("$metadata")
    if isinstance(meta, Mapping):
        entry = meta.get(name)
        if isinstance(entry, Mapping):
            return entry.get("sourceTime")
    return None


def _diff_level(
    old: Mapping[str, Any], new: Mapping[str, Any], prefix: str, out: dict[str, Any]
) -> None:
    for name, value in new.items():
        if name.startswith("$"):
            continue
        before = old.get(name, _MISSING)
        if _is_component(value):
            _diff_level(before if _is_component(before) else {}, value, f"{prefix}{name}.", out)
            continue
        if before is _MISSING or before != value or type(before) is not type(value):
            out[prefix + name] = {"value": value, "sourceTime": _source_time(new, name)}
    for name, before in old.items():
        if name.startswith("$") or name in new:
            continue
        if _is_component(before):
            _diff_level(before, {}, f"{prefix}{name}.", out)
        else:
            out[prefix + name] = {"value": None, "removed": True}


_MISSING: Any = object()


def property_changes(
    old: Mapping[str, Any] | None, new: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The properties that differ between two twin documents, by path: new value and its
    source time, or ``{"value": None, "removed": True}`` for a property that went away."""
    out: dict[str, Any] = {}
    _diff_level(old or {}, new or {}, "", out)
    return out


def stream_event(event: object, model_of: Any = None) -> dict[str, Any] | None:
    """The stream event for a bus event, or ``None`` for events streams do not carry
    (e.g. :class:`~twinsight.core.events.IngestBatch`, a data-quality summary).

    ``model_of(twin_id)`` names the source twin's model for relationship events, which do
    not carry it (so model filters work on them too).
    """
    if isinstance(event, TelemetryReceived):
        out: dict[str, Any] = {
            "type": "telemetry",
            "twinId": event.twin_id,
            "model": event.model,
            "time": _iso(event.time),
            "sourceTime": _iso(event.source_time),
            "messageId": event.message_id,
            "telemetry": dict(event.payload),
        }
        if event.component is not None:
            out["component"] = event.component
        made_by = producer(event.properties)
        if made_by is not None:  # derived values name the model version behind them
            out["producedBy"] = {"model": made_by[0], "version": made_by[1]}
        return out
    if isinstance(event, TelemetrySeries):
        return series_event(event)
    if isinstance(event, TwinChanged):
        return {
            "type": f"twin.{_KIND[event.kind]}",
            "twinId": event.twin_id,
            "model": event.model,
            "time": _iso(event.time),
            "changes": property_changes(event.old, event.new),
        }
    if isinstance(event, RelationshipChanged):
        return {
            "type": f"relationship.{_KIND[event.kind]}",
            "twinId": event.source_id,
            "model": model_of(event.source_id) if model_of is not None else "",
            "time": _iso(event.time),
            "relationshipId": event.relationship_id,
            "name": event.name,
            "targetId": event.target_id,
            "relationship": dict(event.new) if event.new is not None else None,
        }
    if isinstance(event, AlarmChanged):
        return {
            "type": f"alarm.{event.transition}",
            "twinId": event.alarm.twin_id,
            "model": model_of(event.alarm.twin_id) if model_of is not None else "",
            "time": _iso(event.time),
            "alarm": alarm_json(event.alarm),
        }
    if isinstance(event, ActionChanged):
        return {
            "type": f"action.{event.record.state}",
            "twinId": event.record.twin_id,
            "model": model_of(event.record.twin_id) if model_of is not None else "",
            "time": _iso(event.time),
            "action": action_json(event.record),
        }
    if isinstance(event, RuleFired):
        f = event.firing
        return {
            "type": "rule.fired",
            "twinId": f.twin_id,
            "model": model_of(f.twin_id) if model_of is not None else "",
            "time": _iso(event.time),
            "firing": {
                "id": f.id, "rule": f.rule, "time": _iso(f.time), "kind": f.kind,
                "name": f.name, "value": f.value, "outcome": f.outcome, "detail": f.detail,
            },
        }  # fmt: skip
    return None


def action_json(record: ActionRecord) -> dict[str, Any]:
    """An action as the API and the streams show it (docs/control.md)."""
    return {
        "id": record.id,
        "kind": record.kind,
        "twinId": record.twin_id,
        "component": record.component,
        "name": record.name,
        "value": record.value,
        "requestedBy": record.requested_by,
        "reason": record.reason,
        "state": record.state,
        "mode": record.mode,
        "verdict": record.verdict,
        "guard": record.guard,
        "prediction": record.prediction,
        "decidedBy": record.decided_by,
        "attempts": record.attempts,
        "response": record.response,
        "error": record.error,
        "topic": record.topic,
        "correlationId": record.correlation_id,
        "created": _iso(record.created),
        "updated": _iso(record.updated),
    }


def audit_json(entry: AuditEntry) -> dict[str, Any]:
    """One audit-log line as ``GET /audit`` shows it."""
    return {
        "seq": entry.seq,
        "time": _iso(entry.time),
        "actionId": entry.action_id,
        "twinId": entry.twin_id,
        "event": entry.event,
        "actor": entry.actor,
        "detail": entry.detail,
    }


def alarm_json(alarm: Alarm) -> dict[str, Any]:
    """An alarm as the API and the streams show it (docs/alarms.md)."""
    return {
        "id": alarm.id,
        "twinId": alarm.twin_id,
        "condition": alarm.condition,
        "source": alarm.source,
        "severity": alarm.severity,
        "message": alarm.message,
        "value": alarm.value,
        "state": alarm.state,
        "active": alarm.active,
        "count": alarm.count,
        "raised": _iso(alarm.raised),
        "lastTime": _iso(alarm.last_time),
        "cleared": _iso(alarm.cleared),
        "acknowledged": _iso(alarm.acknowledged),
        "acknowledgedBy": alarm.acknowledged_by,
        "note": alarm.note,
    }


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIME_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NAIVE_UTC | orjson.OPT_UTC_Z


def series_event(event: TelemetrySeries) -> dict[str, Any]:
    """A ``telemetry`` stream event for a series of samples (a SenML pack's).

    It is a ``telemetry`` event as clients know it — ``sourceTime`` the newest sample
    time, ``telemetry`` each name's newest value — plus ``samples``: every sample, as
    columns ``{"sourceTime": [...], "telemetry": {name: [value or null, ...]}}``. A client
    that reads only ``telemetry`` sees the current values; one that wants every sample
    reads ``samples``. The times are serialised in one call from an array (the same ISO
    8601 form as everywhere else): per-sample formatting in Python cost more than all
    the rest of the event.
    """
    times = np.asarray(event.times, dtype=np.int64).view("datetime64[us]")
    columns = {name: list(column) for name, column in event.values.items()}
    newest: dict[str, Any] = {}
    for name, column in columns.items():
        for value in reversed(column):
            if value is not None:
                newest[name] = value
                break
    out: dict[str, Any] = {
        "type": "telemetry",
        "twinId": event.twin_id,
        "model": event.model,
        "time": _iso(event.time),
        "sourceTime": _iso(_EPOCH + timedelta(microseconds=int(event.times[-1]))),
        "messageId": event.message_id,
        "telemetry": newest,
        "samples": {
            "sourceTime": orjson.loads(orjson.dumps(times, option=_TIME_OPTIONS)),
            "telemetry": columns,
        },
    }
    if event.component is not None:
        out["component"] = event.component
    return out


def event_meta(body: Mapping[str, Any]) -> EventMeta:
    """The filterable facts of a stream event (see :class:`EventMeta`)."""
    kind = body["type"]
    if kind == "telemetry":
        prefix = f"{body['component']}." if "component" in body else ""
        names = frozenset(prefix + k for k in body["telemetry"])
    elif kind.startswith("twin."):
        names = frozenset(body["changes"])
    elif kind.startswith("alarm."):
        names = frozenset((body["alarm"]["condition"],))
    elif kind.startswith("action."):
        names = frozenset((body["action"]["name"],))
    elif kind.startswith("rule."):
        names = frozenset((body["firing"]["rule"], body["firing"]["name"]))
    else:
        names = frozenset((body["name"],))
    return EventMeta(kind, body["twinId"], body["model"], names)
