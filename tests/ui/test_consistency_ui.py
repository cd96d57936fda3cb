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
    with qtbot.waitSignal(panel.panel_requested, timeout=WAIT) as sig:
        panel._chosen(panel.model.index(0, 1))
    assert sig.args == [("runs_list",)]
    select_run(qtbot, w, "fine")
    run = w.current_run()
    panel.show_run(run.key, run.run_id)
    qtbot.waitUntil(lambda: panel.current is not None and panel.current.run_id == "fine", timeout=WAIT)
    assert panel.model.rowCount() == 0 and "Consistent" in panel.summary.text()
    assert panel.view.isHidden()
