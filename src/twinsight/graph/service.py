"""The twin graph service: twins, relationships and components, validated against their
DTDL models, kept in memory for reads and queries, and written through to a durable store
before any write is acknowledged.

One writer at a time (a lock around each write); readers never lock, because documents are
immutable values replaced on write (see :mod:`twinsight.graph.index`). Every change is
published on the event bus with its old and new document.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from twinsight.core.clock import Clock
from twinsight.core.errors import BadRequest, NotFound, PreconditionFailed, ValidationFailed
from twinsight.core.events import (
    EventBus,
    RelationshipChanged,
    TelemetryReceived,
    TwinChanged,
)
from twinsight.core.ports import TwinStore
from twinsight.graph.ids import check_id
from twinsight.graph.index import GraphIndex
from twinsight.graph.ingested import (
    ApplyStats,
    IngestedColumn,
    IngestedProperty,
    ValueTarget,
    merge_updates,
    missing,
    resolve_target,
)
from twinsight.graph.patch import JsonPatchInvalid, PatchResult, apply_patch
from twinsight.graph.query import QueryPage, run_query
from twinsight.graph.validation import (
    RESERVED_RELATIONSHIP_KEYS,
    check_content,
    check_relationship,
    is_of_model,
)
from twinsight.models.dtdl import Interface, ModelSet, validate_value
from twinsight.models.dtdl import PrimitiveSchema as _Primitive
from twinsight.models.repository import ModelRepository

Doc = dict[str, Any]
_DATETIME = _Primitive("dateTime")


def new_etag() -> str:
    return f'W/"{uuid.uuid4()}"'


def _iso(time: datetime) -> str:
    return time.isoformat().replace("+00:00", "Z")


def check_if_match(current: Mapping[str, Any] | None, if_match: str | None, what: str) -> None:
    """``If-Match``: ``*`` or a list of etags, one of which must be the current one."""
    if if_match is None:
        return
    if current is None:
        raise PreconditionFailed(f"If-Match was given but the {what} does not exist")
    wanted = [tag.strip() for tag in if_match.split(",")]
    if "*" not in wanted and current.get("$etag") not in wanted:
        raise PreconditionFailed(
            f"the {what}'s etag is {current.get('$etag')}, not {if_match}; read it again and retry",
        )


def check_if_none_match(
    current: Mapping[str, Any] | None, if_none_match: str | None, what: str
) -> None:
    """``If-None-Match: *`` means "create only"."""
    if if_none_match is None:
        return
    if if_none_match.strip() != "*":
        raise BadRequest("If-None-Match supports only '*'", code="InvalidArgument")
    if current is not None:
        raise PreconditionFailed(f"the {what} already exists and If-None-Match is '*'")


class TwinGraph:
    """CRUD, patch and query over the twin graph."""

    def __init__(
        self, models: ModelRepository, store: TwinStore, bus: EventBus, clock: Clock
    ) -> None:
        self._models = models
        self._store = store
        self._bus = bus
        self._clock = clock
        self._lock = threading.RLock()
        self._hierarchy_for: ModelSet | None = None
        self._descendants_cache: dict[str, frozenset[str]] = {}
        self._targets: dict[tuple[str, str, str], ValueTarget] = {}
        self._targets_for: ModelSet | None = None
        self.index = GraphIndex(self._descendants_of)
        twins, rels = store.load()
        self.index.load(twins, rels)

    # ----------------------------------------------------------------- models

    def _descendants_of(self, model_id: str) -> frozenset[str]:
        return self._hierarchy().get(model_id, frozenset((model_id,)))

    def _hierarchy(self) -> dict[str, frozenset[str]]:
        """Model id -> itself and every model extending it, rebuilt when models change."""
        current = self._models.model_set
        if current is not self._hierarchy_for:
            table: dict[str, set[str]] = {}
            for model_id, interface in current.interfaces.items():
                table.setdefault(model_id, set()).add(model_id)
                for base in interface.bases:
                    table.setdefault(base, set()).add(model_id)
            self._descendants_cache = {k: frozenset(v) for k, v in table.items()}
            self._hierarchy_for = current
        return self._descendants_cache

    def _interface(self, model_id: Any, *, for_new_twin: bool) -> tuple[Interface, ModelSet]:
        models = self._models.model_set
        if not isinstance(model_id, str) or not model_id:
            raise ValidationFailed(
                "the twin needs its model: set $metadata.$model to a model's DTMI"
            )
        if model_id not in self._models or model_id not in models:
            raise ValidationFailed(
                f"model {model_id} is not in the model repository; upload it first"
            )
        if for_new_twin and self._models.get(model_id).decommissioned:
            raise ValidationFailed(f"model {model_id} is decommissioned; new twins cannot use it")
        return models.interface(model_id), models

    # ------------------------------------------------------------------ twins

    def get_twin(self, twin_id: str) -> Doc:
        twin = self.index.twin(twin_id)
        if twin is None:
            raise NotFound(f"there is no twin {twin_id!r}", code="DigitalTwinNotFound")
        return dict(twin)

    def upsert_twin(
        self,
        twin_id: str,
        body: Any,
        *,
        if_match: str | None = None,
        if_none_match: str | None = None,
    ) -> Doc:
        """Create or replace a twin from its ADT JSON (``$metadata.$model`` plus values)."""
        check_id(twin_id, "twin")
        if not isinstance(body, Mapping):
            raise BadRequest("a twin must be a JSON object", code="InvalidArgument")
        metadata = body.get("$metadata")
        if not isinstance(metadata, Mapping):
            raise ValidationFailed('the twin needs "$metadata": {"$model": "<DTMI>"}')
        if "$dtId" in body and body["$dtId"] != twin_id:
            raise ValidationFailed(
                f"$dtId {body['$dtId']!r} in the body differs from the id {twin_id!r} in the URL"
            )
        with self._lock:
            current = self.index.twin(twin_id)
            check_if_none_match(current, if_none_match, "twin")
            check_if_match(current, if_match, "twin")
            interface, models = self._interface(metadata.get("$model"), for_new_twin=True)
            content = {k: v for k, v in body.items() if k not in ("$dtId", "$etag", "$metadata")}
            problems = check_content(interface, models, content, require_components=True)
            problems += self._source_time_problems(interface, models, body)
            _refuse_if(problems, twin_id)
            now = _iso(self._clock.now())
            twin = self._save_twin(
                twin_id, self._with_metadata(interface, models, content, body, now, interface.id)
            )
        self._bus.publish(
            TwinChanged(
                "update" if current else "create",
                twin_id,
                interface.id,
                self._clock.now(),
                current,
                twin,
            )
        )
        return dict(twin)

    def _save_twin(self, twin_id: str, document: Doc) -> Doc:
        """Give a validated document its id and a new etag, store it durably, then make it
        the live copy readers see."""
        twin = {"$dtId": twin_id, "$etag": new_etag(), **document}
        self._store.put_twin(twin)
        self.index.put_twin(twin)
        return twin

    def _with_metadata(
        self,
        interface: Interface,
        models: ModelSet,
        content: Mapping[str, Any],
        source: Mapping[str, Any],
        now: str,
        model: str | None = None,
    ) -> Doc:
        """Content plus ``$metadata`` stamping each value with ``lastUpdateTime`` and the
        ``sourceTime`` the writer gave (from ``source``'s own ``$metadata``)."""
        given = source.get("$metadata") if isinstance(source.get("$metadata"), Mapping) else {}
        meta: Doc = {} if model is None else {"$model": model}
        meta["$lastUpdateTime"] = now
        doc: Doc = {}
        for key, value in content.items():
            component = interface.components.get(key)
            if component is not None:
                inner = {k: v for k, v in value.items() if k != "$metadata"}
                doc[key] = self._with_metadata(
                    models.interface(component.schema), models, inner, value, now
                )
                continue
            doc[key] = copy.deepcopy(value)
            entry: Doc = {"lastUpdateTime": now}
            prior = given.get(key) if isinstance(given, Mapping) else None
            if isinstance(prior, Mapping) and "sourceTime" in prior:
                entry["sourceTime"] = prior["sourceTime"]
            meta[key] = entry
        doc["$metadata"] = meta
        return doc

    @staticmethod
    def _source_time_problems(
        interface: Interface, models: ModelSet, body: Mapping[str, Any], pointer: str = ""
    ) -> list[str]:
        problems: list[str] = []
        meta = body.get("$metadata")
        if isinstance(meta, Mapping):
            for key, entry in meta.items():
                if key.startswith("$") or not isinstance(entry, Mapping):
                    continue
                if "sourceTime" in entry:
                    problems += validate_value(
                        _DATETIME, entry["sourceTime"], f"{pointer}/$metadata/{key}/sourceTime"
                    )
        for name, component in interface.components.items():
            value = body.get(name)
            if isinstance(value, Mapping):
                problems += TwinGraph._source_time_problems(
                    models.interface(component.schema), models, value, f"{pointer}/{name}"
                )
        return problems

    def patch_twin(
        self, twin_id: str, ops: Any, *, if_match: str | None = None, component: str | None = None
    ) -> Doc:
        """Apply a JSON Patch to a twin (or to one component when ``component`` is given)."""
        with self._lock:
            current = self.index.twin(twin_id)
            if current is None:
                raise NotFound(f"there is no twin {twin_id!r}", code="DigitalTwinNotFound")
            check_if_match(current, if_match, "twin")
            interface, models = self._interface(current["$metadata"]["$model"], for_new_twin=False)
            if component is not None:
                if component not in interface.components:
                    raise NotFound(
                        f"{interface.id} has no component {component!r}",
                        code="ComponentNotFound",
                    )
                ops = _prefix_ops(ops, component)
            content = {k: v for k, v in current.items() if k not in ("$dtId", "$etag")}
            result = apply_patch(content, ops, frozenset(interface.components))
            new_content = {k: v for k, v in result.document.items() if k != "$metadata"}
            # Untouched values were valid before and the model is immutable, so only what
            # the patch wrote is checked (plus that no component was removed).
            written = {address[0] for address in result.touched | result.removed}
            problems = check_content(
                interface,
                models,
                {k: v for k, v in new_content.items() if k in written},
                require_components=False,
            )
            problems += [
                f"/{name}: component {name!r} of {interface.id} cannot be removed"
                for name in interface.components
                if name not in new_content
            ]
            for address, value in result.source_times.items():
                problems += validate_value(_DATETIME, value, "/$metadata/" + "/".join(address))
                if not _exists(new_content, address):
                    problems.append(
                        f"/{'/'.join(address)}: sourceTime given for a property with no value"
                    )
            _refuse_if(problems, twin_id)
            now = _iso(self._clock.now())
            twin = self._save_twin(twin_id, _restamp(result, now, frozenset(interface.components)))
        self._bus.publish(
            TwinChanged(
                "update", twin_id, interface.id, self._clock.now(), current, twin, tuple(ops)
            )
        )
        return dict(twin)

    def delete_twin(self, twin_id: str, *, if_match: str | None = None) -> None:
        with self._lock:
            current = self.index.twin(twin_id)
            if current is None:
                raise NotFound(f"there is no twin {twin_id!r}", code="DigitalTwinNotFound")
            check_if_match(current, if_match, "twin")
            outgoing = self.index.outgoing(twin_id)
            incoming = self.index.incoming(twin_id)
            if outgoing or incoming:
                raise BadRequest(
                    f"twin {twin_id!r} still has {len(outgoing)} outgoing and {len(incoming)} "
                    "incoming relationship(s); delete them first",
                    code="RelationshipsNotDeleted",
                )
            self._store.delete_twin(twin_id)
            self.index.remove_twin(twin_id)
        self._bus.publish(
            TwinChanged(
                "delete", twin_id, current["$metadata"]["$model"], self._clock.now(), current, None
            )
        )

    def get_component(self, twin_id: str, component: str) -> Doc:
        twin = self.get_twin(twin_id)
        interface, _ = self._interface(twin["$metadata"]["$model"], for_new_twin=False)
        if component not in interface.components:
            raise NotFound(
                f"{interface.id} has no component {component!r}", code="ComponentNotFound"
            )
        value = twin.get(component)
        return dict(value) if isinstance(value, Mapping) else {"$metadata": {}}

    # ----------------------------------------------------------- relationships

    def _relationship_definition(
        self, source: Mapping[str, Any], name: Any
    ) -> tuple[Any, ModelSet]:
        interface, models = self._interface(source["$metadata"]["$model"], for_new_twin=False)
        if not isinstance(name, str) or name not in interface.relationships:
            defined = ", ".join(sorted(interface.relationships)) or "none"
            raise ValidationFailed(
                f"{interface.id} defines no relationship {name!r} (it defines: {defined})"
            )
        return interface.relationships[name], models

    def upsert_relationship(
        self,
        source_id: str,
        relationship_id: str,
        body: Any,
        *,
        if_none_match: str | None = None,
        if_match: str | None = None,
    ) -> Doc:
        check_id(relationship_id, "relationship")
        if not isinstance(body, Mapping):
            raise BadRequest("a relationship must be a JSON object", code="InvalidArgument")
        with self._lock:
            source = self.index.twin(source_id)
            if source is None:
                raise NotFound(f"there is no twin {source_id!r}", code="DigitalTwinNotFound")
            current = self.index.relationship(source_id, relationship_id)
            check_if_none_match(current, if_none_match, "relationship")
            check_if_match(current, if_match, "relationship")
            target_id = body.get("$targetId")
            name = body.get("$relationshipName")
            definition, models = self._relationship_definition(source, name)
            if not isinstance(target_id, str):
                raise ValidationFailed("the relationship needs a $targetId")
            target = self.index.twin(target_id)
            if target is None:
                raise ValidationFailed(
                    f"the target twin {target_id!r} does not exist", code="TargetTwinNotFound"
                )
            problems = check_relationship(definition, models, body)
            target_model = target["$metadata"]["$model"]
            if definition.target and not is_of_model(models, target_model, definition.target):
                problems.append(
                    f"/$targetId: relationship {name!r} must target a {definition.target}, but "
                    f"{target_id!r} is a {target_model}"
                )
            if definition.max_multiplicity is not None:
                others = [
                    r
                    for r in self.index.outgoing(source_id, name)
                    if r["$relationshipId"] != relationship_id
                ]
                if len(others) >= definition.max_multiplicity:
                    problems.append(
                        f"/$relationshipName: {source_id!r} already has {len(others)} {name!r} "
                        f"relationship(s); the model allows at most {definition.max_multiplicity}"
                    )
            _refuse_if(problems, relationship_id)
            rel: Doc = {
                k: copy.deepcopy(v) for k, v in body.items() if k not in RESERVED_RELATIONSHIP_KEYS
            }
            rel.update(
                {
                    "$relationshipId": relationship_id,
                    "$etag": new_etag(),
                    "$sourceId": source_id,
                    "$relationshipName": name,
                    "$targetId": target_id,
                }
            )
            self._store.put_relationship(rel)
            self.index.put_relationship(rel)
        self._bus.publish(
            RelationshipChanged(
                "update" if current else "create",
                source_id,
                relationship_id,
                str(name),
                target_id,
                self._clock.now(),
                rel,
            )
        )
        return dict(rel)

    def get_relationship(self, source_id: str, relationship_id: str) -> Doc:
        if self.index.twin(source_id) is None:
            raise NotFound(f"there is no twin {source_id!r}", code="DigitalTwinNotFound")
        rel = self.index.relationship(source_id, relationship_id)
        if rel is None:
            raise NotFound(
                f"twin {source_id!r} has no relationship {relationship_id!r}",
                code="RelationshipNotFound",
            )
        return dict(rel)

    def patch_relationship(
        self, source_id: str, relationship_id: str, ops: Any, *, if_match: str | None = None
    ) -> Doc:
        with self._lock:
            current = self.get_relationship(source_id, relationship_id)
            check_if_match(current, if_match, "relationship")
            props = {k: v for k, v in current.items() if k not in RESERVED_RELATIONSHIP_KEYS}
            result = apply_patch(props, ops)
            if result.source_times:
                raise JsonPatchInvalid("relationship properties have no $metadata to patch")
            source = self.index.twin(source_id)
            assert source is not None
            definition, models = self._relationship_definition(source, current["$relationshipName"])
            problems = check_relationship(definition, models, result.document)
            _refuse_if(problems, relationship_id)
            rel = {**result.document, **{k: current[k] for k in RESERVED_RELATIONSHIP_KEYS}}
            rel["$etag"] = new_etag()
            self._store.put_relationship(rel)
            self.index.put_relationship(rel)
        self._bus.publish(
            RelationshipChanged(
                "update",
                source_id,
                relationship_id,
                rel["$relationshipName"],
                rel["$targetId"],
                self._clock.now(),
                rel,
            )
        )
        return dict(rel)

    def delete_relationship(
        self, source_id: str, relationship_id: str, *, if_match: str | None = None
    ) -> None:
        with self._lock:
            current = self.get_relationship(source_id, relationship_id)
            check_if_match(current, if_match, "relationship")
            self._store.delete_relationship(source_id, relationship_id)
            self.index.remove_relationship(source_id, relationship_id)
        self._bus.publish(
            RelationshipChanged(
                "delete",
                source_id,
                relationship_id,
                current["$relationshipName"],
                current["$targetId"],
                self._clock.now(),
            )
        )

    def list_relationships(self, source_id: str, name: str | None = None) -> list[Doc]:
        if self.index.twin(source_id) is None:
            raise NotFound(f"there is no twin {source_id!r}", code="DigitalTwinNotFound")
        rels = self.index.outgoing(source_id, name)
        return sorted((dict(r) for r in rels), key=lambda r: r["$relationshipId"])

    def list_incoming(self, target_id: str) -> list[Doc]:
        if self.index.twin(target_id) is None:
            raise NotFound(f"there is no twin {target_id!r}", code="DigitalTwinNotFound")
        return sorted(
            (
                {
                    "$relationshipId": r["$relationshipId"],
                    "$sourceId": r["$sourceId"],
                    "$relationshipName": r["$relationshipName"],
                    "$relationshipLink": f"/digitaltwins/{r['$sourceId']}/relationships/"
                    f"{r['$relationshipId']}",
                }
                for r in self.index.incoming(target_id)
            ),
            key=lambda r: (r["$sourceId"], r["$relationshipId"]),
        )

    # -------------------------------------------------------------- telemetry

    def publish_telemetry(
        self,
        twin_id: str,
        payload: Any,
        *,
        message_id: str,
        source_time: datetime | None = None,
        component: str | None = None,
        properties: Mapping[str, str] | None = None,
    ) -> None:
        """Put a telemetry message for a twin on the event bus (recorders pick it up).
        ``properties`` are the message's application properties; derived values name the
        model version that produced them there (:mod:`twinsight.core.provenance`)."""
        twin = self.get_twin(twin_id)
        if not isinstance(payload, Mapping):
            raise BadRequest("telemetry must be a JSON object", code="InvalidArgument")
        if component is not None:
            self.get_component(twin_id, component)
        self._bus.publish(
            TelemetryReceived(
                twin_id,
                twin["$metadata"]["$model"],
                component,
                message_id,
                dict(payload),
                self._clock.now(),
                source_time,
                dict(properties or {}),
            )
        )

    # -------------------------------------------------------------- live data

    def value_target(self, twin_id: str, kind: str, path: str) -> ValueTarget:
        """Schema and unit of a twin's property or telemetry ``path`` (``name`` or
        ``component.name``), cached per model so the ingest path pays a dict look-up."""
        twin = self.index.twin(twin_id)
        if twin is None:
            raise missing(twin_id)
        models = self._models.model_set
        if models is not self._targets_for:
            self._targets.clear()
            self._targets_for = models
        key = (twin["$metadata"]["$model"], kind, path)
        target = self._targets.get(key)
        if target is None:
            interface, models = self._interface(key[0], for_new_twin=False)
            target = self._targets[key] = resolve_target(interface, models, kind, path)
        return target

    def apply_ingested(
        self, updates: Sequence[IngestedProperty], columns: Sequence[IngestedColumn] = ()
    ) -> ApplyStats:
        """Make validated live values the twins' current state where they are the newest by
        source time; store the changed twins in one transaction; publish the changes (marked
        as already recorded in history by the caller). ``columns``: more values, a column
        of one property at a time (see :class:`IngestedColumn`)."""
        by_twin: dict[str, tuple[list[IngestedProperty], list[IngestedColumn]]] = {}
        for update in updates:
            by_twin.setdefault(update.twin_id, ([], []))[0].append(update)
        for column in columns:
            by_twin.setdefault(column.twin_id, ([], []))[1].append(column)
        now = self._clock.now()
        stamp = _iso(now)
        late = duplicates = gone = 0
        changes: list[tuple[Doc, Doc]] = []
        with self._lock:
            for twin_id, (group, twin_columns) in by_twin.items():
                current = self.index.twin(twin_id)
                if current is None:  # deleted since the values were validated
                    gone += len(group) + sum(len(c.times) for c in twin_columns)
                    continue
                doc, group_late, group_duplicates = merge_updates(
                    current, group, stamp, twin_columns
                )
                late += group_late
                duplicates += group_duplicates
                if doc is not None:
                    doc["$etag"] = new_etag()
                    changes.append((dict(current), doc))
            if changes:
                self._store.put_twins([new for _, new in changes])
                for _, new in changes:
                    self.index.put_twin(new)
        for old, new in changes:
            self._bus.publish(
                TwinChanged(
                    "update",
                    new["$dtId"],
                    new["$metadata"]["$model"],
                    now,
                    old,
                    new,
                    recorded=True,
                )
            )
        return ApplyStats(len(changes), late, duplicates, gone)

    # ------------------------------------------------------------------ query

    def query(
        self, text: Any, *, continuation: str | None = None, page_size: int = 100
    ) -> QueryPage:
        if text is not None and not isinstance(text, str):
            raise BadRequest("the query must be a string", code="SqlQueryError")
        self._hierarchy()  # make IS_OF_MODEL see the current models
        return run_query(text, self.index, page_size=page_size, continuation=continuation)


def _prefix_ops(ops: Any, component: str) -> Any:
    if not isinstance(ops, list):
        return ops
    return [
        {**op, "path": f"/{component}{op['path']}"}
        if isinstance(op, Mapping) and isinstance(op.get("path"), str)
        else op
        for op in ops
    ]


def _exists(content: Mapping[str, Any], address: tuple[str, ...]) -> bool:
    cur: Any = content
    for part in address:
        if not isinstance(cur, Mapping) or part not in cur:
            return False
        cur = cur[part]
    return True


def _restamp(result: PatchResult, now: str, components: frozenset[str]) -> Doc:
    """Update ``$metadata`` after a patch: written properties get ``lastUpdateTime`` (and a
    patched ``sourceTime``), removed ones lose their entry, a component written whole gets
    every property stamped."""
    twin: Doc = result.document
    addresses = result.touched | set(result.source_times) | result.removed
    # $metadata dicts may still be shared with the stored document: copy before writing.
    twin["$metadata"] = dict(twin["$metadata"])
    for name in {a[0] for a in addresses if len(a) == 2 and isinstance(twin.get(a[0]), dict)}:
        twin[name] = {**twin[name], "$metadata": dict(twin[name].get("$metadata") or {})}
    for address in addresses:
        if len(address) == 1 and address[0] in components:
            component = twin.get(address[0])
            if isinstance(component, dict):
                meta: Doc = {"$lastUpdateTime": now}
                meta.update({p: {"lastUpdateTime": now} for p in component if p != "$metadata"})
                component["$metadata"] = meta
            continue
        holder = twin if len(address) == 1 else twin.get(address[0])
        if not isinstance(holder, dict):
            continue
        meta = holder.setdefault("$metadata", {})
        key = address[-1]
        if address in result.removed:
            meta.pop(key, None)
        else:
            entry = dict(meta.get(key) or {})
            if address in result.touched:
                entry["lastUpdateTime"] = now
                entry.pop("sourceTime", None)
            if address in result.source_times:
                entry["sourceTime"] = result.source_times[address]
            meta[key] = entry
        meta["$lastUpdateTime"] = now
    twin["$metadata"]["$lastUpdateTime"] = now
    return twin


def _refuse_if(problems: Sequence[str], subject: str) -> None:
    """Raise ``ValidationFailed`` listing every problem, if there is any."""
    if problems:
        raise ValidationFailed(_summary(problems, subject), details=_details(problems))


def _summary(problems: Sequence[str], subject: str) -> str:
    head = "; ".join(problems[:3])
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    return f"{subject!r} does not conform to its model: {head}{more}"


def _details(problems: Sequence[str]) -> list[dict[str, Any]]:
    return [{"code": "ValidationFailed", "message": p} for p in problems]
