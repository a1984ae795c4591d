"""The in-memory twin graph index the twin graph service keeps and queries run against.

The service persists twins and relationships elsewhere; this module only holds the live graph
in shapes that make the ADT query dialect cheap to answer: twins by id, relationships by
``(source, relationship id)``, outgoing adjacency ``source -> name -> {relationship ids}``,
incoming adjacency ``target -> {(source, relationship id)}``, twins by exact model id, and
on-demand equality indexes on twin property paths (built the first time a query asks for one,
then maintained on every write).

Concurrency rule (one writer, many readers):

* Every mutation holds ``self._lock``. There is one writer at a time.
* Twin and relationship documents are immutable values: writers *replace* them, never mutate
  them, so a reader holding a document always sees a consistent version.
* Readers never take the lock. Point reads are single ``dict.get`` calls; anything a reader
  iterates is first snapshotted with one C-level copy (``tuple(s)``, ``set(s)``, ``list(d)``)
  which the GIL makes atomic. Readers may also hold the index's *live* sets (by-model,
  property values) as long as they only apply single C-level operations to them (``in``,
  ``len``, ``&``, ``set.union``), never Python-level iteration. The sorted id order is a
  copy-on-write structure (:class:`SortedKeys`) published with one assignment. A query
  therefore sees each container as of some instant, but two containers may be from
  different instants (a relationship whose target was just deleted); the executor tolerates
  that by skipping ids that no longer resolve.
* Building a property index takes the writer lock, so it cannot interleave with the
  incremental maintenance writers do.

This relies on the GIL; on a free-threaded interpreter readers would have to take the lock.
"""

from __future__ import annotations

import threading
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping, Set
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from _typeshed import SupportsRichComparison

Twin = Mapping[str, Any]
Relationship = Mapping[str, Any]
RelKey = tuple[str, str]
"""A relationship's identity: ``(source twin id, relationship id)``."""

PropPath = tuple[str, ...]
ValueKey = tuple[str, Any]
"""A JSON scalar tagged with its type, so ``True``, ``1`` and ``'1'`` never collide."""

_EMPTY: frozenset[str] = frozenset()


def value_key(value: Any) -> ValueKey | None:
    """The hashable, type-tagged key of a JSON scalar, or ``None`` for objects and arrays.

    Python considers ``True == 1``; ADT does not, so booleans get their own tag. Integers and
    floats share the ``"n"`` tag because ``1 = 1.0`` in the query language.

    >>> value_key(True), value_key(1), value_key(1.0) == value_key(1), value_key([1])
    (('b', True), ('n', 1), True, None)
    """
    if value is None:
        return ("z", None)
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, int | float):
        return ("n", value)
    if isinstance(value, str):
        return ("s", value)
    return None


_MISSING = object()


def resolve_path(doc: Mapping[str, Any], path: PropPath) -> Any:
    """The value at ``path`` inside ``doc``, or the ``MISSING`` sentinel when undefined."""
    cur: Any = doc
    for part in path:
        if not isinstance(cur, Mapping):
            return _MISSING
        cur = cur.get(part, _MISSING)
        if cur is _MISSING:
            return _MISSING
    return cur


MISSING = _MISSING


def _add_member(mapping: dict[Any, Any], key: Any, member: str | RelKey) -> None:
    """Add to a bare-member-or-set slot (writer only)."""
    current = mapping.get(key)
    if current is None:
        mapping[key] = member
    elif isinstance(current, set):
        current.add(member)
    elif current != member:
        mapping[key] = {current, member}


def _remove_member(mapping: dict[Any, Any], key: Any, member: str | RelKey) -> None:
    """Remove from a bare-member-or-set slot, shrinking it back to a bare member."""
    current = mapping.get(key)
    if current is None:
        return
    if isinstance(current, set):
        rest = current - {member}
        if not rest:
            del mapping[key]
        elif len(rest) == 1:
            mapping[key] = next(iter(rest))
        else:
            current.discard(member)
    elif current == member:
        del mapping[key]


def _members(value: Any) -> tuple[Any, ...]:
    """A snapshot of a bare-member-or-set slot (reader side; one atomic copy)."""
    if value is None:
        return ()
    if isinstance(value, set):
        return tuple(value)
    return (value,)


K = TypeVar("K", bound="SupportsRichComparison")


class SortedKeys(Generic[K]):
    """Keys in sorted order, kept incrementally, readable while a writer changes them.

    Paging walks twins in id order from a cursor, so the order must be cheap to resume and
    must not be re-sorted (about a second at 1M twins) every time a twin is created. Keys
    live in immutable blocks of about :attr:`BLOCK` keys; a write copies one block and the
    small tuple of blocks (O(BLOCK + n/BLOCK), ~10 µs at 1M keys) and publishes both with
    one assignment, so readers iterate a consistent snapshot without locking.

    The structure is built lazily on first read, so a bulk load pays one sort at the end.
    """

    BLOCK = 1024

    def __init__(self) -> None:
        self._state: tuple[tuple[tuple[K, ...], ...], tuple[K, ...]] | None = None

    @property
    def built(self) -> bool:
        """Whether the order exists yet (writers skip maintenance until it does)."""
        return self._state is not None

    def build(self, keys: Iterable[K]) -> None:
        """Replace the contents with ``keys`` (writer side)."""
        ordered = sorted(keys)
        size = self.BLOCK
        blocks = tuple(tuple(ordered[i : i + size]) for i in range(0, len(ordered), size))
        self._state = (blocks, tuple(b[-1] for b in blocks))

    def add(self, key: K) -> None:
        """Insert ``key`` (writer side; no-op before the first build)."""
        state = self._state
        if state is None:
            return
        blocks, maxes = state
        if not blocks:
            self._state = (((key,),), (key,))
            return
        b = min(bisect_left(maxes, key), len(blocks) - 1)
        block = blocks[b]
        i = bisect_left(block, key)
        if i < len(block) and block[i] == key:
            return
        grown = (*block[:i], key, *block[i:])
        if len(grown) > 2 * self.BLOCK:
            half = len(grown) // 2
            parts: tuple[tuple[K, ...], ...] = (grown[:half], grown[half:])
        else:
            parts = (grown,)
        self._publish(blocks, b, parts)

    def discard(self, key: K) -> None:
        """Remove ``key`` if present (writer side)."""
        state = self._state
        if state is None:
            return
        blocks, maxes = state
        b = bisect_left(maxes, key)
        if b == len(blocks):
            return
        block = blocks[b]
        i = bisect_left(block, key)
        if i == len(block) or block[i] != key:
            return
        shrunk = block[:i] + block[i + 1 :]
        self._publish(blocks, b, (shrunk,) if shrunk else ())

    def _publish(
        self, blocks: tuple[tuple[K, ...], ...], b: int, parts: tuple[tuple[K, ...], ...]
    ) -> None:
        new_blocks = (*blocks[:b], *parts, *blocks[b + 1 :])
        self._state = (new_blocks, tuple(block[-1] for block in new_blocks))

    def iter_from(self, after: K | None = None) -> Iterator[K]:
        """Keys greater than ``after`` (all keys when ``None``), ascending, from one snapshot."""
        state = self._state
        if state is None:
            return
        blocks, maxes = state
        if after is None:
            b, i = 0, 0
        else:
            b = bisect_right(maxes, after)
            i = bisect_right(blocks[b], after) if b < len(blocks) else 0
        for n in range(b, len(blocks)):
            block = blocks[n]
            yield from (block[i:] if i else block)
            i = 0


def _exact_only(model_id: str) -> frozenset[str]:
    return frozenset((model_id,))


class GraphIndex:
    """Twins, relationships and the secondary structures queries need, all in memory.

    ``descendants(model_id)`` returns every model id that is ``model_id`` or extends it; it
    comes from the model service and is swapped with :meth:`set_model_hierarchy` whenever
    models change.
    """

    def __init__(self, descendants: Callable[[str], frozenset[str]] = _exact_only) -> None:
        self._lock = threading.RLock()
        self._descendants = descendants
        self._twins: dict[str, Twin] = {}
        self._rels: dict[RelKey, Relationship] = {}
        # adjacency values are a bare member when there is one (most twins have one parent),
        # a set otherwise: a set costs ~200 bytes, which is a third of the index per twin
        self._out: dict[str, dict[str, str | set[str]]] = {}
        self._in: dict[str, RelKey | set[RelKey]] = {}
        self._by_model: dict[str, set[str]] = {}
        self._prop_index: dict[PropPath, dict[ValueKey, set[str]]] = {}
        self._ids: SortedKeys[str] = SortedKeys()
        self._rel_keys: SortedKeys[RelKey] = SortedKeys()

    # ------------------------------------------------------------------ models

    def set_model_hierarchy(self, descendants: Callable[[str], frozenset[str]]) -> None:
        """Replace the inheritance oracle (after models are added or decommissioned)."""
        self._descendants = descendants

    def descendants(self, model_id: str) -> frozenset[str]:
        """Every model id that is ``model_id`` or (transitively) extends it."""
        return self._descendants(model_id) | {model_id}

    # ------------------------------------------------------------------ writes

    def put_twin(self, twin: Twin) -> None:
        """Insert or replace a twin (keyed by ``$dtId``); the dict must not be mutated later."""
        twin_id = twin["$dtId"]
        model = twin.get("$metadata", {}).get("$model", "")
        with self._lock:
            old = self._twins.get(twin_id)
            if old is not None:
                old_model = old.get("$metadata", {}).get("$model", "")
                if old_model != model:
                    self._discard(self._by_model, old_model, twin_id)
                self._unindex_props(old, twin_id)
            else:
                self._ids.add(twin_id)
            self._twins[twin_id] = twin
            self._by_model.setdefault(model, set()).add(twin_id)
            self._index_props(twin, twin_id)

    def remove_twin(self, twin_id: str) -> Twin | None:
        """Remove a twin and return it (``None`` if absent); its relationships stay indexed.

        ADT refuses to delete a twin that still has relationships; enforcing that is the
        service's job, so this method does not cascade.
        """
        with self._lock:
            old = self._twins.pop(twin_id, None)
            if old is None:
                return None
            self._ids.discard(twin_id)
            self._discard(self._by_model, old.get("$metadata", {}).get("$model", ""), twin_id)
            self._unindex_props(old, twin_id)
            return old

    def put_relationship(self, rel: Relationship) -> None:
        """Insert or replace a relationship (keyed by ``$sourceId`` and ``$relationshipId``)."""
        key = (rel["$sourceId"], rel["$relationshipId"])
        with self._lock:
            old = self._rels.get(key)
            if old is not None:
                self._unlink(old)
            else:
                self._rel_keys.add(key)
            self._rels[key] = rel
            _add_member(self._out.setdefault(key[0], {}), rel["$relationshipName"], key[1])
            _add_member(self._in, rel["$targetId"], key)

    def remove_relationship(self, source_id: str, rel_id: str) -> Relationship | None:
        """Remove a relationship and return it (``None`` if absent)."""
        with self._lock:
            old = self._rels.pop((source_id, rel_id), None)
            if old is not None:
                self._rel_keys.discard((source_id, rel_id))
                self._unlink(old)
            return old

    def _unlink(self, rel: Relationship) -> None:
        source, rel_id = rel["$sourceId"], rel["$relationshipId"]
        by_name = self._out.get(source)
        if by_name is not None:
            _remove_member(by_name, rel["$relationshipName"], rel_id)
            if not by_name:
                del self._out[source]
        _remove_member(self._in, rel["$targetId"], (source, rel_id))

    @staticmethod
    def _discard(mapping: dict[Any, set[Any]], key: Any, member: Any) -> None:
        members = mapping.get(key)
        if members is not None:
            members.discard(member)
            if not members:
                del mapping[key]

    # ------------------------------------------------------------------ property indexes

    def _index_props(self, twin: Twin, twin_id: str) -> None:
        for path, index in self._prop_index.items():
            key = value_key(resolve_path(twin, path))
            if key is not None:
                index.setdefault(key, set()).add(twin_id)

    def _unindex_props(self, twin: Twin, twin_id: str) -> None:
        for path, index in self._prop_index.items():
            key = value_key(resolve_path(twin, path))
            if key is not None:
                self._discard(index, key, twin_id)

    def property_index(self, path: PropPath) -> dict[ValueKey, set[str]]:
        """The equality index for ``path`` (value key -> twin ids), built on first use.

        Values that are objects or arrays, and twins where the path is undefined, are not in
        the index. Callers must treat the returned mapping and its sets as read-only and
        snapshot before iterating.
        """
        index = self._prop_index.get(path)
        if index is not None:
            return index
        with self._lock:
            index = self._prop_index.get(path)
            if index is None:
                index = {}
                for twin_id, twin in self._twins.items():
                    key = value_key(resolve_path(twin, path))
                    if key is not None:
                        index.setdefault(key, set()).add(twin_id)
                self._prop_index[path] = index
            return index

    def indexed_paths(self) -> tuple[PropPath, ...]:
        """Property paths with a live equality index."""
        return tuple(self._prop_index)

    def drop_property_index(self, path: PropPath) -> None:
        """Forget an equality index (it is rebuilt on the next query that wants it)."""
        with self._lock:
            self._prop_index.pop(path, None)

    # ------------------------------------------------------------------ reads

    def twin(self, twin_id: str) -> Twin | None:
        """The twin with this id, or ``None``."""
        return self._twins.get(twin_id)

    def relationship(self, source_id: str, rel_id: str) -> Relationship | None:
        """The relationship with this source and id, or ``None``."""
        return self._rels.get((source_id, rel_id))

    def outgoing(self, twin_id: str, name: str | None = None) -> list[Relationship]:
        """Relationships whose source is ``twin_id`` (optionally only those named ``name``)."""
        by_name = self._out.get(twin_id)
        if not by_name:
            return []
        if name is None:
            ids = [rid for members in tuple(by_name.values()) for rid in _members(members)]
        else:
            ids = list(_members(by_name.get(name)))
        rels = self._rels
        found = (rels.get((twin_id, rid)) for rid in ids)
        return [r for r in found if r is not None]

    def incoming(self, twin_id: str, name: str | None = None) -> list[Relationship]:
        """Relationships whose target is ``twin_id`` (optionally only those named ``name``)."""
        keys = _members(self._in.get(twin_id))
        rels = self._rels
        found = (rels.get(k) for k in keys)
        return [
            r for r in found if r is not None and (name is None or r["$relationshipName"] == name)
        ]

    def twins_of_model(self, model_id: str, exact: bool = False) -> set[str]:
        """Ids of twins whose model is ``model_id`` (or, unless ``exact``, extends it)."""
        models = (model_id,) if exact else tuple(self.descendants(model_id))
        result: set[str] = set()
        for model in models:
            members = self._by_model.get(model)
            if members:
                result |= set(members)
        return result

    def model_ids_in_use(self) -> frozenset[str]:
        """Model ids at least one twin is currently of."""
        return frozenset(tuple(self._by_model))

    def iter_twin_ids(self, after: str | None = None) -> Iterator[str]:
        """Twin ids greater than ``after``, ascending (the order paging resumes in)."""
        if not self._ids.built:
            with self._lock:
                if not self._ids.built:
                    self._ids.build(self._twins)
        return self._ids.iter_from(after)

    def iter_relationship_keys(self, after: RelKey | None = None) -> Iterator[RelKey]:
        """Relationship keys greater than ``after``, ascending."""
        if not self._rel_keys.built:
            with self._lock:
                if not self._rel_keys.built:
                    self._rel_keys.build(self._rels)
        return self._rel_keys.iter_from(after)

    def twin_ids(self) -> tuple[str, ...]:
        """All twin ids, sorted."""
        return tuple(self.iter_twin_ids())

    def relationship_keys(self) -> tuple[RelKey, ...]:
        """All relationship keys, sorted."""
        return tuple(self.iter_relationship_keys())

    def model_sets(self, model_id: str, exact: bool = False) -> list[Set[str]]:
        """The live by-model sets behind :meth:`twins_of_model` (read-only; use C-level set
        operations such as ``&``, ``len`` or ``in`` on them, never Python-level iteration)."""
        models = (model_id,) if exact else tuple(self.descendants(model_id))
        found = (self._by_model.get(m) for m in models)
        return [members for members in found if members]

    def iter_twins(self) -> Iterator[Twin]:
        """Every twin, over a snapshot of the id set."""
        twins = self._twins
        for twin_id in list(twins):
            twin = twins.get(twin_id)
            if twin is not None:
                yield twin

    def has_twin(self, twin_id: str) -> bool:
        """Whether a twin with this id exists."""
        return twin_id in self._twins

    @property
    def twin_count(self) -> int:
        """How many twins the graph holds."""
        return len(self._twins)

    @property
    def relationship_count(self) -> int:
        """How many relationships the graph holds."""
        return len(self._rels)

    def load(self, twins: Iterable[Twin], rels: Iterable[Relationship] = ()) -> None:
        """Bulk insert (e.g. at start-up from storage) under one lock acquisition."""
        with self._lock:
            for twin in twins:
                self.put_twin(twin)
            for rel in rels:
                self.put_relationship(rel)
