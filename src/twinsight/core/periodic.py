"""A round of work repeated on a background thread until stopped.

Why one piece: the live services that poll (remaining useful life, the line MPC) each need
the same loop — run a round, wait, stop promptly when asked — and the same rule for a
round that fails: say what happened and carry on with the next round, because one twin
deleted mid-round or one bad solve must not end the service for every other twin.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from twinsight.core.errors import TwinsightError

log = logging.getLogger(__name__)


class Periodic:
    """Calls ``work`` every ``interval`` seconds on a daemon thread named ``name``;
    ``what`` names the work in the log when a round fails."""

    def __init__(
        self,
        work: Callable[[], object],
        *,
        interval: float,
        name: str,
        what: str,
        join_timeout: float = 10.0,
    ) -> None:
        self._round = work
        self._interval = interval
        self._name = name
        self._what = what
        self._join_timeout = join_timeout
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._round()
            except TwinsightError as error:  # a twin deleted meanwhile, a store closed
                log.warning("%s round failed: %s", self._what, error.message)
            except Exception:  # the loop must outlive one bad round; say what happened
                log.exception("%s round failed", self._what)
            self._stop.wait(self._interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self._join_timeout)
            self._thread = None
