"""Reading request bodies ourselves, so bad JSON and huge bodies get clear, ADT-style errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import Request

from twinsight.core.errors import BadRequest, PayloadTooLarge


async def read_json(request: Request, *, max_bytes: int, what: str) -> Any:
    """The request body decoded as JSON, refusing bodies over ``max_bytes``."""
    return await read_json_chunks(
        request.stream(), request.headers.get("content-length"), max_bytes=max_bytes, what=what
    )


async def read_json_chunks(
    chunks_in: AsyncIterator[bytes], declared: str | None, *, max_bytes: int, what: str
) -> Any:
    """The JSON body arriving as ``chunks_in`` (with its declared Content-Length): one
    implementation for the routes and for the pure-ASGI fast path."""
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise PayloadTooLarge(
            f"the {what} is {int(declared):,} bytes; the limit is {max_bytes:,}",
            code="PayloadTooLarge",
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in chunks_in:
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(
                f"the {what} is larger than the limit of {max_bytes:,} bytes",
                code="PayloadTooLarge",
            )
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw:
        raise BadRequest(f"the {what} is empty; a JSON body is required", code="InvalidArgument")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"the {what} is not valid JSON: {exc}", code="InvalidArgument") from exc
