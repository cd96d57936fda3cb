"""The start page (no source open) and a source that will not open, from the window and from the
command line (pytest-qt, real SQLite files)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest

from tests.ui.test_main_window import WAIT, idle, open_and_wait
from ui.qt.messages import Level

pytestmark = pytest.mark.gui


def test_a_new_window_shows_the_start_page_with_the_file_actions(qtbot, make_window):
    w = make_window()
    w.show()
    assert w.pages.currentWidget() is w.start_page
    assert not w.runs_view.isVisible()
    page = w.start_page
    assert page.no_recent.isVisibleTo(w) and not page.recent_list.isVisibleTo(w)
    for name in ("open", "connect", "demo"):
        action, button = w.actions_by_name[name], page.buttons[name]
        assert button.text() == action.text()
        assert action.statusTip() and action.statusTip() in button.toolTip()
    # Each button is its menu action: disabling the action disables the button.
    w.actions_by_name["demo"].setEnabled(False)
    assert not page.buttons["demo"].isEnabled()
    assert "Ctrl+O" in page.buttons["open"].toolTip()
    assert "drop" in page.findChild(type(page.no_recent), "dropHint").text().lower()


def test_the_demo_button_opens_the_demo(qtbot, make_window, tmp_path):
    from drivers.demo import generate_demo

    def provider(progress=None):
        path = tmp_path / "demo.db"
        generate_demo(path, 3, big_run_steps=200, progress=progress)
        return path

    w = make_window(demo_provider=provider)
    w.show()
    qtbot.mouseClick(w.start_page.buttons["demo"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.source is not None and w.runs_model.rowCount() > 0, timeout=60000)
    idle(qtbot, w)
    assert w.pages.currentWidget() is w.browse_page and w.runs_view.isVisible()


def test_recent_sources_open_from_the_start_page_and_closing_returns_to_it(qtbot, make_window, small_db, tmp_path):
    w = make_window()
    w.show()
    open_and_wait(qtbot, w, small_db)
    assert w.pages.currentWidget() is w.browse_page
    w.close_source()
    assert w.pages.currentWidget() is w.start_page
    page = w.start_page
    assert page.recent_locations() == [str(small_db)]
    assert page.recent_list.isVisibleTo(w) and not page.no_recent.isVisibleTo(w)
    # Enter on the (selected) first recent source opens it.
    page.recent_list.setFocus()
    QTest.keyClick(page.recent_list, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: w.source is not None and w.runs_model.rowCount() > 0, timeout=WAIT)
    idle(qtbot, w)
    assert w.pages.currentWidget() is w.browse_page
    # Clear recent empties the list on the page too.
    w.recent.clear()
    assert page.recent_locations() == []
    w.close_source()
    assert page.no_recent.isVisibleTo(w)


def test_a_path_that_does_not_exist_shows_the_banner_on_the_start_page(qtbot, make_window, tmp_path):
    w = make_window()
    w.show()
    missing = tmp_path / "nope" / "traces.db"
    w.open_location(str(missing))
    qtbot.waitUntil(lambda: w.banner.isVisibleTo(w), timeout=WAIT)
    text = w.banner.label.text()
    assert str(missing) in text and "no such file" in text.lower()
    assert "\n" not in text and "Traceback" not in text
    assert w.pages.currentWidget() is w.start_page and w.source is None
    assert any(level == Level.ERROR for level, _ in w.bus.history)
    # It was not remembered as a recent source.
    assert w.start_page.recent_locations() == []


def run_window(tmp_path, *args: str) -> tuple[subprocess.CompletedProcess, Path]:
    """``trace-inspector ARGS`` in screenshot mode (it saves the window and quits), offscreen, with
    settings of its own, from ``tmp_path``: the process and the screenshot's path."""
    shot = tmp_path / "shot.png"
    env = dict(os.environ, TRACE_INSPECTOR_SCREENSHOT=str(shot), QT_QPA_PLATFORM="offscreen",
               XDG_CONFIG_HOME=str(tmp_path / "config"), XDG_STATE_HOME=str(tmp_path / "state"),
               XDG_CACHE_HOME=str(tmp_path / "cache"), PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.run([sys.executable, "-m", "ui.cli", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    return proc, shot


def test_the_command_opens_the_window_on_a_missing_path(tmp_path):
    """`trace-inspector missing.db` opens the window (start page and banner), as for any bad input,
    instead of exiting 2 before the window."""
    proc, shot = run_window(tmp_path, str(tmp_path / "missing.db"))
    assert proc.returncode == 0, proc.stderr
    image = QImage(str(shot))
    assert not image.isNull() and image.width() > 600


def test_what_needs_a_source_is_off_until_one_opens(qtbot, make_window, small_db):
    w = make_window()
    needs = ("refresh", "close", "export", "find_in_run", "replay_check", "export_filtered")
    assert not any(w.actions_by_name[n].isEnabled() for n in needs)
    assert all(w.actions_by_name[n].isEnabled() for n in ("open", "connect", "demo", "quit", "about"))
    open_and_wait(qtbot, w, small_db)
    assert all(w.actions_by_name[n].isEnabled() for n in needs)
    w.close_source()
    assert not any(w.actions_by_name[n].isEnabled() for n in needs)


def test_an_open_that_hangs_can_be_stopped_from_the_start_page(qtbot, make_window):
    """A server that takes the connection and never answers: File → Stop Opening gives it up at
    once (the drivers would wait 5 s); when the attempt ends, its failure is not reported and
    nothing is installed."""
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # the handshake completes in the backlog; nobody ever answers
    port = listener.getsockname()[1]
    w = make_window()
    w.show()
    close = w.actions_by_name["close"]
    assert not close.isEnabled()
    url = f"postgresql://nobody@127.0.0.1:{port}/silent"
    w.open_location(url)  # (the drivers give up after 5 s: what follows is immediate)
    assert close.isEnabled() and w.session.opening and close.text() == "Stop &Opening"
    errors_before = [t for level, t in w.bus.history if level == Level.ERROR]
    close.trigger()
    assert not w.session.opening and not close.isEnabled() and close.text() == "&Close Source"
    assert any(f"Stopped opening {url}" in t for _, t in w.bus.history)
    # The server goes away: the attempt fails, and nobody hears of it.
    listener.close()
    qtbot.waitUntil(lambda: w.session._opener.pending == 0, timeout=WAIT)
    qtbot.wait(50)
    assert [t for level, t in w.bus.history if level == Level.ERROR] == errors_before
    assert w.source is None and w.pages.currentWidget() is w.start_page and not w.banner.isVisibleTo(w)
