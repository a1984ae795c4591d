"""``twinsight calibrate`` and ``twinsight parameters …`` on a data folder with a factory
motor's recorded history: the fit report printed and as JSON, the residual plot, versions
stored, listed and rolled back, and clear errors with exit code 1 that store nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sim.motor_history import record_motor_run
from support import build_factory
from twinsight.cli import app
from twinsight.hub import Hub
from twinsight.scenarios.factory.sim import simulation_spec

runner = CliRunner()
MOTOR = "line-1-motor"
START = datetime(2026, 3, 1, 8, 10, tzinfo=UTC)
END = START + timedelta(hours=2)
WINDOW = ["--from", START.isoformat(), "--to", END.isoformat()]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("calibrate")
    with Hub(folder) as hub:
        build_factory(hub)
        hub.simulation = simulation_spec()
        record_motor_run(
            hub, MOTOR, START, true={"housing_resistance": 0.05}, loads={0: 0.9, 3000: 0.5}
        )
    return folder


def _run(data: Path, *args: str) -> str:
    result = runner.invoke(app, [*args, "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    return result.stdout


def _fails(data: Path, *args: str) -> str:
    result = runner.invoke(app, [*args, "--data-dir", str(data)])
    assert result.exit_code == 1, result.output
    return result.output


@pytest.mark.parametrize(
    "command",
    [
        ["calibrate"],
        ["parameters", "show"],
        ["parameters", "versions"],
        ["parameters", "version"],
        ["parameters", "activate"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output and "--world" in result.output


def test_calibrate_show_list_and_roll_back(data: Path, tmp_path: Path) -> None:
    dry = json.loads(
        _run(data, "calibrate", MOTOR, "--param", "housing_resistance", *WINDOW, "--dry-run",
             "--json")
    )  # fmt: skip
    fit = dry["parameters"]["housing_resistance"]
    assert dry["version"] is None and fit["ci95"][0] <= 0.05 <= fit["ci95"][1]
    assert "never calibrated" in _run(data, "parameters", "show", MOTOR)

    plot = tmp_path / "fit.png"
    printed = _run(
        data, "calibrate", MOTOR, "-p", "housing_resistance", *WINDOW, "--plot", str(plot)
    )
    assert "housing_resistance" in printed and "95% interval" in printed and "RMSE" in printed
    assert "stored as version 1" in printed
    assert plot.read_bytes().startswith(b"\x89PNG")

    shown = _run(data, "parameters", "show", MOTOR)
    assert "calibrated version 1 active" in shown and "calibrated v1" in shown
    as_json = json.loads(_run(data, "parameters", "show", MOTOR, "--json"))
    value = as_json["parameters"]["housing_resistance"]["value"]
    assert value == pytest.approx(0.05, rel=0.02)

    with Hub(data) as hub:  # someone sets a value by hand
        hub.parameters.save(MOTOR, "motor", {"housing_resistance": 0.09}, {}, "manual")
    assert "0.09" in _run(data, "parameters", "show", MOTOR)
    assert "activated again" not in _run(data, "parameters", "versions", MOTOR)

    rolled = _run(data, "parameters", "activate", MOTOR, "1")
    assert "version 1 is active again, as version 3" in rolled
    versions = json.loads(_run(data, "parameters", "versions", MOTOR, "--json"))
    assert [(v["version"], v["source"]) for v in versions] == [
        (1, "calibration"),
        (2, "manual"),
        (3, "rollback"),
    ]
    assert versions[2]["parameters"] == {"housing_resistance": value}
    one = _run(data, "parameters", "version", MOTOR, "1")
    assert "fit over 2026-03-01T08:10:00Z" in one and "RMSE" in one


def test_bad_input_fails_clearly_and_stores_nothing(data: Path) -> None:
    with Hub(data) as hub:
        before = len(hub.parameters.history("line-2-motor", "motor"))
    calibrate = ["calibrate", "line-2-motor", "-p", "housing_resistance"]
    assert "DigitalTwinNotFound" in _fails(data, "calibrate", "nobody", "-p", "x", *WINDOW)
    message = _fails(data, "calibrate", MOTOR, "-p", "thermal_mass", *WINDOW)
    assert "thermal_mass" in message and "housing_resistance" in message
    message = _fails(data, *calibrate, "--from", END.isoformat(), "--to", START.isoformat())
    assert "is not before" in message
    assert "NoHistory" in _fails(data, *calibrate, *WINDOW)  # line 2 recorded nothing
    assert "TwinNotSimulated" in _fails(data, "parameters", "show", "line-1-conveyor")
    assert "ParameterVersionNotFound" in _fails(data, "parameters", "activate", MOTOR, "99")
    assert "write NAME=VALUE" in _fails(data, *calibrate, *WINDOW, "--input", "load")
    with Hub(data) as hub:
        assert len(hub.parameters.history("line-2-motor", "motor")) == before == 0
