"""``twinsight sim models``: the factory world's catalogue as tables and as JSON (the same
document the API answers), one model, and an unknown model named with exit code 1."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from support import build_factory
from twinsight.api import create_app
from twinsight.cli import app
from twinsight.hub import Hub
from twinsight.scenarios.factory.sim import simulation_spec

runner = CliRunner()


@pytest.fixture
def data(tmp_path: Path) -> Path:
    with Hub(tmp_path) as hub:
        build_factory(hub)
    return tmp_path


def _row(table: str, name: str) -> list[str]:
    """The cells of the table row whose first cell is ``name``, with the lines a narrow
    terminal wrapped them onto joined back (spaces dropped: a cell may wrap mid-word)."""
    rows: list[list[str]] = []
    for line in table.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃]", line)[1:-1]]
        if not cells:
            rows.append([])
        elif cells[0] or not rows or not rows[-1]:
            rows.append(cells)
        else:  # a continuation line of the row above
            rows[-1] = [a + b for a, b in zip(rows[-1], cells, strict=True)]
    for cells in rows:
        if cells and cells[0] == name:
            return [c.replace(" ", "") for c in cells]
    raise AssertionError(f"no row {name!r} in:\n{table}")


@pytest.mark.parametrize("command", [["sim"], ["sim", "models"]])
def test_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "models" in result.output
    if command == ["sim", "models"]:
        assert "--world" in result.output and "--json" in result.output


def test_the_motor_table_shows_bounds_bindings_and_what_may_change(data: Path) -> None:
    result = runner.invoke(
        app, ["sim", "models", "motor", "--world", "factory", "--data", str(data)]
    )
    assert result.exit_code == 0, result.output
    table = result.stdout
    assert "simulates line-1-motor, line-2-motor" in table
    assert "parameters: change in a what-if with --set" in table
    assert _row(table, "efficiency") == ["efficiency", "1", "0.92", "0.5", "0.995", ""]
    assert _row(table, "rated_power")[-1] == "ratedPower"
    assert _row(table, "speed_setpoint") == [
        "speed_setpoint", "rpm", "1500", "0", "20000", "speedSetpoint", ""
    ]  # fmt: skip
    load = _row(table, "load")
    assert load == ["load", "1", "0", "0", "1.2", "", "pump.shaft_powerviadrivenBy(×0.06667)"]
    assert "pump" not in _row(table, "speed_setpoint")[-1]  # changeable: nothing feeds it

    pump = runner.invoke(app, ["sim", "models", "pump", "--data", str(data)])
    assert pump.exit_code == 0, pump.output
    assert _row(pump.stdout, "speed")[-1] == "motor.speedviadrivenBy"
    assert _row(pump.stdout, "response_time")[-1] == "=10"


def test_json_is_the_document_the_api_answers(data: Path) -> None:
    result = runner.invoke(app, ["sim", "models", "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.stdout)
    with Hub(data) as hub:
        hub.simulation = simulation_spec()
        with TestClient(create_app(hub)) as client:
            assert listed == client.get("/simulation/models").json()
    names = [m["name"] for m in listed["value"]]
    assert names == ["motor", "pump", "tank", "conveyor", "conveyor-flow"]

    one = runner.invoke(app, ["sim", "models", "tank", "--data", str(data), "--json"])
    assert one.exit_code == 0, one.output
    assert json.loads(one.stdout) == listed["value"][2]


def test_an_unknown_model_or_world_is_named_with_exit_1(data: Path) -> None:
    result = runner.invoke(app, ["sim", "models", "fan", "--data", str(data)])
    assert result.exit_code == 1
    assert "SimulationModelNotFound" in result.stderr
    assert "motor, pump, tank, conveyor, conveyor-flow" in result.stderr
    world = runner.invoke(app, ["sim", "models", "--world", "moon", "--data", str(data)])
    assert world.exit_code == 1 and "no world 'moon'" in world.stderr
