"""``twinsight webhooks``: add, list and remove webhook routes; list and re-send failures.

Opens only the platform database's webhook and model tables (never the whole twin graph),
so it is quick on any data folder. A running server picks up routes added here when it is
restarted; routes added through the API apply at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from twinsight.cli_options import DEFAULT_DATA_DIR, AsJson, DataDir, err, out
from twinsight.core.errors import TwinsightError

webhooks_app = typer.Typer(
    help="Webhook routes (POST matching live events to a URL) and their failed deliveries.",
    no_args_is_help=True,
)


if TYPE_CHECKING:
    from twinsight.streams.webhooks import WebhookRegistry


@contextmanager
def _registry(data_dir: Path) -> Iterator[WebhookRegistry]:
    from twinsight.core.clock import WallClock
    from twinsight.hub import DATABASE_FILE
    from twinsight.models.repository import ModelRepository
    from twinsight.store.sqlite import Database, SqliteModelStore
    from twinsight.store.sqlite.webhooks import SqliteWebhookStore
    from twinsight.streams.filters import parse_filter
    from twinsight.streams.webhooks import WebhookRegistry

    db = Database(data_dir / DATABASE_FILE)
    try:
        clock = WallClock()
        models = ModelRepository(SqliteModelStore(db), clock)
        registry = WebhookRegistry(
            SqliteWebhookStore(db),
            lambda raw: parse_filter(raw, lambda m: m in models.model_set.interfaces),
            clock,
        )
        yield registry
    finally:
        db.close()


def _fail(exc: TwinsightError) -> typer.Exit:
    err.print(f"[red]{exc.code}[/red]: {exc.message}", highlight=False)
    return typer.Exit(1)


@webhooks_app.command("add")
def webhooks_add(
    url: Annotated[str, typer.Argument(help="Where to POST events (http:// or https://).")],
    twin: Annotated[list[str] | None, typer.Option(help="Twin id or glob (repeatable).")] = None,
    model: Annotated[
        list[str] | None, typer.Option(help="Model DTMI, inheritance included (repeatable).")
    ] = None,
    name: Annotated[
        list[str] | None, typer.Option(help="Property/telemetry name or glob (repeatable).")
    ] = None,
    event_type: Annotated[
        list[str] | None,
        typer.Option("--type", help="Event type, e.g. telemetry or twin.* (repeatable)."),
    ] = None,
    secret: Annotated[
        str | None, typer.Option(help="Sign bodies with HMAC-SHA256 (X-Twinsight-Signature).")
    ] = None,
    route_id: Annotated[str | None, typer.Option("--id", help="Choose the route id.")] = None,
    description: Annotated[str, typer.Option(help="A note for people.")] = "",
    disabled: Annotated[bool, typer.Option("--disabled", help="Store it paused.")] = False,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Add a webhook route; prints its id."""
    raw = {"twins": twin, "models": model, "names": name, "types": event_type}
    with _registry(data_dir) as registry:
        try:
            route = registry.add(
                registry.build(
                    url,
                    {k: v for k, v in raw.items() if v},
                    secret,
                    not disabled,
                    description,
                    route_id,
                )
            )
        except TwinsightError as exc:
            raise _fail(exc) from exc
    out.print(route.id, highlight=False)


@webhooks_app.command("list")
def webhooks_list(data_dir: DataDir = DEFAULT_DATA_DIR, as_json: AsJson = False) -> None:
    """List webhook routes (secrets are never shown)."""
    with _registry(data_dir) as registry:
        rows = [
            {
                "id": r.id,
                "url": r.url,
                "filter": r.filter,
                "signed": r.secret is not None,
                "enabled": r.enabled,
                "pendingFailures": registry.store.count_failures(r.id, "pending"),
            }
            for r in registry.routes()
        ]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table("id", "url", "filter", "signed", "enabled", "pending failures")
    for row in rows:
        table.add_row(
            str(row["id"]),
            str(row["url"]),
            json.dumps(row["filter"]),
            "yes" if row["signed"] else "no",
            "yes" if row["enabled"] else "no",
            str(row["pendingFailures"]),
        )
    out.print(table)


@webhooks_app.command("remove")
def webhooks_remove(
    route_id: Annotated[str, typer.Argument(help="Route id.")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Remove a route and its failures."""
    with _registry(data_dir) as registry:
        try:
            registry.remove(route_id)
        except TwinsightError as exc:
            raise _fail(exc) from exc
    out.print(f"removed {route_id}", highlight=False)


@webhooks_app.command("failures")
def webhooks_failures(
    route_id: Annotated[str, typer.Argument(help="Route id.")],
    status: Annotated[str, typer.Option(help="pending, delivered or all.")] = "pending",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """List a route's failed deliveries with their last error."""
    with _registry(data_dir) as registry:
        try:
            page = registry.failures(
                route_id, status=None if status == "all" else status, limit=1000
            )
        except TwinsightError as exc:
            raise _fail(exc) from exc
    rows = [
        {
            "id": f.id,
            "status": f.status,
            "events": f.events,
            "attempts": f.attempts,
            "statusCode": f.status_code,
            "error": f.error,
            "lastFailed": f.last_failed.isoformat(),
        }
        for f in page
    ]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    table = Table("id", "status", "events", "attempts", "last failed", "error")
    for row in rows:
        table.add_row(
            str(row["id"]),
            str(row["status"]),
            str(row["events"]),
            str(row["attempts"]),
            str(row["lastFailed"]),
            str(row["error"]),
        )
    out.print(table)


@webhooks_app.command("retry")
def webhooks_retry(
    route_id: Annotated[str, typer.Argument(help="Route id.")],
    ids: Annotated[
        list[int] | None, typer.Argument(help="Failure ids (default: every pending one).")
    ] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Re-send failed deliveries once each. Exit 1 if any still fails."""
    from twinsight.streams.http_sender import HttpxSender

    sender = HttpxSender()
    with _registry(data_dir) as registry:
        try:
            sent, failed = registry.resend(route_id, sender, ids or None)
        except TwinsightError as exc:
            raise _fail(exc) from exc
        finally:
            sender.close()
    out.print(f"delivered {len(sent)}; still failing {len(failed)}")
    for failure_id, error in failed.items():
        err.print(f"  {failure_id}: {error}", highlight=False)
    raise typer.Exit(1 if failed else 0)
