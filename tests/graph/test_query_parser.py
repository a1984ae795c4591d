"""Parser tests: every construct of the ADT dialect parses to the right AST, and every error
points (position, line/column, caret) at the offending part of the text."""

from __future__ import annotations

import doctest

import pytest

import twinsight.graph.index
import twinsight.graph.query
import twinsight.graph.query.lexer
import twinsight.graph.query.paging
from twinsight.core.errors import BadRequest
from twinsight.graph.query import QueryError, ast, parse_query
from twinsight.graph.query.errors import locate
from twinsight.graph.query.lexer import Kind, tokenize


@pytest.mark.parametrize(
    "module",
    [
        twinsight.graph.query,
        twinsight.graph.index,
        twinsight.graph.query.lexer,
        twinsight.graph.query.paging,
    ],
)
def test_docstring_examples_run(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert result.failed == 0


# ---------------------------------------------------------------- lexer


def test_tokens_carry_offsets_and_decoded_values() -> None:
    toks = tokenize("select [[Group]], 'it\\'s' , -1.5e2 <= 3")
    assert [(t.kind, t.value, t.pos) for t in toks] == [
        (Kind.WORD, "select", 0),
        (Kind.ESCAPED, "Group", 7),
        (Kind.SYMBOL, ",", 16),
        (Kind.STRING, "it's", 18),
        (Kind.SYMBOL, ",", 26),
        (Kind.SYMBOL, "-", 28),
        (Kind.NUMBER, 150.0, 29),
        (Kind.SYMBOL, "<=", 35),
        (Kind.NUMBER, 3, 38),
        (Kind.END, "", 39),
    ]


def test_hop_range_is_not_a_decimal() -> None:
    values = [t.value for t in tokenize("*1..3")]
    assert values == ["*", 1, "..", 3, ""]


def test_double_quoted_strings_and_unicode_escapes() -> None:
    assert tokenize('"a\\u00e9\\n"')[0].value == "aé\n"


# ---------------------------------------------------------------- SELECT


def test_select_star_unnamed_collection() -> None:
    q = parse_query("SELECT * FROM DIGITALTWINS")
    assert q.select.star and not q.select.count and q.select.top is None
    assert q.source == ast.From(ast.CollectionKind.TWINS, "", False, 14)
    assert q.where is None and q.single_collection


def test_keywords_are_case_insensitive() -> None:
    q = parse_query("sElEcT top(3) t fRoM DigitalTwins T wHeRe t.a = 1 AnD NoT t.b = 2")
    assert q.select.top == 3
    assert q.select.columns[0].name == "T"
    assert isinstance(q.where, ast.And)


def test_projections_with_aliases_and_paths() -> None:
    q = parse_query(
        "SELECT T, T.name, T.thermostat.setPoint AS sp, T.$metadata.$model FROM DIGITALTWINS T"
    )
    cols = q.select.columns
    assert [c.name for c in cols] == ["T", "name", "sp", "$model"]
    assert cols[0].path == ast.Path("t", (), 7)
    assert cols[2].path.parts == ("thermostat", "setPoint")
    assert cols[3].path.parts == ("$metadata", "$model")


def test_bare_property_reads_from_the_only_collection() -> None:
    q = parse_query("SELECT name, age FROM DIGITALTWINS WHERE IS_DEFINED(Location)")
    assert [c.path for c in q.select.columns] == [
        ast.Path("", ("name",), 7),
        ast.Path("", ("age",), 13),
    ]
    assert q.where == ast.Call("IS_DEFINED", (ast.Path("", ("Location",), 52),), 41)


def test_bare_property_with_named_collection() -> None:
    q = parse_query("SELECT * FROM DIGITALTWINS T WHERE IS_BOOL(HasTemperature)")
    assert q.where == ast.Call("IS_BOOL", (ast.Path("t", ("HasTemperature",), 43),), 35)


def test_top_without_columns_means_star() -> None:
    q = parse_query("SELECT TOP(5) FROM DIGITALTWINS")
    assert q.select.star and q.select.top == 5
    q = parse_query("SELECT TOP (7) T.x FROM DIGITALTWINS T")
    assert q.select.top == 7 and q.select.columns[0].name == "x"


def test_count() -> None:
    q = parse_query("SELECT COUNT() FROM RELATIONSHIPS")
    assert q.select.count
    assert q.source.kind is ast.CollectionKind.RELATIONSHIPS


def test_escaped_reserved_words() -> None:
    q = parse_query("SELECT * FROM DIGITALTWINS WHERE [[Group]] = 'BravoTeam'")
    assert q.where == ast.Compare(
        "=", ast.Path("", ("Group",), 33), ast.Literal("BravoTeam", 45), 43
    )


def test_reserved_word_allowed_after_a_dot() -> None:
    q = parse_query("SELECT T.count FROM DIGITALTWINS T WHERE T.order.top = 1")
    assert q.select.columns[0].name == "count"


# ---------------------------------------------------------------- WHERE


def test_precedence_not_and_or_and_parentheses() -> None:
    q = parse_query("SELECT * FROM DIGITALTWINS T WHERE NOT T.a = 1 AND T.b = 2 OR (T.c = 3)")
    assert isinstance(q.where, ast.Or)
    first = q.where.items[0]
    assert isinstance(first, ast.And)
    assert isinstance(first.items[0], ast.Not)
    assert isinstance(q.where.items[1], ast.Compare)


@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
def test_comparison_operators(op: str) -> None:
    q = parse_query(f"SELECT * FROM DIGITALTWINS T WHERE T.x {op} 5")
    assert isinstance(q.where, ast.Compare) and q.where.op == op


def test_literals() -> None:
    q = parse_query(
        "SELECT * FROM DIGITALTWINS T WHERE T.a = 'x' AND T.b = -2 AND T.c = 2.5 "
        "AND T.d = true AND T.e = FALSE AND T.f = null AND T.g = 1e3"
    )
    assert isinstance(q.where, ast.And)
    values = [c.right.value for c in q.where.items if isinstance(c, ast.Compare)]  # type: ignore[union-attr]
    assert values == ["x", -2, 2.5, True, False, None, 1000.0]


def test_less_than_negative_without_spaces() -> None:
    q = parse_query("SELECT * FROM DIGITALTWINS T WHERE T.x<-1")
    assert isinstance(q.where, ast.Compare)
    assert q.where.op == "<" and q.where.right.value == -1  # type: ignore[union-attr]


def test_in_nin_and_not_in() -> None:
    q = parse_query(
        "SELECT * FROM DIGITALTWINS T WHERE T.a IN ['x', 1] AND T.b NIN [true] AND T.c NOT IN []"
    )
    assert isinstance(q.where, ast.And)
    a, b, c = q.where.items
    assert isinstance(a, ast.InList) and not a.negated
    assert [v.value for v in a.values] == ["x", 1]
    assert isinstance(b, ast.InList) and b.negated
    assert isinstance(c, ast.InList) and c.negated and c.values == ()


def test_is_of_model_forms() -> None:
    forms = {
        "IS_OF_MODEL('dtmi:a:B;1')": ("t", "dtmi:a:B;1", False),
        "IS_OF_MODEL('dtmi:a:B;1', exact)": ("t", "dtmi:a:B;1", False),
        "IS_OF_MODEL(T, 'dtmi:a:B;1')": ("t", "dtmi:a:B;1", False),
        "IS_OF_MODEL(T, 'dtmi:a:B;1', EXACT)": ("t", "dtmi:a:B;1", True),
    }
    for cond, (alias, model, _) in forms.items():
        q = parse_query(f"SELECT * FROM DIGITALTWINS T WHERE {cond}")
        assert isinstance(q.where, ast.IsOfModel)
        assert (q.where.alias, q.where.model) == (alias, model)
        assert q.where.exact == ("exact" in cond.lower())


@pytest.mark.parametrize(
    "fn",
    ["IS_DEFINED", "IS_NULL", "IS_BOOL", "IS_NUMBER", "IS_STRING", "IS_PRIMITIVE", "IS_OBJECT"],
)
def test_type_check_functions(fn: str) -> None:
    q = parse_query(f"SELECT * FROM DIGITALTWINS T WHERE {fn.lower()}(T.x)")
    assert isinstance(q.where, ast.Call) and q.where.name == fn


@pytest.mark.parametrize(
    ("written", "name"),
    [
        ("STARTSWITH", "STARTSWITH"),
        ("STARTS_WITH", "STARTSWITH"),
        ("ENDSWITH", "ENDSWITH"),
        ("ENDS_WITH", "ENDSWITH"),
        ("CONTAINS", "CONTAINS"),
        ("ARRAY_CONTAINS", "ARRAY_CONTAINS"),
    ],
)
def test_string_functions(written: str, name: str) -> None:
    q = parse_query(f"SELECT * FROM DIGITALTWINS T WHERE {written}(T.$dtId, 'a')")
    assert isinstance(q.where, ast.Call) and q.where.name == name
    assert q.where.args[0] == ast.Path("t", ("$dtId",), q.where.args[0].pos)


# ---------------------------------------------------------------- FROM / JOIN / MATCH


def test_join_chain_with_relationship_alias() -> None:
    q = parse_query(
        "SELECT Room, LightPanel, R FROM DIGITALTWINS Room "
        "JOIN LightPanel RELATED Room.contains R "
        "JOIN LightBulb RELATED LightPanel.contains "
        "WHERE Room.$dtId IN ['room1', 'room2']"
    )
    assert q.joins == 2 and not q.uses_match
    assert q.twin_aliases == ("room", "lightpanel", "lightbulb")
    assert q.rel_aliases == ("r",)
    assert [(e.left, e.right, e.names, e.rel_alias) for e in q.edges] == [
        ("room", "lightpanel", ("contains",), "r"),
        ("lightpanel", "lightbulb", ("contains",), None),
    ]
    assert q.display["lightpanel"] == "LightPanel"


def test_five_joins_allowed() -> None:
    text = "SELECT A FROM DIGITALTWINS A " + " ".join(
        f"JOIN {b} RELATED {a}.contains" for a, b in zip("ABCDE", "BCDEF", strict=True)
    )
    assert parse_query(text + " WHERE A.$dtId = 'x'").joins == 5


def test_aliases_are_case_insensitive() -> None:
    q = parse_query(
        "SELECT Building, Sensor FROM DIGITALTWINS MATCH (Building)-[:contains]-(Sensor) "
        "WHERE building.$dtId = 'Seattle21'"
    )
    assert q.twin_aliases == ("building", "sensor")


@pytest.mark.parametrize(
    ("pattern", "direction", "names", "lo", "hi", "var"),
    [
        ("(a)-[]->(b)", ast.Direction.OUT, (), 1, 1, None),
        ("(a)<-[]-(b)", ast.Direction.IN, (), 1, 1, None),
        ("(a)-[]-(b)", ast.Direction.ANY, (), 1, 1, None),
        ("(a)-[:contains]->(b)", ast.Direction.OUT, ("contains",), 1, 1, None),
        ("(a)-[:contains|feeds]-(b)", ast.Direction.ANY, ("contains", "feeds"), 1, 1, None),
        ("(a)-[*3]->(b)", ast.Direction.OUT, (), 3, 3, None),
        ("(a)-[*1..3]->(b)", ast.Direction.OUT, (), 2, 3, None),  # start excluded (ADT)
        ("(a)-[*..3]->(b)", ast.Direction.OUT, (), 1, 3, None),
        ("(a)-[*]->(b)", ast.Direction.OUT, (), 1, 10, None),
        (
            "(a)-[:contains|isAssociatedWith*3..5]->(b)",
            ast.Direction.OUT,
            ("contains", "isAssociatedWith"),
            4,
            5,
            None,
        ),
        ("(a)-[r]->(b)", ast.Direction.OUT, (), 1, 1, "r"),
        ("(a)-[r:contains|x]->(b)", ast.Direction.OUT, ("contains", "x"), 1, 1, "r"),
        ("(a)-[has|includes*..3]-(b)", ast.Direction.ANY, ("has", "includes"), 1, 3, None),
    ],
)
def test_match_edges(
    pattern: str,
    direction: ast.Direction,
    names: tuple[str, ...],
    lo: int,
    hi: int,
    var: str | None,
) -> None:
    q = parse_query(f"SELECT a, b FROM DIGITALTWINS MATCH {pattern} WHERE a.$dtId = 'x'")
    assert q.uses_match and len(q.edges) == 1
    edge = q.edges[0]
    assert (edge.left, edge.right) == ("a", "b")
    assert (edge.direction, edge.names, edge.min_hops, edge.max_hops) == (
        direction,
        names,
        lo,
        hi,
    )
    assert edge.rel_alias == var


def test_match_chain_and_anonymous_nodes() -> None:
    q = parse_query(
        "SELECT Floor, Room, Building FROM DIGITALTWINS "
        "MATCH (Building)-[r1:isAssociatedWith]->(Floor)<-[r2:isAssociatedWith]-(Room)-[]-() "
        "WHERE Building.$dtId = 'building-3' AND Room.temperature > 50"
    )
    assert q.twin_aliases == ("building", "floor", "room", "#1")
    assert q.rel_aliases == ("r1", "r2")
    assert [e.direction for e in q.edges] == [
        ast.Direction.OUT,
        ast.Direction.IN,
        ast.Direction.ANY,
    ]


def test_match_single_node() -> None:
    q = parse_query("SELECT a FROM DIGITALTWINS MATCH (a) WHERE a.$dtId = 'x' AND IS_OF_MODEL('m')")
    assert q.edges == () and q.twin_aliases == ("a",)
    assert isinstance(q.where, ast.And) and q.where.items[1] == ast.IsOfModel("a", "m", False, 61)


def test_from_relationships_alias_and_bare_names() -> None:
    q = parse_query("SELECT * FROM RELATIONSHIPS WHERE $sourceId IN ['A', 'B']")
    assert isinstance(q.where, ast.InList)
    assert q.where.operand == ast.Path("", ("$sourceId",), 34)


# ---------------------------------------------------------------- errors


def error_of(text: str) -> QueryError:
    with pytest.raises(QueryError) as caught:
        parse_query(text)
    return caught.value


ERRORS = [
    # (query, text at the reported position (or '' for end), message fragment)
    ("", "", "empty"),
    ("SELEKT * FROM DIGITALTWINS", "SELEKT", "Expected SELECT"),
    ("SELECT * DIGITALTWINS", "DIGITALTWINS", "Expected FROM"),
    ("SELECT * FROM TWINS", "TWINS", "Expected DIGITALTWINS or RELATIONSHIPS"),
    ("SELECT * FROM DIGITALTWINS WHERE", "", "Expected a condition after WHERE"),
    ("SELECT * FROM DIGITALTWINS T WHERE T.x = ", "", "Expected a value"),
    ("SELECT * FROM DIGITALTWINS T WHERE T.x = 1 T.y = 2", "T.y", "Unexpected"),
    ("SELECT * FROM DIGITALTWINS T extra", "extra", "Expected WHERE or end"),
    ("SELECT * FROM DIGITALTWINS T WHERE (T.x = 1", "", "Expected ')'"),
    ("SELECT * FROM DIGITALTWINS T WHERE T.x = 'abc", "'abc", "Unterminated string"),
    ("SELECT * FROM DIGITALTWINS T WHERE T.x = 'a\\q'", "\\q", "Unknown escape"),
    ("SELECT * FROM DIGITALTWINS T WHERE T.x = 1 # 2", "#", "Unexpected character"),
    ("SELECT * FROM DIGITALTWINS T WHERE T.x = 12ab", "ab", "Malformed number"),
    ("SELECT * FROM DIGITALTWINS WHERE [[x", "[[x", "Unterminated escaped name"),
    ("SELECT * FROM DIGITALTWINS WHERE group = 1", "group", "reserved keyword"),
    ("SELECT * FROM DIGITALTWINS T WHERE T.x", "", ""),  # bare path is a valid predicate
    ("SELECT * FROM DIGITALTWINS T WHERE 5", "", "Expected a comparison"),
    ("SELECT * FROM DIGITALTWINS T WHERE FOO(T.x)", "FOO", "Unknown function"),
    ("SELECT * FROM DIGITALTWINS T WHERE IS_NULL(T.x, 1)", "1)", "takes 1 argument"),
    ("SELECT * FROM DIGITALTWINS T WHERE STARTSWITH(T.x)", ")", "takes 2 arguments"),
    ("SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(T)", ")", "Expected ','"),
    ("SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(X, 'dtmi:a:b;1')", "X,", "Unknown collection"),
    ("SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL(5)", "5", "model id string"),
    ("SELECT * FROM DIGITALTWINS T WHERE IS_OF_MODEL('m', sloppy)", "sloppy", "'exact'"),
    ("SELECT * FROM RELATIONSHIPS R WHERE IS_OF_MODEL('m')", "IS_OF_MODEL", "twin collection"),
    ("SELECT * FROM DIGITALTWINS T WHERE T.x IN [T.y]", "T.y", "constant values"),
    (
        "SELECT * FROM DIGITALTWINS T WHERE T.x IN [" + ",".join(["1"] * 101) + "]",
        "[",
        "at most 100 values",
    ),
    (
        "SELECT * FROM DIGITALTWINS T WHERE " + " AND ".join(["T.x = 1"] * 51) + " OR T.y = 2",
        "OR T.y = 2",
        "at most 50 AND/OR",
    ),
    ("SELECT TOP(0) FROM DIGITALTWINS", "0", "at least 1"),
    ("SELECT TOP(x) FROM DIGITALTWINS", "x)", "whole number"),
    ("SELECT TOP(2.5) FROM DIGITALTWINS", "2.5", "whole number"),
    ("SELECT TOP(3) COUNT() FROM DIGITALTWINS", "TOP", "TOP and COUNT"),
    ("SELECT COUNT(), T FROM DIGITALTWINS T", ",", "COUNT() cannot be combined"),
    ("SELECT T, COUNT() FROM DIGITALTWINS T", "COUNT", "COUNT() cannot be combined"),
    ("SELECT T, * FROM DIGITALTWINS T", "*", "'*' cannot be combined"),
    ("SELECT FROM DIGITALTWINS", "FROM", "Expected '*', COUNT()"),
    ("SELECT T.a, T.a FROM DIGITALTWINS T", "T.a FROM", "more than once"),
    ("SELECT T.a AS x, T.b AS x FROM DIGITALTWINS T", "T.b", "more than once"),
    ("SELECT * FROM (SELECT * FROM DIGITALTWINS)", "(SELECT", "Subqueries"),
    # JOIN rules
    ("SELECT * FROM DIGITALTWINS T JOIN C RELATED T.contains", "SELECT", "SELECT * cannot"),
    ("SELECT C FROM DIGITALTWINS JOIN C RELATED T.contains", "DIGITALTWINS", "named"),
    ("SELECT C FROM DIGITALTWINS T JOIN C RELATED X.contains", "X.", "Unknown collection"),
    ("SELECT C FROM DIGITALTWINS T JOIN C RELATED T", "", "Expected '.'"),
    ("SELECT C FROM DIGITALTWINS T JOIN T RELATED T.contains", "T RELATED", "more than once"),
    ("SELECT C FROM DIGITALTWINS T JOIN C T.contains", "T.contains", "Expected RELATED"),
    (
        "SELECT C FROM DIGITALTWINS T JOIN C RELATED T.contains R JOIN D RELATED R.x",
        "R.x",
        "relationship collection",
    ),
    (
        "SELECT A FROM DIGITALTWINS A JOIN B RELATED A.c JOIN C RELATED B.c JOIN D RELATED C.c "
        "JOIN E RELATED D.c JOIN F RELATED E.c JOIN G RELATED F.c",
        "JOIN G",
        "at most 5 JOINs",
    ),
    ("SELECT C, D FROM DIGITALTWINS T JOIN C RELATED T.x WHERE C.a = D.a", "D.a", "Property"),
    ("SELECT x FROM DIGITALTWINS T JOIN C RELATED T.r", "x FROM", "several"),
    ("SELECT * FROM RELATIONSHIPS R JOIN C RELATED R.x", "JOIN", "FROM RELATIONSHIPS"),
    ("SELECT C FROM DIGITALTWINS T JOIN C RELATED T.contains", "", "JOIN query must pin"),
    (
        "SELECT C FROM DIGITALTWINS T JOIN C RELATED T.contains WHERE IS_OF_MODEL(C, 'm')",
        "IS_OF_MODEL",
        "JOIN query must pin",
    ),
    # MATCH rules
    ("SELECT a FROM DIGITALTWINS MATCH (a)-[]->(b)", "", "$dtId"),
    ("SELECT a FROM DIGITALTWINS MATCH (a)-[]->(b) WHERE b.x = 1", "b.x", "$dtId"),
    (
        "SELECT a FROM DIGITALTWINS MATCH (a)-[]->(b) WHERE a.$dtId = 'x' OR b.x = 1",
        "a.$dtId",
        "$dtId",
    ),
    ("SELECT a FROM DIGITALTWINS MATCH (a)-[r*2]->(b) WHERE a.$dtId = 'x'", "*2", "single hop"),
    ("SELECT a FROM DIGITALTWINS MATCH (a)-[*11]->(b) WHERE a.$dtId = 'x'", "11", "10 hops"),
    ("SELECT a FROM DIGITALTWINS MATCH (a)-[*..11]->(b) WHERE a.$dtId = 'x'", "11", "10 hops"),
    ("SELECT a FROM DIGITALTWINS MATCH (a)-[*3..2]->(b) WHERE a.$dtId = 'x'", "2]", "greater"),
    ("SELECT a FROM DIGITALTWINS MATCH (a)-[*0]->(b) WHERE a.$dtId = 'x'", "0]", "at least 1"),
    (
        "SELECT a FROM DIGITALTWINS MATCH (a)-[*6]->(b)-[*5]->(c) WHERE a.$dtId = 'x'",
        "-[*5]",
        "at most 10 hops",
    ),
    ("SELECT a FROM DIGITALTWINS MATCH (a)<-[]->(b) WHERE a.$dtId = 'x'", "->", "both ways"),
    ("SELECT a FROM DIGITALTWINS MATCH (a)-[]=(b) WHERE a.$dtId = 'x'", "=", "Expected '-'"),
    ("SELECT a FROM DIGITALTWINS MATCH a-[]->(b) WHERE a.$dtId = 'x'", "a-", "Expected '('"),
    ("SELECT a FROM DIGITALTWINS MATCH (a) (b) WHERE a.$dtId = 'x'", "(b)", "Expected '-['"),
    ("SELECT a FROM DIGITALTWINS T MATCH (a) WHERE a.$dtId = 'x'", "T MATCH", "cannot be named"),
    (
        "SELECT a FROM DIGITALTWINS MATCH (a)-[]->(b) MATCH (c) WHERE a.$dtId = 'x'",
        "MATCH (c)",
        "Only one MATCH",
    ),
    (
        "SELECT a FROM DIGITALTWINS MATCH (a)-[r]->(b)-[r]->(c) WHERE a.$dtId = 'x'",
        "r]->(c)",
        "more than once",
    ),
    ("SELECT a FROM DIGITALTWINS MATCH (a)-[r]->(r) WHERE a.$dtId = 'x'", "r)", "relationship"),
    ("SELECT x FROM DIGITALTWINS MATCH (a)-[]->(b) WHERE a.$dtId = 'x'", "x FROM", "several"),
    ("SELECT * FROM RELATIONSHIPS MATCH (a) WHERE a.$dtId = 'x'", "MATCH", "RELATIONSHIPS"),
    (
        "SELECT a FROM DIGITALTWINS MATCH (a)-[]-(b) WHERE a.$dtId = 'x' AND IS_OF_MODEL('m')",
        "IS_OF_MODEL",
        "must name its collection",
    ),
    (
        "SELECT a FROM DIGITALTWINS T JOIN C RELATED T.c MATCH (a) WHERE a.$dtId = 'x'",
        "MATCH",
        "JOIN and MATCH",
    ),
    (
        "SELECT a FROM DIGITALTWINS MATCH (a) JOIN C RELATED a.c WHERE a.$dtId = 'x'",
        "JOIN",
        "JOIN and MATCH",
    ),
]


@pytest.mark.parametrize(("text", "at", "fragment"), ERRORS)
def test_errors_point_at_the_problem(text: str, at: str, fragment: str) -> None:
    if text.endswith("T.x") and not fragment:
        parse_query(text)  # the one valid entry: a bare boolean property as a condition
        return
    error = error_of(text)
    assert isinstance(error, BadRequest)
    assert error.code == "SqlQueryError" and error.status == 400
    assert error.to_body()["error"]["code"] == "SqlQueryError"
    assert fragment in error.message, error.message
    expected = text.index(at) if at else len(text)
    assert error.position == expected, error.message
    if text:
        line, column, _ = locate(text, expected)
        assert f"(line {line}, column {column}, offset {expected})" in error.message
        lines = error.message.split("\n")
        caret = lines[-1].index("^")
        # the caret sits under the offending character of the echoed query line
        assert lines[-2][caret:] == ("  " + text)[caret:] and caret - 2 == column - 1


def test_error_on_a_later_line_reports_line_and_column() -> None:
    text = "SELECT *\nFROM DIGITALTWINS T\nWHERE T.x = = 1"
    error = error_of(text)
    assert error.position == text.index("= 1")
    assert "(line 3, column 13, offset 41)" in error.message
    assert error.message.endswith("  WHERE T.x = = 1\n              ^")


def test_query_length_limit() -> None:
    text = "SELECT * FROM DIGITALTWINS T WHERE T.x IN ['" + "a" * 8000 + "']"
    error = error_of(text)
    assert "8000" in error.message and error.position == 8000


def test_ast_is_frozen() -> None:
    q = parse_query("SELECT * FROM DIGITALTWINS")
    with pytest.raises(AttributeError):
        q.select.star = False  # type: ignore[misc]
