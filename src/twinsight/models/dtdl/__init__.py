"""DTDL v2/v3 parsing and validation.

:func:`parse` turns decoded JSON documents into an immutable :class:`ModelSet` of typed
interfaces, or raises :class:`~twinsight.models.diagnostics.DtdlParseError` listing every
problem found. :func:`validate_value` checks a JSON value against a parsed schema.
"""

from twinsight.models.dtdl.modelset import ModelSet
from twinsight.models.dtdl.parser import parse
from twinsight.models.dtdl.types import (
    ArraySchema,
    Command,
    CommandPayload,
    Component,
    Content,
    Element,
    EnumSchema,
    EnumValue,
    Field,
    Interface,
    MapKey,
    MapSchema,
    MapValue,
    ObjectSchema,
    PrimitiveSchema,
    Property,
    Relationship,
    Schema,
    Telemetry,
)
from twinsight.models.dtdl.values import validate_value

__all__ = [
    "ArraySchema",
    "Command",
    "CommandPayload",
    "Component",
    "Content",
    "Element",
    "EnumSchema",
    "EnumValue",
    "Field",
    "Interface",
    "MapKey",
    "MapSchema",
    "MapValue",
    "ModelSet",
    "ObjectSchema",
    "PrimitiveSchema",
    "Property",
    "Relationship",
    "Schema",
    "Telemetry",
    "parse",
    "validate_value",
]
