"""Checking an action against its twin's DTDL model before anything else happens.

Why here and not at the device: a command the model does not declare, a request payload
outside the command's schema or a write to a read-only property is the asker's mistake;
it is answered at once (a 4xx naming the argument) and recorded, and never reaches a
device or a guard.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twinsight.control.actions import Action
from twinsight.core.errors import BadRequest, NotFound, ValidationFailed
from twinsight.models.dtdl import Interface, ModelSet, validate_value


def _interface_of(
    twin: Mapping[str, Any], models: ModelSet, component: str | None
) -> tuple[Interface, str]:
    model_id = twin.get("$metadata", {}).get("$model", "")
    if model_id not in models:
        raise ValidationFailed(f"the twin's model {model_id!r} is not in the model repository")
    interface = models.interface(model_id)
    if component is None:
        return interface, model_id
    found = interface.components.get(component)
    if found is None:
        raise NotFound(
            f"component {component!r}: {model_id} declares no such component "
            f"(it has: {', '.join(sorted(interface.components)) or 'none'})",
            code="ComponentNotFound",
        )
    return models.interface(found.schema), found.schema


def check_action(action: Action, twin: Mapping[str, Any] | None, models: ModelSet) -> None:
    """Raise a 4xx error naming the argument when ``action`` does not fit the model."""
    if twin is None:
        raise NotFound(f"there is no twin {action.twin_id!r}", code="DigitalTwinNotFound")
    if action.kind == "command":
        _check_command(action, twin, models)
    elif action.kind == "property":
        _check_property(action, twin, models)
    else:
        raise BadRequest(
            f"kind: {action.kind!r} is neither 'command' nor 'property'", code="InvalidArgument"
        )


def _check_command(action: Action, twin: Mapping[str, Any], models: ModelSet) -> None:
    interface, model_id = _interface_of(twin, models, action.component)
    command = interface.commands.get(action.name)
    if command is None:
        raise NotFound(
            f"command {action.name!r}: {model_id} declares no such command "
            f"(it has: {', '.join(sorted(interface.commands)) or 'none'})",
            code="CommandNotFound",
        )
    request = command.request
    if request is None:
        if action.value is not None:
            raise ValidationFailed(
                f"request: command {action.name!r} takes no request payload, got one"
            )
        return
    if action.value is None:
        if request.nullable:
            return
        raise ValidationFailed(
            f"request: command {action.name!r} needs its request {request.name!r}"
        )
    problems = validate_value(request.schema, action.value, f"/{request.name}")
    if problems:
        raise ValidationFailed(
            f"request of command {action.name!r}: " + "; ".join(problems),
            details=[{"code": "ValidationFailed", "message": p} for p in problems],
        )


def _check_property(action: Action, twin: Mapping[str, Any], models: ModelSet) -> None:
    component = action.component
    name = action.name
    if component is None and "." in name:
        component, name = name.split(".", 1)
    interface, model_id = _interface_of(twin, models, component)
    prop = interface.properties.get(name)
    if prop is None:
        raise NotFound(
            f"property {action.name!r}: {model_id} declares no such property",
            code="PropertyNotFound",
        )
    if not prop.writable:
        raise ValidationFailed(
            f"property {action.name!r} of {model_id} is not writable: a device reports it, "
            "nobody sets it"
        )
    problems = validate_value(prop.schema, action.value, f"/{action.name}")
    if problems:
        raise ValidationFailed(
            f"value of property {action.name!r}: " + "; ".join(problems),
            details=[{"code": "ValidationFailed", "message": p} for p in problems],
        )
