"""The twin graph service: validation, metadata, preconditions and durability across restarts."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from support import add_factory_models, motor_body
from twinsight.core.clock import ManualClock
from twinsight.core.errors import BadRequest, NotFound, PreconditionFailed, ValidationFailed
from twinsight.hub import Hub
from twinsight.models.diagnostics import Document

MOTOR = "dtmi:twinsight:factory:Motor;1"
TANK = "dtmi:twinsight:factory:Tank;1"
CONVEYOR = "dtmi:twinsight:factory:Conveyor;1"


def test_state_survives_restart(tmp_path: Path, clock: ManualClock) -> None:
    with add_factory_models(Hub(tmp_path, clock=clock)) as hub:
        hub.twins.upsert_twin("m1", motor_body(ratedPower=5.0))
        hub.twins.upsert_twin("m2", motor_body())
        hub.twins.upsert_twin("p1", {"$metadata": {"$model": "dtmi:twinsight:factory:Pump;1"}})
        hub.twins.upsert_relationship(
            "p1", "r", {"$targetId": "m1", "$relationshipName": "drivenBy"}
        )
        hub.twins.patch_twin("m1", [{"op": "replace", "path": "/ratedPower", "value": 7.0}])
        hub.twins.delete_twin("m2")
        before = hub.twins.get_twin("m1")
    with Hub(tmp_path, clock=clock) as hub:
        assert hub.twins.get_twin("m1") == before
        with pytest.raises(NotFound):
            hub.twins.get_twin("m2")
        assert [r["$targetId"] for r in hub.twins.list_relationships("p1")] == ["m1"]
        assert [r["$sourceId"] for r in hub.twins.list_incoming("m1")] == ["p1"]
        page = hub.twins.query("SELECT * FROM DIGITALTWINS T WHERE T.ratedPower = 7")
        assert [t["$dtId"] for t in page.items] == ["m1"]


def test_metadata_times_follow_the_clock(hub: Hub, clock: ManualClock) -> None:
    add_factory_models(hub)
    hub.twins.upsert_twin("m1", motor_body(ratedPower=5.0, serialNumber="A"))
    clock.advance(60)
    twin = hub.twins.patch_twin("m1", [{"op": "replace", "path": "/ratedPower", "value": 6.0}])
    assert twin["$metadata"]["ratedPower"]["lastUpdateTime"] == "2026-01-01T00:01:00Z"
    assert twin["$metadata"]["serialNumber"]["lastUpdateTime"] == "2026-01-01T00:00:00Z"
    assert twin["$metadata"]["$lastUpdateTime"] == "2026-01-01T00:01:00Z"


def test_nested_object_and_map_values_are_validated(hub: Hub) -> None:
    add_factory_models(hub)
    tank = {"$metadata": {"$model": TANK}, "alarmLimits": {"low": 0.5, "high": 4.0}}
    hub.twins.upsert_twin("t1", tank)
    hub.twins.patch_twin("t1", [{"op": "replace", "path": "/alarmLimits/high", "value": 4.5}])
    assert hub.twins.get_twin("t1")["alarmLimits"] == {"low": 0.5, "high": 4.5}
    with pytest.raises(ValidationFailed) as info:
        hub.twins.patch_twin("t1", [{"op": "add", "path": "/alarmLimits/mid", "value": 1}])
    assert "/alarmLimits/mid" in info.value.message
    conveyor = {"$metadata": {"$model": CONVEYOR}, "shiftSchedule": {"mon": 2, "tue": 3}}
    hub.twins.upsert_twin("c1", conveyor)
    with pytest.raises(ValidationFailed) as bad_map:
        hub.twins.patch_twin("c1", [{"op": "add", "path": "/shiftSchedule/wed", "value": "two"}])
    assert "/shiftSchedule/wed" in bad_map.value.message
    assert hub.twins.get_twin("c1")["shiftSchedule"] == {"mon": 2, "tue": 3}


def test_every_problem_is_reported(hub: Hub) -> None:
    add_factory_models(hub)
    with pytest.raises(ValidationFailed) as info:
        hub.twins.upsert_twin(
            "m1",
            {"$metadata": {"$model": MOTOR}, "ratedPower": "high", "speed": 1, "colour": "red"},
        )
    messages = [d["message"] for d in info.value.details]
    assert len(messages) == 4  # bad type, telemetry as property, unknown, missing component
    assert any("bearing" in m and "missing" in m for m in messages)


def test_preconditions_on_delete(hub: Hub) -> None:
    add_factory_models(hub)
    twin = hub.twins.upsert_twin("m1", motor_body())
    with pytest.raises(PreconditionFailed):
        hub.twins.delete_twin("m1", if_match='W/"stale"')
    hub.twins.delete_twin("m1", if_match=twin["$etag"])
    with pytest.raises(BadRequest):
        hub.twins.upsert_twin("m1", motor_body(), if_none_match='W/"x"')


def test_decommissioned_models_refuse_new_twins_only(hub: Hub) -> None:
    add_factory_models(hub)
    hub.twins.upsert_twin("m1", motor_body())
    hub.models.decommission(MOTOR)
    with pytest.raises(ValidationFailed) as info:
        hub.twins.upsert_twin("m2", motor_body())
    assert "decommissioned" in info.value.message
    hub.twins.patch_twin("m1", [{"op": "add", "path": "/ratedPower", "value": 1.0}])


def test_is_of_model_sees_models_added_later(hub: Hub) -> None:
    add_factory_models(hub)
    mixer = {
        "@context": "dtmi:dtdl:context;3",
        "@id": "dtmi:x:Mixer;1",
        "@type": "Interface",
        "extends": MOTOR,
    }
    hub.twins.upsert_twin("m1", motor_body())
    query = (
        "SELECT T.$dtId FROM DIGITALTWINS T WHERE IS_OF_MODEL('dtmi:twinsight:factory:Machine;1')"
    )
    assert [t["$dtId"] for t in hub.twins.query(query).items] == ["m1"]
    hub.models.add([Document("upload", mixer)])
    hub.twins.upsert_twin("x1", {"$metadata": {"$model": "dtmi:x:Mixer;1"}, "bearing": {}})
    assert sorted(t["$dtId"] for t in hub.twins.query(query).items) == ["m1", "x1"]


def test_a_failed_write_changes_nothing_in_store_or_index(
    tmp_path: Path, clock: ManualClock
) -> None:
    with add_factory_models(Hub(tmp_path, clock=clock)) as hub:
        before = hub.twins.upsert_twin("m1", motor_body(ratedPower=1.0))
        with pytest.raises(ValidationFailed):
            hub.twins.patch_twin(
                "m1",
                [
                    {"op": "replace", "path": "/ratedPower", "value": 2.0},
                    {"op": "add", "path": "/ratedPower", "value": "bad"},
                ],
            )
        assert hub.twins.get_twin("m1") == before
    with Hub(tmp_path, clock=clock) as hub:
        assert hub.twins.get_twin("m1") == before


def test_patches_never_mutate_a_document_readers_hold(hub: Hub) -> None:
    add_factory_models(hub)
    tank = {"$metadata": {"$model": TANK}, "alarmLimits": {"low": 0.5, "high": 4.0}}
    hub.twins.upsert_twin("t1", tank)
    held = hub.twins.index.twin("t1")
    assert held is not None
    snapshot = copy.deepcopy(dict(held))
    hub.twins.patch_twin(
        "t1",
        [
            {"op": "replace", "path": "/alarmLimits/high", "value": 5.0},
            {
                "op": "add",
                "path": "/$metadata/alarmLimits/sourceTime",
                "value": "2026-01-01T00:00:00Z",
            },
        ],
    )
    assert dict(held) == snapshot
    assert hub.twins.get_twin("t1")["alarmLimits"] == {"low": 0.5, "high": 5.0}
    m = hub.twins.upsert_twin("m1", motor_body(bearing={"$metadata": {}, "wear": 0.1}))
    held_motor = hub.twins.index.twin("m1")
    assert held_motor is not None
    before = copy.deepcopy(dict(held_motor))
    hub.twins.patch_twin(
        "m1", [{"op": "replace", "path": "/wear", "value": 0.2}], component="bearing"
    )
    assert dict(held_motor) == before
    assert hub.twins.get_twin("m1")["bearing"]["wear"] == 0.2
    assert m["bearing"]["wear"] == 0.1
