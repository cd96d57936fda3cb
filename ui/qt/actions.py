"""Actions, menus and shortcuts, declared in one place (STYLE §12); the window only installs them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QKeySequence

if TYPE_CHECKING:
    from ui.qt.main_window import MainWindow

__all__ = ["install_actions"]


def install_actions(w: MainWindow) -> dict[str, QAction]:
    def make(name: str, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        a = QAction(text, w)
        a.setObjectName(f"action_{name}")
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setStatusTip(tip)
        a.triggered.connect(lambda _=False: slot())
        actions[name] = a
        return a

    actions: dict[str, QAction] = {}
    bar = w.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addAction(make("open", "&Open…", w.ask_open, QKeySequence.StandardKey.Open,
                             "Open a traces.db or a trace JSON file"))
    file_menu.addAction(make("connect", "&Connect to Postgres…", w.ask_connect, "Ctrl+Shift+O",
                             "Open the AOS Postgres database (read-only)"))
    w.recent_menu = file_menu.addMenu("Open &Recent")
    file_menu.addAction(make("demo", "Open &Demo Database", w.open_demo, None,
                             "Open the built-in demo database (generated on first use)"))
    file_menu.addSeparator()
    file_menu.addAction(make("refresh", "&Refresh", w.refresh, QKeySequence.StandardKey.Refresh,
                             "Read the source again, showing what writers added"))
    file_menu.addAction(make("close", "&Close Source", w.close_source, None))
    file_menu.addSeparator()
    file_menu.addAction(make("quit", "&Quit", w.close, QKeySequence.StandardKey.Quit))

    view_menu = bar.addMenu("&View")
    view_menu.addAction(make("clear_filters", "Show &All Runs", w.filters.clear, "Ctrl+Shift+A"))
    view_menu.addAction(make("find", "&Find Run…", lambda: w.filters.search.setFocus(), QKeySequence.StandardKey.Find))
    view_menu.addSeparator()
    logs = w.logs_dock.toggleViewAction()
    logs.setText("Run &Logs")
    logs.setObjectName("action_logs")
    logs.setShortcut(QKeySequence("Ctrl+L"))
    view_menu.addAction(logs)
    actions["logs"] = logs
    evidence = w.evidence_dock.toggleViewAction()
    evidence.setText("&Evidence")
    evidence.setObjectName("action_evidence")
    evidence.setShortcut(QKeySequence("Ctrl+E"))
    evidence.setStatusTip("The selected run's evidence and integrity grade")
    view_menu.addAction(evidence)
    actions["evidence"] = evidence
    ledger = make("ledger", "Audit &Ledger…", w.show_ledger, "Ctrl+Shift+L",
                  "The tenant-wide audit ledger of the open Postgres database")
    ledger.setEnabled(False)
    view_menu.addAction(ledger)

    run_menu = bar.addMenu("&Run")
    run_menu.addAction(make("compare_original", "Compare With &Original", w.compare_with_original, "Ctrl+D",
                            "The selected replay beside its original (found through replay_of)"))
    run_menu.addAction(make("compare_with", "Compare &With…", w.compare_with, "Ctrl+Shift+D",
                            "The selected run beside another run, of this source or another"))
    run_menu.addSeparator()
    run_menu.addAction(make("replay_check", "&Replay Check", w.replay_check, "Ctrl+Shift+R",
                            "Run the selected replay through upstream's replay enforcer against its original"))
    run_menu.addAction(make("idempotency", "&Idempotency Keys", w.show_idempotency, "Ctrl+Shift+I",
                            "The Redis state of the selected run's idempotency keys"))
    run_menu.addSeparator()
    run_menu.addAction(make("redis", "Redis &Settings…", w.show_redis_settings, None,
                            "The Redis the replay check and the idempotency view use"))

    help_menu = bar.addMenu("&Help")
    help_menu.addAction(make("about", "&About", lambda: w.bus.info(
        "AOS Trace Inspector — reads AOS trace databases read-only; see README for formats."), None))
    return actions
