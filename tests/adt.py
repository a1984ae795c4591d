"""Running a real Twinsight server for a test, and pointing Azure's own SDK at it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from azure.core.credentials import AccessToken
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.policies import SansIOHTTPPolicy
from azure.digitaltwins.core import DigitalTwinsClient

from twinsight.api import create_app
from twinsight.hub import Hub


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(hub: Hub, *, require_auth: bool = False) -> Iterator[str]:
    """Serve ``hub`` on a free loopback port in a background thread; yield the base URL.

    ``require_auth`` serves it as a non-loopback server would: bearer tokens required.
    """
    port = free_port()
    config = uvicorn.Config(
        create_app(hub, require_auth=require_auth),
        host="127.0.0.1",
        port=port,
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


class StaticToken:
    """A credential that hands out one fixed bearer token (Twinsight issues its own)."""

    def __init__(self, token: str = "test-token") -> None:
        self.token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)


class BearerOverHttp(SansIOHTTPPolicy[Any, Any]):
    """Sets the Authorization header itself: the SDK's own policy refuses plain HTTP."""

    def __init__(self, token: str) -> None:
        self.token = token

    def on_request(self, request: PipelineRequest[Any]) -> None:
        request.http_request.headers["Authorization"] = f"Bearer {self.token}"


def adt_client(base_url: str, token: str = "test-token") -> DigitalTwinsClient:
    return DigitalTwinsClient(
        base_url, StaticToken(token), authentication_policy=BearerOverHttp(token)
    )
