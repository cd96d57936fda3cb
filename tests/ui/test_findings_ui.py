"""The runs list's Findings column and its "With findings" filter: each shown run's panels checked
on the checking worker, every run of the filter swept when asked, the list narrowed to the runs
with findings, checked again after a refresh."""

from __future__ import annotations

import sqlite3
from datetime import datetime

import pytest

from tests.ui.test_main_window import WAIT, idle, open_and_wait
from ui.qt.models.findings import BLOCK
from ui.qt.models.runs import column_of

pytestmark = pytest.mark.gui

BAD = ("bad-0", "bad-1", "bad-2")
RUNS = 40


@pytest.fixture
def findings_db(tmp_path):
    """40 runs over two tenants; three of them completed without a completion time (INS-005)."""
    from drivers.sqlite_writer import SQLiteTraceWriter, StepInput

    db = tmp_path / "findings.db"
    names = list(BAD) + [f"ok-{i:02d}" for i in range(RUNS - len(BAD))]
    with SQLiteTraceWriter(db, clock=lambda: datetime(2026, 11, 1, 12, 0)) as w:
        for i, rid in enumerate(names):
            w.start_trace(rid, "c", f"tenant-{i % 2}", "a", [{"skill": "x"}])
            w.record_steps([StepInput(rid, k, "x", {}, "success", "SUCCESS", None, None, 0.5, 10.0) for k in range(2)])
            w.complete_trace(rid, "completed")
        w.execute_raw("UPDATE traces SET completed_at = NULL WHERE run_id LIKE 'bad-%'", ())
    return db


def _checked(qtbot, w):
    qtbot.waitUntil(lambda: not w.runs_model.findings.pending, timeout=WAIT)
    idle(qtbot, w)


def _cell(w, run_id, role=None):
    from PySide6.QtCore import Qt

    m = w.runs_model
    row = m.row_of(run_id)
    return m.index(row, column_of("findings")).data(role or Qt.ItemDataRole.DisplayRole)


def _shown(w):
    m = w.runs_model
    return sorted(m.run_at(r).run_id for r in range(m.rowCount()) if m.run_at(r) is not None)


def test_the_findings_column_checks_the_runs_shown(qtbot, make_window, findings_db):
    from PySide6.QtCore import Qt

    w = make_window()
    open_and_wait(qtbot, w, findings_db)
    _checked(qtbot, w)
    assert RUNS > BLOCK  # more than one block of checks
    for rid in BAD:
        assert _cell(w, rid) == "1"
        assert "INS-005" in _cell(w, rid, Qt.ItemDataRole.ToolTipRole)
    assert _cell(w, "ok-05") == "✓"
    assert "agree" in _cell(w, "ok-05", Qt.ItemDataRole.ToolTipRole)
    # The Consistency dock agrees with the column.
    w.select_run("bad-1")
    panel = w.consistency_panel
    run = w.current_run()
    panel.show_run(run.key, run.run_id)
    qtbot.waitUntil(lambda: panel.current is not None and panel.current.run_id == "bad-1", timeout=WAIT)
    assert [v.rule_id for v in panel.current.result.violations] == ["INS-005"]


def test_with_findings_sweeps_the_filter_and_narrows_the_list(qtbot, make_window, findings_db):
    w = make_window()
    open_and_wait(qtbot, w, findings_db)
    _checked(qtbot, w)
    progress = []
    w.runs_model.findings.sweep_progress.connect(lambda done, total: progress.append((done, total)))
    with qtbot.waitSignal(w.runs_model.findings.swept, timeout=WAIT):
        w.filters.with_findings.setChecked(True)
    idle(qtbot, w)
    assert progress[-1] == (RUNS, RUNS)
    qtbot.waitUntil(lambda: _shown(w) == list(BAD), timeout=WAIT)
    assert w.runs_model.run_filter.keys == frozenset(BAD)
    assert w.filters.with_findings.text() == "With findings"
    # Another filter is swept again (the runs checked already are not checked twice).
    w.filters.tenant.setCurrentIndex(w.filters.tenant.findText("tenant-1"))
    qtbot.waitUntil(lambda: _shown(w) == ["bad-1"], timeout=WAIT)
    _checked(qtbot, w)
    # Unticked: the tenant's runs, all of them.
    w.filters.with_findings.setChecked(False)
    qtbot.waitUntil(lambda: len(_shown(w)) == RUNS // 2, timeout=WAIT)
    assert w.runs_model.run_filter.keys is None


def test_a_refresh_checks_again(qtbot, make_window, findings_db):
    w = make_window()
    open_and_wait(qtbot, w, findings_db)
    w.filters.with_findings.setChecked(True)
    qtbot.waitUntil(lambda: _shown(w) == list(BAD), timeout=WAIT)
    _checked(qtbot, w)
    conn = sqlite3.connect(findings_db)  # a writer completes one of them properly
    with conn:
        conn.execute("UPDATE traces SET completed_at = started_at WHERE run_id = 'bad-0'")
    conn.close()
    w.refresh()
    qtbot.waitUntil(lambda: _shown(w) == ["bad-1", "bad-2"], timeout=WAIT)
    _checked(qtbot, w)
    assert _cell(w, "bad-1") == "1"
    w.filters.clear()
    qtbot.waitUntil(lambda: len(_shown(w)) == RUNS, timeout=WAIT)
    _checked(qtbot, w)
    assert _cell(w, "bad-0") == "✓"
    assert not w.filters.with_findings.isChecked()


@pytest.fixture
def two_pages_db(tmp_path):
    """2,000 runs (ten pages of the list), every tenth completed without a completion time."""
    from drivers.sqlite_writer import SQLiteTraceWriter, StepInput

    db = tmp_path / "pages.db"
    with SQLiteTraceWriter(db, clock=lambda: datetime(2026, 11, 1, 12, 0)) as w, w.bulk():
        for i in range(2000):
            rid = f"r{i:04d}"
            w.start_trace(rid, "c", "t", "a", [{"skill": "x"}])
            w.record_steps([StepInput(rid, 0, "x", {}, "success", "SUCCESS", None, None, 0.5, 10.0)])
            w.complete_trace(rid, "completed")
        w.execute_raw("UPDATE traces SET completed_at = NULL WHERE CAST(substr(run_id, 2) AS INTEGER) % 10 = 0", ())
    return db


def test_rows_shown_while_a_sweep_runs_are_checked_even_if_it_is_cancelled(qtbot, make_window, two_pages_db):
    w = make_window()
    open_and_wait(qtbot, w, two_pages_db)
    _checked(qtbot, w)
    m = w.runs_model
    progress = []
    m.findings.sweep_progress.connect(lambda done, total: progress.append((done, total)))
    w.filters.with_findings.setChecked(True)  # the sweep lists and queues every run...
    qtbot.waitUntil(lambda: progress and progress[-1][1] == 2000, timeout=WAIT)
    # ...then the list shows its second page (r1799…r1600, late in the sweep's run-id order)...
    m.run_at(210)
    qtbot.waitUntil(lambda: m.run_at(210, request=False) is not None, timeout=WAIT)
    assert progress[-1][0] < 1600  # (the sweep has not reached them)
    w.filters.with_findings.setChecked(False)  # ...and the sweep is cancelled
    _checked(qtbot, w)
    page = [m.run_at(r, request=False) for r in range(200, 400)]
    assert all(run is not None and m.findings.of(run.key) is not None for run in page)
    assert sorted(run.run_id for run in page if m.findings.of(run.key).count) == [f"r{i:04d}" for i in range(1600, 1800, 10)]


def test_another_source_is_not_checked_with_the_last_ones_runs(qtbot, make_window, findings_db, small_db):
    w = make_window()
    open_and_wait(qtbot, w, findings_db)
    _checked(qtbot, w)
    assert w.runs_model.findings.of("bad-0") is not None
    w.open_location(str(small_db))
    qtbot.waitUntil(lambda: w.source is not None and w.source.info.location == str(small_db)
                    and w.runs_model.rowCount() > 0, timeout=WAIT)
    idle(qtbot, w)
    _checked(qtbot, w)
    f = w.runs_model.findings
    assert f.of("bad-0") is None and f.of("ok-05") is None  # not looked for in small_db
    shown = [w.runs_model.run_at(r, request=False) for r in range(w.runs_model.rowCount())]
    assert all(f.of(run.key) is not None and f.of(run.key).error is None for run in shown if run is not None)


def test_a_run_whose_check_times_out_is_marked_and_the_sweep_ends(qtbot, make_window, findings_db, monkeypatch):
    from PySide6.QtCore import Qt

    import ui.qt.models.findings as findings
    from inspector.errors import QueryCancelled

    real = findings.check_run

    def check_run(source, key, **kwargs):
        if key == "bad-1":
            raise QueryCancelled("canceling statement due to statement timeout")
        return real(source, key, **kwargs)

    monkeypatch.setattr(findings, "check_run", check_run)
    w = make_window()
    open_and_wait(qtbot, w, findings_db)
    with qtbot.waitSignal(w.runs_model.findings.swept, timeout=WAIT):
        w.filters.with_findings.setChecked(True)
    qtbot.waitUntil(lambda: _shown(w) == ["bad-0", "bad-2"], timeout=WAIT)  # not known to have findings
    w.filters.with_findings.setChecked(False)
    qtbot.waitUntil(lambda: len(_shown(w)) == RUNS, timeout=WAIT)
    _checked(qtbot, w)
    assert _cell(w, "bad-1") == "?" and "statement timeout" in _cell(w, "bad-1", Qt.ItemDataRole.ToolTipRole)
    assert w.filters.with_findings.text() == "With findings"


def test_a_sweep_that_ends_at_once_narrows_the_list(qtbot, make_window, findings_db):
    # Synchronous workers: the sweep ends inside the call that starts it.
    w = make_window(sync=True)
    w.open_location(str(findings_db))
    qtbot.waitUntil(lambda: w.source is not None and w.runs_model.rowCount() > 0, timeout=WAIT)
    w.filters.with_findings.setChecked(True)
    qtbot.waitUntil(lambda: w.runs_model.run_filter.keys is not None, timeout=WAIT)
    assert _shown(w) == list(BAD)
