"""``twinsight scenario …`` and ``twinsight sweep``: what-if runs from the command line.

They work on a data folder (``--data-dir``) like every other command, and on a *world*: the
record saying which models simulate which twins (a
:class:`~twinsight.sim.spec.SimulationSpec`). ``--world factory`` (the default) is the demo
factory's, from ``twinsight.scenarios.factory.sim.simulation_spec()``; a plant of your own
is ``--world package.module:function``, a function returning its spec.

Runs happen in this process (sweeps on every core), on simulated time, with a progress
bar; nothing here writes to the twins or their history.
"""

from __future__ import annotations

import importlib
import json
import math
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Column, Table

from twinsight.cli_options import DEFAULT_DATA_DIR, AsJson, DataDir, err, out
from twinsight.core.errors import BadRequest, TwinsightError

if TYPE_CHECKING:
    from twinsight.hub import Hub
    from twinsight.sim.catalogue import CatalogueModel, CatalogueVariable, VariableKind
    from twinsight.sim.scenarios import Scenario, SeriesComparison
    from twinsight.sim.spec import SimulationSpec

scenario_app = typer.Typer(
    help="What-if scenarios: fork the twins (now or at a past time), change parameters, "
    "inputs or schedules, run ahead of real time, compare with the baseline, keep or discard. "
    "'twinsight sim models' lists what can be changed.",
    no_args_is_help=True,
)

World = Annotated[
    str,
    typer.Option(
        "--world",
        "-w",
        help="The simulated world: a demo world's name (factory) or package.module:function "
        "returning a SimulationSpec.",
        envvar="TWINSIGHT_WORLD",
    ),
]
ScenarioId = Annotated[str, typer.Argument(help="Scenario id (see 'twinsight scenario list').")]
Duration = Annotated[
    str, typer.Option(help="Seconds, or with a unit: 90s, 15m, 4h, 2d.", show_default=False)
]


def world_spec(world: str) -> SimulationSpec:
    """The spec of ``world``: ``NAME`` → ``twinsight.scenarios.NAME.sim.simulation_spec()``,
    ``module:function`` → ``function()``."""
    module_name, _, function = world.partition(":")
    if not function:
        module_name, function = f"twinsight.scenarios.{world}.sim", "simulation_spec"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        raise BadRequest(
            f"no world {world!r}: cannot import {module_name} ({error}); use a demo world "
            "(factory) or package.module:function",
            code="UnknownWorld",
        ) from None
    make = getattr(module, function, None)
    if not callable(make):
        raise BadRequest(f"{module_name} has no function {function}()", code="UnknownWorld")
    spec: SimulationSpec = make()
    return spec


def fail(exc: TwinsightError) -> typer.Exit:
    """Print ``exc`` as the simulation commands do and hand back the exit to raise."""
    err.print(f"[red]{exc.code}[/red]: {exc.message}", highlight=False, soft_wrap=True)
    return typer.Exit(1)


@contextmanager
def world_hub(data_dir: Path, world: str) -> Iterator[Hub]:
    """The data folder's hub running ``world``'s simulation spec; a refusal inside exits 1
    with its message."""
    from twinsight.hub import Hub

    try:
        spec = world_spec(world)
    except TwinsightError as exc:
        raise fail(exc) from exc
    with Hub(data_dir) as hub:
        hub.simulation = spec
        try:
            yield hub
        except TwinsightError as exc:
            raise fail(exc) from exc


@contextmanager
def _progress(what: str) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr, driven by ``(done, total)`` callbacks."""
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task(what, total=None)

        def update(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield update


def _seconds(text: str, what: str) -> float:
    from twinsight.history import parse_bucket

    try:
        return float(text)  # a plain number of seconds, 0 included (a schedule's start)
    except ValueError:
        pass
    try:
        return parse_bucket(text)
    except TwinsightError:
        raise fail(
            BadRequest(f"{what} {text!r} is not a duration (e.g. 600, 90s, 15m, 4h)")
        ) from None


def _assignment(text: str, option: str) -> tuple[str, str, str]:
    """``twin.name=value`` → (twin, name, value)."""
    target, eq, value = text.partition("=")
    twin, dot, name = target.strip().rpartition(".")
    if not eq or not dot or not twin or not name or not value.strip():
        raise fail(BadRequest(f"{option} {text!r}: write TWIN.NAME=VALUE (e.g. line-1-motor.x=2)"))
    return twin, name, value.strip()


def _float(text: str, option: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise fail(BadRequest(f"{option}: {text!r} is not a number")) from None


def _changes(
    sets: list[str], inputs: list[str], schedules: list[str], file: Path | None
) -> dict[str, Any]:
    changes: dict[str, Any] = {"parameters": {}, "inputs": {}, "schedules": {}}
    if file is not None:
        try:
            loaded = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise fail(BadRequest(f"cannot read changes from {file}: {error}")) from None
        if not isinstance(loaded, dict):
            raise fail(BadRequest(f"{file}: the changes must be a JSON object"))
        for key, table in changes.items():
            table.update(loaded.get(key) or {})
    for text in sets:
        twin, name, value = _assignment(text, "--set")
        changes["parameters"].setdefault(twin, {})[name] = _float(value, "--set")
    for text in inputs:
        twin, name, value = _assignment(text, "--input")
        changes["inputs"].setdefault(twin, {})[name] = _float(value, "--input")
    for text in schedules:
        twin, name, value = _assignment(text, "--schedule")
        points = []
        for pair in value.split(","):
            offset, colon, number = pair.partition(":")
            if not colon:
                raise fail(
                    BadRequest(f"--schedule {text!r}: write TWIN.INPUT=OFFSET:VALUE,OFFSET:VALUE")
                )
            points.append(
                [_seconds(offset.strip(), "--schedule offset"), _float(number, "--schedule")]
            )
        changes["schedules"].setdefault(twin, {})[name] = points
    return changes


def _print_scenario(scenario: Scenario) -> None:
    colour = {"done": "green", "kept": "green", "failed": "red"}.get(scenario.status, "yellow")
    out.print(
        f"[bold]{scenario.name}[/bold] ({scenario.id})  [{colour}]{scenario.status}[/{colour}]"
    )
    out.print(f"  forked at  {scenario.forked_at:%Y-%m-%d %H:%M:%S %Z}", highlight=False)
    out.print(f"  twins      {', '.join(scenario.twins)}", highlight=False)
    if scenario.horizon is not None:
        out.print(f"  horizon    {scenario.horizon:g} s at {scenario.step:g} s steps")
    if scenario.changes:
        out.print(f"  changes    {json.dumps(scenario.changes.to_dict())}", highlight=False)
    if scenario.error:
        out.print(f"  [red]error[/red]      {scenario.error}", highlight=False, soft_wrap=True)


def _print_comparison(rows: list[SeriesComparison]) -> None:
    table = Table("unit", "baseline final", "scenario final", "max |Δ|", "at (s)")
    table.columns.insert(0, Column("series", no_wrap=True))
    for c in rows:
        table.add_row(
            c.series,
            c.unit,
            f"{c.baseline_final:.4g}",
            f"{c.scenario_final:.4g}",
            f"{c.max_abs_difference:.4g}",
            f"{c.time_of_max_difference:g}",
        )
    out.print(table)


def _json(value: Any) -> None:
    sys.stdout.write(json.dumps(_clean(value), indent=2) + "\n")


def _clean(value: Any) -> Any:
    """NaN (an output no run completed) as null, so the JSON stays valid."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean(v) for v in value]
    return value


# ------------------------------------------------------------------------ scenario …


@scenario_app.command("fork")
def scenario_fork(
    twin: Annotated[
        list[str] | None, typer.Option("--twin", "-t", help="Twin to fork (repeatable; all bound).")
    ] = None,
    at: Annotated[
        str | None, typer.Option(help="Fork the state at this past ISO 8601 time (default now).")
    ] = None,
    name: Annotated[str, typer.Option(help="A name for people.")] = "",
    world: World = "factory",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """Fork twins (all simulated ones by default) into a new scenario; prints its id."""
    with world_hub(data_dir, world) as hub:
        scenario = hub.scenarios.fork(twin, at, name)
    if as_json:
        _json(scenario.to_dict())
        return
    out.print(scenario.id, highlight=False)
    for note in scenario.notes:
        err.print(f"[dim]note: {note}[/dim]", highlight=False)


@scenario_app.command("run")
def scenario_run(
    scenario_id: ScenarioId,
    horizon: Duration,
    step: Annotated[
        str | None, typer.Option(help="Communication step (default: the world's).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Parameter change TWIN.PARAMETER=VALUE (repeatable; the names: "
            "'twinsight sim models').",
        ),
    ] = None,
    input_: Annotated[
        list[str] | None,
        typer.Option("--input", help="Hold an input: TWIN.INPUT=VALUE (repeatable)."),
    ] = None,
    schedule: Annotated[
        list[str] | None,
        typer.Option(
            help="Input schedule TWIN.INPUT=OFFSET:VALUE,OFFSET:VALUE (offsets after the fork, "
            "e.g. 0:1480,2h:0; repeatable)."
        ),
    ] = None,
    changes_file: Annotated[
        Path | None,
        typer.Option(
            "--changes", help="JSON file of changes (parameters, inputs, schedules).", exists=True
        ),
    ] = None,
    world: World = "factory",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """Run a scenario and its baseline for HORIZON; print how they differ."""
    seconds = _seconds(horizon, "--horizon")
    h = _seconds(step, "--step") if step is not None else None
    changes = _changes(set_ or [], input_ or [], schedule or [], changes_file)
    with world_hub(data_dir, world) as hub:
        with _progress("simulating baseline and scenario") as progress:
            done = hub.scenarios.run(scenario_id, seconds, h, changes, progress)
        rows = hub.scenarios.compare(scenario_id)
    if as_json:
        _json({**done.to_dict(), "comparison": [c.to_dict() for c in rows]})
        return
    _print_scenario(done)
    _print_comparison(rows)


@scenario_app.command("list")
def scenario_list(
    world: World = "factory", data_dir: DataDir = DEFAULT_DATA_DIR, as_json: AsJson = False
) -> None:
    """List the scenarios in DATA_DIR."""
    with world_hub(data_dir, world) as hub:
        scenarios = hub.scenarios.list()
    if as_json:
        _json([s.to_dict() for s in scenarios])
        return
    table = Table("id", "name", "status", "forked at", "twins", "horizon (s)")
    for s in scenarios:
        table.add_row(
            s.id,
            s.name,
            s.status,
            f"{s.forked_at:%Y-%m-%d %H:%M:%S}",
            str(len(s.twins)),
            "" if s.horizon is None else f"{s.horizon:g}",
        )
    out.print(table)
    if not scenarios:
        err.print("no scenarios yet: 'twinsight scenario fork'")


@scenario_app.command("show")
def scenario_show(
    scenario_id: ScenarioId,
    world: World = "factory",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """Show one scenario: where it was forked, what it changes, how it ended."""
    with world_hub(data_dir, world) as hub:
        scenario = hub.scenarios.get(scenario_id)
    if as_json:
        _json(scenario.to_dict())
    else:
        _print_scenario(scenario)


@scenario_app.command("compare")
def scenario_compare(
    scenario_id: ScenarioId,
    plot: Annotated[
        Path | None, typer.Option(help="Also draw baseline vs scenario into this PNG file.")
    ] = None,
    series: Annotated[
        list[str] | None,
        typer.Option("--series", "-s", help="twin.output to plot (repeatable; default all)."),
    ] = None,
    world: World = "factory",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """Compare a scenario's run with its baseline, per recorded output."""
    with world_hub(data_dir, world) as hub:
        rows = hub.scenarios.compare(scenario_id)
        if plot is not None:
            plot.write_bytes(hub.scenarios.plot(scenario_id, series))
    if as_json:
        _json([c.to_dict() for c in rows])
    else:
        _print_comparison(rows)
    if plot is not None:
        err.print(f"plot written to {plot}", highlight=False)


@scenario_app.command("keep")
def scenario_keep(
    scenario_id: ScenarioId, world: World = "factory", data_dir: DataDir = DEFAULT_DATA_DIR
) -> None:
    """Keep a scenario's results (it cannot be run again)."""
    with world_hub(data_dir, world) as hub:
        hub.scenarios.keep(scenario_id)
    out.print(f"kept {scenario_id}", highlight=False)


@scenario_app.command("discard")
def scenario_discard(
    scenario_id: ScenarioId, world: World = "factory", data_dir: DataDir = DEFAULT_DATA_DIR
) -> None:
    """Remove a scenario and its results."""
    with world_hub(data_dir, world) as hub:
        hub.scenarios.discard(scenario_id)
    out.print(f"discarded {scenario_id}", highlight=False)


# ------------------------------------------------------------------------------ sweep


def sweep(
    scenario_id: ScenarioId,
    param: Annotated[
        list[str],
        typer.Option(
            "--param",
            "-p",
            help="TWIN.PARAMETER=DIST or model:MODEL.PARAMETER=DIST, DIST one of uniform(lo, hi), "
            "normal(mean, std), lognormal(mu, sigma), triangular(lo, mode, hi), choice(a, b, …).",
            show_default=False,
        ),
    ],
    runs: Annotated[int, typer.Option(help="How many runs.", min=1)] = 100,
    horizon: Duration = "1h",
    step: Annotated[
        str | None, typer.Option(help="Communication step (default: the world's).")
    ] = None,
    record: Annotated[
        list[str] | None,
        typer.Option(
            "--record", "-r", help="Output to summarise (twin.output or name; repeatable)."
        ),
    ] = None,
    statistic: Annotated[str, typer.Option(help="Per run: final, mean, max or min.")] = "final",
    seed: Annotated[int, typer.Option(help="Seed of the draws (same seed, same sweep).")] = 0,
    lhs: Annotated[
        bool, typer.Option("--lhs/--random", help="Latin hypercube or independent draws.")
    ] = False,
    workers: Annotated[
        int | None, typer.Option(help="Worker processes (default: one per core).", min=1)
    ] = None,
    plot: Annotated[
        Path | None, typer.Option(help="Write the histograms to this PNG file.")
    ] = None,
    world: World = "factory",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """Run a sweep or Monte-Carlo study from a scenario's fork, on every core, and summarise
    each output as a distribution (mean, std, 5/50/95 %)."""
    from twinsight.sim.sweeps import (
        SerialExecutor,
        Sweep,
        SweepParameter,
        default_workers,
        process_pool,
        run_sweep,
    )

    parameters = []
    for text in param:
        label, eq, dist = text.partition("=")
        if not eq:
            raise fail(BadRequest(f"--param {text!r}: write TWIN.PARAMETER=uniform(1, 2)"))
        try:
            parameters.append(SweepParameter.parse(label.strip(), dist.strip()))
        except TwinsightError as exc:
            raise fail(exc) from exc
    with world_hub(data_dir, world) as hub:
        spec = Sweep(
            parameters=tuple(parameters),
            runs=runs,
            horizon=_seconds(horizon, "--horizon"),
            step=_seconds(step, "--step") if step is not None else hub.scenarios.spec.step,
            record=tuple(record or ()),
            statistic=statistic,  # type: ignore[arg-type]  # checked by the sweep
            seed=seed,
            sampling="lhs" if lhs else "random",
        )
        fork = hub.scenarios.fork_of(scenario_id)
        count = min(workers or default_workers(), runs)
        with _progress(f"{runs} runs on {count} worker(s)") as progress:
            if count == 1:
                result = run_sweep(fork, spec, executor=SerialExecutor(), progress=progress)
            else:
                with process_pool(count) as pool:
                    result = run_sweep(fork, spec, executor=pool, progress=progress)
        if plot is not None:
            plot.write_bytes(result.histogram_png())
    if as_json:
        _json({"scenario": scenario_id, **result.to_dict()})
    else:
        table = Table("output", "runs", "mean", "std", "p5", "p50", "p95")
        for s in result.summary.values():
            table.add_row(
                s.series,
                str(s.count),
                *(f"{v:.4g}" for v in (s.mean, s.std, s.p5, s.p50, s.p95)),
            )
        out.print(table)
        for failure in result.failures:
            drawn = ", ".join(f"{k}={v:.4g}" for k, v in failure.parameters.items())
            err.print(
                f"[red]run {failure.index}[/red] ({drawn}): {failure.error}",
                highlight=False,
                soft_wrap=True,
            )
    if plot is not None:
        err.print(f"histograms written to {plot}", highlight=False)


# ---------------------------------------------------------------------------- sim …

sim_app = typer.Typer(
    help="The simulated world: its models, what they take and give, and what a what-if may change.",
    no_args_is_help=True,
)


@sim_app.command("models")
def sim_models(
    name: Annotated[
        str | None, typer.Argument(help="One catalogue model (default: every one).")
    ] = None,
    world: World = "factory",
    data_dir: DataDir = DEFAULT_DATA_DIR,
    as_json: AsJson = False,
) -> None:
    """List the world's simulation models and what a what-if may change.

    Per model: parameters, states, inputs and outputs with unit, default and bounds; where
    each is bound on the twins; which a what-if may change ('scenario run --set' a
    parameter, '--input'/'--schedule' an input) and which inputs a coupling feeds instead;
    and the twins each model simulates in DATA_DIR."""
    from twinsight.sim.catalogue import catalogue_dict, describe_catalogue, describe_model

    with world_hub(data_dir, world) as hub:
        spec = hub.simulation
        assert spec is not None  # world_hub sets it
        if name is None:
            models = describe_catalogue(spec, hub.twins)
        else:
            models = [describe_model(spec, name, hub.twins)]
    if as_json:
        _json(catalogue_dict(spec, models) if name is None else models[0].to_dict())
        return
    for model in models:
        _print_model(model)


_SECTIONS: tuple[tuple[VariableKind, str], ...] = (
    ("parameter", "parameters: change in a what-if with --set TWIN.NAME=VALUE"),
    ("state", "states: where a fork starts"),
    ("input", "inputs: change with --input or --schedule, unless a coupling feeds them"),
    ("output", "outputs: what the model gives"),
)


def _print_model(model: CatalogueModel) -> None:
    fleet = " (also as a fleet)" if model.fleet_factory else ""
    out.print(f"[bold]{model.name}[/bold]{fleet}: {model.description}", highlight=False)
    if model.twins:
        out.print(f"simulates {', '.join(model.twins)}", highlight=False, soft_wrap=True)
    elif model.bindings:
        out.print("simulates no twin yet (no twin matches its bindings)", highlight=False)
    else:
        out.print("not bound to twins in this world", highlight=False)
    for problem in model.problems:
        err.print(f"[red]problem[/red]: {problem}", highlight=False, soft_wrap=True)
    for kind, title in _SECTIONS:
        variables = model.of_kind(kind)
        if variables:
            out.print(_variables_table(model, kind, title, variables))


def _variables_table(
    model: CatalogueModel,
    kind: VariableKind,
    title: str,
    variables: tuple[CatalogueVariable, ...],
) -> Table:
    """One kind of variable: unit, default and bounds where they mean something, where
    the bindings put it on the twins, and what a what-if may do with it."""
    bounded = kind in ("parameter", "input")
    columns = [Column("name", no_wrap=True), Column("unit")]
    if kind != "output":
        columns.append(Column("default", justify="right"))
    if bounded:
        columns += [Column("min", justify="right"), Column("max", justify="right")]
    columns.append(Column("bound to", overflow="fold"))
    if kind == "input":
        columns.append(Column("fed by", overflow="fold"))
    if kind == "output":
        columns += [Column("recorded"), Column("feeds", overflow="fold")]
    table = Table(*columns, title=title, title_justify="left")
    for variable in variables:
        v = variable.variable
        row = [v.name, v.unit]
        if kind != "output":
            row.append("" if variable.default is None else f"{variable.default:g}")
        if bounded:
            row += [_limit(v.min), _limit(v.max)]
        row.append(", ".join(_short(t) for t in model.bound_to(kind, v.name)))
        if kind == "input":
            row.append(variable.fed_by or "")
        if kind == "output":
            row += ["yes" if variable.recorded else "", ", ".join(variable.feeds)]
        table.add_row(*row)
    return table


def _limit(value: float) -> str:
    return f"{value:g}" if math.isfinite(value) else ""


def _short(twin_value: str) -> str:
    """``property:name`` as the spec writes it, ``name`` (telemetry keeps its prefix)."""
    return twin_value.removeprefix("property:")


def register(app: typer.Typer) -> None:
    """Add ``scenario …``, ``sweep`` and ``sim …`` to the ``twinsight`` command."""
    app.add_typer(scenario_app, name="scenario")
    app.command("sweep")(sweep)
    app.add_typer(sim_app, name="sim")
