"""Dead letters over HTTP: list, inspect the exact bytes, replay after a fix, discard."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import httpx
import pytest

from adt import running_server
from twinsight.core.clock import ManualClock
from twinsight.core.messages import RawMessage
from twinsight.hub import Hub
from twinsight.ingest.mapping import parse_mapping
from twinsight.models.loader import load_paths
from twinsight.scenarios.factory import MODELS_DIR, world

MAPPING = """
mappings:
  - name: power
    topic: "plant/{twin}/power"
    twin: "{twin}"
    format: number
    values: [{property: ratedPower}]
"""


@pytest.fixture
def served(clock: ManualClock) -> Iterator[tuple[str, Hub]]:
    with Hub(clock=clock, mapping=parse_mapping(MAPPING, "m.yaml")) as hub:
        docs, _ = load_paths([MODELS_DIR])
        hub.models.add(docs)
        world.build(hub.twins)
        with running_server(hub) as url:
            yield url, hub


def test_list_inspect_replay_discard(served: tuple[str, Hub], clock: ManualClock) -> None:
    url, hub = served
    hub.ingest.submit(
        [
            RawMessage("mqtt", "plant/new-motor/power", b"7.5", clock.now(), "dev-1"),
            RawMessage("mqtt", "plant/line-1-motor/power", b"\xffoops", clock.now(), "dev-1"),
        ]
    )
    page = httpx.get(f"{url}/deadletters").json()
    assert page["pending"] == 2
    first, second = page["value"]
    assert "there is no twin 'new-motor'" in first["reason"]
    detail = httpx.get(f"{url}/deadletters/{second['id']}").json()
    assert base64.b64decode(detail["payloadBase64"]) == b"\xffoops"
    assert detail["payloadPreview"] is None
    assert detail["client"] == "dev-1" and detail["mapping"] == "power"

    hub.twins.upsert_twin(
        "new-motor", {"$metadata": {"$model": "dtmi:twinsight:factory:Motor;1"}, "bearing": {}}
    )
    result = httpx.post(f"{url}/deadletters/replay", json={"ids": [first["id"], second["id"]]})
    assert result.status_code == 200
    body = result.json()
    assert body["replayed"] == [first["id"]]
    assert body["stillFailing"][0]["id"] == second["id"]
    assert hub.twins.get_twin("new-motor")["ratedPower"] == 7.5

    assert httpx.post(f"{url}/deadletters/discard", json={"ids": [second["id"]]}).status_code == 200
    assert httpx.get(f"{url}/deadletters").json()["pending"] == 0
    everything = httpx.get(f"{url}/deadletters?status=all").json()["value"]
    assert sorted(x["status"] for x in everything) == ["discarded", "replayed"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/deadletters/999", None, 404),
        ("GET", "/deadletters/abc", None, 400),
        ("GET", "/deadletters?status=lost", None, 400),
        ("GET", "/deadletters?limit=0", None, 400),
        ("POST", "/deadletters/replay", {"ids": ["1"]}, 400),
        ("POST", "/deadletters/replay", {"ids": [424242]}, 404),
        ("POST", "/deadletters/discard", [1], 400),
    ],
)
def test_bad_requests(
    served: tuple[str, Hub], method: str, path: str, body: object, status: int
) -> None:
    url, _ = served
    r = httpx.request(method, url + path, json=body)
    assert r.status_code == status
    assert r.json()["error"]["message"]
