"""Runs a planned query against a :class:`GraphIndex` and cuts one page of results.

Rows are produced in ascending *row key* order (the ids a row binds, in declaration order),
which is what makes the stateless keyset continuation in :mod:`paging` exact.

* Single twin collection: walk the candidate set (or the sorted id list for a scan) from the
  cursor, applying only the residual filter, and stop after one page (plus one row to know
  whether there is more). With no residual filter the page is a ``heapq.nsmallest``.
* Relationships: the same over ``(source, relationship id)`` keys.
* JOIN/MATCH patterns: bind the start twin(s), then expand one edge at a time from bound
  twins, checking each condition as soon as every collection it reads is bound. Multi-hop
  edges follow trails (a relationship is used at most once per path) and bind only the far
  twin, so rows are deduplicated on what they bind.
"""

from __future__ import annotations

import heapq
import itertools
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Mapping, Set
from dataclasses import dataclass
from typing import Any

from twinsight.graph.index import MISSING, GraphIndex, Relationship, RelKey, resolve_path
from twinsight.graph.query import ast
from twinsight.graph.query.evaluate import Cond, aliases_of, compile_cond
from twinsight.graph.query.paging import Cursor, encode
from twinsight.graph.query.planner import AccessPath, Plan, plan

Doc = Mapping[str, Any]
Env = dict[str, Doc]
RowKey = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QueryPage:
    """One page of results and the token for the next page (``None`` on the last page).

    Items are fresh top-level dicts, but nested objects (components, ``$metadata``) are
    shared with the index's immutable documents: serialize them, never mutate them.
    """

    items: list[dict[str, Any]]
    continuation: str | None


def _and(terms: list[ast.Expr], index: GraphIndex) -> Cond | None:
    if not terms:
        return None
    if len(terms) == 1:
        return compile_cond(terms[0], index)
    return compile_cond(ast.And(tuple(terms), terms[0].pos), index)


# ---------------------------------------------------------------- projection


def _project(query: ast.Query, env: Env) -> dict[str, Any]:
    sel = query.select
    if sel.star:
        if query.single_collection:
            return dict(env[query.twin_aliases[0] if query.twin_aliases else query.rel_aliases[0]])
        return {
            query.display[alias]: dict(env[alias])
            for alias in (*query.twin_aliases, *query.rel_aliases)
            if not alias.startswith("#") and alias in env
        }
    item: dict[str, Any] = {}
    for col in sel.columns:
        doc = env.get(col.path.alias)
        if doc is None:
            continue
        value = resolve_path(doc, col.path.parts) if col.path.parts else doc
        if value is not MISSING:
            item[col.name] = dict(value) if isinstance(value, Mapping) else value
    return item


# ---------------------------------------------------------------- single collections


MATERIALIZE_BELOW = 2048
"""Candidate sets smaller than this are intersected and sorted; larger ones are walked."""


def _walk(index: GraphIndex, sets: list[Set[str]], after: str | None, budget: int) -> Iterator[str]:
    """Candidates in id order by walking the sorted ids and probing the candidate sets.

    Cheap when candidates are dense (a page needs ``page / density`` probes); once the walk
    has cost as much as materializing the smallest set would, it switches to that.
    """
    first, rest = sets[0], sets[1:]
    last = after
    for steps, twin_id in enumerate(index.iter_twin_ids(after)):
        if steps > budget:
            access = AccessPath("", sets)
            yield from sorted(x for x in access.materialize() if last is None or x > last)
            return
        last = twin_id
        if twin_id in first and all(twin_id in s for s in rest):
            yield twin_id


def _twin_rows(
    p: Plan, index: GraphIndex, after: str | None, limit: int | None
) -> Iterator[tuple[RowKey, Env]]:
    """Matching rows of a plain twin query from ``after`` on, in id order."""
    alias = p.start.alias
    residual = [t for i, t in enumerate(p.conjuncts) if i not in p.start.covered]
    cond = _and(residual, index)
    sets = p.start.sets
    candidates: Iterable[str]
    if sets is None:
        candidates = index.iter_twin_ids(after)
    elif p.start.smallest >= MATERIALIZE_BELOW:
        candidates = _walk(index, sorted(sets, key=len), after, p.start.smallest)
    else:
        pool = [x for x in p.start.materialize() if after is None or x > after]
        if cond is None and limit is not None:
            picked = heapq.nsmallest(limit, pool)
            docs = [index.twin(x) for x in picked]
            if all(d is not None for d in docs):
                for x, d in zip(picked, docs, strict=True):
                    assert d is not None
                    yield (x,), {alias: d}
                return
        pool.sort()
        candidates = pool
    probe: Env = {}  # one reused row for checking; a fresh one for each row returned
    for twin_id in candidates:
        twin = index.twin(twin_id)
        if twin is None:
            continue
        if cond is not None:
            probe[alias] = twin
            if cond(probe) is not True:
                continue
        yield (twin_id,), {alias: twin}


def _count_scan(p: Plan, index: GraphIndex) -> int:
    """COUNT over every twin: order does not matter, so skip the sorted walk."""
    cond = _and(p.conjuncts, index)
    assert cond is not None
    alias = p.start.alias
    probe: Env = {}
    n = 0
    for twin in index.iter_twins():
        probe[alias] = twin
        if cond(probe) is True:
            n += 1
    return n


def _rel_rows(p: Plan, index: GraphIndex, after: RowKey | None) -> Iterator[tuple[RowKey, Env]]:
    alias = p.start.alias
    cond = _and(p.conjuncts, index)
    start = (after[0], after[1]) if after is not None and len(after) == 2 else None
    keys: Iterable[RelKey]
    if p.rel_keys is not None:
        begin = bisect_right(p.rel_keys, start) if start is not None else 0
        keys = p.rel_keys[begin:]
    else:
        keys = index.iter_relationship_keys(start)
    for key in keys:
        rel = index.relationship(*key)
        if rel is None:
            continue
        env: Env = {alias: rel}
        if cond is None or cond(env) is True:
            yield key, env


# ---------------------------------------------------------------- patterns


def _steps(
    index: GraphIndex, twin_id: str, direction: ast.Direction, names: tuple[str, ...]
) -> list[tuple[Relationship, str]]:
    """``(relationship, other twin id)`` for each relationship leaving ``twin_id`` that way."""
    out: list[tuple[Relationship, str]] = []
    wanted: tuple[str | None, ...] = names or (None,)
    if direction in (ast.Direction.OUT, ast.Direction.ANY):
        for name in wanted:
            out.extend((r, r["$targetId"]) for r in index.outgoing(twin_id, name))
    if direction in (ast.Direction.IN, ast.Direction.ANY):
        for name in wanted:
            for r in index.incoming(twin_id, name):
                if direction is ast.Direction.ANY and r["$sourceId"] == r["$targetId"]:
                    continue  # a self-loop was already found as outgoing
                out.append((r, r["$sourceId"]))
    return out


def _trail_ends(
    index: GraphIndex,
    *,
    start: str,
    direction: ast.Direction,
    names: tuple[str, ...],
    lo: int,
    hi: int,
) -> set[str]:
    """Twins reachable from ``start`` in ``lo..hi`` hops without reusing a relationship."""
    ends: set[str] = set()
    used: set[RelKey] = set()

    def walk(node: str, depth: int) -> None:
        if depth >= lo:
            ends.add(node)
        if depth == hi:
            return
        for rel, other in _steps(index, node, direction, names):
            key = (rel["$sourceId"], rel["$relationshipId"])
            if key in used:
                continue
            used.add(key)
            walk(other, depth + 1)
            used.discard(key)

    walk(start, 0)
    return ends


_REVERSE = {
    ast.Direction.OUT: ast.Direction.IN,
    ast.Direction.IN: ast.Direction.OUT,
    ast.Direction.ANY: ast.Direction.ANY,
}


@dataclass(slots=True)
class _Partial:
    env: Env
    rels: dict[int, RelKey]


@dataclass(slots=True)
class _Step:
    """One edge, oriented from the twin already bound (``here``) to the other (``there``)."""

    edge_no: int
    edge: ast.Edge
    here: str
    there: str
    direction: ast.Direction
    conds: list[Cond]


def _compile_pattern(p: Plan, index: GraphIndex) -> tuple[list[Cond], list[_Step]]:
    """Conditions on the start twin, then the edges in expansion order with the conditions
    each one makes checkable (every condition runs as soon as what it reads is bound)."""
    pending = [
        (aliases_of(t), compile_cond(t, index))
        for i, t in enumerate(p.conjuncts)
        if i not in p.start.covered
    ]
    start = p.start.alias
    start_conds = [c for deps, c in pending if deps <= {start}]
    bound = {start}
    steps: list[_Step] = []
    remaining = list(enumerate(p.query.edges))
    while remaining:
        pos = next(
            (i for i, (_, e) in enumerate(remaining) if e.left in bound or e.right in bound), -1
        )
        if pos < 0:  # pragma: no cover - the parser only builds connected patterns
            break
        edge_no, edge = remaining.pop(pos)
        if edge.left in bound:
            here, there, direction = edge.left, edge.right, edge.direction
        else:
            here, there, direction = edge.right, edge.left, _REVERSE[edge.direction]
        now = bound | {there} | ({edge.rel_alias} if edge.rel_alias else set())
        conds = [c for deps, c in pending if deps <= now and not deps <= bound]
        steps.append(_Step(edge_no, edge, here, there, direction, conds))
        bound = now
    return start_conds, steps


def _expand(index: GraphIndex, step: _Step, rows: list[_Partial]) -> list[_Partial]:
    """Follow one edge from every partial row."""
    edge, here, there, direction, conds = (
        step.edge,
        step.here,
        step.there,
        step.direction,
        step.conds,
    )
    expanded: list[_Partial] = []
    for row in rows:
        here_id = row.env[here]["$dtId"]
        known = row.env.get(there)
        if edge.single_hop:
            used = set(row.rels.values())
            for rel, other_id in _steps(index, here_id, direction, edge.names):
                if known is not None and known["$dtId"] != other_id:
                    continue
                rel_key = (rel["$sourceId"], rel["$relationshipId"])
                if rel_key in used:
                    continue  # a pattern uses each relationship at most once
                other = known if known is not None else index.twin(other_id)
                if other is None:
                    continue
                env = {**row.env, there: other}
                if edge.rel_alias:
                    env[edge.rel_alias] = rel
                if all(c(env) is True for c in conds):
                    expanded.append(_Partial(env, {**row.rels, step.edge_no: rel_key}))
        else:
            ends = _trail_ends(
                index,
                start=here_id,
                direction=direction,
                names=edge.names,
                lo=edge.min_hops,
                hi=edge.max_hops,
            )
            for other_id in sorted(ends):
                if known is not None and known["$dtId"] != other_id:
                    continue
                other = known if known is not None else index.twin(other_id)
                if other is None:
                    continue
                env = {**row.env, there: other}
                if all(c(env) is True for c in conds):
                    expanded.append(_Partial(env, row.rels))
    return expanded


def _pattern_rows(
    p: Plan, index: GraphIndex, after: RowKey | None = None, limit: int | None = None
) -> list[tuple[RowKey, Env]]:
    """Rows of a JOIN/MATCH query after ``after``, sorted and deduplicated by row key.

    When the start twin is the first component of the row key (the usual case: FROM alias
    or the pinned twin comes first), start twins are expanded in id order from the cursor
    and the walk stops as soon as more than ``limit`` rows are known, since every later
    start twin only yields larger keys. Otherwise every row is produced and sorted.
    """
    query = p.query
    start = p.start.alias
    start_conds, steps = _compile_pattern(p, index)
    in_order = query.twin_aliases[0] == start
    resume = after[0] if in_order and after else None
    start_ids: Iterable[str]
    if p.start.sets is not None:
        ordered = sorted(p.start.materialize())
        start_ids = ordered[bisect_left(ordered, resume) :] if resume is not None else ordered
    elif resume is not None:
        start_ids = itertools.chain((resume,), index.iter_twin_ids(resume))
    else:
        start_ids = index.iter_twin_ids()
    result: dict[RowKey, Env] = {}
    aliases = query.twin_aliases
    for twin_id in start_ids:
        if in_order and limit is not None and len(result) > limit:
            break
        twin = index.twin(twin_id)
        if twin is None:
            continue
        env: Env = {start: twin}
        if not all(c(env) is True for c in start_conds):
            continue
        rows = [_Partial(env, {})]
        for step in steps:
            rows = _expand(index, step, rows)
            if not rows:
                break
        for row in rows:
            key: list[str] = [row.env[a]["$dtId"] for a in aliases]
            if row.rels:
                for edge_no in sorted(row.rels):
                    key.extend(row.rels[edge_no])
            row_key = tuple(key)
            if after is None or row_key > after:
                result[row_key] = row.env
    keys = sorted(result)
    if limit is not None:
        keys = keys[: limit + 1]
    return [(k, result[k]) for k in keys]


# ---------------------------------------------------------------- driver


def execute(
    query: ast.Query,
    index: GraphIndex,
    *,
    page_size: int,
    cursor: Cursor | None = None,
    use_indexes: bool = True,
) -> QueryPage:
    """One page of ``query``'s results, starting after ``cursor``."""
    p = plan(index, query, use_indexes=use_indexes)
    sel = query.select
    is_twins = query.source.kind is ast.CollectionKind.TWINS

    if sel.count:
        if query.edges:
            n = len(_pattern_rows(p, index))
        elif is_twins:
            covered_all = len(p.start.covered) == len(p.conjuncts)
            if p.start.sets is not None and covered_all:
                n = len(p.start.materialize())
            elif not p.conjuncts:
                n = index.twin_count
            elif p.start.sets is None:
                n = _count_scan(p, index)
            else:
                n = sum(1 for _ in _twin_rows(p, index, None, None))
        else:
            n = sum(1 for _ in _rel_rows(p, index, None))
        return QueryPage([{"COUNT": n}], None)

    returned = cursor.returned if cursor is not None else 0
    after = cursor.after if cursor is not None and cursor.after else None
    limit = page_size
    if sel.top is not None:
        limit = min(limit, sel.top - returned)
    if limit <= 0:
        return QueryPage([], None)

    rows: list[tuple[RowKey, Env]] = []
    if query.edges:
        rows = _pattern_rows(p, index, after, limit)
    else:
        source: Iterator[tuple[RowKey, Env]]
        if is_twins:
            source = _twin_rows(p, index, after[0] if after else None, limit + 1)
        else:
            source = _rel_rows(p, index, after)
        for row in source:
            rows.append(row)
            if len(rows) > limit:
                break

    more = len(rows) > limit
    page = rows[:limit]
    items = [_project(query, env) for _, env in page]
    token = None
    if more and (sel.top is None or returned + len(page) < sel.top):
        token = encode(Cursor(query.text, page[-1][0], returned + len(page)))
    return QueryPage(items, token)
