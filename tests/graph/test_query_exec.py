"""Executor tests: ADT semantics of every construct on a small hand-made building, paging
(every item exactly once, also across concurrent writes), token errors, and index-vs-scan
equivalence on a 10k-twin graph (including property-based random conditions)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twinsight.core.errors import BadRequest
from twinsight.graph.index import GraphIndex
from twinsight.graph.query import InvalidContinuationToken, QueryError, explain, run_query
from twinsight.graph.query.paging import Cursor, decode, encode

SPACE = "dtmi:x:Space;1"
BUILDING = "dtmi:x:Building;1"
FLOOR = "dtmi:x:Floor;1"
ROOM = "dtmi:x:Room;1"
MEETING = "dtmi:x:MeetingRoom;1"  # extends Room
SENSOR = "dtmi:x:Sensor;1"

HIERARCHY = {
    SPACE: frozenset({SPACE, BUILDING, FLOOR, ROOM, MEETING}),
    ROOM: frozenset({ROOM, MEETING}),
}


def descendants(model: str) -> frozenset[str]:
    return HIERARCHY.get(model, frozenset({model}))


def twin(twin_id: str, model: str, **props: Any) -> dict[str, Any]:
    return {
        "$dtId": twin_id,
        "$etag": 'W/"1"',
        "$metadata": {"$model": model, "$lastUpdateTime": "2026-01-01T00:00:00Z"},
        **props,
    }


def rel(source: str, name: str, target: str, rel_id: str | None = None, **props: Any) -> dict:
    return {
        "$relationshipId": rel_id or f"{source}-{name}-{target}",
        "$etag": 'W/"r"',
        "$sourceId": source,
        "$relationshipName": name,
        "$targetId": target,
        **props,
    }


@pytest.fixture
def g() -> GraphIndex:
    """b1 -contains-> f1, f2; f1 -contains-> r1, r2(meeting); f2 -contains-> r3;
    r1 -hasSensor-> s1; r1 -adjacentTo-> r2; s1 -feeds-> s1 (self loop)."""
    index = GraphIndex(descendants)
    index.load(
        [
            twin("b1", BUILDING, name="HQ"),
            twin("f1", FLOOR, level=1, name="Ground"),
            twin("f2", FLOOR, level=2),
            twin(
                "r1",
                ROOM,
                temperature=21.5,
                status="ok",
                thermostat={"$metadata": {}, "setPoint": 20, "mode": "auto"},
                tags=["a", 1, True],
                occupied=True,
            ),
            twin("r2", MEETING, temperature=25, status="ok", occupied=False, note=None),
            twin("r3", ROOM, temperature="hot", status="broken"),
            twin("s1", SENSOR, value=1, unit="C"),
        ],
        [
            rel("b1", "contains", "f1"),
            rel("b1", "contains", "f2"),
            rel("f1", "contains", "r1", weight=3),
            rel("f1", "contains", "r2", weight=5),
            rel("f2", "contains", "r3"),
            rel("r1", "hasSensor", "s1"),
            rel("r1", "adjacentTo", "r2"),
            rel("s1", "feeds", "s1"),
        ],
    )
    return index


def ids(g: GraphIndex, text: str, key: str = "$dtId") -> list[str]:
    return sorted(item[key] for item in everything(g, text))


def everything(g: GraphIndex, text: str, page_size: int = 2) -> list[dict[str, Any]]:
    """All items of a query, following continuation tokens."""
    items: list[dict[str, Any]] = []
    page = run_query(text, g, page_size=page_size)
    items.extend(page.items)
    while page.continuation is not None:
        page = run_query(text, g, page_size=page_size, continuation=page.continuation)
        items.extend(page.items)
    return items


# ---------------------------------------------------------------- SELECT shapes


def test_select_star_returns_documents(g: GraphIndex) -> None:
    items = everything(g, "SELECT * FROM DIGITALTWINS")
    assert [i["$dtId"] for i in items] == ["b1", "f1", "f2", "r1", "r2", "r3", "s1"]
    assert items[3]["thermostat"]["setPoint"] == 20


def test_select_collection_wraps_in_alias(g: GraphIndex) -> None:
    items = everything(g, "SELECT T FROM DIGITALTWINS T WHERE T.$dtId = 'b1'")
    assert items == [{"T": g.twin("b1")}]


def test_projected_properties_missing_ones_are_omitted(g: GraphIndex) -> None:
    items = everything(
        g,
        "SELECT T.$dtId AS id, T.thermostat.setPoint, T.name, T.$metadata.$model AS m "
        "FROM DIGITALTWINS T WHERE IS_OF_MODEL('dtmi:x:Space;1')",
    )
    assert items == [
        {"id": "b1", "name": "HQ", "m": BUILDING},
        {"id": "f1", "name": "Ground", "m": FLOOR},
        {"id": "f2", "m": FLOOR},
        {"id": "r1", "setPoint": 20, "m": ROOM},
        {"id": "r2", "m": MEETING},
        {"id": "r3", "m": ROOM},
    ]


def test_projected_component_is_a_copy(g: GraphIndex) -> None:
    [item] = everything(g, "SELECT T.thermostat FROM DIGITALTWINS T WHERE T.$dtId = 'r1'")
    assert item == {"thermostat": {"$metadata": {}, "setPoint": 20, "mode": "auto"}}
    item["thermostat"]["setPoint"] = 99
    assert g.twin("r1")["thermostat"]["setPoint"] == 20  # type: ignore[index]


def test_count(g: GraphIndex) -> None:
    assert run_query("SELECT COUNT() FROM DIGITALTWINS", g).items == [{"COUNT": 7}]
    assert run_query("SELECT COUNT() FROM RELATIONSHIPS", g).items == [{"COUNT": 8}]
    page = run_query("SELECT COUNT() FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:x:Room;1')", g)
    assert page.items == [{"COUNT": 3}] and page.continuation is None
    page = run_query("SELECT COUNT() FROM DIGITALTWINS T WHERE T.temperature > 22", g)
    assert page.items == [{"COUNT": 1}]


def test_top(g: GraphIndex) -> None:
    assert ids(g, "SELECT TOP(3) FROM DIGITALTWINS") == ["b1", "f1", "f2"]
    assert ids(g, "SELECT TOP(100) FROM DIGITALTWINS") == sorted(
        ["b1", "f1", "f2", "r1", "r2", "r3", "s1"]
    )
    items = everything(g, "SELECT TOP(3) T.$dtId FROM DIGITALTWINS T WHERE T.status = 'ok'")
    assert items == [{"$dtId": "r1"}, {"$dtId": "r2"}]


def test_top_is_respected_across_pages(g: GraphIndex) -> None:
    text = "SELECT TOP(5) FROM DIGITALTWINS"
    first = run_query(text, g, page_size=3)
    assert len(first.items) == 3 and first.continuation
    second = run_query(text, g, page_size=3, continuation=first.continuation)
    assert len(second.items) == 2 and second.continuation is None


# ---------------------------------------------------------------- WHERE semantics


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        ("T.temperature = 25", ["r2"]),
        ("T.temperature = 25.0", ["r2"]),
        ("T.temperature != 25", ["r1", "r3"]),  # undefined temperature is never != anything
        ("T.temperature > 21.5", ["r2"]),
        ("T.temperature >= 21.5", ["r1", "r2"]),
        ("T.temperature < 22", ["r1"]),
        ("T.temperature <= 25", ["r1", "r2"]),
        ("T.temperature > 'a'", ["r3"]),  # strings order among strings only
        ("T.temperature = '25'", []),
        ("T.occupied = true", ["r1"]),
        ("T.occupied = 1", []),  # a boolean is not a number
        ("T.value = true", []),
        ("T.note = null", ["r2"]),
        ("T.level IN [2, 3]", ["f2"]),
        ("T.status IN ['ok', 'x']", ["r1", "r2"]),
        ("T.status NIN ['ok']", ["r3"]),
        ("T.status NOT IN ['ok']", ["r3"]),
        ("NOT T.status = 'ok'", ["r3"]),
        ("NOT (T.status = 'ok' OR T.status = 'broken')", []),
        ("T.status = 'ok' AND T.temperature > 22", ["r2"]),
        ("T.status = 'broken' OR T.level = 1", ["f1", "r3"]),
        ("(T.level = 1 OR T.level = 2) AND NOT T.name = 'Ground'", []),  # NOT undefined
        ("T.thermostat.setPoint = 20", ["r1"]),
        ("T.thermostat.mode = 'auto'", ["r1"]),
        ("T.$metadata.$model = 'dtmi:x:Floor;1'", ["f1", "f2"]),
        ("T.$dtId IN ['r1', 'nope', 's1']", ["r1", "s1"]),
        ("T.occupied", ["r1"]),
        ("T.temperature = T.temperature", ["r1", "r2", "r3"]),
    ],
)
def test_conditions(g: GraphIndex, cond: str, expected: list[str]) -> None:
    assert ids(g, f"SELECT * FROM DIGITALTWINS T WHERE {cond}") == expected


@pytest.mark.parametrize(
    ("cond", "expected"),
    [
        ("IS_DEFINED(T.status)", ["r1", "r2", "r3"]),
        ("NOT IS_DEFINED(T.status)", ["b1", "f1", "f2", "s1"]),
        ("IS_DEFINED(T.thermostat.setPoint)", ["r1"]),
        ("IS_NULL(T.note)", ["r2"]),
        ("IS_BOOL(T.occupied)", ["r1", "r2"]),
        ("IS_NUMBER(T.temperature)", ["r1", "r2"]),
        ("IS_STRING(T.temperature)", ["r3"]),
        ("IS_PRIMITIVE(T.occupied)", ["r1", "r2"]),
        ("IS_PRIMITIVE(T.note)", ["r2"]),
        ("IS_PRIMITIVE(T.thermostat)", []),
        ("IS_OBJECT(T.thermostat)", ["r1"]),
        ("IS_OBJECT(T.thermostat) AND NOT IS_DEFINED(T.thermostat.x)", ["r1"]),
        ("STARTSWITH(T.$dtId, 'r')", ["r1", "r2", "r3"]),
        ("STARTS_WITH(T.$dtId, 'f')", ["f1", "f2"]),
        ("ENDSWITH(T.$dtId, '1')", ["b1", "f1", "r1", "s1"]),
        ("CONTAINS(T.name, 'rou')", ["f1"]),
        ("STARTSWITH(T.level, '1')", []),
        ("ARRAY_CONTAINS(T.tags, 1)", ["r1"]),
        ("ARRAY_CONTAINS(T.tags, true)", ["r1"]),
        ("ARRAY_CONTAINS(T.tags, 'b')", []),
        ("IS_BOOL(T.occupied) = true", ["r1", "r2"]),
        ("IS_OF_MODEL('dtmi:x:Room;1')", ["r1", "r2", "r3"]),
        ("IS_OF_MODEL('dtmi:x:Room;1', exact)", ["r1", "r3"]),
        ("IS_OF_MODEL(T, 'dtmi:x:MeetingRoom;1')", ["r2"]),
        ("IS_OF_MODEL('dtmi:x:Space;1') AND T.status = 'ok'", ["r1", "r2"]),
        ("IS_OF_MODEL('dtmi:x:Nope;1')", []),
        ("NOT IS_OF_MODEL('dtmi:x:Space;1')", ["s1"]),
    ],
)
def test_functions(g: GraphIndex, cond: str, expected: list[str]) -> None:
    assert ids(g, f"SELECT * FROM DIGITALTWINS T WHERE {cond}") == expected


def test_bare_names_and_escaped_names(g: GraphIndex) -> None:
    assert ids(g, "SELECT * FROM DIGITALTWINS WHERE [[status]] = 'ok'") == ["r1", "r2"]
    assert ids(g, "select * from digitaltwins where $dtId = 'f2'") == ["f2"]


def test_model_hierarchy_can_be_replaced(g: GraphIndex) -> None:
    text = "SELECT * FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:x:Room;1')"
    assert ids(g, text) == ["r1", "r2", "r3"]
    g.set_model_hierarchy(lambda m: frozenset({m}))
    assert ids(g, text) == ["r1", "r3"]


# ---------------------------------------------------------------- relationships


def test_from_relationships(g: GraphIndex) -> None:
    items = everything(g, "SELECT * FROM RELATIONSHIPS WHERE $sourceId IN ['f1', 'f2']")
    assert [i["$relationshipId"] for i in items] == [
        "f1-contains-r1",
        "f1-contains-r2",
        "f2-contains-r3",
    ]
    items = everything(
        g,
        "SELECT R.$targetId FROM RELATIONSHIPS R WHERE R.$relationshipName = 'contains' "
        "AND R.weight > 3",
    )
    assert items == [{"$targetId": "r2"}]
    items = everything(g, "SELECT R FROM RELATIONSHIPS R WHERE R.$targetId = 's1'")
    assert [i["R"]["$sourceId"] for i in items] == ["r1", "s1"]


def test_from_relationships_by_target(g: GraphIndex) -> None:
    items = everything(g, "SELECT R.$sourceId FROM RELATIONSHIPS R WHERE R.$targetId = 'r2'")
    assert items == [{"$sourceId": "f1"}, {"$sourceId": "r1"}]


# ---------------------------------------------------------------- JOIN


def test_join_projects_twins_and_relationship(g: GraphIndex) -> None:
    items = everything(
        g,
        "SELECT F, R, C FROM DIGITALTWINS F JOIN R RELATED F.contains C "
        "WHERE F.$dtId = 'f1' AND C.weight > 3",
    )
    assert items == [
        {"F": g.twin("f1"), "R": g.twin("r2"), "C": g.relationship("f1", "f1-contains-r2")}
    ]


def test_multi_join_and_model_filter(g: GraphIndex) -> None:
    items = everything(
        g,
        "SELECT Room.$dtId AS room, S.unit FROM DIGITALTWINS B "
        "JOIN F RELATED B.contains JOIN Room RELATED F.contains JOIN S RELATED Room.hasSensor "
        "WHERE B.$dtId = 'b1' AND IS_OF_MODEL(Room, 'dtmi:x:Room;1', exact)",
    )
    assert items == [{"room": "r1", "unit": "C"}]


def test_join_has_no_outer_semantics(g: GraphIndex) -> None:
    text = "SELECT B, F FROM DIGITALTWINS B JOIN F RELATED B.contains WHERE B.$dtId = 'r3'"
    assert everything(g, text) == []


def test_join_anchored_on_target(g: GraphIndex) -> None:
    text = "SELECT F.$dtId AS f FROM DIGITALTWINS F JOIN R RELATED F.contains WHERE R.$dtId = 'r3'"
    assert "start=r" in explain(text, g)
    assert everything(g, text) == [{"f": "f2"}]


def test_join_without_dtid_is_refused(g: GraphIndex) -> None:
    text = "SELECT COUNT() FROM DIGITALTWINS F JOIN R RELATED F.contains WHERE R.status = 'ok'"
    with pytest.raises(QueryError, match=r"must pin at least one twin"):
        run_query(text, g)


# ---------------------------------------------------------------- MATCH


def match_ids(g: GraphIndex, pattern: str, where: str = "a.$dtId = 'b1'") -> list[str]:
    items = everything(g, f"SELECT x.$dtId AS x FROM DIGITALTWINS MATCH {pattern} WHERE {where}")
    return [i["x"] for i in items]


def test_match_directions(g: GraphIndex) -> None:
    assert match_ids(g, "(a)-[]->(x)", "a.$dtId = 'r1'") == ["r2", "s1"]
    assert match_ids(g, "(a)<-[]-(x)", "a.$dtId = 'r1'") == ["f1"]
    assert match_ids(g, "(a)-[]-(x)", "a.$dtId = 'r1'") == ["f1", "r2", "s1"]
    assert match_ids(g, "(x)-[]->(a)", "a.$dtId = 'r1'") == ["f1"]


def test_match_names(g: GraphIndex) -> None:
    assert match_ids(g, "(a)-[:hasSensor]->(x)", "a.$dtId = 'r1'") == ["s1"]
    assert match_ids(g, "(a)-[:hasSensor|adjacentTo]-(x)", "a.$dtId = 'r1'") == ["r2", "s1"]
    assert match_ids(g, "(a)-[:nope]-(x)", "a.$dtId = 'r1'") == []


def test_match_hops(g: GraphIndex) -> None:
    assert match_ids(g, "(a)-[*2]->(x)") == ["r1", "r2", "r3"]
    assert match_ids(g, "(a)-[:contains*2]->(x)") == ["r1", "r2", "r3"]
    assert match_ids(g, "(a)-[*3]->(x)") == ["r2", "s1"]
    assert match_ids(g, "(a)-[*..2]->(x)") == ["f1", "f2", "r1", "r2", "r3"]
    # ADT: the starting limit of a range is excluded, so *1..3 means 2 or 3 hops
    assert match_ids(g, "(a)-[*1..3]->(x)") == ["r1", "r2", "r3", "s1"]
    assert match_ids(g, "(a)-[*4]->(x)") == ["s1"]  # via the self loop s1 -feeds-> s1
    assert match_ids(g, "(a)-[*5]->(x)") == []  # the loop is traversed only once
    assert match_ids(g, "(x)<-[:contains*2]-(a)") == ["r1", "r2", "r3"]


def test_match_undirected_trails_do_not_reuse_relationships(g: GraphIndex) -> None:
    # f1 -> r1 -> r2 and f1 -> r2 form a triangle; going out and back on one edge is not a path
    assert match_ids(g, "(a)-[*2]-(x)", "a.$dtId = 'f1'") == ["f2", "r1", "r2", "s1"]
    # ... but f1 is reachable from itself around the triangle (3 distinct relationships)
    assert "f1" in match_ids(g, "(a)-[*3]-(x)", "a.$dtId = 'f1'")


def test_match_relationship_variable(g: GraphIndex) -> None:
    items = everything(
        g,
        "SELECT a.$dtId AS a, r.weight, x.$dtId AS x FROM DIGITALTWINS "
        "MATCH (a)-[r:contains]->(x) WHERE a.$dtId = 'f1' AND r.weight >= 3",
    )
    assert items == [{"a": "f1", "weight": 3, "x": "r1"}, {"a": "f1", "weight": 5, "x": "r2"}]


def test_match_star_shape_and_anonymous_nodes(g: GraphIndex) -> None:
    items = everything(
        g, "SELECT * FROM DIGITALTWINS MATCH (a)-[e]->()-[]->(x) WHERE a.$dtId = 'f1'"
    )
    assert [sorted(i) for i in items] == [["a", "e", "x"]] * 2
    assert [(i["e"]["$targetId"], i["x"]["$dtId"]) for i in items] == [("r1", "r2"), ("r1", "s1")]


def test_match_chain_both_directions(g: GraphIndex) -> None:
    items = everything(
        g,
        "SELECT b.$dtId AS b, r.$dtId AS r FROM DIGITALTWINS "
        "MATCH (b)-[:contains]->(f)<-[:contains]-(r) WHERE b.$dtId = 'b1'",
    )
    assert items == []  # nothing else contains a floor, and b1's relationship is used once
    items = everything(
        g,
        "SELECT x.$dtId AS x, y.$dtId AS y FROM DIGITALTWINS "
        "MATCH (x)<-[:contains]-(f)-[:contains]->(y) WHERE f.$dtId = 'f1' AND x.$dtId != y.$dtId",
    )
    assert items == [{"x": "r1", "y": "r2"}, {"x": "r2", "y": "r1"}]


def test_match_anchor_on_any_node(g: GraphIndex) -> None:
    text = (
        "SELECT a.$dtId AS a FROM DIGITALTWINS MATCH (a)-[:contains]->(f)-[:contains]->(r) "
        "WHERE r.$dtId = 'r3'"
    )
    assert "start=r" in explain(text, g)
    assert everything(g, text) == [{"a": "b1"}]


def test_match_single_node_and_filters(g: GraphIndex) -> None:
    text = (
        "SELECT a FROM DIGITALTWINS MATCH (a) WHERE a.$dtId IN ['r1', 'r2'] AND a.temperature > 22"
    )
    assert everything(g, text) == [{"a": g.twin("r2")}]


def test_match_count_and_same_twin_twice(g: GraphIndex) -> None:
    text = "SELECT COUNT() FROM DIGITALTWINS MATCH (a)-[*..3]->(x) WHERE a.$dtId = 'b1'"
    assert run_query(text, g).items == [{"COUNT": 6}]  # f1 f2 r1 r2 r3 s1, each once
    # a pattern that returns to its start: b1 contains f1 contains r1 ... never back to b1
    text = "SELECT a FROM DIGITALTWINS MATCH (a)-[:feeds]->(a) WHERE a.$dtId = 's1'"
    assert everything(g, text) == [{"a": g.twin("s1")}]


# ---------------------------------------------------------------- paging and tokens


@pytest.mark.parametrize("page_size", [1, 2, 3, 7, 100])
@pytest.mark.parametrize(
    "text",
    [
        "SELECT * FROM DIGITALTWINS",
        "SELECT T.$dtId FROM DIGITALTWINS T WHERE IS_OF_MODEL('dtmi:x:Space;1')",
        "SELECT * FROM RELATIONSHIPS",
        "SELECT F, R FROM DIGITALTWINS F JOIN R RELATED F.contains WHERE F.$dtId IN ['f1', 'f2']",
        "SELECT * FROM DIGITALTWINS MATCH (a)-[*..3]-(x) WHERE a.$dtId = 'b1'",
    ],
)
def test_paging_returns_every_item_once(g: GraphIndex, text: str, page_size: int) -> None:
    all_at_once = run_query(text, g, page_size=1000)
    assert all_at_once.continuation is None
    paged = everything(g, text, page_size=page_size)
    assert paged == all_at_once.items


def test_continuation_does_not_need_the_text(g: GraphIndex) -> None:
    text = "SELECT * FROM DIGITALTWINS"
    first = run_query(text, g, page_size=4)
    assert first.continuation is not None
    rest = run_query(None, g, page_size=4, continuation=first.continuation)
    assert [i["$dtId"] for i in first.items + rest.items] == ids(g, text)


def test_paging_survives_concurrent_writes(g: GraphIndex) -> None:
    text = "SELECT T.$dtId FROM DIGITALTWINS T"
    first = run_query(text, g, page_size=3)  # b1 f1 f2
    g.remove_twin("b1")
    g.remove_twin("r1")  # not yet returned: must not appear
    g.put_twin(twin("a0", ROOM))  # sorts before the cursor: not returned, not duplicated
    g.put_twin(twin("r9", ROOM))  # after the cursor: returned
    rest = everything_from(g, text, first.continuation)
    assert [i["$dtId"] for i in first.items] == ["b1", "f1", "f2"]
    assert [i["$dtId"] for i in rest] == ["r2", "r3", "r9", "s1"]


def everything_from(g: GraphIndex, text: str, token: str | None) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while token is not None:
        page = run_query(text, g, page_size=2, continuation=token)
        items.extend(page.items)
        token = page.continuation
    return items


@pytest.mark.parametrize(
    "token",
    [
        "junk",
        "",
        "%%%",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        encode(Cursor("SELECT * FROM DIGITALTWINS", ("b1",), 1))[:-3] + "abc",
    ],
)
def test_bad_tokens_are_clean_errors(g: GraphIndex, token: str) -> None:
    with pytest.raises(InvalidContinuationToken) as caught:
        run_query("SELECT * FROM DIGITALTWINS", g, continuation=token)
    assert isinstance(caught.value, BadRequest) and not isinstance(caught.value, QueryError)
    assert caught.value.code == "BadRequest" and caught.value.status == 400
    assert caught.value.message == "The continuation token is invalid."


def test_tampered_token_is_rejected(g: GraphIndex) -> None:
    token = encode(Cursor("SELECT * FROM DIGITALTWINS", ("b1",), 1))
    flipped = token[:20] + ("A" if token[20] != "A" else "B") + token[21:]
    with pytest.raises(InvalidContinuationToken):
        decode(flipped)


def test_query_text_is_ignored_with_a_token(g: GraphIndex) -> None:
    """ADT: "This value is ignored if a continuation token is provided"."""
    page = run_query("SELECT * FROM DIGITALTWINS", g, page_size=1)
    nxt = run_query("SELECT * FROM RELATIONSHIPS", g, page_size=1, continuation=page.continuation)
    assert nxt.items == [g.twin("f1")]


def test_token_is_url_safe(g: GraphIndex) -> None:
    page = run_query("SELECT * FROM DIGITALTWINS WHERE $dtId != 'é/+?'", g, page_size=1)
    assert page.continuation is not None
    assert all(c.isalnum() or c in "-_" for c in page.continuation)


@pytest.mark.parametrize("size", [0, -1, True])
def test_page_size_is_validated(g: GraphIndex, size: int) -> None:
    with pytest.raises(BadRequest) as caught:
        run_query("SELECT * FROM DIGITALTWINS", g, page_size=size)
    assert caught.value.code == "BadRequest"


def test_page_size_above_adt_limit_is_lowered() -> None:
    index = GraphIndex()
    for i in range(1005):
        index.put_twin(twin(f"t{i:04d}", ROOM))
    page = run_query("SELECT * FROM DIGITALTWINS", index, page_size=5000)
    assert len(page.items) == 1000 and page.continuation is not None


def test_missing_text_and_token(g: GraphIndex) -> None:
    with pytest.raises(QueryError):
        run_query(None, g)


# ---------------------------------------------------------------- planner on 10k twins


def big_graph(n_rooms: int = 10_000, seed: int = 7) -> GraphIndex:
    rnd = random.Random(seed)
    index = GraphIndex(descendants)
    floors = [f"floor{i:03d}" for i in range(n_rooms // 50)]
    for f in floors:
        index.put_twin(twin(f, FLOOR, level=int(f[5:]) % 10))
    for i in range(n_rooms):
        props: dict[str, Any] = {
            "status": rnd.choice(["ok", "ok", "warn", "fault"]),
            "temperature": rnd.choice([18, 19.5, 21, 22.5, 25, "n/a"]),
            "capacity": rnd.randrange(1, 20),
        }
        if rnd.random() < 0.2:
            del props["status"]
        if rnd.random() < 0.1:
            props["status"] = rnd.choice([True, None, 1])
        model = MEETING if rnd.random() < 0.3 else ROOM
        room = f"room{i:05d}"
        index.put_twin(twin(room, model, **props))
        index.put_relationship(rel(floors[i % len(floors)], "contains", room))
    return index


@pytest.fixture(scope="module")
def big() -> GraphIndex:
    return big_graph()


EVEN_FLOORS = ", ".join(f"'floor{i:03d}'" for i in range(0, 200, 2))
SOME_ROOMS = ", ".join(f"'room{i:05d}'" for i in range(0, 10_000, 100))

PLANNED = [
    "SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL('dtmi:x:Room;1') AND T.status = 'ok'",
    "SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL('dtmi:x:Room;1', exact) AND T.capacity > 15",
    "SELECT T.$dtId FROM DIGITALTWINS T WHERE T.status IN ['warn', 'fault'] AND T.capacity <= 3",
    "SELECT * FROM DIGITALTWINS T WHERE T.temperature >= 21 AND T.temperature < 25",
    "SELECT * FROM DIGITALTWINS T WHERE T.status = 1",
    "SELECT * FROM DIGITALTWINS T WHERE T.status = true OR T.status = null",
    "SELECT * FROM DIGITALTWINS T WHERE T.$dtId IN ['room00001', 'floor001', 'x']",
    "SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL('dtmi:x:Floor;1') AND T.level >= 5",
    "SELECT COUNT() FROM DIGITALTWINS T WHERE IS_OF_MODEL('dtmi:x:Space;1') AND T.status = 'ok'",
    "SELECT COUNT() FROM DIGITALTWINS T WHERE T.temperature = 'n/a' AND T.capacity > 10",
    "SELECT R.$dtId FROM DIGITALTWINS F JOIN R RELATED F.contains "
    "WHERE F.$dtId = 'floor007' AND R.status = 'ok'",
    "SELECT r.$dtId FROM DIGITALTWINS MATCH (f)-[:contains]->(r) "
    "WHERE f.$dtId = 'floor010' AND IS_OF_MODEL(r, 'dtmi:x:MeetingRoom;1')",
    "SELECT F.$dtId AS f, R.$dtId AS r FROM DIGITALTWINS F JOIN R RELATED F.contains "
    f"WHERE F.$dtId IN [{EVEN_FLOORS}] AND R.capacity > 17",
    "SELECT F.level, R.$dtId AS r FROM DIGITALTWINS F JOIN R RELATED F.contains "
    f"WHERE R.$dtId IN [{SOME_ROOMS}] AND R.capacity > 5",
    "SELECT T.$dtId FROM DIGITALTWINS T WHERE IS_OF_MODEL('dtmi:x:Floor;1') "
    "OR (IS_OF_MODEL('dtmi:x:MeetingRoom;1') AND T.capacity >= 18)",
    "SELECT COUNT() FROM DIGITALTWINS T WHERE T.status = 'fault' OR T.capacity = 1",
]


@pytest.mark.slow
@pytest.mark.parametrize("text", PLANNED)
def test_index_and_scan_agree(big: GraphIndex, text: str) -> None:
    indexed = collect(big, text, use_indexes=True)
    scanned = collect(big, text, use_indexes=False)
    assert indexed == scanned
    assert indexed  # every query above has results


def collect(index: GraphIndex, text: str, *, use_indexes: bool) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    token = None
    while True:
        page = run_query(text, index, page_size=997, continuation=token, use_indexes=use_indexes)
        items.extend(page.items)
        token = page.continuation
        if token is None:
            return items


def test_planner_uses_indexes(big: GraphIndex) -> None:
    assert "via index" in explain(PLANNED[0], big)
    assert "model dtmi:x:Room;1" in explain(PLANNED[0], big)
    assert "property status =" in explain(PLANNED[0], big)
    text = "SELECT * FROM DIGITALTWINS T WHERE T.status = 'ok' OR IS_OF_MODEL('dtmi:x:Floor;1')"
    assert "(property status = (" in explain(text, big)
    assert " OR model dtmi:x:Floor;1 (200)" in explain(text, big)
    text = "SELECT * FROM DIGITALTWINS T WHERE T.status = 'ok' OR NOT T.capacity = 2"
    assert "via scan" in explain(text, big)


def test_small_graphs_do_not_build_property_indexes(g: GraphIndex) -> None:
    run_query("SELECT * FROM DIGITALTWINS T WHERE T.status = 'ok'", g)
    assert g.indexed_paths() == ()


def test_property_index_is_maintained_after_writes() -> None:
    index = big_graph(2000, seed=1)
    text = "SELECT COUNT() FROM DIGITALTWINS T WHERE T.status = 'ok'"
    before = run_query(text, index).items[0]["COUNT"]
    assert ("status",) in index.indexed_paths()
    index.put_twin(twin("room00000", ROOM, status="ok"))
    index.put_twin(twin("new", ROOM, status="ok"))
    index.remove_twin("room00001")
    after = run_query(text, index).items[0]["COUNT"]
    assert after == collect(index, text, use_indexes=False)[0]["COUNT"]
    assert abs(after - before) <= 3


conditions = st.recursive(
    st.sampled_from(
        [
            "T.status = 'ok'",
            "T.status != 'warn'",
            "T.status IN ['warn', 'fault']",
            "T.status NIN ['ok']",
            "T.capacity > 10",
            "T.capacity <= 4",
            "T.temperature >= 21",
            "T.temperature = 'n/a'",
            "T.status = true",
            "IS_OF_MODEL('dtmi:x:MeetingRoom;1')",
            "IS_OF_MODEL('dtmi:x:Room;1', exact)",
            "IS_DEFINED(T.status)",
            "IS_NULL(T.status)",
            "STARTSWITH(T.$dtId, 'room000')",
        ]
    ),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda t: f"({t[0]} AND {t[1]})"),
        st.tuples(inner, inner).map(lambda t: f"({t[0]} OR {t[1]})"),
        inner.map(lambda c: f"NOT {c}"),
    ),
    max_leaves=4,
)


@pytest.mark.slow
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=conditions, second=conditions)
def test_random_conditions_index_equals_scan(big: GraphIndex, first: str, second: str) -> None:
    text = f"SELECT T.$dtId FROM DIGITALTWINS T WHERE {first} AND {second}"
    assert collect(big, text, use_indexes=True) == collect(big, text, use_indexes=False)


@pytest.mark.slow
@pytest.mark.parametrize("threshold", [1, 10**9])
def test_walk_and_materialize_strategies_agree(
    big: GraphIndex, threshold: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Walking sorted ids (dense candidates, with its fallback) and intersecting sets agree."""
    from twinsight.graph.query import executor

    monkeypatch.setattr(executor, "MATERIALIZE_BELOW", threshold)
    for text in PLANNED:
        assert collect(big, text, use_indexes=True) == collect(big, text, use_indexes=False)


@pytest.mark.slow
@pytest.mark.parametrize("text", PLANNED[-6:-2])
def test_pattern_paging_matches_one_big_page(big: GraphIndex, text: str) -> None:
    """Patterns resume from the cursor's start twin; small pages still see every row once."""
    one_page = collect(big, text, use_indexes=True)
    pages: list[dict[str, Any]] = []
    token = None
    while True:
        page = run_query(text, big, page_size=37, continuation=token)
        pages.extend(page.items)
        token = page.continuation
        if token is None:
            break
    assert pages == one_page


def test_property_index_count_is_capped(monkeypatch: pytest.MonkeyPatch) -> None:
    from twinsight.graph.query import planner

    monkeypatch.setattr(planner, "MAX_PROPERTY_INDEXES", 1)
    index = big_graph(1500, seed=2)
    run_query("SELECT COUNT() FROM DIGITALTWINS T WHERE T.status = 'ok'", index)
    text = "SELECT COUNT() FROM DIGITALTWINS T WHERE T.capacity = 3"
    assert "via scan" in explain(text, index)
    assert run_query(text, index).items == collect(index, text, use_indexes=False)
    assert index.indexed_paths() == (("status",),)
