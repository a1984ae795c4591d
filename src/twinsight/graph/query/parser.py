"""Recursive-descent parser for the Azure Digital Twins query dialect, plus ADT's rules.

Grammar (keywords case-insensitive)::

    query    := SELECT select FROM source [WHERE cond]
    select   := [TOP '(' int ')'] ( '*' | COUNT '(' ')' | column (',' column)* )?
    column   := path [AS name]
    source   := DIGITALTWINS [alias] (JOIN alias RELATED alias '.' name [alias])*
              | DIGITALTWINS MATCH node (edge node)*
              | RELATIONSHIPS [alias]
    node     := '(' [alias] ')'
    edge     := ('-' | '<-') '[' [var] [':' name ('|' name)*] [hops] ']' ('-' | '->')
    hops     := '*' [int] | '*' [int] '..' int
    cond     := and (OR and)*;  and := not (AND not)*;  not := NOT not | pred
    pred     := '(' cond ')' | operand [cmp operand | [NOT] IN list | NIN list]
    operand  := literal | path | func '(' args ')' | '-' number

Paths are resolved against the declared aliases while parsing (a bare name reads from the
only collection, and is an error when there are several), and the ADT restrictions listed in
:func:`_validate` are checked, so every error carries a position in the text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from twinsight.graph.query import ast
from twinsight.graph.query.errors import QueryError
from twinsight.graph.query.lexer import Kind, Token, tokenize

MAX_QUERY_LENGTH = 8000
MAX_JOINS = 5
MAX_HOPS = 10
MAX_IN_VALUES = 100  # the operators reference says 100; the service-limits table says 50
MAX_AND_OR = 50

RESERVED = frozenset(
    {
        "ALL",
        "AND",
        "AS",
        "ASC",
        "AVG",
        "BY",
        "COUNT",
        "DESC",
        "DEVICES_JOBS",
        "DEVICES_MODULES",
        "DEVICES",
        "ENDS_WITH",
        "FALSE",
        "FROM",
        "GROUP",
        "IN",
        "IS_BOOL",
        "IS_DEFINED",
        "IS_NULL",
        "IS_NUMBER",
        "IS_OBJECT",
        "IS_PRIMITIVE",
        "IS_STRING",
        "MAX",
        "MIN",
        "NOT",
        "NOT_IN",
        "NULL",
        "OR",
        "ORDER",
        "SELECT",
        "STARTS_WITH",
        "SUM",
        "TOP",
        "TRUE",
        "WHERE",
        "IS_OF_MODEL",
    }
)
"""ADT's reserved words: not usable as names unless escaped as ``[[name]]``."""

_STRUCTURAL = frozenset({"JOIN", "MATCH", "RELATED", "WHERE", "FROM", "NIN"})

_UNARY = {"IS_DEFINED", "IS_NULL", "IS_BOOL", "IS_NUMBER", "IS_STRING", "IS_PRIMITIVE", "IS_OBJECT"}
_BINARY = {
    "STARTSWITH": "STARTSWITH",
    "STARTS_WITH": "STARTSWITH",
    "ENDSWITH": "ENDSWITH",
    "ENDS_WITH": "ENDSWITH",
    "CONTAINS": "CONTAINS",
    "ARRAY_CONTAINS": "ARRAY_CONTAINS",
}
_CMP = {"=", "!=", "<", "<=", ">", ">="}


@dataclass(slots=True)
class _RawPath:
    """A path before alias resolution: the words as written."""

    parts: tuple[str, ...]
    pos: int


@dataclass(slots=True)
class _RawColumn:
    path: _RawPath
    name: str | None
    pos: int


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        # alias key (lower-case) -> ("twin" | "rel", declared spelling, pos)
        self.aliases: dict[str, tuple[str, str, int]] = {}
        self.order: list[str] = []
        self.hidden = 0
        self.logical = 0  # AND/OR operators seen (ADT allows 50 per query)

    # ------------------------------------------------------------ token helpers

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def peek(self, k: int = 1) -> Token:
        return self.tokens[min(self.i + k, len(self.tokens) - 1)]

    def error(self, message: str, pos: int | None = None) -> QueryError:
        return QueryError(message, self.text, self.tok.pos if pos is None else pos)

    def describe(self, tok: Token) -> str:
        if tok.kind is Kind.END:
            return "end of query"
        return f"'{self.text[tok.pos : tok.end]}'"

    def at_kw(self, *words: str) -> bool:
        return self.tok.upper in words

    def accept_kw(self, word: str) -> Token | None:
        if self.tok.upper == word:
            tok = self.tok
            self.i += 1
            return tok
        return None

    def expect_kw(self, word: str) -> Token:
        tok = self.accept_kw(word)
        if tok is None:
            raise self.error(f"Expected {word} but found {self.describe(self.tok)}")
        return tok

    def at_sym(self, *syms: str) -> bool:
        return self.tok.kind is Kind.SYMBOL and self.tok.value in syms

    def accept_sym(self, sym: str) -> Token | None:
        if self.at_sym(sym):
            tok = self.tok
            self.i += 1
            return tok
        return None

    def expect_sym(self, sym: str) -> Token:
        tok = self.accept_sym(sym)
        if tok is None:
            raise self.error(f"Expected '{sym}' but found {self.describe(self.tok)}")
        return tok

    def name(self, what: str, *, allow_reserved: bool = False) -> Token:
        """A word usable as a name (escaped names always are)."""
        tok = self.tok
        if tok.kind is Kind.ESCAPED:
            self.i += 1
            return tok
        if tok.kind is Kind.WORD:
            if not allow_reserved and (tok.upper in RESERVED or tok.upper in _STRUCTURAL):
                raise self.error(
                    f"'{tok.value}' is a reserved keyword and cannot be used as {what}; "
                    f"escape it as [[{tok.value}]]"
                )
            self.i += 1
            return tok
        raise self.error(f"Expected {what} but found {self.describe(tok)}")

    def int_literal(self, what: str) -> tuple[int, int]:
        tok = self.tok
        if tok.kind is not Kind.NUMBER or not isinstance(tok.value, int):
            raise self.error(f"Expected {what} (a whole number) but found {self.describe(tok)}")
        self.i += 1
        return tok.value, tok.pos

    # ------------------------------------------------------------ aliases

    def declare(self, tok: Token, kind: str) -> str:
        spelled = str(tok.value)
        key = spelled.lower()
        if key in self.aliases:
            raise self.error(f"Collection name '{spelled}' is declared more than once", tok.pos)
        self.aliases[key] = (kind, spelled, tok.pos)
        self.order.append(key)
        return key

    def hidden_alias(self) -> str:
        self.hidden += 1
        key = f"#{self.hidden}"
        self.aliases[key] = ("twin", key, -1)
        self.order.append(key)
        return key

    # ------------------------------------------------------------ query

    def parse(self) -> ast.Query:
        if len(self.text) > MAX_QUERY_LENGTH:
            raise QueryError(
                f"Query is {len(self.text)} characters long; the limit is {MAX_QUERY_LENGTH}",
                self.text,
                MAX_QUERY_LENGTH,
            )
        select_tok = self.expect_kw("SELECT")
        raw_select = self.parse_select(select_tok.pos)
        from_tok = self.tok
        if from_tok.upper != "FROM":
            raise self.error(f"Expected FROM but found {self.describe(from_tok)}")
        self.i += 1
        source, edges, joins, uses_match = self.parse_source()
        where_tok = self.accept_kw("WHERE")
        if where_tok is not None and self.tok.kind is Kind.END:
            raise self.error("Expected a condition after WHERE")
        if self.tok.kind is not Kind.END and where_tok is None:
            raise self.error(f"Expected WHERE or end of query but found {self.describe(self.tok)}")
        where_pos = self.tok.pos
        where = self.parse_or() if where_tok is not None else None
        if self.tok.kind is not Kind.END:
            raise self.error(f"Unexpected {self.describe(self.tok)}")
        select = self.resolve_select(raw_select)
        twins = tuple(k for k in self.order if self.aliases[k][0] == "twin")
        rels = tuple(k for k in self.order if self.aliases[k][0] == "rel")
        query = ast.Query(
            text=self.text,
            select=select,
            source=source,
            edges=tuple(edges),
            where=where,
            twin_aliases=twins,
            rel_aliases=rels,
            uses_match=uses_match,
            joins=joins,
            where_pos=where_pos,
            display={k: v[1] for k, v in self.aliases.items()},
        )
        _validate(query)
        return query

    # ------------------------------------------------------------ SELECT

    def parse_select(self, pos: int) -> tuple[bool, bool, list[_RawColumn], int | None, int]:
        top: int | None = None
        top_pos = -1
        if self.at_kw("TOP") and self.peek().kind is Kind.SYMBOL and self.peek().value == "(":
            top_pos = self.tok.pos
            self.i += 1
            self.expect_sym("(")
            top, num_pos = self.int_literal("the number of items for TOP")
            if top < 1:
                raise self.error("TOP must select at least 1 item", num_pos)
            self.expect_sym(")")
        if self.accept_sym("*"):
            return True, False, [], top, pos
        if self.at_kw("COUNT") and self.peek().kind is Kind.SYMBOL and self.peek().value == "(":
            count_pos = self.tok.pos
            if top is not None:
                raise self.error("TOP and COUNT cannot be used in the same query", top_pos)
            self.i += 1
            self.expect_sym("(")
            self.expect_sym(")")
            if self.at_sym(","):
                raise self.error("COUNT() cannot be combined with other columns")
            return False, True, [], None, count_pos
        if self.at_kw("FROM"):
            if top is not None:  # SELECT TOP(5) FROM ... means SELECT TOP(5) *
                return True, False, [], top, pos
            raise self.error("Expected '*', COUNT() or a list of columns after SELECT")
        columns = [self.parse_column()]
        while self.accept_sym(","):
            if self.at_kw("COUNT") and self.peek().kind is Kind.SYMBOL:
                raise self.error("COUNT() cannot be combined with other columns")
            if self.at_sym("*"):
                raise self.error("'*' cannot be combined with other columns")
            columns.append(self.parse_column())
        return False, False, columns, top, pos

    def parse_column(self) -> _RawColumn:
        start = self.tok.pos
        if self.at_sym("*"):
            raise self.error("'*' cannot be combined with other columns")
        path = self.parse_raw_path()
        name = None
        if self.accept_kw("AS"):
            name = str(self.name("a column name").value)
        return _RawColumn(path, name, start)

    def resolve_select(
        self, raw: tuple[bool, bool, list[_RawColumn], int | None, int]
    ) -> ast.Select:
        star, count, raw_cols, top, pos = raw
        columns: list[ast.Column] = []
        seen: dict[str, int] = {}
        for col in raw_cols:
            path = self.resolve(col.path)
            if col.name is not None:
                name = col.name
            elif path.parts:
                name = path.parts[-1]
            else:
                name = self.aliases[path.alias][1]
            if not path.parts and path.alias.startswith("#"):
                raise self.error("An unnamed collection cannot be projected", col.pos)
            if name in seen:
                raise self.error(
                    f"Column name '{name}' appears more than once; rename one with AS", col.pos
                )
            seen[name] = col.pos
            columns.append(ast.Column(path, name, col.pos))
        return ast.Select(star, count, tuple(columns), top, pos)

    # ------------------------------------------------------------ FROM / JOIN / MATCH

    def parse_source(self) -> tuple[ast.From, list[ast.Edge], int, bool]:
        tok = self.tok
        kind_word = tok.upper
        if kind_word == "DIGITALTWINS":
            kind = ast.CollectionKind.TWINS
        elif kind_word == "RELATIONSHIPS":
            kind = ast.CollectionKind.RELATIONSHIPS
        elif self.at_sym("("):
            raise self.error("Subqueries are not supported in FROM")
        else:
            raise self.error(
                f"Expected DIGITALTWINS or RELATIONSHIPS but found {self.describe(tok)}"
            )
        self.i += 1
        named = False
        collection = "twin" if kind is ast.CollectionKind.TWINS else "rel"
        if self.tok.kind is Kind.ESCAPED or (
            self.tok.kind is Kind.WORD and self.tok.upper not in ("WHERE", "JOIN", "MATCH")
        ):
            alias = self.declare(self.name("a collection name"), collection)
            named = True
        else:
            alias = ""
            self.aliases[""] = (collection, "", tok.pos)
            self.order.append("")
        source = ast.From(kind, alias, named, tok.pos)
        edges: list[ast.Edge] = []
        joins = 0
        uses_match = False
        while self.at_kw("JOIN", "MATCH"):
            word = self.tok
            if kind is ast.CollectionKind.RELATIONSHIPS:
                raise self.error(f"FROM RELATIONSHIPS cannot be combined with {word.upper}")
            if word.upper == "JOIN":
                if uses_match:
                    raise self.error("JOIN and MATCH cannot be used in the same query")
                if not named:
                    raise self.error(
                        "JOIN requires the FROM collection to be named, "
                        "e.g. FROM DIGITALTWINS T JOIN ...",
                        tok.pos,
                    )
                joins += 1
                if joins > MAX_JOINS:
                    raise self.error(f"A query can have at most {MAX_JOINS} JOINs")
                edges.append(self.parse_join())
            else:
                if joins:
                    raise self.error("JOIN and MATCH cannot be used in the same query")
                if uses_match:
                    raise self.error("Only one MATCH clause is supported per query")
                if named:
                    raise self.error(
                        "FROM DIGITALTWINS cannot be named when MATCH is used; "
                        "name the twins inside the MATCH pattern",
                        self.aliases[alias][2],
                    )
                self.i += 1
                uses_match = True
                # the unnamed FROM collection is replaced by the pattern's twins
                del self.aliases[""]
                self.order.remove("")
                edges.extend(self.parse_match())
        return source, edges, joins, uses_match

    def parse_join(self) -> ast.Edge:
        join_tok = self.expect_kw("JOIN")
        target_tok = self.name("the joined collection name")
        self.expect_kw("RELATED")
        source_tok = self.name("a collection name")
        source_key = str(source_tok.value).lower()
        declared = self.aliases.get(source_key)
        if declared is None:
            raise self.error(f"Unknown collection '{source_tok.value}'", source_tok.pos)
        if declared[0] != "twin":
            raise self.error(
                f"'{source_tok.value}' is a relationship collection; JOIN ... RELATED needs a "
                "twin collection",
                source_tok.pos,
            )
        self.expect_sym(".")
        rel_name = str(self.name("a relationship name", allow_reserved=True).value)
        target = self.declare(target_tok, "twin")
        rel_alias = None
        if self.tok.kind is Kind.ESCAPED or (
            self.tok.kind is Kind.WORD and self.tok.upper not in ("WHERE", "JOIN", "MATCH")
        ):
            rel_alias = self.declare(self.name("a relationship collection name"), "rel")
        return ast.Edge(
            left=source_key,
            right=target,
            names=(rel_name,),
            direction=ast.Direction.OUT,
            min_hops=1,
            max_hops=1,
            rel_alias=rel_alias,
            pos=join_tok.pos,
        )

    def parse_node(self) -> str:
        open_tok = self.tok
        if not self.accept_sym("("):
            raise self.error(
                f"Expected '(' to start a twin in MATCH but found {self.describe(open_tok)}"
            )
        if self.accept_sym(")"):
            return self.hidden_alias()
        name_tok = self.name("a twin name")
        key = str(name_tok.value).lower()
        self.expect_sym(")")
        existing = self.aliases.get(key)
        if existing is not None:
            if existing[0] != "twin":
                raise self.error(f"'{name_tok.value}' is already a relationship name", name_tok.pos)
            return key  # the same twin appears again in the pattern
        return self.declare(name_tok, "twin")

    def parse_match(self) -> list[ast.Edge]:
        edges: list[ast.Edge] = []
        left = self.parse_node()
        while self.at_sym("-", "<-"):
            edge_pos = self.tok.pos
            incoming = self.tok.value == "<-"
            self.i += 1
            self.expect_sym("[")
            rel_alias, names, lo, hi = self.parse_edge_body()
            self.expect_sym("]")
            if self.at_sym("->"):
                if incoming:
                    raise self.error(
                        "A relationship cannot point both ways; use '-' for either direction"
                    )
                direction = ast.Direction.OUT
            elif self.at_sym("-"):
                direction = ast.Direction.IN if incoming else ast.Direction.ANY
            else:
                raise self.error(
                    f"Expected '-' or '->' after ']' but found {self.describe(self.tok)}"
                )
            self.i += 1
            right = self.parse_node()
            edges.append(ast.Edge(left, right, names, direction, lo, hi, rel_alias, edge_pos))
            left = right
        if not edges and not self.at_kw("WHERE", "JOIN", "MATCH") and self.tok.kind is not Kind.END:
            raise self.error(f"Expected '-[' or '<-[' in MATCH but found {self.describe(self.tok)}")
        return edges

    def parse_edge_body(self) -> tuple[str | None, tuple[str, ...], int, int]:
        rel_alias: str | None = None
        names: list[str] = []
        if self.tok.kind in (Kind.WORD, Kind.ESCAPED):
            var_tok = self.name("a relationship variable")
            if self.at_sym("|"):
                names.append(str(var_tok.value))  # lenient: [a|b] without the ':'
            else:
                rel_alias = self.declare(var_tok, "rel")
        if self.accept_sym(":") or (names and self.at_sym("|")):
            if not names:
                names.append(str(self.name("a relationship name", allow_reserved=True).value))
            while self.accept_sym("|"):
                names.append(str(self.name("a relationship name", allow_reserved=True).value))
        lo, hi = 1, 1
        star = self.accept_sym("*")
        if star is not None:
            lo, hi = self.parse_hops(star.pos)
            if rel_alias is not None and not (lo == 1 and hi == 1):
                raise self.error(
                    "A relationship variable can only be used with a single hop", star.pos
                )
        return rel_alias, tuple(names), lo, hi

    def parse_hops(self, star_pos: int) -> tuple[int, int]:
        if self.tok.kind is Kind.NUMBER:
            first, first_pos = self.int_literal("a number of hops")
            if self.accept_sym(".."):
                last, last_pos = self.int_literal("the ending limit of the hop range")
                if last <= first:
                    raise self.error(
                        "The ending limit of a hop range must be greater than the starting "
                        "limit (the starting limit is excluded)",
                        last_pos,
                    )
                lo, hi = first + 1, last
                check_pos = last_pos
            else:
                if first < 1:
                    raise self.error("The number of hops must be at least 1", first_pos)
                lo = hi = first
                check_pos = first_pos
        elif self.accept_sym(".."):
            hi, check_pos = self.int_literal("the ending limit of the hop range")
            if hi < 1:
                raise self.error("The number of hops must be at least 1", check_pos)
            lo = 1
        else:
            lo, hi, check_pos = 1, MAX_HOPS, star_pos
        if hi > MAX_HOPS:
            raise self.error(f"At most {MAX_HOPS} hops are supported", check_pos)
        return lo, hi

    # ------------------------------------------------------------ WHERE

    def parse_or(self) -> ast.Expr:
        pos = self.tok.pos
        items = [self.parse_and()]
        while self.at_kw("OR"):
            self.count_logical()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else ast.Or(tuple(items), pos)

    def parse_and(self) -> ast.Expr:
        pos = self.tok.pos
        items = [self.parse_not()]
        while self.at_kw("AND"):
            self.count_logical()
            items.append(self.parse_not())
        return items[0] if len(items) == 1 else ast.And(tuple(items), pos)

    def count_logical(self) -> None:
        self.logical += 1
        if self.logical > MAX_AND_OR:
            raise self.error(f"A query can have at most {MAX_AND_OR} AND/OR operators")
        self.i += 1

    def parse_not(self) -> ast.Expr:
        tok = self.accept_kw("NOT")
        if tok is not None:
            return ast.Not(self.parse_not(), tok.pos)
        return self.parse_predicate()

    def parse_predicate(self) -> ast.Expr:
        if self.accept_sym("("):
            inner = self.parse_or()
            self.expect_sym(")")
            return inner
        if self.tok.kind is Kind.END:
            raise self.error("Expected a condition but the query ended")
        if self.tok.upper == "IS_OF_MODEL":
            return self.parse_is_of_model()
        left = self.parse_operand()
        tok = self.tok
        if tok.kind is Kind.SYMBOL and tok.value in _CMP:
            self.i += 1
            return ast.Compare(str(tok.value), left, self.parse_operand(), tok.pos)
        if tok.kind is Kind.SYMBOL and tok.value == "<-":  # 'x<-1' lexes as '<-' '1'
            self.i += 1
            num = self.tok
            if num.kind is not Kind.NUMBER:
                raise self.error(f"Expected a number after '<-' but found {self.describe(num)}")
            self.i += 1
            assert isinstance(num.value, int | float)
            return ast.Compare("<", left, ast.Literal(-num.value, tok.pos + 1), tok.pos)
        if tok.upper in ("IN", "NIN"):
            self.i += 1
            return ast.InList(left, self.parse_list(), tok.upper == "NIN", tok.pos)
        if tok.upper == "NOT" and self.peek().upper == "IN":
            self.i += 2
            return ast.InList(left, self.parse_list(), True, tok.pos)
        if isinstance(left, ast.Path | ast.Call) or (
            isinstance(left, ast.Literal) and isinstance(left.value, bool)
        ):
            return left
        raise self.error(f"Expected a comparison but found {self.describe(tok)}")

    def parse_list(self) -> tuple[ast.Literal, ...]:
        start = self.expect_sym("[")
        values: list[ast.Literal] = []
        if not self.at_sym("]"):
            values.append(self.parse_literal())
            while self.accept_sym(","):
                values.append(self.parse_literal())
        self.expect_sym("]")
        if len(values) > MAX_IN_VALUES:
            raise self.error(
                f"IN/NIN lists can hold at most {MAX_IN_VALUES} values (found {len(values)})",
                start.pos,
            )
        return tuple(values)

    def parse_literal(self) -> ast.Literal:
        operand = self.parse_operand()
        if not isinstance(operand, ast.Literal):
            raise self.error("Only constant values can appear in an IN list", operand.pos)
        return operand

    def parse_operand(self) -> ast.Operand:
        tok = self.tok
        if tok.kind in (Kind.STRING, Kind.NUMBER):
            self.i += 1
            return ast.Literal(tok.value, tok.pos)
        if tok.kind is Kind.SYMBOL and tok.value == "-" and self.peek().kind is Kind.NUMBER:
            self.i += 2
            return ast.Literal(-self.tokens[self.i - 1].value, tok.pos)  # type: ignore[operator]
        if tok.kind is Kind.WORD:
            word = tok.upper
            if word in ("TRUE", "FALSE"):
                self.i += 1
                return ast.Literal(word == "TRUE", tok.pos)
            if word == "NULL":
                self.i += 1
                return ast.Literal(None, tok.pos)
            nxt = self.peek()
            if nxt.kind is Kind.SYMBOL and nxt.value == "(":
                return self.parse_call()
        if tok.kind in (Kind.WORD, Kind.ESCAPED):
            return self.resolve(self.parse_raw_path())
        raise self.error(f"Expected a value or property but found {self.describe(tok)}")

    def parse_call(self) -> ast.Call:
        tok = self.tok
        word = tok.upper
        if word == "IS_OF_MODEL":
            raise self.error("IS_OF_MODEL can only be used as a condition")
        if word not in _UNARY and word not in _BINARY:
            raise self.error(f"Unknown function '{tok.value}'")
        self.i += 1
        self.expect_sym("(")
        args: list[ast.Operand] = []
        if not self.at_sym(")"):
            args.append(self.parse_operand())
            while self.accept_sym(","):
                args.append(self.parse_operand())
        close = self.expect_sym(")")
        name = word if word in _UNARY else _BINARY[word]
        wanted = 1 if word in _UNARY else 2
        if len(args) != wanted:
            raise self.error(
                f"{name} takes {wanted} argument{'s' if wanted > 1 else ''}, got {len(args)}",
                close.pos if len(args) < wanted else args[wanted].pos,
            )
        return ast.Call(name, tuple(args), tok.pos)

    def parse_is_of_model(self) -> ast.IsOfModel:
        tok = self.tok
        self.i += 1
        self.expect_sym("(")
        alias: str | None = None
        if self.tok.kind in (Kind.WORD, Kind.ESCAPED):
            alias_tok = self.tok
            self.i += 1
            key = str(alias_tok.value).lower()
            declared = self.aliases.get(key)
            if declared is None:
                raise self.error(f"Unknown collection '{alias_tok.value}'", alias_tok.pos)
            if declared[0] != "twin":
                raise self.error(
                    f"IS_OF_MODEL needs a twin collection; '{alias_tok.value}' holds relationships",
                    alias_tok.pos,
                )
            alias = key
            self.expect_sym(",")
        model_tok = self.tok
        if model_tok.kind is not Kind.STRING:
            raise self.error(
                f"Expected a model id string such as 'dtmi:example:Room;1' but found "
                f"{self.describe(model_tok)}"
            )
        self.i += 1
        exact = False
        if self.accept_sym(","):
            if self.tok.upper != "EXACT":
                raise self.error(f"Expected 'exact' but found {self.describe(self.tok)}")
            self.i += 1
            exact = True
        self.expect_sym(")")
        if alias is None:
            alias = self.default_alias(tok.pos, "IS_OF_MODEL")
            if self.aliases[alias][0] != "twin":
                raise self.error("IS_OF_MODEL needs a twin collection", tok.pos)
        return ast.IsOfModel(alias, str(model_tok.value), exact, tok.pos)

    # ------------------------------------------------------------ paths

    def parse_raw_path(self) -> _RawPath:
        first = self.tok
        parts = [str(self.name("a property or collection name").value)]
        while self.accept_sym("."):
            parts.append(str(self.name("a property name", allow_reserved=True).value))
        return _RawPath(tuple(parts), first.pos)

    def default_alias(self, pos: int, what: str) -> str:
        visible = [k for k in self.order if not k.startswith("#")]
        if len(self.order) == 1:
            return self.order[0]
        if len(visible) == 0:
            raise self.error(f"{what} needs a named collection", pos)
        names = ", ".join(self.aliases[k][1] for k in visible)
        raise self.error(
            f"{what} must name its collection when the query has several ({names})", pos
        )

    def resolve(self, raw: _RawPath) -> ast.Path:
        head = raw.parts[0].lower()
        if head in self.aliases and not head.startswith("#") and head != "":
            return ast.Path(head, raw.parts[1:], raw.pos)
        alias = self.default_alias(raw.pos, f"Property '{raw.parts[0]}'")
        return ast.Path(alias, raw.parts, raw.pos)


def _conjuncts(expr: ast.Expr | None) -> Iterator[ast.Expr]:
    if expr is None:
        return
    if isinstance(expr, ast.And):
        for item in expr.items:
            yield from _conjuncts(item)
    else:
        yield expr


def anchor_ids(expr: ast.Expr) -> tuple[str, tuple[str, ...]] | None:
    """``(alias, ids)`` when ``expr`` pins a twin alias's ``$dtId`` to constants."""
    if isinstance(expr, ast.Compare) and expr.op == "=":
        for a, b in ((expr.left, expr.right), (expr.right, expr.left)):
            if (
                isinstance(a, ast.Path)
                and a.parts == ("$dtId",)
                and isinstance(b, ast.Literal)
                and isinstance(b.value, str)
            ):
                return a.alias, (b.value,)
    if (
        isinstance(expr, ast.InList)
        and not expr.negated
        and isinstance(expr.operand, ast.Path)
        and expr.operand.parts == ("$dtId",)
    ):
        return expr.operand.alias, tuple(v.value for v in expr.values if isinstance(v.value, str))
    return None


def conjuncts(expr: ast.Expr | None) -> list[ast.Expr]:
    """The top-level AND terms of a condition (the whole condition if it is not an AND)."""
    return list(_conjuncts(expr))


def _validate(query: ast.Query) -> None:
    """ADT rules that need the whole query: SELECT * with JOIN, MATCH needs a $dtId, ..."""
    sel = query.select
    if sel.star and query.joins:
        raise QueryError(
            "SELECT * cannot be used with JOIN; project the collections instead "
            "(e.g. SELECT T, CT)",
            query.text,
            sel.pos,
        )
    if query.uses_match:
        total = sum(e.max_hops for e in query.edges)
        if total > MAX_HOPS:
            raise QueryError(
                f"A MATCH pattern can span at most {MAX_HOPS} hops (this one spans {total})",
                query.text,
                query.edges[-1].pos,
            )
    if query.uses_match or query.joins:
        # ADT: relationships are reached from known twins, so a traversal must pin one
        twin_aliases = set(query.twin_aliases)
        anchored = any(
            (found := anchor_ids(c)) is not None and found[0] in twin_aliases
            for c in conjuncts(query.where)
        )
        if not anchored:
            pos = query.where_pos if query.where is not None else len(query.text)
            raise QueryError(
                f"A {'MATCH' if query.uses_match else 'JOIN'} query must pin at least one "
                "twin with WHERE <twin>.$dtId = '<id>' (or IN [...])",
                query.text,
                pos,
            )


def parse(text: str) -> ast.Query:
    """Parse and validate ``text``; raises :class:`QueryError` pointing into the text."""
    if not isinstance(text, str) or not text.strip():
        raise QueryError("The query text is empty", text if isinstance(text, str) else "", 0)
    return _Parser(text).parse()
