"""Scripted screenshots of the main window (README images, visual checks under Xvfb).

``TRACE_INSPECTOR_SCREENSHOT=out.png trace-inspector DB`` opens DB, selects a run
(``TRACE_INSPECTOR_RUN`` or the first run with several steps), its step
``TRACE_INSPECTOR_STEP`` (default 1), saves the window as PNG and quits.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

__all__ = ["schedule_screenshot"]


def schedule_screenshot(window, path: str, *, timeout_ms: int = 60000) -> None:
    state = {"phase": "open", "waited": 0}
    want_run = os.environ.get("TRACE_INSPECTOR_RUN")
    want_step = int(os.environ.get("TRACE_INSPECTOR_STEP", "1"))

    def idle() -> bool:
        runner = window.source_runner
        background = window.background_runner
        return (window.source is not None and runner is not None and runner.pending == 0
                and background is not None and background.pending == 0 and not window.runs_model.loading)

    def tick() -> None:
        state["waited"] += 200
        if state["waited"] > timeout_ms:
            window.grab().save(path)
            QApplication.quit()
            return
        if not idle():
            QTimer.singleShot(200, tick)
            return
        model = window.runs_model
        if state["phase"] == "open":
            target = None
            if want_run:
                target = want_run if window.select_run(want_run) else None
                if target is None and not state.get("searched"):
                    # not on a loaded page: narrow the list to it and try again
                    state["searched"] = True
                    window.filters.search.setText(want_run)
                    window.filters.search.editingFinished.emit()
                    QTimer.singleShot(300, tick)
                    return
            if target is None:
                for row in range(min(model.rowCount(), 200)):
                    run = model.run_at(row, request=False)
                    if run and not run.orphan and (run.total_steps or 0) >= 4 and not run.replay_of:
                        window.runs_view.selectRow(row)
                        break
            state["phase"] = "run"
        elif state["phase"] == "run":
            top = window.steps_model.top_index()
            node_rows = 0
            while window.steps_model.data(window.steps_model.index(node_rows, 0, top), 0x0101) is None and node_rows < 2:
                node_rows += 1
            ix = window.steps_model.index(node_rows + want_step, 0, top)
            if ix.isValid():
                window.steps_view.setCurrentIndex(ix)
            state["phase"] = "step"
        elif state["phase"] == "step":
            state["phase"] = "shot"
        else:
            window.grab().save(path)
            QApplication.quit()
            return
        QTimer.singleShot(300, tick)

    QTimer.singleShot(300, tick)
