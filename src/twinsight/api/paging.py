"""Paging of list responses the way Azure's SDKs follow it: ``{"value": [...],
"nextLink": url}``, with the page size from the ``max-items-per-page`` header."""

from __future__ import annotations

import base64
from typing import Any

from fastapi import Request

from twinsight.core.errors import BadRequest

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode().rstrip("=")


def _decode(token: str) -> int:
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        if not text.startswith("o:"):
            raise ValueError(text)
        offset = int(text[2:])
        if offset < 0:
            raise ValueError(text)
    except ValueError as exc:
        raise BadRequest(
            "the continuation token is not one this server issued", code="InvalidArgument"
        ) from exc
    return offset


def page_size(max_items: int | None) -> int:
    if max_items is None:
        return DEFAULT_PAGE_SIZE
    if max_items < 1:
        raise BadRequest("max-items-per-page must be at least 1", code="InvalidArgument")
    return min(max_items, MAX_PAGE_SIZE)


def page_of(
    items: list[Any], request: Request, continuation: str | None, max_items: int | None
) -> dict[str, Any]:
    """One page of ``items`` and, when more remain, the link to the next page."""
    start = _decode(continuation) if continuation else 0
    size = page_size(max_items)
    page: dict[str, Any] = {"value": items[start : start + size]}
    if start + size < len(items):
        page["nextLink"] = str(
            request.url.include_query_params(continuationToken=_encode(start + size))
        )
    else:
        page["nextLink"] = None
    return page
