"""GraphIndex tests: every structure stays consistent through inserts, replacements and
removals, and readers can query while a writer mutates (threads, no sleeps)."""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest

from twinsight.graph.index import MISSING, GraphIndex, SortedKeys, resolve_path, value_key
from twinsight.graph.query import run_query

ROOM, MEETING, FLOOR = "dtmi:x:Room;1", "dtmi:x:MeetingRoom;1", "dtmi:x:Floor;1"


def twin(twin_id: str, model: str = ROOM, **props: Any) -> dict[str, Any]:
    return {"$dtId": twin_id, "$etag": 'W/"1"', "$metadata": {"$model": model}, **props}


def rel(source: str, rel_id: str, name: str, target: str, **props: Any) -> dict[str, Any]:
    return {
        "$relationshipId": rel_id,
        "$etag": 'W/"r"',
        "$sourceId": source,
        "$relationshipName": name,
        "$targetId": target,
        **props,
    }


def hierarchy(model: str) -> frozenset[str]:
    return frozenset({ROOM, MEETING}) if model == ROOM else frozenset({model})


@pytest.fixture
def g() -> GraphIndex:
    index = GraphIndex(hierarchy)
    index.put_twin(twin("f1", FLOOR))
    index.put_twin(twin("r1", ROOM, status="ok"))
    index.put_twin(twin("r2", MEETING, status="ok"))
    index.put_relationship(rel("f1", "c1", "contains", "r1"))
    index.put_relationship(rel("f1", "c2", "contains", "r2"))
    index.put_relationship(rel("r1", "a1", "adjacentTo", "r2"))
    return index


def test_point_reads(g: GraphIndex) -> None:
    assert g.twin("r1") == twin("r1", ROOM, status="ok")
    assert g.twin("nope") is None
    assert g.relationship("f1", "c1") == rel("f1", "c1", "contains", "r1")
    assert g.relationship("r1", "c1") is None
    assert g.has_twin("f1") and not g.has_twin("x")
    assert (g.twin_count, g.relationship_count) == (3, 3)


def test_adjacency(g: GraphIndex) -> None:
    assert sorted(r["$relationshipId"] for r in g.outgoing("f1")) == ["c1", "c2"]
    assert [r["$relationshipId"] for r in g.outgoing("r1", "adjacentTo")] == ["a1"]
    assert g.outgoing("r1", "contains") == [] and g.outgoing("nope") == []
    assert sorted(r["$relationshipId"] for r in g.incoming("r2")) == ["a1", "c2"]
    assert [r["$relationshipId"] for r in g.incoming("r2", "contains")] == ["c2"]
    assert g.incoming("f1") == []


def test_models(g: GraphIndex) -> None:
    assert g.twins_of_model(ROOM) == {"r1", "r2"}
    assert g.twins_of_model(ROOM, exact=True) == {"r1"}
    assert g.twins_of_model("dtmi:x:None;1") == set()
    assert g.model_ids_in_use() == {ROOM, MEETING, FLOOR}
    g.set_model_hierarchy(lambda m: frozenset({m}))
    assert g.twins_of_model(ROOM) == {"r1"}


def test_replacing_a_twin_moves_its_indexes(g: GraphIndex) -> None:
    g.property_index(("status",))
    g.put_twin(twin("r1", FLOOR, status="bad"))
    assert g.twins_of_model(ROOM, exact=True) == set()
    assert g.twins_of_model(FLOOR) == {"f1", "r1"}
    assert g.property_index(("status",)) == {("s", "ok"): {"r2"}, ("s", "bad"): {"r1"}}
    assert g.twin_ids() == ("f1", "r1", "r2")


def test_removing_a_twin(g: GraphIndex) -> None:
    g.property_index(("status",))
    assert g.twin_ids() == ("f1", "r1", "r2")
    removed = g.remove_twin("r2")
    assert removed is not None and removed["$dtId"] == "r2"
    assert g.remove_twin("r2") is None
    assert g.twin_ids() == ("f1", "r1")  # the sorted-id cache was invalidated
    assert g.twins_of_model(ROOM) == {"r1"}
    assert g.property_index(("status",)) == {("s", "ok"): {"r1"}}
    assert MEETING not in g.model_ids_in_use()


def test_relationship_replace_and_remove(g: GraphIndex) -> None:
    g.put_relationship(rel("f1", "c1", "feeds", "r2"))  # same key, new name and target
    assert [r["$relationshipId"] for r in g.outgoing("f1", "feeds")] == ["c1"]
    assert [r["$relationshipId"] for r in g.outgoing("f1", "contains")] == ["c2"]
    assert g.incoming("r1") == []
    assert g.relationship_keys() == (("f1", "c1"), ("f1", "c2"), ("r1", "a1"))
    assert g.remove_relationship("f1", "c1") is not None
    assert g.remove_relationship("f1", "c1") is None
    assert g.relationship_keys() == (("f1", "c2"), ("r1", "a1"))
    g.remove_relationship("f1", "c2")
    assert g.outgoing("f1") == [] and "f1" not in g._out  # empty maps are dropped


def test_property_index_on_nested_paths_and_types() -> None:
    g = GraphIndex()
    g.load(
        [
            twin("a", thermostat={"$metadata": {}, "setPoint": 20}),
            twin("b", thermostat={"$metadata": {}, "setPoint": 20.0}),
            twin("c", thermostat={"$metadata": {}, "setPoint": True}),
            twin("d", thermostat={"$metadata": {}, "setPoint": [1]}),
            twin("e"),
        ]
    )
    index = g.property_index(("thermostat", "setPoint"))
    assert index == {("n", 20): {"a", "b"}, ("b", True): {"c"}}
    assert g.indexed_paths() == (("thermostat", "setPoint"),)
    g.drop_property_index(("thermostat", "setPoint"))
    assert g.indexed_paths() == ()


def test_value_key_and_resolve_path() -> None:
    assert value_key(None) == ("z", None) and value_key("x") == ("s", "x")
    assert value_key({"a": 1}) is None
    doc = {"a": {"b": {"c": 1}}, "n": None}
    assert resolve_path(doc, ("a", "b", "c")) == 1
    assert resolve_path(doc, ("a", "x")) is MISSING
    assert resolve_path(doc, ("a", "b", "c", "d")) is MISSING
    assert resolve_path(doc, ("n",)) is None


def test_iter_twins_tolerates_removal_during_iteration(g: GraphIndex) -> None:
    seen = []
    for t in g.iter_twins():
        seen.append(t["$dtId"])
        g.remove_twin("r2")
    assert seen == ["f1", "r1"]


def test_readers_run_while_a_writer_mutates() -> None:
    """Queries in several threads never fail or see torn documents while twins churn."""
    index = GraphIndex(hierarchy)
    for i in range(3000):
        index.put_twin(twin(f"t{i:05d}", ROOM, status="ok", n=i, copy=i))
        if i:
            index.put_relationship(rel(f"t{i - 1:05d}", f"r{i}", "next", f"t{i:05d}"))
    stop = threading.Event()
    started = [threading.Event() for _ in range(4)]
    errors: list[BaseException] = []
    queries = [
        "SELECT COUNT() FROM DIGITALTWINS T WHERE T.status = 'ok'",
        "SELECT T.n, T.copy FROM DIGITALTWINS T WHERE IS_OF_MODEL('dtmi:x:Room;1') AND T.n > 10",
        "SELECT * FROM DIGITALTWINS MATCH (a)-[:next*3]->(b) WHERE a.$dtId = 't00100'",
        "SELECT COUNT() FROM RELATIONSHIPS",
    ]

    def reader(text: str, ready: threading.Event) -> None:
        try:
            while not stop.is_set():
                ready.set()
                token = None
                while True:
                    page = run_query(text, index, page_size=500, continuation=token)
                    for item in page.items:
                        if "n" in item:  # documents are replaced whole, never torn
                            assert item["n"] == item["copy"]
                    token = page.continuation
                    if token is None:
                        break
        except BaseException as error:
            errors.append(error)
            ready.set()

    threads = [
        threading.Thread(target=reader, args=(q, e)) for q, e in zip(queries, started, strict=True)
    ]
    for t in threads:
        t.start()
    for e in started:  # every reader is inside its loop before the writer starts
        assert e.wait(timeout=60)
    for round_ in range(20):
        for i in range(0, 3000, 7):
            tid = f"t{i:05d}"
            index.put_twin(
                twin(tid, ROOM, status="ok" if round_ % 2 else "x", n=i + round_, copy=i + round_)
            )
        for i in range(1, 3000, 11):
            index.remove_relationship(f"t{i - 1:05d}", f"r{i}")
            index.remove_twin(f"x{i}")
            index.put_twin(twin(f"x{i}", MEETING))
            index.put_relationship(rel(f"t{i - 1:05d}", f"r{i}", "next", f"t{i:05d}"))
    stop.set()
    for t in threads:
        t.join()
    assert errors == []


def test_sorted_keys_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SortedKeys, "BLOCK", 4)
    keys: SortedKeys[str] = SortedKeys()
    keys.add("x")  # ignored until built
    assert not keys.built and list(keys.iter_from()) == []
    keys.build([])
    rnd = random.Random(3)
    expected: set[str] = set()
    for _ in range(500):
        k = f"k{rnd.randrange(200):03d}"
        if rnd.random() < 0.6:
            keys.add(k)
            expected.add(k)
        else:
            keys.discard(k)
            expected.discard(k)
        assert list(keys.iter_from()) == sorted(expected)
    ordered = sorted(expected)
    for probe in ["", "k050", "k0505", "k199", "z", ordered[3]]:
        assert list(keys.iter_from(probe)) == [k for k in ordered if k > probe]
    blocks, _ = keys._state  # type: ignore[misc]
    assert all(0 < len(b) <= 8 for b in blocks)


def test_sorted_ids_follow_writes_after_first_read(g: GraphIndex) -> None:
    assert list(g.iter_twin_ids("f1")) == ["r1", "r2"]
    g.put_twin(twin("a0"))
    g.put_twin(twin("r15"))
    g.remove_twin("r1")
    assert g.twin_ids() == ("a0", "f1", "r15", "r2")
    g.put_relationship(rel("a0", "z", "contains", "f1"))
    assert list(g.iter_relationship_keys(("f1", "c2"))) == [("r1", "a1")]
    assert g.relationship_keys()[0] == ("a0", "z")
