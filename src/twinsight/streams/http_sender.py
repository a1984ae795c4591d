"""The HTTP client for webhooks (httpx): the only module that imports it, turning its
exceptions into :class:`~twinsight.streams.webhooks.DeliveryResult` errors."""

from __future__ import annotations

import httpx

from twinsight.streams.webhooks import DeliveryResult

BODY_EXCERPT = 300
"""Characters of a failing receiver's answer kept with the failure (enough to diagnose)."""


class HttpxSender:
    """POSTs webhook bodies with one pooled, thread-safe client; never follows redirects (a
    redirect is an answer to fix in the route, not a hop to take with signed data)."""

    def __init__(self, timeout: float = 10.0) -> None:
        self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> DeliveryResult:
        try:
            response = self._client.post(url, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            return DeliveryResult(False, None, f"timeout: {type(exc).__name__} {exc}".strip())
        except httpx.HTTPError as exc:
            return DeliveryResult(False, None, f"{type(exc).__name__}: {exc}")
        if 200 <= response.status_code < 300:
            return DeliveryResult(True, response.status_code)
        excerpt = response.text[:BODY_EXCERPT]
        return DeliveryResult(
            False, response.status_code, f"HTTP {response.status_code}: {excerpt}".rstrip(": ")
        )

    def close(self) -> None:
        self._client.close()
