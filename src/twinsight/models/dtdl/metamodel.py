"""The DTDL v2 and v3 metamodels as declarative tables.

One table per language version says which classes exist, which properties each class has,
and each property's range, cardinality and limits. The generic walker (``walker.py``) reads
these tables; no class of the language has code of its own ("describe, don't subclass").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, cast

from twinsight.models.dtdl import units

NAME_PATTERN = r"[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?"


@dataclass(frozen=True, slots=True)
class Prop:
    """One property of a metamodel class.

    ``kind`` is ``"object"`` (value is an element or a reference to one), or a literal kind:
    ``"string"``, ``"langstring"``, ``"boolean"``, ``"integer"``, ``"literal"`` (string or
    integer), ``"iri"`` (a DTMI reference that need not be an element here, e.g. ``target``).
    """

    kind: str
    range: tuple[str, ...] = ()
    required: bool = False
    plural: bool = False
    max_count: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    values: tuple[str, ...] | None = None
    """For ``object`` properties whose value must be one of these built-in terms."""
    infer: str | None = None
    """Class assumed when an inline value has no ``@type``."""
    needs_id: bool = False
    """Inline values must carry an ``@id`` (JSON-LD node kind IRI)."""
    unique: tuple[str, ...] = ()
    """Properties whose values must be unique among this property's values."""
    minimum: int | None = None
    maximum: int | None = None
    forbidden: bool = False
    """The property exists but must not be used in a model (``languageMajorVersion``)."""
    other_versions: tuple[int, ...] = ()
    """Other DTDL versions whose elements may be values (a nested ``@context`` switching to
    ``dtmi:dtdl:context;2`` inside a v3 ``schema``, say)."""


@dataclass(frozen=True, slots=True)
class ClassDef:
    """One metamodel class; ``bases`` are superclasses, whose properties it inherits."""

    bases: tuple[str, ...] = ()
    props: dict[str, Prop] = field(default_factory=dict)
    abstract: bool = False


@dataclass(frozen=True, slots=True)
class Language:
    """Everything the walker needs to know about one DTDL version."""

    version: int
    classes: dict[str, ClassDef]
    primitives: tuple[str, ...]
    command_types: tuple[str, ...]
    name_max: int
    display_name_max: int
    description_max: int
    comment_max: int
    allow_undefined_by_default: bool
    restrict_keywords: bool
    extends_max: int | None
    """Most direct ``extends`` values (v2); v3 limits the whole hierarchy instead."""
    extends_total_max: int | None
    extends_depth_max: int
    schema_depth_max: int
    interface_max_bytes: int | None
    """Most bytes of text of one top-level Interface (v3: 1 MiB)."""
    contents_total_max: int | None
    """Most elements under ``contents`` of one interface, all levels (v3)."""
    property_excludes_array: bool
    semantic_types: dict[str, str]
    units: dict[str, tuple[str, ...]]
    undefined_cotypes: frozenset[str]
    """Kinds of undefined co-type (see ``walker._undefined_kind``) accepted even without an
    undefined extension context in scope (v2: terms and non-DTMI IRIs, not DTMIs)."""
    dtdl_adjunct_props: frozenset[str]
    """Properties added by a co-type that are still DTDL properties, so that they can also be
    written as ``dtmi:dtdl:property:<name>;<version>`` (v2 ``unit``)."""
    contexts_before_dtdl: tuple[str, ...]
    """Contexts allowed to precede the DTDL context in an ``@context`` list."""
    unit_required_for: tuple[str, ...]
    """Classes on which a semantic type makes ``unit`` required (v2 Property and Telemetry)."""
    value_object_keys: dict[str, frozenset[str]] | None
    """Keys a JSON-LD value object may have, by literal kind (``"langstring"`` or
    ``"literal"``); ``None``: any keyword except those in ``VALUE_OBJECT_FORBIDDEN`` (v2)."""

    _memo: dict[tuple[str, str], Any] = field(default_factory=dict, compare=False, repr=False)
    """Answers of ``all_props`` and ``lineage``: the tables never change once built."""

    def all_props(self, cls: str) -> Mapping[str, Prop]:
        """Properties of ``cls`` including those inherited from its bases (read-only)."""
        key = ("props", cls)
        found = self._memo.get(key)
        if found is None:
            out: dict[str, Prop] = {}
            for base in self.lineage(cls):
                for name, prop in self.classes[base].props.items():
                    out.setdefault(name, prop)
            found = self._memo[key] = MappingProxyType(out)
        return cast("Mapping[str, Prop]", found)

    def lineage(self, cls: str) -> tuple[str, ...]:
        """``cls`` and all its superclasses, nearest first."""
        key = ("lineage", cls)
        found = self._memo.get(key)
        if found is None:
            seen: list[str] = []
            todo = [cls]
            while todo:
                current = todo.pop(0)
                if current in seen or current not in self.classes:
                    continue
                seen.append(current)
                todo.extend(self.classes[current].bases)
            found = self._memo[key] = tuple(seen)
        return cast("tuple[str, ...]", found)

    def is_a(self, cls: str, ancestor: str) -> bool:
        """Whether ``cls`` is ``ancestor`` or a subclass of it."""
        return ancestor in self.lineage(cls)


GEOSPATIAL = ("point", "multiPoint", "lineString", "multiLineString", "polygon", "multiPolygon")
PRIMITIVES = (
    "boolean",
    "date",
    "dateTime",
    "double",
    "duration",
    "float",
    "integer",
    "long",
    "string",
    "time",
)
PRIMITIVE_CLASS = {
    "boolean": "Boolean",
    "date": "Date",
    "dateTime": "DateTime",
    "double": "Double",
    "duration": "Duration",
    "float": "Float",
    "integer": "Integer",
    "long": "Long",
    "string": "String",
    "time": "Time",
}
NUMERIC = ("double", "float", "integer", "long")


def _classes(version: int) -> dict[str, ClassDef]:
    v2 = version == 2
    text = Prop("langstring")
    schema_range = ("Schema",)
    older: tuple[int, ...] = () if v2 else (2,)
    """Versions (besides this one) whose elements these properties also accept (v3 -> v2)."""
    classes: dict[str, ClassDef] = {
        "Entity": ClassDef(
            props={
                "displayName": text,
                "description": text,
                "comment": Prop("string", max_length=512),
                "languageMajorVersion": Prop("integer", forbidden=True),
            },
            abstract=True,
        ),
        "Interface": ClassDef(
            ("Entity",),
            {
                "contents": Prop(
                    "object",
                    ("Content",),
                    plural=True,
                    max_count=300 if v2 else None,
                    unique=("name",),
                    other_versions=older,
                ),
                "extends": Prop(
                    "object",
                    ("Interface",),
                    plural=True,
                    max_count=2 if v2 else None,
                    other_versions=older,
                ),
                "schemas": Prop("object", ("ComplexSchema",), plural=True, needs_id=True),
            },
        ),
        "NamedEntity": ClassDef(
            ("Entity",),
            {"name": Prop("string", required=True, pattern=NAME_PATTERN)},
            abstract=True,
        ),
        "SchemaField": ClassDef(
            ("NamedEntity",),
            {"schema": Prop("object", schema_range, required=True, other_versions=older)},
            True,
        ),
        "Schema": ClassDef(("Entity",), abstract=True),
        "PrimitiveSchema": ClassDef(("Schema",), abstract=True),
        "ComplexSchema": ClassDef(("Schema",), abstract=True),
        "Array": ClassDef(
            ("ComplexSchema",),
            {"elementSchema": Prop("object", schema_range, required=True, other_versions=older)},
        ),
        "Enum": ClassDef(
            ("ComplexSchema",),
            {
                "valueSchema": Prop(
                    "object",
                    ("PrimitiveSchema",),
                    required=True,
                    values=("integer", "string"),
                    other_versions=older,
                ),
                "enumValues": Prop(
                    "object",
                    ("EnumValue",),
                    required=v2,
                    plural=True,
                    max_count=100 if v2 else None,
                    infer="EnumValue",
                    unique=("name", "enumValue"),
                ),
            },
        ),
        "EnumValue": ClassDef(("NamedEntity",), {"enumValue": Prop("literal", required=True)}),
        "Map": ClassDef(
            ("ComplexSchema",),
            {
                "mapKey": Prop("object", ("MapKey",), required=True, infer="MapKey"),
                "mapValue": Prop("object", ("MapValue",), required=True, infer="MapValue"),
            },
        ),
        "MapKey": ClassDef(
            ("NamedEntity",),
            {
                "schema": Prop(
                    "object",
                    ("String",),
                    required=True,
                    values=("string",),
                    other_versions=older,
                )
            },
        ),
        "MapValue": ClassDef(("SchemaField",)),
        "Object": ClassDef(
            ("ComplexSchema",),
            {
                "fields": Prop(
                    "object",
                    ("Field",),
                    required=v2,
                    plural=True,
                    max_count=30 if v2 else None,
                    infer="Field",
                    unique=("name",),
                )
            },
        ),
        "Field": ClassDef(("SchemaField",)),
        "Content": ClassDef(("NamedEntity",), abstract=True),
        "Component": ClassDef(
            ("Content",),
            {"schema": Prop("object", ("Interface",), required=True, other_versions=older)},
        ),
        "Property": ClassDef(
            ("Content",),
            {
                "schema": Prop("object", schema_range, required=True, other_versions=older),
                "writable": Prop("boolean"),
            },
        ),
        "Telemetry": ClassDef(
            ("Content",),
            {"schema": Prop("object", schema_range, required=True, other_versions=older)},
        ),
        "Command": ClassDef(
            ("Content",),
            {
                "request": Prop(
                    "object",
                    ("CommandPayload",) if v2 else ("CommandRequest",),
                    infer="CommandPayload" if v2 else "CommandRequest",
                ),
                "response": Prop(
                    "object",
                    ("CommandPayload",) if v2 else ("CommandResponse",),
                    infer="CommandPayload" if v2 else "CommandResponse",
                ),
                "commandType": Prop(
                    "object", ("CommandType",), values=("asynchronous", "synchronous")
                ),
            },
        ),
        "CommandPayload": ClassDef(("SchemaField",), abstract=not v2),
        "CommandType": ClassDef(("Entity",)),
        "Relationship": ClassDef(
            ("Content",),
            {
                "maxMultiplicity": Prop("integer", minimum=1, maximum=500 if v2 else None),
                "minMultiplicity": Prop("integer", minimum=0, maximum=0),
                "target": Prop("iri", range=("Interface",)),
                "properties": Prop(
                    "object",
                    ("Property",),
                    plural=True,
                    max_count=300 if v2 else None,
                    unique=("name",),
                    other_versions=older,
                ),
                "writable": Prop("boolean"),
            },
        ),
        "Unit": ClassDef(("Entity",), {"symbol": Prop("string")}, abstract=True),
    }
    for prim in PRIMITIVE_CLASS.values():
        classes[prim] = ClassDef(("PrimitiveSchema",))
    if not v2:
        classes["CommandRequest"] = ClassDef(("CommandPayload",))
        classes["CommandResponse"] = ClassDef(("CommandPayload",))
    return classes


def _language(version: int) -> Language:
    v2 = version == 2
    return Language(
        version=version,
        classes=_classes(version),
        primitives=PRIMITIVES + GEOSPATIAL,
        command_types=("asynchronous", "synchronous"),
        name_max=64 if v2 else 512,
        display_name_max=64 if v2 else 512,
        description_max=512,
        comment_max=512,
        allow_undefined_by_default=v2,
        restrict_keywords=not v2,
        extends_max=2 if v2 else None,
        extends_total_max=None if v2 else 1024,
        extends_depth_max=10,
        schema_depth_max=5,
        interface_max_bytes=None if v2 else 1_048_576,
        contents_total_max=None if v2 else 100_000,
        property_excludes_array=v2,
        semantic_types=units.SEMANTIC_TYPES_V2 if v2 else units.SEMANTIC_TYPES_QT1,
        units=units.UNITS_V2 if v2 else units.UNITS_QT1,
        undefined_cotypes=frozenset({"undefinedTerm", "notDtmiNorTerm"} if v2 else ()),
        dtdl_adjunct_props=frozenset({"unit"} if v2 else ()),
        contexts_before_dtdl=("dtmi:iotcentral:context;2",) if v2 else (),
        unit_required_for=("Property", "Telemetry") if v2 else (),
        value_object_keys=None
        if v2
        else {
            "langstring": frozenset({"@value", "@language"}),
            "literal": frozenset({"@value", "@type"}),
        },
    )


ELEMENT_FORBIDDEN_KEYWORDS = frozenset({"@graph"})
"""JSON-LD keywords no element may carry; v3 (``restrict_keywords``) also rejects the rest."""

VALUE_OBJECT_FORBIDDEN = frozenset({"@id", "@context", "@graph"})
"""Keywords that turn a JSON-LD value object into a node: never allowed in a value object."""

XSD_TYPES = {bool: "boolean", int: "integer", str: "string", float: "double"}
"""XML Schema datatype a typed value object must name, by the JSON type of its ``@value``."""
XSD_PREFIXES = ("xsd:", "http://www.w3.org/2001/XMLSchema#")

LANGUAGE_TAG = (
    # BCP 47 well-formed tags: language (2-3 letters, optional extlang; or 4 letters),
    # script, region, variants, extensions and private use; or a private-use-only tag.
    r"(?:(?:[A-Za-z]{2,3}(?:-[A-Za-z]{3}){0,3}|[A-Za-z]{4})"
    r"(?:-[A-Za-z]{4})?"
    r"(?:-(?:[A-Za-z]{2}|[0-9]{3}))?"
    r"(?:-(?:[A-Za-z0-9]{5,8}|[0-9][A-Za-z0-9]{3}))*"
    r"(?:-[0-9A-WY-Za-wy-z](?:-[A-Za-z0-9]{2,8})+)*"
    r"(?:-[Xx](?:-[A-Za-z0-9]{1,8})+)?"
    r"|[Xx](?:-[A-Za-z0-9]{1,8})+)"
)
"""Keys of a language map and values of ``@language``."""

LANGUAGES: dict[int, Language] = {2: _language(2), 3: _language(3)}

DTDL_CONTEXTS = {"dtmi:dtdl:context;2": 2, "dtmi:dtdl:context;3": 3}

QUANTITATIVE_TYPES = "dtmi:dtdl:extension:quantitativeTypes;1"
HISTORIZATION = "dtmi:dtdl:extension:historization;1"
ANNOTATION = "dtmi:dtdl:extension:annotation;1"
OVERRIDING = "dtmi:dtdl:extension:overriding;1"
MQTT = "dtmi:dtdl:extension:mqtt;1"

EXTENSION_CONTEXTS = (QUANTITATIVE_TYPES, HISTORIZATION, ANNOTATION, OVERRIDING, MQTT)


@dataclass(frozen=True, slots=True)
class Adjunct:
    """An adjunct (co-)type from a language extension: where it may go, what it adds."""

    applies_to: tuple[str, ...]
    props: dict[str, Prop] = field(default_factory=dict)


ADJUNCTS: dict[str, dict[str, Adjunct]] = {
    HISTORIZATION: {"Historized": Adjunct(("Property", "Telemetry"))},
    ANNOTATION: {
        "ValueAnnotation": Adjunct(
            ("Property", "Telemetry"), {"annotates": Prop("string", required=True)}
        )
    },
    OVERRIDING: {
        "Override": Adjunct(("Property", "Telemetry"), {"overrides": Prop("string", required=True)})
    },
    MQTT: {
        "Mqtt": Adjunct(
            ("Interface",),
            {
                "telemetryTopic": Prop("string"),
                "commandTopic": Prop("string"),
                "payloadFormat": Prop("string", required=True),
            },
        ),
        "Idempotent": Adjunct(("Command",)),
        "Cacheable": Adjunct(("Command",), {"ttl": Prop("string", required=True)}),
        "Indexed": Adjunct(
            ("Telemetry", "Property", "Command", "Field", "EnumValue", "Component"),
            {"index": Prop("integer", required=True, minimum=0)},
        ),
    },
}
