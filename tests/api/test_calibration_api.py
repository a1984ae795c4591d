"""/twins/{id}/calibrations and /twins/{id}/parameters over plain HTTP, on the factory's
motor model: a calibration from recorded history finds the true parameter, is stored as a
version that a what-if fork then runs with, can be rolled back, and every bad request is
refused with a clear error that stores nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from sim.motor_history import record_motor_run
from support import api_error, build_factory
from twinsight.api import create_app
from twinsight.core.clock import ManualClock
from twinsight.hub import Hub
from twinsight.scenarios.factory.estimation import estimators
from twinsight.scenarios.factory.sim import simulation_spec

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
START = T0 + timedelta(minutes=10)
END = START + timedelta(hours=2)
MOTOR = "line-1-motor"
TRUE_RESISTANCE = 0.05  # K/W; the model's default is 0.035
WINDOW = {"from": START.isoformat(), "to": END.isoformat()}


@pytest.fixture
def hub() -> Iterator[Hub]:
    clock = ManualClock(T0)
    with Hub(clock=clock) as hub:
        build_factory(hub)
        hub.recorder.flush()  # the twins' properties as built, in history
        hub.simulation = replace(simulation_spec(), estimators=estimators())
        record_motor_run(
            hub,
            MOTOR,
            START,
            true={"housing_resistance": TRUE_RESISTANCE},
            loads={0: 0.9, 3000: 0.5},
            seconds=(END - START).total_seconds(),
        )
        clock.advance((END - T0).total_seconds() + 300)
        yield hub


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub)) as client:
        yield client


def _fork_value(hub: Hub, scenario_id: str, twin: str, parameter: str) -> float:
    fork = hub.scenarios.fork_of(scenario_id)
    member, prefix = fork.locations[twin]
    return fork.snapshots[member].parameters[prefix + parameter]


def test_calibration_finds_the_true_parameter_and_a_fork_runs_with_it(
    client: TestClient, hub: Hub
) -> None:
    before = client.post("/scenarios", json={"twins": [MOTOR]}).json()["id"]
    assert _fork_value(hub, before, MOTOR, "housing_resistance") == pytest.approx(0.035)

    # The factory's defaults: outputs, inputs and start state from the motor's binding, the
    # load from the live estimator's virtual sensor.
    made = client.post(
        f"/twins/{MOTOR}/calibrations", json={"parameters": ["housing_resistance"], **WINDOW}
    )
    assert made.status_code == 201, made.text
    report = made.json()
    fit = report["parameters"]["housing_resistance"]
    assert fit["ci95"][0] <= TRUE_RESISTANCE <= fit["ci95"][1]
    assert fit["value"] == pytest.approx(TRUE_RESISTANCE, rel=0.02)
    assert fit["initial"] == pytest.approx(0.035) and fit["unit"] == "K/W"
    assert report["version"] == 1 and report["applied"] is True and report["converged"]
    assert report["rmse"]["temperature"] == pytest.approx(0.3, rel=0.2)  # the sensor noise
    assert report["r2"]["temperature"] > 0.99
    residuals = report["residuals"]["temperature"]
    assert residuals["count"] == 720 and abs(residuals["mean"]) < 0.1
    assert report["series"]["inputs"]["load"].startswith("telemetry:load")
    assert report["window"] == {
        "from": "2026-03-01T08:10:00Z",
        "to": "2026-03-01T10:10:00Z",
        "step": 10.0,
    }

    now = client.get(f"/twins/{MOTOR}/parameters").json()
    assert now["activeVersion"] == 1 and now["model"] == "motor"
    resistance = now["parameters"]["housing_resistance"]
    assert resistance["source"] == "calibrated" and resistance["version"] == 1
    assert resistance["value"] == fit["value"]
    assert now["parameters"]["winding_resistance"]["source"] == "default"
    assert now["parameters"]["rated_power"]["source"] == "twin"

    versions = client.get(f"/twins/{MOTOR}/parameters/versions").json()["value"]
    assert [v["version"] for v in versions] == [1]
    assert versions[0]["parameters"] == {"housing_resistance": fit["value"]}
    assert versions[0]["source"] == "calibration"
    assert versions[0]["summary"]["window"]["from"] == "2026-03-01T08:10:00Z"
    assert client.get(f"/twins/{MOTOR}/parameters/versions/1").json() == versions[0]

    after = client.post("/scenarios", json={"twins": [MOTOR]}).json()["id"]
    assert _fork_value(hub, after, MOTOR, "housing_resistance") == fit["value"]
    other = client.post("/scenarios", json={"twins": ["line-2-motor"]}).json()["id"]
    assert _fork_value(hub, other, "line-2-motor", "housing_resistance") == pytest.approx(0.035)
    # a fork of the past runs with the parameters the twin had then
    past = client.post("/scenarios", json={"twins": [MOTOR], "at": END.isoformat()}).json()["id"]
    assert _fork_value(hub, past, MOTOR, "housing_resistance") == pytest.approx(0.035)


def test_a_dry_run_reports_and_stores_nothing(client: TestClient) -> None:
    dry = client.post(
        f"/twins/{MOTOR}/calibrations",
        json={
            "parameters": ["housing_resistance"],
            **WINDOW,
            "outputs": ["temperature"],
            "inputs": {"load": 0.7},  # held: wrong on purpose, the fit shows it
            "apply": False,
        },
    )
    assert dry.status_code == 200, dry.text
    body = dry.json()
    assert body["version"] is None and body["applied"] is False
    assert (
        list(body["rmse"]) == ["temperature"] and body["series"]["inputs"]["load"] == "held at 0.7"
    )
    assert body["rmse"]["temperature"] > 0.6  # a constant load cannot explain the data
    assert client.get(f"/twins/{MOTOR}/parameters/versions").json()["value"] == []
    assert client.get(f"/twins/{MOTOR}/parameters").json()["activeVersion"] is None


def test_rollback_saves_an_old_version_again(client: TestClient, hub: Hub) -> None:
    hub.parameters.save(
        MOTOR, "motor", {"housing_resistance": 0.05}, {"why": "bench test"}, "manual"
    )
    hub.parameters.save(MOTOR, "motor", {"housing_resistance": 0.08}, {"why": "guess"}, "manual")
    assert (
        client.get(f"/twins/{MOTOR}/parameters").json()["parameters"]["housing_resistance"]["value"]
        == 0.08
    )

    rolled = client.post(f"/twins/{MOTOR}/parameters/versions/1/activate")
    assert rolled.status_code == 201, rolled.text
    made = rolled.json()
    assert made["version"] == 3 and made["source"] == "rollback"
    assert made["parameters"] == {"housing_resistance": 0.05}
    assert made["summary"]["activatedFrom"] == 1
    now = client.get(f"/twins/{MOTOR}/parameters").json()
    assert now["activeVersion"] == 3
    assert now["parameters"]["housing_resistance"] == {
        **now["parameters"]["housing_resistance"],
        "value": 0.05,
        "version": 3,
    }
    fork = client.post("/scenarios", json={"twins": [MOTOR]}).json()["id"]
    assert _fork_value(hub, fork, MOTOR, "housing_resistance") == 0.05
    assert [
        v["version"] for v in client.get(f"/twins/{MOTOR}/parameters/versions").json()["value"]
    ] == [1, 2, 3]

    assert "no version 9" in api_error(
        client.post(f"/twins/{MOTOR}/parameters/versions/9/activate"),
        404,
        "ParameterVersionNotFound",
    )
    api_error(client.get(f"/twins/{MOTOR}/parameters/versions/9"), 404, "ParameterVersionNotFound")
    assert len(client.get(f"/twins/{MOTOR}/parameters/versions").json()["value"]) == 3


def test_bad_requests_are_refused_clearly_and_store_nothing(client: TestClient, hub: Hub) -> None:
    url = f"/twins/{MOTOR}/calibrations"
    good = {"parameters": ["housing_resistance"], **WINDOW}

    message = api_error(
        client.post("/twins/no-such-motor/calibrations", json=good), 404, "DigitalTwinNotFound"
    )
    assert "no-such-motor" in message
    api_error(client.get("/twins/no-such-motor/parameters"), 404, "DigitalTwinNotFound")

    message = api_error(
        client.post(url, json={**good, "parameters": ["thermal_mass"]}), 400, "InvalidArgument"
    )
    assert "'thermal_mass'" in message and "housing_resistance" in message  # names the known ones

    message = api_error(
        client.post(url, json={**good, "from": END.isoformat(), "to": START.isoformat()}),
        400,
        "InvalidArgument",
    )
    assert "from 2026-03-01T10:10:00+00:00 is not before to 2026-03-01T08:10:00+00:00" in message

    early = {
        "from": (T0 - timedelta(days=2)).isoformat(),
        "to": (T0 - timedelta(days=1)).isoformat(),
    }
    message = api_error(client.post(url, json={**good, **early}), 422, "NoHistory")
    assert MOTOR in message and "nothing to fit" in message

    message = api_error(
        client.post(url, json={"parameters": ["housing_resistance"]}), 400, "InvalidArgument"
    )
    assert '"from"' in message
    message = api_error(
        client.post(url, json={**good, "outputs": {"temperature": 3}}), 400, "InvalidArgument"
    )
    assert "outputs.temperature" in message
    message = api_error(client.post(url, json={**good, "bogus": 1}), 400, "InvalidArgument")
    assert "bogus" in message

    message = api_error(
        client.post("/twins/line-1-conveyor/calibrations", json=good), 409, "TwinNotSimulated"
    )
    assert "line-1-conveyor" in message and "Conveyor" in message
    api_error(client.get("/twins/line-1-conveyor/parameters"), 409, "TwinNotSimulated")

    # Without the live estimator's recorded load, the motor's load (fed by its pump) is
    # not on the twin: the request must say what it was.
    hub.simulation = replace(simulation_spec(), estimators=())
    message = api_error(client.post(url, json=good), 400, "InvalidArgument")
    assert "'load'" in message and '"inputs"' in message

    hub.simulation = None
    api_error(client.post(url, json=good), 409, "NoSimulation")
    api_error(client.get(f"/twins/{MOTOR}/parameters"), 409, "NoSimulation")

    assert hub.parameters.history(MOTOR, "motor") == []


def test_reading_parameters_needs_read_and_calibrating_needs_write(hub: Hub) -> None:
    read = hub.tokens.create("reader", ["read"])
    write = hub.tokens.create("writer", ["write"])
    with TestClient(create_app(hub, require_auth=True)) as client:
        as_reader = {"Authorization": f"Bearer {read}"}
        as_writer = {"Authorization": f"Bearer {write}"}
        assert client.get(f"/twins/{MOTOR}/parameters", headers=as_reader).status_code == 200
        api_error(client.get(f"/twins/{MOTOR}/parameters"), 401, "Unauthorized")
        body = {"parameters": ["housing_resistance"], **WINDOW, "apply": False}
        url = f"/twins/{MOTOR}/calibrations"
        api_error(client.post(url, json=body, headers=as_reader), 403, "Forbidden")
        activate = f"/twins/{MOTOR}/parameters/versions/1/activate"
        api_error(client.post(activate, headers=as_reader), 403, "Forbidden")
        api_error(client.post(activate, headers=as_writer), 404, "ParameterVersionNotFound")
