"""The ``twinsight`` command line.

Exit codes follow the usual convention: 0 success, 1 the input was checked and is invalid
(or the operation was refused), 2 bad usage (unknown option, missing path).
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable, Generator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from twinsight.cli_actions import register as register_actions
from twinsight.cli_calibrate import register as register_calibrate
from twinsight.cli_demo import register as register_demo
from twinsight.cli_ingest import deadletters_app, mapping_app
from twinsight.cli_mpc import (
    DEFAULT_HORIZON,
    DEFAULT_INTERVAL,
    MpcHorizon,
    MpcInterval,
    start_line_mpc,
)
from twinsight.cli_options import (
    DEFAULT_DATA_DIR,
    AsJson,
    DataDir,
    MonitoringFile,
    err,
    load_monitoring,
    out,
)
from twinsight.cli_rul import register as register_rul
from twinsight.cli_rules import GuardsFile, RulesFile, control_starter
from twinsight.cli_rules import register as register_rules
from twinsight.cli_sim import register as register_sim
from twinsight.cli_streams import webhooks_app
from twinsight.core.errors import TwinsightError
from twinsight.models.diagnostics import DtdlError, DtdlParseError
from twinsight.models.dtdl import parse
from twinsight.models.loader import load_paths

if TYPE_CHECKING:
    from twinsight.hub import Hub
    from twinsight.security import TokenService

app = typer.Typer(
    help="Twinsight: a live digital-twin platform (DTDL models, twin graph, ADT-compatible API).",
    no_args_is_help=True,
    add_completion=False,
)
models_app = typer.Typer(help="Validate, import and manage DTDL models.", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(mapping_app, name="mapping")
app.add_typer(deadletters_app, name="deadletters")
app.add_typer(webhooks_app, name="webhooks")
register_sim(app)
register_calibrate(app)
register_demo(app)
register_rul(app)
register_rules(app)
register_actions(app)
tokens_app = typer.Typer(
    help="Create, list and revoke API bearer tokens (needed when serving beyond loopback).",
    no_args_is_help=True,
)
app.add_typer(tokens_app, name="tokens")
history_app = typer.Typer(
    help="List and export the recorded history of twin properties and telemetry.",
    no_args_is_help=True,
)
app.add_typer(history_app, name="history")


Paths = Annotated[
    list[Path],
    typer.Argument(
        help="DTDL files (one interface or a JSON array of them) or folders searched for *.json.",
        exists=True,
        show_default=False,
    ),
]


def _print_errors(errors: list[DtdlError]) -> None:
    for e in errors:
        err.print(f"[red]error[/red] {e}", highlight=False, soft_wrap=True)


@models_app.command("validate")
def models_validate(
    paths: Paths,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON report on stdout.")] = False,
    strict_extensions: Annotated[
        bool,
        typer.Option(
            "--disallow-undefined-extensions",
            help="Treat an unknown @context extension as an error.",
        ),
    ] = False,
) -> None:
    """Check DTDL documents; print every error. Exit 0 if all are valid, 1 if any is not."""
    documents, errors = load_paths(paths)
    interfaces = 0
    unresolved: list[str] = []
    try:
        model_set = parse(documents, allow_undefined_extensions=not strict_extensions)
        interfaces = len(model_set.interfaces)
    except DtdlParseError as exc:
        errors.extend(exc.errors)
        unresolved = list(exc.unresolved)
    if as_json:
        report = {
            "valid": not errors,
            "documents": len(documents),
            "interfaces": interfaces,
            "errors": [e.to_dict() for e in errors],
            "unresolved": unresolved,
        }
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    else:
        _print_errors(errors)
        if errors:
            err.print(f"[red]{len(errors)} error(s)[/red] in {len(documents)} document(s)")
        else:
            out.print(
                f"[green]valid[/green]: {interfaces} interface(s) in {len(documents)} document(s)"
            )
    raise typer.Exit(1 if errors else 0)


@models_app.command("import")
def models_import(paths: Paths, data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Validate DTDL documents and add them to the model repository in DATA_DIR, all or none."""
    from twinsight.hub import Hub

    documents, errors = load_paths(paths)
    if errors:
        _print_errors(errors)
        err.print("[red]nothing imported[/red]: fix the files above first")
        raise typer.Exit(1)
    with Hub(data_dir) as hub:
        try:
            added = hub.models.add(documents)
        except DtdlParseError as exc:
            _print_errors(list(exc.errors))
            if exc.unresolved:
                err.print("unresolved references: " + ", ".join(exc.unresolved))
            err.print(f"[red]nothing imported[/red]: {len(exc.errors)} error(s)")
            raise typer.Exit(1) from exc
        except TwinsightError as exc:
            err.print(f"[red]nothing imported[/red]: {exc.message} ({exc.code})")
            raise typer.Exit(1) from exc
        out.print(f"imported {len(added)} model(s) into {data_dir}; {len(hub.models)} in total")


@models_app.command("list")
def models_list(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """List the models stored in DATA_DIR."""
    from twinsight.hub import Hub

    with Hub(data_dir) as hub:
        infos = hub.models.list_models()
    if as_json:
        rows = [
            {
                "id": m.id,
                "displayName": m.display_name,
                "decommissioned": m.decommissioned,
                "uploadTime": m.upload_time.isoformat(),
            }
            for m in infos
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    for m in infos:
        name = next(iter(m.display_name.values()), "")
        flag = " (decommissioned)" if m.decommissioned else ""
        out.print(f"{m.id}  {name}{flag}", highlight=False)
    out.print(f"{len(infos)} model(s)")


def _repository_action(data_dir: Path, action: str, model_id: str) -> None:
    from twinsight.hub import Hub

    with Hub(data_dir) as hub:
        try:
            if action == "delete":
                hub.models.delete(model_id)
            else:
                hub.models.decommission(model_id)
        except TwinsightError as exc:
            err.print(f"[red]{exc.code}[/red]: {exc.message}", highlight=False)
            raise typer.Exit(1) from exc
    out.print(f"{action}d {model_id}", highlight=False)


@models_app.command("delete")
def models_delete(
    model_id: Annotated[str, typer.Argument(help="DTMI of the model.")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Delete a model that no other model extends or references."""
    _repository_action(data_dir, "delete", model_id)


@models_app.command("decommission")
def models_decommission(
    model_id: Annotated[str, typer.Argument(help="DTMI of the model.")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Retire a model: existing twins keep it, new twins cannot use it."""
    _repository_action(data_dir, "decommission", model_id)


Host = Annotated[
    str,
    typer.Option(help="Address to listen on. Loopback by default; others need tokens."),
]
Port = Annotated[int, typer.Option(help="TCP port to listen on.", min=0, max=65535)]


@app.command("serve")
def serve(
    host: Host = "127.0.0.1",
    port: Port = 8080,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    models: Annotated[
        list[Path] | None,
        typer.Option(
            "--models",
            "-m",
            help="DTDL files or folders to import at start (models already stored are kept).",
            exists=True,
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    require_auth: Annotated[
        bool | None,
        typer.Option(
            "--require-auth/--no-require-auth",
            help="Require bearer tokens. Default: off on loopback, always on elsewhere.",
            show_default=False,
        ),
    ] = None,
    access_log: Annotated[
        bool, typer.Option("--access-log/--no-access-log", help="Log every request.")
    ] = True,
    mqtt: Annotated[
        str | None,
        typer.Option(help="Subscribe to this MQTT broker: mqtt://host:port or mqtts://host:port."),
    ] = None,
    mqtt_topic: Annotated[
        list[str] | None,
        typer.Option(help="Topic filter to subscribe to (repeatable). Default: #."),
    ] = None,
    mqtt_shared_group: Annotated[
        str | None,
        typer.Option(help="Subscribe as $share/GROUP/...: servers in a group split the stream."),
    ] = None,
    mqtt_username: Annotated[str | None, typer.Option(help="MQTT user name.")] = None,
    mqtt_password: Annotated[
        str | None, typer.Option(help="MQTT password.", envvar="TWINSIGHT_MQTT_PASSWORD")
    ] = None,
    mqtt_ca: Annotated[
        Path | None, typer.Option(help="CA file to verify an mqtts:// broker with.", exists=True)
    ] = None,
    mqtt_protocol: Annotated[str, typer.Option(help="MQTT protocol: 5 or 3.1.1.")] = "5",
    mqtt_client_id: Annotated[
        str | None,
        typer.Option(help="Fixed MQTT client id. Default: twinsight-HOSTNAME-PORT."),
    ] = None,
    coap_port: Annotated[
        int, typer.Option(help="Accept CoAP POST/PUT on this UDP port (0: off).", min=0, max=65535)
    ] = 0,
    quality: Annotated[
        Path | None,
        typer.Option(
            "--quality",
            help="Expected value ranges for data quality (YAML; see docs/streams.md).",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(
            "--mapping",
            help="Payload mapping file for live data (YAML; see docs/ingest.md). Check one "
            "with 'twinsight mapping validate'.",
            exists=True,
            dir_okay=False,
        ),
    ] = None,
    embedded_broker_port: Annotated[
        int | None,
        typer.Option(
            help="Without --mqtt: run an MQTT broker on 127.0.0.1:PORT and ingest from it "
            "(default 1883, skipped if busy; 0 disables).",
            min=0,
            max=65535,
            show_default=False,
        ),
    ] = None,
    monitoring: MonitoringFile = None,
    guards: GuardsFile = None,
    rules: RulesFile = None,
    line_mpc: Annotated[
        bool,
        typer.Option(
            help="Run the line MPC on the motor twins (model dtmi:twinsight:factory:Motor;1),"
            " its speed moves as recommendations (docs/control-mpc.md)."
        ),
    ] = False,
    mpc_interval: MpcInterval = DEFAULT_INTERVAL,
    mpc_horizon: MpcHorizon = DEFAULT_HORIZON,
) -> None:
    """Start the HTTP server (Azure Digital Twins compatible API, OpenAPI at /docs)."""
    from twinsight.live_ingest import IngestOptions
    from twinsight.server import run_server

    monitors = load_monitoring(monitoring) if monitoring is not None else None

    if mqtt_protocol not in ("5", "3.1.1"):
        err.print(f"[red]error[/red] --mqtt-protocol must be 5 or 3.1.1, not {mqtt_protocol!r}")
        raise typer.Exit(2)
    ingest = IngestOptions(
        mqtt_url=mqtt,
        mqtt_topics=tuple(mqtt_topic or ["#"]),
        mqtt_protocol="5" if mqtt_protocol == "5" else "3.1.1",
        mqtt_client_id=mqtt_client_id,
        mqtt_shared_group=mqtt_shared_group,
        mqtt_username=mqtt_username,
        mqtt_password=mqtt_password,
        mqtt_ca=str(mqtt_ca) if mqtt_ca else None,
        coap_port=coap_port,
        embedded_broker_port=embedded_broker_port,
        mapping_file=str(mapping) if mapping else None,
        quality_file=str(quality) if quality else None,
    )
    try:
        ingest.settings_check()
    except TwinsightError as exc:
        err.print(f"[red]error[/red] {exc.message}", highlight=False)
        raise typer.Exit(2) from exc
    run_server(
        host=host,
        port=port,
        data_dir=data_dir,
        model_paths=models or [],
        log_level=log_level,
        require_auth=require_auth,
        access_log=access_log,
        ingest=ingest,
        monitoring=monitors,
        control=_with_line_mpc(
            control_starter(guards, rules) if guards or rules else None,
            (mpc_interval, mpc_horizon) if line_mpc else None,
        ),
    )


def _with_line_mpc(
    control: Callable[[Hub], None] | None, mpc: tuple[float, int] | None
) -> Callable[[Hub], None] | None:
    """``control``, then the line MPC when asked for (after the guards, which see its moves)."""
    if mpc is None:
        return control

    def start(hub: Hub) -> None:
        if control is not None:
            control(hub)
        start_line_mpc(hub, *mpc)

    return start


@contextmanager
def _token_service(data_dir: Path) -> Generator[TokenService]:
    """Only the token store of DATA_DIR, not a whole hub.

    Opening a hub loads every twin into memory (about 40 s for a million twins); creating
    or revoking a token, typically while the server runs, needs none of that.
    """
    from twinsight.core.clock import WallClock
    from twinsight.hub import DATABASE_FILE
    from twinsight.security import TokenService
    from twinsight.store.sqlite import Database
    from twinsight.store.sqlite.tokens import SqliteTokenStore

    db = Database(data_dir / DATABASE_FILE)
    store = SqliteTokenStore(db)
    try:
        yield TokenService(store, WallClock())
    finally:
        store.close()
        db.close()


@tokens_app.command("create")
def tokens_create(
    name: Annotated[str, typer.Argument(help="A unique name for the token (who or what uses it).")],
    scope: Annotated[
        list[str],
        typer.Option(
            "--scope",
            "-s",
            help="read, write (implies read) or admin (implies write and read); repeatable.",
        ),
    ],
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Create a token and print it once: only its hash is stored, it cannot be shown again."""
    with _token_service(data_dir) as tokens:
        try:
            token = tokens.create(name, scope)
        except TwinsightError as exc:
            err.print(f"[red]{exc.code}[/red]: {exc.message}", highlight=False)
            raise typer.Exit(1) from exc
    sys.stdout.write(token + "\n")
    err.print(
        f"created token {name!r} ({', '.join(sorted(set(scope)))}); it is shown only once, "
        "keep it somewhere safe",
        highlight=False,
    )


@tokens_app.command("list")
def tokens_list(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """List tokens (names, scopes, creation time, revoked or not; never the tokens)."""
    with _token_service(data_dir) as tokens:
        infos = tokens.list()
    if as_json:
        rows = [
            {
                "name": t.name,
                "scopes": sorted(t.scopes),
                "created": t.created.isoformat(),
                "revoked": t.revoked,
            }
            for t in infos
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    for t in infos:
        flag = " (revoked)" if t.revoked else ""
        out.print(
            f"{t.name}  {','.join(sorted(t.scopes))}  {t.created.isoformat()}{flag}",
            highlight=False,
        )
    out.print(f"{len(infos)} token(s)")


@tokens_app.command("revoke")
def tokens_revoke(
    name: Annotated[str, typer.Argument(help="The token's name.")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Revoke a token: a running server refuses it from its next request on."""
    with _token_service(data_dir) as tokens:
        try:
            tokens.revoke(name)
        except TwinsightError as exc:
            err.print(f"[red]{exc.code}[/red]: {exc.message}", highlight=False)
            raise typer.Exit(1) from exc
    out.print(f"revoked {name}", highlight=False)


@history_app.command("series")
def history_series(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    twin: Annotated[str | None, typer.Option(help="Only series of this twin.")] = None,
    prefix: Annotated[str | None, typer.Option(help="Only names starting with this.")] = None,
    as_json: AsJson = False,
) -> None:
    """List the recorded series in DATA_DIR with their point counts and time spans."""
    from twinsight.hub import Hub

    with Hub(data_dir) as hub:
        infos = hub.history.series(twin, prefix)
    if as_json:
        rows = [
            {
                "series": str(i.key),
                "kind": i.kind,
                "count": i.count,
                "first": i.first.isoformat() if i.first else None,
                "last": i.last.isoformat() if i.last else None,
            }
            for i in infos
        ]
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    for i in infos:
        span = f"{i.first:%Y-%m-%d %H:%M:%S} .. {i.last:%Y-%m-%d %H:%M:%S}" if i.first else "-"
        out.print(f"{i.key}  [dim]{i.kind}[/dim]  {i.count} point(s)  {span}", highlight=False)
    if not infos:
        err.print("no recorded series")


@history_app.command("export")
def history_export(
    series: Annotated[list[str], typer.Option("--series", "-s", help="TWIN/NAME; repeatable.")],
    output: Annotated[Path, typer.Option("--out", "-o", help="File to write.")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    start: Annotated[str | None, typer.Option(help="ISO 8601 start (inclusive).")] = None,
    end: Annotated[str | None, typer.Option(help="ISO 8601 end (exclusive).")] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv or parquet.")] = "csv",
) -> None:
    """Export series to a CSV or Parquet file, streaming (memory stays flat), with progress."""
    from collections.abc import Iterator

    from rich.progress import Progress

    from twinsight.core.ports import HistoryPoint
    from twinsight.history import parse_series
    from twinsight.history.export import csv_chunks, parquet_chunks
    from twinsight.hub import Hub

    if fmt not in ("csv", "parquet"):
        err.print(f"[red]error[/red] --format must be csv or parquet, not {fmt!r}")
        raise typer.Exit(2)
    with Hub(data_dir) as hub:
        try:
            for s in series:  # check series and times before creating the file
                hub.history.range(s, start, end, limit=1)
            total = sum(hub.history.store.count(parse_series(s)) for s in series)
            chunks = hub.history.iter_points(series, start, end)
        except TwinsightError as exc:
            err.print(f"[red]error[/red] {exc.message}")
            raise typer.Exit(1) from exc
        written = 0
        with Progress(console=err, transient=True) as progress:
            task = progress.add_task(f"exporting to {output}", total=total or None)

            def counted() -> Iterator[list[HistoryPoint]]:
                nonlocal written
                try:
                    for chunk in chunks:
                        written += len(chunk)
                        progress.advance(task, len(chunk))
                        yield chunk
                except TwinsightError as exc:
                    err.print(f"[red]error[/red] {exc.message}")
                    raise typer.Exit(1) from exc

            encode = csv_chunks if fmt == "csv" else parquet_chunks
            with open(output, "wb") as f:
                size = sum(f.write(block) for block in encode(counted()))
    out.print(f"exported {written} point(s) to {output} ({size} bytes)")


def main() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app()
