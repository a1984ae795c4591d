"""FmuModel against FMUs built here: a first-order lag in C (FMI 2.0 and 3.0, Model Exchange
and Co-Simulation in one FMU) and a leaky tank written in Python (pythonfmu, pythonfmu3).

Results are checked against the lag's analytic solution, against fmpy's own simulate_fmu on
the same FMU, and against the tank's recurrence; then snapshots, parameters, and every way an
FMU can be broken.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import fmpy
import pytest

from sim.fmus.build import lag_fmu, tank_fmu, with_platforms_renamed, without_member
from twinsight.core.errors import SimulationError
from twinsight.sim.fmu import FmuModel, FmuSnapshot, Kind
from twinsight.sim.model import Snapshot

VERSIONS = (2, 3)
KINDS: tuple[Kind, ...] = ("co-simulation", "model-exchange")
PLATFORM = {2: fmpy.platform, 3: fmpy.platform_tuple}


@pytest.fixture(scope="session")
def fmus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("fmus")
    built = {}
    for v in VERSIONS:
        built[f"lag{v}"] = lag_fmu(v, cache=folder)
        built[f"lag{v}-faults"] = lag_fmu(v, faults=True, cache=folder)
        built[f"tank{v}"] = tank_fmu(v, cache=folder)
    return built


@pytest.fixture
def broken(tmp_path: Path) -> Path:
    return tmp_path


def lag(y0: float, target: float, tau: float, t: float) -> float:
    """The analytic step response of the lag: x(t) = target + (x0 - target) e^(-t/tau)."""
    return target + (y0 - target) * math.exp(-t / tau)


# -- results ------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("version", VERSIONS)
def test_the_lag_follows_its_analytic_solution(
    fmus: dict[str, Path], version: int, kind: Kind
) -> None:
    model = FmuModel(
        fmus[f"lag{version}"], kind=kind, parameters={"k": 1.5, "tau": 2.0}, step_size=0.01
    )
    model.set_inputs({"u": 0.8})
    # co-simulation steps with the exact solution; RK4 at h = 0.01 s is within 1e-9 of it
    tolerance = 1e-12 if kind == "co-simulation" else 1e-9
    for n in range(1, 21):
        model.advance(0.25)
        assert model.outputs()["y"] == pytest.approx(
            lag(0.0, 1.2, 2.0, 0.25 * n), rel=tolerance, abs=tolerance
        )
    # an input step: the lag heads for the new target from where it is
    y, t0 = model.outputs()["y"], model.time
    model.set_inputs({"u": -0.5})
    for _ in range(8):
        model.advance(0.5)
    expected = lag(y, -0.75, 2.0, model.time - t0)
    assert model.outputs()["y"] == pytest.approx(expected, rel=tolerance, abs=tolerance)
    model.close()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("version", VERSIONS)
def test_the_lag_matches_fmpy_simulate_fmu(fmus: dict[str, Path], version: int, kind: Kind) -> None:
    start = {"k": 3.0, "tau": 0.7, "x0": 0.5, "level": 1.8, "u": 0.9}
    fmi_type = "CoSimulation" if kind == "co-simulation" else "ModelExchange"
    reference = fmpy.simulate_fmu(
        str(fmus[f"lag{version}"]),
        fmi_type=fmi_type,
        start_values=start,
        stop_time=4.0,
        output_interval=0.1,
        output=["y", "above"],
        record_events=False,
    )
    model = FmuModel(
        fmus[f"lag{version}"],
        kind=kind,
        parameters={n: start[n] for n in ("k", "tau", "x0", "level")},
        step_size=0.005,
    )
    model.set_inputs({"u": start["u"]})
    # CVode in fmpy runs at relative tolerance 1e-5; co-simulation is the same exact step
    tolerance = 1e-12 if kind == "co-simulation" else 1e-4
    crossing = -0.7 * math.log((1.8 - 2.7) / (0.5 - 2.7))  # y = level, analytically
    for row in reference[1:]:
        model.advance(0.1)
        assert model.time == pytest.approx(row["time"])
        assert model.outputs()["y"] == pytest.approx(row["y"], rel=tolerance, abs=tolerance)
        if abs(model.time - crossing) > 0.1:  # the event lies in a 0.1 s output interval
            assert model.outputs()["above"] == row["above"] == float(model.time > crossing)
    model.close()


def test_a_state_event_is_found_within_one_sub_step(fmus: dict[str, Path]) -> None:
    model = FmuModel(fmus["lag2"], kind="model-exchange", step_size=0.01)
    crossing = -math.log(1 - 1.0 / 2.0)  # k=2, u=1, tau=1: y reaches level 1 at ln 2
    switched = None
    while switched is None and model.time < 2:
        model.advance(0.001)
        if model.outputs()["above"] == 1.0:
            switched = model.time
    assert switched is not None
    assert crossing <= switched <= crossing + 0.01 + 1e-9
    model.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_a_pythonfmu_tank_matches_its_recurrence_and_fmpy(
    fmus: dict[str, Path], version: int
) -> None:
    path = fmus[f"tank{version}"]
    model = FmuModel(path, parameters={"leak": 0.2, "capacity": 2.5})
    assert [v.name for v in model.description.outputs] == ["level", "steps", "full"]
    model.set_inputs({"inflow": 0.7})
    level = 1.0
    reference = fmpy.simulate_fmu(
        str(path),
        start_values={"leak": 0.2, "capacity": 2.5, "inflow": 0.7},
        stop_time=10.0,
        output_interval=0.5,
        output=["level", "steps", "full"],
    )
    for n, row in enumerate(reference[1:], start=1):
        model.advance(0.5)
        level += 0.5 * (0.7 - 0.2 * level)
        out = model.outputs()
        assert out == pytest.approx({"level": level, "steps": float(n), "full": out["full"]})
        assert out["full"] == float(level > 2.5)
        assert out["level"] == pytest.approx(row["level"], rel=1e-12)
        assert (out["steps"], out["full"]) == (float(row["steps"]), float(row["full"]))
    model.close()


# -- description, parameters, snapshots ---------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
def test_units_starts_and_bounds_come_from_the_model_description(
    fmus: dict[str, Path], version: int
) -> None:
    model = FmuModel(fmus[f"lag{version}"], kind="model-exchange")
    d = model.description
    tau = d.parameter("tau")
    assert (tau.unit, tau.start, tau.min, tau.max) == ("s", 1.0, 0.001, 1000.0)
    assert d.parameter("k").start == 2.0
    assert d.input("u").unit == "m"
    assert [v.name for v in d.states] == ["x"]
    assert [v.name for v in d.outputs] == ["y", "above"]
    with pytest.raises(SimulationError, match="outside its bounds"):
        model.set_parameters({"tau": 0.0})
    model.close()
    assert FmuModel(fmus[f"lag{version}"], kind="co-simulation").state() == {}


@pytest.mark.parametrize("kind", KINDS)
def test_tunable_parameters_change_mid_run_fixed_ones_only_before_the_first_step(
    fmus: dict[str, Path], kind: Kind
) -> None:
    model = FmuModel(fmus["lag3"], kind=kind, step_size=0.01)
    model.set_parameters({"tau": 4.0, "x0": 1.0})  # fixed: the FMU is initialised again
    assert model.outputs()["y"] == 1.0
    model.advance(1.0)
    assert model.outputs()["y"] == pytest.approx(lag(1.0, 2.0, 4.0, 1.0), rel=1e-9)
    with pytest.raises(SimulationError, match="'tau' is fixed"):
        model.set_parameters({"tau": 2.0})
    assert model.parameters()["tau"] == 4.0
    y = model.outputs()["y"]
    model.set_parameters({"k": -1.0})  # tunable: the target moves from here on
    model.advance(1.0)
    assert model.outputs()["y"] == pytest.approx(lag(y, -1.0, 4.0, 1.0), rel=1e-9)
    model.close()


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("version", VERSIONS)
def test_a_snapshot_restores_the_fmu_state_including_discrete_states(
    fmus: dict[str, Path], version: int, kind: Kind
) -> None:
    model = FmuModel(fmus[f"lag{version}"], kind=kind, step_size=0.01)
    model.advance(0.5)  # y = 2(1 - e^-0.5) = 0.79 < level 1: not above yet
    fork = model.snapshot()
    assert isinstance(fork, FmuSnapshot) and fork.fmu_state is not None
    before = model.outputs()
    model.set_inputs({"u": 2.0})
    for _ in range(4):
        model.advance(0.5)
    assert model.outputs()["above"] == 1.0
    model.restore(fork)
    assert (model.time, model.outputs(), model.inputs()) == (0.5, before, {"u": 1.0})
    model.advance(0.5)
    assert model.outputs()["y"] == pytest.approx(lag(0.0, 2.0, 1.0, 1.0), rel=1e-9)
    model.close()


def test_a_snapshot_cannot_be_restored_into_another_instance(fmus: dict[str, Path]) -> None:
    first = FmuModel(fmus["lag2"], name="lag")
    second = FmuModel(fmus["lag2"], name="lag")
    first.advance(1.0)
    with pytest.raises(SimulationError, match="another model instance"):
        second.restore(first.snapshot())
    first.close()
    second.close()


@pytest.mark.parametrize("version", VERSIONS)
def test_a_snapshot_from_before_the_first_step_starts_another_instance(
    fmus: dict[str, Path], version: int
) -> None:
    """How a what-if fork of a twin bound to a co-simulation FMU starts its runs: the fork
    is a snapshot before any step, kept as plain values and restored into new instances."""
    path = fmus[f"lag{version}"]
    forked = FmuModel(path, name="lag", kind="co-simulation", parameters={"k": 1.5, "tau": 2.0})
    forked.set_inputs({"u": 0.8})
    taken = forked.snapshot()
    plain = Snapshot(taken.model, taken.time, taken.parameters, taken.state, taken.inputs)
    for snapshot in (taken, plain):
        run = FmuModel(path, name="lag", kind="co-simulation")  # tau 1 until restored
        run.restore(snapshot)
        assert run.parameters()["tau"] == 2.0 and run.inputs() == {"u": 0.8}
        run.advance(1.0)
        assert run.outputs()["y"] == pytest.approx(lag(0.0, 1.2, 2.0, 1.0), rel=1e-12)
        with pytest.raises(SimulationError, match="before the first step"):
            run.restore(plain)  # once stepped, its state lives only inside the FMU
        run.close()
    forked.close()


def test_a_co_simulation_fmu_without_fmu_state_refuses_to_restore(
    fmus: dict[str, Path],
) -> None:
    model = FmuModel(fmus["tank2"])
    fork = model.snapshot()
    model.advance(1.0)
    with pytest.raises(SimulationError, match="canGetAndSetFMUstate") as info:
        model.restore(fork)
    assert str(fmus["tank2"]) in str(info.value)
    model.close()


def test_a_closed_model_refuses_work_and_closes_twice(fmus: dict[str, Path]) -> None:
    model = FmuModel(fmus["lag3"])
    fork = model.snapshot()  # its FMU state is freed with the model
    model.close()
    model.close()
    with pytest.raises(SimulationError, match="closed"):
        model.set_parameters({"k": 1.0})
    with pytest.raises(SimulationError, match="closed"):
        model.restore(fork)


# -- broken FMUs ----------------------------------------------------------------------------
def test_a_file_that_is_not_a_zip_is_refused(broken: Path) -> None:
    path = broken / "text.fmu"
    path.write_text("not an FMU")
    with pytest.raises(SimulationError, match="not a zip archive") as info:
        FmuModel(path)
    assert str(path) in str(info.value)


def test_a_truncated_fmu_is_refused(fmus: dict[str, Path], broken: Path) -> None:
    data = fmus["lag2"].read_bytes()
    path = broken / "truncated.fmu"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(SimulationError, match=r"truncated\.fmu.*not a zip archive"):
        FmuModel(path)


def test_a_corrupt_member_is_refused(fmus: dict[str, Path], broken: Path) -> None:
    path = broken / "corrupt.fmu"
    with zipfile.ZipFile(fmus["lag2"]) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            target.writestr(item.filename, source.read(item))  # stored, not compressed
    data = bytearray(path.read_bytes())
    offset = data.index(b"<fmiModelDescription") + 40
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(SimulationError, match=r"corrupt\.fmu.*bad checksum"):
        FmuModel(path)


def test_an_fmu_without_model_description_is_refused(fmus: dict[str, Path], broken: Path) -> None:
    path = without_member(fmus["lag3"], broken, "modelDescription.xml")
    with pytest.raises(SimulationError, match=r"no modelDescription\.xml") as info:
        FmuModel(path)
    assert str(path) in str(info.value)


def test_an_unsupported_fmi_version_is_refused(fmus: dict[str, Path], broken: Path) -> None:
    path = broken / "fmi1.fmu"
    with zipfile.ZipFile(fmus["lag2"]) as source, zipfile.ZipFile(path, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "modelDescription.xml":
                data = data.replace(b'fmiVersion="2.0"', b'fmiVersion="1.0"')
            target.writestr(item, data)
    with pytest.raises(SimulationError, match=r"fmi1\.fmu.*FMI version '1\.0' is not supported"):
        FmuModel(path)


@pytest.mark.parametrize(("version", "windows"), [(2, "win64"), (3, "x86_64-windows")])
def test_an_fmu_without_a_binary_for_this_platform_is_refused(
    fmus: dict[str, Path], broken: Path, version: int, windows: str
) -> None:
    path = with_platforms_renamed(fmus[f"lag{version}"], broken, {PLATFORM[version]: windows})
    with pytest.raises(SimulationError, match="no binary for this platform") as info:
        FmuModel(path)
    assert str(path) in str(info.value) and windows in str(info.value)


def test_a_kind_the_fmu_does_not_offer_is_refused(fmus: dict[str, Path]) -> None:
    with pytest.raises(SimulationError, match=r"offers no model-exchange.*co-simulation"):
        FmuModel(fmus["tank3"], kind="model-exchange")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("version", VERSIONS)
def test_an_error_status_fails_the_step_and_a_snapshot_recovers(
    fmus: dict[str, Path], version: int, kind: Kind
) -> None:
    path = fmus[f"lag{version}-faults"]
    model = FmuModel(path, kind=kind, step_size=0.1)
    model.advance(1.0)
    fork = model.snapshot()
    model.set_inputs({"u": 5000.0})
    with pytest.raises(SimulationError, match=r"returned Error from fmi[23]\w+") as info:
        model.advance(1.0)
    assert str(path) in str(info.value)
    assert "out of the range" in str(info.value)  # what the FMU logged
    assert model.time == 1.0
    with pytest.raises(SimulationError, match="returned Error"):
        model.advance(1.0)  # refused until restored
    model.restore(fork)
    model.advance(1.0)
    assert model.outputs()["y"] == pytest.approx(lag(0.0, 2.0, 1.0, 2.0), rel=1e-6)
    model.close()


@pytest.mark.parametrize("kind", KINDS)
def test_a_nan_output_fails_the_step(fmus: dict[str, Path], kind: Kind) -> None:
    model = FmuModel(fmus["lag2-faults"], kind=kind)
    model.set_inputs({"u": -5000.0})
    with pytest.raises(SimulationError, match="NaN for output 'y'") as info:
        model.advance(0.5)
    assert info.value.code == "SimulationDiverged"
    model.close()


def test_a_failing_fmu_does_not_disturb_other_models(fmus: dict[str, Path]) -> None:
    failing = FmuModel(fmus["lag2-faults"], name="failing")
    sibling = FmuModel(fmus["lag2-faults"], name="sibling")  # same FMU, own instance
    other = FmuModel(fmus["lag3"], kind="model-exchange", step_size=0.01)
    failing.set_inputs({"u": 5000.0})
    for n in range(1, 4):
        with pytest.raises(SimulationError, match="failing"):
            failing.advance(1.0)
        sibling.advance(1.0)
        other.advance(1.0)
        assert sibling.outputs()["y"] == pytest.approx(lag(0.0, 2.0, 1.0, n), rel=1e-12)
        assert other.outputs()["y"] == pytest.approx(lag(0.0, 2.0, 1.0, n), rel=1e-9)
    for model in (failing, sibling, other):
        model.close()
