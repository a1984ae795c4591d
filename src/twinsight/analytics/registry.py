"""The model registry: trained models (detectors, remaining useful life, forecasters,
calibrated physics) as numbered versions, attached to twins or DTDL models.

Why a registry: a derived value (a RUL prediction, an anomaly score) is only as good as
the model behind it, and models are retrained. Each training run registers a new version
of a name with what it was trained on and how well it scored; one version per name is
*active* (a new version is, unless told otherwise; activating an older one rolls back),
and a model is *attached* to a twin or to every twin of a DTDL model, either pinned to a
version or following the active one. Derived values name the version that produced them
in their message properties (:mod:`twinsight.core.provenance`), and
:class:`~twinsight.analytics.registry_derived.DerivedValues` remembers, per twin, which
version produced each value last.

Artefacts are bytes Twinsight wrote itself (a pickled estimator behind a header), stored
in the hub's database with their SHA-256; they are checked against it before loading, so
a damaged artefact is refused with a clear error rather than unpickled. The registry has
no route that uploads an artefact: only code running in Twinsight (training commands)
writes them, because unpickling runs code.

>>> from datetime import UTC, datetime
>>> from twinsight.core.clock import ManualClock
>>> from twinsight.store.sqlite import Database
>>> from twinsight.store.sqlite.model_registry import SqliteModelRegistryStore
>>> registry = ModelRegistry(
...     SqliteModelRegistryStore(Database(":memory:")),
...     ManualClock(datetime(2026, 1, 1, tzinfo=UTC)),
... )
>>> registry.register("demo-rul", "rul", {"weights": [1, 2]}, metrics={"rmse": 3.5}).version
1
>>> registry.load("demo-rul", 1)
{'weights': [1, 2]}
"""

from __future__ import annotations

import hashlib
import math
import pickle
import re
import threading
from collections.abc import Callable, Mapping
from typing import Any, Literal

from twinsight.core.clock import Clock
from twinsight.core.errors import BadRequest, NotFound, StorageError
from twinsight.core.ports import MODEL_KINDS, ModelAttachment, ModelRegistryStore, ModelVersion

HEADER = b"TWINSIGHT-MODEL\x01"
"""What every artefact Twinsight writes starts with (before the pickle)."""
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
TARGET_KINDS = ("twin", "model")

TargetExists = Callable[[str, str], bool]
"""``(target_kind, target) -> bool``: whether a twin id or DTDL model id exists."""


def check_name(name: Any) -> str:
    """A model name: letters, digits, ``.``, ``_``, ``-``; 1 to 100 characters."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise BadRequest(
            f"model name {name!r} must be 1-100 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            code="InvalidArgument",
        )
    return name


def dump_artefact(model: object) -> bytes:
    """The bytes the registry stores for ``model``: the header and its pickle."""
    return HEADER + pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)


def digest(artefact: bytes) -> str:
    return hashlib.sha256(artefact).hexdigest()


class ModelRegistry:
    """Register, find, activate and attach model versions (see the module docstring)."""

    def __init__(
        self,
        store: ModelRegistryStore,
        clock: Clock,
        *,
        target_exists: TargetExists | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._target_exists = target_exists
        self._loaded: dict[tuple[str, int], object] = {}
        self._lock = threading.Lock()
        self._listeners: list[Callable[[str, int], None]] = []

    # ------------------------------------------------------------- versions

    def register(
        self,
        name: str,
        kind: str,
        model: object,
        *,
        description: str = "",
        training: Mapping[str, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
        activate: bool = True,
    ) -> ModelVersion:
        """Store ``model`` as the next version of ``name`` (and make it active)."""
        check_name(name)
        if kind not in MODEL_KINDS:
            raise BadRequest(
                f"model kind {kind!r} is not one of {', '.join(MODEL_KINDS)}",
                code="InvalidArgument",
            )
        clean: dict[str, float] = {}
        for key, value in (metrics or {}).items():
            if (
                not isinstance(value, int | float)
                or isinstance(value, bool)
                or not math.isfinite(value)
            ):
                raise BadRequest(
                    f"metric {key!r} of model {name} must be a finite number, not {value!r}",
                    code="InvalidArgument",
                )
            clean[str(key)] = float(value)
        artefact = dump_artefact(model)
        made = self._store.add_version(
            name,
            kind,
            description,
            dict(training or {}),
            clean,
            artefact,
            digest(artefact),
            self._clock.now(),
        )
        if activate:
            self.activate(name, made.version)
        return made

    def names(self) -> list[str]:
        return sorted({v.name for v in self._store.list_versions()})

    def versions(self, name: str | None = None) -> list[ModelVersion]:
        """Every version (of ``name``: 404 ``ModelNotFound`` if none is registered)."""
        found = self._store.list_versions(name)
        if name is not None and not found:
            raise self._unknown(name)
        return found

    def get(self, name: str, version: int | None = None) -> ModelVersion:
        """One version, or the active one (404 ``ModelNotFound``/``ModelVersionNotFound``)."""
        if version is None:
            version = self.active_version(name)
        found = self._store.get_version(name, version)
        if found is None:
            if not self._store.list_versions(name):
                raise self._unknown(name)
            raise NotFound(f"model {name} has no version {version}", code="ModelVersionNotFound")
        return found

    def active_version(self, name: str) -> int:
        """The active version of ``name`` (404 ``ModelNotFound`` when nothing is registered)."""
        active = self._store.active(name)
        if active is None:
            versions = self._store.list_versions(name)
            if not versions:
                raise self._unknown(name)
            return versions[-1].version
        return active

    def activate(self, name: str, version: int) -> ModelVersion:
        """Make ``version`` the one followed by attachments without a pinned version (an
        older one rolls back); listeners hear of it."""
        found = self.get(name, version)
        self._store.set_active(name, version)
        for listener in list(self._listeners):
            listener(name, version)
        return found

    def subscribe(self, listener: Callable[[str, int], None]) -> Callable[[], None]:
        """Call ``listener(name, version)`` on every activation; returns the unsubscriber."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def load(self, name: str, version: int) -> object:
        """The trained model of that version, checked against its digest first (500
        ``ModelArtefactCorrupt`` when the bytes are not what was registered)."""
        key = (name, version)
        with self._lock:
            if key in self._loaded:
                return self._loaded[key]
        registered = self.get(name, version)
        artefact = self._store.artefact(name, version) or b""
        if digest(artefact) != registered.digest or not artefact.startswith(HEADER):
            raise StorageError(
                f"the artefact of model {name} version {version} is damaged (its SHA-256 "
                "does not match the one registered); register the model again",
                code="ModelArtefactCorrupt",
            )
        try:
            model = pickle.loads(artefact[len(HEADER) :])  # written by us, digest checked
        except Exception as exc:
            raise StorageError(
                f"the artefact of model {name} version {version} cannot be loaded: {exc} "
                "(was it trained with another version of Twinsight or scikit-learn?)",
                code="ModelArtefactCorrupt",
            ) from exc
        with self._lock:
            self._loaded[key] = model
        return model

    # ---------------------------------------------------------- attachments

    def attach(
        self,
        name: str,
        target_kind: str,
        target: str,
        version: int | None = None,
    ) -> ModelAttachment:
        """Attach ``name`` (pinned to ``version``, or following the active one) to a twin
        or a DTDL model; an existing attachment of that name to that target is replaced."""
        if target_kind not in TARGET_KINDS:
            raise BadRequest(
                f"attach to a 'twin' or a 'model', not {target_kind!r}", code="InvalidArgument"
            )
        if not isinstance(target, str) or not target:
            raise BadRequest(f"name the {target_kind} to attach to", code="InvalidArgument")
        if version is None:
            self.active_version(name)  # the name must exist
        else:
            self.get(name, version)
        if self._target_exists is not None and not self._target_exists(target_kind, target):
            code = "TwinNotFound" if target_kind == "twin" else "ModelNotFound"
            raise NotFound(f"there is no {target_kind} {target!r} to attach to", code=code)
        kind: Literal["twin", "model"] = "twin" if target_kind == "twin" else "model"
        attachment = ModelAttachment(name, kind, target, version, self._clock.now())
        self._store.attach(attachment)
        return attachment

    def detach(self, name: str, target_kind: str, target: str) -> None:
        if not self._store.detach(name, target_kind, target):
            raise NotFound(
                f"model {name} is not attached to {target_kind} {target!r}",
                code="AttachmentNotFound",
            )

    def attachments(self, name: str | None = None) -> list[ModelAttachment]:
        return self._store.attachments(name)

    def resolve(self, name: str, twin_id: str, models: tuple[str, ...] = ()) -> int | None:
        """The version of ``name`` that serves ``twin_id``: its own attachment first, else
        one to the first of ``models`` (its DTDL model, then the ones it extends) that has
        one; ``None`` when the model is attached to neither."""
        found: dict[tuple[str, str], ModelAttachment] = {
            (a.target_kind, a.target): a for a in self._store.attachments(name)
        }
        for key in [("twin", twin_id), *(("model", m) for m in models)]:
            attachment = found.get(key)
            if attachment is not None:
                if attachment.version is not None:
                    return attachment.version
                return self.active_version(name)
        return None

    @staticmethod
    def _unknown(name: str) -> NotFound:
        return NotFound(f"no model named {name!r} is registered", code="ModelNotFound")


def version_dict(version: ModelVersion, *, active: int | None = None) -> dict[str, Any]:
    """A version as the API shows it (without the artefact's bytes)."""
    out: dict[str, Any] = {
        "name": version.name,
        "version": version.version,
        "kind": version.kind,
        "description": version.description,
        "training": version.training,
        "metrics": version.metrics,
        "sha256": version.digest,
        "size": version.size,
        "created": version.created.isoformat().replace("+00:00", "Z"),
    }
    if active is not None:
        out["active"] = version.version == active
    return out


def attachment_dict(attachment: ModelAttachment) -> dict[str, Any]:
    return {
        "model": attachment.name,
        attachment.target_kind: attachment.target,
        "version": attachment.version if attachment.version is not None else "active",
        "created": attachment.created.isoformat().replace("+00:00", "Z"),
    }
