"""Chooses where a query starts: the cheapest exact candidate set for one collection.

For a twin collection the planner looks at the top-level AND terms that read only that
collection and can be answered from an index *exactly*:

* ``T.$dtId = 'x'`` / ``T.$dtId IN [...]`` -> those ids (after checking they exist);
* ``IS_OF_MODEL(T, 'dtmi', [exact])`` -> the by-model index (plus subtypes);
* ``T.p = <scalar>`` / ``T.p IN [...]`` / ``T.p <op> <number|string>`` -> the property's
  equality index (built on first use once the graph is big enough to make it pay).

All usable sets are intersected smallest-first and the terms they answer are marked
*covered*, so the executor does not re-check them; everything else is a residual filter.
With no usable term the plan is a scan over the sorted id list. For FROM RELATIONSHIPS,
``$sourceId``/``$targetId`` equality uses the adjacency maps (the filter is still rechecked).
Graph patterns (JOIN/MATCH) start from the twin alias pinned by ``$dtId`` when there is
one, else from the FROM collection.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from dataclasses import dataclass, field
from typing import Any

from twinsight.graph.index import GraphIndex, RelKey, ValueKey, value_key
from twinsight.graph.query import ast
from twinsight.graph.query.evaluate import aliases_of, compare
from twinsight.graph.query.parser import anchor_ids, conjuncts

MIN_TWINS_FOR_NEW_INDEX = 1000
"""Below this many twins a scan is cheap, so a query never builds a new property index."""

MAX_PROPERTY_INDEXES = 32
"""Queries build at most this many property indexes (each costs memory per twin); past the
cap, conditions on other properties are evaluated by scanning."""

_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<=", "=": "=", "!=": "!="}


@dataclass
class AccessPath:
    """How to enumerate one collection's candidates.

    ``sets is None`` means scan everything; otherwise every candidate is in *all* of
    ``sets``, and their intersection is exact for the conjuncts listed in ``covered``
    (indices into ``Plan.conjuncts``). The sets may be the index's live sets: only C-level
    operations (``in``, ``len``, ``&``) touch them, which the GIL makes atomic.
    """

    alias: str
    sets: list[Set[str]] | None
    covered: set[int] = field(default_factory=set)
    steps: list[str] = field(default_factory=list)

    @property
    def smallest(self) -> int:
        """Size of the smallest candidate set (an upper bound of the intersection)."""
        return min(len(s) for s in self.sets) if self.sets else 0

    def materialize(self) -> set[str]:
        """The intersection of the candidate sets, as a new set (smallest first)."""
        assert self.sets is not None
        ordered = sorted(self.sets, key=len)
        if len(ordered) == 1:
            return set(ordered[0])
        result = set(ordered[0] & ordered[1])  # a new set either way; set() fixes the type
        for other in ordered[2:]:
            if not result:
                break
            result &= other
        return result


@dataclass
class Plan:
    """The planner's decision for a whole query."""

    query: ast.Query
    conjuncts: list[ast.Expr]
    start: AccessPath
    rel_keys: list[RelKey] | None = None
    """For FROM RELATIONSHIPS: candidate keys from adjacency, or ``None`` to scan."""

    def explain(self) -> str:
        """A one-line human description (used by tests and the benchmark)."""
        how = "scan" if self.start.sets is None and self.rel_keys is None else "index"
        steps = "; ".join(self.start.steps) or "no usable index"
        return f"start={self.start.alias or '<default>'} via {how}: {steps}"


def _literal_value(node: ast.Operand) -> tuple[bool, Any]:
    if isinstance(node, ast.Literal):
        return True, node.value
    return False, None


def _property_term(term: ast.Expr, alias: str) -> tuple[tuple[str, ...], str, list[Any]] | None:
    """``(path, op, values)`` when ``term`` compares one property of ``alias`` to constants."""
    if isinstance(term, ast.Compare) and term.op != "!=":
        for a, b, op in ((term.left, term.right, term.op), (term.right, term.left, _FLIP[term.op])):
            ok, value = _literal_value(b)
            if ok and isinstance(a, ast.Path) and a.alias == alias and a.parts:
                return a.parts, op, [value]
        return None
    if (
        isinstance(term, ast.InList)
        and not term.negated
        and isinstance(term.operand, ast.Path)
        and term.operand.alias == alias
        and term.operand.parts
    ):
        return term.operand.parts, "=", [v.value for v in term.values]
    return None


def _union(sets: Sequence[Set[str]]) -> Set[str]:
    if not sets:
        return frozenset()
    if len(sets) == 1:
        return sets[0]
    return set().union(*sets)


def _from_property_index(
    index: GraphIndex, path: tuple[str, ...], op: str, values: list[Any]
) -> Set[str] | None:
    indexed = index.indexed_paths()
    if path not in indexed and (
        index.twin_count < MIN_TWINS_FOR_NEW_INDEX or len(indexed) >= MAX_PROPERTY_INDEXES
    ):
        return None
    if op == "=":
        keys: list[ValueKey] = []
        for v in values:
            k = value_key(v)
            if k is None:
                return None  # object/array equality is not indexed
            keys.append(k)
        prop = index.property_index(path)
        found = (prop.get(k) for k in keys)
        return _union([members for members in found if members])
    bound = values[0]
    if value_key(bound) is None or bound is None or isinstance(bound, bool):
        return None
    prop = index.property_index(path)
    matching = [
        members
        for (tag, v), members in list(prop.items())
        if tag in "ns" and compare(op, v, bound) is True
    ]
    return _union(matching)


def _cover(index: GraphIndex, alias: str, term: ast.Expr) -> tuple[Set[str], str] | None:
    """The exact set of twins of ``alias`` satisfying ``term``, when indexes can tell.

    Leaves are ``$dtId`` pins, ``IS_OF_MODEL`` and property comparisons with constants;
    ``AND`` intersects and ``OR`` unites covered parts (``IS_OF_MODEL(a) OR IS_OF_MODEL(b)``
    is common). ``NOT`` and anything else is not covered.
    """
    anchored = anchor_ids(term)
    if anchored is not None and anchored[0] == alias:
        ids = {x for x in anchored[1] if index.has_twin(x)}
        return ids, f"$dtId ({len(ids)})"
    if isinstance(term, ast.IsOfModel):
        members = _union(index.model_sets(term.model, term.exact))
        return members, f"model {term.model} ({len(members)})"
    if isinstance(term, ast.And | ast.Or):
        parts = [_cover(index, alias, item) for item in term.items]
        if any(part is None for part in parts):
            return None
        sets = [part[0] for part in parts if part is not None]
        word = " AND " if isinstance(term, ast.And) else " OR "
        steps = word.join(part[1] for part in parts if part is not None)
        if isinstance(term, ast.Or):
            combined = _union(sets)
        else:
            smallest = sets[0]
            for other in sets[1:]:
                if len(other) < len(smallest):
                    smallest = other
            combined = set(smallest)
            for other in sets:
                combined &= other
        return combined, f"({steps}) ({len(combined)})"
    prop = _property_term(term, alias)
    if prop is None or prop[0] == ("$dtId",):
        return None
    path, op, values = prop
    got = _from_property_index(index, path, op, values)
    if got is None:
        return None
    return got, f"property {'.'.join(path)} {op} ({len(got)})"


def plan_twins(
    index: GraphIndex, alias: str, terms: list[ast.Expr], *, use_indexes: bool = True
) -> AccessPath:
    """The cheapest exact candidate set for twin collection ``alias`` (or a scan)."""
    access = AccessPath(alias, None)
    if not use_indexes:
        access.steps.append("indexes disabled")
        return access
    found: list[tuple[Set[str], int, str]] = []
    for i, term in enumerate(terms):
        if aliases_of(term) != {alias}:
            continue
        covered = _cover(index, alias, term)
        if covered is not None:
            found.append((covered[0], i, covered[1]))
    if not found:
        access.steps.append("scan")
        return access
    found.sort(key=lambda f: len(f[0]))
    access.sets = [members for members, _, _ in found]
    access.covered = {i for _, i, _ in found}
    access.steps = [step for _, _, step in found]
    return access


def _rel_candidates(index: GraphIndex, alias: str, terms: list[ast.Expr]) -> list[RelKey] | None:
    for term in terms:
        prop = _property_term(term, alias)
        if prop is None or prop[1] != "=" or prop[0] not in (("$sourceId",), ("$targetId",)):
            continue
        keys: set[RelKey] = set()
        for twin_id in prop[2]:
            if not isinstance(twin_id, str):
                continue
            rels = index.outgoing(twin_id) if prop[0] == ("$sourceId",) else index.incoming(twin_id)
            keys.update((r["$sourceId"], r["$relationshipId"]) for r in rels)
        return sorted(keys)
    return None


def plan(index: GraphIndex, query: ast.Query, *, use_indexes: bool = True) -> Plan:
    """Decide where ``query`` starts reading."""
    terms = conjuncts(query.where)
    if query.source.kind is ast.CollectionKind.RELATIONSHIPS:
        alias = query.source.alias
        keys = _rel_candidates(index, alias, terms) if use_indexes else None
        access = AccessPath(alias, None, steps=["adjacency" if keys is not None else "scan"])
        return Plan(query, terms, access, keys)
    if not query.edges:  # FROM DIGITALTWINS [T], or MATCH with a single node
        alias = query.twin_aliases[0]
        return Plan(query, terms, plan_twins(index, alias, terms, use_indexes=use_indexes))
    start = query.source.alias if query.joins else query.twin_aliases[0]
    for term in terms:
        anchored = anchor_ids(term)
        if anchored is not None and anchored[0] in query.twin_aliases:
            start = anchored[0]
            break
    return Plan(query, terms, plan_twins(index, start, terms, use_indexes=use_indexes))
