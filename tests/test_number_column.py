"""NumberColumn: an array that reads as Python numbers, and as itself to numpy."""

from __future__ import annotations

import numpy as np
import orjson

from twinsight.core.columns import NumberColumn


def test_a_column_reads_as_python_numbers_and_numpy_sees_the_array_itself() -> None:
    array = np.array([1.5, -0.0, 3.0])
    column = NumberColumn[float](array)
    assert np.asarray(column) is array  # no copy for code that checks a column at once
    assert np.array(column) is not array  # a copy when one is asked for
    assert [type(v) for v in column] == [float, float, float]
    assert (column[0], column[-1], column[1:], len(column)) == (1.5, 3.0, [-0.0, 3.0], 3)
    assert list(reversed(column)) == [3.0, -0.0, 1.5]
    assert column == [1.5, -0.0, 3.0]
    expected = [1.5, -0.0, 3.0]
    assert expected == column  # the list on the left, as a subscriber may write it
    assert orjson.dumps(list(column)) == b"[1.5,-0.0,3.0]"
    times = NumberColumn[int](np.array([2**62, 5], dtype=np.int64))
    assert [type(t) for t in times] == [int, int] and times[0] == 2**62


def test_one_value_is_read_without_converting_the_column() -> None:
    column = NumberColumn[float](np.array([1.5, 2.5, 3.5]))
    assert (column.at(-1), column.at(0), column.at(-2)) == (3.5, 1.5, 2.5)
    assert type(column.at(-1)) is float and column._items is None  # nothing converted
    assert list(column) == [1.5, 2.5, 3.5] and column.at(1) == 2.5
