"""Actions, menus and shortcuts, declared in one place (STYLE §12); the window only installs them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QApplication, QDockWidget, QLineEdit, QMainWindow, QWidget

from ui.qt.messages import MessageBus
from ui.qt.theme import COLOR_SCHEMES, choose_scheme, current_scheme

__all__ = ["Commands", "install_actions", "show_run_actions", "show_source_actions"]


class Commands(Protocol):
    """What the menus ask of the window."""

    bus: MessageBus
    logs_dock: QDockWidget
    evidence_dock: QDockWidget
    consistency_dock: QDockWidget
    timeline_dock: QDockWidget
    activity: QWidget

    def find_in_run(self) -> None: ...

    def ask_open(self) -> None: ...
    def ask_connect(self) -> None: ...
    def open_demo(self) -> None: ...
    def refresh(self) -> None: ...
    def close_source(self) -> None: ...
    def show_ledger(self) -> None: ...
    def compare_with_original(self) -> None: ...
    def compare_with(self) -> None: ...
    def replay_check(self) -> None: ...
    def show_idempotency(self) -> None: ...
    def show_redis_settings(self) -> None: ...
    def export_bundle(self) -> None: ...
    def export_filtered(self) -> None: ...
    def show_trusted_keys(self) -> None: ...


def install_actions(w: QMainWindow, commands: Commands | None = None, *, clear_filters: Callable[[], None],
                    search: QLineEdit, settings: QSettings) -> dict[str, QAction]:
    """The menu bar of ``w`` (``commands``: the window itself by default). ``actions["recent"]``
    holds the File → Open Recent menu, which the window fills; View → Colour Scheme keeps its
    choice in ``settings``."""
    c: Commands = commands if commands is not None else w  # type: ignore[assignment]

    def make(name: str, text: str, slot: Callable[[], object], shortcut=None, tip: str = "") -> QAction:
        a = QAction(text, w)
        a.setObjectName(f"action_{name}")
        if shortcut is not None:
            a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setStatusTip(tip)
        a.triggered.connect(lambda _=False: slot())
        actions[name] = a
        return a

    def dock_action(name: str, dock: QDockWidget, text: str, shortcut: str, tip: str = "") -> QAction:
        a = dock.toggleViewAction()
        a.setText(text)
        a.setObjectName(f"action_{name}")
        a.setShortcut(QKeySequence(shortcut))
        if tip:
            a.setStatusTip(tip)
        actions[name] = a
        return a

    actions: dict[str, QAction] = {}
    bar = w.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addAction(make("open", "&Open…", c.ask_open, QKeySequence.StandardKey.Open,
                             "Open a traces.db, a trace JSON file or an export bundle (.zip)"))
    file_menu.addAction(make("connect", "&Connect to Postgres…", c.ask_connect, "Ctrl+Shift+O",
                             "Open the AOS Postgres database (read-only)"))
    recent = file_menu.addMenu("Open &Recent")
    actions["recent"] = recent.menuAction()
    file_menu.addAction(make("demo", "Open &Demo Database", c.open_demo, None,
                             "Open the built-in demo database (generated on first use)"))
    file_menu.addSeparator()
    file_menu.addAction(make("refresh", "&Refresh", c.refresh, QKeySequence.StandardKey.Refresh,
                             "Read the source again, showing what writers added"))
    file_menu.addAction(make("close", "&Close Source", c.close_source, QKeySequence.StandardKey.Close,
                             "Close the source and go back to the start page"))
    file_menu.addSeparator()
    file_menu.addAction(make("export", "&Export…", c.export_bundle, "Ctrl+Shift+E",
                             "Write the selected run, or the filter's runs, as a signed bundle for auditors"))
    file_menu.addSeparator()
    file_menu.addAction(make("quit", "&Quit", w.close, QKeySequence.StandardKey.Quit))

    view_menu = bar.addMenu("&View")
    view_menu.addAction(make("clear_filters", "Show &All Runs", clear_filters, "Ctrl+Shift+A"))
    # Ctrl+F is focus-dependent: the step table and the JSON viewers take it while they have focus
    # (their find bar, ui.qt.context); anywhere else, and from this menu always, the runs search box.
    view_menu.addAction(make("find", "&Find Run…", search.setFocus, QKeySequence.StandardKey.Find,
                             "The runs list's search box (in the step table or a JSON view, Ctrl+F finds in it)"))
    view_menu.addAction(make("find_in_run", "Find in R&un…", c.find_in_run, "Ctrl+Shift+F",
                             "Find text in the selected run's step payloads (or, with an index, the whole database)"))
    activity = make("activity", "Runs Over &Time", lambda: None, "Ctrl+Shift+T",
                    "Runs and failed runs per interval above the runs list; drag across it to filter")
    activity.setCheckable(True)
    activity.setChecked(not c.activity.isHidden())
    activity.toggled.connect(c.activity.setVisible)
    view_menu.addAction(activity)
    view_menu.addSeparator()
    view_menu.addAction(dock_action("logs", c.logs_dock, "Run &Logs", "Ctrl+L"))
    view_menu.addAction(dock_action("evidence", c.evidence_dock, "&Evidence", "Ctrl+E",
                                    "The selected run's evidence and integrity grade"))
    view_menu.addAction(dock_action("consistency", c.consistency_dock, "&Consistency", "Ctrl+K",
                                    "The selected run's panels checked against each other"))
    view_menu.addAction(dock_action("timeline", c.timeline_dock, "&Timeline", "Ctrl+T",
                                    "The selected run's steps on a time axis"))
    ledger = make("ledger", "Audit &Ledger…", c.show_ledger, "Ctrl+Shift+L",
                  "The tenant-wide audit ledger of the open Postgres database")
    ledger.setEnabled(False)
    view_menu.addAction(ledger)
    view_menu.addSeparator()
    schemes = view_menu.addMenu("Colour &Scheme")
    group = QActionGroup(w)
    for choice, text in COLOR_SCHEMES:
        a = make(f"scheme_{choice}", text,
                 lambda choice=choice: choose_scheme(QApplication.instance(), settings, choice), None,
                 "Follow the system's light or dark scheme" if choice == "system" else "")
        a.setCheckable(True)
        a.setChecked(choice == current_scheme(QApplication.instance()))
        group.addAction(a)
        schemes.addAction(a)

    run_menu = bar.addMenu("&Run")
    run_menu.addAction(make("compare_original", "Compare With &Original", c.compare_with_original, "Ctrl+D",
                            "The selected replay beside its original (found through replay_of)"))
    run_menu.addAction(make("compare_with", "Compare &With…", c.compare_with, "Ctrl+Shift+D",
                            "The selected run beside another run, of this source or another"))
    run_menu.addSeparator()
    run_menu.addAction(make("replay_check", "&Replay Check", c.replay_check, "Ctrl+Shift+R",
                            "Run the selected replay through upstream's replay enforcer against its original"))
    run_menu.addAction(make("idempotency", "&Idempotency Keys", c.show_idempotency, "Ctrl+Shift+I",
                            "The Redis state of the selected run's idempotency keys"))
    run_menu.addSeparator()
    run_menu.addAction(make("export_run", "E&xport Run…", c.export_bundle, None,
                            "The selected run as a signed bundle"))
    run_menu.addAction(make("export_filtered", "Export Runs &Matching Filter…", c.export_filtered, None,
                            "Every run of the current filter as one signed bundle"))
    run_menu.addSeparator()
    run_menu.addAction(make("redis", "Redis &Settings…", c.show_redis_settings, None,
                            "The Redis the replay check and the idempotency view use"))
    run_menu.addAction(make("trusted_keys", "&Trusted Signer Keys…", c.show_trusted_keys, None,
                            "The public keys whose bundles show as verified by a trusted key"))

    help_menu = bar.addMenu("&Help")
    help_menu.addAction(make("shortcuts", "&Keyboard Shortcuts", lambda: _help("show_shortcuts", c), "Ctrl+/",
                             "Every action's keys"))
    help_menu.addAction(make("about", "&About", lambda: _help("show_about", c), None,
                             "The version, what it runs on, where it keeps its files, the licence"))
    return actions


def _help(name: str, window) -> object:
    """A Help dialog, its module loaded when first asked for."""
    from ui.qt.windows import about

    return getattr(about, name)(window)


def show_run_actions(actions: dict[str, QAction], run) -> None:
    """Run → Compare With Original is there for a replay only, and says why when it is not."""
    action = actions["compare_original"]
    replay = run is not None and bool(run.replay_of)
    action.setEnabled(replay)
    if replay:
        action.setToolTip(f"{run.run_id} beside its original, {run.replay_of} (Ctrl+D)")
    elif run is not None:
        action.setToolTip(f"{run.run_id} is not a replay (its metadata has no replay_of): "
                          "Compare With… names the other run")
    else:
        action.setToolTip("Select a replay to compare it with its original")


#: What needs an open source: off on the start page, where they would do nothing.
_SOURCE_ACTIONS = ("refresh", "export", "clear_filters", "find", "find_in_run", "compare_with",
                   "replay_check", "idempotency", "export_run", "export_filtered")


class _SourceState(Protocol):
    @property
    def source(self) -> object | None: ...
    @property
    def opening(self) -> bool: ...


def show_source_actions(actions: dict[str, QAction], session: _SourceState) -> None:
    """Enable what acts on the open source (Refresh, Close Source, Export, the Run menu…). While
    a source is being opened and none is open (the start page), Close Source reads Stop Opening:
    nothing else would stop a connect to a server that does not answer."""
    is_open = session.source is not None
    for name in _SOURCE_ACTIONS:
        actions[name].setEnabled(is_open)
    close = actions["close"]
    stopping = not is_open and session.opening
    close.setEnabled(is_open or stopping)
    close.setText("Stop &Opening" if stopping else "&Close Source")
    close.setStatusTip("Stop waiting for the source being opened" if stopping
                       else "Close the source and go back to the start page")
