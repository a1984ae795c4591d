"""``POST /ingest``: single raw messages and JSON batches reach the sink unchanged; bad
shapes are 400, oversized bodies 413; and end to end through the real pipeline."""

from __future__ import annotations

import json

import orjson
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from sinks import RecordingSink
from twinsight.api import create_app, ingest_routes
from twinsight.api.errors import install_error_handlers
from twinsight.core.clock import ManualClock
from twinsight.hub import Hub
from twinsight.ingest.mapping import parse_mapping
from twinsight.models.loader import load_paths
from twinsight.scenarios.factory import MODELS_DIR, world


def client_for(sink: RecordingSink, clock: ManualClock, **limits: int) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(ingest_routes.router(sink, clock, **limits))
    return TestClient(app)


def test_one_message_is_the_raw_body_at_its_path(clock: ManualClock) -> None:
    sink = RecordingSink()
    http = client_for(sink, clock)
    body = b"\x00\x01 not json at all \xff"
    r = http.post("/ingest/sensors/room1", content=body, headers={"content-type": "x/y"})
    assert r.status_code == 202
    assert r.json() == {
        "messages": 1,
        "values": 1,
        "deadLetters": 0,
        "lateValues": 0,
        "duplicateValues": 0,
    }
    [m] = sink.messages
    assert (m.source, m.address, m.payload, m.received) == (
        "http",
        "sensors/room1",
        body,
        clock.now(),
    )
    assert m.client == "testclient"


def test_a_batch_keeps_strings_as_text_and_reserializes_json(clock: ManualClock) -> None:
    sink = RecordingSink()
    http = client_for(sink, clock)
    batch = {
        "messages": [
            {"address": "a/1", "payload": "21.5,40"},
            {"address": "/b/2/", "payload": {"t": 21.5, "ok": True}},
            {"address": "c", "payload": [1, 2]},
        ]
    }
    r = http.post("/ingest", json=batch)
    assert r.status_code == 202 and r.json()["messages"] == 3
    got = [(m.address, m.payload) for m in sink.messages]
    assert got[0] == ("a/1", b"21.5,40")
    assert got[1][0] == "b/2" and json.loads(got[1][1]) == {"t": 21.5, "ok": True}
    assert got[2] == ("c", b"[1,2]")
    assert len(sink.batches) == 1  # one submit: stored together


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b"not json", "not valid JSON"),
        (b"", "empty"),
        (b"[]", "messages"),
        (b'{"messages": "x"}', "messages"),
        (b'{"messages": []}', "no messages"),
        (b'{"messages": [1]}', "messages[0] is not an object"),
        (b'{"messages": [{"payload": 1}]}', "messages[0].address"),
        (b'{"messages": [{"address": "", "payload": 1}]}', "messages[0].address"),
        (b'{"messages": [{"address": "a"}]}', "messages[0] has no payload"),
    ],
)
def test_bad_batches_are_400_naming_the_problem(
    clock: ManualClock, body: bytes, needle: str
) -> None:
    sink = RecordingSink()
    r = client_for(sink, clock).post("/ingest", content=body)
    assert r.status_code == 400, r.text
    assert needle in r.json()["error"]["message"]
    assert sink.attempts == 0


def test_size_limits_are_413(clock: ManualClock) -> None:
    sink = RecordingSink()
    http = client_for(sink, clock, max_message_bytes=10, max_batch_bytes=200, max_batch_messages=2)
    assert http.post("/ingest/a", content=b"x" * 10).status_code == 202
    big = http.post("/ingest/a", content=b"x" * 11)
    assert big.status_code == 413 and big.json()["error"]["code"] == "PayloadTooLarge"
    many = {"messages": [{"address": "a", "payload": 1}] * 3}
    assert http.post("/ingest", json=many).status_code == 413
    huge = {"messages": [{"address": "a", "payload": "y" * 300}]}
    assert http.post("/ingest", json=huge).status_code == 413
    assert http.post("/ingest/", content=b"1").status_code == 400  # no address
    assert sink.attempts == 1


MAPPING = parse_mapping(
    """
mappings:
  - name: motor
    topic: "plant/{twin}/motor"
    twin: "{twin}"
    format: json
    values:
      - {field: power, property: ratedPower}
""",
    "http-test.yaml",
)


def test_end_to_end_through_the_pipeline(clock: ManualClock) -> None:
    with Hub(clock=clock, mapping=MAPPING) as hub:
        docs, errors = load_paths([MODELS_DIR])
        assert errors == []
        hub.models.add(docs)
        world.build(hub.twins)
        http = TestClient(create_app(hub))
        r = http.post("/ingest/plant/line-1-motor/motor", content=orjson.dumps({"power": 12.5}))
        assert r.status_code == 202 and r.json()["values"] == 1
        assert hub.twins.get_twin("line-1-motor")["ratedPower"] == 12.5
        batch = {
            "messages": [
                {"address": "plant/line-1-motor/motor", "payload": {"power": 13.0}},
                {"address": "nowhere/mapped", "payload": "?"},
            ]
        }
        r = http.post("/ingest", json=batch)
        assert r.status_code == 202
        assert (r.json()["values"], r.json()["deadLetters"]) == (1, 1)
        assert hub.twins.get_twin("line-1-motor")["ratedPower"] == 13.0
