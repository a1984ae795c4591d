"""The fast twin read answers exactly what the FastAPI route answers, and only for it."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from adt import running_server
from support import FACTORY_MODELS
from twinsight.api.fastpath import FastTwinReads
from twinsight.hub import Hub
from twinsight.models.loader import load_paths

LINE = "dtmi:twinsight:factory:ProductionLine;1"


@pytest.fixture
def loaded(hub: Hub) -> Hub:
    documents, errors = load_paths([FACTORY_MODELS])
    assert not errors
    hub.models.add(documents)
    hub.twins.upsert_twin("line 1", {"$metadata": {"$model": LINE}, "name": "Ä", "targetRate": 2})
    return hub


async def _never(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("the fast path should have answered")


def _call(app: Any, path: str, method: str = "GET") -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": []}
    asyncio.run(app(scope, receive, send))
    return sent


def test_answers_existing_twins_itself(loaded: Hub) -> None:
    sent = _call(FastTwinReads(_never, loaded.twins), "/digitaltwins/line 1")
    assert sent[0]["status"] == 200
    headers = dict(sent[0]["headers"])
    twin = loaded.twins.get_twin("line 1")
    assert headers[b"etag"].decode() == twin["$etag"]
    assert json.loads(sent[1]["body"]) == twin


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/digitaltwins/missing"),  # errors keep the route's code path
        ("GET", "/digitaltwins/"),
        ("GET", "/digitaltwins/line 1/relationships"),
        ("GET", "/digitaltwins/line 1/"),
        ("PATCH", "/digitaltwins/line 1"),
        ("HEAD", "/digitaltwins/line 1"),
        ("GET", "/models"),
    ],
)
def test_passes_everything_else_on(loaded: Hub, method: str, path: str) -> None:
    passed: list[str] = []

    async def downstream(scope: Scope, receive: Receive, send: Send) -> None:
        passed.append(scope["path"])

    assert _call(FastTwinReads(downstream, loaded.twins), path, method) == []
    assert passed == [path]


def test_same_answer_as_the_route_over_http(loaded: Hub) -> None:
    with running_server(loaded) as url:
        fast = httpx.get(f"{url}/digitaltwins/line%201")
        missing = httpx.get(f"{url}/digitaltwins/nope")
    assert fast.status_code == 200
    assert fast.headers["content-type"] == "application/json"
    assert fast.headers["etag"] == fast.json()["$etag"]
    assert fast.json() == loaded.twins.get_twin("line 1")
    assert fast.json()["name"] == "Ä"
    assert missing.status_code == 404
    assert missing.headers["x-ms-error-code"] == "DigitalTwinNotFound"
    assert missing.json()["error"]["code"] == "DigitalTwinNotFound"


def test_authentication_runs_before_the_fast_path(loaded: Hub) -> None:
    token = loaded.tokens.create("reader", ["read"])
    with running_server(loaded, require_auth=True) as url:
        anonymous = httpx.get(f"{url}/digitaltwins/line%201")
        allowed = httpx.get(
            f"{url}/digitaltwins/line%201", headers={"Authorization": f"Bearer {token}"}
        )
    assert anonymous.status_code == 401
    assert "name" not in anonymous.text
    assert allowed.status_code == 200
    assert allowed.json()["targetRate"] == 2
