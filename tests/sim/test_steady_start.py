"""``OdeSystem.steady_start``: states no twin value sets start settled for the inputs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from twinsight.core.errors import SimulationError
from twinsight.sim.model import ModelDescription, Variable
from twinsight.sim.ode import OdeSystem
from twinsight.sim.physics import motor_system


def lag(steady: bool = True) -> OdeSystem:
    """A first-order lag towards its input, which may say where it settles."""
    return OdeSystem(
        ModelDescription(
            "lag",
            parameters=(Variable("tau", 10.0, "s", min=0.1),),
            states=(Variable("level", 5.0, min=0.0), Variable("other", 1.0)),
            inputs=(Variable("target", 0.0),),
            outputs=(Variable("level"),),
        ),
        rhs=lambda t, x, u, p: [(u[0] - x[0]) / p[0], 0.0 * x[1]],
        outputs=lambda t, x, u, p: (x[0],),
        steady_start=(lambda u, p: {"level": u[0]}) if steady else None,
    )


def test_a_model_starts_the_named_state_settled_for_its_inputs() -> None:
    model = lag().model()
    model.set_inputs({"target": 3.0})
    assert model.start_steady() == ("level",)
    assert model.state() == {"level": 3.0, "other": 1.0}  # states it does not name stay
    model.advance(100.0)
    assert model.outputs()["level"] == pytest.approx(3.0)  # already settled: no transient


def test_a_measured_state_keeps_the_value_it_was_given() -> None:
    model = lag().model()
    model.set_state({"level": 7.0})
    model.set_inputs({"target": 3.0})
    assert model.start_steady(measured={"level"}) == ()
    assert model.state()["level"] == 7.0


def test_a_model_without_the_hook_is_left_as_it_was() -> None:
    for model in (lag(steady=False).model(), lag(steady=False).fleet(["a", "b"])):
        before = model.state()
        assert model.start_steady() == ()
        assert model.state() == before


def test_a_fleet_starts_each_member_from_its_own_inputs_except_the_measured() -> None:
    fleet = lag().fleet(["a", "b", "c"])
    fleet.set_inputs_array("target", [1.0, 2.0, 3.0])
    assert fleet.start_steady(measured={"b.level"}) == ("a.level", "c.level")
    state = fleet.state()
    assert [state["a.level"], state["b.level"], state["c.level"]] == [1.0, 5.0, 3.0]


def test_a_hook_that_names_no_state_or_gives_a_bad_value_is_refused() -> None:
    wrong = replace(lag(), steady_start=lambda u, p: {"levle": u[0]})
    with pytest.raises(SimulationError, match="'levle', which are not states"):
        wrong.model().start_steady()
    below = lag().fleet(["a", "b"])
    below.set_inputs_array("target", [1.0, -2.0])
    before = below.state()
    with pytest.raises(SimulationError, match=r"b\.level = -2"):
        below.start_steady()
    assert below.state() == before  # nothing half-written


def test_the_motor_drive_starts_at_the_speed_the_drive_holds() -> None:
    fleet = motor_system().fleet(["off", "slow", "fast"])
    fleet.set_inputs_array("running", [0.0, 1.0, 1.0])
    fleet.set_inputs_array("speed_setpoint", [1500.0, 1200.0, 2500.0])  # max_speed 1800
    fleet.start_steady()
    drive = fleet.state_array()[3]
    assert drive.tolist() == [0.0, 1200.0, 1800.0]
    fleet.advance(60.0)
    assert np.array_equal(fleet.state_array()[3], drive)  # no ramp: already there
