"""Numpy's floating-point warnings are off while models compute, entered once per step or
run by the master: a diverging member is an error, never a RuntimeWarning, and the error
state outside is left as it was."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from twinsight.core.errors import SimulationError
from twinsight.sim.cosim import CoSimulation
from twinsight.sim.floats import quiet_floats, quietly

from .test_ode import blowing_up


def test_quietly_turns_warnings_off_only_for_its_call_and_nests() -> None:
    before = np.geterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert quietly(lambda: np.float64(1.0) / 0.0) == np.inf
        with quiet_floats():
            with quiet_floats():
                assert np.isnan(quietly(lambda: np.float64(0.0) / 0.0))
            assert np.geterr()["invalid"] == "ignore"
        assert np.geterr() == before
        with pytest.raises(RuntimeWarning):
            _ = np.float64(1.0) / 0.0  # outside, numpy warns as it did


def test_a_member_diverging_in_a_run_is_an_error_and_no_warning() -> None:
    fleet = blowing_up().fleet(["safe", "doomed"], solver="rk4", max_step=0.05)
    fleet.set_state({"safe.y": 0.1})
    sim = CoSimulation({"rockets": fleet})
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow warning would fail the test
        with pytest.raises(SimulationError, match=r"\(doomed\) is not finite") as info:
            sim.run(3.0, 0.5, record=[])
    assert info.value.code == "SimulationDiverged"
    assert info.value.model == "rockets"
    assert sim.time == fleet.time == 1.0  # the step that diverged was not taken
    assert "from t=1 s" in str(info.value)
    assert np.geterr()["over"] != "ignore"  # the run's error state ended with it
