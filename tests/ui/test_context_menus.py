"""Context menus, Copy and Find in the item views (issue 16), on real SQLite files with real
workers: each view's menu is built for a row (``ViewMenu.menu_for``, no popup), its actions
triggered, and the clipboard read; Ctrl+C, Ctrl+Shift+C and Ctrl+F go through the views' own
key handling (``qtbot.keyClick`` on the view)."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QAbstractTableModel, QEvent, QModelIndex, Qt
from PySide6.QtGui import QGuiApplication, QKeyEvent
from PySide6.QtWidgets import QAbstractItemView, QApplication, QTableView

from inspector.model import Payload
from tests.ui.dbs import BIG_RUN, BIG_RUN_STEPS, ORIGINAL_RUN, REPLAYS
from tests.ui.test_main_window import WAIT, idle, open_and_wait, select_run
from ui.qt.context import MAX_COPY_CHARS, MAX_COPY_ROWS, ViewMenu, menu_of, selection_text
from ui.qt.models.runs import column_of
from ui.qt.models.steps import PAGE_ROWS
from ui.qt.panels.detail import PayloadView

pytestmark = pytest.mark.gui


def clipboard() -> str:
    return QGuiApplication.clipboard().text()


def action(menu, name):
    """The menu's action with this objectName (``context_<name>``), or the window action of that name."""
    for a in menu.actions():
        if a.objectName() in (f"context_{name}", f"action_{name}"):
            return a
    raise AssertionError(f"no {name} in {[a.text() for a in menu.actions()]}")


def texts(menu):
    return [a.text().replace("&", "") for a in menu.actions() if not a.isSeparator()]


def copy_with(menu, name) -> str:
    QGuiApplication.clipboard().setText("before")
    action(menu, name).trigger()
    return clipboard()


@pytest.fixture
def window(qtbot, make_window, small_db):
    w = make_window()
    open_and_wait(qtbot, w, small_db)
    return w


def shortcut_override_taken(widget, key, modifiers=Qt.KeyboardModifier.NoModifier) -> bool:
    event = QKeyEvent(QEvent.Type.ShortcutOverride, key, modifiers)
    event.ignore()
    QApplication.sendEvent(widget, event)
    return event.isAccepted()


# -- the runs list ---------------------------------------------------------------------------------


def test_runs_list_menu_copies_and_holds_the_run_menus_own_actions(qtbot, window):
    w = window
    select_run(qtbot, w, ORIGINAL_RUN)
    index = w.runs_view.currentIndex()
    menu = w.runs_menu.menu_for(index)
    assert texts(menu)[:5] == ["Copy Run ID", "Copy Row", "Copy Cell", "Copy as JSON", "Compare With Original"]
    assert copy_with(menu, "copy_run_id") == ORIGINAL_RUN
    assert w.statusBar().currentMessage() == f"Copied run id {ORIGINAL_RUN}"
    doc = json.loads(copy_with(menu, "copy_json"))
    assert doc["run_id"] == ORIGINAL_RUN and doc["total_steps"] == 3
    # The Run menu's actions themselves: one enabled state and tooltip (not a replay: off, and why).
    compare = action(menu, "compare_original")
    assert compare is w.actions_by_name["compare_original"]
    assert not compare.isEnabled() and "not a replay" in compare.toolTip()
    assert action(menu, "export_run") is w.actions_by_name["export_run"]
    assert action(menu, "copy_run_id").shortcut().toString() == "Ctrl+Shift+C"
    menu.deleteLater()

    select_run(qtbot, w, REPLAYS[0])
    menu = w.runs_menu.menu_for(w.runs_view.currentIndex())
    assert action(menu, "compare_original").isEnabled()
    menu.deleteLater()


def test_ctrl_c_copies_the_row_as_the_columns_show_it(qtbot, window):
    w = window
    select_run(qtbot, w, ORIGINAL_RUN)
    view, model = w.runs_view, w.runs_model
    row = view.currentIndex().row()
    cells = [model.index(row, c).data() or "" for c in range(model.columnCount())]
    QGuiApplication.clipboard().setText("before")
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert clipboard() == "\t".join(cells)
    assert w.runs_menu.last_note == "Copied 1 row"
    # Hidden columns are left out; moved ones copy in the order shown.
    header = view.horizontalHeader()
    header.setSectionHidden(column_of("tenant_id"), True)
    header.moveSection(header.visualIndex(column_of("status")), 0)
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    shown = [column_of("status")] + [c for c in range(model.columnCount())
                                     if c not in (column_of("status"), column_of("tenant_id"))]
    assert clipboard() == "\t".join(cells[c] for c in shown)
    # Ctrl+Shift+C: the run id.
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert clipboard() == ORIGINAL_RUN


def test_ctrl_f_is_the_runs_search_box_outside_the_find_bar_views(qtbot, window):
    """The conflict with View → Find Run (Ctrl+F): the step table and the JSON viewer take Ctrl+F
    while they have focus; the runs list does not, so the window's action gets it there."""
    w = window
    select_run(qtbot, w, ORIGINAL_RUN)
    assert w.actions_by_name["find"].shortcut().toString() == "Ctrl+F"
    assert not shortcut_override_taken(w.runs_view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert shortcut_override_taken(w.steps_view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert shortcut_override_taken(w.detail.first.tree, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    # Ctrl+C is every view's own; plain keys are not taken (typing jumps to a row).
    assert shortcut_override_taken(w.runs_view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert not shortcut_override_taken(w.runs_view, Qt.Key.Key_C)
    w.actions_by_name["find"].trigger()
    assert w.focusWidget() is w.filters.search


@pytest.mark.qt_log_ignore("does not support grabbing the keyboard")  # a popup, offscreen
def test_menu_key_opens_the_menu_at_the_current_row(qtbot, window):
    w = window
    select_run(qtbot, w, ORIGINAL_RUN)
    qtbot.keyClick(w.runs_view, Qt.Key.Key_F10, Qt.KeyboardModifier.ShiftModifier)
    menu = w.runs_menu.shown
    assert menu is not None and menu.isVisible() and "Copy Run ID" in texts(menu)
    menu.close()


# -- the run tree ------------------------------------------------------------------------------------


def test_run_tree_menu_acts_on_the_listed_run_and_offers_to_list_a_replay(qtbot, window):
    w = window
    top = select_run(qtbot, w, ORIGINAL_RUN)
    qtbot.waitUntil(lambda: w.run_tree_model.rowCount(top) > 0, timeout=WAIT)
    menu = w.run_tree_menu.menu_for(top)
    assert copy_with(menu, "copy_run_id") == ORIGINAL_RUN
    assert action(menu, "replay_check") is w.actions_by_name["replay_check"]
    menu.deleteLater()
    replays = w.run_tree_model.index(0, 0, top)
    # A group row copies its text only.
    w.run_tree_view.setCurrentIndex(replays)
    menu = w.run_tree_menu.menu_for(replays)
    assert texts(menu) == ["Copy Row"]
    assert copy_with(menu, "copy") == "Replays (2)"
    menu.deleteLater()
    replay = w.run_tree_model.index(0, 0, replays)
    menu = w.run_tree_menu.menu_for(replay)
    assert copy_with(menu, "copy_run_id") in REPLAYS
    assert "Compare With Original" not in texts(menu)
    show = action(menu, "show_in_list")
    assert show.isEnabled()
    show.trigger()
    idle(qtbot, w)
    assert w.current_run().run_id in REPLAYS
    menu.deleteLater()


# -- the step table ----------------------------------------------------------------------------------


def test_step_table_menu_copies_the_step_and_goes_to_a_step(qtbot, window):
    w = window
    select_run(qtbot, w, ORIGINAL_RUN)
    view, model = w.steps_view, w.steps_model
    view.setCurrentIndex(model.index(1, 2))
    menu = w.steps_panel.table_menu.menu_for(view.currentIndex())
    assert texts(menu) == ["Copy Step Index", "Copy Row", "Copy Cell", "Copy as JSON", "Go to Step…", "Find…",
                           "Find in Run…"]
    assert action(menu, "find_in_run") is w.actions_by_name["find_in_run"]
    assert copy_with(menu, "copy_step_id") == "1"
    assert copy_with(menu, "copy_cell") == "skill.http_call"
    doc = json.loads(copy_with(menu, "copy_json"))
    assert doc["step_index"] == 1 and doc["run_id"] == ORIGINAL_RUN and doc["status"] == "failure"
    assert copy_with(menu, "copy") == "\t".join(model.index(1, c).data() for c in range(model.columnCount()))
    action(menu, "go_to_step").trigger()
    assert w.focusWidget() is w.steps_panel.go_to
    menu.deleteLater()
    # The keys: Ctrl+Shift+C the step index, Ctrl+G the Go to box.
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert clipboard() == "1"


def test_a_copy_reads_only_rows_read_and_caps_the_rows(qtbot, window):
    w = window
    select_run(qtbot, w, BIG_RUN)
    view, model = w.steps_view, w.steps_model
    assert model.rowCount() == BIG_RUN_STEPS
    read = {row for row, _ in model.loaded_rows()}
    assert len(read) < BIG_RUN_STEPS
    pages_before = model.pages_read
    view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
    view.selectAll()
    copied = selection_text(view, lambda row: model.step_at(row) is not None)
    assert copied.text is not None and len(copied.text.splitlines()) == len(read)
    assert f"{BIG_RUN_STEPS - len(read):,} not read yet left out" in copied.note
    capped = selection_text(view, lambda row: model.step_at(row) is not None, max_rows=50)
    assert capped.note == f"Copied 50 rows (the first 50 of {BIG_RUN_STEPS:,} selected)"
    assert model.pages_read == pages_before  # a copy never reads
    # A row not read yet: nothing copied, and said.
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    unread = next(r for r in range(model.rowCount()) if r not in read)
    view.selectionModel().clearSelection()
    view.selectionModel().setCurrentIndex(model.index(unread, 0), view.selectionModel().SelectionFlag.NoUpdate)
    menu = w.steps_panel.table_menu.menu_for(model.index(unread, 0))
    assert texts(menu)[0] == "Copy Step Index" and "Copy as JSON" not in texts(menu)
    assert not action(menu, "copy_cell").isEnabled()
    menu.deleteLater()


class MillionRows(QAbstractTableModel):
    """A table of a million rows that counts what it is asked."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = 0

    def rowCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else 1_000_000

    def columnCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else 3

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        self.asked += 1
        return f"r{index.row()}\tc{index.column()}"


def test_selecting_a_million_rows_copies_the_first_ten_thousand_without_walking_the_rest(qtbot):
    model = MillionRows()
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    menu = ViewMenu(view)
    view.selectAll()
    assert len(view.selectionModel().selection()) == 1  # one range, not a million indexes
    menu.put(menu.copy_selection())
    lines = clipboard().splitlines()
    assert len(lines) == MAX_COPY_ROWS and lines[0] == "r0 c0\tr0 c1\tr0 c2"  # tabs in a cell become spaces
    assert model.asked == MAX_COPY_ROWS * 3
    assert menu.last_note == f"Copied {MAX_COPY_ROWS:,} rows (the first {MAX_COPY_ROWS:,} of 1,000,000 selected)"


# -- the JSON viewer ---------------------------------------------------------------------------------

DOC = {"a/b": {"m~n": [1, "two", None]}, "url": "https://example.com/x", "n": 2.5, "items": [{"name": "x"},
                                                                                            {"name": "y"}]}


@pytest.fixture
def payload_view(qtbot):
    view = PayloadView("params")
    qtbot.addWidget(view)
    view.resize(600, 400)
    view.set_payload(Payload.from_value(DOC), file_stem="p", absent_text="")
    return view


def node(view, *rows):
    return view.model.index_at(rows)


def test_json_menu_copies_value_key_pointer_and_json(qtbot, payload_view):
    v = payload_view
    ix = node(v, 0, 0, 1)  # /a~1b/m~0n/1
    menu = v.menu.menu_for(ix)
    assert texts(menu) == ["Copy Value", "Copy Key", "Copy JSON Pointer", "Copy as JSON", "Find…"]
    assert copy_with(menu, "copy_pointer") == "/a~1b/m~0n/1"
    assert copy_with(menu, "copy_value") == "two"
    assert copy_with(menu, "copy_json") == '"two"'
    assert copy_with(menu, "copy_key") == "1"
    menu.deleteLater()
    menu = v.menu.menu_for(node(v, 0))
    assert copy_with(menu, "copy_value") == json.dumps(DOC["a/b"], indent=2)
    assert copy_with(menu, "copy_pointer") == "/a~1b"
    menu.deleteLater()
    menu = v.menu.menu_for(node(v))
    assert copy_with(menu, "copy_pointer") == ""  # the whole document
    assert json.loads(copy_with(menu, "copy_json")) == DOC
    menu.deleteLater()
    # The keys on the tree: Ctrl+C the value, Ctrl+Shift+C the pointer.
    v.tree.setCurrentIndex(node(v, 2))
    qtbot.keyClick(v.tree, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert clipboard() == "2.5"
    qtbot.keyClick(v.tree, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert clipboard() == "/n"


def test_a_huge_value_is_not_copied_and_the_user_is_told(qtbot):
    v = PayloadView("outcome data")
    qtbot.addWidget(v)
    big = {"blob": "x" * (MAX_COPY_CHARS + 1), "many": list(range(400_000))}
    v.set_payload(Payload.from_value(big), file_stem="p", absent_text="")
    QGuiApplication.clipboard().setText("before")
    v.tree.setCurrentIndex(node(v, 0))
    qtbot.keyClick(v.tree, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert clipboard() == "before"
    assert v.menu.last_note.startswith(f"Not copied: the value of /blob is {MAX_COPY_CHARS + 1:,} characters")
    v.tree.setCurrentIndex(node(v, 1))  # 400,000 numbers: over the limit as JSON, found without writing them all
    qtbot.keyClick(v.tree, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert clipboard() == "before" and "over 1,000,000 characters as JSON" in v.menu.last_note


def test_a_huge_key_is_held_to_the_copy_limit_and_notes_stay_short(qtbot):
    v = PayloadView("outcome data")
    qtbot.addWidget(v)
    key = "k" * (MAX_COPY_CHARS + 5)
    v.set_payload(Payload.from_value({key: 1, "s\ud800": "x\udc00y"}), file_stem="p", absent_text="")
    menu = v.menu.menu_for(node(v, 0))
    assert copy_with(menu, "copy_key") == "before" and copy_with(menu, "copy_pointer") == "before"
    assert v.menu.last_note.startswith("Not copied: the JSON pointer /kkk") and len(v.menu.last_note) < 400
    assert copy_with(menu, "copy_value") == "1" and len(v.menu.last_note) < 400
    assert len(action(menu, "copy_pointer").toolTip()) < 400
    menu.deleteLater()
    # A lone surrogate is written as its escape, and the note says so (the clipboard would drop it).
    menu = v.menu.menu_for(node(v, 1))
    assert copy_with(menu, "copy_value") == "x\\udc00y" and "1 lone surrogate" in v.menu.last_note
    assert copy_with(menu, "copy_key") == "s\\ud800"
    assert copy_with(menu, "copy_pointer") == "/s\\ud800"
    menu.deleteLater()


def test_json_find_bar_counts_moves_and_closes(qtbot, payload_view):
    v = payload_view
    v.tree.setFocus()
    qtbot.keyClick(v.tree, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert not v.find_bar.isHidden()
    v.find_bar.edit.setText("NAME")
    qtbot.waitUntil(lambda: not v.find.searching, timeout=WAIT)
    assert [m.pointer for m in v.find.search.matches] == ["/items/0/name", "/items/1/name"]
    assert v.model.item_at(v.tree.currentIndex())[2] == "/items/0/name"  # the first, shown at once
    assert v.tree.isExpanded(node(v, 3, 0))
    assert v.find_bar.count.text() == "1 of 2"
    qtbot.keyClick(v.find_bar.edit, Qt.Key.Key_Return)
    assert v.model.item_at(v.tree.currentIndex())[2] == "/items/1/name"
    assert v.find_bar.count.text() == "2 of 2"
    qtbot.keyClick(v.find_bar.edit, Qt.Key.Key_Return)  # wraps round
    assert v.find_bar.count.text() == "1 of 2"
    qtbot.keyClick(v.find_bar.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    assert v.find_bar.count.text() == "2 of 2"
    # F3 on the tree, too (the menu's Find Next).
    qtbot.keyClick(v.tree, Qt.Key.Key_F3)
    assert v.find_bar.count.text() == "1 of 2"
    v.find_bar.edit.setText("nothing like it")
    qtbot.waitUntil(lambda: not v.find.searching, timeout=WAIT)
    assert v.find_bar.count.text() == "No match"
    assert shortcut_override_taken(v.find_bar.edit, Qt.Key.Key_Escape)  # not the window's Esc
    qtbot.keyClick(v.find_bar.edit, Qt.Key.Key_Escape)
    assert v.find_bar.isHidden()


def test_json_find_searches_a_large_document_a_step_at_a_time(qtbot):
    v = PayloadView("outcome data")
    qtbot.addWidget(v)
    doc = {"rows": [{"id": i, "label": f"item-{i}"} for i in range(30_000)]}
    v.set_payload(Payload.from_value(doc), file_stem="p", absent_text="")
    v.find.open()
    v.find_bar.edit.setText("item-29999")
    search = v.find.search
    assert search is not None and not search.done and v.find.searching  # not all at once
    assert v.find_bar.count.text() == "0 so far…"
    qtbot.waitUntil(lambda: not v.find.searching, timeout=WAIT)
    assert [m.pointer for m in search.matches] == ["/rows/29999/label"]
    # Inside 30,000 items: named, not opened (opening a million-item array froze the window 21 s).
    rows = v.model.index_at(())
    assert not v.tree.isExpanded(v.model.index(0, 0, rows))
    assert v.find_bar.count.text() == ("– of 1 · at /rows/29999/label, inside 30,000 items: not opened "
                                       "(expand it to go there)")
    # Opened by the user, the match is gone to.
    v.tree.expand(v.model.index(0, 0, rows))
    qtbot.keyClick(v.find_bar.edit, Qt.Key.Key_Return)
    assert v.model.item_at(v.tree.currentIndex())[2] == "/rows/29999/label"
    assert v.find_bar.count.text() == "1 of 1"
    # Another payload shown: searched again.
    v.set_payload(Payload.from_value({"x": "item-29999"}), file_stem="p", absent_text="")
    v.find.finish()
    assert [m.pointer for m in v.find.search.matches] == ["/x"]


def test_the_detail_panel_json_of_a_step(qtbot, window):
    w = window
    select_run(qtbot, w, ORIGINAL_RUN)
    w.steps_view.setCurrentIndex(w.steps_model.index(1, 0))
    qtbot.waitUntil(lambda: w.detail.kind == "step", timeout=WAIT)
    params = w.detail.first
    top = params.model.index_at(())
    row = next(r for r in range(params.model.rowCount(top)) if params.model.index(r, 0, top).data() == "ü")
    menu = params.menu.menu_for(params.model.index(row, 0, top))
    assert copy_with(menu, "copy_value") == "日本語"
    assert copy_with(menu, "copy_pointer") == "/ü"
    menu.deleteLater()


# -- the step table's find bar -----------------------------------------------------------------------


def test_step_find_bar_looks_in_the_rows_read_and_hands_the_whole_run_to_find_in_run(qtbot, window):
    w = window
    select_run(qtbot, w, BIG_RUN)
    view, model, bar = w.steps_view, w.steps_model, w.steps_panel.find_bar
    view.setCurrentIndex(model.index(0, 0))
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert not bar.isHidden()
    bar.edit.setText("FAILED")  # step j fails when j % 10 == 0
    read = len(model.loaded_rows())
    assert read >= PAGE_ROWS
    expected = sorted(r for r, texts in model.loaded_rows() if texts[1] == "failed")
    assert w.steps_panel.find.matches == expected
    assert view.currentIndex().row() == 0
    assert bar.count.text() == f"1 of {len(expected)} · {read:,}/{BIG_RUN_STEPS:,} steps read"
    qtbot.keyClick(bar.edit, Qt.Key.Key_Return)
    assert view.currentIndex().row() == expected[1]
    qtbot.keyClick(bar.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)
    qtbot.keyClick(bar.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ShiftModifier)  # wraps to the last
    assert view.currentIndex().row() == expected[-1]
    bar.edit.setText("no such text")
    assert bar.count.text() == f"No match · {len(model.loaded_rows()):,}/{BIG_RUN_STEPS:,} steps read"
    # The whole run: Find in Run's search on a worker.
    bar.edit.setText("json_transform")
    bar.whole_button.click()
    panel = w.run_docks.search_panel
    assert panel.query.text() == "json_transform"
    qtbot.waitUntil(lambda: not panel.searching, timeout=WAIT)
    assert panel.model.rowCount() == BIG_RUN_STEPS
    qtbot.keyClick(bar.edit, Qt.Key.Key_Escape)
    assert bar.isHidden()


# -- findings, reasons and record tables ---------------------------------------------------------------


def test_finding_menu_copies_the_rule_and_goes_to_its_step(qtbot, make_window, tmp_path):
    from datetime import datetime

    from drivers.sqlite_writer import SQLiteTraceWriter, StepInput

    db = tmp_path / "traces.db"
    with SQLiteTraceWriter(db, clock=lambda: datetime(2026, 11, 1, 12, 0)) as wr:
        wr.start_trace("early", "c", "t", "a", [{"skill": "x"}])
        wr.record_steps([StepInput("early", i, "x", {}, "success", "SUCCESS", None, None, 0.5, 10.0) for i in range(5)])
        wr.complete_trace("early", "completed")
        wr.execute_raw("UPDATE trace_steps SET timestamp = '2026-11-01T11:00:00+00:00' WHERE step_index = 2", ())
    w = make_window()
    open_and_wait(qtbot, w, db)
    select_run(qtbot, w, "early")
    w.consistency_dock.show()
    panel = w.consistency_panel
    run = w.current_run()
    panel.show_run(run.key, run.run_id)
    qtbot.waitUntil(lambda: panel.current is not None, timeout=WAIT)
    row = next(r for r in range(panel.model.rowCount()) if panel.model.record_at(r).rule_id == "INS-006")
    index = panel.model.index(row, 0)
    panel.view.setCurrentIndex(index)
    menu = panel.menu.menu_for(index)
    assert copy_with(menu, "copy_rule_id") == "INS-006"
    assert json.loads(copy_with(menu, "copy_json"))["rule_id"] == "INS-006"
    assert copy_with(menu, "copy").split("\t")[0] == "INS-006"
    with qtbot.waitSignal(panel.finding_chosen, timeout=WAIT):
        action(menu, "show_panels").trigger()
    w.steps_view.setCurrentIndex(w.steps_model.index(0, 0))
    go = action(menu, "go_to_step")
    assert go.text() == "Go to Step 2"
    go.trigger()
    assert w.steps_view.current_step_index() == 2
    menu.deleteLater()


def test_reason_menu_copies_message_code_and_shows_rows(qtbot, make_window, tmp_path):
    from tests.ui.evidence_dbs import WARN_RUN, build_evidence_db

    w = make_window()
    open_and_wait(qtbot, w, build_evidence_db(tmp_path / "ev.db"))
    qtbot.waitUntil(lambda: w.session.evidence is not None, timeout=WAIT)
    qtbot.waitUntil(lambda: w.runs_model.row_of(WARN_RUN) is not None, timeout=WAIT)
    assert w.select_run(WARN_RUN)
    panel = w.evidence_panel
    panel.show_run(WARN_RUN)
    qtbot.waitUntil(lambda: panel.current is not None and not panel.pending, timeout=WAIT)
    model = panel.reasons_model
    row = next(r for r in range(model.rowCount()) if model.reason_at(r).code == "CAPTURE_FAILURE")
    reason = model.reason_at(row)
    menu = panel.reasons_menu.menu_for(model.index(row, 0))
    assert texts(menu) == ["Copy Message", "Copy Code", "Copy as JSON", "Show Rows"]
    assert copy_with(menu, "copy_message") == reason.message
    assert copy_with(menu, "copy_code") == "CAPTURE_FAILURE"
    assert json.loads(copy_with(menu, "copy_json")) == reason.as_json()
    action(menu, "show_rows").trigger()
    failures = panel.cards["evidence_capture_failures"]
    assert panel.card_tabs.currentWidget() is failures and failures.selected_rows() == [1]
    menu.deleteLater()
    # An evidence card (a record table, several rows selectable): Ctrl+C copies the rows selected.
    failures.view.selectAll()
    rows = failures.model.rowCount()
    qtbot.keyClick(failures.view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert len(clipboard().splitlines()) == rows
    card_menu = menu_of(failures.view)
    assert card_menu.last_note == f"Copied {rows} rows"
    menu = card_menu.menu_for(failures.model.index(0, 0))
    assert texts(menu) == ["Copy Rows", "Copy Cell", "Copy as JSON"]
    assert json.loads(copy_with(menu, "copy_json"))["id"] == failures.model.record_at(0).id
    menu.deleteLater()


def test_every_new_key_is_in_help_keyboard_shortcuts(qtbot, window):
    from ui.qt.windows.about import shortcut_rows

    rows = dict((keys, what) for what, keys in shortcut_rows(window.actions_by_name))
    for keys in ("Ctrl+C", "Ctrl+Shift+C", "Ctrl+F", "Menu / Shift+F10", "Esc", "Ctrl+G"):
        assert keys in rows, keys
    assert "Find in the step table or a JSON view" in rows["Ctrl+F"] or any(
        "Find in the step table" in what for what in rows.values())
