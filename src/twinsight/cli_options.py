"""Options every ``twinsight`` command group shares, defined once so they read the same."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

DataDir = Annotated[
    Path,
    typer.Option(
        "--data-dir",
        "-d",
        help="Folder holding the platform's database (created if missing).",
        envvar="TWINSIGHT_DATA_DIR",
    ),
]
DEFAULT_DATA_DIR = Path("data")

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON on stdout instead of a table.")]

out = Console()
err = Console(stderr=True)
