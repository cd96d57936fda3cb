"""Row ``r`` of a run's step table ↔ the step it shows, without holding the steps.

A run's steps are a table whose rows are the run's steps in ``step_index`` order. A view of a
million steps reads only the pages it shows, by keyset on ``step_index`` (an index seek, the same
cost at row 10 as at row 900,000); to seek to row ``r`` it needs the ``step_index`` of the row
before it. :class:`StepRowMap` answers that:

- **dense** (upstream's case: ``step_index`` is the 0-based position, §1.5, unique per run): the
  row is ``step_index - low``, known from the run's count, smallest and largest step_index (three
  index lookups, no step read);
- **keys**: otherwise (gaps, a foreign schema's repeated or NULL or text values) the run's
  step_index values in order, read once (8 bytes a step when they are integers).

A dense map is checked against every page read (:meth:`StepRowMap.fits`): a table that only looks
dense (a repeated value making up for a gap) is caught at its first wrong page and read as keys.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from inspector.model import StepRow

__all__ = ["PageRead", "StepExtent", "StepRowMap"]


@dataclass(frozen=True, slots=True)
class StepExtent:
    """How many steps a run has and its smallest and largest ``step_index`` (as stored)."""

    count: int
    low: Any = None
    high: Any = None

    @property
    def dense(self) -> bool:
        """Integers ``low..high``, one step each, as far as the count can tell."""
        low, high = self.low, self.high
        return (type(low) is int and type(high) is int and self.count > 0
                and high - low + 1 == self.count)


@dataclass(frozen=True, slots=True)
class PageRead:
    """How to read rows ``first..first+count-1``: the steps after step_index ``after`` (None: from
    the start), ``limit`` of them, of which the first ``skip`` belong to earlier rows."""

    first: int
    count: int
    after: Any
    skip: int

    @property
    def limit(self) -> int:
        return self.skip + self.count


class StepRowMap:
    """The rows of one run's step table. Build with :meth:`dense` or :meth:`from_keys`."""

    __slots__ = ("count", "low", "_keys", "_sorted")

    def __init__(self, count: int, low: int | None = None, keys: Sequence[Any] | None = None) -> None:
        self.count = count
        self.low = low
        self._keys = keys
        self._sorted = False
        if isinstance(keys, array):
            # Integers as the source ordered them: sorted, unless a foreign order disagrees.
            self._sorted = all(a <= b for a, b in zip(keys, keys[1:]))  # noqa: B905

    @classmethod
    def dense(cls, extent: StepExtent) -> StepRowMap:
        assert extent.dense
        return cls(extent.count, low=extent.low)

    @classmethod
    def from_keys(cls, keys: Iterable[Any]) -> StepRowMap:
        values = list(keys)
        try:
            packed: Sequence[Any] = array("q", values)  # 8 bytes a step instead of ~36
        except (TypeError, OverflowError):
            packed = values  # NULL, text or huge values: kept as stored
        return cls(len(values), keys=packed)

    @property
    def is_dense(self) -> bool:
        return self._keys is None

    def key_at(self, row: int) -> Any:
        """The step_index shown in ``row`` (0 ≤ row < count)."""
        if self._keys is None:
            assert self.low is not None
            return self.low + row
        return self._keys[row]

    def row_of(self, step_index: Any) -> int | None:
        """The row of the (first) step with this step_index, or None."""
        if self._keys is None:
            if type(step_index) is not int or self.low is None:
                return None
            row = step_index - self.low
            return row if 0 <= row < self.count else None
        keys = self._keys
        if self._sorted and type(step_index) is int:
            row = bisect.bisect_left(keys, step_index)
            return row if row < len(keys) and keys[row] == step_index else None
        for row, key in enumerate(keys):
            if key == step_index and type(key) is type(step_index):
                return row
        return None

    def page(self, first: int, count: int) -> PageRead:
        """How to read ``count`` rows from row ``first``."""
        count = max(0, min(count, self.count - first))
        if count == 0:
            return PageRead(first, 0, None, 0)
        if first <= 0:
            return PageRead(0, count, None, 0)
        if self._keys is None:
            assert self.low is not None
            return PageRead(first, count, self.low + first - 1, 0)
        keys = self._keys
        value = keys[first]
        start = first
        while start > 0 and keys[start - 1] == value and keys[start - 1] is not None:
            start -= 1  # rows of the same (repeated) step_index before this one
        before = keys[start - 1] if start > 0 else None
        if start > 0 and before is None:
            return PageRead(first, count, None, first)  # NULLs first (SQLite's order): count from the start
        return PageRead(first, count, before, first - start)

    def fits(self, first: int, rows: Sequence[StepRow]) -> bool:
        """Whether ``rows``, read for rows ``first``… with :meth:`page`, are the steps this map
        says they are (a dense map's only check that the run has no repeated step_index)."""
        if self._keys is not None:
            return True  # the keys were read from the rows themselves
        expected = min(len(rows), self.count - first)
        low = self.low if self.low is not None else 0
        return len(rows) == expected and all(r.step_index == low + first + i for i, r in enumerate(rows))
