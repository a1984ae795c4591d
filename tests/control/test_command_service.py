"""The command service without a broker: nothing is pretended sent, and actions a
previous run left in flight are closed on restart instead of staying ``sent``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from support import build_factory
from twinsight.control.actions import Action
from twinsight.hub import Hub


def test_without_a_device_connection_an_allowed_action_fails_and_says_why() -> None:
    with Hub() as hub:
        build_factory(hub)
        record = hub.actions.submit(Action("command", "line-1-motor", "start", None, "user:ana"))
        assert record.state == "failed" and "no device connection" in record.error
        assert [a.event for a in hub.actions.audit(action_id=record.id)] == ["failed"]


def test_actions_left_in_flight_by_a_previous_run_are_timed_out_on_restart(
    tmp_path: Path,
) -> None:
    with Hub(tmp_path) as hub:
        build_factory(hub)
        record = hub.actions.submit(Action("command", "line-1-motor", "start", None, "user:ana"))
        # as a run with a broker leaves it when it stops before the device answers
        hub.actions.store.put_action(replace(record, state="sent", error=""))
        done = hub.actions.submit(Action("command", "line-1-motor", "stop", None, "user:ana"))
        hub.actions.store.put_action(replace(done, state="done", error=""))
    with Hub(tmp_path) as hub:
        again = hub.actions.get(record.id)
        assert again.state == "timed_out" and "restarted" in again.error
        assert hub.actions.get(done.id).state == "done"  # settled ones are left alone
        assert hub.actions.audit(action_id=record.id)[0].actor == "platform"
