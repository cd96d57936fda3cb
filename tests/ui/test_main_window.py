"""The desktop app end to end on real SQLite files, with real worker threads (pytest-qt)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from tests.ui.dbs import (
    BIG_RUN,
    BIG_RUN_STEPS,
    BROKEN_RUN,
    ORIGINAL_RUN,
    ORPHAN_RUN,
    sha256,
)
from ui.qt.messages import Level
from ui.qt.models.runs import RUN_ROLE
from ui.qt.models.steps import KEEP_PAGES, PAGE_ROWS
from ui.qt.panels.detail import TRUNCATE_BYTES
from ui.qt.session.session import Worker

pytestmark = pytest.mark.gui
WAIT = 15000


def open_and_wait(qtbot, window, path):
    window.open_location(str(path))
    qtbot.waitUntil(lambda: window.source is not None and window.runs_model.rowCount() > 0, timeout=WAIT)
    idle(qtbot, window)


def idle(qtbot, window):
    qtbot.waitUntil(
        lambda: window.session.source is not None
        and window.session.pending(Worker.INTERACTIVE, Worker.BACKGROUND) == 0
        and window.disk.pending == 0 and not window.runs_model.loading,
        timeout=WAIT,
    )


def select_run(qtbot, window, run_id):
    qtbot.waitUntil(lambda: window.runs_model.row_of(run_id) is not None, timeout=WAIT)
    assert window.select_run(run_id)
    idle(qtbot, window)
    qtbot.waitUntil(lambda: window.steps_model.row_map is not None, timeout=WAIT)
    idle(qtbot, window)
    return window.run_tree_model.top_index()


def step_index_row(window, _top, step_index):
    model = window.steps_model
    row = model.row_of(step_index)
    if row is None:
        raise AssertionError(f"step {step_index} not shown")
    return model.index(row, 0)


def test_open_pick_run_expand_and_show_step(qtbot, make_window, small_db):
    w = make_window()
    w.show()
    open_and_wait(qtbot, w, small_db)
    assert "traces.db" in w.status.source_label.text()
    qtbot.waitUntil(lambda: "runs" in w.status.totals_label.text() and "steps" in w.status.totals_label.text(), timeout=WAIT)
    assert "1 orphan run ids" in w.status.totals_label.text()

    top = select_run(qtbot, w, ORIGINAL_RUN)
    assert w.run_tree_view.isExpanded(top)
    assert w.steps_model.run.run_id == ORIGINAL_RUN
    assert w.steps_panel.title.text() == f"{w.steps_model.rowCount()} steps of {ORIGINAL_RUN}"
    assert w.detail.kind == "run"
    ix = step_index_row(w, top, 1)
    w.steps_view.setCurrentIndex(ix)
    qtbot.waitUntil(lambda: w.detail.kind == "step", timeout=WAIT)
    assert w.detail.title.text() == f"Step 1 of {ORIGINAL_RUN}"
    assert "failed → failure" in w.detail.fields.text()
    params = w.detail.first
    assert params.model.rowCount() == 1  # the params root
    root = params.model.index(0, 0)
    keys = {params.model.data(params.model.index(r, 0, root)) for r in range(params.model.rowCount(root))}
    assert keys == {"url", "ü"}
    params.raw_button.click()
    assert params.stack.currentWidget() is params.raw
    assert params.raw.toPlainText() == '{"url": "https://example.com/1", "\\u00fc": "\\u65e5\\u672c\\u8a9e"}'


def test_invalid_json_cell_is_shown_raw_with_a_warning(qtbot, make_window, small_db):
    w = make_window()
    open_and_wait(qtbot, w, small_db)
    top = select_run(qtbot, w, BROKEN_RUN)
    w.steps_view.setCurrentIndex(step_index_row(w, top, 1))
    qtbot.waitUntil(lambda: w.detail.kind == "step", timeout=WAIT)
    params = w.detail.first
    assert params.banner.isVisible() or not params.banner.isHidden()
    assert "not valid JSON" in params.banner.text()
    assert params.stack.currentWidget() is params.raw
    assert params.raw.toPlainText() == '{"broken": tru'
    # the rest of the run still loads
    w.steps_view.setCurrentIndex(step_index_row(w, top, 2))
    qtbot.waitUntil(lambda: "Step 2" in w.detail.title.text(), timeout=WAIT)
    assert w.detail.first.payload.ok


def test_large_payload_is_truncated_and_saved_whole(qtbot, make_window, small_db, tmp_path):
    w = make_window()
    open_and_wait(qtbot, w, small_db)
    top = select_run(qtbot, w, BIG_RUN)
    w.steps_view.setCurrentIndex(step_index_row(w, top, 3))
    qtbot.waitUntil(lambda: w.detail.kind == "step", timeout=WAIT)
    outcome = w.detail.second
    assert outcome.truncated
    assert "Save to file" in outcome.banner.text()
    outcome.raw_button.click()
    shown = outcome.raw.toPlainText()
    assert len(shown.encode()) <= TRUNCATE_BYTES + 100 and shown.endswith("(truncated)")
    target = tmp_path / "out.json"
    w.save_payload(str(target), outcome.payload.raw)
    qtbot.waitUntil(lambda: target.exists() and w.disk.pending == 0, timeout=WAIT)
    assert json.loads(target.read_text())["blob"] == "x" * 1_200_000


def test_orphan_steps_are_listed_and_shown(qtbot, make_window, small_db):
    w = make_window()
    open_and_wait(qtbot, w, small_db)
    qtbot.waitUntil(lambda: w.runs_model.row_of(ORPHAN_RUN) is not None, timeout=WAIT)
    row = w.runs_model.row_of(ORPHAN_RUN)
    assert row == 0  # pinned on top
    w.runs_view.selectRow(row)
    top = w.run_tree_model.top_index()
    qtbot.waitUntil(lambda: w.steps_model.row_map is not None, timeout=WAIT)
    assert "run row missing" in w.run_tree_model.data(top)
    assert w.steps_model.rowCount() == w.steps_model.row_map.count > 0
    assert w.steps_model.step_at(0).run_id == ORPHAN_RUN


def test_big_run_has_every_row_and_reads_only_pages_shown(qtbot, make_window, small_db):
    from PySide6.QtCore import Qt

    w = make_window()
    w.resize(1200, 800)
    w.show()
    open_and_wait(qtbot, w, small_db)
    select_run(qtbot, w, BIG_RUN)
    model, view = w.steps_model, w.steps_view
    assert model.rowCount() == BIG_RUN_STEPS  # the scroll bar shows the whole run at once
    assert model.pages_read == 1  # the first page only: nothing read ahead of the user
    # Ctrl+End: the last page is read (not the ones between), and the last step is there.
    view.setFocus()
    view.setCurrentIndex(model.index(0, 0))
    qtbot.keyClick(view, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: model.step_at(BIG_RUN_STEPS - 1) is not None, timeout=WAIT)
    assert model.step_at(BIG_RUN_STEPS - 1).step_index == BIG_RUN_STEPS - 1
    assert model.pages_read <= 3
    assert model.step_at(BIG_RUN_STEPS // 2) is None
    qtbot.waitUntil(lambda: w.detail.title.text() == f"Step {BIG_RUN_STEPS - 1} of {BIG_RUN}", timeout=WAIT)
    # Go to step N (Ctrl+G, type, Enter): the step in the middle of the view, its detail shown.
    qtbot.keyClick(w.steps_panel, Qt.Key.Key_G, Qt.KeyboardModifier.ControlModifier)
    assert w.steps_panel.go_to.hasFocus()
    qtbot.keyClicks(w.steps_panel.go_to, "617")
    qtbot.keyClick(w.steps_panel.go_to, Qt.Key.Key_Return)
    assert view.currentIndex().row() == model.row_of(617)
    qtbot.waitUntil(lambda: model.step_at(617) is not None and "Step 617 " in w.detail.title.text(), timeout=WAIT)
    w.steps_panel.go_to.setText("99999")
    w.steps_panel.go_to.returnPressed.emit()
    assert w.steps_panel.note.text() == "No step 99999 in this run"
    assert view.current_step_index() == 617
    w.steps_panel.go_to.setText("1,000")  # what the validator lets through, group separator and all
    w.steps_panel.go_to.returnPressed.emit()
    assert view.current_step_index() == 1000
    # Refresh reads the steps again and keeps the step the user is on.
    read = model.pages_read
    w.refresh()
    qtbot.waitUntil(lambda: model.row_map is not None and model.pages_read < read
                    and view.current_step_index() == 1000, timeout=WAIT)
    qtbot.waitUntil(lambda: model.step_at(1000) is not None, timeout=WAIT)
    # Dragging through the whole run keeps a bounded number of pages.
    bar = view.verticalScrollBar()
    for i in range(41):
        bar.setValue(bar.maximum() * i // 40)
        qtbot.waitUntil(lambda: model.step_at(view.rowAt(2)) is not None, timeout=WAIT)
    assert model.pages_kept <= KEEP_PAGES and model.pages_read <= 3 + 41 * 2 + 2
    assert model.pages_read >= BIG_RUN_STEPS // PAGE_ROWS // 2


def test_filters_and_sorting_go_to_the_source(qtbot, make_window, small_db):
    w = make_window()
    open_and_wait(qtbot, w, small_db)
    qtbot.waitUntil(lambda: w.filters.status.count() > 1, timeout=WAIT)
    w.filters.status.setCurrentIndex(w.filters.status.findText("failed"))
    idle(qtbot, w)
    statuses = {w.runs_model.data(w.runs_model.index(r, 0), RUN_ROLE).status for r in range(w.runs_model.rowCount())}
    assert statuses == {"failed"}
    w.filters.since.setText("not a date")
    w.filters.since.editingFinished.emit()
    assert w.banner.isVisibleTo(w) and "not a date or time" in w.banner.label.text()
    w.filters.clear()
    idle(qtbot, w)
    w.runs_view.sortByColumn(0, Qt.SortOrder.AscendingOrder)
    idle(qtbot, w)
    ids = [w.runs_model.run_at(r, request=False) for r in range(w.runs_model.rowCount())]
    runs = [r.run_id for r in ids if r is not None and not r.orphan]
    assert runs == sorted(runs)


def test_bad_input_keeps_the_current_source(qtbot, make_window, small_db, tmp_path):
    w = make_window()
    open_and_wait(qtbot, w, small_db)
    before = w.source
    bad = tmp_path / "notes.db"
    bad.write_text("hello, I am not a database")
    w.open_location(str(bad))
    qtbot.waitUntil(lambda: w.banner.isVisibleTo(w), timeout=WAIT)
    text = w.banner.label.text()
    assert str(bad) in text and "not a SQLite database" in text
    assert "Traceback" not in text
    assert w.source is before and w.runs_model.rowCount() > 0
    assert any(level == Level.ERROR for level, _ in w.bus.history)


def test_drop_a_file_and_recent_menu(qtbot, make_window, small_db):
    w = make_window()
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(small_db))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    w.dropEvent(event)
    qtbot.waitUntil(lambda: w.source is not None, timeout=WAIT)
    idle(qtbot, w)
    assert w.recent_files()[0] == str(small_db)
    assert [a.text() for a in w.recent_menu.actions()][0] == str(small_db)


def test_refresh_shows_runs_a_second_process_wrote(qtbot, make_window, small_db):
    w = make_window()
    open_and_wait(qtbot, w, small_db)
    before = w.runs_model.rowCount()
    script = textwrap.dedent(f"""
        from drivers.sqlite_writer import SQLiteTraceWriter
        w = SQLiteTraceWriter({str(small_db)!r})
        for i in range(3):
            w.start_trace(f"run_new{{i}}", "c", "tenant-new", None, [])
        w.close()
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    w.refresh()
    qtbot.waitUntil(lambda: w.runs_model.rowCount() == before + 3, timeout=WAIT)
    idle(qtbot, w)


def test_browsing_everything_leaves_the_file_unchanged(qtbot, make_window, small_db):
    """Every run and every step of the database, through the GUI; the file's bytes never move."""
    digest = sha256(small_db)
    w = make_window(sync=True)
    w.open_location(str(small_db))
    model = w.runs_model
    seen_steps = 0
    for row in range(model.rowCount()):
        model.run_at(row)  # load its page
        w.runs_view.selectRow(row)
        run = model.data(model.index(row, 0), RUN_ROLE)
        assert run is not None
        assert w.steps_model.rowCount() == (run.total_steps or 0)
        for r in range(w.steps_model.rowCount()):
            ix = w.steps_model.index(r, 0)
            w.steps_view.setCurrentIndex(ix)
            w.steps_view._settled()  # what the settle timer does once the moves stop
            assert w.detail.kind == "step"
            assert w.detail.title.text().startswith(f"Step {w.steps_model.step_index_at(r)} of")
            seen_steps += 1
    assert seen_steps == w.status.totals.steps if w.status.totals else seen_steps > BIG_RUN_STEPS
    assert [lvl for lvl, _ in w.bus.history if lvl == Level.ERROR] == []
    w.shutdown()
    assert sha256(small_db) == digest


def test_demo_database_opens_through_the_provider(qtbot, make_window, tmp_path):
    from drivers.demo import generate_demo

    made = []

    def provider(progress=None):
        path = tmp_path / "demo.db"
        generate_demo(path, 3, big_run_steps=1500, progress=progress)
        made.append(path)
        return path

    w = make_window(demo_provider=provider)
    w.open_demo()
    qtbot.waitUntil(lambda: w.source is not None and w.runs_model.rowCount() >= 300, timeout=60000)
    idle(qtbot, w)
    assert made and w.source.info.location == str(made[0].resolve())


def test_reopening_does_not_pile_up_workers(qtbot, make_window, small_db):
    w = make_window()
    for _ in range(4):
        open_and_wait(qtbot, w, small_db)
        for runner in list(w.session.retired):
            runner.wait()
    # each open retires the previous source's four workers (source, background, evidence,
    # grading); finished ones are dropped at the next
    assert len(w.session.retired) <= 4
