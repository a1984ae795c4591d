"""The factory's twin graph: one site and its production lines, each a chain of four
machines (conveyor → motor → pump → tank).

Built only through the public twin graph service, exactly as a user's script would, and
idempotent: twins that already exist are left as they are, so restarting the demo keeps
whatever state the twins reached, and a larger world only adds lines (``line-N`` ids never
change meaning). The demo builds :data:`DEMO_LINES` lines (a dozen machines); tests and
examples the two of :data:`LINES`; the simulation benchmark 25 (100 machines).

The motors start at different points of their lives (:data:`INITIAL_WEAR`), so their
vibration differs from line to line from the first reading on, as in a real plant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twinsight.core.errors import NotFound
from twinsight.graph.service import TwinGraph

NS = "dtmi:twinsight:factory"


@dataclass(frozen=True, slots=True)
class MachineSpec:
    """One machine on a line: its id suffix, model and initial property values."""

    suffix: str
    model: str
    values: dict[str, Any]


LINE_LAYOUT = (
    MachineSpec("conveyor", "Conveyor", {"beltSpeed": 0.8, "state": "running"}),
    MachineSpec(
        "motor", "Motor", {"ratedPower": 15.0, "speedSetpoint": 1480.0, "state": "running"}
    ),
    MachineSpec("pump", "Pump", {"maxPressure": 600.0, "state": "running"}),
    MachineSpec("tank", "Tank", {"capacity": 12.0, "alarmLimits": {"low": 0.5, "high": 3.5}}),
)
LINES = ("line-1", "line-2")
DEMO_LINES = 3
"""Lines of the demo world: 3 × 4 = 12 machines."""
INITIAL_WEAR = (0.05, 0.2, 0.4)
"""Bearing wear of the motors of lines 1, 2, 3, 4, … (repeating): a new motor, one a
fifth through its life, one at 40 % (vibration 0.8, 1.1 and 1.8 mm/s)."""
TARGET_RATE = 700.0
"""Planned parts per hour of a line: its conveyor at 0.8 m/s brings 720."""


def _components(model: str, line_number: int) -> dict[str, Any]:
    if model != "Motor":
        return {}
    wear = INITIAL_WEAR[(line_number - 1) % len(INITIAL_WEAR)]
    return {"bearing": {"$metadata": {}, "wear": wear}}


def _ensure_twin(graph: TwinGraph, twin_id: str, model: str, values: dict[str, Any]) -> bool:
    try:
        graph.get_twin(twin_id)
        return False
    except NotFound:
        graph.upsert_twin(twin_id, {"$metadata": {"$model": f"{NS}:{model};1"}, **values})
        return True


def _ensure_relationship(graph: TwinGraph, source: str, rel_id: str, body: dict[str, Any]) -> None:
    try:
        graph.get_relationship(source, rel_id)
    except NotFound:
        graph.upsert_relationship(source, rel_id, body)


def line_ids(lines: int = len(LINES)) -> tuple[str, ...]:
    """The ids of a factory with ``lines`` production lines: ``line-1`` … ``line-N``."""
    if lines < 1:
        raise ValueError(f"a factory needs at least one line, not {lines}")
    return tuple(f"line-{n}" for n in range(1, lines + 1))


def build(graph: TwinGraph, lines: int = len(LINES)) -> int:
    """Create the factory's twins and relationships that are missing; return how many twins
    were created. ``lines`` scales the plant (each line has the machines of
    :data:`LINE_LAYOUT`)."""
    created = int(_ensure_twin(graph, "site", "Site", {"name": "Demo plant"}))
    for number, line in enumerate(line_ids(lines), start=1):
        created += _ensure_twin(
            graph,
            line,
            "ProductionLine",
            {"name": line.replace("-", " ").title(), "state": "running", "targetRate": TARGET_RATE},
        )
        _ensure_relationship(
            graph, "site", f"contains-{line}", {"$targetId": line, "$relationshipName": "contains"}
        )
        previous: str | None = None
        for position, spec in enumerate(LINE_LAYOUT, start=1):
            twin_id = f"{line}-{spec.suffix}"
            values = {"serialNumber": twin_id.upper(), **spec.values}
            created += _ensure_twin(
                graph, twin_id, spec.model, {**values, **_components(spec.model, number)}
            )
            _ensure_relationship(
                graph,
                line,
                f"has-{spec.suffix}",
                {"$targetId": twin_id, "$relationshipName": "hasMachine", "position": position},
            )
            if previous is not None:
                _ensure_relationship(
                    graph,
                    previous,
                    f"feeds-{twin_id}",
                    {"$targetId": twin_id, "$relationshipName": "feeds"},
                )
            previous = twin_id
        _ensure_relationship(
            graph,
            f"{line}-pump",
            "driven-by",
            {"$targetId": f"{line}-motor", "$relationshipName": "drivenBy"},
        )
    return created
