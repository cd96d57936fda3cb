"""Integrity in the desktop app, on real databases with evidence of every grade: the Grade column,
its sort and filter, the status bar's grading job and its Cancel, and the Evidence panel (cards,
capture failures, the stored verdict, and reasons that select the rows they name)."""

from __future__ import annotations

import sqlite3
import threading

import pytest
from PySide6.QtCore import Qt

from tests.ui.evidence_dbs import (
    FAIL_RUN,
    GRADES,
    PASS5_RUN,
    PASS_RUN,
    PLAIN_RUNS,
    WARN_RUN,
    build_evidence_db,
    fill_pg_evidence,
)
from inspector.integrity import IntegrityGrade
from tests.ui.test_main_window import WAIT, idle
from ui.qt.models.runs import GRADE_ROLE, NO_STORE_TIP, RUN_ROLE, column_of
from ui.qt.session.session import Worker
from ui.qt.theme import colours, grade_colours

pytestmark = pytest.mark.gui
GRADE_COL = column_of("grade")
ALL_GRADED = "Integrity: 2 PASS · 1 WARN · 7 FAIL"


@pytest.fixture(scope="session")
def evidence_db_master(tmp_path_factory):
    return build_evidence_db(tmp_path_factory.mktemp("evidence") / "traces.db")


@pytest.fixture
def evidence_db(evidence_db_master, tmp_path):
    target = tmp_path / "traces.db"
    target.write_bytes(evidence_db_master.read_bytes())
    return target


def open_graded(qtbot, window, location):
    """Open a source and wait until its evidence store is known and the grading job is done."""
    window.open_location(str(location))
    qtbot.waitUntil(lambda: window.source is not None and window.runs_model.rowCount() > 0, timeout=WAIT)
    qtbot.waitUntil(lambda: window.runs_model.evidence_state != "unknown", timeout=WAIT)
    qtbot.waitUntil(lambda: not window.grading.running, timeout=WAIT)
    idle(qtbot, window)


def grade_cell(window, key, role=Qt.ItemDataRole.DisplayRole):
    row = window.runs_model.row_of(key)
    assert row is not None, f"{key} not listed"
    return window.runs_model.data(window.runs_model.index(row, GRADE_COL), role)


def listed(window):
    model = window.runs_model
    runs = [model.run_at(r, request=False) for r in range(model.rowCount())]
    return [r for r in runs if r is not None]


def show_evidence(qtbot, window, key):
    qtbot.waitUntil(lambda: window.runs_model.row_of(key) is not None, timeout=WAIT)
    assert window.select_run(key)
    panel = window.evidence_panel
    run_id = window.runs_model.data(window.runs_model.index(window.runs_model.row_of(key), 0), RUN_ROLE).run_id
    qtbot.waitUntil(lambda: panel.run_id == run_id and not panel.pending and panel.current is not None
                    and panel.current.evidence.run_id == run_id, timeout=WAIT)
    return panel


def click_reason(qtbot, panel, code, contains=""):
    model = panel.reasons_model
    row = next(r for r in range(model.rowCount())
               if model.reason_at(r).code == code and contains in model.reason_at(r).message)
    view = panel.reasons_view
    view.scrollTo(model.index(row, 0))
    rect = view.visualRect(model.index(row, 0))
    assert rect.isValid() and rect.height() > 20  # laid out with its wrapped lines
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    return model.reason_at(row)


# -- the Grade column -------------------------------------------------------------------------------


def test_grade_column_shows_each_grade_with_upstreams_words(qtbot, make_window, evidence_db):
    w = make_window()
    w.show()
    open_graded(qtbot, w, evidence_db)
    qtbot.waitUntil(lambda: all(w.runs_model.grade_of(r) is not None for r in GRADES), timeout=WAIT)
    for run_id, grade in GRADES.items():
        assert grade_cell(w, run_id) == grade, run_id
        assert grade_cell(w, run_id, GRADE_ROLE) == grade
        assert grade_cell(w, run_id, Qt.ItemDataRole.ForegroundRole) == grade_colours(IntegrityGrade(grade))[0]
    assert grade_cell(w, PASS_RUN, Qt.ItemDataRole.ToolTipRole) == "PASS 6/6 — All evidence present (6/6)"
    # Upstream says "All evidence present" at 5/6 (§11.14): the score says otherwise.
    assert grade_cell(w, PASS5_RUN, Qt.ItemDataRole.ToolTipRole) == "PASS 5/6 — All evidence present (5/6)"
    assert grade_cell(w, WARN_RUN, Qt.ItemDataRole.ToolTipRole) == \
        "WARN 4/6 — 2 evidence types missing; 2 capture failures recorded"
    assert grade_cell(w, FAIL_RUN, Qt.ItemDataRole.ToolTipRole) == \
        "FAIL 3/6 — Critical evidence missing: environment_evidence"
    assert w.runs_model.headerData(GRADE_COL, Qt.Orientation.Horizontal) == "Grade"
    assert w.filters.grade.isEnabled()
    assert w.evidence_dock.isVisible()  # shown by default: the source has an evidence store


def test_without_an_evidence_store_grades_are_a_dash_and_the_filter_is_off(qtbot, make_window, small_db):
    w = make_window()
    w.show()
    open_graded(qtbot, w, small_db)
    assert w.runs_model.evidence_state == "none"
    run = listed(w)[3]
    assert grade_cell(w, run.key) == "—"
    assert grade_cell(w, run.key, Qt.ItemDataRole.ToolTipRole) == NO_STORE_TIP
    assert grade_cell(w, run.key, GRADE_ROLE) is None
    assert not w.filters.grade.isEnabled()
    assert "no evidence store" in w.filters.grade.toolTip()
    assert w.filters.current().grade is None
    assert w.grading.text == "Integrity: no evidence store"
    assert not w.evidence_dock.isVisible()  # not shown by default without a store
    w.actions_by_name["evidence"].trigger()  # View → Evidence
    qtbot.waitUntil(lambda: w.evidence_dock.isVisible(), timeout=WAIT)
    assert w.evidence_panel.message.startswith("No evidence store")
    assert "no evidence tables" in w.evidence_panel.message


def test_a_dock_opened_after_a_failed_lookup_stays_open_when_a_refresh_finds_no_store(
        qtbot, make_window, small_db, monkeypatch):
    """The lookup of the evidence tables fails once (the file stays real); the user opens the
    Evidence dock to read why; a refresh then finds no store, and the dock the user opened stays."""
    from drivers.sqlite_reader import SQLiteTraceReader
    from inspector.errors import SourceError
    from ui.qt.session.session import EvidenceState

    real, failures = SQLiteTraceReader.evidence, []

    def fails_once(self):
        if not failures:
            failures.append(self.location)
            raise SourceError("database is locked", location=self.location)
        return real(self)

    monkeypatch.setattr(SQLiteTraceReader, "evidence", fails_once)
    w = make_window()
    w.show()
    w.open_location(str(small_db))
    qtbot.waitUntil(lambda: w.session.evidence_state is EvidenceState.ERROR, timeout=WAIT)
    assert not w.evidence_dock.isVisible()
    w.actions_by_name["evidence"].trigger()  # View → Evidence: why is there no grade?
    qtbot.waitUntil(w.evidence_dock.isVisible, timeout=WAIT)
    w.refresh()
    qtbot.waitUntil(lambda: w.session.evidence_state is EvidenceState.NONE, timeout=WAIT)
    idle(qtbot, w)
    assert w.evidence_dock.isVisible() and w.evidence_panel.message.startswith("No evidence store")


def test_sorting_by_grade_lists_the_worst_first(qtbot, make_window, evidence_db):
    w = make_window()
    open_graded(qtbot, w, evidence_db)
    rank = {"FAIL": 0, "WARN": 1, "PASS": 2}
    w.runs_view.sortByColumn(GRADE_COL, Qt.SortOrder.AscendingOrder)
    idle(qtbot, w)
    assert w.runs_model.sort_key[0].value == "integrity_grade"
    order = [GRADES[r.run_id] for r in listed(w)]
    assert order == sorted(order, key=rank.get) and order[0] == "FAIL" and order[-1] == "PASS"
    w.runs_view.sortByColumn(GRADE_COL, Qt.SortOrder.DescendingOrder)
    idle(qtbot, w)
    order = [GRADES[r.run_id] for r in listed(w)]
    assert order == sorted(order, key=rank.get, reverse=True) and order[0] == "PASS"
    # The cells agree with the order once their grades are read.
    qtbot.waitUntil(lambda: all(grade_cell(w, r.key) == GRADES[r.run_id] for r in listed(w)), timeout=WAIT)


# -- the grade filter and the status bar ----------------------------------------------------------------


def test_grade_filter_changes_the_rows_and_the_distribution(qtbot, make_window, evidence_db):
    w = make_window()
    open_graded(qtbot, w, evidence_db)
    assert w.grading.text == ALL_GRADED
    assert w.runs_model.rowCount() == len(GRADES)
    w.filters.grade.setCurrentIndex(w.filters.grade.findText("PASS"))
    idle(qtbot, w)
    assert sorted(r.run_id for r in listed(w)) == [PASS_RUN, PASS5_RUN]
    assert w.runs_model.rowCount() == 2
    qtbot.waitUntil(lambda: w.grading.text == "Integrity: 2 PASS · 0 WARN · 0 FAIL", timeout=WAIT)
    w.filters.grade.setCurrentIndex(w.filters.grade.findText("FAIL"))
    idle(qtbot, w)
    assert sorted(r.run_id for r in listed(w)) == sorted([FAIL_RUN, *PLAIN_RUNS])
    qtbot.waitUntil(lambda: w.grading.text == "Integrity: 0 PASS · 0 WARN · 7 FAIL", timeout=WAIT)
    assert w.status.totals_label.text().startswith("7 shown")
    w.filters.clear()
    idle(qtbot, w)
    assert w.runs_model.rowCount() == len(GRADES)
    qtbot.waitUntil(lambda: w.grading.text == ALL_GRADED, timeout=WAIT)


def test_grading_job_cancels_and_restarts_with_the_filter(qtbot, make_window, evidence_db):
    w = make_window()
    open_graded(qtbot, w, evidence_db)
    assert w.grading.text == ALL_GRADED and not w.grading.cancel_button.isVisibleTo(w)
    # Hold the grading worker, so the next jobs wait for it, and Cancel one of them.
    release = threading.Event()
    w.session.runner(Worker.GRADING).submit(lambda: release.wait(WAIT / 1000))
    w.filters.search.setText("ev-")
    w.filters.search.editingFinished.emit()
    assert w.grading.running and w.grading.text == "Integrity: grading…"
    assert w.grading.cancel_button.isVisibleTo(w) and w.grading.progress.isVisibleTo(w)
    qtbot.mouseClick(w.grading.cancel_button, Qt.MouseButton.LeftButton)
    assert w.grading.text == "Integrity: cancelling…"
    release.set()
    qtbot.waitUntil(lambda: not w.grading.running, timeout=WAIT)
    assert w.grading.text == "Integrity: 0 PASS · 0 WARN · 0 FAIL · graded 0 of 4 — cancelled"
    assert "cancelled" in w.grading.label.text() and not w.grading.cancel_button.isVisibleTo(w)

    # A new filter replaces a job that has not finished: only the last filter's counts show.
    release.clear()
    w.session.runner(Worker.GRADING).submit(lambda: release.wait(WAIT / 1000))
    w.filters.search.setText("plain-")
    w.filters.search.editingFinished.emit()
    first = w.grading.text
    w.filters.search.setText("ev-pass")
    w.filters.search.editingFinished.emit()
    release.set()
    qtbot.waitUntil(lambda: not w.grading.running, timeout=WAIT)
    assert first == "Integrity: grading…"
    assert w.grading.text == "Integrity: 2 PASS · 0 WARN · 0 FAIL"
    assert w.grading.result.flt.run_id_prefix == "ev-pass"


# -- the Evidence panel ---------------------------------------------------------------------------------


def test_evidence_panel_header_cards_failures_and_stored_verdict(qtbot, make_window, evidence_db):
    w = make_window()
    w.show()
    open_graded(qtbot, w, evidence_db)
    panel = show_evidence(qtbot, w, WARN_RUN)
    assert panel.showing_evidence
    assert panel.badge.text() == "WARN"
    # The badge is never squeezed below its text (it read "WARN" cut in a narrow dock).
    w.evidence_dock.resize(300, w.evidence_dock.height())
    assert panel.badge.width() >= panel.badge.fontMetrics().horizontalAdvance("WARN") + 20
    assert "4/6" in panel.summary.text() and "DEGRADED" in panel.summary.text()
    assert panel.explanation.text() == "Upstream: “2 evidence types missing; 2 capture failures recorded”"
    # Upstream sealed the run VALID; it is DEGRADED now: a warning saying both.
    banner = panel.stored_banner
    assert banner.isVisibleTo(panel) and banner.property("severity") == "payload-warning"
    assert "VALID (PASS, score 1)" in banner.text() and "DEGRADED (WARN, score 0.667)" in banner.text()
    assert "No longer observed: policy_decisions, provider_evidence" in banner.text()
    # One card per class, in the auditor's order, with its count.
    tabs = [panel.card_tabs.tabText(i) for i in range(panel.card_tabs.count())]
    assert tabs == ["Environment (1)", "Activity (2)", "Provider (0)", "Policy (0)", "Integrity (1)", "Failures (2)"]
    h = panel.cards["environment_evidence"]
    assert "<b>H</b>" in h.heading.text() and "1 row" in h.heading.text()
    assert "sdk_mode" in h.form.text() and "inline" in h.form.text() and "fast_path, audit" in h.form.text()
    assert "telemetry_enabled" in h.form.text() and "yes" in h.form.text()
    b = panel.cards["activity_evidence"]
    assert [b.model.data(b.model.index(r, 0)) for r in range(b.model.rowCount())] == ["1", "2"]
    assert "step indexes 1–2 (trace steps 0–1)" in b.heading.text()
    g = panel.cards["provider_evidence"]
    assert not g.showing_rows and "No provider evidence" in g.placeholder.text()
    j = panel.cards["integrity_evidence"]
    assert "VALID" in j.form.text() and "evidence_table_scan" in j.form.text()
    failures = panel.cards["evidence_capture_failures"]
    rows = [[failures.model.data(failures.model.index(r, c)) for c in range(failures.model.columnCount())]
            for r in range(failures.model.rowCount())]
    assert [r[:4] for r in rows] == [
        ["activity_evidence", "database_error", "superseded", "permanent"],
        ["provider_evidence", "database_error", "transient", "transient"],
    ]
    assert rows[0][4] == "duplicate key" and rows[1][5] == "ecf-warn-provider"
    assert "1 stored resolution ignored" in failures.note.text()
    codes = [panel.reasons_model.reason_at(r).code for r in range(panel.reasons_model.rowCount())]
    assert "STORED_VERDICT_DIFFERS" in codes and "STORED_RESOLUTION_IGNORED" in codes

    # A run whose stored verdict agrees, with every class and the policy decisions.
    panel = show_evidence(qtbot, w, PASS_RUN)
    assert panel.badge.text() == "PASS"
    assert panel.stored_banner.property("severity") == "payload-info" and "agrees" in panel.stored_banner.text()
    d = panel.cards["policy_decisions"]
    decisions = [d.model.data(d.model.index(r, 3)) for r in range(d.model.rowCount())]
    assert decisions == ["GRANTED", "DENIED"]
    assert d.model.data(d.model.index(1, 3), Qt.ItemDataRole.ForegroundRole) == colours().failure


def test_clicking_a_reason_selects_the_rows_it_names(qtbot, make_window, evidence_db):
    w = make_window()
    w.resize(1500, 1000)
    w.show()
    open_graded(qtbot, w, evidence_db)
    panel = show_evidence(qtbot, w, WARN_RUN)
    failures = panel.cards["evidence_capture_failures"]
    reason = click_reason(qtbot, panel, "CAPTURE_FAILURE")
    assert [r.row_id for r in reason.refs] == ["ecf-warn-provider"]
    assert panel.card_tabs.currentWidget() is failures
    assert failures.selected_rows() == [1]
    assert failures.model.record_at(1).id == "ecf-warn-provider"
    reason = click_reason(qtbot, panel, "FAILURE_SUPERSEDED")
    assert failures.selected_rows() == [0]

    # By step index: the provider row whose index names no trace step (§11.6).
    panel = show_evidence(qtbot, w, PASS_RUN)
    provider = panel.cards["provider_evidence"]
    click_reason(qtbot, panel, "STEP_INDEX_MISMATCH", "provider_evidence")
    assert panel.card_tabs.currentWidget() is provider
    assert provider.selected_rows() == [2]
    assert provider.model.record_at(2).step_index == 3
    click_reason(qtbot, panel, "STEP_INDEX_MISMATCH", "activity_evidence")
    assert panel.card_tabs.currentWidget() is panel.cards["activity_evidence"]
    assert panel.cards["activity_evidence"].selected_rows() == [2]
    # The keyboard does the same: Down moves to the next reason and shows its rows.
    panel.reasons_view.setFocus()
    qtbot.keyClick(panel.reasons_view, Qt.Key.Key_Down)
    assert panel.card_tabs.currentWidget() is provider


def test_panel_follows_the_selection_and_drops_stale_reads(qtbot, make_window, evidence_db):
    w = make_window()
    w.show()
    open_graded(qtbot, w, evidence_db)
    release = threading.Event()
    w.session.runner(Worker.EVIDENCE).submit(lambda: release.wait(WAIT / 1000))  # hold the worker: reads queue up
    for run_id in (PASS_RUN, PASS5_RUN, WARN_RUN, FAIL_RUN):
        assert w.select_run(run_id)
    panel = w.evidence_panel
    assert panel.pending and panel.message == f"Loading the evidence of run {FAIL_RUN}…"
    shown = []
    panel.loaded.connect(shown.append)
    release.set()
    qtbot.waitUntil(lambda: not panel.pending, timeout=WAIT)
    idle(qtbot, w)
    qtbot.waitUntil(lambda: w.session.pending(Worker.EVIDENCE) == 0, timeout=WAIT)
    assert shown == [FAIL_RUN]  # the three reads before it were cancelled, not shown
    assert panel.badge.text() == "FAIL" and panel.current.evidence.run_id == FAIL_RUN
    assert panel.cards["environment_evidence"].placeholder.text().startswith("No environment evidence")
    assert panel.explanation.text() == "Upstream: “Critical evidence missing: environment_evidence”"


def test_absent_table_truncated_rows_and_a_failed_read(qtbot, make_window, evidence_db):
    with sqlite3.connect(evidence_db) as conn:
        conn.execute("DROP TABLE policy_decisions")
    w = make_window()
    w.show()
    open_graded(qtbot, w, evidence_db)
    assert w.grading.text == ALL_GRADED
    # Without the decisions table ev-pass has 5 of 6 classes: still PASS (upstream's ≥ 0.8).
    assert grade_cell(w, PASS_RUN, Qt.ItemDataRole.ToolTipRole) == "PASS 5/6 — All evidence present (5/6)"
    w.session.evidence.row_limit = 2
    panel = show_evidence(qtbot, w, PASS_RUN)
    d = panel.cards["policy_decisions"]
    assert d.absent and "table absent" in d.heading.text()
    assert panel.card_tabs.tabText(panel.card_tabs.indexOf(d)) == "Policy (table absent)"
    assert "no policy_decisions table" in d.placeholder.text()
    b = panel.cards["activity_evidence"]
    assert b.model.rowCount() == 2 and "3 rows" in b.heading.text()
    assert b.note.text() == "Showing the first 2 of 3 rows (the reader's limit of 2 rows per class)."

    # A table that goes away under the reader: the panel says so, and the error is reported.
    with sqlite3.connect(evidence_db) as conn:
        conn.execute("DROP TABLE activity_evidence")
    w.select_run(WARN_RUN)
    qtbot.waitUntil(lambda: panel.run_id == WARN_RUN and not panel.pending, timeout=WAIT)
    assert panel.message.startswith(f"Could not read the evidence of run {WARN_RUN}")
    assert "activity_evidence" in panel.message
    qtbot.waitUntil(lambda: w.banner.isVisibleTo(w), timeout=WAIT)
    assert "Traceback" not in w.banner.label.text()


def test_a_table_of_another_shape_is_unreadable_not_a_failed_source(qtbot, make_window, evidence_db):
    """Upstream counts a table its query fails on as empty (§4): the list, the filter and the
    panel grade on, and the card and the reasons say which table and why."""
    with sqlite3.connect(evidence_db) as conn:
        conn.execute("DROP TABLE provider_evidence")
        conn.execute("CREATE TABLE provider_evidence (provider TEXT, tokens INTEGER)")
    w = make_window()
    w.show()
    open_graded(qtbot, w, evidence_db)
    assert w.grading.text == "Integrity: 1 PASS · 2 WARN · 7 FAIL"  # ev-pass5 lost G: 4/6, WARN
    panel = show_evidence(qtbot, w, PASS_RUN)
    g = panel.cards["provider_evidence"]
    assert g.absent and g.unreadable and "table unreadable" in g.heading.text()
    assert panel.card_tabs.tabText(panel.card_tabs.indexOf(g)) == "Provider (table unreadable)"
    assert g.placeholder.text().startswith("The provider_evidence table cannot be read: it has no column run_id")
    assert "TABLE_UNREADABLE" in [r.code for r in panel.current.reasons]
    assert not w.banner.isVisibleTo(w)


# -- Postgres ------------------------------------------------------------------------------------------


def test_grades_filter_and_panel_on_postgres(qtbot, make_window, pg_url):
    fill_pg_evidence(pg_url)
    w = make_window()
    w.show()
    open_graded(qtbot, w, pg_url)
    assert w.runs_model.rowCount() == len(GRADES) + 1  # ev-pass has two traces
    # Grades are by run id: both traces of ev-pass share theirs.
    for key in (f"trace_{PASS_RUN}", f"trace_{PASS_RUN}_2"):
        qtbot.waitUntil(lambda key=key: grade_cell(w, key) == "PASS", timeout=WAIT)
        assert "every trace of the run shares it" in grade_cell(w, key, Qt.ItemDataRole.ToolTipRole)
    qtbot.waitUntil(lambda: grade_cell(w, f"trace_{WARN_RUN}") == "WARN", timeout=WAIT)
    assert grade_cell(w, f"trace_{WARN_RUN}", Qt.ItemDataRole.ToolTipRole).startswith(
        "WARN 4/6 — 2 evidence types missing; 2 capture failures recorded")
    assert w.grading.text == ALL_GRADED  # ten run ids, eleven traces
    w.filters.grade.setCurrentIndex(w.filters.grade.findText("PASS"))
    idle(qtbot, w)
    assert sorted(r.key for r in listed(w)) == sorted([f"trace_{PASS_RUN}", f"trace_{PASS_RUN}_2",
                                                        f"trace_{PASS5_RUN}"])
    qtbot.waitUntil(lambda: w.grading.text == "Integrity: 2 PASS · 0 WARN · 0 FAIL", timeout=WAIT)
    w.filters.clear()
    idle(qtbot, w)
    w.runs_view.sortByColumn(GRADE_COL, Qt.SortOrder.AscendingOrder)
    idle(qtbot, w)
    order = [GRADES[r.run_id] for r in listed(w)]
    assert order[0] == "FAIL" and order[-1] == "PASS" and order.index("WARN") == 7

    panel = show_evidence(qtbot, w, f"trace_{WARN_RUN}")
    assert panel.badge.text() == "WARN" and panel.stored_banner.property("severity") == "payload-warning"
    failures = panel.cards["evidence_capture_failures"]
    assert failures.model.rowCount() == 2
    click_reason(qtbot, panel, "CAPTURE_FAILURE")
    assert failures.selected_rows() == [1]
    panel = show_evidence(qtbot, w, f"trace_{PASS_RUN}_2")
    assert panel.badge.text() == "PASS" and panel.cards["policy_decisions"].model.rowCount() == 2


def test_synchronous_window_grades_and_shows_evidence(qtbot, make_window, evidence_db):
    """The synchronous switch (STYLE §10): every read inline, the same results."""
    w = make_window(sync=True)
    w.show()
    w.open_location(str(evidence_db))
    assert w.runs_model.evidence_state == "store" and not w.grading.running
    assert w.grading.text == ALL_GRADED
    assert grade_cell(w, WARN_RUN) == "WARN"
    assert w.evidence_dock.isVisible()
    assert w.select_run(WARN_RUN)
    panel = w.evidence_panel
    assert not panel.pending and panel.badge.text() == "WARN"
    assert panel.reveal(0) and panel.card_tabs.currentWidget() is panel.cards["evidence_capture_failures"]


def test_refresh_reads_evidence_written_since(qtbot, make_window, evidence_db):
    """Environment evidence captured after opening supersedes ev-fail's capture failure: FAIL → WARN
    in the column, the status bar and the panel once refreshed."""
    w = make_window()
    w.show()
    open_graded(qtbot, w, evidence_db)
    panel = show_evidence(qtbot, w, FAIL_RUN)
    assert panel.badge.text() == "FAIL" and grade_cell(w, FAIL_RUN) == "FAIL"
    with sqlite3.connect(evidence_db) as conn:
        conn.execute("INSERT INTO environment_evidence (id, run_id, sdk_mode, is_synthetic) "
                     "VALUES ('ee-late', ?, 'async', 0)", (FAIL_RUN,))
    w.refresh()
    qtbot.waitUntil(lambda: grade_cell(w, FAIL_RUN) == "WARN", timeout=WAIT)
    qtbot.waitUntil(lambda: w.grading.text == "Integrity: 2 PASS · 2 WARN · 6 FAIL", timeout=WAIT)
    qtbot.waitUntil(lambda: panel.current is not None and panel.badge.text() == "WARN" and not panel.pending,
                    timeout=WAIT)
    assert w.current_run().run_id == FAIL_RUN
    codes = [panel.reasons_model.reason_at(r).code for r in range(panel.reasons_model.rowCount())]
    assert "FAILURE_SUPERSEDED" in codes and "REQUIRED_MISSING" not in codes


def test_a_grade_read_that_fails_marks_its_cells_instead_of_waiting_forever(qtbot, make_window, evidence_db):
    w = make_window()
    open_graded(qtbot, w, evidence_db)
    assert grade_cell(w, WARN_RUN) == "WARN"
    with sqlite3.connect(evidence_db) as conn:
        conn.execute("DROP TABLE activity_evidence")  # gone under the reader, which knew it
    w.runs_model.set_evidence(w.session.evidence)  # forget the grades: the rows are read again
    qtbot.waitUntil(lambda: grade_cell(w, WARN_RUN) == "?", timeout=WAIT)
    tip = grade_cell(w, WARN_RUN, Qt.ItemDataRole.ToolTipRole)
    assert tip.startswith("The grade could not be read: ") and "activity_evidence" in tip
    qtbot.waitUntil(lambda: w.session.pending(Worker.EVIDENCE) == 0, timeout=WAIT)
    assert grade_cell(w, WARN_RUN) == "?"  # not asked again and again



def test_grading_progress_shows_the_time_left():
    """Spec §9's ETA over the grading job's progress: 1,000 of 4,000 runs in 10 s → 30 s left."""
    from inspector.jobs import JobProgress
    from ui.qt.panels.grades import grading_text

    p = JobProgress("grading").start(100.0).update(110.0, current_step=1_000, total_steps=4_000)
    assert grading_text(1_000, 4_000, p.eta_seconds) == "Integrity: grading 1,000 of 4,000 runs… about 30 s left"
    assert grading_text(4_000, 4_000, 0) == "Integrity: grading 4,000 of 4,000 runs…"
    assert grading_text(10, 100_000, 5_400).endswith("about 90 min left")
