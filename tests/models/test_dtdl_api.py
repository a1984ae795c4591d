"""Unit tests of the public DTDL API."""

from __future__ import annotations

from typing import Any

import pytest

from twinsight.models.diagnostics import Document, DtdlParseError
from twinsight.models.dtdl import (
    ArraySchema,
    EnumSchema,
    EnumValue,
    Field,
    MapKey,
    MapSchema,
    MapValue,
    ObjectSchema,
    PrimitiveSchema,
    parse,
    validate_value,
)


def iface(dtmi: str, *contents: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "@context": "dtmi:dtdl:context;3",
        "@id": dtmi,
        "@type": "Interface",
        "contents": list(contents),
        **extra,
    }


def errors_of(*docs: Any, **kw: Any) -> DtdlParseError:
    with pytest.raises(DtdlParseError) as info:
        parse([Document(f"doc{i}", d) for i, d in enumerate(docs)], **kw)
    return info.value


def test_parse_and_inherited_contents() -> None:
    base = iface("dtmi:ex:Base;1", {"@type": "Property", "name": "serial", "schema": "string"})
    room = iface(
        "dtmi:ex:Room;1",
        {"@type": ["Telemetry"], "name": "temp", "schema": "double"},
        {"@type": "Relationship", "name": "contains", "target": "dtmi:ex:Base;1"},
        extends="dtmi:ex:Base;1",
        displayName="Room",
    )
    models = parse([Document("a", base), Document("b", room)])
    room_i = models.interface("dtmi:ex:Room;1")
    assert set(room_i.contents) == {"serial", "temp", "contains"}
    assert room_i.bases == frozenset({"dtmi:ex:Base;1"})
    assert room_i.display_name == {"en": "Room"}
    assert room_i.relationships["contains"].target == "dtmi:ex:Base;1"
    assert models.dependencies("dtmi:ex:Room;1") == {"dtmi:ex:Base;1"}
    assert models.top_level_ids() == ["dtmi:ex:Base;1", "dtmi:ex:Room;1"]
    assert models.source_document("dtmi:ex:Room;1") is room
    assert models.language_version("dtmi:ex:Room;1") == 3
    with pytest.raises(KeyError, match="dtmi:ex:Nope;1"):
        models.interface("dtmi:ex:Nope;1")


def test_many_errors_reported_with_location() -> None:
    doc = iface(
        "dtmi:ex:Bad;1",
        {"@type": "Property", "name": "1bad", "schema": "double"},
        {"@type": "Telemetry", "name": "t"},
    )
    err = errors_of(doc)
    assert len(err.errors) >= 2
    first = err.errors[0]
    assert first.document == "doc0"
    assert first.pointer.startswith("/contents/")
    assert first.element == "dtmi:ex:Bad;1"
    assert first.rule and first.fix


def test_unresolved_reference_reported() -> None:
    err = errors_of(iface("dtmi:ex:A;1", extends="dtmi:ex:Missing;1"))
    assert list(err.unresolved) == ["dtmi:ex:Missing;1"]


def test_extends_cycle_and_duplicate_id() -> None:
    a = iface("dtmi:ex:A;1", extends="dtmi:ex:B;1")
    b = iface("dtmi:ex:B;1", extends="dtmi:ex:A;1")
    assert any(e.rule == "ExtendsCycle" for e in errors_of(a, b).errors)
    assert any(e.rule == "DuplicateId" for e in errors_of(a, dict(a)).errors)


@pytest.mark.parametrize(
    "junk", [None, 3, "text", [], [1, 2], {"@context": 5}, {"a": {"b": []}}, True]
)
def test_junk_raises_only_parse_error(junk: Any) -> None:
    errors_of(junk)


def test_deep_nesting_raises_parse_error() -> None:
    schema: Any = "double"
    for _ in range(2000):
        schema = {"@type": "Array", "elementSchema": schema}
    errors_of(iface("dtmi:ex:Deep;1", {"@type": "Telemetry", "name": "t", "schema": schema}))


def test_known_incremental_parse() -> None:
    base = parse(
        [
            Document(
                "a", iface("dtmi:ex:Base;1", {"@type": "Property", "name": "p", "schema": "long"})
            )
        ]
    )
    more = parse([Document("b", iface("dtmi:ex:Sub;1", extends="dtmi:ex:Base;1"))], known=base)
    assert set(more.interfaces) == {"dtmi:ex:Base;1", "dtmi:ex:Sub;1"}
    assert "p" in more.interface("dtmi:ex:Sub;1").properties
    assert more.top_level_ids() == ["dtmi:ex:Sub;1"]


@pytest.mark.parametrize(
    ("name", "good", "bad"),
    [
        ("boolean", True, 1),
        ("string", "x", 1),
        ("integer", 5, 2**31),
        ("long", 2**40, 1.5),
        ("double", 1.5, "1.5"),
        ("float", 3, True),
        ("date", "2024-02-29", "2023-02-29"),
        ("dateTime", "2024-01-01T10:00:00Z", "2024-01-01T10:00:00"),
        ("time", "10:00:00", "25:00:00"),
        ("duration", "PT1H30M", "1 hour"),
        ("point", {"type": "Point", "coordinates": [1, 2]}, {"type": "Point"}),
        ("lineString", {"type": "LineString", "coordinates": [[1, 2], [3, 4]]}, [1]),
        ("byte", 127, 128),
        ("unsignedLong", 2**64 - 1, -1),
        ("uuid", "123e4567-e89b-12d3-a456-426614174000", "nope"),
    ],
)
def test_validate_primitives(name: str, good: Any, bad: Any) -> None:
    assert validate_value(PrimitiveSchema(name), good) == []
    problems = validate_value(PrimitiveSchema(name), bad, "/x")
    assert problems and problems[0].startswith("/x")


def test_validate_complex() -> None:
    enum = EnumSchema(None, "string", (EnumValue("on", "on"), EnumValue("off", "off")))
    obj = ObjectSchema(None, (Field("speed", PrimitiveSchema("double")), Field("mode", enum)))
    assert validate_value(obj, {"speed": 2, "mode": "on"}) == []
    assert validate_value(obj, {"speed": "fast"}) == [
        "/speed: expected a double, got the string 'fast'"
    ]
    assert validate_value(obj, {"x": 1})[0].startswith("/x")
    mapping = MapSchema(
        None, MapKey("k", PrimitiveSchema("string")), MapValue("v", PrimitiveSchema("integer"))
    )
    assert validate_value(mapping, {"a": 1, "b": "2"}) == [
        "/b: expected an integer, got the string '2'"
    ]
    array = ArraySchema(None, PrimitiveSchema("boolean"))
    assert validate_value(array, [True, 1]) == ["/1: expected a boolean, got the number 1"]


def test_nested_context_may_switch_to_v2_only_where_the_metamodel_allows() -> None:
    v2_enum = {
        "@context": "dtmi:dtdl:context;2",
        "@type": "Enum",
        "valueSchema": "integer",
        "enumValues": [{"name": "one", "enumValue": 1}],
    }
    ok = iface("dtmi:ex:Mixed;1", {"@type": "Property", "name": "p", "schema": v2_enum})
    models = parse([Document("a", ok)])
    assert isinstance(models.interface("dtmi:ex:Mixed;1").properties["p"].schema, EnumSchema)
    v2_field = {"@context": "dtmi:dtdl:context;2", "name": "f", "schema": "double"}
    bad = iface(
        "dtmi:ex:Mixed;2",
        {"@type": "Property", "name": "p", "schema": {"@type": "Object", "fields": [v2_field]}},
    )
    (error,) = [e for e in errors_of(bad).errors if e.rule == "ContextVersionChange"]
    assert error.pointer == "/contents/0/schema/fields/0/@context"
    assert error.element == "dtmi:ex:Mixed;2" and error.fix


def test_elements_inside_another_interface_are_not_referenceable() -> None:
    owner = iface(
        "dtmi:ex:Owner;1",
        schemas=[{"@id": "dtmi:ex:Shape;1", "@type": "Object", "fields": []}],
    )
    user = iface("dtmi:ex:User;1", {"@type": "Property", "name": "p", "schema": "dtmi:ex:Shape;1"})
    (error,) = errors_of(owner, user).errors
    assert (error.rule, error.document, error.pointer) == (
        "NotReferenceable",
        "doc1",
        "/contents/0/schema",
    )
    assert error.element == "dtmi:ex:User;1" and error.fix
    # the same through an incremental parse against already-known models
    known = parse([Document("owner", owner)])
    with pytest.raises(DtdlParseError) as info:
        parse([Document("user", user)], known=known)
    assert [e.rule for e in info.value.errors] == ["NotReferenceable"]
    # within the same Interface it is fine
    same = iface(
        "dtmi:ex:Self;1",
        {"@type": "Property", "name": "p", "schema": "dtmi:ex:Shape;2"},
        schemas=[{"@id": "dtmi:ex:Shape;2", "@type": "Object", "fields": []}],
    )
    parse([Document("same", same)])


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ({"en": "Room", "zh-Hant": "x"}, True),
        ([{"@value": "Room", "@language": "de"}], True),
        ({"@value": "Room", "@language": "en"}, False),  # an object is a language map
        ({"English": "Room"}, False),
        ([{"@value": "Room", "@language": "de", "@type": "rdf:langString"}], False),
    ],
)
def test_localizable_string_forms(value: Any, ok: bool) -> None:
    doc = iface("dtmi:ex:L;1", displayName=value)
    if ok:
        parse([Document("a", doc)])
    else:
        (error,) = errors_of(doc).errors
        assert error.pointer == "/displayName" and error.fix


@pytest.mark.parametrize(
    ("writable", "ok"),
    [
        ({"@value": True, "@type": "xsd:boolean"}, True),
        ({"@value": True, "@type": ["xsd:boolean"]}, True),
        ({"@value": True, "@type": None}, False),
        ({"@value": True, "@type": "xsd:string"}, False),
        ({"@value": True, "@type": "xsd:boolean", "@language": "en"}, False),
    ],
)
def test_typed_value_objects(writable: Any, ok: bool) -> None:
    prop = {"@type": "Property", "name": "p", "schema": "string", "writable": writable}
    doc = iface("dtmi:ex:V;1", prop)
    if ok:
        parse([Document("a", doc)])
    else:
        (error,) = errors_of(doc).errors
        assert error.pointer == "/contents/0/writable" and error.fix


def test_v3_interface_size_limit() -> None:
    def props(n: int) -> list[dict[str, Any]]:
        return [
            {"@type": "Property", "name": f"p{i}", "schema": "string", "comment": "c" * 500}
            for i in range(n)
        ]

    (error,) = errors_of(iface("dtmi:ex:Big;1", *props(2100))).errors
    assert (error.rule, error.element) == ("InterfaceTooLarge", "dtmi:ex:Big;1")
    assert error.fix
    parse([Document("a", iface("dtmi:ex:Big;1", *props(1500)))])
    # DTDL v2 has no such limit
    parse(
        [Document("b", {**iface("dtmi:ex:Big;1", *props(250)), "@context": "dtmi:dtdl:context;2"})]
    )


def test_references_across_versions_follow_the_metamodel() -> None:
    v2_base = {**iface("dtmi:ex:OldBase;1"), "@context": "dtmi:dtdl:context;2"}
    v3_base = iface("dtmi:ex:NewBase;1")
    # a v3 Interface may extend a v2 one ...
    parse(
        [Document("a", v2_base), Document("b", iface("dtmi:ex:New;1", extends="dtmi:ex:OldBase;1"))]
    )
    # ... but not the other way round
    v2_sub = {
        **iface("dtmi:ex:Old;1", extends="dtmi:ex:NewBase;1"),
        "@context": "dtmi:dtdl:context;2",
    }
    (error,) = errors_of(v3_base, v2_sub).errors
    assert (error.rule, error.pointer, error.element) == (
        "WrongReferenceVersion",
        "/extends",
        "dtmi:ex:Old;1",
    )
    assert error.fix
