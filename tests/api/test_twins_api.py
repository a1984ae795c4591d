"""Twins, patches, components, relationships, telemetry and paged queries, driven by Azure's
own Python SDK (azure-digitaltwins-core) against a real Twinsight server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.digitaltwins.core import DigitalTwinsClient

from adt import adt_client, running_server
from support import FACTORY_MODELS
from twinsight.core.events import TelemetryReceived, TwinChanged
from twinsight.hub import Hub

MOTOR = "dtmi:twinsight:factory:Motor;1"
PUMP = "dtmi:twinsight:factory:Pump;1"
LINE = "dtmi:twinsight:factory:ProductionLine;1"


def motor(power: float = 15.0) -> dict[str, Any]:
    return {
        "$metadata": {"$model": MOTOR},
        "ratedPower": power,
        "serialNumber": "M-001",
        "bearing": {"$metadata": {}, "wear": 0.1},
    }


@pytest.fixture
def served(hub: Hub) -> Iterator[tuple[str, DigitalTwinsClient]]:
    with running_server(hub) as url:
        client = adt_client(url)
        client.create_models(
            [json.loads(p.read_text()) for p in sorted(FACTORY_MODELS.glob("*.json"))]
        )
        yield url, client


def test_twin_lifecycle(served: tuple[str, DigitalTwinsClient]) -> None:
    _, client = served
    created = client.upsert_digital_twin("motor-1", motor())
    assert created["$dtId"] == "motor-1"
    assert created["$metadata"]["$model"] == MOTOR
    assert created["$metadata"]["ratedPower"]["lastUpdateTime"]
    assert created["bearing"]["$metadata"]["wear"]["lastUpdateTime"]
    fetched = client.get_digital_twin("motor-1")
    assert fetched == created
    client.update_digital_twin(
        "motor-1",
        [
            {"op": "replace", "path": "/ratedPower", "value": 18.5},
            {"op": "add", "path": "/manufacturer", "value": "ACME"},
            {
                "op": "add",
                "path": "/$metadata/ratedPower/sourceTime",
                "value": "2026-01-01T10:00:00Z",
            },
        ],
    )
    patched = client.get_digital_twin("motor-1")
    assert patched["ratedPower"] == 18.5
    assert patched["manufacturer"] == "ACME"
    assert patched["$metadata"]["ratedPower"]["sourceTime"] == "2026-01-01T10:00:00Z"
    assert patched["$etag"] != created["$etag"]
    client.update_digital_twin("motor-1", [{"op": "remove", "path": "/manufacturer"}])
    assert "manufacturer" not in client.get_digital_twin("motor-1")
    client.delete_digital_twin("motor-1")
    with pytest.raises(ResourceNotFoundError) as info:
        client.get_digital_twin("motor-1")
    assert info.value.error.code == "DigitalTwinNotFound"


def test_etag_preconditions(served: tuple[str, DigitalTwinsClient]) -> None:
    _, client = served
    first = client.upsert_digital_twin("motor-1", motor())
    with pytest.raises(ResourceExistsError) as exists:  # create-only when it exists: 412
        client.upsert_digital_twin("motor-1", motor(), match_condition=MatchConditions.IfMissing)
    assert exists.value.status_code == 412
    assert exists.value.error.code == "PreconditionFailed"
    client.update_digital_twin(
        "motor-1",
        [{"op": "replace", "path": "/ratedPower", "value": 20.0}],
        etag=first["$etag"],
        match_condition=MatchConditions.IfNotModified,
    )
    with pytest.raises(ResourceModifiedError) as stale:
        client.update_digital_twin(
            "motor-1",
            [{"op": "replace", "path": "/ratedPower", "value": 21.0}],
            etag=first["$etag"],
            match_condition=MatchConditions.IfNotModified,
        )
    assert stale.value.status_code == 412
    assert client.get_digital_twin("motor-1")["ratedPower"] == 20.0


def test_components(served: tuple[str, DigitalTwinsClient]) -> None:
    _, client = served
    client.upsert_digital_twin("motor-1", motor())
    assert client.get_component("motor-1", "bearing")["wear"] == 0.1
    client.update_component(
        "motor-1",
        "bearing",
        [
            {"op": "replace", "path": "/wear", "value": 0.4},
            {"op": "add", "path": "/remainingUsefulLife", "value": 1200.0},
        ],
    )
    component = client.get_component("motor-1", "bearing")
    assert component["wear"] == 0.4
    assert component["remainingUsefulLife"] == 1200.0
    assert component["$metadata"]["remainingUsefulLife"]["lastUpdateTime"]
    with pytest.raises(HttpResponseError) as bad:
        client.update_component(
            "motor-1", "bearing", [{"op": "add", "path": "/wear", "value": "x"}]
        )
    assert bad.value.error.code == "ValidationFailed"
    assert client.get_component("motor-1", "bearing")["wear"] == 0.4


def test_relationships_and_incoming(served: tuple[str, DigitalTwinsClient]) -> None:
    _, client = served
    client.upsert_digital_twin("motor-1", motor())
    client.upsert_digital_twin("pump-1", {"$metadata": {"$model": PUMP}})
    client.upsert_digital_twin("line-1", {"$metadata": {"$model": LINE}, "name": "Line 1"})
    rel = client.upsert_relationship(
        "line-1",
        "has-pump",
        {"$targetId": "pump-1", "$relationshipName": "hasMachine", "position": 2},
    )
    assert rel["$sourceId"] == "line-1" and rel["position"] == 2
    client.upsert_relationship(
        "line-1", "has-motor", {"$targetId": "motor-1", "$relationshipName": "hasMachine"}
    )
    client.upsert_relationship(
        "pump-1", "driven", {"$targetId": "motor-1", "$relationshipName": "drivenBy"}
    )
    out = list(client.list_relationships("line-1"))
    assert sorted(r["$relationshipId"] for r in out) == ["has-motor", "has-pump"]
    assert [r["$relationshipId"] for r in client.list_relationships("pump-1", "drivenBy")] == [
        "driven"
    ]
    incoming = list(client.list_incoming_relationships("motor-1"))
    assert sorted((r.source_id, r.relationship_name) for r in incoming) == [
        ("line-1", "hasMachine"),
        ("pump-1", "drivenBy"),
    ]
    client.update_relationship(
        "line-1", "has-pump", [{"op": "replace", "path": "/position", "value": 3}]
    )
    assert client.get_relationship("line-1", "has-pump")["position"] == 3
    with pytest.raises(HttpResponseError) as refused:
        client.delete_digital_twin("motor-1")
    assert refused.value.error.code == "RelationshipsNotDeleted"
    client.delete_relationship("line-1", "has-motor")
    client.delete_relationship("pump-1", "driven")
    client.delete_digital_twin("motor-1")
    with pytest.raises(ResourceNotFoundError) as gone:
        client.get_relationship("line-1", "has-motor")
    assert gone.value.error.code == "RelationshipNotFound"


def test_relationship_rules_of_the_model(served: tuple[str, DigitalTwinsClient]) -> None:
    _, client = served
    client.upsert_digital_twin("motor-1", motor())
    client.upsert_digital_twin("motor-2", motor())
    client.upsert_digital_twin("pump-1", {"$metadata": {"$model": PUMP}})
    client.upsert_digital_twin("line-1", {"$metadata": {"$model": LINE}})
    with pytest.raises(HttpResponseError) as wrong_target:  # drivenBy targets a Motor
        client.upsert_relationship(
            "pump-1", "r", {"$targetId": "line-1", "$relationshipName": "drivenBy"}
        )
    assert "must target" in wrong_target.value.message
    client.upsert_relationship(
        "pump-1", "r1", {"$targetId": "motor-1", "$relationshipName": "drivenBy"}
    )
    with pytest.raises(HttpResponseError) as too_many:  # maxMultiplicity 1
        client.upsert_relationship(
            "pump-1", "r2", {"$targetId": "motor-2", "$relationshipName": "drivenBy"}
        )
    assert "at most 1" in too_many.value.message
    with pytest.raises(HttpResponseError) as undefined:
        client.upsert_relationship(
            "pump-1", "r3", {"$targetId": "motor-2", "$relationshipName": "likes"}
        )
    assert undefined.value.error.code == "ValidationFailed"
    assert [r["$relationshipId"] for r in client.list_relationships("pump-1")] == ["r1"]


def test_telemetry_reaches_the_event_bus(served: tuple[str, DigitalTwinsClient], hub: Hub) -> None:
    _, client = served
    seen: list[TelemetryReceived] = []
    hub.bus.subscribe(seen.append, TelemetryReceived)
    client.upsert_digital_twin("motor-1", motor())
    client.publish_telemetry("motor-1", {"speed": 1480.0}, message_id="m-1")
    client.publish_component_telemetry("motor-1", "bearing", {"wear": 0.2}, message_id="m-2")
    assert [(t.twin_id, t.component, t.message_id, dict(t.payload)) for t in seen] == [
        ("motor-1", None, "m-1", {"speed": 1480.0}),
        ("motor-1", "bearing", "m-2", {"wear": 0.2}),
    ]
    with pytest.raises(ResourceNotFoundError):
        client.publish_telemetry("nobody", {"speed": 1.0})


def test_paged_queries(served: tuple[str, DigitalTwinsClient]) -> None:
    _, client = served
    for i in range(250):
        client.upsert_digital_twin(f"motor-{i:03d}", motor(power=float(i)))
    client.upsert_digital_twin("pump-1", {"$metadata": {"$model": PUMP}})
    results = list(
        client.query_twins(
            "SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL('dtmi:twinsight:factory:Motor;1')"
        )
    )
    assert len(results) == 250
    assert len({r["$dtId"] for r in results}) == 250
    machines = list(
        client.query_twins(
            "SELECT T.$dtId FROM DIGITALTWINS T"
            " WHERE IS_OF_MODEL('dtmi:twinsight:factory:Machine;1') AND T.ratedPower >= 245"
        )
    )
    assert sorted(r["$dtId"] for r in machines) == [f"motor-{i}" for i in range(245, 250)]
    count = list(client.query_twins("SELECT COUNT() FROM DIGITALTWINS"))
    assert count == [{"COUNT": 251}]


def test_events_carry_old_and_new(served: tuple[str, DigitalTwinsClient], hub: Hub) -> None:
    _, client = served
    changes: list[TwinChanged] = []
    hub.bus.subscribe(changes.append, TwinChanged)
    client.upsert_digital_twin("motor-1", motor())
    client.update_digital_twin("motor-1", [{"op": "replace", "path": "/ratedPower", "value": 1.0}])
    client.delete_digital_twin("motor-1")
    assert [c.kind for c in changes] == ["create", "update", "delete"]
    assert changes[1].old is not None and changes[1].old["ratedPower"] == 15.0
    assert changes[1].new is not None and changes[1].new["ratedPower"] == 1.0


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("PUT", "/digitaltwins/m1", b"{not json", 400, "InvalidArgument"),
        ("PUT", "/digitaltwins/m1", b"[1, 2]", 400, "InvalidArgument"),
        ("PUT", "/digitaltwins/m1", b'{"ratedPower": 1}', 400, "ValidationFailed"),
        (
            "PUT",
            "/digitaltwins/m1",
            b'{"$metadata": {"$model": "dtmi:x:Nope;1"}}',
            400,
            "ValidationFailed",
        ),
        (
            "PUT",
            "/digitaltwins/m%01",
            b'{"$metadata": {"$model": "dtmi:x:Nope;1"}}',
            400,
            "InvalidArgument",
        ),
        ("PUT", "/digitaltwins/" + "x" * 200, b"{}", 400, "InvalidArgument"),
        ("PUT", "/digitaltwins/m1", b'{"a": "' + b"x" * 300_000 + b'"}', 413, "PayloadTooLarge"),
        (
            "PATCH",
            "/digitaltwins/motor-1",
            b'[{"op": "replace", "path": "/nope", "value": 1}]',
            400,
            "JsonPatchInvalid",
        ),
        (
            "PATCH",
            "/digitaltwins/motor-1",
            b'[{"op": "add", "path": "/nope", "value": 1}]',
            400,
            "ValidationFailed",
        ),
        (
            "PATCH",
            "/digitaltwins/motor-1",
            b'[{"op": "add", "path": "/ratedPower", "value": "x"}]',
            400,
            "ValidationFailed",
        ),
        (
            "PATCH",
            "/digitaltwins/motor-1",
            b'[{"op": "move", "from": "/a", "path": "/b"}]',
            400,
            "JsonPatchInvalid",
        ),
        ("PATCH", "/digitaltwins/motor-1", b'{"op": "add"}', 400, "JsonPatchInvalid"),
        (
            "PATCH",
            "/digitaltwins/motor-1",
            b'[{"op": "remove", "path": "/bearing"}]',
            400,
            "ValidationFailed",
        ),
        (
            "PATCH",
            "/digitaltwins/ghost",
            b'[{"op": "add", "path": "/a", "value": 1}]',
            404,
            "DigitalTwinNotFound",
        ),
        ("POST", "/query", b'{"query": "SELECT * FROM"}', 400, "SqlQueryError"),
        (
            "POST",
            "/query",
            b'{"query": "SELECT * FROM DIGITALTWINS", "continuationToken": "zz"}',
            400,
            "BadRequest",  # as ADT answers a token it did not issue
        ),
        ("POST", "/digitaltwins/motor-1/telemetry", b'{"speed": 1}', 400, "InvalidArgument"),
        ("GET", "/digitaltwins/motor-1/components/nothing", b"", 404, "ComponentNotFound"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    served: tuple[str, DigitalTwinsClient],
    method: str,
    path: str,
    body: bytes,
    status: int,
    code: str,
) -> None:
    url, client = served
    before = client.upsert_digital_twin("motor-1", motor())
    r = httpx.request(
        method, url + path, content=body, headers={"content-type": "application/json"}
    )
    assert r.status_code == status, r.text
    assert r.headers["x-ms-error-code"] == code
    assert r.json()["error"]["code"] == code
    assert r.json()["error"]["message"]
    assert client.get_digital_twin("motor-1") == before
    assert [t["$dtId"] for t in client.query_twins("SELECT * FROM DIGITALTWINS")] == ["motor-1"]
