"""The factory demo world builds a connected graph through the public service, idempotently."""

from __future__ import annotations

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
