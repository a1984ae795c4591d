"""Options every ``twinsight`` command group shares, defined once so they read the same."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

if TYPE_CHECKING:
    from twinsight.analytics.monitoring import MonitoringSpec

DataDir = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        "--data",
        "-d",
        help="Folder holding the platform's database (created if missing).",
        envvar="TWINSIGHT_DATA_DIR",
    ),
]
DEFAULT_DATA_DIR = Path("data")

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of a table.")]

out = Console()
err = Console(stderr=True)

MonitoringFile = Annotated[
    Path | None,
    typer.Option(
        "--monitoring",
        help="Detectors and limits that watch the twins live and raise alarms (YAML; see "
        "docs/alarms.md).",
        dir_okay=False,
        show_default=False,
    ),
]


def load_monitoring(path: Path) -> MonitoringSpec:
    """The monitoring file at ``path``, or exit 2 listing every problem with its line and
    field (before anything is opened or served)."""
    from twinsight.analytics.monitoring import MonitoringConfigError, load_monitoring_file

    try:
        return load_monitoring_file(path)
    except MonitoringConfigError as exc:
        err.print(f"[red]error[/red] cannot use the monitoring file {path}:", highlight=False)
        for problem in exc.problems:
            err.print(f"  {problem}", highlight=False, soft_wrap=True, markup=False)
        raise typer.Exit(2) from exc
