"""``GET /simulation/models``: the factory world's catalogue over HTTP — units, bounds and
defaults, bindings, couplings that feed inputs, the twins simulated — and that the names it
lists are exactly the ones a what-if run accepts (and refuses) through the scenario API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from support import api_error, build_factory
from twinsight.api import create_app
from twinsight.core.clock import ManualClock
from twinsight.hub import Hub
from twinsight.scenarios.factory.sim import simulation_spec

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
LINE1 = ["line-1-motor", "line-1-pump", "line-1-tank"]


@pytest.fixture
def hub() -> Iterator[Hub]:
    with Hub(clock=ManualClock(T0)) as hub:
        build_factory(hub)
        yield hub


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    hub.simulation = simulation_spec()
    with TestClient(create_app(hub)) as client:
        yield client


def _by_name(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in items}


def test_the_factory_catalogue_lists_units_bounds_bindings_and_fed_inputs(
    client: TestClient,
) -> None:
    response = client.get("/simulation/models")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["step"] == 60.0 and "motor → pump → tank" in body["description"]
    models = _by_name(body["value"])
    assert list(models) == ["motor", "pump", "tank", "conveyor", "conveyor-flow"]

    motor = models["motor"]
    assert motor["description"].startswith("electric motor")
    efficiency = _by_name(motor["parameters"])["efficiency"]
    assert efficiency == {
        "name": "efficiency",
        "unit": "1",
        "default": 0.92,
        "min": 0.5,
        "max": 0.995,
        "description": "efficiency at rated load",
        "changeable": True,
    }
    assert _by_name(motor["parameters"])["rated_power"]["unit"] == "kW"
    setpoint = _by_name(motor["inputs"])["speed_setpoint"]
    assert setpoint["changeable"] is True and setpoint["fedBy"] is None
    assert (setpoint["unit"], setpoint["min"], setpoint["max"]) == ("rpm", 0.0, 20000.0)
    load = _by_name(motor["inputs"])["load"]
    assert load["changeable"] is False
    assert load["fedBy"] == "pump.shaft_power via drivenBy (× 0.06667)"
    # unbounded states and outputs have no bound (JSON has no infinity)
    assert _by_name(motor["states"])["winding_temperature"]["max"] is None
    speed_out = _by_name(motor["outputs"])["speed"]
    assert speed_out["feeds"] == ["pump.speed via drivenBy"] and speed_out["recorded"] is True
    assert _by_name(motor["outputs"])["power"]["recorded"] is False

    (binding,) = motor["bindings"]
    assert binding["dtdlModel"] == "dtmi:twinsight:factory:Motor;1" and binding["fleet"] is True
    assert binding["parameters"] == {"rated_power": "property:ratedPower"}
    assert binding["inputs"]["speed_setpoint"] == "property:speedSetpoint"
    assert binding["states"]["winding_temperature"] == "telemetry:windingTemperature"
    assert binding["twins"] == motor["twins"] == ["line-1-motor", "line-2-motor"]
    assert motor["fleetFactory"] is True and motor["problems"] == []

    pump_speed = _by_name(models["pump"]["inputs"])["speed"]
    assert pump_speed["changeable"] is False and pump_speed["fedBy"] == "motor.speed via drivenBy"
    assert models["tank"]["bindings"][0]["values"] == {"valve_coefficient": 60.0}
    # in the catalogue, but no binding of this spec uses it
    assert models["conveyor"]["bindings"] == [] and models["conveyor"]["twins"] == []

    one = client.get("/simulation/models/pump")
    assert one.status_code == 200 and one.json() == models["pump"]


def test_an_unknown_model_is_a_404_naming_the_known_ones(client: TestClient) -> None:
    message = api_error(client.get("/simulation/models/fan"), 404, "SimulationModelNotFound")
    assert "'fan'" in message
    assert "motor, pump, tank, conveyor, conveyor-flow" in message


def test_without_a_simulated_world_the_routes_say_so(hub: Hub) -> None:
    with TestClient(create_app(hub)) as client:
        for path in ("/simulation/models", "/simulation/models/motor"):
            message = api_error(client.get(path), 409, "NoSimulation")
            assert "no world is simulated on this hub" in message


def test_the_listed_names_are_what_a_what_if_accepts_and_refuses(client: TestClient) -> None:
    models = _by_name(client.get("/simulation/models").json()["value"])
    sid = client.post("/scenarios", json={"twins": LINE1}).json()["id"]
    twin_of = {"motor": "line-1-motor", "pump": "line-1-pump", "tank": "line-1-tank"}

    # Every changeable parameter and input listed, at its listed default, is accepted ...
    parameters: dict[str, dict[str, float]] = {}
    inputs: dict[str, dict[str, float]] = {}
    for model, twin in twin_of.items():
        for p in models[model]["parameters"]:
            assert p["changeable"] is True
            parameters.setdefault(twin, {})[p["name"]] = p["default"]
        for i in models[model]["inputs"]:
            if i["changeable"]:
                inputs.setdefault(twin, {})[i["name"]] = i["default"]
    # ... and a listed parameter changed within its listed bounds changes the run.
    efficiency = _by_name(models["motor"]["parameters"])["efficiency"]
    parameters["line-1-motor"]["efficiency"] = efficiency["min"]
    for name in ("running", "speed_setpoint"):  # keep the motor running as forked
        del inputs["line-1-motor"][name]
    changes = {"parameters": parameters, "inputs": inputs}
    ran = client.post(f"/scenarios/{sid}/run", json={"horizon": 1800, "changes": changes})
    assert ran.status_code == 200, ran.text
    assert ran.json()["status"] == "done"
    by_series = {c["series"]: c for c in ran.json()["comparison"]}
    temperature = by_series["line-1-motor.temperature"]
    assert temperature["scenario"]["final"] > temperature["baseline"]["final"]

    # Every input listed as fed is refused, each named with the coupling that feeds it.
    fed = {
        (twin, i["name"]): i["fedBy"]
        for model, twin in twin_of.items()
        for i in models[model]["inputs"]
        if not i["changeable"]
    }
    assert set(fed) == {
        ("line-1-motor", "load"),
        ("line-1-pump", "speed"),
        ("line-1-tank", "inflow"),
    }
    refused: dict[str, dict[str, float]] = {}
    for twin, name in fed:
        refused.setdefault(twin, {})[name] = 0.0
    response = client.post(
        f"/scenarios/{sid}/run", json={"horizon": 600, "changes": {"inputs": refused}}
    )
    message = api_error(response, 422, "InvalidScenario")
    details = response.json()["error"]["details"]
    assert len(details) == len(fed)
    for twin, name in fed:
        assert f"{twin}.{name} is fed by" in message


def test_reading_the_catalogue_needs_the_read_scope(hub: Hub) -> None:
    hub.simulation = simulation_spec()
    token = hub.tokens.create("viewer", ["read"])
    with TestClient(create_app(hub, require_auth=True)) as client:
        api_error(client.get("/simulation/models"), 401, "Unauthorized")
        allowed = client.get(
            "/simulation/models/motor", headers={"Authorization": f"Bearer {token}"}
        )
        assert allowed.status_code == 200 and allowed.json()["name"] == "motor"
