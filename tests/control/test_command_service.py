"""The command service without a device connection: nothing is pretended sent; actions a
previous run left in flight are closed when delivery starts again (not when a command-line
tool merely opens the data folder)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from brokers import mosquitto, needs_mosquitto
from support import build_factory
from twinsight.control.actions import Action
from twinsight.hub import Hub


def test_without_a_device_connection_an_allowed_action_fails_and_says_why() -> None:
    with Hub() as hub:
        build_factory(hub)
        record = hub.actions.submit(Action("command", "line-1-motor", "start", None, "user:ana"))
        assert record.state == "failed" and "no device connection" in record.error
        assert [a.event for a in hub.actions.audit(action_id=record.id)] == ["failed"]


@needs_mosquitto
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
    with Hub(tmp_path) as hub:  # a tool beside the server: no delivery, nothing touched
        assert hub.actions.get(record.id).state == "sent"
    with mosquitto(tmp_path / "broker") as broker, Hub(tmp_path) as hub:
        hub.start_command_delivery(broker.url)
        again = hub.actions.get(record.id)
        assert again.state == "timed_out" and "restarted" in again.error
        assert hub.actions.get(done.id).state == "done"  # settled ones are left alone
        assert hub.actions.audit(action_id=record.id)[0].actor == "platform"


def test_a_prediction_with_numpy_numbers_is_kept_as_plain_json() -> None:
    import numpy as np

    from twinsight.control.actions import Verdict

    class Foresees:
        name = "simulate-first"

        def check(self, action: Action) -> Verdict:
            return Verdict.refuse(
                self.name, "too hot", {"max": np.float64(131.2), "path": np.array([1.0, 2.0])}
            )

    with Hub() as hub:
        build_factory(hub)
        hub.actions.add_guard(Foresees())
        record = hub.actions.submit(Action("property", "line-1-motor", "speedSetpoint", 1700.0))
        assert record.state == "refused"
        assert hub.actions.get(record.id).prediction == {"max": 131.2, "path": [1.0, 2.0]}
        assert type(record.prediction["max"]) is float  # type: ignore[index]
