"""A column of numbers that stays an array until someone reads it as Python numbers.

Why: the ingest pipeline decodes a batch's SenML samples and JSON fields into numpy arrays
(int64 µs times, float64 values) and keeps them as arrays through its checks, history and
data quality — turning a column into a list of Python numbers cost more per value than any
of those steps. Events (:class:`~twinsight.core.events.TelemetrySeries`, the ingest batch)
and twin-state updates carry such columns to subscribers that expect sequences of plain
numbers. :class:`NumberColumn` is that sequence: indexing or iterating it gives Python
``int``/``float`` (converted once, on first read, then kept), so a subscriber written for
lists works unchanged; numpy reads it as the array it wraps, without a copy
(``np.asarray(column)``), so a subscriber that checks a column at once pays nothing; and
nobody pays for the conversion when no subscriber reads the values (a live stream with no
client, data quality on a clean column).

The ingest pipeline makes its arrays read-only before it hands them out: every subscriber
sees the same array. ``core`` imports no numpy: the array is anything with ``len``,
indexing, ``tolist`` and ``copy``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol, TypeVar, overload

T = TypeVar("T")


class ArrayLike(Protocol):
    """What :class:`NumberColumn` needs of the array it wraps (a 1-D numpy array)."""

    def __len__(self) -> int: ...

    def __getitem__(self, index: Any) -> Any: ...

    def tolist(self) -> Any: ...

    def copy(self) -> Any: ...


class NumberColumn(Sequence[T]):
    """A read-only sequence of Python numbers over a one-dimensional array (see the module
    doc). ``array`` is the array itself, for code that works on arrays."""

    __slots__ = ("_items", "array")

    def __init__(self, array: ArrayLike) -> None:
        self.array = array
        self._items: list[T] | None = None

    def items(self) -> list[T]:
        """The values as a list of Python numbers (made on first use, then kept)."""
        items = self._items
        if items is None:
            items = self._items = self.array.tolist()
        return items

    def at(self, index: int) -> T:
        """One value as a Python number, without converting the whole column when it has
        not been read yet (the newest value of a column becomes a twin's state)."""
        if self._items is not None:
            return self._items[index]
        value: T = self.array[index : index + 1 or None].tolist()[0]
        return value

    def __len__(self) -> int:
        return len(self.array)

    @overload
    def __getitem__(self, index: int) -> T: ...

    @overload
    def __getitem__(self, index: slice) -> list[T]: ...

    def __getitem__(self, index: int | slice) -> T | list[T]:
        return self.items()[index]

    def __iter__(self) -> Iterator[T]:
        return iter(self.items())

    def __reversed__(self) -> Iterator[T]:
        return reversed(self.items())

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> Any:
        """numpy's hook: ``np.asarray(column)`` is the wrapped array (a copy if asked)."""
        return self.array.copy() if copy else self.array

    def __eq__(self, other: object) -> bool:
        if isinstance(other, NumberColumn):
            return self.items() == other.items()
        if isinstance(other, list | tuple):
            return self.items() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"NumberColumn({self.items()!r})"


def plain(values: Sequence[T]) -> list[T]:
    """``values`` as a list of Python numbers: a :class:`NumberColumn`'s own list, or a
    copy of any other sequence."""
    return values.items() if isinstance(values, NumberColumn) else list(values)
