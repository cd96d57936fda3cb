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

    db = tmp_path / "traces.db"
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
    assert w.runs_model.run_filter.run_ids == frozenset(BAD)
    assert w.filters.with_findings.text() == "With findings"
    # Another filter is swept again (the runs checked already are not checked twice).
    w.filters.tenant.setCurrentIndex(w.filters.tenant.findText("tenant-1"))
    qtbot.waitUntil(lambda: _shown(w) == ["bad-1"], timeout=WAIT)
    _checked(qtbot, w)
    # Unticked: the tenant's runs, all of them.
    w.filters.with_findings.setChecked(False)
    qtbot.waitUntil(lambda: len(_shown(w)) == RUNS // 2, timeout=WAIT)
    assert w.runs_model.run_filter.run_ids is None


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
