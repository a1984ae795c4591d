"""``twinsight rul train`` and ``twinsight registry …``: train the motors' remaining-useful-
life model on simulated motors and register it; list, show and activate registered model
versions. They work on a data folder (``--data-dir``), through the same services as the
HTTP API, and fail with the same messages (exit code 1)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from twinsight.cli_options import DEFAULT_DATA_DIR, AsJson, DataDir, err, out
from twinsight.cli_sim import fail
from twinsight.core.errors import TwinsightError

if TYPE_CHECKING:
    from twinsight.hub import Hub

rul_app = typer.Typer(
    help="Remaining useful life: train the factory motors' model on simulated motors.",
    no_args_is_help=True,
)
registry_app = typer.Typer(
    help="The model registry: registered models, their versions and metrics, activation.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(rul_app, name="rul")
    app.add_typer(registry_app, name="registry")


@contextmanager
def _hub(data_dir: Path) -> Iterator[Hub]:
    from twinsight.hub import Hub

    with Hub(data_dir) as hub:
        try:
            yield hub
        except TwinsightError as exc:
            raise fail(exc) from exc


@contextmanager
def _stages() -> Iterator[Callable[[str, int, int], None]]:
    """A progress bar on stderr with one task per training stage."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        yield update


@rul_app.command("train")
def train_command(
    data_dir: DataDir = DEFAULT_DATA_DIR,
    motors: Annotated[
        int, typer.Option(help="Simulated motors to train on.", min=10, max=100_000)
    ] = 400,
    held_out: Annotated[
        int, typer.Option(help="Other simulated motors to measure on.", min=5, max=100_000)
    ] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the simulated motors.", min=0)] = 0,
    max_iter: Annotated[
        int, typer.Option(help="Boosting iterations of each quantile model.", min=1, max=5000)
    ] = 200,
    attach: Annotated[
        bool,
        typer.Option(
            help="Attach the model to the factory's Motor model (when the data folder has "
            "it), following the active version."
        ),
    ] = True,
    as_json: AsJson = False,
) -> None:
    """Run simulated motors to failure, train the RUL model on their sensor histories,
    measure it on held-out motors, and register it as the next (active) version of
    motor-rul."""
    from twinsight.live_rul import MODEL_NAME, MOTOR_MODEL, register_motor_model

    with _hub(data_dir) as hub:
        with _stages() as progress:
            version, metrics = register_motor_model(
                hub,
                motors=motors,
                held_out=held_out,
                seed=seed,
                max_iter=max_iter,
                attach_to=MOTOR_MODEL if attach else None,
                progress=progress,
            )
        attached = [a for a in hub.registry.attachments(MODEL_NAME)]
    if as_json:
        sys.stdout.write(
            json.dumps({"name": MODEL_NAME, "version": version, "metrics": metrics}) + "\n"
        )
        return
    out.print(
        f"registered {MODEL_NAME} version {version} in {data_dir}: held-out RMSE "
        f"{metrics['rmse_hours']:.0f} h, median error {metrics['median_abs_error_hours']:.0f} h, "
        f"10-90 % interval coverage {metrics['interval_coverage']:.0%}",
        highlight=False,
        soft_wrap=True,
    )
    if attach and not attached:
        err.print(
            f"not attached: {data_dir} has no {MOTOR_MODEL} model (start the demo there "
            "once, or attach it later with POST /registry/models/motor-rul/attachments)",
            highlight=False,
            soft_wrap=True,
        )


@registry_app.command("list")
def list_command(data_dir: DataDir = DEFAULT_DATA_DIR, as_json: AsJson = False) -> None:
    """Every registered model version, its kind, metrics and whether it is active."""
    from twinsight.analytics.registry import version_dict

    with _hub(data_dir) as hub:
        rows = [
            version_dict(v, active=hub.registry.active_version(v.name))
            for v in hub.registry.versions()
        ]
    if as_json:
        sys.stdout.write(json.dumps(rows, indent=2) + "\n")
        return
    table = Table("name", "version", "kind", "active", "created", "metrics")
    for row in rows:
        metrics = ", ".join(f"{k} {v:g}" for k, v in row["metrics"].items())
        table.add_row(
            row["name"],
            str(row["version"]),
            row["kind"],
            "yes" if row["active"] else "",
            row["created"],
            metrics,
        )
    out.print(table)


@registry_app.command("activate")
def activate_command(
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    version: Annotated[int, typer.Argument(help="Version to make active (roll back to).")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
) -> None:
    """Make a version the active one: attachments following the active version use it from
    their next prediction on (a running server on the same data folder too)."""
    with _hub(data_dir) as hub:
        hub.registry.activate(name, version)
    out.print(f"{name} version {version} is active", highlight=False)
