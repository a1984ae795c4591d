"""Bearer tokens over HTTP: a real server with authentication required, plain HTTP for the
exact status codes and headers, and Azure's own SDK for compatibility."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

from adt import adt_client, free_port, running_server
from support import FACTORY_MODELS
from twinsight.api.auth import required_scope
from twinsight.hub import Hub

LINE = "dtmi:twinsight:factory:ProductionLine;1"
MACHINE = "dtmi:twinsight:factory:Machine;1"


def factory_models() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(FACTORY_MODELS.glob("*.json"))]


@pytest.fixture
def secured(hub: Hub) -> Iterator[tuple[str, dict[str, str]]]:
    """A server requiring tokens, with one token per scope (keyed by scope name)."""
    tokens = {scope: hub.tokens.create(f"{scope}-token", [scope]) for scope in ("read", "write")}
    tokens["admin"] = hub.tokens.create("admin-token", ["admin"])
    with running_server(hub, require_auth=True) as url:
        yield url, tokens


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["x-ms-error-code"] == code
    body = response.json()
    assert body["error"]["code"] == code
    assert body["error"]["message"]


def test_scope_table() -> None:
    assert required_scope("GET", "/health") is None
    assert required_scope("GET", "/digitaltwins/a") == "read"
    assert required_scope("HEAD", "/models") == "read"
    assert required_scope("POST", "/query") == "read"
    assert required_scope("GET", "/openapi.json") == "read"
    assert required_scope("PUT", "/digitaltwins/a") == "write"
    assert required_scope("PATCH", "/digitaltwins/a/components/c") == "write"
    assert required_scope("POST", "/digitaltwins/a/telemetry") == "write"
    assert required_scope("DELETE", "/digitaltwins/a/relationships/r") == "write"
    assert required_scope("POST", "/models") == "admin"
    assert required_scope("PATCH", "/models/dtmi:x:y;1") == "admin"
    assert required_scope("DELETE", "/models/dtmi:x:y;1") == "admin"


def test_health_is_open_everything_else_needs_a_token(
    secured: tuple[str, dict[str, str]],
) -> None:
    url, _ = secured
    assert httpx.get(f"{url}/health").status_code == 200
    for method, path in [
        ("GET", "/models"),
        ("GET", "/digitaltwins/x"),
        ("POST", "/query"),
        ("GET", "/openapi.json"),
        ("GET", "/docs"),
    ]:
        r = httpx.request(method, url + path, json={"query": "SELECT * FROM digitaltwins"})
        assert_error(r, 401, "Unauthorized")
        assert r.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer tws_not-a-real-token",
        "Bearer",
        "Basic dXNlcjpwYXNz",
        "tws_token-without-scheme",
    ],
)
def test_bad_credentials_are_401(secured: tuple[str, dict[str, str]], header: str) -> None:
    url, _ = secured
    r = httpx.get(f"{url}/models", headers={"Authorization": header})
    assert_error(r, 401, "Unauthorized")
    assert "Bearer" in r.headers["www-authenticate"]


def test_scope_hierarchy(secured: tuple[str, dict[str, str]]) -> None:
    url, tokens = secured
    read, write, admin = (bearer(tokens[s]) for s in ("read", "write", "admin"))
    # Uploading models needs admin.
    for who in (read, write):
        r = httpx.post(f"{url}/models", json=factory_models(), headers=who)
        assert_error(r, 403, "Forbidden")
        assert "insufficient_scope" in r.headers["www-authenticate"]
    assert httpx.post(f"{url}/models", json=factory_models(), headers=admin).status_code == 201
    line = {"$metadata": {"$model": LINE}, "name": "L1"}
    # Creating twins needs write; read is refused, admin includes write.
    assert_error(httpx.put(f"{url}/digitaltwins/l1", json=line, headers=read), 403, "Forbidden")
    assert httpx.get(f"{url}/digitaltwins/l1", headers=read).status_code == 404  # not created
    assert httpx.put(f"{url}/digitaltwins/l1", json=line, headers=write).status_code == 200
    assert httpx.put(f"{url}/digitaltwins/l2", json=line, headers=admin).status_code == 200
    patch = [{"op": "add", "path": "/targetRate", "value": 3.5}]
    assert_error(httpx.patch(f"{url}/digitaltwins/l1", json=patch, headers=read), 403, "Forbidden")
    assert httpx.patch(f"{url}/digitaltwins/l1", json=patch, headers=write).status_code == 204
    # Reads work for every scope; POST /query is a read.
    for who in (read, write, admin):
        assert httpx.get(f"{url}/digitaltwins/l1", headers=who).json()["targetRate"] == 3.5
        q = httpx.post(f"{url}/query", json={"query": "SELECT * FROM digitaltwins"}, headers=who)
        assert q.status_code == 200
        assert len(q.json()["value"]) == 2
    assert httpx.get(f"{url}/openapi.json", headers=read).status_code == 200
    # Deleting a model needs admin too.
    r = httpx.delete(f"{url}/models/dtmi:twinsight:factory:Pump;1", headers=write)
    assert_error(r, 403, "Forbidden")


def test_revocation_takes_effect_on_the_next_request(
    hub: Hub, secured: tuple[str, dict[str, str]]
) -> None:
    url, tokens = secured
    headers = bearer(tokens["read"])
    assert httpx.get(f"{url}/models", headers=headers).status_code == 200
    hub.tokens.revoke("read-token")
    assert_error(httpx.get(f"{url}/models", headers=headers), 401, "Unauthorized")
    assert httpx.get(f"{url}/models", headers=bearer(tokens["write"])).status_code == 200


def test_azure_sdk_with_valid_and_invalid_tokens(secured: tuple[str, dict[str, str]]) -> None:
    url, tokens = secured
    admin = adt_client(url, tokens["admin"])
    created = admin.create_models(factory_models())
    assert len(created) == 8
    twin = admin.upsert_digital_twin("line", {"$metadata": {"$model": LINE}, "name": "A"})
    assert twin["name"] == "A"
    reader = adt_client(url, tokens["read"])
    assert reader.get_digital_twin("line")["name"] == "A"
    with pytest.raises(HttpResponseError) as refused:
        reader.upsert_digital_twin("other", {"$metadata": {"$model": LINE}, "name": "B"})
    assert refused.value.status_code == 403
    assert refused.value.error is not None and refused.value.error.code == "Forbidden"
    intruder = adt_client(url, "tws_forged")
    with pytest.raises((ClientAuthenticationError, HttpResponseError)) as denied:
        intruder.get_digital_twin("line")
    assert denied.value.status_code == 401


def test_loopback_default_needs_no_token(hub: Hub) -> None:
    """Without require_auth (the loopback default) nothing changes for local clients."""
    hub.tokens.create("unused", ["read"])
    with running_server(hub) as url:
        assert httpx.get(f"{url}/models").status_code == 200
        assert httpx.post(f"{url}/models", json=factory_models()).status_code == 201


def _serve(args: list[str]) -> tuple[subprocess.Popen[bytes], str]:
    """``twinsight serve`` in a subprocess; returns it and its loopback URL once healthy."""
    port = free_port()
    exe = Path(sys.executable).with_name("twinsight")
    proc = subprocess.Popen(
        [str(exe), "serve", "--port", str(port), "--log-level", "warning", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, "the server exited"
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("the server did not answer /health")
        time.sleep(0.05)


@pytest.mark.parametrize("flags", [["--host", "0.0.0.0"], ["--require-auth"]])
def test_serve_requires_tokens_off_loopback_or_when_asked(tmp_path: Path, flags: list[str]) -> None:
    """The real command: all addresses -> auth on by default; loopback + --require-auth."""
    data = tmp_path / "data"
    with Hub(data) as hub:
        token = hub.tokens.create("ops", ["read"])
    proc, url = _serve([*flags, "--data-dir", str(data)])
    try:
        assert_error(httpx.get(f"{url}/models"), 401, "Unauthorized")
        assert httpx.get(f"{url}/models", headers=bearer(token)).status_code == 200
    finally:
        proc.terminate()
        proc.wait(timeout=15)
