"""``twinsight scenario …`` and ``twinsight sweep``: help, a whole what-if session on a data
folder, JSON output, plots written, and clear errors with exit code 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from support import build_factory
from twinsight.cli import app
from twinsight.hub import Hub

runner = CliRunner()
WORLD = ["--world", "sim.whatif_models:spec"]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    with Hub(tmp_path) as hub:
        build_factory(hub)
    return tmp_path


def _run(data: Path, *args: str) -> str:
    result = runner.invoke(app, [*args, *WORLD, "--data-dir", str(data)])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize(
    "command",
    [
        ["scenario"],
        ["scenario", "fork"],
        ["scenario", "run"],
        ["scenario", "list"],
        ["scenario", "show"],
        ["scenario", "compare"],
        ["scenario", "keep"],
        ["scenario", "discard"],
        ["sweep"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
    assert "--world" in result.output or command == ["scenario"]


def test_a_what_if_session(data: Path, tmp_path: Path) -> None:
    sid = _run(data, "scenario", "fork", "--twin", "line-1-motor", "--twin", "line-1-pump",
               "--name", "hotter").strip()  # fmt: skip
    ran = json.loads(
        _run(data, "scenario", "run", sid, "--horizon", "10m", "--step", "5",
             "--set", "line-1-motor.ratedPower=40",
             "--schedule", "line-1-motor.setpoint=0:1000,5m:0", "--json")
    )  # fmt: skip
    assert ran["status"] == "done" and ran["horizon"] == 600.0 and ran["step"] == 5.0
    assert ran["changes"]["schedules"]["line-1-motor"]["setpoint"] == [[0, 1000], [300, 0]]
    by_series = {c["series"]: c for c in ran["comparison"]}
    assert by_series["line-1-pump.flow"]["scenario"]["final"] == 0.0
    assert by_series["line-1-pump.flow"]["baseline"]["final"] == pytest.approx(0.02 * 1480)

    plot = tmp_path / "compare.png"
    table = _run(data, "scenario", "compare", sid, "--plot", str(plot), "-s", "line-1-pump.flow")
    assert "line-1-motor.temperature" in table
    assert plot.read_bytes().startswith(b"\x89PNG")
    listed = json.loads(_run(data, "scenario", "list", "--json"))
    assert [(s["id"], s["name"], s["status"]) for s in listed] == [(sid, "hotter", "done")]
    assert "hotter" in _run(data, "scenario", "show", sid)

    histogram = tmp_path / "sweep.png"
    swept = json.loads(
        _run(data, "sweep", sid, "-p", "line-1-motor.ratedPower=uniform(5, 40)",
             "-p", "line-1-pump.seizeAfter=choice(20, 1e9)", "--runs", "8", "--horizon", "60",
             "-r", "temperature", "--workers", "1", "--lhs", "--plot", str(histogram), "--json")
    )  # fmt: skip
    assert swept["runs"] == 8 and swept["completed"] + swept["failed"] == 8
    assert swept["failed"] == len(swept["failures"]) > 0
    assert all("bearing seized" in f["error"] for f in swept["failures"])
    assert histogram.read_bytes().startswith(b"\x89PNG")

    assert "kept" in _run(data, "scenario", "keep", sid)
    assert "discarded" in _run(data, "scenario", "discard", sid)
    assert json.loads(_run(data, "scenario", "list", "--json")) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["scenario", "show", "nope"], "no scenario 'nope'"),
        (["scenario", "fork", "--twin", "ghost"], "no such twin: ghost"),
        (["scenario", "run", "{id}", "--horizon", "soon"], "is not a duration"),
        (["scenario", "run", "{id}", "--horizon", "60", "--set", "ratedPower=2"], "TWIN.NAME"),
        (["scenario", "run", "{id}", "--horizon", "60", "--set", "line-1-motor.ratedPower=-1"],
         "outside its bounds"),
        (["sweep", "{id}", "-p", "line-1-motor.ratedPower=beta(1, 2)"], "unknown distribution"),
    ],
)  # fmt: skip
def test_errors_are_named_and_exit_1(data: Path, args: list[str], message: str) -> None:
    sid = _run(data, "scenario", "fork").strip()
    result = runner.invoke(app, [*(a.format(id=sid) for a in args), *WORLD, "-d", str(data)])
    assert result.exit_code == 1, result.output
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_an_unknown_world_is_named(data: Path) -> None:
    result = runner.invoke(app, ["scenario", "list", "--world", "atlantis", "-d", str(data)])
    assert result.exit_code == 1
    assert "no world 'atlantis'" in " ".join(result.output.split())
