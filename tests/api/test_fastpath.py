"""The fast twin read and patch answer exactly what the FastAPI routes answer, and only
for them."""

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


def _call(
    app: Any, path: str, method: str = "GET", body: bytes = b"", headers: Any = ()
) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": list(headers)}
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
        ("PATCH", "/digitaltwins/line 1/components/x"),
        ("PUT", "/digitaltwins/line 1"),
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


def test_patches_itself_with_the_route_semantics(loaded: Hub) -> None:
    fast = FastTwinReads(_never, loaded.twins)
    before = loaded.twins.get_twin("line 1")
    ops = b'[{"op": "replace", "path": "/targetRate", "value": 7}]'
    sent = _call(
        fast, "/digitaltwins/line 1", "PATCH", ops, [(b"if-match", before["$etag"].encode())]
    )
    after = loaded.twins.get_twin("line 1")
    assert sent[0]["status"] == 204
    assert dict(sent[0]["headers"])[b"etag"].decode() == after["$etag"] != before["$etag"]
    assert after["targetRate"] == 7
    stale = _call(
        fast, "/digitaltwins/line 1", "PATCH", ops, [(b"if-match", before["$etag"].encode())]
    )
    assert stale[0]["status"] == 412
    for body, status, code in [
        (b"{not json", 400, "InvalidArgument"),
        (b'[{"op": "add", "path": "/targetRate", "value": "fast"}]', 400, "ValidationFailed"),
        (b"[]", 400, "JsonPatchInvalid"),
    ]:
        answer = _call(fast, "/digitaltwins/line 1", "PATCH", body)
        assert answer[0]["status"] == status
        assert dict(answer[0]["headers"])[b"x-ms-error-code"].decode() == code
        assert json.loads(answer[1]["body"])["error"]["code"] == code
    missing = _call(fast, "/digitaltwins/nope", "PATCH", ops)
    assert missing[0]["status"] == 404
    assert loaded.twins.get_twin("line 1") == after


def test_patch_over_http_matches_the_route(loaded: Hub) -> None:
    with running_server(loaded) as url:
        ok = httpx.patch(
            f"{url}/digitaltwins/line%201",
            json=[{"op": "replace", "path": "/targetRate", "value": 9}],
        )
        huge = httpx.patch(f"{url}/digitaltwins/line%201", content=b"[" + b" " * 300_000 + b"]")
    assert ok.status_code == 204
    assert ok.headers["etag"] == loaded.twins.get_twin("line 1")["$etag"]
    assert huge.status_code == 413
    assert huge.headers["x-ms-error-code"] == "PayloadTooLarge"
