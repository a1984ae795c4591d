"""The Azure Digital Twins query language over Twinsight's in-memory twin graph.

``parse_query`` turns text into a validated :class:`~twinsight.graph.query.ast.Query`;
``run_query`` plans, executes and pages it against a :class:`~twinsight.graph.index.GraphIndex`.
Every problem (syntax, an ADT rule, a bad continuation token) is a :class:`QueryError`
(``SqlQueryError``, HTTP 400) whose message points into the query text.
"""

from __future__ import annotations

from twinsight.core.errors import BadRequest
from twinsight.graph.index import GraphIndex
from twinsight.graph.query import ast
from twinsight.graph.query.errors import InvalidContinuationToken, QueryError
from twinsight.graph.query.executor import QueryPage, execute
from twinsight.graph.query.paging import decode
from twinsight.graph.query.parser import parse
from twinsight.graph.query.planner import plan

__all__ = [
    "InvalidContinuationToken",
    "QueryError",
    "QueryPage",
    "explain",
    "parse_query",
    "run_query",
]

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
"""ADT's limit on query items per page."""


def parse_query(text: str) -> ast.Query:
    """Parse and validate an ADT query.

    >>> q = parse_query("SELECT T.name AS n FROM DIGITALTWINS T WHERE T.temperature > 20")
    >>> [c.name for c in q.select.columns], q.source.alias
    (['n'], 't')
    >>> try:
    ...     parse_query("SELECT * FROM DIGITALTWINS WHERE")
    ... except QueryError as error:
    ...     print(error.code, error.position)
    ...     print(error.message)
    SqlQueryError 32
    Expected a condition after WHERE (line 1, column 33, offset 32):
      SELECT * FROM DIGITALTWINS WHERE
                                      ^
    """
    return parse(text)


def run_query(
    text: str | None,
    index: GraphIndex,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    continuation: str | None = None,
    use_indexes: bool = True,
) -> QueryPage:
    """Run ``text`` against ``index`` and return one page of results.

    Pass the previous page's ``continuation`` to get the next page. As in ADT, ``text`` is
    then ignored (it may be ``None``): the token carries the query. A token that is not
    ours raises :class:`InvalidContinuationToken` (code ``BadRequest``); a bad query raises
    :class:`QueryError` (code ``SqlQueryError``). ``page_size`` is the server's choice (the
    API can take it from ADT's ``max-items-per-page`` header); above ADT's 1000 it is
    lowered to 1000, below 1 it is a :class:`~twinsight.core.errors.BadRequest`.
    ``use_indexes=False`` forces scans (tests compare both ways).

    >>> g = GraphIndex()
    >>> for i in range(3):
    ...     g.put_twin({"$dtId": f"r{i}", "$metadata": {"$model": "dtmi:x:Room;1"}, "t": 20 + i})
    >>> page = run_query("SELECT T.$dtId FROM DIGITALTWINS T WHERE T.t >= 21", g, page_size=1)
    >>> page.items
    [{'$dtId': 'r1'}]
    >>> run_query(None, g, page_size=1, continuation=page.continuation).items
    [{'$dtId': 'r2'}]
    >>> run_query("SELECT COUNT() FROM DIGITALTWINS", g).items
    [{'COUNT': 3}]
    """
    if not isinstance(page_size, int) or isinstance(page_size, bool) or page_size < 1:
        raise BadRequest(f"The page size must be a positive integer, not {page_size!r}")
    page_size = min(page_size, MAX_PAGE_SIZE)  # ADT: "the server may return fewer"
    cursor = None
    if continuation is not None:
        cursor = decode(continuation)
        text = cursor.text
    if text is None:
        raise QueryError("The query text is empty")
    query = parse(text)
    return execute(query, index, page_size=page_size, cursor=cursor, use_indexes=use_indexes)


def explain(text: str, index: GraphIndex) -> str:
    """How the planner would start ``text`` (for diagnostics and the benchmark)."""
    return plan(index, parse(text)).explain()
