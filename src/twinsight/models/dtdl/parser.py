"""parse(): the one entry point that turns documents into a ModelSet."""

from __future__ import annotations

from collections.abc import Sequence

from twinsight.models.diagnostics import Document, DtdlError, DtdlParseError
from twinsight.models.dtdl.build import Builder, dependencies
from twinsight.models.dtdl.modelset import ModelSet
from twinsight.models.dtdl.resolve import resolve
from twinsight.models.dtdl.types import (
    ArraySchema,
    Command,
    CommandPayload,
    Component,
    Element,
    EnumSchema,
    EnumValue,
    Field,
    Interface,
    MapSchema,
    ObjectSchema,
    Property,
    Relationship,
    Telemetry,
)
from twinsight.models.dtdl.walker import Walk

_CLASS_OF: dict[type, str] = {
    Interface: "Interface",
    Property: "Property",
    Telemetry: "Telemetry",
    Command: "Command",
    Relationship: "Relationship",
    Component: "Component",
    ArraySchema: "Array",
    EnumSchema: "Enum",
    ObjectSchema: "Object",
    MapSchema: "Map",
    Field: "Field",
    EnumValue: "EnumValue",
    CommandPayload: "CommandPayload",
}


def parse(
    documents: Sequence[Document],
    *,
    known: ModelSet | None = None,
    allow_undefined_extensions: bool = True,
) -> ModelSet:
    """Parse and validate ``documents`` together; return a new ModelSet of known + new.

    Raises :class:`~twinsight.models.diagnostics.DtdlParseError` carrying every error found,
    with ``unresolved`` listing DTMIs that are referenced but defined nowhere.

    >>> from twinsight.models.diagnostics import Document
    >>> base = {"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Base;1",
    ...         "@type": "Interface",
    ...         "contents": [{"@type": "Property", "name": "serial", "schema": "string"}]}
    >>> room = {"@context": "dtmi:dtdl:context;3", "@id": "dtmi:ex:Room;1",
    ...         "@type": "Interface", "extends": "dtmi:ex:Base;1",
    ...         "contents": [{"@type": "Telemetry", "name": "temp", "schema": "double"}]}
    >>> models = parse([Document("base.json", base), Document("room.json", room)])
    >>> sorted(models.interface("dtmi:ex:Room;1").contents)
    ['serial', 'temp']
    >>> models.interface("dtmi:ex:Room;1").properties["serial"].schema
    PrimitiveSchema(name='string')
    """
    walk = Walk(allow_undefined=allow_undefined_extensions)
    try:
        for document in documents:
            walk.document(document.name, document.content)
    except RecursionError:
        walk.error("", "", "TooDeep", "the documents are nested too deeply to parse")
        raise DtdlParseError(walk.errors) from None
    known_elements: dict[str, Element] = {}
    if known is not None:
        known_elements = {**known._elements}

    def known_class(dtmi: str) -> str | None:
        element = known_elements.get(dtmi)
        return None if element is None else _CLASS_OF.get(type(element), "Element")

    resolution = resolve(walk, known_class)
    if walk.errors:
        raise DtdlParseError(_ordered(walk.errors), tuple(resolution.unresolved))
    builder = Builder(resolution.by_id, known_elements)
    interfaces = dict(known.interfaces) if known is not None else {}
    deps = dict(known._deps) if known is not None else {}
    sources = dict(known._sources) if known is not None else {}
    versions = dict(known._versions) if known is not None else {}
    for node in walk.nodes:
        if node.cls == "Interface" and resolution.by_id.get(node.id) is node:
            interfaces[node.id] = builder.interface(node)
            deps[node.id] = dependencies(node, resolution.by_id)
            versions[node.id] = node.version
            sources.setdefault(node.id, node.source)
    for node in walk.nodes:
        if node.id not in builder.elements and node.cls in ("Array", "Enum", "Map", "Object"):
            builder.schema(node)
    for top in walk.top:
        sources[top.id] = top.source
    return ModelSet(
        interfaces,
        elements={**known_elements, **builder.elements},
        dependencies=deps,
        sources=sources,
        versions=versions,
        top_level=tuple(top.id for top in walk.top),
    )


def _ordered(errors: list[DtdlError]) -> list[DtdlError]:
    return errors
