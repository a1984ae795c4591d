"""The line's MPC against a live factory twin: it reads the motor's state from the hub,
submits its first move to the command service as an optimiser's action, and submits
nothing when its problem cannot be solved."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pytest

from support import add_factory_models
from twinsight.control.actions import Action, Mode
from twinsight.control.mpc_line import LineCase
from twinsight.control.mpc_live import LiveLineMpc
from twinsight.core.clock import ManualClock
from twinsight.hub import Hub
from twinsight.scenarios.factory import world


@pytest.fixture
def hub() -> Iterator[Hub]:
    with Hub(clock=ManualClock(datetime(2026, 7, 1, 12, 0, tzinfo=UTC))) as hub:
        add_factory_models(hub)
        world.build(hub.twins)
        hub.twins.publish_telemetry(
            "line-1-motor", {"windingTemperature": 95.0, "speed": 1475.0}, message_id="m1"
        )
        hub.recorder.flush()
        yield hub


def _warm(hours: np.ndarray) -> np.ndarray:
    return np.full(len(hours), 30.0)


class Recorder:
    """A recording submit, for the cases where nothing must be submitted."""

    def __init__(self) -> None:
        self.actions: list[Action] = []

    def __call__(self, action: Action, *, mode: Mode = "auto") -> None:
        self.actions.append(action)


def test_the_first_move_goes_to_the_command_service_as_the_optimisers(hub: Hub) -> None:
    mpc = LiveLineMpc(LineCase(), hub.control_state().value, hub.actions.submit, _warm)
    result, record = mpc.step("line-1-motor")
    assert result.status in ("optimal", "feasible")
    move = result.first_move()
    assert move is not None and 600.0 <= move["speed_setpoint"] <= 1800.0
    assert record is not None
    stored = hub.actions.get(record.id)
    assert stored.requested_by == "optimizer:line-mpc"
    assert stored.twin_id == "line-1-motor" and stored.name == "speedSetpoint"
    assert stored.value == pytest.approx(move["speed_setpoint"], abs=0.05)
    assert "most throughput over the next 6 h" in stored.reason
    assert stored.mode == "recommend"  # shown to an operator, not sent to the motor


def test_an_infeasible_problem_submits_nothing(hub: Hub) -> None:
    submitted = Recorder()  # nothing must reach it
    case = LineCase(temperature_limit=25.0, back_off=0.0)  # a limit below the hall's 30 °C
    mpc = LiveLineMpc(case, hub.control_state().value, submitted, _warm)
    result, record = mpc.step("line-1-motor")
    assert result.status == "infeasible" and record is None and submitted.actions == []
    assert result.constraint.startswith("winding temperature <= 25")


def test_a_twin_without_readings_is_refused(hub: Hub) -> None:
    submitted = Recorder()
    mpc = LiveLineMpc(LineCase(), hub.control_state().value, submitted, _warm)
    result, record = mpc.step("line-2-motor")  # no telemetry recorded
    assert result.status == "invalid" and record is None and submitted.actions == []
    assert "line-2-motor" in result.message and "windingTemperature" in result.message
