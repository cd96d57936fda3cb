"""Scripted screenshots of the main window (README images, visual checks under Xvfb).

``TRACE_INSPECTOR_SCREENSHOT=out.png trace-inspector DB`` opens DB (without one, or when it will
not open: saves the start page and its banner, and quits), selects a run
(``TRACE_INSPECTOR_RUN`` or the first run with several steps), its step
``TRACE_INSPECTOR_STEP`` (default 1), saves the window as PNG and quits. On a Postgres source,
``TRACE_INSPECTOR_LOGS_TAB`` (audit, policy, llm, system, exports, window, mismatches) picks the
Run logs tab shown, and ``TRACE_INSPECTOR_LEDGER=out2.png`` also saves the Audit ledger window.
``TRACE_INSPECTOR_EVIDENCE=1`` raises the Evidence dock, waits for the run's evidence and for the
status bar's grading, and activates reason ``TRACE_INSPECTOR_REASON`` (a row number or a reason code; default: the first that
names rows), so its rows are shown selected; ``TRACE_INSPECTOR_EVIDENCE_TAB`` (environment,
activity, provider, policy, integrity, failures) then picks the card shown.
``TRACE_INSPECTOR_COLOR_SCHEME=dark`` (or ``light``) takes it in that colour scheme.
"""

from __future__ import annotations

import os

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from ui.qt.session.session import Worker

__all__ = ["schedule_screenshot"]


def schedule_screenshot(window, path: str, *, timeout_ms: int = 60000) -> None:
    state = {"phase": "open", "waited": 0}
    want_run = os.environ.get("TRACE_INSPECTOR_RUN")
    want_step = int(os.environ.get("TRACE_INSPECTOR_STEP", "1"))
    logs_tab = os.environ.get("TRACE_INSPECTOR_LOGS_TAB")
    ledger_path = os.environ.get("TRACE_INSPECTOR_LEDGER")
    evidence = os.environ.get("TRACE_INSPECTOR_EVIDENCE") not in (None, "", "0")
    want_reason = os.environ.get("TRACE_INSPECTOR_REASON")
    evidence_tab = os.environ.get("TRACE_INSPECTOR_EVIDENCE_TAB")

    session = window.session

    def idle() -> bool:
        panel = window._evidence_panel
        return (session.source is not None and session.pending(Worker.INTERACTIVE, Worker.BACKGROUND, Worker.LOGS,
                                                                Worker.EVIDENCE) == 0
                and not window.runs_model.loading and not window.grading.running and not window.activity.pending
                and not window.runs_model.findings.pending
                and (panel is None or not panel.pending)
                and (window._ledger_window is None or not window._ledger_window.pending))

    def tick() -> None:
        state["waited"] += 200
        if state["waited"] > timeout_ms:
            window.grab().save(path)
            QApplication.quit()
            return
        if state["phase"] == "open" and session.source is None and not session.opening and not window.disk.pending:
            # Nothing opened (no source given, or it would not open): the start page as it is,
            # with its banner.
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
                if target is None and not state.get("paged"):
                    # not on a loaded page: read the first pages of the list and look again
                    state["paged"] = True
                    for row in range(model.orphan_rows, min(model.rowCount(), 20 * 200), 200):
                        model.run_at(row)
                    QTimer.singleShot(300, tick)
                    return
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
            key = window.steps_model.step_index_at(want_step)
            if key is not None:
                window.steps_view.select_step(key)
            state["phase"] = "step"
        elif state["phase"] == "step" and evidence and session.evidence is not None \
                and not state.get("evidence"):
            state["evidence"] = True
            window.evidence_dock.show()
            window.evidence_dock.raise_()
            run = window.current_run()
            if run is not None:
                window._show_run_evidence(run)
            QTimer.singleShot(300, tick)
            return
        elif state["phase"] == "step" and state.get("evidence") and not state.get("reason"):
            state["reason"] = True
            panel = window.evidence_panel
            model = panel.reasons_model
            if want_reason is not None and want_reason.isdigit():
                row = int(want_reason)
            elif want_reason is not None:  # a reason code
                row = next((r for r in range(model.rowCount()) if model.reason_at(r).code == want_reason), -1)
            else:
                row = next((r for r in range(model.rowCount()) if model.reason_at(r).refs), -1)
            if 0 <= row < model.rowCount():
                panel.reasons_view.setCurrentIndex(model.index(row, 0))
            if evidence_tab:
                keys = {"environment": "environment_evidence", "activity": "activity_evidence",
                        "provider": "provider_evidence", "policy": "policy_decisions",
                        "integrity": "integrity_evidence", "failures": "evidence_capture_failures"}
                panel.card_tabs.setCurrentWidget(panel.cards[keys[evidence_tab]])
            QTimer.singleShot(300, tick)
            return
        elif state["phase"] == "step":
            if logs_tab and session.logs is not None:
                window.logs_dock.raise_()  # in front of the Evidence tab
                window.logs_panel.setCurrentIndex(window.logs_panel.tab_index(logs_tab))
                view = getattr(window.logs_panel, logs_tab, None)
                table = getattr(view, "view", None)
                if table is not None and table.model().rowCount() > 0:
                    table.selectRow(0)
            state["phase"] = "shot"
        elif state["phase"] == "shot":
            window.grab().save(path)
            if ledger_path and session.logs is not None:
                window.show_ledger()
                state["phase"] = "ledger"
            else:
                QApplication.quit()
                return
        else:
            ledger = window.ledger_window
            if ledger.model.rowCount() > 0 and not ledger.view.currentIndex().isValid():
                ledger.view.selectRow(0)
                QTimer.singleShot(300, tick)
                return
            ledger.grab().save(ledger_path)
            QApplication.quit()
            return
        QTimer.singleShot(300, tick)

    QTimer.singleShot(300, tick)
