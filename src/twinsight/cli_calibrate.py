"""``twinsight calibrate`` and ``twinsight parameters …``: calibrate a twin's model from its
recorded history and manage the parameter versions it runs with, from the command line.

They work on a data folder (``--data-dir``) and a world (``--world``, as the scenario
commands take it), through the same service as the HTTP API
(:class:`~twinsight.sim.twin_calibration.TwinCalibrations`), so a request means the same
thing on both, and fails with the same messages (exit code 1).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Column, Table

from twinsight.cli_options import DEFAULT_DATA_DIR, AsJson, DataDir, err, out
from twinsight.cli_sim import World, fail, world_hub
from twinsight.core.errors import BadRequest, TwinsightError

if TYPE_CHECKING:
    from twinsight.core.ports import ParameterVersion
    from twinsight.sim.twin_calibration import CalibrationOutcome, TwinCalibrations

parameters_app = typer.Typer(
    help="The parameters a twin's model runs with: show them and where each comes from, "
    "list the calibrated versions, activate (roll back to) one.",
    no_args_is_help=True,
)
Twin = Annotated[str, typer.Argument(help="Twin id (a twin the world simulates).")]
Version = Annotated[int, typer.Argument(help="Version number (see 'parameters versions').")]


@contextmanager
def _service(data_dir: Path, world: str) -> Iterator[TwinCalibrations]:
    from twinsight.sim.twin_calibration import TwinCalibrations

    with world_hub(data_dir, world) as hub:
        spec = hub.simulation
        assert spec is not None  # world_hub sets it
        yield TwinCalibrations(hub.twins, hub.models, hub.history, hub.parameters, spec)


def _json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def _number(x: float | None, digits: int = 5) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.{digits}g}"


def _assignments(texts: list[str], option: str) -> dict[str, Any]:
    """``NAME=VALUE`` → ``{NAME: number}``, or the text when it is not a number (a twin
    value such as ``telemetry:load``)."""
    found: dict[str, Any] = {}
    for text in texts:
        name, eq, value = text.partition("=")
        if not eq or not name.strip() or not value.strip():
            raise fail(BadRequest(f"{option} {text!r}: write NAME=VALUE (e.g. load=0.8)"))
        try:
            found[name.strip()] = float(value)
        except ValueError:
            found[name.strip()] = value.strip()
    return found


def _print_outcome(outcome: CalibrationOutcome) -> None:
    report = outcome.report
    converged = "[green]converged[/green]" if report.converged else "[red]not converged[/red]"
    out.print(
        f"[bold]{outcome.twin_id}[/bold] ({outcome.model}): {report.samples} samples every "
        f"{outcome.step:g} s, {report.iterations} iterations, {report.evaluations} model runs, "
        f"{converged}",
        highlight=False,
    )
    table = Table(Column("parameter", no_wrap=True), "value", "std error", "95% interval", "unit")
    for fit in report.parameters.values():
        table.add_row(
            fit.name,
            _number(fit.value),
            _number(fit.std_error, 3),
            f"[{_number(fit.ci_low)}, {_number(fit.ci_high)}]",
            fit.unit,
        )
    out.print(table)
    residuals = report.residuals()
    fits = Table(
        Column("output", no_wrap=True), "RMSE", "R²", "residual mean", "residual std", "unit"
    )
    for output in report.rmse:
        left = residuals[output]
        fits.add_row(
            output,
            _number(report.rmse[output], 4),
            _number(report.r2[output], 5),
            _number(left.get("mean"), 3),
            _number(left.get("std"), 3),
            report.units.get(output, ""),
        )
    out.print(fits)
    for note in outcome.notes:
        err.print(f"[dim]note: {note}[/dim]", highlight=False)
    if outcome.version is None:
        out.print("dry run: nothing stored", highlight=False)
    else:
        out.print(
            f"stored as version {outcome.version} of {outcome.twin_id}'s {outcome.model} "
            "parameters (live runs and new forks use it)",
            highlight=False,
        )


def calibrate(
    twin: Twin,
    param: Annotated[
        list[str],
        typer.Option(
            "--param", "-p", help="Model parameter to fit (repeatable).", show_default=False
        ),
    ],
    from_: Annotated[
        str,
        typer.Option("--from", help="Start of the history window (ISO 8601).", show_default=False),
    ],
    to: Annotated[str, typer.Option(help="End of the window (ISO 8601).", show_default=False)],
    step: Annotated[
        float | None,
        typer.Option(help="Resampling step in seconds (default: the sensors' own interval)."),
    ] = None,
    output: Annotated[
        list[str] | None,
        typer.Option(
            "--output", "-o", help="Model output to compare (repeatable; default all bound)."
        ),
    ] = None,
    input_: Annotated[
        list[str] | None,
        typer.Option(
            "--input",
            "-i",
            help="An input held at a value (load=0.8) or read from a series "
            "(load=telemetry:load); repeatable.",
        ),
    ] = None,
    initial: Annotated[
        list[str] | None,
        typer.Option(help="Start the search here: PARAMETER=VALUE (repeatable)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Report only; store no new version.")
    ] = False,
    plot: Annotated[
        Path | None,
        typer.Option(help="Write measured against fitted, with residuals, to this PNG."),
    ] = None,
    world: World = "factory",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """Fit parameters of TWIN's model to its recorded history between --from and --to,
    print the fit report, and store the result as the twin's next parameter version."""
    from twinsight.sim.calibration import plot as draw
    from twinsight.sim.calibration_request import CalibrationRequest

    body: dict[str, Any] = {
        "parameters": list(param),
        "from": from_,
        "to": to,
        "apply": not dry_run,
        "inputs": _assignments(input_ or [], "--input"),
        "initial": _assignments(initial or [], "--initial"),
    }
    if step is not None:
        body["step"] = step
    if output:
        body["outputs"] = list(output)
    try:
        request = CalibrationRequest.from_dict(body)
    except TwinsightError as exc:
        raise fail(exc) from exc
    with _service(data_dir, world) as service:
        err.print(f"calibrating {', '.join(param)} of {twin} ...", highlight=False)
        outcome = service.calibrate(twin, request)
    if plot is not None:
        draw(outcome.report, plot)
    if as_json:
        _json(outcome.to_dict())
    else:
        _print_outcome(outcome)
    if plot is not None:
        err.print(f"plot written to {plot}", highlight=False)


# ------------------------------------------------------------------------ parameters …


def _print_version(version: ParameterVersion) -> None:
    values = ", ".join(f"{k} = {v:.6g}" for k, v in sorted(version.parameters.items()))
    out.print(
        f"[bold]version {version.version}[/bold]  {version.created:%Y-%m-%d %H:%M:%S %Z}  "
        f"{version.source}",
        highlight=False,
    )
    out.print(f"  {values}", highlight=False, soft_wrap=True)
    summary = version.summary
    if "activatedFrom" in summary:
        out.print(f"  activated again from version {summary['activatedFrom']}", highlight=False)
    if "rmse" in summary:
        quality = ", ".join(
            f"{k}: RMSE {_number(v, 4)}, R² {_number(summary.get('r2', {}).get(k), 5)}"
            for k, v in summary["rmse"].items()
        )
        window = summary.get("window", {})
        out.print(
            f"  fit over {window.get('from', '?')} .. {window.get('to', '?')}: {quality}",
            highlight=False,
            soft_wrap=True,
        )


@parameters_app.command("show")
def parameters_show(
    twin: Twin,
    world: World = "factory",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """The parameters TWIN's model runs with now, and where each comes from."""
    with _service(data_dir, world) as service:
        found = service.parameters(twin)
    if as_json:
        _json(found)
        return
    active = found["activeVersion"]
    out.print(
        f"[bold]{twin}[/bold] ({found['model']}): "
        + (f"calibrated version {active} active" if active else "never calibrated"),
        highlight=False,
    )
    table = Table(Column("parameter", no_wrap=True), "value", "unit", "source")
    for name, row in found["parameters"].items():
        source = row["source"]
        if source == "calibrated":
            source = f"[green]calibrated v{row['version']}[/green]"
        elif source == "twin":
            source = f"twin ({row['property']})"
        table.add_row(name, _number(row["value"], 6), row["unit"], source)
    out.print(table)


@parameters_app.command("versions")
def parameters_versions(
    twin: Twin,
    world: World = "factory",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """Every parameter version of TWIN's model, oldest first."""
    from twinsight.sim.twin_calibration import version_dict

    with _service(data_dir, world) as service:
        versions = service.versions(twin)
    if as_json:
        _json([version_dict(v) for v in versions])
        return
    for version in versions:
        _print_version(version)
    if not versions:
        err.print(f"no parameter versions of {twin} yet: 'twinsight calibrate {twin} ...'")


@parameters_app.command("version")
def parameters_version(
    twin: Twin,
    version: Version,
    world: World = "factory",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """One parameter version of TWIN's model, with its fit summary."""
    from twinsight.sim.twin_calibration import version_dict

    with _service(data_dir, world) as service:
        found = service.version(twin, version)
    if as_json:
        _json(version_dict(found))
    else:
        _print_version(found)


@parameters_app.command("activate")
def parameters_activate(
    twin: Twin,
    version: Version,
    world: World = "factory",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """Roll TWIN back (or forward) to VERSION: its values are saved as the next version."""
    from twinsight.sim.twin_calibration import version_dict

    with _service(data_dir, world) as service:
        made = service.activate(twin, version)
    if as_json:
        _json(version_dict(made))
        return
    out.print(f"version {version} is active again, as version {made.version}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``calibrate`` and ``parameters …`` to the ``twinsight`` command."""
    app.command("calibrate")(calibrate)
    app.add_typer(parameters_app, name="parameters")
