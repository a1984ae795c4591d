"""The stores' optional list filters become one WHERE clause with bound arguments."""

from __future__ import annotations

from twinsight.control.commands import ACTION_STATES
from twinsight.store.sqlite.filters import Where


def test_no_filter_is_no_clause() -> None:
    where = Where().equal("twin_id", None).any_of("state", [])
    assert (where.sql(), where.args) == ("", [])


def test_filters_join_in_order_with_their_arguments() -> None:
    where = Where().equal("twin_id", "m1").any_of("state", ["a", "b"]).add("x != 'c'")
    where.add("name >= ? AND name < ?", "p", "q")
    assert where.sql() == (
        " WHERE twin_id = ? AND state IN (?, ?) AND x != 'c' AND name >= ? AND name < ?"
    )
    assert where.args == ["m1", "a", "b", "p", "q"]


def test_action_states_are_those_the_port_declares() -> None:
    assert ACTION_STATES[0] == "refused" and ACTION_STATES[-1] == "timed_out"
    assert len(ACTION_STATES) == len(set(ACTION_STATES)) == 9
