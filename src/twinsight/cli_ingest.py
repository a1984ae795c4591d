"""``twinsight mapping`` and ``twinsight deadletters``: check mapping files, and inspect,
replay or discard the messages the platform could not use."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from twinsight.cli_options import DEFAULT_DATA_DIR, AsJson, DataDir, err, out
from twinsight.core.errors import TwinsightError

if TYPE_CHECKING:
    from twinsight.hub import Hub

mapping_app = typer.Typer(help="Check payload mapping files.", no_args_is_help=True)
deadletters_app = typer.Typer(
    help="Messages that could not be mapped or validated: list, show, replay, discard.",
    no_args_is_help=True,
)
MappingFile = Annotated[
    Path | None,
    typer.Option(
        "--mapping",
        "-m",
        help="Mapping file to replay with (the fixed one).",
        exists=True,
        dir_okay=False,
    ),
]


@mapping_app.command("validate")
def mapping_validate(
    path: Annotated[
        Path, typer.Argument(help="Mapping file (YAML or JSON).", exists=True, dir_okay=False)
    ],
) -> None:
    """Check a mapping file; print every problem. Exit 0 if valid, 1 if not."""
    from twinsight.ingest.mapping.loader import MappingError, load_mapping_file

    try:
        mapping = load_mapping_file(path)
    except MappingError as exc:
        for problem in exc.problems:
            err.print(f"[red]error[/red] {problem}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from exc
    out.print(
        f"[green]valid[/green]: {len(mapping.rules)} rule(s): "
        + ", ".join(rule.name for rule in mapping.rules),
        highlight=False,
    )


def _open_hub(data_dir: Path, mapping: Path | None) -> Hub:
    from twinsight.hub import Hub
    from twinsight.ingest.mapping.loader import MappingError, load_mapping_file

    try:
        loaded = load_mapping_file(mapping) if mapping is not None else None
    except MappingError as exc:
        for problem in exc.problems:
            err.print(f"[red]error[/red] {problem}", highlight=False)
        raise typer.Exit(1) from exc
    return Hub(data_dir, mapping=loaded)


@deadletters_app.command("list")
def deadletters_list(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    status: Annotated[str, typer.Option(help="pending, replayed, discarded or all")] = "pending",
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: AsJson = False,
) -> None:
    """List dead letters, oldest first."""
    with _open_hub(data_dir, None) as hub:
        try:
            letters = hub.dead_letters.list(status=None if status == "all" else status, limit=limit)
        except TwinsightError as exc:
            err.print(f"[red]{exc.code}[/red]: {exc.message}")
            raise typer.Exit(1) from exc
        pending = hub.dead_letters.count("pending")
    if as_json:
        rows = [
            {
                "id": x.id,
                "source": x.source,
                "address": x.address,
                "status": x.status,
                "received": x.received.isoformat(),
                "reason": x.reason,
            }
            for x in letters
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table("id", "received", "source", "address", "reason", show_lines=False)
    for x in letters:
        table.add_row(
            str(x.id), x.received.strftime("%Y-%m-%d %H:%M:%S"), x.source, x.address, x.reason
        )
    out.print(table)
    out.print(f"{pending} pending")


@deadletters_app.command("show")
def deadletters_show(
    letter_id: Annotated[int, typer.Argument(help="Dead-letter id.")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Show one dead letter with its payload."""
    with _open_hub(data_dir, None) as hub:
        try:
            x = hub.dead_letters.get(letter_id)
        except TwinsightError as exc:
            err.print(f"[red]{exc.code}[/red]: {exc.message}")
            raise typer.Exit(1) from exc
    out.print(
        f"id {x.id} ({x.status}, {x.attempts} attempt(s))\n"
        f"received {x.received.isoformat()} over {x.source} from {x.client or '?'}\n"
        f"address  {x.address}\nmapping  {x.mapping or '-'}\nreason   {x.reason}\n"
        f"payload  {len(x.payload)} bytes:",
        highlight=False,
    )
    try:
        text: str | None = x.payload.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\n\r\t" for c in text):
        out.print(text, highlight=False, markup=False)
    else:  # binary or control characters: never write them raw to a terminal
        out.print(x.payload.hex(" "), highlight=False)


@deadletters_app.command("replay")
def deadletters_replay(
    ids: Annotated[
        list[int] | None, typer.Argument(help="Ids to replay (default: all pending).")
    ] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    mapping: MappingFile = None,
) -> None:
    """Re-submit dead letters (e.g. after fixing the mapping or the models)."""
    with _open_hub(data_dir, mapping) as hub:
        try:
            result = hub.dead_letters.replay(ids) if ids else hub.dead_letters.replay_pending()
        except TwinsightError as exc:
            err.print(f"[red]{exc.code}[/red]: {exc.message}")
            raise typer.Exit(1) from exc
    out.print(f"replayed {len(result.replayed)}; still failing {len(result.still_failing)}")
    for letter_id, reason in result.still_failing.items():
        err.print(f"  {letter_id}: {reason}", highlight=False)
    raise typer.Exit(1 if result.still_failing else 0)


@deadletters_app.command("discard")
def deadletters_discard(
    ids: Annotated[list[int], typer.Argument(help="Ids to discard.")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Mark dead letters as discarded (they stay in the store for audit)."""
    with _open_hub(data_dir, None) as hub:
        try:
            hub.dead_letters.discard(ids)
        except TwinsightError as exc:
            err.print(f"[red]{exc.code}[/red]: {exc.message}")
            raise typer.Exit(1) from exc
    out.print(f"discarded {len(ids)}")
