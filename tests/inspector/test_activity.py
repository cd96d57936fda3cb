"""Runs over time, pure: round interval widths, interval plans that cover the span, counting from
start times (odd ones are undated, never a crash)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

from inspector.activity import (
    INTERVALS,
    RunActivity,
    activity_from_times,
    interval_width,
    iso_utc,
    plan_intervals,
)
from ui.format import fmt_interval

T0 = datetime(2026, 11, 29, 5, 0, 0, tzinfo=UTC)


def test_interval_width_is_the_narrowest_round_one():
    assert interval_width(0, 100) == 1
    assert interval_width(100, 100) == 1
    assert interval_width(101, 100) == 2
    assert interval_width(3600, 60) == 60
    assert interval_width(3601, 60) == 120
    assert interval_width(86400 * 28, 120) == 21600
    assert interval_width(86400 * 365 * 100, 10) == 30 * 86400 * 122  # whole months beyond a month
    assert interval_width(float("nan"), 10) == 1
    assert interval_width(float("inf"), 10) == 1


@given(st.floats(-1e10, 1e10), st.floats(0, 1e10), st.integers(1, 1000))
@example(-5e-324, 200.0, 100)  # first / width underflowed to -0.0: the first interval began after it
def test_a_plan_covers_the_span_with_aligned_round_intervals(first, span, most):
    start, width, count = plan_intervals(first, first + span, most)
    assert start <= first < start + width
    assert start + count * width > first + span
    # Aligned on the width, unless no aligned start fits (then one interval from the first run).
    assert start % width == 0 or (count == 1 and start == first)
    assert width in INTERVALS or width % INTERVALS[-1] == 0
    assert count <= most


def test_a_span_straddling_every_multiple_still_gets_its_one_interval():
    # 0 is a multiple of every width: no aligned interval holds both -5 and 5.
    assert plan_intervals(-5, 5, 1) == (-5.0, 30, 1)
    assert plan_intervals(0, 3 * 86400, 3) == (0.0, 2 * 86400, 2)


def test_even_absurd_spans_are_planned():
    # Beyond a month the width doubles: a loop stepping a month at a time never ended on these.
    for first, last in ((-1e300, 1e300), (-62135596800.0, 253402300799.0), (0.0, 1e15)):
        start, width, count = plan_intervals(first, last, 1)
        assert count == 1 and start <= first and start + width > last


def test_counts_runs_and_failures_per_interval():
    stamps = [(T0 + timedelta(minutes=m)).isoformat() for m in (0, 1, 1, 30, 59)]
    statuses = ["completed", "FAILED", "timeout", "running", "aborted"]
    act = activity_from_times(stamps, statuses, max_intervals=6)
    assert act.width == 600
    assert act.start == T0.timestamp()
    assert act.runs.tolist() == [3, 0, 0, 1, 0, 1]
    assert act.failures.tolist() == [2, 0, 0, 0, 0, 1]
    assert (act.total, act.total_failures, act.undated) == (5, 3, 0)
    assert iso_utc(act.edges()[1]) == "2026-11-29T05:10:00+00:00"
    assert iso_utc(act.end) == "2026-11-29T06:00:00+00:00"


def test_sqlite_and_python_timestamps_and_offsets_are_the_same_instant():
    act = activity_from_times(["2026-11-29 05:00:00", "2026-11-29T05:00:00Z", "2026-11-29T07:00:00+02:00"],
                              ["completed"] * 3)
    assert act.runs.tolist() == [3]


def test_odd_start_times_are_undated_not_errors():
    act = activity_from_times([None, b"\xff", 12.5, "", "garbage", "\ud800", T0.isoformat()],
                              [None, b"x", 3, "failed", float("nan"), "\ud800", None])
    assert (act.total, act.undated, act.total_failures) == (1, 6, 0)


def test_nothing_dated_is_empty():
    act = activity_from_times([None, "x"], ["failed", "failed"])
    assert (len(act), act.total, act.undated) == (0, 0, 2)
    assert act.edges().tolist() == [0.0]


def test_from_counts_clamps_rows_on_the_last_edge():
    act = RunActivity.from_counts(0.0, 10, 3, [(0, 2, 1), (3, 1, None), (-1, 1, 0)])
    assert act.runs.tolist() == [3, 0, 1]
    assert act.failures.tolist() == [1, 0, 0]


def test_iso_bounds_stay_in_the_calendar():
    assert iso_utc(-1e20).startswith("0001-01-02")
    assert iso_utc(1e20).startswith("9999-12-30")


@given(st.lists(st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(9000, 1, 1),
                             timezones=st.just(UTC)), max_size=60), st.integers(1, 200))
def test_every_dated_run_lands_in_the_interval_holding_it(times, most):
    statuses = ["failed" if i % 3 == 0 else "completed" for i in range(len(times))]
    act = activity_from_times([t.isoformat() for t in times], statuses, most)
    assert act.total == len(times)
    assert act.total_failures == sum(s == "failed" for s in statuses)
    edges = act.edges()
    for t in times:
        i = int(np.searchsorted(edges, t.timestamp(), side="right")) - 1
        assert 0 <= i < len(act) and act.runs[i] > 0


def test_interval_widths_read_well():
    assert [fmt_interval(w) for w in (1, 30, 60, 900, 3600, 10800, 86400, 7 * 86400)] == [
        "1 s", "30 s", "1 min", "15 min", "1 h", "3 h", "1 day", "7 days"]
