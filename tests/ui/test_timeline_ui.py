"""The step timeline: columns read on a worker, level of detail, and chart ↔ tree selection."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from inspector.model import StepRow, StepStatus
from inspector.timeline import STATUS_CODES, bucket, columns_from_rows
from tests.ui.dbs import BIG_RUN, BIG_RUN_STEPS
from tests.ui.test_main_window import WAIT, open_and_wait, select_run
from ui.qt.models.steps import STEP_ROLE


def _row(i, ts, dur, status="success", retries=0):
    return StepRow(None, "r", i, "x", status, None, None, 0.5, dur, retries, ts)


def test_columns_fill_gaps_and_order_by_step():
    rows = [_row(0, "2026-01-01T00:00:00+00:00", 10.0), _row(1, None, 5.0, "failed"),
            _row(2, "2026-01-01T00:00:01+00:00", float("nan"), "retry", 2), _row(3, "garbage", -4.0)]
    cols = columns_from_rows([rows[:2], rows[2:]])
    assert list(cols.index) == [0, 1, 2, 3]
    assert list(cols.start) == [0.0, 10.0, 1000.0, 1000.0]  # no timestamp: starts where the last ended
    assert list(cols.duration) == [10.0, 5.0, 0.0, 0.0]
    assert cols.status[1] == STATUS_CODES[StepStatus.FAILURE] and cols.retries[2] == 2
    assert cols.position_of(2) == 2 and cols.position_of(9) is None


def test_buckets_keep_the_worst_status_and_never_exceed_the_pixels():
    n = 100_000
    rows = [_row(i, None, 1.0, "failed" if i == 50_123 else "success") for i in range(n)]
    cols = columns_from_rows([rows])
    b = bucket(cols, 0, n, 700)
    assert len(b) <= 700 and int(b.count.sum()) == n
    hit = int(np.flatnonzero(b.status == STATUS_CODES[StepStatus.FAILURE])[0])
    assert b.first[hit] <= 50_123 <= b.last[hit]
    assert b.left[0] == 0.0 and b.right[-1] == float(n)
    zoom = bucket(cols, 10, 20, 700)
    assert list(zoom.first) == list(range(10, 21)) and (zoom.count == 1).all()
    # Latency and cost per bucket: the longest step, the costliest step.
    rows = [StepRow(None, "r", i, "x", "success", None, None, float(i), float(i % 7), 0, None) for i in range(1000)]
    cols = columns_from_rows([rows])
    b = bucket(cols, 0, 1000, 10)
    assert list(b.max_duration) == [6.0] * 10 and list(b.cost) == [float(99 + 100 * k) for k in range(10)]
    assert len(bucket(cols, 200_000, 300_000, 700)) == 0


@pytest.mark.gui
def test_the_timeline_follows_the_run_and_the_tree(qtbot, make_window, small_db, tmp_path):
    w = make_window()
    open_and_wait(qtbot, w, small_db)
    select_run(qtbot, w, BIG_RUN)
    panel = w.timeline_panel
    panel.show_run(w.current_run())
    qtbot.waitUntil(lambda: panel.chart.cols is not None and len(panel.chart.cols) == BIG_RUN_STEPS, timeout=WAIT)
    assert f"{BIG_RUN_STEPS:,} steps" in panel.title.text()
    # Latency and cost share the timeline's step axis.
    panel.chart.getViewBox().setRange(yRange=(5, 25), padding=0)
    for plot in (panel.latency, panel.cost):
        (_x0, _x1), (y0, y1) = plot.getViewBox().viewRange()
        assert (round(y0), round(y1)) == (5, 25) and plot.bars.cols is panel.chart.cols
    # A click on a bar chooses its step in the tree (loaded rows) and the detail shows it.
    with qtbot.waitSignal(panel.chart.step_clicked, timeout=WAIT) as sig:
        panel.chart.step_clicked.emit(3)
    assert sig.args == [3]
    qtbot.waitUntil(lambda: w.detail.kind == "step" and "Step 3 " in w.detail.title.text(), timeout=WAIT)
    # The tree chooses a step: the chart brings it into view.
    panel.chart.getViewBox().setRange(yRange=(0, 20), padding=0)
    model = w.steps_model
    ix = model.index(10, 0)
    w.steps_view.setCurrentIndex(ix)
    row = panel.chart.cols.position_of(model.data(ix, STEP_ROLE)[1].step_index)

    def in_view() -> bool:
        (_x0, _x1), (y0, y1) = panel.chart.getViewBox().viewRange()
        return y0 <= row <= y1

    qtbot.waitUntil(in_view, timeout=WAIT)  # once the moves settle
    # A bar far down the run: its row is chosen (read when shown) and its detail read.
    panel.chart.step_clicked.emit(BIG_RUN_STEPS - 5)
    assert w.steps_view.current_step_index() == BIG_RUN_STEPS - 5
    qtbot.waitUntil(lambda: f"Step {BIG_RUN_STEPS - 5} " in w.detail.title.text(), timeout=WAIT)
    assert panel.chart.export_png(str(tmp_path / "timeline.png"))
    assert (tmp_path / "timeline.png").read_bytes().startswith(b"\x89PNG")


def _same(a, b) -> None:
    for name in ("index", "start", "duration", "status", "retries", "cost"):
        assert np.array_equal(getattr(a, name), getattr(b, name), equal_nan=True), name
    assert a.origin == b.origin


def _pages(source, key):
    from inspector.services.timeline import _PAGE
    from inspector.source import step_pages

    return step_pages(source, key, _PAGE)


def test_the_column_read_equals_the_rows_on_sqlite(small_db):
    from drivers import open_source
    from inspector.source import StepColumnsSource
    from inspector.timeline import columns_from_raw

    src = open_source(small_db)
    try:
        assert isinstance(src, StepColumnsSource)
        _same(columns_from_raw(*src.step_columns(BIG_RUN)), columns_from_rows(_pages(src, BIG_RUN)))
    finally:
        src.close()


def test_the_column_read_equals_the_rows_on_postgres(pg_url):
    from drivers import open_source
    from inspector.timeline import columns_from_raw
    from tests.pgutil import TraceBuilder

    b = TraceBuilder(pg_url)
    try:
        b.trace("run-t", statuses=("succeeded", "failed", "skipped", "weird") * 5)
    finally:
        b.close()
    src = open_source(pg_url)
    try:
        cols = columns_from_raw(*src.step_columns("run-t"))
        _same(cols, columns_from_rows(_pages(src, "run-t")))
        assert list(cols.status[:4]) == [STATUS_CODES[StepStatus.SUCCESS], STATUS_CODES[StepStatus.FAILURE],
                                         STATUS_CODES[StepStatus.SKIPPED], STATUS_CODES[StepStatus.UNKNOWN]]
    finally:
        src.close()


def test_odd_stored_values_in_the_columns():
    from datetime import UTC, datetime

    from inspector.timeline import columns_from_raw

    cols = columns_from_raw([0, 1, 2, "x"], ["2026-01-01T00:00:00+00:00", datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC),
                                             "2026-01-01T02:00:00+02:00", b"\xff"],
                            [1.0, "abc", float("inf"), None], [b"bytes", None, "success", ["x"]],
                            [1, -5, 2**40, "3"], [float("nan"), 1, "2", None])
    assert list(cols.index) == [0, 1, 2, -1]
    assert list(cols.start[:3]) == [0.0, 1000.0, 0.0]  # +02:00 read as its instant
    assert list(cols.duration) == [1.0, 0.0, 0.0, 0.0]
    assert list(cols.retries) == [1, 0, 0, 0] and list(cols.cost) == [0.0, 1.0, 2.0, 0.0]
    assert cols.status[3] == STATUS_CODES[StepStatus.UNKNOWN]


def test_overview_strides():
    from ui.qt.panels.timeline import OVERVIEW_ABOVE, overview_stride

    assert overview_stride(0) == overview_stride(OVERVIEW_ABOVE) == 1
    assert overview_stride(100_000) == 50 and overview_stride(1_000_000) == 500 and overview_stride(100_001) == 51


def test_sqlite_reads_an_overview_of_the_steps(small_db):
    from drivers import open_source

    src = open_source(str(small_db))
    try:
        index, *_rest = src.step_columns(BIG_RUN, 100)
        assert list(index) == list(range(0, BIG_RUN_STEPS, 100))
        assert len(src.step_columns(BIG_RUN)[0]) == BIG_RUN_STEPS
    finally:
        src.close()


@pytest.mark.gui
def test_a_long_run_shows_an_overview_first_then_every_step(qtbot, make_window, small_db, monkeypatch):
    import ui.qt.panels.timeline as timeline

    monkeypatch.setattr(timeline, "OVERVIEW_ABOVE", 100)
    monkeypatch.setattr(timeline, "OVERVIEW_ROWS", 100)
    w = make_window()
    open_and_wait(qtbot, w, small_db)
    select_run(qtbot, w, BIG_RUN)
    panel = w.timeline_panel
    stride = -(-BIG_RUN_STEPS // 100)
    seen = []

    def at_overview(_key):
        chart = panel.chart
        vb = chart.getViewBox()
        scene = vb.mapViewToScene(QPointF(1.0, 5 * stride + 0.5))
        row = chart.row_at(scene)
        seen.append((chart.stride, len(chart.cols), int(chart.cols.index[row]), panel.title.text(),
                     chart.bars.boundingRect().height()))

    panel.overview_shown.connect(at_overview)
    panel.show_run(w.current_run())
    qtbot.waitUntil(lambda: panel.chart.cols is not None and len(panel.chart.cols) == BIG_RUN_STEPS, timeout=WAIT)
    ((got_stride, rows, step, title, height),) = seen
    assert got_stride == stride and rows == -(-BIG_RUN_STEPS // stride)
    assert step == 5 * stride  # a row of the overview is the step it samples
    assert "overview" in title and f"one in {stride}" in title
    assert height == rows * stride  # the axis still counts steps
    assert panel.chart.stride == 1 and f"{BIG_RUN_STEPS:,} steps" in panel.title.text()


def test_a_run_read_in_chunks_equals_one_read(small_db, tmp_path):
    import sqlite3

    from drivers import open_source
    from inspector.services.timeline import read_step_columns
    from inspector.timeline import columns_from_raw

    src = open_source(small_db)
    try:
        whole = columns_from_raw(*src.step_columns(BIG_RUN))
        for chunk in (1, 7, 100, BIG_RUN_STEPS - 1, BIG_RUN_STEPS, BIG_RUN_STEPS + 1):
            _same(read_step_columns(src, BIG_RUN, chunk=chunk), whole)
        calls = []
        with pytest.raises(Exception, match="cancelled"):
            read_step_columns(src, BIG_RUN, chunk=100, cancelled=lambda: calls.append(1) or len(calls) > 3)
    finally:
        src.close()
    # A foreign writer's text, NULL and repeated step_index (a schema without constraints): a run
    # the keyset cannot page through is read in one go; text sorts after the numbers.
    odd = tmp_path / "odd.db"
    conn = sqlite3.connect(odd)
    with conn:
        conn.executescript(
            "CREATE TABLE traces (run_id TEXT PRIMARY KEY, correlation_id TEXT, tenant_id TEXT, agent_id TEXT,"
            " plan TEXT, started_at TEXT, completed_at TEXT, status TEXT);"
            "CREATE TABLE trace_steps (id INTEGER PRIMARY KEY, run_id TEXT, step_index, skill_name TEXT,"
            " params TEXT, status TEXT, cost_cents REAL, duration_ms REAL, timestamp TEXT, retry_count INTEGER);"
            "INSERT INTO traces VALUES ('a', 'c', 't', NULL, '[]', '2026-01-01T00:00:00+00:00', NULL, 'completed');"
            "INSERT INTO traces VALUES ('b', 'c', 't', NULL, '[]', '2026-01-01T00:00:00+00:00', NULL, 'completed');"
            "INSERT INTO traces VALUES ('c', 'c', 't', NULL, '[]', '2026-01-01T00:00:00+00:00', NULL, 'completed');")
        # c: step 100 written twice, astride the first chunk's edge (no unique index to stop it).
        for run, odd_index in (("a", None), ("b", "x"), ("c", 100)):
            conn.executemany("INSERT INTO trace_steps (run_id, step_index, skill_name, params, status, cost_cents,"
                             " duration_ms, timestamp, retry_count) VALUES (?, ?, 's', '{}', 'success', 1, 2, NULL, 0)",
                             [(run, odd_index if i == 50 else i) for i in range(300)])
    conn.close()
    src = open_source(odd)
    try:
        for run in ("a", "b", "c"):
            whole = columns_from_raw(*src.step_columns(run))
            assert len(whole) == 300
            _same(read_step_columns(src, run, chunk=100), whole)
    finally:
        src.close()


def test_a_run_read_in_chunks_on_postgres(pg_url):
    from drivers import open_source
    from inspector.services.timeline import read_step_columns
    from inspector.timeline import columns_from_raw
    from tests.pgutil import TraceBuilder

    b = TraceBuilder(pg_url)
    try:
        b.trace("run-c", statuses=("succeeded", "failed", "skipped") * 30)
    finally:
        b.close()
    src = open_source(pg_url)
    try:
        whole = columns_from_raw(*src.step_columns("run-c"))
        _same(read_step_columns(src, "run-c", chunk=7), whole)
        overview = read_step_columns(src, "run-c", every=10)
        assert list(overview.index) == list(range(0, 90, 10))
    finally:
        src.close()
