"""The parsed form of a query: small frozen dataclasses, each carrying its text offset.

Offsets (``pos``) let later stages (validation, planning) raise errors that point at the
exact spot in the query text. Property paths are already *resolved*: ``alias`` names the
collection (twin or relationship alias) they read from, ``parts`` the keys below it, so the
executor never has to guess what a bare name means.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any, TypeAlias

# ---------------------------------------------------------------- expressions


@dataclass(frozen=True, slots=True)
class Literal:
    """A string, number, boolean or null constant."""

    value: Any
    pos: int


@dataclass(frozen=True, slots=True)
class Path:
    """A property of a collection; ``parts == ()`` means the whole document."""

    alias: str
    parts: tuple[str, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Compare:
    """``left op right`` with op one of ``= != < <= > >=``."""

    op: str
    left: Operand
    right: Operand
    pos: int


@dataclass(frozen=True, slots=True)
class InList:
    """``operand IN [...]`` (or ``NIN`` when ``negated``)."""

    operand: Operand
    values: tuple[Literal, ...]
    negated: bool
    pos: int


@dataclass(frozen=True, slots=True)
class Call:
    """A scalar function such as ``IS_DEFINED(x)`` or ``STARTSWITH(x, 'a')``."""

    name: str
    args: tuple[Operand, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class IsOfModel:
    """``IS_OF_MODEL([alias,] 'dtmi', [exact])``."""

    alias: str
    model: str
    exact: bool
    pos: int


@dataclass(frozen=True, slots=True)
class And:
    """Conjunction of two or more conditions."""

    items: tuple[Expr, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Or:
    """Disjunction of two or more conditions."""

    items: tuple[Expr, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class Not:
    """Negation (three-valued: ``NOT undefined`` is undefined)."""

    operand: Expr
    pos: int


Operand: TypeAlias = Literal | Path | Call
Expr: TypeAlias = Literal | Path | Call | Compare | InList | IsOfModel | And | Or | Not

# ---------------------------------------------------------------- clauses


@dataclass(frozen=True, slots=True)
class Column:
    """One projected column: a collection (``parts == ()``) or a property, with its name."""

    path: Path
    name: str
    pos: int


@dataclass(frozen=True, slots=True)
class Select:
    """The SELECT clause. ``star`` and ``count`` exclude ``columns``."""

    star: bool
    count: bool
    columns: tuple[Column, ...]
    top: int | None
    pos: int


class CollectionKind(Enum):
    """What a FROM clause reads."""

    TWINS = "DIGITALTWINS"
    RELATIONSHIPS = "RELATIONSHIPS"


@dataclass(frozen=True, slots=True)
class From:
    """``FROM DIGITALTWINS [alias]`` or ``FROM RELATIONSHIPS [alias]``.

    An unnamed collection gets the alias ``""`` so paths can still refer to it.
    """

    kind: CollectionKind
    alias: str
    named: bool
    pos: int


class Direction(Enum):
    """How a pattern edge follows relationships."""

    OUT = "->"
    IN = "<-"
    ANY = "-"


@dataclass(frozen=True, slots=True)
class Edge:
    """A traversal step between two twin aliases (from a JOIN or a MATCH pattern).

    ``left``/``right`` are twin aliases; with ``Direction.OUT`` relationships go from left to
    right. ``names`` empty means any relationship name. ``rel_alias`` binds the relationship
    (single hop only). Hops are inclusive: ``min_hops <= length <= max_hops``.
    """

    left: str
    right: str
    names: tuple[str, ...]
    direction: Direction
    min_hops: int
    max_hops: int
    rel_alias: str | None
    pos: int

    @property
    def single_hop(self) -> bool:
        """Whether exactly one relationship is traversed (so it can be bound and keyed)."""
        return self.min_hops == 1 and self.max_hops == 1


@dataclass(frozen=True, slots=True)
class Query:
    """A whole parsed and validated query.

    ``twin_aliases`` lists twin collections in declaration order (including hidden aliases
    of anonymous MATCH nodes, which start with ``'#'``); ``rel_aliases`` the named
    relationship collections. ``edges`` comes from JOINs or MATCH (never both).
    """

    text: str
    select: Select
    source: From
    edges: tuple[Edge, ...]
    where: Expr | None
    twin_aliases: tuple[str, ...]
    rel_aliases: tuple[str, ...]
    uses_match: bool = False
    joins: int = 0
    where_pos: int = 0
    """Offset of the WHERE condition's first token (for errors about the whole condition)."""
    display: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    """Alias key -> the spelling the query declared it with (aliases are case-insensitive)."""

    @property
    def single_collection(self) -> bool:
        """True for plain ``FROM DIGITALTWINS``/``FROM RELATIONSHIPS`` without traversal."""
        return not self.edges and len(self.twin_aliases) + len(self.rel_aliases) == 1
