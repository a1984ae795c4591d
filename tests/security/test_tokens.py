"""API tokens: the service (hashing, scopes, revocation, cache) and the command line."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from twinsight.cli import app
from twinsight.core.clock import ManualClock
from twinsight.core.errors import BadRequest, Conflict, NotFound, Unauthorized
from twinsight.hub import DATABASE_FILE, Hub
from twinsight.security import expand_scopes

runner = CliRunner()


def test_scopes_nest_admin_over_write_over_read() -> None:
    assert expand_scopes(["read"]) == {"read"}
    assert expand_scopes(["write"]) == {"read", "write"}
    assert expand_scopes(["admin"]) == {"read", "write", "admin"}
    assert expand_scopes(["read", "admin"]) == {"read", "write", "admin"}
    with pytest.raises(BadRequest, match="unknown scope 'root'"):
        expand_scopes(["root"])


def test_create_authenticate_revoke(hub: Hub) -> None:
    token = hub.tokens.create("dashboard", ["read"])
    assert token.startswith("tws_") and len(token) > 40
    assert hub.tokens.authenticate(token) == {"read"}
    writer = hub.tokens.create("ingest", ["write"])
    assert hub.tokens.authenticate(writer) == {"read", "write"}
    assert token != writer
    hub.tokens.revoke("dashboard")
    with pytest.raises(Unauthorized):
        hub.tokens.authenticate(token)
    assert hub.tokens.authenticate(writer) == {"read", "write"}  # others unaffected


def test_revocation_beats_the_cache(hub: Hub) -> None:
    token = hub.tokens.create("cached", ["admin"])
    for _ in range(3):  # warm the in-memory cache
        assert "admin" in hub.tokens.authenticate(token)
    hub.tokens.revoke("cached")
    with pytest.raises(Unauthorized):
        hub.tokens.authenticate(token)


def test_unknown_and_malformed_tokens_are_unauthorized(hub: Hub) -> None:
    hub.tokens.create("real", ["read"])
    for bad in ["", "tws_", "tws_" + "A" * 43, "not a token", "\udcff"]:
        with pytest.raises(Unauthorized):
            hub.tokens.authenticate(bad)


def test_only_a_hash_is_stored(tmp_path: Path, clock: ManualClock) -> None:
    with Hub(tmp_path, clock=clock) as hub:
        token = hub.tokens.create("ops", ["write"])
    raw = (tmp_path / DATABASE_FILE).read_bytes()
    wal = tmp_path / (DATABASE_FILE + "-wal")
    if wal.exists():
        raw += wal.read_bytes()
    assert token.encode() not in raw
    with sqlite3.connect(tmp_path / DATABASE_FILE) as conn:
        stored = conn.execute("SELECT token_hash FROM api_tokens").fetchone()[0]
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    with Hub(tmp_path, clock=clock) as hub:  # and it survives a restart
        assert hub.tokens.authenticate(token) == {"read", "write"}


def test_list_shows_metadata_never_secrets(hub: Hub, clock: ManualClock) -> None:
    hub.tokens.create("a", ["read"])
    clock.advance(60)
    hub.tokens.create("b", ["admin"])
    hub.tokens.revoke("a")
    infos = hub.tokens.list()
    assert [(t.name, set(t.scopes), t.revoked) for t in infos] == [
        ("a", {"read"}, True),
        ("b", {"admin"}, False),
    ]
    assert infos[1].created == clock.now()
    assert hub.tokens.active_count() == 1


@pytest.mark.parametrize(
    ("name", "scopes", "match"),
    [
        ("", ["read"], "invalid token name"),
        ("has space", ["read"], "invalid token name"),
        ("x" * 65, ["read"], "invalid token name"),
        ("ok", [], "at least one scope"),
        ("ok", ["read", "superuser"], "unknown scope 'superuser'"),
    ],
)
def test_bad_input_is_refused_and_nothing_stored(
    hub: Hub, name: str, scopes: list[str], match: str
) -> None:
    with pytest.raises(BadRequest, match=match):
        hub.tokens.create(name, scopes)
    assert hub.tokens.list() == []


def test_duplicate_name_and_unknown_revoke(hub: Hub) -> None:
    first = hub.tokens.create("dup", ["read"])
    with pytest.raises(Conflict) as exc:
        hub.tokens.create("dup", ["admin"])
    assert exc.value.code == "TokenAlreadyExists"
    assert hub.tokens.authenticate(first) == {"read"}  # the original is untouched
    with pytest.raises(NotFound) as missing:
        hub.tokens.revoke("ghost")
    assert missing.value.code == "TokenNotFound"


def test_revocation_by_another_process_reaches_a_running_hub(tmp_path: Path) -> None:
    """The CLI revokes in its own process; the server's cache must notice on the next call."""
    with Hub(tmp_path) as server:
        token = server.tokens.create("remote", ["read"])
        assert server.tokens.authenticate(token) == {"read"}  # now cached
        with Hub(tmp_path) as cli:  # a second connection, as another process would have
            cli.tokens.revoke("remote")
        with pytest.raises(Unauthorized):
            server.tokens.authenticate(token)


# ------------------------------------------------------------------------- CLI


@pytest.mark.parametrize(
    "command", [["tokens"], ["tokens", "create"], ["tokens", "list"], ["tokens", "revoke"]]
)
def test_tokens_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_cli_create_list_revoke(tmp_path: Path) -> None:
    created = runner.invoke(
        app, ["tokens", "create", "ops", "--scope", "write", "-d", str(tmp_path)]
    )
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[0]
    assert token.startswith("tws_")
    listed = runner.invoke(app, ["tokens", "list", "--json", "-d", str(tmp_path)])
    assert listed.exit_code == 0
    rows = json.loads(listed.stdout)
    assert [(r["name"], r["scopes"], r["revoked"]) for r in rows] == [("ops", ["write"], False)]
    assert token not in listed.stdout
    with Hub(tmp_path) as hub:
        assert hub.tokens.authenticate(token) == {"read", "write"}
    revoked = runner.invoke(app, ["tokens", "revoke", "ops", "-d", str(tmp_path)])
    assert revoked.exit_code == 0
    with Hub(tmp_path) as hub, pytest.raises(Unauthorized):
        hub.tokens.authenticate(token)
    plain = runner.invoke(app, ["tokens", "list", "-d", str(tmp_path)])
    assert "ops" in plain.stdout and "(revoked)" in plain.stdout


def test_cli_refuses_duplicates_unknown_names_and_scopes(tmp_path: Path) -> None:
    d = ["-d", str(tmp_path)]
    assert runner.invoke(app, ["tokens", "create", "a", "--scope", "read", *d]).exit_code == 0
    dup = runner.invoke(app, ["tokens", "create", "a", "--scope", "read", *d])
    assert dup.exit_code == 1
    assert "already exists" in dup.output
    unknown = runner.invoke(app, ["tokens", "revoke", "nobody", *d])
    assert unknown.exit_code == 1
    assert "no token named 'nobody'" in unknown.output
    scope = runner.invoke(app, ["tokens", "create", "b", "--scope", "god", *d])
    assert scope.exit_code == 1
    assert "unknown scope" in scope.output
    empty = runner.invoke(app, ["tokens", "create", "", "--scope", "read", *d])
    assert empty.exit_code == 1
    missing = runner.invoke(app, ["tokens", "create", "c", *d])
    assert missing.exit_code == 2  # --scope is required: bad usage
    with Hub(tmp_path) as hub:
        assert [t.name for t in hub.tokens.list()] == ["a"]


def test_serve_refuses_open_non_loopback_and_tokenless_start(tmp_path: Path) -> None:
    d = ["-d", str(tmp_path), "--port", "0"]
    open_ = runner.invoke(app, ["serve", "--host", "0.0.0.0", "--no-require-auth", *d])
    assert open_.exit_code != 0
    assert "without authentication" in str(open_.exception) + open_.output
    tokenless = runner.invoke(app, ["serve", "--host", "0.0.0.0", *d])
    assert tokenless.exit_code != 0
    assert "twinsight tokens create" in str(tokenless.exception) + tokenless.output
    loopback_required = runner.invoke(app, ["serve", "--require-auth", *d])
    assert loopback_required.exit_code != 0
    assert "no active token" in str(loopback_required.exception) + loopback_required.output
