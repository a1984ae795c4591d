"""The background loop the polling live services share: rounds go on after a failing one."""

from __future__ import annotations

import logging
import threading

import pytest

from twinsight.core.errors import NotFound
from twinsight.core.periodic import Periodic


def test_a_failing_round_is_logged_and_the_next_rounds_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    rounds: list[int] = []
    done = threading.Event()

    def work() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise NotFound("twin line-9-motor was deleted")
        if len(rounds) == 2:
            raise ZeroDivisionError("a bad solve")
        if len(rounds) >= 4:
            done.set()

    loop = Periodic(work, interval=0.001, name="test-loop", what="test work")
    with caplog.at_level(logging.WARNING, logger="twinsight.core.periodic"):
        loop.start()
        assert done.wait(timeout=10)
        loop.stop()
    assert len(rounds) >= 4
    messages = [r.getMessage() for r in caplog.records]
    assert "test work round failed: twin line-9-motor was deleted" in messages
    assert "test work round failed" in messages  # the unexpected error, with its traceback
    after = len(rounds)
    threading.Event().wait(0.05)
    assert len(rounds) == after  # stopped means stopped
