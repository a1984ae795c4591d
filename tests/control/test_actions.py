"""Combining guards' verdicts: a refusal wins, otherwise the strictest mode."""

from __future__ import annotations

from twinsight.control.actions import Verdict, combine


def test_no_guard_allows_automatically() -> None:
    assert combine([]) == Verdict.allow()


def test_the_first_refusal_wins_over_any_allowance() -> None:
    refusal = Verdict.refuse("bounds", "speedSetpoint 9000 rpm over the maximum 3000 rpm")
    verdict = combine([Verdict.allow("rate"), refusal, Verdict.refuse("interlock", "door open")])
    assert verdict is refusal


def test_the_strictest_mode_wins_and_every_reason_and_prediction_is_kept() -> None:
    verdict = combine(
        [
            Verdict.allow("bounds"),
            Verdict(True, "approve", "large step", "rate", {"speed": 2900}),
            Verdict(True, "recommend", "night shift", "mode", {"temperature": 80}),
        ]
    )
    assert (verdict.allowed, verdict.mode, verdict.guard) == (True, "recommend", "mode")
    assert verdict.reason == "large step; night shift"
    assert verdict.prediction == {"speed": 2900, "temperature": 80}
