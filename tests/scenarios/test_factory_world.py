"""The factory demo world builds a connected graph through the public service, idempotently,
and grows by whole lines without touching the twins it has."""

from __future__ import annotations

import pytest

from twinsight.hub import Hub
from twinsight.models.loader import load_paths
from twinsight.scenarios import factory
from twinsight.scenarios.factory import world


def test_world_builds_once_and_is_queryable(hub: Hub) -> None:
    docs, errors = load_paths([factory.MODELS_DIR])
    assert errors == []
    hub.models.add(docs)
    expected = 1 + len(world.LINES) * (1 + len(world.LINE_LAYOUT))
    assert world.build(hub.twins) == expected
    assert world.build(hub.twins) == 0  # a restart leaves existing twins alone
    machines = hub.twins.query(
        "SELECT COUNT() FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:twinsight:factory:Machine;1')"
    ).items
    assert machines == [{"COUNT": len(world.LINES) * len(world.LINE_LAYOUT)}]
    chain = hub.twins.query(
        "SELECT m FROM DIGITALTWINS site JOIN line RELATED site.contains "
        "JOIN m RELATED line.hasMachine WHERE site.$dtId = 'site' AND line.$dtId = 'line-1'"
    ).items
    assert sorted(row["m"]["$dtId"] for row in chain) == sorted(
        f"line-1-{spec.suffix}" for spec in world.LINE_LAYOUT
    )
    feeds = [r["$targetId"] for r in hub.twins.list_relationships("line-1-conveyor", "feeds")]
    assert feeds == ["line-1-motor"]


def test_a_larger_world_only_adds_lines_and_keeps_every_id(hub: Hub) -> None:
    hub.models.add(load_paths([factory.MODELS_DIR])[0])
    per_line = 1 + len(world.LINE_LAYOUT)
    assert world.build(hub.twins, lines=world.DEMO_LINES) == 1 + world.DEMO_LINES * per_line
    before = {t: hub.twins.get_twin(t)["$etag"] for t in ("line-1-motor", "line-3-tank")}
    assert world.build(hub.twins, lines=world.DEMO_LINES + 1) == per_line  # only line 4
    assert world.build(hub.twins, lines=world.DEMO_LINES + 1) == 0
    assert {t: hub.twins.get_twin(t)["$etag"] for t in before} == before  # left alone
    machines = hub.twins.query(
        "SELECT COUNT() FROM DIGITALTWINS WHERE IS_OF_MODEL('dtmi:twinsight:factory:Machine;1')"
    ).items
    assert machines == [{"COUNT": (world.DEMO_LINES + 1) * len(world.LINE_LAYOUT)}]
    # The motors start at different points of their lives, repeating every three lines.
    wear = [hub.twins.get_twin(f"line-{n}-motor")["bearing"]["wear"] for n in range(1, 5)]
    assert wear[:3] == list(world.INITIAL_WEAR) and wear[3] == wear[0]
    assert len(set(wear)) == 3


def test_a_world_needs_a_line() -> None:
    with pytest.raises(ValueError, match="at least one line"):
        world.line_ids(0)
