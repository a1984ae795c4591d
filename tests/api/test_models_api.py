"""The /models routes, driven by Azure's own Python SDK and by plain HTTP for bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.digitaltwins.core import DigitalTwinsClient

from adt import adt_client, running_server
from support import FACTORY_MODELS
from twinsight.hub import Hub

MOTOR = "dtmi:twinsight:factory:Motor;1"
MACHINE = "dtmi:twinsight:factory:Machine;1"


def factory_models() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(FACTORY_MODELS.glob("*.json"))]


@pytest.fixture
def base_url(hub: Hub) -> Iterator[str]:
    with running_server(hub) as url:
        yield url


@pytest.fixture
def client(base_url: str) -> DigitalTwinsClient:
    return adt_client(base_url)


def test_sdk_create_get_list_decommission_delete(client: DigitalTwinsClient) -> None:
    created = client.create_models(factory_models())
    assert sorted(m.id for m in created) == sorted(m["@id"] for m in factory_models())
    motor = client.get_model(MOTOR, include_model_definition=True)
    assert motor.display_name == {"en": "Electric motor"}
    assert motor.model["extends"] == MACHINE
    assert motor.decommissioned is False
    # (azure-digitaltwins-core 1.3.0 cannot pass results_per_page to list_models: it forwards
    # an argument its own transport rejects; paging is tested over plain HTTP below.)
    assert len(list(client.list_models())) == 8
    deps = {m.id for m in client.list_models(dependencies_for=[MOTOR])}
    assert deps == {MOTOR, MACHINE, "dtmi:twinsight:factory:Bearing;1"}
    client.decommission_model(MOTOR)
    assert client.get_model(MOTOR).decommissioned is True
    client.delete_model("dtmi:twinsight:factory:Site;1")
    with pytest.raises(ResourceNotFoundError) as info:
        client.get_model("dtmi:twinsight:factory:Site;1")
    assert info.value.error.code == "ModelNotFound"


def test_sdk_sees_adt_error_codes(client: DigitalTwinsClient) -> None:
    client.create_models(factory_models())
    with pytest.raises(ResourceExistsError) as exists:
        client.create_models([factory_models()[0]])
    assert exists.value.error.code == "ModelAlreadyExists"
    with pytest.raises(HttpResponseError) as referenced:
        client.delete_model(MACHINE)
    assert referenced.value.status_code == 409
    assert referenced.value.error.code == "ModelReferencesNotDeleted"


def test_invalid_upload_lists_every_error_and_adds_nothing(base_url: str, hub: Hub) -> None:
    bad = {
        "@context": "dtmi:dtdl:context;3",
        "@id": "dtmi:x:Bad;1",
        "@type": "Interface",
        "contents": [
            {"@type": "Property", "name": "a", "schema": "nope"},
            {"@type": "Relationship", "name": "1bad"},
        ],
    }
    r = httpx.post(f"{base_url}/models?api-version=2023-10-31", json=[factory_models()[0], bad])
    assert r.status_code == 400
    assert r.headers["x-ms-error-code"] == "DTDLParserError"
    body = r.json()["error"]
    assert body["code"] == "DTDLParserError"
    assert len(body["details"]) >= 2
    assert len(hub.models) == 0


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"{not json", 400, "InvalidArgument"),
        (b"", 400, "InvalidArgument"),
        (b'{"@id": "dtmi:x:A;1"}', 400, "InvalidArgument"),
        (b"[" + b" " * (33 * 1024 * 1024) + b"]", 413, "PayloadTooLarge"),
    ],
    ids=["malformed", "empty", "not-an-array", "huge"],
)
def test_bad_uploads_are_refused_clearly(
    base_url: str, hub: Hub, content: bytes, status: int, code: str
) -> None:
    r = httpx.post(
        f"{base_url}/models", content=content, headers={"content-type": "application/json"}
    )
    assert r.status_code == status
    assert r.headers["x-ms-error-code"] == code
    assert r.json()["error"]["message"]
    assert len(hub.models) == 0


def test_bad_patch_and_unknown_model(base_url: str, client: DigitalTwinsClient) -> None:
    client.create_models(factory_models())
    r = httpx.patch(
        f"{base_url}/models/{MOTOR}", json=[{"op": "replace", "path": "/id", "value": "x"}]
    )
    assert r.status_code == 400
    assert "decommissioned" in r.json()["error"]["message"]
    r = httpx.get(f"{base_url}/models/dtmi:x:Nothing;1")
    assert r.status_code == 404
    assert r.headers["x-ms-error-code"] == "ModelNotFound"
    r = httpx.get(f"{base_url}/models?continuationToken=garbage!")
    assert r.status_code == 400


def test_list_pages_follow_next_link(base_url: str, client: DigitalTwinsClient) -> None:
    client.create_models(factory_models())
    seen: list[str] = []
    url: str | None = f"{base_url}/models?api-version=2023-10-31"
    pages = 0
    while url:
        page = httpx.get(url, headers={"max-items-per-page": "3"}).json()
        assert len(page["value"]) <= 3
        seen += [m["id"] for m in page["value"]]
        url = page["nextLink"]
        pages += 1
    assert pages == 3
    assert sorted(seen) == sorted(m["@id"] for m in factory_models())


def test_parameters_of_the_wrong_type_are_a_400(base_url: str) -> None:
    r = httpx.get(f"{base_url}/models", headers={"max-items-per-page": "many"})
    assert r.status_code == 400
    assert r.headers["x-ms-error-code"] == "InvalidArgument"
    assert "max-items-per-page" in r.json()["error"]["message"]


def test_openapi_is_served(base_url: str) -> None:
    spec = httpx.get(f"{base_url}/openapi.json").json()
    assert "/models" in spec["paths"]
    assert "/models/{model_id}" in spec["paths"]
