"""The Consistency dock: the selected run's panels checked against each other, findings listed,
a finding brings the panels it names forward."""

from __future__ import annotations

from datetime import datetime

import pytest

from inspector.consistency import Violation
from tests.ui.test_main_window import WAIT, open_and_wait, select_run
from ui.qt.models.records import RECORD_ROLE

pytestmark = pytest.mark.gui


@pytest.fixture
def odd_db(tmp_path):
    from drivers.sqlite_writer import SQLiteTraceWriter, StepInput

    db = tmp_path / "traces.db"
    with SQLiteTraceWriter(db, clock=lambda: datetime(2026, 11, 1, 12, 0)) as w:
        for rid in ("no-end", "fine"):
            w.start_trace(rid, "c", "t", "a", [{"skill": "x"}])
            w.record_steps([StepInput(rid, i, "x", {}, "success", "SUCCESS", None, None, 0.5, 10.0) for i in range(3)])
            w.complete_trace(rid, "completed")
        w.execute_raw("UPDATE traces SET completed_at = NULL WHERE run_id = 'no-end'", ())
    return db


def test_the_dock_lists_what_disagrees_and_follows_the_selection(qtbot, make_window, odd_db):
    w = make_window()
    open_and_wait(qtbot, w, odd_db)
    w.consistency_dock.show()
    select_run(qtbot, w, "no-end")
    panel = w.consistency_panel
    run = w.current_run()
    panel.show_run(run.key, run.run_id)  # what the dock does while shown (the test window is not)
    qtbot.waitUntil(lambda: panel.current is not None and panel.current.run_id == "no-end", timeout=WAIT)
    assert panel.model.rowCount() == 1
    finding = panel.model.data(panel.model.index(0, 0), RECORD_ROLE)
    assert isinstance(finding, Violation) and finding.rule_id == "INS-005"
    assert "1 finding" in panel.summary.text()
    with qtbot.waitSignal(panel.finding_chosen, timeout=WAIT) as sig:
        panel._chosen(panel.model.index(0, 1))
    assert sig.args == [finding, panel.current]
    select_run(qtbot, w, "fine")
    run = w.current_run()
    panel.show_run(run.key, run.run_id)
    qtbot.waitUntil(lambda: panel.current is not None and panel.current.run_id == "fine", timeout=WAIT)
    assert panel.model.rowCount() == 0 and "Consistent" in panel.summary.text()
    assert panel.view.isHidden()


@pytest.fixture
def early_db(tmp_path):
    """A run whose step 2 is stamped before the run started (INS-006)."""
    from drivers.sqlite_writer import SQLiteTraceWriter, StepInput

    db = tmp_path / "traces.db"
    with SQLiteTraceWriter(db, clock=lambda: datetime(2026, 11, 1, 12, 0)) as w:
        w.start_trace("early", "c", "t", "a", [{"skill": "x"}])
        w.record_steps([StepInput("early", i, "x", {}, "success", "SUCCESS", None, None, 0.5, 10.0) for i in range(5)])
        w.complete_trace("early", "completed")
        w.execute_raw("UPDATE trace_steps SET timestamp = '2026-11-01T11:00:00+00:00' WHERE step_index = 2", ())
    return db


def _choose(qtbot, w, rule_id):
    panel = w.consistency_panel
    run = w.current_run()
    panel.show_run(run.key, run.run_id)
    qtbot.waitUntil(lambda: panel.current is not None and panel.current.key == run.key, timeout=WAIT)
    rows = [panel.model.data(panel.model.index(r, 0), RECORD_ROLE) for r in range(panel.model.rowCount())]
    row = next(r for r, v in enumerate(rows) if v.rule_id == rule_id)
    panel._chosen(panel.model.index(row, 1))
    return rows[row]


def test_a_step_finding_selects_the_step_it_points_at(qtbot, make_window, early_db):
    from ui.qt.models.steps import STEP_ROLE

    w = make_window()
    open_and_wait(qtbot, w, early_db)
    select_run(qtbot, w, "early")
    w.consistency_dock.show()
    finding = _choose(qtbot, w, "INS-006")
    assert finding.signals == ("step_tree.first_step_at", "runs_list.started_at")
    qtbot.waitUntil(lambda: w.steps_view.currentIndex().isValid(), timeout=WAIT)
    ref = w.steps_model.data(w.steps_view.currentIndex(), STEP_ROLE)
    assert ref is not None and ref[1].step_index == 2


def test_an_integrity_finding_opens_the_integrity_card(qtbot, make_window, tmp_path):
    from tests.ui.evidence_dbs import build_evidence_db

    w = make_window()
    open_and_wait(qtbot, w, build_evidence_db(tmp_path / "ev.db"))
    qtbot.waitUntil(lambda: w.session.evidence is not None, timeout=WAIT)
    select_run(qtbot, w, "ev-warn")
    w.consistency_dock.show()
    _choose(qtbot, w, "INS-009")
    panel = w.evidence_panel
    assert panel.card_tabs.currentWidget() is panel.cards["integrity_evidence"]
    assert not w.evidence_dock.isHidden()
