"""ModelSet: an immutable collection of parsed interfaces and everything with an ``@id``.

A ModelSet is what :func:`twinsight.models.dtdl.parse` returns. It can be passed back as
``known=`` to parse more documents against it without re-parsing what it already holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from twinsight.models.dtdl.types import Element, Interface


class ModelSet:
    """Parsed interfaces by DTMI, plus lookups of elements, dependencies and sources.

    Immutable: every attribute is a read-only mapping, and parsing more documents returns a
    new ModelSet.
    """

    __slots__ = ("_deps", "_elements", "_interfaces", "_sources", "_top", "_versions")

    def __init__(
        self,
        interfaces: Mapping[str, Interface],
        *,
        elements: Mapping[str, Element],
        dependencies: Mapping[str, frozenset[str]],
        sources: Mapping[str, Any],
        versions: Mapping[str, int],
        top_level: tuple[str, ...] = (),
    ) -> None:
        self._interfaces: Mapping[str, Interface] = MappingProxyType(dict(interfaces))
        self._elements: Mapping[str, Element] = MappingProxyType(dict(elements))
        self._deps: Mapping[str, frozenset[str]] = MappingProxyType(dict(dependencies))
        self._sources: Mapping[str, Any] = MappingProxyType(dict(sources))
        self._versions: Mapping[str, int] = MappingProxyType(dict(versions))
        self._top = top_level

    @classmethod
    def empty(cls) -> ModelSet:
        """A ModelSet with nothing in it."""
        return cls({}, elements={}, dependencies={}, sources={}, versions={})

    @property
    def interfaces(self) -> Mapping[str, Interface]:
        """Every interface by DTMI, including those carried over from ``known``."""
        return self._interfaces

    def top_level_ids(self) -> list[str]:
        """DTMIs of the top-level interfaces of the newly parsed documents, in order."""
        return list(self._top)

    def interface(self, dtmi: str) -> Interface:
        """The interface with this DTMI; ``KeyError`` naming the DTMI if there is none."""
        try:
            return self._interfaces[dtmi]
        except KeyError:
            raise KeyError(f"no interface {dtmi!r} in this model set") from None

    def element(self, dtmi: str) -> Element | None:
        """Any element that has this ``@id`` (interface, content, schema, ...), else ``None``."""
        return self._elements.get(dtmi)

    def dependencies(self, dtmi: str) -> frozenset[str]:
        """DTMIs of the other interfaces and interface-level schemas ``dtmi`` refers to directly.

        That is: its ``extends``, component schemas, relationship targets and every schema
        referenced by DTMI from anywhere inside it.
        """
        if dtmi not in self._interfaces:
            raise KeyError(f"no interface {dtmi!r} in this model set")
        return self._deps.get(dtmi, frozenset())

    def source_document(self, dtmi: str) -> Any:
        """The JSON object the top-level interface ``dtmi`` was parsed from."""
        try:
            return self._sources[dtmi]
        except KeyError:
            raise KeyError(f"no interface {dtmi!r} in this model set") from None

    def language_version(self, dtmi: str) -> int:
        """The DTDL language version (2 or 3) the interface ``dtmi`` was written in."""
        try:
            return self._versions[dtmi]
        except KeyError:
            raise KeyError(f"no interface {dtmi!r} in this model set") from None

    def __len__(self) -> int:
        return len(self._interfaces)

    def __contains__(self, dtmi: object) -> bool:
        return dtmi in self._interfaces

    def __repr__(self) -> str:
        return f"ModelSet({len(self._interfaces)} interfaces)"
