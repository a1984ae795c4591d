"""Checking twin and relationship documents against their DTDL model.

Every write to the graph passes through here, so messages name the JSON pointer of the
offending value and the model that defines (or does not define) it. All problems are
collected; the caller refuses the write if there is any.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twinsight.models.dtdl import Interface, ModelSet, validate_value
from twinsight.models.dtdl import Relationship as RelationshipDef

RESERVED_TWIN_KEYS = frozenset({"$dtId", "$etag", "$metadata", "$lastUpdateTime"})
RESERVED_RELATIONSHIP_KEYS = frozenset(
    {"$relationshipId", "$sourceId", "$targetId", "$relationshipName", "$etag"}
)


def _kind_of(interface: Interface, name: str) -> str | None:
    if name in interface.telemetries:
        return "a telemetry"
    if name in interface.relationships:
        return "a relationship"
    if name in interface.commands:
        return "a command"
    return None


def check_content(
    interface: Interface,
    models: ModelSet,
    content: Mapping[str, Any],
    pointer: str = "",
    *,
    require_components: bool,
) -> list[str]:
    """Problems with the properties and components in ``content`` (a twin or a component).

    ``require_components``: Azure Digital Twins requires every component to be present
    (possibly empty) when a twin is created or replaced.
    """
    problems: list[str] = []
    for key, value in content.items():
        if key in RESERVED_TWIN_KEYS:
            continue
        where = f"{pointer}/{_escape(key)}"
        prop = interface.properties.get(key)
        if prop is not None:
            problems.extend(validate_value(prop.schema, value, where))
            continue
        component = interface.components.get(key)
        if component is not None:
            if not isinstance(value, Mapping):
                problems.append(f"{where}: component {key!r} must be a JSON object")
                continue
            problems.extend(
                check_content(
                    models.interface(component.schema),
                    models,
                    value,
                    where,
                    require_components=require_components,
                )
            )
            continue
        kind = _kind_of(interface, key)
        if kind is not None:
            problems.append(f"{where}: {key!r} is {kind} of {interface.id}, not a property")
        else:
            problems.append(f"{where}: {interface.id} defines no property or component {key!r}")
    if require_components:
        for name in interface.components:
            if name not in content:
                problems.append(
                    f"{pointer}/{_escape(name)}: component {name!r} of {interface.id} is "
                    'missing; include it, e.g. {"$metadata": {}}'
                )
    return problems


def check_relationship(
    definition: RelationshipDef, models: ModelSet, body: Mapping[str, Any]
) -> list[str]:
    """Problems with a relationship's own properties."""
    problems: list[str] = []
    for key, value in body.items():
        if key in RESERVED_RELATIONSHIP_KEYS:
            continue
        prop = definition.properties.get(key)
        if prop is None:
            problems.append(
                f"/{_escape(key)}: relationship {definition.name!r} defines no property {key!r}"
            )
        else:
            problems.extend(validate_value(prop.schema, value, f"/{_escape(key)}"))
    return problems


def is_of_model(models: ModelSet, model_id: str, wanted: str) -> bool:
    """Whether ``model_id`` is ``wanted`` or extends it."""
    if model_id == wanted:
        return True
    interface = models.interfaces.get(model_id)
    return interface is not None and wanted in interface.bases


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")
