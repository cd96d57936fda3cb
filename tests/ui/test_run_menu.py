"""The Run menu of the main window (issue 5): compare a replay with its original, compare with a
named run, the replay check and the idempotency keys, on a real SQLite file with real workers."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication, QInputDialog, QWidget

from inspector.compare import compare_runs, load_side
from tests.ui.dbs import ORIGINAL_RUN, REPLAYS
from tests.ui.test_main_window import WAIT, idle, open_and_wait
from ui.qt.windows.compare import CompareWindow
from ui.qt.windows.idempotency import IdempotencyView
from ui.qt.windows.replay_check import ReplayCheckView

pytestmark = pytest.mark.gui


def top_levels(kind):
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, kind) and w.isVisible()]


@pytest.fixture
def window(qtbot, make_window, small_db):
    w = make_window()
    open_and_wait(qtbot, w, small_db)
    return w


def select(qtbot, window, run_id):
    qtbot.waitUntil(lambda: window.runs_model.row_of(run_id) is not None, timeout=WAIT)
    assert window.select_run(run_id)
    idle(qtbot, window)


def test_compare_with_original_opens_the_pair_and_its_verdict(qtbot, window, small_db):
    before = set(top_levels(CompareWindow))
    select(qtbot, window, REPLAYS[0])
    window.actions_by_name["compare_original"].trigger()
    qtbot.waitUntil(lambda: bool(set(top_levels(CompareWindow)) - before), timeout=WAIT)
    (cw,) = set(top_levels(CompareWindow)) - before
    qtbot.waitUntil(lambda: cw.comparison is not None, timeout=WAIT)
    from drivers.sqlite_reader import SQLiteTraceReader

    reader = SQLiteTraceReader(small_db)
    try:
        expected = compare_runs(load_side(reader, ORIGINAL_RUN).steps, load_side(reader, REPLAYS[0]).steps)
    finally:
        reader.close()
    assert cw.comparison.parity == expected.parity
    cw.close()
    # the main window's source is still usable
    select(qtbot, window, ORIGINAL_RUN)


def test_closing_the_main_window_closes_what_its_compare_windows_opened(qtbot, window, small_db, tmp_path):
    import shutil

    other = tmp_path / "other.db"
    shutil.copyfile(small_db, other)
    before = set(top_levels(CompareWindow))
    select(qtbot, window, REPLAYS[0])
    window.actions_by_name["compare_original"].trigger()
    qtbot.waitUntil(lambda: bool(set(top_levels(CompareWindow)) - before), timeout=WAIT)
    (cw,) = set(top_levels(CompareWindow)) - before
    qtbot.waitUntil(lambda: cw.comparison is not None, timeout=WAIT)
    cw.location_edits["left"].setText(str(other))  # a source the Compare window opens itself
    cw.run_edits["left"].setText(ORIGINAL_RUN)
    cw.start()
    qtbot.waitUntil(lambda: cw.state == "shown" and cw.open_locations() == [str(other)], timeout=WAIT)
    window.shutdown()
    assert cw.open_locations() == [] and cw.idle


def test_compare_with_original_of_a_run_that_is_not_a_replay_says_so(qtbot, window):
    messages = []
    window.bus.posted.connect(lambda level, text: messages.append(text))
    before = set(top_levels(CompareWindow))
    select(qtbot, window, ORIGINAL_RUN)
    action = window.actions_by_name["compare_original"]
    assert not action.isEnabled() and "is not a replay" in action.toolTip()  # the menu says so
    window.compare_with_original()  # and so does the command, asked anyway
    assert any("is not a replay" in m for m in messages)
    assert set(top_levels(CompareWindow)) == before


def test_compare_with_a_named_run(qtbot, window, monkeypatch):
    monkeypatch.setattr(QInputDialog, "getText", staticmethod(lambda *a, **k: (REPLAYS[1], True)))
    before = set(top_levels(CompareWindow))
    select(qtbot, window, ORIGINAL_RUN)
    window.actions_by_name["compare_with"].trigger()
    qtbot.waitUntil(lambda: bool(set(top_levels(CompareWindow)) - before), timeout=WAIT)
    (cw,) = set(top_levels(CompareWindow)) - before
    qtbot.waitUntil(lambda: cw.comparison is not None, timeout=WAIT)
    assert len(cw.comparison.left) > 0
    cw.close()


def test_replay_check_and_idempotency_views_open_and_close_with_the_source(qtbot, window):
    select(qtbot, window, REPLAYS[0])
    window.actions_by_name["replay_check"].trigger()
    (rv,) = top_levels(ReplayCheckView)
    done = []
    rv.checked.connect(done.append)
    qtbot.waitUntil(lambda: bool(done), timeout=WAIT)
    window.actions_by_name["idempotency"].trigger()
    assert len(top_levels(IdempotencyView)) == 1
    views = top_levels(ReplayCheckView) + top_levels(IdempotencyView)
    assert len(views) == 2 and all(v.parent() is window for v in views)
    window.close_source()
    qtbot.waitUntil(lambda: not top_levels(ReplayCheckView) and not top_levels(IdempotencyView), timeout=WAIT)
    # closed and deleted (WA_DeleteOnClose): nothing of them stays with the window
    qtbot.waitUntil(lambda: not window.findChildren(ReplayCheckView) and not window.findChildren(IdempotencyView),
                    timeout=WAIT)


def test_run_actions_without_a_selection_say_what_to_do(qtbot, make_window, small_db):
    from tests.ui.test_main_window import open_and_wait

    w = make_window()
    open_and_wait(qtbot, w, small_db)
    w.runs_view.clearSelection()
    w.runs_view.setCurrentIndex(w.runs_model.index(-1, -1))
    messages = []
    w.bus.posted.connect(lambda level, text: messages.append(text))
    for name in ("compare_original", "compare_with", "replay_check", "idempotency"):
        w.actions_by_name[name].trigger()
    assert len(messages) == 4 and all(m.startswith("Select a run first") for m in messages)


def test_compare_with_original_is_there_for_a_replay_only(qtbot, make_window, small_db):
    from tests.ui.dbs import ORIGINAL_RUN, REPLAYS
    from tests.ui.test_main_window import open_and_wait, select_run

    w = make_window()
    open_and_wait(qtbot, w, small_db)
    action = w.actions_by_name["compare_original"]
    select_run(qtbot, w, ORIGINAL_RUN)
    assert not action.isEnabled() and "is not a replay" in action.toolTip()
    select_run(qtbot, w, REPLAYS[0])
    assert action.isEnabled() and ORIGINAL_RUN in action.toolTip()
    w.close_source()
    qtbot.waitUntil(lambda: not action.isEnabled(), timeout=10_000)


def test_help_about_and_the_keyboard_shortcuts(qtbot, make_window, settings):
    from importlib.metadata import version

    from PySide6.QtCore import qVersion

    w = make_window()
    w.actions_by_name["about"].trigger()
    about = w.findChild(QWidget, "aboutDialog")
    assert about is not None and about.isVisible()
    text = about.findChild(QWidget, "aboutText").text()
    for part in (version("aos-trace-inspector"), qVersion(), settings.fileName(), "demo-traces-seed7.db",
                 "Apache License 2.0"):
        assert part in text
    w.actions_by_name["shortcuts"].trigger()
    table = w.findChild(QWidget, "shortcutsDialog").findChild(QWidget, "shortcutsTable")
    rows = {table.item(r, 0).text(): table.item(r, 1).text() for r in range(table.rowCount())}
    assert rows["Compare With Original"] == "Ctrl+D" and rows["Keyboard Shortcuts"] == "Ctrl+/"
    assert rows["Go to step… (the step table)"] == "Ctrl+G"
    # every action that has keys is listed with them
    for action in w.actions_by_name.values():
        if action.shortcut().toString():
            assert rows[action.text().replace("&", "")] == action.shortcut().toString()
