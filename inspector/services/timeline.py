"""A run's steps as columns for the step timeline (worker side): from a source that reads them as
columns (:class:`~inspector.source.StepColumnsSource`) a chunk at a time, so only one chunk of
rows is ever Python objects (a million-step run's read peaks at +90 MB, not +490 MB); from any other a
page of step rows at a time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from inspector.errors import QueryCancelled
from inspector.model import StepRow
from inspector.source import StepColumnsSource, TraceSource, step_pages
from inspector.timeline import ColumnsBuilder, StepColumns, columns_from_raw, columns_from_rows

__all__ = ["CHUNK", "read_step_columns"]

#: Steps read per statement.
CHUNK = 50_000
_PAGE = 5000


def read_step_columns(source: TraceSource | Any, key: str, *, every: int = 1, chunk: int = CHUNK,
                      cancelled: Callable[[], bool] | None = None) -> StepColumns:
    """The run's steps in step_index order; ``every`` > 1: only the steps whose index is a
    multiple of it (an overview; sources with a column read only, others read every step).
    Raises QueryCancelled when ``cancelled()`` turns true between chunks."""
    def check() -> None:
        if cancelled is not None and cancelled():
            raise QueryCancelled(f"Reading the steps of {key} was cancelled")

    if not isinstance(source, StepColumnsSource):
        def pages() -> Iterator[list[StepRow]]:
            for page in step_pages(source, key, _PAGE):
                yield page
                check()

        return columns_from_rows(pages())
    if every > 1:
        return columns_from_raw(*source.step_columns(key, every))
    builder = ColumnsBuilder()
    after = None
    expected = 0
    while True:
        check()
        raw = source.step_columns(key, after=after, limit=chunk)
        index = raw[0]
        if after is None and len(index) < chunk:
            builder.add(*raw)
            return builder.build()  # one chunk: nothing to page through
        if after is None:
            expected = source.count_steps(key)  # counted before the other chunks are read
        if any(i is None for i in index):
            # A NULL step_index cannot be read past: read the run in one statement instead.
            builder = ColumnsBuilder()
            builder.add(*source.step_columns(key))
            break
        builder.add(*raw)
        if len(index) < chunk:
            break
        after = index[-1]
    if len(builder) < expected:
        # Rows the keyset cannot page through: a NULL step_index sorted last (Postgres), the
        # same step_index twice across a chunk's edge (a schema without the unique index). More
        # rows than counted are steps written meanwhile: kept.
        builder = ColumnsBuilder()
        builder.add(*source.step_columns(key))
    return builder.build()
