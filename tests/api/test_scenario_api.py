"""The /scenarios and /sweeps routes over plain HTTP: fork, run, compare, plot, keep and
discard; errors in the ADT format; scopes; and a hub that simulates no world."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from sim import whatif_models
from support import api_error, build_factory
from twinsight.api import create_app
from twinsight.core.clock import ManualClock
from twinsight.hub import Hub

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
LINE1 = ["line-1-motor", "line-1-pump"]


@pytest.fixture
def world() -> Iterator[Hub]:
    with Hub(clock=ManualClock(T0)) as hub:
        build_factory(hub)
        hub.simulation = whatif_models.spec()
        yield hub


@pytest.fixture
def client(world: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(world)) as client:
        yield client


def test_fork_run_compare_plot_keep_and_discard(client: TestClient) -> None:
    created = client.post("/scenarios", json={"name": "uprate", "twins": LINE1})
    assert created.status_code == 201, created.text
    scenario = created.json()
    assert scenario["status"] == "created" and scenario["twins"] == LINE1
    assert scenario["forkedAt"] == "2026-03-01T08:00:00Z"
    sid = scenario["id"]

    changes = {"parameters": {"line-1-motor": {"ratedPower": 35.0}}}
    ran = client.post(f"/scenarios/{sid}/run", json={"horizon": 300, "step": 5, "changes": changes})
    assert ran.status_code == 200, ran.text
    body = ran.json()
    assert body["status"] == "done" and body["changes"]["parameters"] == changes["parameters"]
    by_series = {c["series"]: c for c in body["comparison"]}
    motor = by_series["line-1-motor.temperature"]
    assert motor["scenario"]["final"] > motor["baseline"]["final"]
    assert motor["maxAbsDifference"] == pytest.approx(
        motor["scenario"]["final"] - motor["baseline"]["final"]
    )
    assert by_series["line-1-pump.flow"]["maxAbsDifference"] == 0.0

    assert client.get(f"/scenarios/{sid}/comparison").json()["value"] == body["comparison"]
    assert [s["id"] for s in client.get("/scenarios").json()["value"]] == [sid]
    plot = client.get(f"/scenarios/{sid}/plot", params={"series": "line-1-motor.temperature"})
    assert plot.status_code == 200 and plot.headers["content-type"] == "image/png"
    assert plot.content.startswith(b"\x89PNG") and len(plot.content) > 5_000
    assert "torque" in api_error(
        client.get(f"/scenarios/{sid}/plot", params={"series": "line-1-motor.torque"}),
        400,
        "InvalidArgument",
    )

    assert client.post(f"/scenarios/{sid}/keep").json()["status"] == "kept"
    api_error(client.post(f"/scenarios/{sid}/run", json={"horizon": 10}), 409, "ScenarioKept")
    assert client.delete(f"/scenarios/{sid}").status_code == 204
    api_error(client.get(f"/scenarios/{sid}"), 404, "ScenarioNotFound")


def test_a_scenario_that_cannot_run_is_a_422_and_stays_failed(client: TestClient) -> None:
    sid = client.post("/scenarios", json={"twins": LINE1}).json()["id"]
    bad = {"parameters": {"line-1-motor": {"ratedPower": -1}}}
    message = api_error(
        client.post(f"/scenarios/{sid}/run", json={"horizon": 60, "changes": bad}),
        422,
        "InvalidScenario",
    )
    assert "ratedPower' = -1 is outside its bounds" in message
    shown = client.get(f"/scenarios/{sid}").json()
    assert shown["status"] == "failed" and "outside its bounds" in shown["error"]
    api_error(client.get(f"/scenarios/{sid}/comparison"), 409, "ScenarioNotRun")
    # A model raising mid-run is a 422 too; other scenarios are unaffected.
    seize = {"parameters": {"line-1-pump": {"seizeAfter": 5}}}
    assert "bearing seized" in api_error(
        client.post(f"/scenarios/{sid}/run", json={"horizon": 60, "changes": seize}),
        422,
        "SimulationError",
    )
    other = client.post("/scenarios", json={"twins": LINE1}).json()["id"]
    assert client.post(f"/scenarios/{other}/run", json={"horizon": 60}).json()["status"] == "done"


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/scenarios", {"twins": "line-1-motor"}, "twins must be a list"),
        ("/scenarios", {"colour": "red"}, "unknown field(s) colour"),
        ("/scenarios", {"at": "yesterday"}, "not an ISO 8601 date-time"),
        ("/scenarios/{id}/run", {"horizon": "long"}, "horizon must be a number"),
        ("/scenarios/{id}/run", {"horizon": 5, "changes": {"parameters": 3}}, "changes.parameters"),
    ],
)
def test_bad_bodies_are_400_naming_the_problem(
    client: TestClient, path: str, body: dict[str, object], message: str
) -> None:
    sid = client.post("/scenarios", json={"twins": LINE1}).json()["id"]
    response = client.post(path.format(id=sid), json=body)
    assert message in api_error(response, 400, response.headers["x-ms-error-code"])


def test_a_sweep_answers_a_summary_or_a_histogram(client: TestClient) -> None:
    sid = client.post("/scenarios", json={"twins": LINE1}).json()["id"]
    sweep = {
        "scenario": sid,
        "parameters": {"line-1-motor.ratedPower": "uniform(5, 40)"},
        "runs": 6,
        "horizon": 60,
        "record": ["temperature"],
        "seed": 1,
        "sampling": "lhs",
        "workers": 2,
    }
    response = client.post("/sweeps", json=sweep)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["runs"], body["completed"], body["failed"]) == (6, 6, 0)
    (summary,) = body["summary"]
    assert summary["series"] == "line-1-motor.temperature" and summary["count"] == 6
    finals = [s["values"]["line-1-motor.temperature"] for s in body["samples"]]
    assert summary["mean"] == pytest.approx(sum(finals) / 6)
    png = client.post("/sweeps", params={"format": "png"}, json=sweep)
    assert png.headers["content-type"] == "image/png" and png.content.startswith(b"\x89PNG")
    too_many = client.post("/sweeps", json={**sweep, "runs": 5000})
    assert "use the CLI" in api_error(too_many, 400, "InvalidArgument")
    wrong = client.post("/sweeps", json={**sweep, "parameters": {"nobody.x": "uniform(1, 2)"}})
    assert "no twin 'nobody'" in api_error(wrong, 422, "InvalidSweep")


def test_without_a_simulated_world_the_routes_say_so(world: Hub) -> None:
    world.simulation = None
    with TestClient(create_app(world)) as client:
        message = api_error(client.get("/scenarios"), 409, "NoSimulation")
        assert "no world is simulated" in message
        api_error(client.post("/scenarios", json={}), 409, "NoSimulation")


def test_reading_needs_read_and_forking_needs_write(world: Hub) -> None:
    read = world.tokens.create("reader", ["read"])
    write = world.tokens.create("writer", ["write"])
    with TestClient(create_app(world, require_auth=True)) as client:
        as_reader = {"Authorization": f"Bearer {read}"}
        as_writer = {"Authorization": f"Bearer {write}"}
        assert client.get("/scenarios", headers=as_reader).status_code == 200
        api_error(client.post("/scenarios", json={}, headers=as_reader), 403, "Forbidden")
        api_error(client.get("/scenarios"), 401, "Unauthorized")
        assert client.post("/scenarios", json={}, headers=as_writer).status_code == 201
