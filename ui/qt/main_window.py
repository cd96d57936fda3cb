"""The main window: it assembles the panels around one :class:`SourceSession` and connects them.
What is read, and when, lives in the session, the models and the panels; every read runs on a
worker of the session, never on the GUI thread."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QFileDialog,
    QInputDialog,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from inspector.errors import SourceUnavailable
from inspector.model import RunSummary
from ui.qt.actions import install_actions, show_run_actions, show_source_actions
from ui.qt.context import install_run_menus
from ui.qt.messages import Level, MessageBus
from ui.qt.models.runs import RunsModel, column_of, read_first_page
from ui.qt.geometry import WindowMemory
from ui.qt.models.run_tree import RunTreeModel
from ui.qt.models.steps import StepTableModel
from ui.qt.panels.banner import MessageBanner
from ui.qt.panels.detail import DetailPanel, save_text
from ui.qt.panels.docks import AutoDock
from ui.qt.panels.evidence import EvidencePanel
from ui.qt.panels.activity import RunsActivityPanel
from ui.qt.panels.charts import save_png
from ui.qt.panels.filter_bar import FilterBar
from ui.qt.panels.grades import GradingJob
from ui.qt.panels.logs import RunLogsPanel
from ui.qt.panels.runs_view import RunsView
from ui.qt.panels.run_docks import RunDocks
from ui.qt.panels.start import StartPage
from ui.qt.panels.status import StatusLine
from ui.qt.panels.steps import StepsPanel
from ui.qt.session.redis import RedisSettings
from ui.qt.session.session import EvidenceState, SourceSession
from ui.qt.session.settings import RecentSources
from ui.qt.session.tasks import TaskRunner
from ui.qt.session.trust import TrustStore
from ui.qt.windows.connect import ConnectDialog, PasswordPrompt
from ui.qt.windows.auditor import AuditorMode
from ui.qt.windows.export import BundleTools, ExportDialog
from ui.qt.windows.ledger import LedgerWindow
from ui.qt.windows.trust import TrustDialog

if TYPE_CHECKING:  # pyqtgraph loads when the Timeline is first shown
    from ui.qt.panels.consistency import ConsistencyPanel
    from ui.qt.panels.timeline import TimelinePanel

__all__ = ["MainWindow"]

log = logging.getLogger(__name__)
_DemoProvider = Callable[..., Path]


class MainWindow(QMainWindow):
    """Built by the composition root (``ui.qt.app.create_window``) with the session it shows."""

    def __init__(self, *, settings: QSettings, session: SourceSession, bus: MessageBus, redis: RedisSettings,
                 demo_provider: _DemoProvider | None = None, sync: bool = False, trust: TrustStore | None = None,
                 tools: BundleTools | None = None, demo_path: Callable[[], str] | None = None) -> None:
        super().__init__()
        self.setWindowTitle("AOS Trace Inspector")
        self.setAcceptDrops(True)
        self.settings = settings
        #: Where the demo database is kept (Help → About), asked when shown.
        self.demo_path = demo_path
        self.session = session
        session.setParent(self)
        self.bus = bus
        self.redis = redis
        self.trust = trust if trust is not None else TrustStore(settings, self)
        self.tools = tools
        self.recent = RecentSources(settings, self)
        self._demo_provider = demo_provider
        self._sync = sync
        self.disk = TaskRunner("disk", sync=sync, parent=self)  # saving files, preparing the demo
        #: Read the selected run again once the list has found it (after a reconnect).
        self._reload_selected = False
        self.password_prompt: PasswordPrompt | None = None
        self.connect_dialog: ConnectDialog | None = None
        self._logs_panel: RunLogsPanel | None = None
        self._evidence_panel: EvidencePanel | None = None
        self._ledger_window: LedgerWindow | None = None

        # Panels
        self.banner = MessageBanner()
        self.auditor = AuditorMode(self, session, self.trust, bus, tools=tools, open_location=self.open_location,
                                   current_run=self.current_run, run_filter=lambda: self.runs_model.run_filter,
                                   redis_url=redis.url, sync=sync)
        self.verification = self.auditor.banner
        self.runs_model = RunsModel(session, self)
        self.filters = FilterBar(session, findings=self.runs_model.findings)
        self.runs_view = RunsView(self.runs_model)
        self.activity = RunsActivityPanel(session, loader=self.disk)
        self.run_tree_model = RunTreeModel(session, self)
        self.steps_model = StepTableModel(session, self)
        self.steps_panel = StepsPanel(session, self.run_tree_model, self.steps_model)
        self.run_tree_view = self.steps_panel.tree
        self.steps_view = self.steps_panel.table
        self.detail = DetailPanel(session)
        self.logs_dock = AutoDock("Run logs", "logsDock", self, holds=lambda: session.logs is not None)
        self.evidence_dock = AutoDock("Evidence", "evidenceDock", self,
                                      holds=lambda: session.evidence_state is EvidenceState.STORE)
        for dock in (self.logs_dock, self.evidence_dock):
            self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        self.tabifyDockWidget(self.logs_dock, self.evidence_dock)
        self.run_docks = RunDocks(self)
        self.consistency_dock = self.run_docks.consistency_dock
        self.timeline_dock = self.run_docks.timeline_dock
        self.search_dock, self.find_in_run = self.run_docks.search_dock, self.run_docks.find_in_run
        self.grading = GradingJob(session, self)
        self.status = StatusLine(session, self.runs_model, self)
        self.status.track(self.disk)
        self._lay_out()

        self.actions_by_name: dict[str, QAction] = install_actions(self, clear_filters=self.filters.clear,
                                                                   search=self.filters.search, settings=settings)
        # The runs' context menus: copies, and what the Run menu does to the selected run.
        self.runs_menu, self.run_tree_menu = install_run_menus(self)
        self.steps_panel.table_menu.extra.append(self.actions_by_name["find_in_run"])
        self.recent_menu: QMenu = self.actions_by_name["recent"].menu()
        self._rebuild_recent_menu()
        #: What the window shows while no source is open.
        self.start_page = StartPage(self.actions_by_name, self.recent.items)
        self.start_page.open_requested.connect(self.open_location)
        self.pages.insertWidget(0, self.start_page)
        self.pages.setCurrentWidget(self.start_page)
        show_source_actions(self.actions_by_name, self.session)
        self._connect()
        #: Opens within the screen, and as the user left it (size, place, splitters, columns).
        self.memory = WindowMemory(self, settings, "mainWindow", (1500, 900), {
            "splitter": self.splitter, "left": self.left_splitter, "right": self.right_splitter,
            "runsHeader": self.runs_view.horizontalHeader(), "stepsHeader": self.steps_view.horizontalHeader(),
        })
        self.memory.restore()
        # The list is sorted as a source opens (newest first): its header says so, whatever was saved.
        self.runs_view.horizontalHeader().setSortIndicator(column_of("started_at"), Qt.SortOrder.DescendingOrder)

    def _lay_out(self) -> None:
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.steps_panel)
        right.addWidget(self.detail)
        right.setSizes([450, 350])
        right.setStretchFactor(0, 1)
        right.setStretchFactor(1, 1)
        self.right_splitter = right
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.activity)
        left.addWidget(self.runs_view)
        left.setSizes([130, 670])
        left.setStretchFactor(1, 1)
        left.setCollapsible(1, False)
        self.left_splitter = left
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setSizes([890, 610])
        browse = QWidget()
        browse_layout = QVBoxLayout(browse)
        browse_layout.setContentsMargins(0, 0, 0, 0)
        browse_layout.setSpacing(0)
        browse_layout.addWidget(self.filters)
        browse_layout.addWidget(self.splitter, 1)
        self.browse_page = browse
        # The start page (made with the menus: its buttons are their actions) goes first.
        self.pages = QStackedWidget()
        self.pages.addWidget(browse)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        # Above every panel: the verification of an export bundle (auditor mode), then the
        # banner (seen on the start page too: a file that would not open says why there).
        layout.addWidget(self.verification)
        layout.addWidget(self.banner)
        layout.addWidget(self.pages, 1)
        self.setCentralWidget(central)
        bar = self.statusBar()
        bar.addWidget(self.status.source_label, 1)
        for widget in (*self.grading.widgets, *self.status.widgets):
            bar.addPermanentWidget(widget)

    def _connect(self) -> None:
        s = self.session
        s.opened.connect(self._opened)
        s.closed.connect(self._closed)
        s.open_failed.connect(self._open_failed)
        s.password_needed.connect(self.ask_password)
        s.refreshing.connect(self.runs_view.remember_place)
        s.refreshed.connect(self._read_side_info)
        s.evidence_changed.connect(self._evidence_changed)
        s.logs_changed.connect(self._logs_changed)
        s.reconnect_status.connect(self._reconnect_status)
        s.reconnected.connect(self._reconnected)
        s.busy_changed.connect(lambda kind, _busy, _label: kind == "open"
                               and show_source_actions(self.actions_by_name, self.session))
        self.bus.posted.connect(self._on_message)
        self.recent.changed.connect(self._rebuild_recent_menu)
        self.recent.changed.connect(self.start_page.refresh_recent)
        self.filters.changed.connect(self.runs_model.set_filter)
        self.filters.changed.connect(self.grading.start)
        self.filters.changed.connect(self.activity.show_filter)
        self.activity.span_chosen.connect(self.filters.set_started)
        self.activity.png_requested.connect(self.save_png)
        self.filters.invalid.connect(self.bus.warning)
        self.grading.finished.connect(lambda dist: self.runs_model.add_grades(dict(dist.grades)))
        self.runs_view.run_chosen.connect(self._run_chosen)
        self.steps_panel.run_chosen.connect(lambda run: self.detail.read_run(run.key, run))
        self.steps_view.step_chosen.connect(self.detail.read_step)
        self.steps_panel.find_whole_run.connect(self.run_docks.find_in_run)
        self.detail.save_requested.connect(self.save_payload)
        # A dock opened (by the user, or shown by default) reads what it shows for the selected run.
        self.logs_dock.opened.connect(self._logs_dock_opened)
        self.evidence_dock.opened.connect(lambda: (self.evidence_panel, self._show_run_evidence(self.current_run())))

    # -- the session -------------------------------------------------------------------------------

    @property
    def source(self):
        """The source shown (the session's), or None."""
        return self.session.source

    def open_location(self, location: str, password: str | None = None, *, untrusted: bool = False) -> None:
        """Open a source in the background (the one shown stays until it is ready); its first page
        of runs is read on the same worker right after opening. ``untrusted``: open an export
        bundle that failed verification anyway (the user asked)."""
        self.session.open(location, password, prepare=read_first_page, untrusted=untrusted)
        show_source_actions(self.actions_by_name, self.session)

    def _opened(self, source, _first_page) -> None:
        self.pages.setCurrentWidget(self.browse_page)
        show_source_actions(self.actions_by_name, self.session)
        if self.session.location is not None:
            self.recent.add(self.session.location)
        source = self.session.source
        # Side reads would compete with the first page's paint for the interpreter: after it.
        self.runs_view.after_first_paint(lambda: self.session.source is source and self._read_side_info(discover=True),
                                         sync=self._sync)

    def _read_side_info(self, discover: bool = False) -> None:
        """Filter values and totals (after a refresh too), the replay index and the evidence and
        logs readers (once per source): side reads, after the list has painted."""
        self.filters.load_choices()
        self.status.load_totals()
        self.activity.show_filter(self.runs_model.run_filter, reread=True)
        if discover:
            self.session.discover()

    def _closed(self) -> None:
        self.pages.setCurrentWidget(self.start_page)
        show_source_actions(self.actions_by_name, self.session)
        self.actions_by_name["ledger"].setEnabled(False)
        show_run_actions(self.actions_by_name, None)
        if self._logs_panel is not None:
            self._logs_panel.clear()
        if self._evidence_panel is not None:
            self._evidence_panel.set_store("unknown")

    def _open_failed(self, location: str, exc: BaseException) -> None:
        if isinstance(exc, SourceUnavailable):
            # The server may be back in a moment: offer to try again without retyping anything.
            self.banner.show_message(Level.ERROR, self.banner.label.text(),
                                     ("Retry", lambda: self.open_location(location)))

    def refresh(self) -> None:
        self.session.refresh()

    def close_source(self) -> None:
        """File → Close Source; while a source is still being opened (a slow server), stop
        waiting for it too (its connection, when it comes, is closed unused)."""
        self.session.cancel_open()
        self.session.close()
        show_source_actions(self.actions_by_name, self.session)

    def _reconnect_status(self, text: str) -> None:
        self.banner.show_message(Level.WARNING, text, ("Retry now", self.session.reconnect.retry_now))
        self.statusBar().showMessage(text, 2000)

    def _reconnected(self) -> None:
        self.banner.hide()
        # The selected run's steps and detail are read again once the list has found it; until
        # then they stay as they were.
        self._reload_selected = self.current_run() is not None

    # -- messages -----------------------------------------------------------------------------------

    def _on_message(self, level: int, text: str) -> None:
        lvl = Level(level)
        if lvl >= Level.WARNING:
            self.banner.show_message(lvl, text)
        self.statusBar().showMessage(text, 8000 if lvl == Level.INFO else 15000)

    # -- selection -----------------------------------------------------------------------------------

    def current_run(self) -> RunSummary | None:
        return self.runs_view.current_run()

    def select_run(self, key: str) -> bool:
        return self.runs_view.select_run(key)

    def _run_chosen(self, run: RunSummary) -> None:
        show_run_actions(self.actions_by_name, run)
        shown = self.steps_panel.current_run
        if shown is not None and shown.key == run.key and not run.orphan and not self._reload_selected:
            self._show_run_evidence(run)  # read again if a refresh found the evidence reader again
            return
        self._reload_selected = False
        self.steps_panel.show_run(run)
        self.detail.read_run(run.key, run)
        self._show_run_logs(run)
        self._show_run_evidence(run)
        self.run_docks.show_run(run)

    # -- the docks: run logs and evidence ------------------------------------------------------------

    @property
    def logs_panel(self) -> RunLogsPanel:
        """The Run logs panel, made on first use (a window that never opens Postgres never pays
        for its seven tables)."""
        if self._logs_panel is None:
            self._logs_panel = RunLogsPanel(self.session)
            self._logs_panel.save_requested.connect(self.save_payload)
            self.logs_dock.setWidget(self._logs_panel)
        return self._logs_panel

    def _logs_changed(self) -> None:
        logs = self.session.logs
        self.actions_by_name["ledger"].setEnabled(logs is not None)
        if self._logs_panel is not None:
            self._logs_panel.clear()
        if logs is None:
            self.logs_dock.withdraw(floating_too=True)
            return
        self.logs_panel  # noqa: B018 - made now, so the dock shows it
        self.logs_dock.offer(300, self.right_splitter, make_room=True)
        self._show_run_logs(self.current_run())

    def _logs_dock_opened(self) -> None:
        """Read the selected run's logs unless the panel shows them already (choosing the Run
        logs tab again does not read seven tables again)."""
        panel, run = self.logs_panel, self.current_run()
        if run is not None and panel.run_id != run.run_id:
            self._show_run_logs(run)

    def _show_run_logs(self, run: RunSummary | None) -> None:
        """Read the selected run's logs, only while the dock is shown (seven reads per run)."""
        if self.session.logs is None or run is None or run.orphan:
            return
        if not self.logs_dock.isVisible():
            if self._logs_panel is not None:
                self._logs_panel.clear()
            return
        panel = self.logs_panel
        if panel.run_id == run.run_id and panel.pending:
            return
        panel.show_run(run.run_id, run.trace_id, run.tenant_id, run.correlation_id)

    @property
    def evidence_panel(self) -> EvidencePanel:
        """The Evidence panel, made on first use."""
        if self._evidence_panel is None:
            self._evidence_panel = EvidencePanel(self.session)
            self._evidence_panel.set_store(self.session.evidence_state.value, self.session.evidence_error or "")
            self.evidence_dock.setWidget(self._evidence_panel)
        return self._evidence_panel

    def _evidence_changed(self, previous: str) -> None:
        state = self.session.evidence_state
        if self._evidence_panel is not None:
            self._evidence_panel.set_store(state.value, self.session.evidence_error or "")
        if state is EvidenceState.STORE:
            self.evidence_panel  # noqa: B018 - made now (knowing the store), so the dock shows it
            self.evidence_dock.offer(330, self.right_splitter)
            self._show_run_evidence(self.current_run())
        elif state is EvidenceState.NONE and previous not in (EvidenceState.NONE, EvidenceState.ERROR):
            # Not by default; View → Evidence still opens it, to say "no evidence store". A
            # refresh of such a source (or of one whose lookup failed) leaves a dock the user
            # opened open.
            self.evidence_dock.withdraw()

    def _show_run_evidence(self, run: RunSummary | None) -> None:
        """Read the selected run's evidence, only while the dock is shown."""
        if run is None or not self.evidence_dock.isVisible():
            if self._evidence_panel is not None and run is not None:
                self._evidence_panel.clear()
            return
        panel = self.evidence_panel
        if panel.run_id == run.run_id and (panel.pending or panel.showing_evidence):
            return  # another trace of the same run: the same evidence
        panel.show_run(run.run_id)

    @property
    def consistency_panel(self) -> ConsistencyPanel:
        return self.run_docks.consistency_panel

    @property
    def timeline_panel(self) -> TimelinePanel:
        return self.run_docks.timeline_panel

    # -- secondary windows ----------------------------------------------------------------------------

    @property
    def ledger_window(self) -> LedgerWindow:
        """The tenant-wide Audit ledger window, made on first use."""
        if self._ledger_window is None:
            self._ledger_window = LedgerWindow(self.session, self)
            self._ledger_window.setWindowFlag(Qt.WindowType.Window, True)
            self._ledger_window.save_requested.connect(self.save_payload)
        return self._ledger_window

    def show_ledger(self) -> None:
        """View → Audit Ledger: the tenant-wide ledger of the open Postgres source."""
        if self.session.logs is None:
            self.bus.warning("The audit ledger is in the AOS Postgres database: connect to one first")
            return
        window = self.ledger_window
        window.reload()
        window.show()
        window.raise_()
        window.activateWindow()

    # Auditor mode (``ui.qt.windows.auditor``): the menu commands and what tests look at.

    @property
    def export_dialog(self) -> ExportDialog:
        return self.auditor.export_dialog

    @property
    def trust_dialog(self) -> TrustDialog:
        return self.auditor.trust_dialog

    @property
    def untrusted_prompt(self) -> QMessageBox | None:
        return self.auditor.untrusted_prompt

    def export_bundle(self) -> None:
        self.auditor.export()

    def export_filtered(self) -> None:
        self.auditor.export(whole_filter=True)

    def show_trusted_keys(self) -> None:
        self.auditor.show_trusted_keys()

    def show_redis_settings(self) -> None:
        from ui.qt.windows.redis_settings import RedisSettingsDialog

        RedisSettingsDialog(self.redis, self).exec()

    def _selected_run(self, doing: str) -> RunSummary | None:
        run = self.current_run()
        if self.session.source is None or run is None:
            self.bus.info(f"Select a run first to {doing}.")
            return None
        return run

    def compare_with_original(self) -> None:
        """The selected replay beside its original (found through ``metadata.replay_of``)."""
        run = self._selected_run("compare it with its original")
        if run is None:
            return
        if not run.replay_of:
            self.bus.warning(f"Run {run.run_id} is not a replay (its metadata has no replay_of): "
                             "use Run → Compare With… to name the other run.")
            return
        from ui.qt.windows.compare import open_compare

        open_compare(self, self.session.sibling, (self.session, run.key))

    def compare_with(self) -> None:
        """The selected run beside another run of this source (the window can switch sources)."""
        run = self._selected_run("compare it")
        if run is None:
            return
        other, ok = QInputDialog.getText(self, "Compare With", f"Compare {run.run_id} (left) with run id:",
                                         text=run.replay_of or "")
        if not ok or not other.strip():
            return
        from ui.qt.windows.compare import open_compare

        open_compare(self, self.session.sibling, (self.session, run.key), (self.session, other.strip()))

    def _open_run_view(self, view: QWidget) -> None:
        """A window about the selected run; it closes itself with the source it reads."""
        view.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        view.setWindowFlag(Qt.WindowType.Window)
        view.show()
        view.start()

    def replay_check(self) -> None:
        """The selected replay through upstream's replay enforcer against its original."""
        run = self._selected_run("check its replay")
        if run is not None:
            from ui.qt.windows.replay_check import ReplayCheckView

            self._open_run_view(ReplayCheckView(self.session, run.key, redis=self.redis, parent=self))

    def show_idempotency(self) -> None:
        """The Redis state of the selected run's idempotency keys."""
        run = self._selected_run("see its idempotency keys")
        if run is not None:
            from ui.qt.windows.idempotency import IdempotencyView

            self._open_run_view(IdempotencyView(self.session, run.key, redis=self.redis, parent=self))

    # -- files ---------------------------------------------------------------------------------------

    def recent_files(self) -> list[str]:
        return self.recent.items()

    def ask_open(self) -> None:
        recent = self.recent.items()
        start = str(Path(recent[0]).parent) if recent else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(
            self, "Open trace source", start,
            "Trace sources and bundles (*.db *.sqlite *.sqlite3 *.json *.zip);;Export bundles (*.zip);;All files (*)"
        )
        if path:
            self.open_location(path)

    def ask_password(self, location: str, reason: str) -> None:
        """Ask for a password without blocking the event loop (a window-modal sheet)."""
        if self.password_prompt is not None:
            self.password_prompt.deleteLater()
        self.password_prompt = PasswordPrompt(location, reason, self)
        self.password_prompt.submitted.connect(self.open_location)
        self.password_prompt.open()

    def ask_connect(self) -> None:
        """File → Connect to Postgres…"""
        if self.connect_dialog is not None:
            self.connect_dialog.deleteLater()
        self.connect_dialog = ConnectDialog(self.recent.items(), self)
        self.connect_dialog.connect_requested.connect(self.open_location)
        self.connect_dialog.open()

    def open_demo(self) -> None:
        provider = self._demo_provider
        if provider is None:
            self.bus.warning("This window was built without the demo database")
            return
        self.bus.info("Preparing the demo database (generated once, on first use)…")
        self.disk.submit(
            lambda progress: provider(progress=progress),
            lambda path: self.open_location(str(path)),
            lambda exc: self.bus.exception(exc, "prepare the demo database"),
            label="Generating the demo database",
            on_progress=self.status.show_progress,
        )

    def save_payload(self, path: str, text: str) -> None:
        self.disk.submit(lambda: save_text(path, text), lambda p: self.bus.info(f"Saved {p}"),
                         lambda e: self.bus.error(f"Could not save {path}: {e}"), label="Saving")

    def save_png(self, path: str, image) -> None:
        """A chart's "Save PNG…": the image is written on the disk worker."""
        self.disk.submit(lambda: save_png(path, image), lambda p: self.bus.info(f"Saved {p}"),
                         lambda e: self.bus.error(f"Could not save {path}: {e}"), label="Saving")

    def _rebuild_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        items = self.recent.items()
        for loc in items:
            action = menu.addAction(loc)
            action.triggered.connect(lambda _=False, loc=loc: self.open_location(loc))
        if not items:
            menu.addAction("(none yet)").setEnabled(False)
        else:
            menu.addSeparator()
            menu.addAction("Clear recent").triggered.connect(self.recent.clear)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        files = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if files:
            event.acceptProposedAction()
            self.open_location(files[0])

    # -- shutdown -------------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop every worker and close the source; called on close and by tests. Compare windows
        opened from here go first: they read through this window's session and their own."""
        from ui.qt.windows.compare import CompareWindow

        for window in self.findChildren(CompareWindow):
            window.shutdown()
        self.auditor.shutdown()
        self.session.shutdown()
        self.redis.shutdown()
        self.disk.shutdown()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.memory.save()
        self.shutdown()
        super().closeEvent(event)
