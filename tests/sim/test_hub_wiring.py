"""The hub carries the simulation's services: versioned parameters survive a restart."""

from __future__ import annotations

from pathlib import Path

from twinsight.hub import Hub


def test_calibrated_parameters_are_versioned_and_survive_a_restart(tmp_path: Path) -> None:
    with Hub(tmp_path) as hub:
        assert hub.simulation is None  # no world simulated until one is set
        first = hub.parameters.save("motor-1", "motor", {"efficiency": 0.91})
        second = hub.parameters.save("motor-1", "motor", {"efficiency": 0.9})
        assert second == first + 1
    with Hub(tmp_path) as hub:
        latest = hub.parameters.latest("motor-1", "motor")
        assert latest is not None
        assert (latest.version, dict(latest.parameters)) == (second, {"efficiency": 0.9})
