"""parse(): the one entry point that turns documents into a ModelSet."""

from __future__ import annotations

from collections.abc import Sequence

from twinsight.models.diagnostics import Document, DtdlError, DtdlParseError
from twinsight.models.dtdl.modelset import ModelSet


def parse(
    documents: Sequence[Document],
    *,
    known: ModelSet | None = None,
    allow_undefined_extensions: bool = True,
) -> ModelSet:
    """Parse and validate ``documents`` together (skeleton: real parser lands shortly)."""
    raise DtdlParseError(
        [DtdlError(d.name, "", "NotImplemented", "parser not implemented yet") for d in documents]
    )
