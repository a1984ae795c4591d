"""The model registry through the hub and over HTTP: versions count up, the active one
moves (and rolls back), attachments resolve for a twin by its own or its DTDL model's,
derived values name their producer, and every bad request is refused with a clear error."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from support import MOTOR, api_error, build_factory, motor_body
from twinsight.api import create_app
from twinsight.core.clock import ManualClock
from twinsight.core.errors import NotFound, StorageError
from twinsight.core.provenance import produced_by
from twinsight.hub import Hub

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
TWIN = "line-1-motor"


@pytest.fixture
def hub() -> Iterator[Hub]:
    with Hub(clock=ManualClock(T0)) as hub:
        build_factory(hub)
        yield hub


@pytest.fixture
def client(hub: Hub) -> Iterator[TestClient]:
    with TestClient(create_app(hub)) as client:
        yield client


def test_versions_count_up_and_the_newest_is_active_until_rolled_back(hub: Hub) -> None:
    first = hub.registry.register("motor-rul", "rul", {"w": 1}, metrics={"rmse": 9.0})
    second = hub.registry.register("motor-rul", "rul", {"w": 2}, metrics={"rmse": 7.5})
    assert (first.version, second.version) == (1, 2)
    assert hub.registry.active_version("motor-rul") == 2
    assert hub.registry.load("motor-rul", 2) == {"w": 2}
    assert hub.registry.get("motor-rul").metrics == {"rmse": 7.5}
    hub.registry.activate("motor-rul", 1)  # roll back
    assert hub.registry.active_version("motor-rul") == 1
    third = hub.registry.register("motor-rul", "rul", {"w": 3}, activate=False)
    assert third.version == 3 and hub.registry.active_version("motor-rul") == 1


def test_attachment_resolves_by_twin_first_then_by_dtdl_model(hub: Hub) -> None:
    hub.registry.register("motor-rul", "rul", {"w": 1})
    hub.registry.register("motor-rul", "rul", {"w": 2})
    assert hub.registry.resolve("motor-rul", TWIN, (MOTOR,)) is None
    hub.registry.attach("motor-rul", "model", MOTOR)  # follows the active version
    assert hub.registry.resolve("motor-rul", TWIN, (MOTOR,)) == 2
    hub.registry.activate("motor-rul", 1)
    assert hub.registry.resolve("motor-rul", TWIN, (MOTOR,)) == 1
    hub.registry.attach("motor-rul", "twin", TWIN, version=2)  # pinned on this twin
    assert hub.registry.resolve("motor-rul", TWIN, (MOTOR,)) == 2
    assert hub.registry.resolve("motor-rul", "line-2-motor", (MOTOR,)) == 1


def test_bad_registrations_and_attachments_are_refused(hub: Hub) -> None:
    with pytest.raises(Exception, match="kind 'oracle'"):
        hub.registry.register("m", "oracle", {})
    with pytest.raises(Exception, match="model name"):
        hub.registry.register("bad name!", "rul", {})
    with pytest.raises(Exception, match="finite number"):
        hub.registry.register("m", "rul", {}, metrics={"rmse": float("nan")})
    with pytest.raises(NotFound, match="no model named 'nothing'"):
        hub.registry.attach("nothing", "twin", TWIN)
    hub.registry.register("m", "rul", {})
    with pytest.raises(NotFound, match="no version 5"):
        hub.registry.attach("m", "twin", TWIN, version=5)
    with pytest.raises(NotFound, match="no twin 'ghost'"):
        hub.registry.attach("m", "twin", "ghost")
    with pytest.raises(NotFound, match="no model 'dtmi:x:Nope;1'"):
        hub.registry.attach("m", "model", "dtmi:x:Nope;1")
    assert hub.registry.attachments() == []


def test_a_corrupt_artefact_is_refused_not_unpickled(hub: Hub) -> None:
    hub.registry.register("m", "rul", {"w": 1})
    hub.db.connection.execute(
        "UPDATE model_versions SET artefact = ? WHERE name = 'm'", (b"TWINSIGHT-MODEL\x01junk",)
    )
    with pytest.raises(StorageError, match="damaged") as caught:
        hub.registry.load("m", 1)
    assert caught.value.code == "ModelArtefactCorrupt"


def test_derived_values_name_the_model_version_that_produced_them(hub: Hub) -> None:
    hub.twins.publish_telemetry(TWIN, {"vibration": 0.1}, message_id="sensor")
    hub.twins.publish_telemetry(
        TWIN,
        {"remainingUsefulLife": 1200.0},
        message_id="rul",
        properties=produced_by("motor-rul", 3),
    )
    [derived] = hub.derived.of(TWIN)
    assert (derived.name, derived.model, derived.version) == ("remainingUsefulLife", "motor-rul", 3)


def test_http_list_get_activate_attach_and_derived(hub: Hub, client: TestClient) -> None:
    hub.registry.register("motor-rul", "rul", {"w": 1}, metrics={"rmse": 9.0})
    hub.registry.register("motor-rul", "rul", {"w": 2}, metrics={"rmse": 8.0})
    listed = client.get("/registry/models").json()["value"]
    assert [(m["name"], m["versions"], m["activeVersion"]) for m in listed] == [
        ("motor-rul", [1, 2], 2)
    ]
    one = client.get("/registry/models/motor-rul/versions/1").json()
    assert one["metrics"] == {"rmse": 9.0} and one["active"] is False
    assert client.post("/registry/models/motor-rul/versions/1/activate").json()["active"]
    made = client.post("/registry/models/motor-rul/attachments", json={"model": MOTOR})
    assert made.status_code == 201 and made.json()["version"] == "active"
    detail = client.get("/registry/models/motor-rul").json()
    assert detail["activeVersion"] == 1
    assert detail["attachments"][0]["model"] == MOTOR
    hub.twins.publish_telemetry(
        TWIN, {"remainingUsefulLife": 5.0}, message_id="r", properties=produced_by("motor-rul", 1)
    )
    derived = client.get(f"/twins/{TWIN}/derived").json()["value"]
    assert [(d["name"], d["model"], d["version"]) for d in derived] == [
        ("remainingUsefulLife", "motor-rul", 1)
    ]
    gone = client.delete(f"/registry/models/motor-rul/attachments/model/{MOTOR}")
    assert gone.status_code == 204 and hub.registry.attachments() == []


def test_http_refusals_name_what_was_wrong(hub: Hub, client: TestClient) -> None:
    assert "nope" in api_error(client.get("/registry/models/nope"), 404, "ModelNotFound")
    hub.registry.register("m", "rul", {})
    api_error(client.get("/registry/models/m/versions/9"), 404, "ModelVersionNotFound")
    api_error(client.post("/registry/models/m/versions/9/activate"), 404, "ModelVersionNotFound")
    attach = "/registry/models/m/attachments"
    assert "ghost" in api_error(client.post(attach, json={"twin": "ghost"}), 404, "TwinNotFound")
    message = api_error(
        client.post(attach, json={"twin": TWIN, "model": MOTOR}), 400, "InvalidArgument"
    )
    assert "exactly one" in message
    message = api_error(
        client.post(attach, json={"twin": TWIN, "version": 0}), 400, "InvalidArgument"
    )
    assert "positive integer" in message
    api_error(client.post(attach, json={"twin": TWIN, "colour": 1}), 400, "InvalidArgument")
    api_error(client.get("/twins/ghost/derived"), 404, "DigitalTwinNotFound")


def test_stream_events_of_derived_telemetry_carry_their_producer() -> None:
    from twinsight.core.events import TelemetryReceived
    from twinsight.streams import stream_event

    derived = TelemetryReceived(
        TWIN, MOTOR, None, "m", {"remainingUsefulLife": 9.0}, T0,
        properties=produced_by("motor-rul", 4),
    )  # fmt: skip
    sensor = TelemetryReceived(TWIN, MOTOR, None, "m", {"vibration": 0.1}, T0)
    assert stream_event(derived)["producedBy"] == {"model": "motor-rul", "version": 4}  # type: ignore[index]
    assert "producedBy" not in stream_event(sensor)  # type: ignore[operator]


def test_calibrated_physics_parameters_are_listed_as_physics_models(
    hub: Hub, client: TestClient
) -> None:
    hub.parameters.save(TWIN, "motor", {"housing_resistance": 0.05})
    hub.parameters.save(TWIN, "motor", {"housing_resistance": 0.04})
    listed = client.get("/registry/models").json()["value"]
    [physics] = [m for m in listed if m["kind"] == "physics"]
    assert physics["name"] == f"motor@{TWIN}"
    assert (physics["versions"], physics["activeVersion"]) == ([1, 2], 2)
    from twinsight.scenarios.factory.sim import simulation_spec

    hub.simulation = simulation_spec()  # the calibration routes serve the versions themselves
    assert len(client.get(physics["href"]).json()["value"]) == 2


def test_a_deleted_twin_forgets_its_derived_values(hub: Hub) -> None:
    hub.twins.upsert_twin("spare-motor", motor_body())
    hub.twins.publish_telemetry(
        "spare-motor", {"remainingUsefulLife": 1.0}, message_id="r", properties=produced_by("m", 1)
    )
    assert len(hub.derived.of("spare-motor")) == 1
    hub.twins.delete_twin("spare-motor")
    assert hub.derived.of("spare-motor") == []
