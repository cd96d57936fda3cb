"""Runs over time: how many runs started, and how many of them failed, per interval of a filter's
time span (the chart above the runs list). Intervals have a round width (a second … a month) so
their bounds read well as a filter. A source counts them in its own query
(:class:`RunActivitySource`); :func:`activity_from_times` counts the same from the runs' start
times and statuses for a source that cannot.

Pure: no Qt, no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from inspector.model import FAILED_RUN_STATUSES, parse_timestamp

__all__ = ["FAILED_RUN_STATUSES", "INTERVALS", "RunActivity", "activity_from_times", "interval_width",
           "iso_utc", "plan_intervals"]


#: Interval widths, seconds: round to read (1 s … 30 days).
INTERVALS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400,
             2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400)


def interval_width(span_s: float, max_intervals: int) -> int:
    """The narrowest round width that covers ``span_s`` seconds in at most ``max_intervals``."""
    if not math.isfinite(span_s) or span_s <= 0:
        return INTERVALS[0]
    need = span_s / max(1, max_intervals)
    for width in INTERVALS:
        if width >= need:
            return width
    # Beyond a month an interval: whole multiples of 30 days.
    return int(math.ceil(need / INTERVALS[-1])) * INTERVALS[-1]


def plan_intervals(first_s: float, last_s: float, max_intervals: int) -> tuple[float, int, int]:
    """(start, width, count): at most ``max_intervals`` intervals of a round width, aligned on it,
    covering first…last (finite)."""
    most = max(1, max_intervals)
    width = interval_width(last_s - first_s, most)
    while True:
        # Floor division, not floor(first / width): a tiny negative first (-5e-324) divided
        # underflows to -0.0 and would start the first interval after it.
        start = (first_s // width) * width
        count = int((last_s - start) // width) + 1
        if count <= most:
            return float(start), width, max(1, count)
        if width > 2 * (last_s - first_s) + 1:
            # No aligned start fits (the span straddles a multiple of every width, as 0 is one):
            # start at the first run instead.
            return float(first_s), width, 1
        # Aligning the start on the width added an interval: the next width.
        wider = [w for w in INTERVALS if w > width]
        width = wider[0] if wider else width * 2  # still whole months; a few steps however long the span


@dataclass(frozen=True, slots=True)
class RunActivity:
    """Runs started per interval: interval ``i`` spans ``start + i*width`` ≤ t < ``start +
    (i+1)*width`` (epoch seconds). ``undated``: runs of the filter without a usable start time."""

    start: float
    width: int
    runs: np.ndarray
    failures: np.ndarray
    undated: int = 0

    def __len__(self) -> int:
        return len(self.runs)

    @property
    def total(self) -> int:
        return int(self.runs.sum()) if len(self.runs) else 0

    @property
    def total_failures(self) -> int:
        return int(self.failures.sum()) if len(self.failures) else 0

    @property
    def end(self) -> float:
        return self.start + len(self.runs) * self.width

    def edges(self) -> np.ndarray:
        return self.start + np.arange(len(self.runs) + 1, dtype=np.float64) * self.width

    @classmethod
    def empty(cls, undated: int = 0) -> RunActivity:
        return cls(0.0, INTERVALS[0], np.zeros(0, np.int64), np.zeros(0, np.int64), undated)

    @classmethod
    def from_counts(cls, start: float, width: int, count: int, counted: Iterable[tuple[int, int, int]],
                    undated: int = 0) -> RunActivity:
        """From a query's rows (interval, runs, failures); intervals outside 0…count-1 are
        clamped into the ends (a start time exactly on the last edge)."""
        runs = np.zeros(count, np.int64)
        failures = np.zeros(count, np.int64)
        for i, n, f in counted:
            j = min(max(int(i), 0), count - 1)
            runs[j] += int(n or 0)
            failures[j] += int(f or 0)
        return cls(start, width, runs, failures, undated)


def activity_from_times(started: Iterable[object], statuses: Iterable[object],
                        max_intervals: int = 120) -> RunActivity:
    """Count runs per interval from their ``started_at`` values and statuses (what a source
    without its own query gives): the same intervals a source's query plans."""
    times: list[float] = []
    failed: list[bool] = []
    undated = 0
    for stamp, status in zip(started, statuses, strict=True):
        dt = parse_timestamp(stamp)
        if dt is None:
            undated += 1
            continue
        times.append(dt.timestamp())
        failed.append(isinstance(status, str) and status.lower() in FAILED_RUN_STATUSES)
    if not times:
        return RunActivity.empty(undated)
    t = np.asarray(times, dtype=np.float64)
    start, width, count = plan_intervals(float(t.min()), float(t.max()), max_intervals)
    slots = np.clip(((t - start) // width).astype(np.int64), 0, count - 1)
    runs = np.bincount(slots, minlength=count)
    failures = np.bincount(slots, weights=np.asarray(failed, dtype=np.float64), minlength=count).astype(np.int64)
    return RunActivity(start, width, runs, failures, undated)


def iso_utc(epoch_s: float) -> str:
    """An interval bound as the UTC ISO text the filter compares (``2026-11-29T05:00:00+00:00``)."""
    lo, hi = datetime(1, 1, 2, tzinfo=UTC).timestamp(), datetime(9999, 12, 30, tzinfo=UTC).timestamp()
    return datetime.fromtimestamp(min(max(epoch_s, lo), hi), UTC).isoformat()
