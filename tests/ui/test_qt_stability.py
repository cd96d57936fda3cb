"""PySide6 6.12.0 drops a reference to None on many void calls and aborts Python 3.11 after
~5,000 of them (ENVIRONMENT.md). The pin keeps us below 6.12; this test proves it holds."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.gui


def test_twenty_thousand_void_qt_calls_do_not_abort():
    script = textwrap.dedent("""
        import os
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6.QtWidgets import QApplication, QWidget
        from PySide6.QtGui import QStandardItemModel
        app = QApplication([])
        w = QWidget()
        m = QStandardItemModel()
        for i in range(10_000):
            w.resize(100 + i % 50, 100)
            m.setRowCount(i % 7)
        print("ok")
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "ok"


def test_a_result_that_arrives_after_cancel_is_released(qtbot):
    """Work that finishes after its task was cancelled (a window closing while a source opens)
    hands its result to on_discard instead of dropping it: no connection is left to the GC."""
    import threading

    from ui.qt.session.tasks import TaskRunner

    runner = TaskRunner("test")
    started, release = threading.Event(), threading.Event()
    released: list[str] = []
    delivered: list[str] = []

    def work():
        started.set()
        release.wait(10)
        return "an open source"

    task = runner.submit(work, delivered.append, on_discard=released.append)
    assert started.wait(10)
    task.cancel()
    release.set()
    qtbot.waitUntil(lambda: released == ["an open source"], timeout=10000)
    runner.shutdown()
    assert delivered == []

    # The same when the runner is shut down while the work runs.
    runner = TaskRunner("test2")
    started.clear()
    release.clear()
    runner.submit(work, delivered.append, on_discard=released.append)
    assert started.wait(10)
    runner.shutdown_async()
    release.set()
    qtbot.waitUntil(lambda: len(released) == 2, timeout=10000)
    runner.shutdown()
    assert delivered == []
