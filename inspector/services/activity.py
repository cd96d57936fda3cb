"""Runs over time: runs and failed runs per interval for a filter (the chart above the runs list
and ``trace-inspector activity``). A source that counts them in its own query does
(:class:`~inspector.source.RunActivitySource`); any other is counted from its runs' start times and
statuses, a page at a time."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from inspector.activity import RunActivity, activity_from_times
from inspector.errors import QueryCancelled
from inspector.model import RunFilter, RunSort, RunSummary
from inspector.source import RunActivitySource, TraceSource

__all__ = ["runs_over_time"]

_PAGE = 5000


def runs_over_time(source: TraceSource, flt: RunFilter = RunFilter(), *, max_intervals: int = 120,
                   cancelled: Callable[[], bool] | None = None) -> RunActivity:
    """Runs started per interval of the filter's time span, and how many of them failed
    (worker side). Orphan run ids (steps without a run row) have no start time and are not counted."""
    if isinstance(source, RunActivitySource):
        return source.run_activity(flt, max_intervals)

    def runs() -> Iterator[RunSummary]:
        offset = 0
        while True:
            if cancelled is not None and cancelled():
                raise QueryCancelled("Counting runs over time was cancelled")
            page = source.list_runs(flt, RunSort.STARTED_AT, False, offset, _PAGE, with_aggregates=False)
            yield from (r for r in page if not r.orphan)
            if len(page) < _PAGE:
                return
            offset += len(page)

    listed = list(runs())
    return activity_from_times([r.started_at for r in listed], [r.status for r in listed], max_intervals)
