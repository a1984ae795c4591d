"""SQLite implementation of :class:`twinsight.core.ports.WebhookStore`."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from twinsight.core.ports import WebhookFailure, WebhookRoute
from twinsight.store.sqlite.database import Database, Migration


def _create(conn: sqlite3.Connection) -> None:
    conn.execute(
        """CREATE TABLE webhook_routes (
            id TEXT PRIMARY KEY,
            url TEXT NOT NULL,
            filter TEXT NOT NULL,
            secret TEXT,
            enabled INTEGER NOT NULL,
            created TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT ''
        )"""
    )
    conn.execute(
        """CREATE TABLE webhook_failures (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            route_id TEXT NOT NULL,
            body BLOB NOT NULL,
            events INTEGER NOT NULL,
            attempts INTEGER NOT NULL,
            error TEXT NOT NULL,
            status_code INTEGER,
            first_failed TEXT NOT NULL,
            last_failed TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending'
        )"""
    )
    conn.execute("CREATE INDEX webhook_failures_route ON webhook_failures (route_id, status, id)")


MIGRATIONS: list[Migration] = [_create]
_ROUTE = "id, url, filter, secret, enabled, created, description"
_FAILURE = (
    "id, route_id, body, events, attempts, error, status_code, first_failed, last_failed, status"
)


def _route(row: Sequence[Any]) -> WebhookRoute:
    return WebhookRoute(
        row[0], row[1], json.loads(row[2]), row[3], bool(row[4]), datetime.fromisoformat(row[5]),
        row[6],
    )  # fmt: skip


def _failure(row: Sequence[Any]) -> WebhookFailure:
    return WebhookFailure(
        row[0], row[1], bytes(row[2]), row[3], row[4], row[5], row[6],
        datetime.fromisoformat(row[7]), datetime.fromisoformat(row[8]), row[9],
    )  # fmt: skip


class SqliteWebhookStore:
    def __init__(self, db: Database) -> None:
        self._db = db
        db.migrate("webhooks", MIGRATIONS)

    def put_route(self, route: WebhookRoute) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO webhook_routes ({_ROUTE}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    route.id,
                    route.url,
                    json.dumps(route.filter),
                    route.secret,
                    int(route.enabled),
                    route.created.isoformat(),
                    route.description,
                ),
            )

    def get_route(self, route_id: str) -> WebhookRoute | None:
        row = self._db.read(
            lambda c: c.execute(
                f"SELECT {_ROUTE} FROM webhook_routes WHERE id = ?", (route_id,)
            ).fetchone()
        )
        return _route(row) if row else None

    def list_routes(self) -> list[WebhookRoute]:
        rows = self._db.read(
            lambda c: c.execute(
                f"SELECT {_ROUTE} FROM webhook_routes ORDER BY created, id"
            ).fetchall()
        )
        return [_route(r) for r in rows]

    def delete_route(self, route_id: str) -> bool:
        with self._db.transaction() as conn:
            gone = conn.execute("DELETE FROM webhook_routes WHERE id = ?", (route_id,)).rowcount
            conn.execute("DELETE FROM webhook_failures WHERE route_id = ?", (route_id,))
        return bool(gone)

    def add_failure(self, failure: WebhookFailure) -> int:
        with self._db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO webhook_failures (route_id, body, events, attempts, error,"
                " status_code, first_failed, last_failed, status)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    failure.route_id,
                    failure.body,
                    failure.events,
                    failure.attempts,
                    failure.error,
                    failure.status_code,
                    failure.first_failed.isoformat(),
                    failure.last_failed.isoformat(),
                    failure.status,
                ),
            )
            return int(cursor.lastrowid or 0)

    def get_failure(self, failure_id: int) -> WebhookFailure | None:
        row = self._db.read(
            lambda c: c.execute(
                f"SELECT {_FAILURE} FROM webhook_failures WHERE id = ?", (failure_id,)
            ).fetchone()
        )
        return _failure(row) if row else None

    def list_failures(
        self, route_id: str, *, status: str | None = None, after_id: int = 0, limit: int = 100
    ) -> list[WebhookFailure]:
        sql = f"SELECT {_FAILURE} FROM webhook_failures WHERE route_id = ? AND id > ?"
        args: list[object] = [route_id, after_id]
        if status is not None:
            sql += " AND status = ?"
            args.append(status)
        sql += " ORDER BY id LIMIT ?"
        rows = self._db.read(lambda c: c.execute(sql, (*args, limit)).fetchall())
        return [_failure(r) for r in rows]

    def update_failure(self, failure: WebhookFailure) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "UPDATE webhook_failures SET attempts = ?, error = ?, status_code = ?, "
                "last_failed = ?, status = ? WHERE id = ?",
                (
                    failure.attempts,
                    failure.error,
                    failure.status_code,
                    failure.last_failed.isoformat(),
                    failure.status,
                    failure.id,
                ),
            )

    def count_failures(self, route_id: str, status: str | None = None) -> int:
        sql = "SELECT count(*) FROM webhook_failures WHERE route_id = ?"
        args: tuple[object, ...] = (route_id,)
        if status is not None:
            sql += " AND status = ?"
            args = (route_id, status)
        return int(self._db.read(lambda c: c.execute(sql, args).fetchone()[0]))

    def close(self) -> None:
        """The database belongs to the hub, which closes it."""
