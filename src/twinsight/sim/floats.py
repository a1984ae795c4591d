"""Numpy's floating-point warnings off around model arithmetic, entered once per step.

A model whose arithmetic divides by zero or overflows is not warned about: its state turns
non-finite and the step is refused as diverged (``SimulationError``, code
``SimulationDiverged``), which names the model and the time. So the ODE models compute
under ``np.errstate(all="ignore")``. Entering that context costs about a microsecond, and
a step of the 100-machine factory used to enter it six times (each fleet's advance, each
output evaluation) in a step of a few hundred microseconds: the co-simulation master now
enters it once per step (once per run in :meth:`CoSimulation.run`), and the models see
that it is already in force and skip their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

import numpy as np

_QUIET: ContextVar[bool] = ContextVar("twinsight_sim_floats_quiet", default=False)
"""True while :func:`quiet_floats` is in force in this thread or task (numpy's own error
state is a context variable too, so the two stay in step)."""

T = TypeVar("T")


@contextmanager
def quiet_floats() -> Iterator[None]:
    """Numpy floating-point warnings off (``np.errstate(all="ignore")``) until the block
    ends; nested uses cost a context-variable read."""
    if _QUIET.get():
        yield
        return
    token = _QUIET.set(True)
    try:
        with np.errstate(all="ignore"):
            yield
    finally:
        _QUIET.reset(token)


def quietly(compute: Callable[[], T]) -> T:
    """``compute()`` with numpy floating-point warnings off, entering the error state only
    when no caller has already (the cheap path of every model step in a run)."""
    if _QUIET.get():
        return compute()
    token = _QUIET.set(True)
    try:
        with np.errstate(all="ignore"):
            return compute()
    finally:
        _QUIET.reset(token)
