"""The dead-letter store as users see it: list and inspect what could not be used, replay it
once the mapping or the model is fixed, or discard it.

Replay re-submits the original bytes through the pipeline. It is idempotent: values already
applied from the first attempt are duplicates (same twin, name and time) and change nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from twinsight.core.errors import BadRequest, NotFound
from twinsight.core.messages import RawMessage
from twinsight.core.ports import DeadLetter, DeadLetterStore
from twinsight.ingest.pipeline import IngestPipeline, describe_problems

STATUSES = ("pending", "replayed", "discarded")
MAX_REPLAY = 10_000


@dataclass(frozen=True, slots=True)
class ReplayResult:
    replayed: list[int]
    """Letters whose messages now went through completely."""
    still_failing: dict[int, str]
    """Letters that failed again, with the new reason."""


class DeadLetters:
    def __init__(self, store: DeadLetterStore, pipeline: IngestPipeline) -> None:
        self._store = store
        self._pipeline = pipeline

    def list(
        self,
        *,
        status: str | None = "pending",
        source: str | None = None,
        address_prefix: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[DeadLetter]:
        if status is not None and status not in STATUSES:
            raise BadRequest(
                f"status must be one of {', '.join(STATUSES)}, not {status!r}",
                code="InvalidArgument",
            )
        if not 1 <= limit <= 1000:
            raise BadRequest("limit must be between 1 and 1000", code="InvalidArgument")
        return self._store.list_letters(
            status=status,
            source=source,
            address_prefix=address_prefix,
            after_id=after_id,
            limit=limit,
        )

    def get(self, letter_id: int) -> DeadLetter:
        letter = self._store.get(letter_id)
        if letter is None:
            raise NotFound(f"there is no dead letter {letter_id}", code="DeadLetterNotFound")
        return letter

    def count(self, status: str | None = "pending") -> int:
        return self._store.count(status)

    def replay(self, letter_ids: Sequence[int]) -> ReplayResult:
        """Re-submit the letters' messages; mark those that now pass as ``replayed`` and keep
        the others pending with their new reason."""
        if len(letter_ids) > MAX_REPLAY:
            raise BadRequest(f"replay at most {MAX_REPLAY} letters at once", code="InvalidArgument")
        letters = [self.get(i) for i in letter_ids]
        outcomes = self._pipeline.process(
            [
                RawMessage(
                    letter.source, letter.address, letter.payload, letter.received, letter.client
                )
                for letter in letters
            ]
        )
        replayed: list[int] = []
        failing: dict[int, str] = {}
        for letter, outcome in zip(letters, outcomes, strict=True):
            if outcome.problems:
                failing[letter.id] = describe_problems(outcome.problems)
            else:
                replayed.append(letter.id)
        if replayed:
            self._store.set_status(replayed, "replayed")
        for letter_id, reason in failing.items():
            self._store.set_status([letter_id], "pending", reason)
        return ReplayResult(replayed, failing)

    def replay_pending(self, limit: int = 1000) -> ReplayResult:
        """Replay the oldest ``limit`` pending letters."""
        return self.replay([letter.id for letter in self.list(limit=min(limit, 1000))])

    def discard(self, letter_ids: Sequence[int]) -> None:
        for letter_id in letter_ids:
            self.get(letter_id)
        self._store.set_status(letter_ids, "discarded")
