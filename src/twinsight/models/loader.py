"""Turning bytes and files into DTDL :class:`~twinsight.models.diagnostics.Document` values.

This is the boundary where untrusted input arrives (files on disk, request bodies), so it
never raises on bad input: every problem becomes a :class:`DtdlError` naming the file and,
for JSON syntax errors, the line and column. A UTF-8 byte-order mark is accepted because
many DTDL tools (and the published ontologies) write one.

>>> docs, errors = documents_from_bytes(b'\\xef\\xbb\\xbf{"@id": "dtmi:x:A;1"}', "a.json")
>>> docs[0].content, errors
({'@id': 'dtmi:x:A;1'}, [])
>>> docs, errors = documents_from_bytes(b'{"@id": ', "b.json")
>>> errors[0].message
'the file is not valid JSON: Expecting value at line 1, column 9'
>>> errors[0].rule, errors[0].fix
('InvalidJson', 'correct the JSON syntax at that position.')
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from twinsight.models.diagnostics import Document, DtdlError

MAX_DOCUMENT_BYTES = 8 * 1024 * 1024
"""Largest DTDL file accepted (the largest published ontology file is well under 1 MiB)."""


def documents_from_bytes(
    data: bytes, name: str, *, max_bytes: int = MAX_DOCUMENT_BYTES
) -> tuple[list[Document], list[DtdlError]]:
    """Decode one file or request body holding a DTDL interface or a JSON array of them.

    An array is kept as one :class:`Document` (the DTDL parser understands arrays), so
    errors point into the array with JSON pointers like ``/3/contents/0``.
    """
    if len(data) > max_bytes:
        return [], [_too_large(name, len(data), max_bytes)]
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        return [], [
            DtdlError(
                name,
                "",
                "InvalidUtf8",
                f"byte {exc.start} (line {line}) is not valid UTF-8 "
                f"(0x{data[exc.start]:02x}): DTDL documents must be UTF-8 encoded",
                "save the file as UTF-8.",
            )
        ]
    try:
        content = json.loads(text)
    except json.JSONDecodeError as exc:
        return [], [
            DtdlError(
                name,
                "",
                "InvalidJson",
                f"the file is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}",
                "correct the JSON syntax at that position.",
            )
        ]
    except RecursionError:
        return [], [
            DtdlError(
                name,
                "",
                "NestingTooDeep",
                "the JSON is nested too deeply to be a DTDL document",
                "flatten the document; DTDL schemas nest only a few levels.",
            )
        ]
    return [Document(name, content)], []


def _too_large(name: str, size: int, max_bytes: int) -> DtdlError:
    return DtdlError(
        name,
        "",
        "DocumentTooLarge",
        f"the document is {size:,} bytes, more than the limit of {max_bytes:,}",
        "split the models into several files, or raise the limit if this is intended.",
    )


def iter_json_files(paths: Iterable[Path]) -> Iterator[Path]:
    """Every ``*.json`` file named by ``paths``: files as given, folders searched
    recursively in sorted order (so runs are reproducible)."""
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.json") if p.is_file())
        else:
            yield path


def load_paths(
    paths: Iterable[Path | str], *, max_bytes: int = MAX_DOCUMENT_BYTES
) -> tuple[list[Document], list[DtdlError]]:
    """Read DTDL documents from files and folders.

    A path that does not exist or cannot be read is reported as an error, like any other
    bad input, so a caller can print every problem at once.
    """
    documents: list[Document] = []
    errors: list[DtdlError] = []
    for path in iter_json_files(Path(p) for p in paths):
        name = str(path)
        if not path.exists():
            errors.append(
                DtdlError(name, "", "FileNotFound", "no such file or folder", "check the path.")
            )
            continue
        try:
            size = path.stat().st_size
            if size > max_bytes:  # reported without reading a huge file into memory
                errors.append(_too_large(name, size, max_bytes))
                continue
            data = path.read_bytes()
        except OSError as exc:
            errors.append(
                DtdlError(
                    name,
                    "",
                    "FileUnreadable",
                    f"the file cannot be read: {exc.strerror or exc}",
                    "check the file's permissions.",
                )
            )
            continue
        docs, errs = documents_from_bytes(data, name, max_bytes=max_bytes)
        documents.extend(docs)
        errors.extend(errs)
    return documents, errors
