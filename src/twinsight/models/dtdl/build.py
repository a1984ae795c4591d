"""Turning checked parser nodes into the public, immutable types of ``types.py``."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, cast

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
from twinsight.models.dtdl.walker import Builtin, Node, Ref


def _text(value: Any) -> Mapping[str, str]:
    if isinstance(value, str):
        return MappingProxyType({"en": value})
    if isinstance(value, dict):
        return MappingProxyType(dict(value))
    return MappingProxyType({})


class Builder:
    """Builds public elements from nodes, looking references up in new or known elements."""

    def __init__(self, by_id: Mapping[str, Node], known: Mapping[str, Element]) -> None:
        self.by_id = by_id
        self.known = known
        self.elements: dict[str, Element] = {}
        self.interfaces: dict[str, Interface] = {}

    def _remember(self, node: Node, element: Element) -> None:
        self.elements[node.id] = element

    def schema(self, value: Any) -> Schema:
        if isinstance(value, Builtin):
            return PrimitiveSchema(value.term)
        if isinstance(value, Ref):
            target = self.by_id.get(value.target)
            if target is not None:
                return self.schema(target)
            known = self.known.get(value.target)
            if isinstance(known, PrimitiveSchema | EnumSchema | ObjectSchema | MapSchema):
                return known
            if isinstance(known, ArraySchema):
                return known
            return PrimitiveSchema("string")
        node = cast(Node, value)
        cached = self.elements.get(node.id)
        if isinstance(cached, PrimitiveSchema | EnumSchema | ObjectSchema | MapSchema):
            return cached
        if isinstance(cached, ArraySchema):
            return cached
        display = _text(node.one("displayName"))
        built: Schema
        if node.cls == "Array":
            built = ArraySchema(node.id, self.schema(node.one("elementSchema")), display)
        elif node.cls == "Enum":
            value_schema = node.one("valueSchema")
            values = []
            for item in node.values.get("enumValues", []):
                if isinstance(item, Node):
                    enum_value = EnumValue(
                        item.one("name") or "",
                        item.one("enumValue"),
                        _text(item.one("displayName")),
                        item.id,
                    )
                    self._remember(item, enum_value)
                    values.append(enum_value)
            built = EnumSchema(
                node.id,
                value_schema.term if isinstance(value_schema, Builtin) else "string",
                tuple(values),
                display,
            )
        elif node.cls == "Object":
            fields = []
            for item in node.values.get("fields", []):
                if isinstance(item, Node):
                    built_field = Field(
                        item.one("name") or "",
                        self.schema(item.one("schema")),
                        item.id,
                        _text(item.one("displayName")),
                    )
                    self._remember(item, built_field)
                    fields.append(built_field)
            built = ObjectSchema(node.id, tuple(fields), display)
        elif node.cls == "Map":
            key_node = node.one("mapKey")
            value_node = node.one("mapValue")
            key = MapKey(
                key_node.one("name") if isinstance(key_node, Node) else "key",
                PrimitiveSchema("string"),
            )
            val = MapValue(
                value_node.one("name") if isinstance(value_node, Node) else "value",
                self.schema(value_node.one("schema"))
                if isinstance(value_node, Node)
                else PrimitiveSchema("string"),
            )
            built = MapSchema(node.id, key, val, display)
        else:
            built = PrimitiveSchema("string")
        self._remember(node, built)
        return built

    def content(self, node: Node, owner: str) -> Content | None:
        common: dict[str, Any] = {
            "display_name": _text(node.one("displayName")),
            "description": _text(node.one("description")),
            "comment": node.one("comment"),
            "semantic_types": tuple(node.semantic),
            "defined_in": owner,
        }
        name = node.one("name") or ""
        built: Content
        if node.cls == "Property":
            built = Property(
                node.id,
                name,
                self.schema(node.one("schema")),
                writable=bool(node.one("writable")),
                unit=node.one("unit"),
                **common,
            )
        elif node.cls == "Telemetry":
            built = Telemetry(
                node.id, name, self.schema(node.one("schema")), unit=node.one("unit"), **common
            )
        elif node.cls == "Command":
            built = Command(
                node.id,
                name,
                self.payload(node.one("request")),
                self.payload(node.one("response")),
                **common,
            )
        elif node.cls == "Relationship":
            props: dict[str, Property] = {}
            for item in node.values.get("properties", []):
                if isinstance(item, Node):
                    prop = self.content(item, owner)
                    if isinstance(prop, Property):
                        props[prop.name] = prop
            target = node.one("target")
            built = Relationship(
                node.id,
                name,
                target=target if isinstance(target, str) else None,
                min_multiplicity=node.one("minMultiplicity"),
                max_multiplicity=node.one("maxMultiplicity"),
                properties=MappingProxyType(props),
                writable=bool(node.one("writable")),
                **common,
            )
        elif node.cls == "Component":
            schema = node.one("schema")
            target_id = (
                schema.id
                if isinstance(schema, Node)
                else schema.target
                if isinstance(schema, Ref)
                else ""
            )
            common.pop("semantic_types")
            built = Component(node.id, name, target_id, **common)
        else:
            return None
        self._remember(node, built)
        return built

    def payload(self, value: Any) -> CommandPayload | None:
        if not isinstance(value, Node):
            return None
        built = CommandPayload(
            value.one("name") or "",
            self.schema(value.one("schema")),
            bool(value.one("nullable")),
            value.id,
            _text(value.one("displayName")),
            _text(value.one("description")),
        )
        self._remember(value, built)
        return built

    def interface(self, node: Node, stack: tuple[str, ...] = ()) -> Interface:
        done = self.interfaces.get(node.id)
        if done is not None:
            return done
        extends: list[str] = []
        bases: set[str] = set()
        contents: dict[str, Content] = {}
        for value in node.values.get("extends", []):
            base_id = value.id if isinstance(value, Node) else getattr(value, "target", None)
            if base_id is None or base_id in stack:
                continue
            extends.append(base_id)
            base_node = self.by_id.get(base_id)
            base: Interface | None
            if base_node is not None:
                base = self.interface(base_node, (*stack, node.id))
            else:
                known = self.known.get(base_id)
                base = known if isinstance(known, Interface) else None
            if base is not None:
                bases.add(base_id)
                bases.update(base.bases)
                for name, content in base.contents.items():
                    contents.setdefault(name, content)
        for item in node.values.get("contents", []):
            if isinstance(item, Node):
                own = self.content(item, node.id)
                if own is not None:
                    contents[own.name] = own
        schemas = tuple(
            self.schema(item) for item in node.values.get("schemas", []) if isinstance(item, Node)
        )
        built = Interface(
            node.id,
            display_name=_text(node.one("displayName")),
            description=_text(node.one("description")),
            comment=node.one("comment"),
            extends=tuple(extends),
            bases=frozenset(bases),
            contents=MappingProxyType(contents),
            schemas=schemas,
            language_version=node.version,
        )
        self.interfaces[node.id] = built
        self._remember(node, built)
        return built


def dependencies(node: Node, by_id: Mapping[str, Node]) -> frozenset[str]:
    """DTMIs of other interfaces and interface-level schemas ``node`` refers to directly."""
    found: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        for term, values in current.values.items():
            for value in values:
                if isinstance(value, Ref):
                    found.add(value.target)
                elif isinstance(value, Node):
                    if term == "extends" or (term == "schema" and value.cls == "Interface"):
                        found.add(value.id)
                    else:
                        stack.append(value)
        target = current.one("target") if current.cls == "Relationship" else None
        if isinstance(target, str):
            found.add(target)
    found.discard(node.id)
    return frozenset(found)
