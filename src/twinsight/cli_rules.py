"""``twinsight rules``: list a rule file's rules, switch them on and off, and test them
(a dry run on a data folder's current state or recent history: nothing is sent).

Works on the data folder (``--data-dir``): switches are stored there and a server
started on it picks them up when it starts; a running server is switched at once through
``POST /rules/{name}/enable|disable`` (docs/rules.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from twinsight.cli_options import DEFAULT_DATA_DIR, AsJson, DataDir, err, out
from twinsight.core.errors import TwinsightError

if TYPE_CHECKING:
    from twinsight.control.rules import RuleEngine
    from twinsight.hub import Hub

rules_app = typer.Typer(
    help="Rules that act on twins: list, enable, disable, test (dry run).", no_args_is_help=True
)

RulesFile = Annotated[
    Path | None,
    typer.Option(
        "--rules",
        help="The rule file (YAML; docs/rules.md). `twinsight rules` commands use the demo "
        "factory's when none is given.",
        dir_okay=False,
        show_default=False,
    ),
]


GuardsFile = Annotated[
    Path | None,
    typer.Option(
        "--guards",
        help="Safety guards in front of every action (YAML; docs/guards.md).",
        dir_okay=False,
        show_default=False,
    ),
]


def control_starter(guards: Path | None, rules: Path | None) -> Callable[[Hub], None]:
    """What ``twinsight serve --guards/--rules`` runs once the hub is open: the files are
    checked against its models; a bad one stops the server with every problem listed."""

    def start(hub: Hub) -> None:
        from twinsight.control.guards_config import load_guards_file
        from twinsight.control.guards_yaml import ControlFileError
        from twinsight.control.rules_config import load_rules_file

        state = hub.control_state()
        try:
            if guards is not None:
                simulate = hub.simulation is not None
                if not simulate:
                    err.print(
                        "[yellow]note[/yellow] guards: simulate-first is off (no simulated "
                        "world on this server; `twinsight demo` has one)",
                        highlight=False,
                    )
                hub.start_guards(load_guards_file(guards, state), simulate=simulate)
            if rules is not None:
                engine = hub.start_rules(load_rules_file(rules, state))
                for warning in engine.warnings:
                    err.print(f"[yellow]warning[/yellow] rules: {warning}", highlight=False)
        except ControlFileError as exc:
            raise SystemExit(
                "cannot use the control file(s):\n  " + "\n  ".join(exc.problems)
            ) from exc

    return start


def register(app: typer.Typer) -> None:
    app.add_typer(rules_app, name="rules")


def _fail(exc: TwinsightError) -> typer.Exit:
    err.print(f"[red]{exc.code}[/red]: {exc.message}", highlight=False)
    for detail in exc.details[1:] if len(exc.details) > 1 else ():
        err.print(f"  {detail.get('message')}", highlight=False, markup=False)
    return typer.Exit(1)


@contextmanager
def _engine(data_dir: Path, rules: Path | None) -> Iterator[RuleEngine]:
    from twinsight.control.guards_yaml import ControlFileError
    from twinsight.control.rules_config import load_rules_file
    from twinsight.hub import Hub
    from twinsight.scenarios import factory

    path = rules or factory.RULES_FILE
    with Hub(data_dir) as hub:
        try:
            loaded = load_rules_file(path, hub.control_state())
            for warning in loaded.warnings:
                err.print(f"[yellow]warning[/yellow] {warning}", highlight=False)
            yield hub.start_rules(loaded)
        except ControlFileError as exc:
            err.print(f"[red]error[/red] cannot use the rule file {path}:", highlight=False)
            for problem in exc.problems:
                err.print(f"  {problem}", highlight=False, soft_wrap=True, markup=False)
            raise typer.Exit(2) from exc
        except TwinsightError as exc:
            raise _fail(exc) from exc


@rules_app.command("list")
def list_rules(
    data_dir: DataDir = DEFAULT_DATA_DIR, rules: RulesFile = None, as_json: AsJson = False
) -> None:
    """The rules with their condition, action and whether they are enabled."""
    with _engine(data_dir, rules) as engine:
        statuses = [s.to_json() for s in engine.list_rules()]
    if as_json:
        out.print_json(json.dumps(statuses))
        return
    table = Table("rule", "enabled", "when", "for (s)", "then")
    for s in statuses:
        then = s["then"]
        action = (
            f"notify: {then['notify']['message']}"
            if "notify" in then
            else f"{then.get('property') or then.get('command')} = {then.get('value')!r}"
        )
        table.add_row(
            s["name"], "yes" if s["enabled"] else "no", s["when"], f"{s['for']:g}", action
        )
    out.print(table)


@rules_app.command("enable")
def enable(
    name: Annotated[str, typer.Argument(help="The rule's name.")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    rules: RulesFile = None,
) -> None:
    """Switch a rule on (kept in the data folder)."""
    with _engine(data_dir, rules) as engine:
        engine.set_enabled(name, True)
    out.print(f"rule {name} enabled")


@rules_app.command("disable")
def disable(
    name: Annotated[str, typer.Argument(help="The rule's name.")],
    data_dir: DataDir = DEFAULT_DATA_DIR,
    rules: RulesFile = None,
) -> None:
    """Switch a rule off (kept in the data folder)."""
    with _engine(data_dir, rules) as engine:
        engine.set_enabled(name, False)
    out.print(f"rule {name} disabled")


@rules_app.command("test")
def test(
    name: Annotated[str, typer.Argument(help="The rule's name.")],
    since: Annotated[
        str | None,
        typer.Option(help="Replay this much recorded history ('1 h', '30 min', seconds)."),
    ] = None,
    data_dir: DataDir = DEFAULT_DATA_DIR,
    rules: RulesFile = None,
) -> None:
    """Dry run: would the rule fire now (or when, over recent history)? Sends nothing."""
    from twinsight.control.guards_yaml import seconds

    try:
        window = seconds(since) if since is not None else None
    except ValueError as exc:
        err.print(f"[red]error[/red] --since: {exc}", highlight=False)
        raise typer.Exit(2) from exc
    with _engine(data_dir, rules) as engine:
        try:
            report = engine.dry_run(name, since=window)
        except TwinsightError as exc:
            raise _fail(exc) from exc
    out.print_json(json.dumps(report, default=str))
