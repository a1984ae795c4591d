"""The model repository: the DTDL interfaces a hub knows, persisted in a :class:`ModelStore`.

Behaviour follows Azure Digital Twins so its clients see what they expect:

* an upload is a batch that is parsed and validated as a whole, against the models already
  stored; if any model in it is invalid, none is added;
* uploading an id that exists is refused (``ModelAlreadyExists``);
* deleting a model that another model extends or references is refused
  (``ModelReferencesNotDeleted``); decommissioning keeps it but marks it retired.

The current :class:`~twinsight.models.dtdl.ModelSet` is an immutable snapshot replaced on
every change, so readers (the twin graph validating a write, a query) never see a half-made
update and need no lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from twinsight.core.clock import Clock
from twinsight.core.errors import BadRequest, Conflict, NotFound
from twinsight.core.ports import ModelStore, StoredModel
from twinsight.models.diagnostics import Document
from twinsight.models.dtdl import ModelSet, parse


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What the repository tells about one model (Azure's ``DigitalTwinsModelData``)."""

    id: str
    display_name: dict[str, str]
    description: dict[str, str]
    upload_time: datetime
    decommissioned: bool
    definition: dict[str, Any]


class ModelRepository:
    """Add, get, list, decommission and delete DTDL models."""

    def __init__(
        self,
        store: ModelStore,
        clock: Clock,
        *,
        allow_undefined_extensions: bool = True,
    ) -> None:
        self._store = store
        self._clock = clock
        self._allow_undefined = allow_undefined_extensions
        self._lock = threading.RLock()
        self._records: dict[str, StoredModel] = {m.id: m for m in store.load_models()}
        self._models = self._parse_records(self._records.values())

    def _parse_records(self, records: Iterable[StoredModel]) -> ModelSet:
        return parse(
            [Document(f"stored model {r.id}", r.document) for r in records],
            allow_undefined_extensions=self._allow_undefined,
        )

    @property
    def model_set(self) -> ModelSet:
        """The current, immutable set of every stored model."""
        return self._models

    def __contains__(self, model_id: object) -> bool:
        return model_id in self._records

    def __len__(self) -> int:
        return len(self._records)

    def add(self, documents: Sequence[Document]) -> list[ModelInfo]:
        """Parse, validate and store a batch of models atomically.

        Each document holds one interface or a JSON array of interfaces; every top-level
        interface becomes one model. Raises
        :class:`~twinsight.models.diagnostics.DtdlParseError` (with every error) when any is
        invalid and :class:`Conflict` ``ModelAlreadyExists`` when an id is taken; nothing is
        stored in either case.
        """
        if not documents:
            raise BadRequest("the upload holds no models", code="InvalidArgument")
        with self._lock:
            taken = sorted(_top_level_ids(documents) & self._records.keys())
            if taken:
                raise Conflict(
                    f"model(s) already exist: {', '.join(taken)}; delete them first or "
                    "upload a new version (a new DTMI version number)",
                    code="ModelAlreadyExists",
                )
            new_set = parse(
                documents, known=self._models, allow_undefined_extensions=self._allow_undefined
            )
            now = self._clock.now()
            new_records = [
                StoredModel(id=i, document=_detached(new_set.source_document(i)), upload_time=now)
                for i in new_set.top_level_ids()
            ]
            self._store.insert_models(new_records)
            for record in new_records:
                self._records[record.id] = record
            self._models = new_set
            return [self._info(r) for r in new_records]

    def get(self, model_id: str) -> ModelInfo:
        """One model; ``ModelNotFound`` when it is not stored."""
        record = self._records.get(model_id)
        if record is None:
            raise NotFound(f"there is no model {model_id}", code="ModelNotFound")
        return self._info(record)

    def list_models(self, dependencies_for: Sequence[str] = ()) -> list[ModelInfo]:
        """Every model in upload order, or only the given models and everything they
        depend on (transitively), as Azure's ``dependenciesFor`` does."""
        if not dependencies_for:
            return [self._info(r) for r in self._records.values()]
        wanted: set[str] = set()
        pending = list(dependencies_for)
        while pending:
            model_id = pending.pop()
            if model_id in wanted:
                continue
            if model_id not in self._records:
                raise NotFound(f"there is no model {model_id}", code="ModelNotFound")
            wanted.add(model_id)
            pending.extend(d for d in self._models.dependencies(model_id) if d in self._records)
        return [self._info(r) for r in self._records.values() if r.id in wanted]

    def decommission(self, model_id: str, decommissioned: bool = True) -> ModelInfo:
        """Retire a model: existing twins keep it, new twins may not use it."""
        with self._lock:
            record = self._records.get(model_id)
            if record is None:
                raise NotFound(f"there is no model {model_id}", code="ModelNotFound")
            self._store.set_decommissioned(model_id, decommissioned)
            updated = StoredModel(
                record.id, record.document, record.upload_time, decommissioned=decommissioned
            )
            self._records[model_id] = updated
            return self._info(updated)

    def referenced_by(self, model_id: str) -> list[str]:
        """Ids of the stored models that extend or refer to ``model_id``."""
        return [
            other
            for other in self._records
            if other != model_id and model_id in self._models.dependencies(other)
        ]

    def delete(self, model_id: str) -> None:
        """Delete a model no other model refers to (``ModelReferencesNotDeleted`` if one does)."""
        with self._lock:
            if model_id not in self._records:
                raise NotFound(f"there is no model {model_id}", code="ModelNotFound")
            users = self.referenced_by(model_id)
            if users:
                raise Conflict(
                    f"model {model_id} is still extended or referenced by "
                    f"{', '.join(sorted(users))}; delete those models first",
                    code="ModelReferencesNotDeleted",
                )
            self._store.delete_model(model_id)
            del self._records[model_id]
            # Re-parsed from the stored documents (nothing referred to the deleted model, so
            # they stay valid); a ModelSet cannot yet drop an interface and its elements.
            self._models = self._parse_records(self._records.values())

    def _info(self, record: StoredModel) -> ModelInfo:
        interface = self._models.interface(record.id)
        return ModelInfo(
            id=record.id,
            display_name=dict(interface.display_name),
            description=dict(interface.description),
            upload_time=record.upload_time,
            decommissioned=record.decommissioned,
            definition=record.document,
        )


def _detached(document: Any) -> Any:
    """A deep copy, so a caller mutating what it uploaded cannot change the stored model."""
    return orjson.loads(orjson.dumps(document))


def _top_level_ids(documents: Sequence[Document]) -> set[str]:
    """The ``@id`` of every top-level interface, read before parsing so a duplicate upload is
    reported as ``ModelAlreadyExists`` rather than as a DTDL error."""
    ids: set[str] = set()
    for doc in documents:
        items = doc.content if isinstance(doc.content, list) else [doc.content]
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("@id"), str):
                ids.add(item["@id"])
    return ids
