"""Documents and the diagnostics the DTDL tools report about them.

A :class:`DtdlError` is written for a person: it names the document, the element (a JSON
pointer into the document and, when known, the DTMI of the nearest element), the rule that
was broken, and what would fix it. Parsing collects every error it finds rather than
stopping at the first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from twinsight.core.errors import TwinsightError


@dataclass(frozen=True, slots=True)
class Document:
    """One DTDL document: an already-decoded JSON value and where it came from.

    ``name`` is what errors call the document: a file path, ``"<request>[2]"`` for the third
    model of an upload, or anything else a person would recognise.
    """

    name: str
    content: Any


@dataclass(frozen=True, slots=True)
class DtdlError:
    """One problem found in a DTDL document."""

    document: str
    """Name of the document (see :attr:`Document.name`)."""
    pointer: str
    """JSON pointer (RFC 6901) to the offending value inside the document; ``""`` is the root."""
    rule: str
    """Short identifier of the rule broken, e.g. ``"MissingRequiredProperty"``."""
    message: str
    """What is wrong, in a sentence."""
    fix: str = ""
    """What would fix it, in a sentence."""
    element: str | None = None
    """DTMI of the nearest enclosing element that has an ``@id``, when known."""

    def __str__(self) -> str:
        where = f"{self.document}#{self.pointer}" if self.pointer else self.document
        if self.element:
            where += f" (in {self.element})"
        text = f"{where}: {self.message} [{self.rule}]"
        if self.fix:
            text += f" Fix: {self.fix}"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The error as a plain dict, for ``--json`` output and API error details."""
        return {
            "document": self.document,
            "pointer": self.pointer,
            "element": self.element,
            "rule": self.rule,
            "message": self.message,
            "fix": self.fix,
        }


@dataclass(eq=False)
class DtdlParseError(TwinsightError):
    """Raised when documents are not valid DTDL; carries every error found.

    ``unresolved`` lists the DTMIs that were referenced but defined nowhere (neither in the
    documents nor in the already-known models), so a caller can fetch and retry.
    """

    errors: Sequence[DtdlError]
    unresolved: Sequence[str] = field(default_factory=tuple)

    code = "DTDLParserError"
    status = 400

    def __post_init__(self) -> None:
        count = len(self.errors)
        head = "; ".join(str(e) for e in self.errors[:3])
        more = f" (and {count - 3} more)" if count > 3 else ""
        TwinsightError.__init__(
            self,
            f"{count} DTDL error{'s' if count != 1 else ''}: {head}{more}",
            details=[{"code": e.rule, "message": str(e)} for e in self.errors],
        )
