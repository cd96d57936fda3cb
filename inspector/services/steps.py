"""A run's steps as a table of any size: which step is in which row, a page of rows, and the
next or previous failed or retried step (the step table of the window; ``show`` pages the same
way).

Sources that can (``StepKeysSource``: SQLite, Postgres) answer with index lookups; others (trace
files, bundles: already in memory) are paged through.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from inspector.model import StepRow
from inspector.source import StepKeysSource, StepSeek, TraceSource, step_pages
from inspector.step_rows import StepRowMap

__all__ = ["StepPage", "read_page", "read_row_map", "seek_step"]


@dataclass(frozen=True, slots=True)
class StepPage:
    """Rows ``first``… of a run's step table, and the map they were read with: a dense map the
    rows proved wrong (a repeated step_index) is replaced by the run's keys."""

    first: int
    rows: list[StepRow]
    row_map: StepRowMap


def read_row_map(source: TraceSource, run_id: str) -> StepRowMap:
    """Which step is in which row of ``run_id``'s step table."""
    if isinstance(source, StepKeysSource):
        extent = source.step_extent(run_id)
        if extent.dense:
            return StepRowMap.dense(extent)
        if extent.count == 0:
            return StepRowMap(0)
        return StepRowMap.from_keys(source.step_keys(run_id))
    return StepRowMap.from_keys(r.step_index for page in step_pages(source, run_id) for r in page)


def read_page(source: TraceSource, run_id: str, row_map: StepRowMap, first: int, count: int) -> StepPage:
    """Rows ``first..first+count-1`` (fewer at the end) by keyset on step_index: the same cost
    at any row."""
    plan = row_map.page(first, count)
    if plan.count == 0:
        return StepPage(first, [], row_map)
    rows = source.list_steps(run_id, plan.after, plan.limit)[plan.skip:]
    if not row_map.fits(first, rows):
        keys = StepRowMap.from_keys(source.step_keys(run_id) if isinstance(source, StepKeysSource)
                                    else (r.step_index for page in step_pages(source, run_id) for r in page))
        return read_page(source, run_id, keys, first, count)
    return StepPage(first, rows, row_map)


def seek_step(source: TraceSource, run_id: str, after: Any, what: StepSeek, *, backward: bool = False) -> Any:
    """The step_index of the first step after ``after`` (backward: the last before it; None:
    from the start, or the end) that ``what`` matches, or None."""
    if isinstance(source, StepKeysSource):
        return source.seek_step(run_id, after, what, backward=backward)
    found: Any = None
    for page in step_pages(source, run_id):
        for row in _matching(page, what):
            if backward:
                if after is not None and row.step_index >= after:
                    return found
                found = row.step_index
            elif after is None or row.step_index > after:
                return row.step_index
    return found


def _matching(rows: Sequence[StepRow], what: StepSeek) -> list[StepRow]:
    return [r for r in rows if what.matches(r)]
