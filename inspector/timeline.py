"""A run's steps as columns (numpy arrays, not Python objects per step) and their level-of-detail
reduction for the step timeline: however many steps are in view, the chart draws at most one bar
per pixel row (earliest start, latest end, worst status of the steps that row stands for).

Pure: no Qt, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from inspector.model import StepRow, StepStatus, parse_timestamp, to_float

__all__ = ["STATUS_CODES", "Buckets", "StepColumns", "bucket", "columns_from_rows"]

#: Status codes in the columns, worst last (a bucket shows the worst status it holds).
STATUS_CODES = {StepStatus.SUCCESS: 0, StepStatus.SKIPPED: 1, StepStatus.UNKNOWN: 2, StepStatus.RETRY: 3,
                StepStatus.FAILURE: 4}


@dataclass(frozen=True, slots=True)
class StepColumns:
    """One run's steps in step_index order: ``start`` (ms after the run's first stamped step; a
    step without a usable timestamp starts where the one before ended), ``duration`` (ms, ≥ 0),
    ``status`` (``STATUS_CODES``), ``retries``, ``cost`` (cents), ``index`` (step_index)."""

    index: np.ndarray
    start: np.ndarray
    duration: np.ndarray
    status: np.ndarray
    retries: np.ndarray
    cost: np.ndarray
    origin: datetime | None = None

    def __len__(self) -> int:
        return len(self.index)

    @property
    def end(self) -> np.ndarray:
        return self.start + self.duration

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.index, self.start, self.duration, self.status, self.retries, self.cost))

    def position_of(self, step_index: int) -> int | None:
        """The row of a step_index (None when the run has no such step)."""
        pos = int(np.searchsorted(self.index, step_index))
        return pos if pos < len(self.index) and self.index[pos] == step_index else None


def _finite(v: object) -> float:
    f = to_float(v)
    return f if np.isfinite(f) else 0.0


def columns_from_rows(pages: Iterable[Iterable[StepRow]]) -> StepColumns:
    """Columns from pages of step rows (each page turned into arrays at once: memory holds arrays,
    not a million row objects)."""
    idx_parts, ts_parts, dur_parts, st_parts, rt_parts, cost_parts = [], [], [], [], [], []
    for page in pages:
        rows = list(page)
        if not rows:
            continue
        idx_parts.append(np.fromiter((r.step_index for r in rows), dtype=np.int64, count=len(rows)))
        stamps = []
        for r in rows:
            dt = parse_timestamp(r.timestamp) if isinstance(r.timestamp, str) else None
            try:
                stamps.append(dt.timestamp() * 1000.0 if dt is not None else np.nan)
            except (OverflowError, ValueError, OSError):
                stamps.append(np.nan)
        ts_parts.append(np.asarray(stamps, dtype=np.float64))
        dur_parts.append(np.fromiter((max(0.0, _finite(r.duration_ms)) for r in rows), dtype=np.float64, count=len(rows)))
        st_parts.append(np.fromiter((STATUS_CODES[r.status] for r in rows), dtype=np.int8, count=len(rows)))
        rt_parts.append(np.fromiter((r.retry_count if isinstance(r.retry_count, int) and 0 <= r.retry_count < 2**31
                                     else 0 for r in rows), dtype=np.int32, count=len(rows)))
        cost_parts.append(np.fromiter((_finite(r.cost_cents) for r in rows), dtype=np.float64, count=len(rows)))

    def cat(parts: list[np.ndarray], dtype) -> np.ndarray:
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

    index = cat(idx_parts, np.int64)
    stamps = cat(ts_parts, np.float64)
    duration = cat(dur_parts, np.float64)
    known = np.isfinite(stamps)
    origin_ms = float(stamps[known].min()) if known.any() else 0.0
    start = np.where(known, stamps - origin_ms, np.nan)
    # A step without a timestamp starts where the one before it ended.
    if not known.all():
        prev_end = 0.0
        for i in np.flatnonzero(~known):
            j = i - 1
            prev_end = (start[j] + duration[j]) if i > 0 and np.isfinite(start[j]) else prev_end
            start[i] = prev_end
    origin = datetime.fromtimestamp(origin_ms / 1000.0).astimezone() if known.any() else None
    return StepColumns(index, start, duration, cat(st_parts, np.int8), cat(rt_parts, np.int32),
                       cat(cost_parts, np.float64), origin)


@dataclass(frozen=True, slots=True)
class Buckets:
    """What to draw: one bar per bucket of consecutive rows ``[first, last]``: ``left``/``right``
    in ms, the worst ``status``, how many steps (``count``) and retries it holds."""

    first: np.ndarray
    last: np.ndarray
    left: np.ndarray
    right: np.ndarray
    status: np.ndarray
    count: np.ndarray
    retries: np.ndarray

    def __len__(self) -> int:
        return len(self.first)


def bucket(cols: StepColumns, row0: float, row1: float, pixels: int) -> Buckets:
    """The rows in view ``[row0, row1]`` reduced to at most ``pixels`` buckets (one per pixel
    row): cost grows with the rows in view, never with a Python object per step."""
    n = len(cols)
    lo = max(0, int(np.floor(row0)))
    hi = min(n, int(np.ceil(row1)) + 1)
    if hi <= lo or pixels <= 0:
        empty = np.zeros(0, dtype=np.int64)
        return Buckets(empty, empty, np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int8), empty, empty)
    span = hi - lo
    if span <= pixels:
        rows = np.arange(lo, hi)
        return Buckets(rows, rows, cols.start[lo:hi], cols.start[lo:hi] + cols.duration[lo:hi],
                       cols.status[lo:hi], np.ones(span, dtype=np.int64), cols.retries[lo:hi].astype(np.int64))
    edges = np.unique(np.linspace(lo, hi, pixels + 1).astype(np.int64))
    starts = edges[:-1]
    start = cols.start[lo:hi]
    end = start + cols.duration[lo:hi]
    offs = starts - lo
    return Buckets(starts, edges[1:] - 1, np.minimum.reduceat(start, offs), np.maximum.reduceat(end, offs),
                   np.maximum.reduceat(cols.status[lo:hi], offs), np.diff(edges),
                   np.add.reduceat(cols.retries[lo:hi].astype(np.int64), offs))
