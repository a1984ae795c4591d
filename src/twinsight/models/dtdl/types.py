"""The parsed DTDL model: immutable, typed elements that the rest of Twinsight reads.

These are the *results* of parsing; the parser's own working representation lives in
``walker.py``. Everything is a frozen, slotted dataclass so a parsed model can be shared
between threads and cached without copying.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeAlias

_EMPTY: Mapping[str, Any] = MappingProxyType({})

LocalizedText: TypeAlias = Mapping[str, str]
"""Language code to text; a plain string in the document becomes ``{"en": text}``."""


@dataclass(frozen=True, slots=True)
class PrimitiveSchema:
    """A built-in schema such as ``"double"``, ``"dateTime"`` or ``"point"``."""

    name: str


@dataclass(frozen=True, slots=True)
class EnumValue:
    """One named value of an :class:`EnumSchema`."""

    name: str
    value: int | str
    display_name: LocalizedText = field(default_factory=lambda: _EMPTY)
    id: str | None = None


@dataclass(frozen=True, slots=True)
class EnumSchema:
    """An enumeration; ``value_schema`` is ``"integer"`` or ``"string"``."""

    id: str | None
    value_schema: str
    values: tuple[EnumValue, ...]
    display_name: LocalizedText = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class Field:
    """One named field of an :class:`ObjectSchema`."""

    name: str
    schema: Schema
    id: str | None = None
    display_name: LocalizedText = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class ObjectSchema:
    """A JSON object with a fixed set of optional, named fields."""

    id: str | None
    fields: tuple[Field, ...]
    display_name: LocalizedText = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class MapKey:
    """The key of a :class:`MapSchema`: ``"string"`` or a string-valued enum."""

    name: str
    schema: Schema


@dataclass(frozen=True, slots=True)
class MapValue:
    """The value of a :class:`MapSchema`."""

    name: str
    schema: Schema


@dataclass(frozen=True, slots=True)
class MapSchema:
    """A JSON object whose keys are free (within the key rules) and values share a schema."""

    id: str | None
    map_key: MapKey
    map_value: MapValue
    display_name: LocalizedText = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class ArraySchema:
    """A JSON array whose elements share a schema."""

    id: str | None
    element_schema: Schema
    display_name: LocalizedText = field(default_factory=lambda: _EMPTY)


Schema: TypeAlias = PrimitiveSchema | EnumSchema | ObjectSchema | MapSchema | ArraySchema


@dataclass(frozen=True, slots=True)
class Property:
    """A piece of twin state; ``writable`` says whether clients may set it."""

    id: str | None
    name: str
    schema: Schema
    writable: bool = False
    display_name: LocalizedText = field(default_factory=lambda: _EMPTY)
    description: LocalizedText = field(default_factory=lambda: _EMPTY)
    comment: str | None = None
    semantic_types: tuple[str, ...] = ()
    unit: str | None = None
    defined_in: str = ""
    """DTMI of the interface that declares this content (differs from the owner when inherited)."""


@dataclass(frozen=True, slots=True)
class Telemetry:
    """A data point a twin emits; not stored as state."""

    id: str | None
    name: str
    schema: Schema
    display_name: LocalizedText = field(default_factory=lambda: _EMPTY)
    description: LocalizedText = field(default_factory=lambda: _EMPTY)
    comment: str | None = None
    semantic_types: tuple[str, ...] = ()
    unit: str | None = None
    defined_in: str = ""


@dataclass(frozen=True, slots=True)
class CommandPayload:
    """The request or response of a :class:`Command`."""

    name: str
    schema: Schema
    nullable: bool = False
    id: str | None = None
    display_name: LocalizedText = field(default_factory=lambda: _EMPTY)
    description: LocalizedText = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class Command:
    """An operation that can be invoked on a twin."""

    id: str | None
    name: str
    request: CommandPayload | None = None
    response: CommandPayload | None = None
    display_name: LocalizedText = field(default_factory=lambda: _EMPTY)
    description: LocalizedText = field(default_factory=lambda: _EMPTY)
    comment: str | None = None
    semantic_types: tuple[str, ...] = ()
    defined_in: str = ""


@dataclass(frozen=True, slots=True)
class Relationship:
    """A link from a twin to other twins; ``target`` is ``None`` when any interface is allowed."""

    id: str | None
    name: str
    target: str | None = None
    min_multiplicity: int | None = None
    max_multiplicity: int | None = None
    properties: Mapping[str, Property] = field(default_factory=lambda: _EMPTY)
    writable: bool = False
    display_name: LocalizedText = field(default_factory=lambda: _EMPTY)
    description: LocalizedText = field(default_factory=lambda: _EMPTY)
    comment: str | None = None
    semantic_types: tuple[str, ...] = ()
    defined_in: str = ""


@dataclass(frozen=True, slots=True)
class Component:
    """An embedded instance of another interface; ``schema`` is that interface's DTMI."""

    id: str | None
    name: str
    schema: str
    display_name: LocalizedText = field(default_factory=lambda: _EMPTY)
    description: LocalizedText = field(default_factory=lambda: _EMPTY)
    comment: str | None = None
    semantic_types: tuple[str, ...] = ()
    defined_in: str = ""


Content: TypeAlias = Property | Telemetry | Command | Relationship | Component


@dataclass(frozen=True, slots=True)
class Interface:
    """A DTDL Interface with its contents, including those inherited through ``extends``."""

    id: str
    display_name: LocalizedText = field(default_factory=lambda: _EMPTY)
    description: LocalizedText = field(default_factory=lambda: _EMPTY)
    comment: str | None = None
    extends: tuple[str, ...] = ()
    """Direct base interfaces, in document order."""
    bases: frozenset[str] = frozenset()
    """Every ancestor (transitively), not including this interface."""
    contents: Mapping[str, Content] = field(default_factory=lambda: _EMPTY)
    """Own and inherited contents, by name."""
    schemas: tuple[Schema, ...] = ()
    """Interface-level reusable schemas declared by this interface."""
    language_version: int = 3
    properties: Mapping[str, Property] = field(default_factory=lambda: _EMPTY, compare=False)
    telemetries: Mapping[str, Telemetry] = field(default_factory=lambda: _EMPTY, compare=False)
    commands: Mapping[str, Command] = field(default_factory=lambda: _EMPTY, compare=False)
    relationships: Mapping[str, Relationship] = field(default_factory=lambda: _EMPTY, compare=False)
    components: Mapping[str, Component] = field(default_factory=lambda: _EMPTY, compare=False)

    def __post_init__(self) -> None:
        groups: dict[type, dict[str, Any]] = {
            Property: {},
            Telemetry: {},
            Command: {},
            Relationship: {},
            Component: {},
        }
        for name, content in self.contents.items():
            groups[type(content)][name] = content
        object.__setattr__(self, "properties", MappingProxyType(groups[Property]))
        object.__setattr__(self, "telemetries", MappingProxyType(groups[Telemetry]))
        object.__setattr__(self, "commands", MappingProxyType(groups[Command]))
        object.__setattr__(self, "relationships", MappingProxyType(groups[Relationship]))
        object.__setattr__(self, "components", MappingProxyType(groups[Component]))


Element: TypeAlias = Interface | Content | Schema | CommandPayload | Field | EnumValue
"""Anything that can carry an ``@id``."""
