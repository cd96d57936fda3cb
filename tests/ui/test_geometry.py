"""Windows open within the screen and come back as the user left them (issue 16): the main
window's size and place, its splitters and its tables' columns, kept in QSettings. The test
screen is 1280×800 (tests/conftest.py)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

pytestmark = pytest.mark.gui


def _within_screen(window) -> bool:
    avail = (window.screen() or QGuiApplication.primaryScreen()).availableGeometry()
    return avail.contains(window.geometry())


def test_the_main_window_opens_within_a_1280x800_screen(make_window):
    w = make_window()
    w.show()
    avail = QGuiApplication.primaryScreen().availableGeometry()
    assert (avail.width(), avail.height()) == (1280, 800)  # smaller than the window's default 1500×900
    assert _within_screen(w) and w.width() > 1100 and w.height() > 700


def test_the_main_window_comes_back_as_it_was_left(make_window):
    w = make_window()
    w.show()
    w.resize(1100, 700)
    w.move(10, 20)
    w.splitter.setSizes([300, 700])
    w.steps_view.setColumnWidth(2, 222)
    w.runs_view.horizontalHeader().moveSection(0, 3)
    sizes = w.splitter.sizes()
    w.close()
    again = make_window()
    again.show()
    assert (again.width(), again.height()) == (1100, 700)
    assert again.splitter.sizes() == sizes
    assert again.steps_view.columnWidth(2) == 222
    assert again.runs_view.horizontalHeader().visualIndex(0) == 3
    assert _within_screen(again)


def test_a_remembered_place_off_the_screen_is_not_used(make_window):
    w = make_window()
    w.show()
    w.move(50_000, 50_000)  # a monitor that is gone
    w.close()
    again = make_window()
    again.show()
    assert _within_screen(again)


def test_a_saved_sort_indicator_does_not_disagree_with_the_list(make_window, small_db, qtbot):
    from PySide6.QtCore import Qt

    from tests.ui.test_main_window import open_and_wait
    from ui.qt.models.runs import column_of

    w = make_window()
    w.show()
    w.runs_view.horizontalHeader().setSortIndicator(column_of("total_cost_cents"), Qt.SortOrder.AscendingOrder)
    w.close()
    again = make_window()
    open_and_wait(qtbot, again, small_db)
    header = again.runs_view.horizontalHeader()
    assert (header.sortIndicatorSection(), header.sortIndicatorOrder()) == (
        column_of("started_at"), Qt.SortOrder.DescendingOrder)
    assert again.runs_model.sort_key[0].name == "STARTED_AT"


def _press(window, key: str) -> None:
    """The window's shortcut for ``key`` fires (offscreen windows are never active, so a key
    event would not reach Qt's shortcut map)."""
    from PySide6.QtGui import QShortcut

    shortcuts = [s for s in window.findChildren(QShortcut) if s.key().toString() == key]
    assert shortcuts, f"no {key} shortcut"
    shortcuts[0].activated.emit()


def test_a_compare_window_fits_the_screen_closes_on_esc_and_comes_back_as_left(qtbot, make_window, small_db):
    from tests.ui.dbs import ORIGINAL_RUN
    from tests.ui.test_main_window import open_and_wait
    from ui.qt.windows.compare import CompareWindow, open_compare

    w = make_window()
    open_and_wait(qtbot, w, small_db)
    first = open_compare(w, w.session.sibling, (w.session, ORIGINAL_RUN))
    assert isinstance(first, CompareWindow)
    qtbot.waitExposed(first)
    assert _within_screen(first)  # its default 1280×860 does not fit 1280×800
    first.resize(1100, 700)
    assert (first.width(), first.height()) == (1100, 700)
    first.move(30, 40)
    _press(first, "Esc")
    qtbot.waitUntil(lambda: not first.isVisible(), timeout=10_000)
    again = open_compare(w, w.session.sibling, (w.session, ORIGINAL_RUN))
    qtbot.waitExposed(again)
    assert (again.width(), again.height()) == (1100, 700) and _within_screen(again)
    _press(again, "Ctrl+W")
    qtbot.waitUntil(lambda: not again.isVisible(), timeout=10_000)


def test_the_runs_columns_show_their_values_whole(make_window):
    from ui.qt.models.runs import column_of

    w = make_window()
    view = w.runs_view
    metrics = view.fontMetrics()
    for field, sample in (("total_steps", "1,000,000"), ("total_duration_ms", "23 h 59 min"),
                          ("started_at", "2026-10-27 17:52:10")):
        col = column_of(field)
        assert view.columnWidth(col) >= metrics.horizontalAdvance(sample) + 8, field
        header = w.runs_model.headerData(col, Qt.Orientation.Horizontal)
        assert view.columnWidth(col) >= metrics.horizontalAdvance(header) + 16, field


def test_the_step_columns_show_their_values_whole(qtbot, make_window, small_db):
    """Every cell of a real run's steps fits its column (header, and text beside its icon)."""
    from tests.ui.dbs import BIG_RUN
    from tests.ui.test_main_window import open_and_wait, select_run

    w = make_window()
    w.show()
    open_and_wait(qtbot, w, small_db)
    select_run(qtbot, w, BIG_RUN)
    view, model = w.steps_view, w.steps_model
    qtbot.waitUntil(lambda: model.step_at(0) is not None, timeout=15_000)
    metrics = view.fontMetrics()
    rows = [r for r in range(min(model.rowCount(), 100)) if model.step_at(r) is not None]
    assert rows
    for col in range(model.columnCount() - 1):  # the last column stretches
        header = model.headerData(col, Qt.Orientation.Horizontal)
        assert view.columnWidth(col) >= metrics.horizontalAdvance(header) + 16, header
        for row in rows:
            ix = model.index(row, col)
            text = ix.data() or ""
            icon = 20 if ix.data(Qt.ItemDataRole.DecorationRole) is not None else 0
            assert view.columnWidth(col) >= metrics.horizontalAdvance(text) + icon + 8, (header, text)


def test_the_replay_check_and_idempotency_windows_fit_the_screen_and_close_on_esc(qtbot, make_window, small_db):
    from PySide6.QtWidgets import QApplication

    from tests.ui.dbs import REPLAYS
    from tests.ui.test_main_window import open_and_wait
    from ui.qt.windows.idempotency import IdempotencyView
    from ui.qt.windows.replay_check import ReplayCheckView

    w = make_window()
    open_and_wait(qtbot, w, small_db)
    qtbot.waitUntil(lambda: w.runs_model.row_of(REPLAYS[0]) is not None, timeout=15_000)
    assert w.select_run(REPLAYS[0])
    for action, kind in (("replay_check", ReplayCheckView), ("idempotency", IdempotencyView)):
        w.actions_by_name[action].trigger()
        (view,) = [v for v in QApplication.topLevelWidgets() if isinstance(v, kind) and v.isVisible()]
        qtbot.waitExposed(view)
        assert _within_screen(view), kind.__name__
        _press(view, "Esc")
        qtbot.waitUntil(lambda view=view: not view.isVisible(), timeout=10_000)
