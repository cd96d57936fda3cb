"""Scripted screenshots of the main window and the Compare window (README images, visual checks
under Xvfb).

``TRACE_INSPECTOR_SCREENSHOT=out.png trace-inspector DB`` opens DB, selects a run
(``TRACE_INSPECTOR_RUN`` or the first run with several steps), its step
``TRACE_INSPECTOR_STEP`` (default 1), saves the window as PNG and quits. On a Postgres source,
``TRACE_INSPECTOR_LOGS_TAB`` (audit, policy, llm, system, exports, window, mismatches) picks the
Run logs tab shown, and ``TRACE_INSPECTOR_LEDGER=out2.png`` also saves the Audit ledger window.
``TRACE_INSPECTOR_EVIDENCE=1`` raises the Evidence dock, waits for the run's evidence and for the
status bar's grading, and activates reason ``TRACE_INSPECTOR_REASON`` (default: the first that
names rows), so its rows are shown selected; ``TRACE_INSPECTOR_EVIDENCE_TAB`` (environment,
activity, provider, policy, integrity, failures) then picks the card shown.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from ui.qt.session.session import Worker

__all__ = ["compare_screenshot", "schedule_screenshot"]


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
                and not window.runs_model.loading and not window.grading.running
                and (panel is None or not panel.pending)
                and (window._ledger_window is None or not window._ledger_window.pending))

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
            top = window.steps_model.top_index()
            node_rows = 0
            while window.steps_model.data(window.steps_model.index(node_rows, 0, top), 0x0101) is None and node_rows < 2:
                node_rows += 1
            ix = window.steps_model.index(node_rows + want_step, 0, top)
            if ix.isValid():
                window.steps_view.setCurrentIndex(ix)
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
            if want_reason is not None:
                row = int(want_reason)
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


def compare_screenshot(argv: Sequence[str] | None = None) -> int:
    """Open the Compare window on a source and run(s); with ``--png`` save it once shown and quit.

        python -m ui.qt.screenshot SOURCE REPLAY [ORIGINAL | SOURCE_B RUN_B] [--ignore P]… [--png OUT]
    """
    from ui.qt.app import make_application, new_session
    from ui.qt.windows.compare import open_compare

    parser = argparse.ArgumentParser(prog="python -m ui.qt.screenshot", description=compare_screenshot.__doc__)
    parser.add_argument("operands", nargs="+", help="SOURCE REPLAY | SOURCE RUN_A RUN_B | SOURCE_A RUN_A SOURCE_B RUN_B")
    parser.add_argument("--ignore", action="append", default=[], metavar="POINTER")
    parser.add_argument("--png", help="save the window as this PNG and quit")
    parser.add_argument("--row", type=int, help="select this row (default: the first divergence)")
    parser.add_argument("--size", default="1280x860", help="window size, WxH")
    args = parser.parse_args(argv)
    ops = args.operands
    if len(ops) not in (2, 3, 4):
        parser.error("give SOURCE REPLAY, SOURCE RUN_A RUN_B or SOURCE_A RUN_A SOURCE_B RUN_B")
    app = make_application()
    if len(ops) == 2:
        left, right = (ops[0], ops[1]), None
    elif len(ops) == 3:
        left, right = (ops[0], ops[1]), (ops[0], ops[2])
    else:
        left, right = (ops[0], ops[1]), (ops[2], ops[3])
    window = open_compare(None, new_session, left, right, rules=args.ignore, show=False)
    w, h = (int(x) for x in args.size.lower().split("x"))
    window.resize(w, h)
    window.show()
    code = {"value": 0}

    def finish(ok: bool) -> None:
        if args.png:
            app.processEvents()
            window.grab().save(args.png)
            print(args.png)
        code["value"] = 0 if ok else 1
        if args.png:
            window.shutdown()
            app.quit()

    def shown(_cmp: object) -> None:
        if args.row is not None:
            window.select_row(args.row)
        QTimer.singleShot(300, lambda: finish(True))

    window.comparison_shown.connect(shown)
    window.failed.connect(lambda text: (print(text, file=sys.stderr), QTimer.singleShot(300, lambda: finish(False))))
    app.exec()
    window.shutdown()
    return code["value"]


if __name__ == "__main__":
    sys.exit(compare_screenshot())
