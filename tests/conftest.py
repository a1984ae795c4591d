"""Shared fixtures: where the shared data sets live, and in-memory hubs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from twinsight.core.clock import ManualClock
from twinsight.hub import Hub


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 1, tzinfo=UTC))


@pytest.fixture
def hub(clock: ManualClock) -> Iterator[Hub]:
    with Hub(clock=clock) as h:
        yield h


@pytest.fixture
def disk_hub_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"
