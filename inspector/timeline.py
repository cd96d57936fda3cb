"""A run's steps as columns (numpy arrays, not Python objects per step) and their level-of-detail
reduction for the step timeline: however many steps are in view, the chart draws at most one bar
per pixel row (earliest start, latest end, worst status of the steps that row stands for).

Pure: no Qt, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from inspector.model import StepRow, StepStatus, normalise_status, parse_timestamp, to_float

__all__ = ["STATUS_CODES", "Buckets", "ColumnsBuilder", "StepColumns", "bucket", "columns_from_raw",
           "columns_from_rows"]

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


def columns_from_rows(pages: Iterable[Iterable[StepRow]]) -> StepColumns:
    """Columns from pages of step rows (a source without a column read)."""
    cols: list[list[Any]] = [[], [], [], [], [], []]
    for page in pages:
        for r in page:
            cols[0].append(r.step_index)
            cols[1].append(r.timestamp)
            cols[2].append(r.duration_ms)
            cols[3].append(r.status_raw)
            cols[4].append(r.retry_count)
            cols[5].append(r.cost_cents)
    return columns_from_raw(*cols)


_UTC_SUFFIXES = ("+00:00", "Z")


def _epoch_ms(stamps: Sequence[Any]) -> np.ndarray:
    """Timestamps (ISO text as AOS writes it, or datetimes) as ms since the epoch, NaN where there
    is none. UTC text is parsed by numpy in one call; anything else one by one."""
    n = len(stamps)
    if n and all(type(t) is str for t in stamps):
        plain = []
        for t in stamps:
            body = t[:-6] if t.endswith("+00:00") else t[:-1] if t.endswith("Z") else None
            if body is None or not body[:4].isdigit():
                break
            plain.append(body)
        else:
            try:
                us = np.array(plain, dtype="datetime64[us]").astype(np.int64)
                return us.astype(np.float64) / 1000.0
            except (ValueError, OverflowError):
                pass
    out = np.empty(n, dtype=np.float64)
    for i, t in enumerate(stamps):
        dt = t if isinstance(t, datetime) else parse_timestamp(t) if isinstance(t, str) else None
        if dt is not None and dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
        try:
            out[i] = dt.timestamp() * 1000.0 if dt is not None else np.nan
        except (OverflowError, ValueError, OSError):
            out[i] = np.nan
    return out


def _floats(values: Sequence[Any]) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        arr = np.fromiter((to_float(v) for v in values), dtype=np.float64, count=len(values))
    return np.where(np.isfinite(arr), arr, 0.0)


class ColumnsBuilder:
    """Columns converted a chunk of rows at a time (a long run is read in chunks, so the rows of
    only one chunk are Python objects at once), put together by :meth:`build`."""

    def __init__(self) -> None:
        self._parts: list[tuple[np.ndarray, ...]] = []
        self._codes: dict[Any, int] = {}

    def __len__(self) -> int:
        return sum(len(p[0]) for p in self._parts)

    def add(self, index: Sequence[Any], timestamps: Sequence[Any], durations: Sequence[Any],
            statuses: Sequence[Any], retries: Sequence[Any], costs: Sequence[Any]) -> None:
        """The next rows, in step_index order, as the source read them."""
        n = len(index)
        idx = np.fromiter((i if type(i) is int else -1 for i in index), dtype=np.int64, count=n)
        stamps = _epoch_ms(timestamps)
        duration = np.maximum(_floats(durations), 0.0)
        codes = self._codes
        status = np.empty(n, dtype=np.int8)
        for i, raw in enumerate(statuses):
            try:
                code = codes[raw]
            except KeyError:
                code = codes[raw] = STATUS_CODES[normalise_status(raw)]
            except TypeError:  # an unhashable stored value
                code = STATUS_CODES[StepStatus.UNKNOWN]
            status[i] = code
        retry = np.fromiter((r if type(r) is int and 0 <= r < 2**31 else 0 for r in retries), dtype=np.int32,
                            count=n)
        self._parts.append((idx, stamps, duration, status, retry, _floats(costs)))

    def build(self) -> StepColumns:
        if self._parts:
            idx, stamps, duration, status, retry, cost = (np.concatenate(c) for c in zip(*self._parts, strict=True))
        else:
            idx, stamps, duration, cost = (np.zeros(0, t) for t in (np.int64, np.float64, np.float64, np.float64))
            status, retry = np.zeros(0, np.int8), np.zeros(0, np.int32)
        self._parts = []
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
        origin = datetime.fromtimestamp(origin_ms / 1000.0, tz=UTC) if known.any() else None
        return StepColumns(idx, start, duration, status, retry, cost, origin)


def columns_from_raw(index: Sequence[Any], timestamps: Sequence[Any], durations: Sequence[Any],
                     statuses: Sequence[Any], retries: Sequence[Any], costs: Sequence[Any]) -> StepColumns:
    """Columns from the stored values as a source reads them (in step_index order): whole columns
    converted at once, not a Python object per step."""
    builder = ColumnsBuilder()
    builder.add(index, timestamps, durations, statuses, retries, costs)
    return builder.build()


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
    #: The longest step's duration (ms) and the costliest step's cost (cents) in each bucket
    #: (maxima, so that the bars keep their scale whatever the zoom).
    max_duration: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cost: np.ndarray = field(default_factory=lambda: np.zeros(0))

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
        return Buckets(empty, empty, np.zeros(0), np.zeros(0), np.zeros(0, dtype=np.int8), empty, empty,
                       np.zeros(0), np.zeros(0))
    span = hi - lo
    if span <= pixels:
        rows = np.arange(lo, hi)
        return Buckets(rows, rows, cols.start[lo:hi], cols.start[lo:hi] + cols.duration[lo:hi],
                       cols.status[lo:hi], np.ones(span, dtype=np.int64), cols.retries[lo:hi].astype(np.int64),
                       cols.duration[lo:hi], cols.cost[lo:hi])
    edges = np.unique(np.linspace(lo, hi, pixels + 1).astype(np.int64))
    starts = edges[:-1]
    start = cols.start[lo:hi]
    end = start + cols.duration[lo:hi]
    offs = starts - lo
    return Buckets(starts, edges[1:] - 1, np.minimum.reduceat(start, offs), np.maximum.reduceat(end, offs),
                   np.maximum.reduceat(cols.status[lo:hi], offs), np.diff(edges),
                   np.add.reduceat(cols.retries[lo:hi].astype(np.int64), offs),
                   np.maximum.reduceat(cols.duration[lo:hi], offs), np.maximum.reduceat(cols.cost[lo:hi], offs))
