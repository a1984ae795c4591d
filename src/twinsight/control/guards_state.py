"""What guards and rules read of the live world: twin values, related twins, alarms, and
the DTDL names a file may refer to.

Why one reader: an interlock ("no speed-up while the tank it fills is over its high
limit") and a rule condition read the same things — a twin's property, its latest
telemetry, a twin reached through relationships, its active alarms — and a file naming a
property its model does not declare must be refused the same way for both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twinsight.analytics.alarms import AlarmService
from twinsight.core.errors import NotFound, TwinsightError
from twinsight.graph.service import TwinGraph
from twinsight.history import History
from twinsight.models.dtdl.types import Interface
from twinsight.models.repository import ModelRepository


class TwinState:
    """Reads of the current state of twins (properties from the graph, telemetry from the
    newest recorded value), relationships and alarms."""

    def __init__(
        self,
        graph: TwinGraph,
        models: ModelRepository,
        history: History | None = None,
        alarms: AlarmService | None = None,
    ) -> None:
        self.graph = graph
        self.models = models
        self._history = history
        self._alarms = alarms

    # ------------------------------------------------------------------ values
    def document(self, twin_id: str) -> Mapping[str, Any] | None:
        return self.graph.index.twin(twin_id)

    def model(self, twin_id: str) -> str | None:
        twin = self.document(twin_id)
        return twin["$metadata"]["$model"] if twin is not None else None

    def is_a(self, twin_id: str, model_id: str) -> bool:
        """Whether ``twin_id``'s model is ``model_id`` or extends it."""
        twin_model = self.model(twin_id)
        return twin_model is not None and (
            twin_model == model_id or twin_model in self.graph.index.descendants(model_id)
        )

    def value(self, twin_id: str, path: str) -> Any:
        """A property at ``path`` of the twin's document, else the newest telemetry value
        recorded under that name (``None`` when neither is known)."""
        current: Any = self.document(twin_id)
        if current is None:
            return None
        for part in path.split("."):
            if not isinstance(current, Mapping) or part not in current:
                current = None
                break
            current = current[part]
        if current is not None or self._history is None:
            return current
        try:
            points = self._history.latest([f"{twin_id}/{path}"])
        except TwinsightError:  # no such series recorded yet
            return None
        return points[0].value if points else None

    def has_alarm(self, twin_id: str, condition: str | None) -> bool:
        if self._alarms is None:
            return False
        if condition is not None:
            return self._alarms.active(twin_id, condition) is not None
        return bool(self._alarms.list(twin_id=twin_id, active_only=True))

    # ---------------------------------------------------------- relationships
    def related(self, twin_id: str, via: str) -> list[str]:
        """Twins reached from ``twin_id`` along ``via``: relationship names separated by
        dots, each followed outwards, or inwards when written ``^name``
        (``feeds.feeds``: what the twins it feeds feed; ``^drivenBy``: what it drives)."""
        frontier = [twin_id]
        for step in via.split("."):
            incoming = step.startswith("^")
            name = step.removeprefix("^")
            reached: list[str] = []
            for twin in frontier:
                if incoming:
                    rels = self.graph.index.incoming(twin, name)
                    reached += [r["$sourceId"] for r in rels]
                else:
                    reached += [r["$targetId"] for r in self.graph.index.outgoing(twin, name)]
            frontier = list(dict.fromkeys(reached))
        return frontier

    # ---------------------------------------------------------------- names
    def interface(self, *, model: str | None = None, twin: str | None = None) -> Interface:
        """The DTDL interface of ``model`` or of ``twin``'s model; :class:`NotFound` names
        what is unknown."""
        if twin is not None:
            model = self.model(twin)
            if model is None:
                raise NotFound(f"no twin {twin!r}", code="DigitalTwinNotFound")
        models = self.models.model_set
        if model is None or model not in models:
            raise NotFound(f"no model {model!r} in the model repository", code="ModelNotFound")
        return models.interface(model)

    def declared(self, interface: Interface, path: str, kinds: tuple[str, ...]) -> Any:
        """The property/telemetry/command ``path`` (``name`` or ``component.name``) of
        ``interface`` among ``kinds``, or ``None``."""
        component, _, name = path.rpartition(".")
        holder = interface
        if component:
            definition = interface.components.get(component)
            if definition is not None:
                holder = self.models.model_set.interface(definition.schema)
            else:
                # a field of an object property (alarmLimits.high): its first part is declared
                name = path.split(".", maxsplit=1)[0]
        for kind in kinds:
            table: Mapping[str, Any] = getattr(holder, kind)
            if name in table:
                return table[name]
        return None

    def check_names(self, interface: Interface, names: frozenset[str], where: str) -> list[str]:
        """Problems with ``names`` a condition reads on twins of ``interface``."""
        return [
            f"{where}: {interface.id} declares no property or telemetry {name!r}"
            for name in sorted(names)
            if self.declared(interface, name, ("properties", "telemetries")) is None
        ]
