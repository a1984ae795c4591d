"""Test doubles of the :class:`~twinsight.core.messages.MessageSink` contract.

Connectors are tested against the contract, not against the ingest pipeline: a
:class:`RecordingSink` keeps every batch it is given (thread-safe, since connectors call it
from their worker threads) and can be told to fail, to check the "never drop, acknowledge
only after storing" rules.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from twinsight.core.messages import IngestResult, RawMessage


class RecordingSink:
    """Stores every submitted batch; ``fail_first`` makes the first N submits raise."""

    def __init__(self, fail_first: int = 0, fail_with: Callable[[], Exception] | None = None):
        self.batches: list[list[RawMessage]] = []
        self.attempts = 0
        self.fail_first = fail_first
        self.fail_with = fail_with or (lambda: RuntimeError("disk full (test)"))
        self._lock = threading.Lock()

    def submit(self, messages: list[RawMessage]) -> IngestResult:
        with self._lock:
            self.attempts += 1
            if self.attempts <= self.fail_first:
                raise self.fail_with()
            self.batches.append(list(messages))
        return IngestResult(messages=len(messages), values=len(messages), dead_letters=0)

    @property
    def messages(self) -> list[RawMessage]:
        with self._lock:
            return [m for batch in self.batches for m in batch]

    def payloads(self) -> list[bytes]:
        return [m.payload for m in self.messages]
