"""Which model version produced each derived value of a twin, as a read model of the bus.

Derived telemetry names its producer in the message properties
(:func:`twinsight.core.provenance.produced_by`); this keeps, per twin and telemetry name,
the last producer and when it spoke, so ``GET /twins/{id}/derived`` can answer "which
model version made this number" without every producer reporting to the registry. Sensor
telemetry (no producer in its properties) is ignored. Held in memory: after a restart it
fills again with the next predictions.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from twinsight.core.events import EventBus, TelemetryReceived, TwinChanged
from twinsight.core.provenance import producer


@dataclass(frozen=True, slots=True)
class DerivedValue:
    """The latest derived value of one name on one twin, and the model version behind it."""

    twin_id: str
    name: str
    value: Any
    model: str
    version: int
    time: datetime
    source_time: datetime | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": self.value,
            "model": self.model,
            "version": self.version,
            "time": _iso(self.time),
            "sourceTime": _iso(self.source_time) if self.source_time else None,
        }


def _iso(time: datetime) -> str:
    return time.isoformat().replace("+00:00", "Z")


class DerivedValues:
    """Listens to :class:`TelemetryReceived` events and keeps the latest producer of each
    derived value per twin (see the module docstring)."""

    def __init__(self, bus: EventBus) -> None:
        self._lock = threading.Lock()
        self._values: dict[str, dict[str, DerivedValue]] = {}
        # Series events come from device packs, which carry no properties: not needed.
        self._unsubscribers = [
            bus.subscribe(self._on_telemetry, TelemetryReceived, whole_series=True),
            bus.subscribe(self._on_twin, TwinChanged),
        ]

    def _on_twin(self, event: TwinChanged) -> None:
        if event.kind == "delete":
            self.forget(event.twin_id)

    def _on_telemetry(self, event: TelemetryReceived) -> None:
        made_by = producer(event.properties)
        if made_by is None:
            return
        model, version = made_by
        prefix = f"{event.component}." if event.component else ""
        fresh = {
            prefix + name: DerivedValue(
                event.twin_id,
                prefix + name,
                value,
                model,
                version,
                event.time,
                event.source_time,
            )
            for name, value in event.payload.items()
        }
        with self._lock:
            self._values.setdefault(event.twin_id, {}).update(fresh)

    def of(self, twin_id: str) -> list[DerivedValue]:
        """The twin's derived values, by name."""
        with self._lock:
            found = dict(self._values.get(twin_id, {}))
        return [found[name] for name in sorted(found)]

    def forget(self, twin_id: str) -> None:
        with self._lock:
            self._values.pop(twin_id, None)

    def close(self) -> None:
        for unsubscribe in self._unsubscribers:
            unsubscribe()
