"""The main window: assembles the panels and connects them. Behaviour lives in the models, the
core and the drivers; every read runs on the source's worker, never on the GUI thread."""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableView,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from inspector.errors import (
    InspectorError,
    PasswordRequired,
    QueryCancelled,
    SourceUnavailable,
)
from inspector.model import RunFilter, RunSummary, normalise_time_bound
from inspector.source import Capability, TraceSource
from ui.format import fmt_count
from ui.qt.connect import ConnectDialog, PasswordPrompt, split_password
from ui.qt.detail import DetailPanel, save_text
from ui.qt.grades import GradeDelegate, GradingJob
from ui.qt.messages import Level, MessageBus
from ui.qt.reconnect import ReconnectController
from ui.qt.runs_model import RUN_ROLE, RunsModel, column_of, read_first_page
from ui.qt.steps_model import NODE_ROLE, STEP_ROLE, StepTreeModel
from ui.qt.tasks import TaskRunner
from ui.qt.theme import set_invalid, set_severity

if TYPE_CHECKING:
    from ui.qt.evidence_panel import EvidencePanel
    from ui.qt.logs_panels import LedgerWindow, RunLogsPanel

__all__ = ["MainWindow"]

log = logging.getLogger(__name__)
MAX_RECENT = 10
_ANY = "(any)"
_GRADES = ("PASS", "WARN", "FAIL")
_GRADE_TIPS = {
    True: "Only runs of this integrity grade (upstream's rules, spec §4)",
    False: "This source has no evidence store: its runs have no integrity grade",
    None: "Looking for the evidence tables…",
}


class FilterBar(QWidget):
    """Status, tenant, agent, integrity grade, time range and run-id prefix. Emits the filter when
    it changes. The grade choice is enabled only for a source with an evidence store."""

    changed = Signal(object)
    invalid = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.status = self._combo("Status")
        self.tenant = self._combo("Tenant")
        self.agent = self._combo("Agent")
        self.grade = QComboBox()
        self.grade.setObjectName("filterGrade")
        self.grade.addItem(_ANY)
        self.grade.addItems(list(_GRADES))
        self.grade.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.set_grades_available(None)
        self.since = QLineEdit()
        self.since.setPlaceholderText("since (e.g. 2026-10-01)")
        self.until = QLineEdit()
        self.until.setPlaceholderText("until")
        self.search = QLineEdit()
        self.search.setPlaceholderText("run id starts with…")
        self.search.setClearButtonEnabled(True)
        self.archived = QCheckBox("Archived")
        self.archived.setObjectName("filterArchived")
        self.archived.setToolTip("Also list soft-archived traces (archived_at set; Postgres, §2.6)")
        self.archived.hide()
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Show every run")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        for label, w in (("Status", self.status), ("Tenant", self.tenant), ("Agent", self.agent),
                         ("Grade", self.grade)):
            layout.addWidget(QLabel(label))
            layout.addWidget(w)
        layout.addWidget(QLabel("Started"))
        layout.addWidget(self.since)
        layout.addWidget(QLabel("–"))
        layout.addWidget(self.until)
        layout.addWidget(self.search, 1)
        layout.addWidget(self.archived)
        layout.addWidget(self.clear_button)
        for combo in (self.status, self.tenant, self.agent, self.grade):
            combo.currentIndexChanged.connect(self._emit)
        for edit in (self.since, self.until, self.search):
            edit.editingFinished.connect(self._emit)
        self.archived.toggled.connect(self._emit)
        self.clear_button.clicked.connect(self.clear)
        self._last: RunFilter | None = None

    @staticmethod
    def _combo(name: str) -> QComboBox:
        c = QComboBox()
        c.setObjectName(f"filter{name}")
        c.setMinimumContentsLength(10)
        c.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        c.addItem(_ANY)
        return c

    def set_choices(self, field: str, values: list[str]) -> None:
        combo = {"status": self.status, "tenant_id": self.tenant, "agent_id": self.agent}[field]
        current = combo.currentText()
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(_ANY)
        combo.addItems(values)
        i = combo.findText(current)
        combo.setCurrentIndex(max(i, 0))
        combo.blockSignals(False)

    def set_grades_available(self, available: bool | None, why: str | None = None) -> None:
        """Enable the grade choice for a source with an evidence store (``None``: not known yet);
        without one it goes back to "(any)" and says why in its tooltip."""
        self.grade.setEnabled(bool(available))
        self.grade.setToolTip(why or _GRADE_TIPS[available])
        if not available and self.grade.currentIndex() != 0:
            self.grade.setCurrentIndex(0)  # emits: the list drops its grade filter

    def reset(self) -> None:
        """Back to no filter without emitting (a new source starts unfiltered anyway)."""
        self.blockSignals(True)
        self.clear()
        self.blockSignals(False)
        self._last = RunFilter()

    def clear(self) -> None:
        for combo in (self.status, self.tenant, self.agent, self.grade):
            combo.blockSignals(True)
            combo.setCurrentIndex(0)
            combo.blockSignals(False)
        for edit in (self.since, self.until, self.search):
            edit.clear()
        self.archived.blockSignals(True)
        self.archived.setChecked(False)
        self.archived.blockSignals(False)
        self._emit()

    def current(self) -> RunFilter:
        """The filter as typed; raises UsageError for a malformed date."""

        def pick(c: QComboBox) -> str | None:
            return None if c.currentIndex() <= 0 else c.currentText()

        since = normalise_time_bound(self.since.text()) if self.since.text().strip() else None
        until = normalise_time_bound(self.until.text(), end=True) if self.until.text().strip() else None
        return RunFilter(
            status=pick(self.status),
            tenant_id=pick(self.tenant),
            agent_id=pick(self.agent),
            since=since,
            until=until,
            run_id_prefix=self.search.text().strip() or None,
            include_archived=not self.archived.isHidden() and self.archived.isChecked(),
            grade=pick(self.grade) if self.grade.isEnabled() else None,
        )

    def _emit(self) -> None:
        try:
            flt = self.current()
        except InspectorError as exc:
            sender = self.sender()
            for edit in (self.since, self.until):
                set_invalid(edit, edit is sender)
            self.invalid.emit(str(exc))
            return
        for edit in (self.since, self.until):
            set_invalid(edit, False)
        if flt != self._last:
            self._last = flt
            self.changed.emit(flt)


class MessageBanner(QFrame):
    """Errors and warnings, one at a time, until dismissed; never a modal dialog."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBanner")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        self.action_button = QPushButton()
        self.action_button.setObjectName("bannerAction")
        self.action_button.hide()
        self.action_button.clicked.connect(self._on_action)
        self._action: Callable[[], None] | None = None
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.action_button)
        layout.addWidget(close)
        self.hide()

    def show_message(self, level: Level, text: str, action: tuple[str, Callable[[], None]] | None = None) -> None:
        set_severity(self, "error" if level == Level.ERROR else "warning")
        self.label.setText(text)
        self._action = action[1] if action else None
        self.action_button.setText(action[0] if action else "")
        self.action_button.setVisible(action is not None)
        self.show()

    def _on_action(self) -> None:
        if self._action is not None:
            self._action()


class MainWindow(QMainWindow):
    """``source_opened`` fires on the GUI thread once a new source is shown."""

    source_opened = Signal(object)

    def __init__(
        self,
        *,
        settings: QSettings,
        bus: MessageBus | None = None,
        open_source: Callable[[str], TraceSource] | None = None,
        demo_provider: Callable[..., Path] | None = None,
        sync: bool = False,
    ) -> None:
        super().__init__()
        from drivers import open_source as default_open

        self.setWindowTitle("AOS Trace Inspector")
        self.setAcceptDrops(True)
        self.settings = settings
        self.bus = bus or MessageBus(self)
        self._open_source = open_source or default_open
        self._demo_provider = demo_provider
        self._sync = sync
        self.disk = TaskRunner("disk", sync=sync, parent=self)
        self.source: TraceSource | None = None
        self.source_runner: TaskRunner | None = None  # what the user waits on
        self.background_runner: TaskRunner | None = None  # counters, orphans, totals, warm-ups
        self._retired: list[TaskRunner] = []
        self._busy_labels: dict[str, str] = {}
        self._detail_request = 0
        # Evidence: the reader (made on a worker, it looks for the tables), the worker that reads
        # grades and the selected run's evidence, and the one that grades a whole filter.
        self.evidence_runner: TaskRunner | None = None
        self.grading_runner: TaskRunner | None = None
        self.evidence_reader = None  # the source's EvidenceReader, when it has an evidence store
        self._evidence_error: str | None = None  # why looking for the evidence tables failed
        # Replay checks and idempotency views of the open source (closed with it), and the Redis
        # setting they share (its own worker: a slow Redis never delays a database read).
        self._run_views: list[QWidget] = []
        self._redis = None

        # Panels
        self.filters = FilterBar()
        self.banner = MessageBanner()
        self.runs_model = RunsModel(lambda: self.source_runner, self._report, self,
                                    background_for=lambda: self.background_runner,
                                    grades_runner_for=lambda: self.evidence_runner)
        self.runs_view = QTableView()
        self.runs_view.setObjectName("runsView")
        self.runs_view.setModel(self.runs_model)
        self.runs_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.runs_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.runs_view.setSortingEnabled(True)
        self.runs_view.horizontalHeader().setSortIndicator(column_of("started_at"), Qt.SortOrder.DescendingOrder)
        self.runs_view.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.runs_view.horizontalHeader().setStretchLastSection(True)
        self.runs_view.verticalHeader().setVisible(False)
        self.runs_view.verticalHeader().setDefaultSectionSize(22)
        self.runs_view.setAlternatingRowColors(True)
        self.runs_view.setWordWrap(False)
        for col, width in enumerate((160, 95, 58, 110, 135, 50, 58, 68, 68, 145)):
            self.runs_view.setColumnWidth(col, width)
        self._grade_column = column_of("grade")
        self.runs_view.setItemDelegateForColumn(self._grade_column, GradeDelegate(self.runs_view))

        self.steps_model = StepTreeModel(lambda: self.source_runner, self._report, self)
        self.steps_view = QTreeView()
        self.steps_view.setObjectName("stepsView")
        self.steps_view.setModel(self.steps_model)
        self.steps_view.setUniformRowHeights(True)
        self.steps_view.setAlternatingRowColors(True)
        self.steps_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        for col, width in enumerate((60, 95, 150, 85, 105, 65, 65, 50, 150)):
            self.steps_view.setColumnWidth(col, width)
        self.steps_view.verticalScrollBar().valueChanged.connect(self._maybe_fetch_steps)
        self.steps_view.verticalScrollBar().rangeChanged.connect(self._maybe_fetch_steps)
        self.steps_view.expanded.connect(self._maybe_fetch_steps)
        self.steps_model.rowsInserted.connect(self._span_node_rows)
        self.steps_model.modelReset.connect(self._span_node_rows)

        self.detail = DetailPanel()
        self.detail.save_requested.connect(self.save_payload)

        # The logs around the selected run (Postgres): a dock under the lists. Its reads run on
        # a worker of their own, so a slow ledger scan never holds up a click on a run.
        self.logs_runner: TaskRunner | None = None
        self.logs_source = None  # the source's LogsSource, built on a worker after opening
        self._logs_panel: RunLogsPanel | None = None  # built when a source with logs opens
        self._ledger_window: LedgerWindow | None = None  # built when first shown
        self.logs_dock = QDockWidget("Run logs", self)
        self.logs_dock.setObjectName("logsDock")
        self.logs_dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetClosable
                                   | QDockWidget.DockWidgetFeature.DockWidgetMovable
                                   | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.logs_dock)
        self.logs_dock.hide()

        # The selected run's evidence and integrity: a dock beside Run logs (tabbed with it when
        # both are shown), made on first use and shown by default for a source with a store.
        self._evidence_panel: EvidencePanel | None = None
        self.evidence_dock = QDockWidget("Evidence", self)
        self.evidence_dock.setObjectName("evidenceDock")
        self.evidence_dock.setFeatures(self.logs_dock.features())
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.evidence_dock)
        self.tabifyDockWidget(self.logs_dock, self.evidence_dock)
        self.evidence_dock.hide()

        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.steps_view)
        right.addWidget(self.detail)
        right.setSizes([380, 420])
        right.setStretchFactor(0, 1)
        right.setStretchFactor(1, 1)
        self.right_splitter = right
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.runs_view)
        self.splitter.addWidget(right)
        self.splitter.setSizes([890, 610])

        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.filters)
        layout.addWidget(self.banner)
        layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        # Status bar: source · totals · progress
        self.source_label = QLabel("No source open")
        self.source_label.setObjectName("sourceLabel")
        self.totals_label = QLabel()
        self.totals_label.setObjectName("totalsLabel")
        self.totals_label.setContentsMargins(8, 0, 8, 0)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(180)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.cancel_button = QToolButton()
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolTip("Ask the server to stop the running query")
        self.cancel_button.hide()
        self.cancel_button.clicked.connect(self.cancel_reads)
        self._cancel_timer = QTimer(self)
        self._cancel_timer.setSingleShot(True)
        self._cancel_timer.setInterval(400)
        self._cancel_timer.timeout.connect(self._offer_cancel)
        # The integrity distribution of the current filter, graded in the background.
        self.grading = GradingJob(lambda: self.grading_runner, self._report, self)
        self.grading.finished.connect(lambda dist: self.runs_model.add_grades(dict(dist.grades)))
        sb = self.statusBar()
        sb.addWidget(self.source_label, 1)
        for widget in self.grading.widgets:
            sb.addPermanentWidget(widget)
        sb.addPermanentWidget(self.totals_label)
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.cancel_button)

        # Passwords typed this session, by URL without password: memory only, never settings.
        self._passwords: dict[str, str] = {}
        self.password_prompt: PasswordPrompt | None = None
        self.connect_dialog: ConnectDialog | None = None
        self.reconnect = ReconnectController(self)
        self.reconnect.status_changed.connect(self._on_reconnect_status)
        self.reconnect.probe.connect(self._probe_source)
        self.reconnect.reconnected.connect(self._on_reconnected)

        from ui.qt.actions import install_actions

        self.actions_by_name: dict[str, QAction] = install_actions(self)
        self._rebuild_recent_menu()

        # Wiring
        self.bus.posted.connect(self._on_message)
        self.filters.changed.connect(self.runs_model.set_filter)
        self.filters.changed.connect(self._restart_grading)
        self.filters.invalid.connect(self.bus.warning)
        self.runs_view.selectionModel().currentRowChanged.connect(self._run_selected)
        self.steps_view.selectionModel().currentChanged.connect(self._step_selected)
        self.runs_model.counts_changed.connect(self._on_counts)
        self.runs_model.loading_changed.connect(self._on_loading)
        self.runs_model.modelReset.connect(self._restore_run_selection)
        self.runs_model.dataChanged.connect(self._page_arrived)
        self.disk.busy_changed.connect(self._on_busy)
        self._pending_select: str | None = None
        self._pending_scroll: int | None = None  # the list's scroll position to restore after a refresh
        self._reload_selected = False  # read the selected run again once it is found (after a reconnect)
        # Once the user closes the Run logs dock it stays closed (View → Run Logs brings it back).
        self._logs_dock_closed = False
        self.logs_dock.visibilityChanged.connect(self._on_logs_dock_visibility)
        # Likewise for the Evidence dock.
        self._evidence_dock_closed = False
        self._hiding_evidence = False
        self.evidence_dock.visibilityChanged.connect(self._on_evidence_dock_visibility)
        self.resize(1500, 900)

    # -- messages and progress -----------------------------------------------------------------

    def _report(self, exc: BaseException, doing: str) -> None:
        source = self.source
        if isinstance(exc, SourceUnavailable) and source is not None and exc.location == source.info.location:
            # The server went away: keep everything shown, retry with back-off, say so.
            if not self.reconnect.active:
                self.reconnect.start(source.info.location, exc.detail)
            return
        if isinstance(exc, QueryCancelled):
            self.bus.warning(f"Stopped: {exc.detail}")
            return
        self.bus.exception(exc, doing)

    def _on_message(self, level: int, text: str) -> None:
        lvl = Level(level)
        if lvl >= Level.WARNING:
            self.banner.show_message(lvl, text)
        self.statusBar().showMessage(text, 8000 if lvl == Level.INFO else 15000)

    def _on_busy(self, busy: bool, label: str) -> None:
        runner = self.sender()
        key = getattr(runner, "name", "?")
        if busy:
            self._busy_labels[key] = label
        else:
            self._busy_labels.pop(key, None)
        self._update_progress()
        waited_on = (self.source_runner, self.logs_runner, self.evidence_runner)
        if runner is not None and runner in waited_on:
            if busy:
                self._cancel_timer.start()
            elif not any(r is not None and r.pending for r in waited_on):
                self._cancel_timer.stop()
                self.cancel_button.hide()

    def _offer_cancel(self) -> None:
        """A read the user waits on has run for a while: offer to stop it (sources that can)."""
        busy = any(r is not None and r.pending for r in (self.source_runner, self.logs_runner, self.evidence_runner))
        if busy and hasattr(self.source, "cancel"):
            self.cancel_button.show()

    def cancel_reads(self) -> None:
        """Ask the server to stop the source's running statements. The request itself is a
        network round trip, so it is sent from a short-lived thread, never the GUI thread."""
        import threading

        source = self.source
        if source is None or not hasattr(source, "cancel"):
            return
        self.cancel_button.hide()
        threading.Thread(target=source.cancel, name="cancel-query", daemon=True).start()
        self.bus.info("Cancelling the running query…")

    # -- lost connections ----------------------------------------------------------------------

    def _on_reconnect_status(self, text: str) -> None:
        self.banner.show_message(Level.WARNING, text, ("Retry now", self.reconnect.retry_now))
        self.statusBar().showMessage(text, 2000)

    def _probe_source(self) -> None:
        source, runner = self.source, self.source_runner
        if source is None or runner is None:
            self.reconnect.stop()
            return

        def failed(exc: BaseException) -> None:
            if source is self.source:
                self.reconnect.failed(exc.detail if isinstance(exc, InspectorError) else str(exc))

        def failed_or_stop(exc: BaseException) -> None:
            if isinstance(exc, PasswordRequired) and source is self.source:
                # The server is back but wants a (new) password: retrying will not help.
                self.reconnect.stop()
                self.bus.exception(exc, "reconnect")
                return
            failed(exc)

        ping = getattr(source, "ping", None) or (lambda: source.count_runs(RunFilter()))
        runner.submit(ping, lambda _n: source is self.source and self.reconnect.succeeded(), failed_or_stop,
                      label="Reconnecting")

    def _on_reconnected(self) -> None:
        self.banner.hide()
        self.bus.info(f"Reconnected to {self.reconnect.target}")
        if self.source is not None and self.logs_source is None and hasattr(self.source, "logs"):
            self._start_logs(self.source)  # it failed while the server was away
        elif self._ledger_shown():
            self.ledger_window.reload()
        # The selected run's steps and detail are read again once the list has found it; until
        # then they stay as they were.
        self._reload_selected = self.current_run() is not None
        self.refresh()

    def _on_loading(self, loading: bool) -> None:
        self._update_progress()

    def _update_progress(self, done: int | None = None, total: int | None = None) -> None:
        busy = bool(self._busy_labels) or self.runs_model.loading
        if done is not None and total:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            self.progress.show()
            return
        if busy:
            self.progress.setRange(0, 0)
            self.progress.setToolTip(", ".join(self._busy_labels.values()) or "Loading")
            self.progress.show()
        else:
            self.progress.hide()

    def _on_counts(self, runs: int, orphans: int) -> None:
        extra = f" · {orphans} orphan run id{'s' if orphans != 1 else ''}" if orphans else ""
        flt = "" if self.runs_model.run_filter.is_empty else " (filtered)"
        self.runs_view.setToolTip(f"{fmt_count(runs)} runs{flt}{extra}")
        self._refresh_totals_label()

    def _refresh_totals_label(self) -> None:
        totals = getattr(self, "_totals", None)
        runs = self.runs_model.rowCount() - self.runs_model.orphan_rows
        shown = f"{fmt_count(runs)} shown · " if not self.runs_model.run_filter.is_empty else ""
        if totals is None:
            self.totals_label.setText(f"{shown}counting…" if self.source else "")
        else:
            orphan = f" · {fmt_count(totals.orphan_runs)} orphan run ids" if totals.orphan_runs else ""
            self.totals_label.setText(f"{shown}{fmt_count(totals.runs)} runs · {fmt_count(totals.steps)} steps{orphan}")

    # -- opening sources -----------------------------------------------------------------------

    def open_location(self, location: str, password: str | None = None) -> None:
        """Open a source in the background; the current one stays until the new one is ready.
        A Postgres URL's password (typed, or inside the URL) is kept in memory for the session
        only; the URL is shown, logged and remembered without it."""
        location, inline = split_password(os.fspath(location))
        password = password or inline or self._passwords.get(location)
        if password:
            self._passwords[location] = password
        self.bus.info(f"Opening {location}…")

        def open_and_read():
            # The first page is read on the same worker right after opening: one round trip to
            # the GUI thread instead of two before the list paints.
            source = self._open_source(location, password=password) if password else self._open_source(location)
            try:
                return source, read_first_page(source)
            except BaseException:
                source.close()
                raise

        def failed(exc: BaseException) -> None:
            if isinstance(exc, PasswordRequired):
                self._passwords.pop(location, None)
                self.ask_password(location, exc.detail)
                return
            self.bus.exception(exc, f"open {location}")
            if isinstance(exc, SourceUnavailable):
                # The server may be back in a moment: offer to try again without retyping anything.
                self.banner.show_message(Level.ERROR, self.banner.label.text(),
                                         ("Retry", lambda: self.open_location(location)))

        self.disk.submit(
            open_and_read,
            lambda result: self._install_source(result[0], location, result[1]),
            failed,
            label=f"Opening {Path(location).name}" if "://" not in location else f"Connecting to {location}",
            on_discard=lambda result: result[0].close(),  # the window went away while it opened
        )

    def ask_password(self, location: str, reason: str) -> None:
        """Ask for a password without blocking the event loop (a window-modal sheet)."""
        if self.password_prompt is not None:
            self.password_prompt.deleteLater()
        self.password_prompt = PasswordPrompt(location, reason, self)
        self.password_prompt.submitted.connect(lambda url, pw: self.open_location(url, pw))
        self.password_prompt.open()

    def ask_connect(self) -> None:
        """File → Connect to Postgres…"""
        if self.connect_dialog is not None:
            self.connect_dialog.deleteLater()
        self.connect_dialog = ConnectDialog(self.recent_files(), self)
        self.connect_dialog.connect_requested.connect(lambda url, pw: self.open_location(url, pw))
        self.connect_dialog.open()

    def open_demo(self) -> None:
        if self._demo_provider is None:
            from drivers.demo import ensure_demo

            provider: Callable[..., Path] = ensure_demo
        else:
            provider = self._demo_provider
        self.bus.info("Preparing the demo database (generated once, on first use)…")
        self.disk.submit(
            lambda progress: provider(progress=progress),
            lambda path: self.open_location(str(path)),
            lambda exc: self.bus.exception(exc, "prepare the demo database"),
            label="Generating the demo database",
            on_progress=lambda done, total: self._update_progress(done, total),
        )

    def _install_source(self, source: TraceSource, location: str, first_page=None) -> None:
        self.close_source()
        self.source = source
        self.filters.archived.setVisible(Capability.ARCHIVE in source.info.capabilities)
        self.source_runner = TaskRunner(f"source:{source.info.display_name}", sync=self._sync, parent=self)
        self.source_runner.busy_changed.connect(self._on_busy)
        self.background_runner = TaskRunner(f"background:{source.info.display_name}", sync=self._sync, parent=self)
        self.background_runner.busy_changed.connect(self._on_busy)
        self.evidence_runner = TaskRunner(f"evidence:{source.info.display_name}", sync=self._sync, parent=self)
        self.evidence_runner.busy_changed.connect(self._on_busy)
        # Grading shows its own progress in the status bar: not part of the busy spinner.
        self.grading_runner = TaskRunner(f"grading:{source.info.display_name}", sync=self._sync, parent=self)
        self._totals = None
        note = f" — {'; '.join(source.info.notes)}" if source.info.notes else ""
        self.source_label.setText(f"{source.info.kind}: {source.info.location}{note}")
        self.source_label.setToolTip(source.info.location)
        self.setWindowTitle(f"{source.info.display_name} — AOS Trace Inspector")
        self._add_recent(location)
        self.filters.reset()
        self.runs_model.set_source(source, first_page)
        self.steps_model.set_source(source)
        self.detail.clear()
        self._after_first_paint(lambda: source is self.source and (
            self._load_side_info(), self._start_logs(source), self._start_evidence(source)))
        for note_text in source.info.notes:
            self.bus.warning(f"{source.info.display_name}: {note_text}")
        self.bus.info(f"Opened {location}")
        self.source_opened.emit(source)

    def _after_first_paint(self, work: Callable[[], object]) -> None:
        """Run ``work`` once the runs list has painted the new source's first page (or after
        250 ms, if nothing paints): side reads (filter values, totals, the replay index, the logs
        tables) would otherwise compete with that first paint for the interpreter."""
        if self._sync:
            work()
            return
        viewport = self.runs_view.viewport()
        # Both belong to the window: if it goes first, they go with it and nothing runs.
        fallback = QTimer(self)
        fallback.setSingleShot(True)
        fallback.setInterval(250)

        def run_once() -> None:
            if fallback.property("done"):
                return
            fallback.setProperty("done", True)
            fallback.stop()
            viewport.removeEventFilter(watcher)
            watcher.deleteLater()
            fallback.deleteLater()
            work()

        class _Watcher(QObject):
            def eventFilter(self, _obj, event) -> bool:
                if event.type() == QEvent.Type.Paint:
                    fallback.start(0)  # right after this paint
                return False

        watcher = _Watcher(self)
        viewport.installEventFilter(watcher)
        fallback.timeout.connect(run_once)
        fallback.start()

    @property
    def logs_panel(self) -> RunLogsPanel:
        """The Run logs panel, made on first use (a window that never opens Postgres never
        pays for its seven tables)."""
        if self._logs_panel is None:
            from ui.qt.logs_panels import RunLogsPanel

            self._logs_panel = RunLogsPanel(lambda: self.logs_runner, lambda: self.logs_source, self._report)
            self._logs_panel.save_requested.connect(self.save_payload)
            self.logs_dock.setWidget(self._logs_panel)
        return self._logs_panel

    @property
    def ledger_window(self) -> LedgerWindow:
        """The tenant-wide Audit ledger window, made on first use."""
        if self._ledger_window is None:
            from ui.qt.logs_panels import LedgerWindow

            self._ledger_window = LedgerWindow(lambda: self.logs_runner, lambda: self.logs_source, self._report, self)
            self._ledger_window.setWindowFlag(Qt.WindowType.Window, True)
            self._ledger_window.save_requested.connect(self.save_payload)
            self._ledger_window.resize(1200, 760)
        return self._ledger_window

    def _ledger_shown(self) -> bool:
        return self._ledger_window is not None and self._ledger_window.isVisible()

    def _start_logs(self, source: TraceSource) -> None:
        """Sources with the logs tables (Postgres) get the Run logs dock and the ledger window;
        the logs reader reads the catalogue when built, so it is built on the logs worker."""
        make_logs = getattr(source, "logs", None)
        self.logs_source = None
        if self._logs_panel is not None:
            self._logs_panel.clear()
        if make_logs is None:
            self.logs_dock.hide()
            if self._ledger_window is not None:
                self._ledger_window.hide()
            self.actions_by_name["ledger"].setEnabled(False)
            return
        if self.logs_runner is None:
            self.logs_runner = TaskRunner(f"logs:{source.info.display_name}", sync=self._sync, parent=self)
            self.logs_runner.busy_changed.connect(self._on_busy)

        def ready(logs) -> None:
            if source is not self.source:
                return
            self.logs_source = logs
            self.logs_panel.clear()
            self.actions_by_name["ledger"].setEnabled(True)
            if not self.logs_dock.isVisible() and not self._logs_dock_closed:
                self.logs_dock.show()
                self.resizeDocks([self.logs_dock], [300], Qt.Orientation.Vertical)
                half = max(self.right_splitter.height(), 200) // 2
                self.right_splitter.setSizes([half, half])
            if self._ledger_shown():
                self.ledger_window.reload()
            run = self.current_run()
            if run is not None:
                self._show_run_logs(run)
            for note in getattr(logs, "missing_notes", ()):
                self.bus.info(f"{source.info.display_name}: {note}")

        self.logs_runner.submit(make_logs, ready, lambda e: self._report(e, "read the logs tables"),
                                label="Reading the logs tables")

    def _on_logs_dock_visibility(self, visible: bool) -> None:
        if not visible and self.logs_source is not None and not self.isMinimized() and self.isVisible():
            self._logs_dock_closed = True
        elif visible:
            self._logs_dock_closed = False
            if self.logs_panel.run_id is None:
                self._show_run_logs(self.current_run())

    def _show_run_logs(self, run: RunSummary | None) -> None:
        """Read the selected run's logs, only while the dock is shown (seven reads per run)."""
        if self.logs_source is None or run is None or run.orphan:
            return
        if not self.logs_dock.isVisible():
            if self._logs_panel is not None:
                self._logs_panel.clear()
            return
        if self.logs_panel.run_id == run.run_id and self.logs_panel.pending:
            return
        self.logs_panel.show_run(run.run_id, run.trace_id, run.tenant_id, run.correlation_id)

    def show_ledger(self) -> None:
        """View → Audit Ledger: the tenant-wide ledger of the open Postgres source."""
        if self.logs_source is None:
            self.bus.warning("The audit ledger is in the AOS Postgres database: connect to one first")
            return
        self.ledger_window.reload()
        self.ledger_window.show()
        self.ledger_window.raise_()
        self.ledger_window.activateWindow()

    # -- evidence and integrity ---------------------------------------------------------------------

    @property
    def evidence_panel(self) -> EvidencePanel:
        """The Evidence panel, made on first use."""
        if self._evidence_panel is None:
            from ui.qt.evidence_panel import EvidencePanel

            self._evidence_panel = EvidencePanel(lambda: self.evidence_runner, lambda: self.evidence_reader,
                                                 self._report)
            state = self._evidence_state()
            self._evidence_panel.set_store(state, self._evidence_error or "")
            self.evidence_dock.setWidget(self._evidence_panel)
        return self._evidence_panel

    def _evidence_state(self) -> str:
        if self.source is None or self.evidence_runner is None:
            return "unknown"
        if self.evidence_reader is not None:
            return "store"
        if self._evidence_error is not None:
            return "error"
        return self.runs_model.evidence_state

    def _start_evidence(self, source: TraceSource) -> None:
        """Find the source's evidence reader on the evidence worker (it looks for the tables),
        then grade the list's pages and the filter, and show the Evidence dock if there is a store."""
        runner = self.evidence_runner
        if runner is None:
            return

        def ready(reader) -> None:
            if source is not self.source:
                return
            has_store = reader is not None and bool(reader.has_store)
            known_without = self.runs_model.evidence_state == "none"  # a refresh of such a source
            self.evidence_reader = reader if has_store else None
            self.runs_model.set_evidence(self.evidence_reader)
            self.filters.set_grades_available(has_store)
            if has_store:
                self.evidence_panel.set_store("store")
                if not self.evidence_dock.isVisible() and not self._evidence_dock_closed:
                    logs_shown = self.logs_dock.isVisible()
                    self.evidence_dock.show()
                    if not logs_shown:
                        self.resizeDocks([self.evidence_dock], [330], Qt.Orientation.Vertical)
                        half = max(self.right_splitter.height(), 200) // 2
                        self.right_splitter.setSizes([half, half])
                self._restart_grading()
                self._show_run_evidence(self.current_run())
            else:
                self.grading.clear("Integrity: no evidence store",
                                   "This source has no evidence tables: its runs are not graded")
                if self._evidence_panel is not None:
                    self._evidence_panel.set_store("none")
                if self.evidence_dock.isVisible() and not self.evidence_dock.isFloating() and not known_without:
                    # Not by default; View → Evidence still opens it, to say "no evidence store".
                    self._hiding_evidence = True
                    self.evidence_dock.hide()
                    self._hiding_evidence = False

        def failed(exc: BaseException) -> None:
            if source is not self.source:
                return
            why = str(exc) if isinstance(exc, InspectorError) else f"internal error ({type(exc).__name__})"
            self.runs_model.set_evidence(None)
            self.filters.set_grades_available(False, f"Could not look for the evidence tables: {why}")
            self.grading.clear("Integrity: unavailable", f"Could not look for the evidence tables: {why}")
            self._evidence_error = why
            if self._evidence_panel is not None:
                self._evidence_panel.set_store("error", why)
            self._report(exc, "look for the evidence tables")

        runner.submit(source.evidence, ready, failed, label="Looking for evidence tables")

    def _restart_grading(self, flt: RunFilter | None = None) -> None:
        """Grade every run of the filter shown, in the background (a job running is cancelled)."""
        source, reader = self.source, self.evidence_reader
        if source is None or reader is None:
            return
        self.grading.start(source, reader, flt if flt is not None else self.runs_model.run_filter)

    def _on_evidence_dock_visibility(self, visible: bool) -> None:
        if visible:
            self._evidence_dock_closed = False
            panel = self.evidence_panel  # made now if the user opened the dock first
            run = self.current_run()
            if run is not None and panel.run_id != run.run_id:
                self._show_run_evidence(run)
        elif (not self._hiding_evidence and self.evidence_reader is not None
              and not self.evidence_dock.toggleViewAction().isChecked()):
            # Closed by the user (a tab of a dock group turning away leaves the action checked).
            self._evidence_dock_closed = True

    def _show_run_evidence(self, run: RunSummary | None) -> None:
        """Read the selected run's evidence, only while the dock is shown."""
        if run is None or self._evidence_panel is None:
            return
        panel = self._evidence_panel
        if not self.evidence_dock.isVisible():
            panel.clear()
            return
        if panel.run_id == run.run_id and (panel.pending or panel.showing_evidence):
            return  # another trace of the same run: the same evidence
        panel.show_run(run.run_id)

    def _load_side_info(self) -> None:
        source, runner = self.source, self.background_runner
        if source is None or runner is None:
            return

        def choices():
            return {f: source.distinct_values(f) for f in ("status", "tenant_id", "agent_id")}

        def got_choices(values):
            if source is self.source:
                for f, v in values.items():
                    self.filters.set_choices(f, v)

        def got_totals(totals):
            if source is self.source:
                self._totals = totals
                self._refresh_totals_label()

        runner.submit(choices, got_choices, lambda e: self._report(e, "list filter values"), label="Listing filter values")
        runner.submit(source.totals, got_totals, lambda e: self._report(e, "count runs and steps"), label="Counting runs and steps")
        # Build the replay index now, so the first click on a run does not wait for it.
        runner.submit(source.prepare, None, lambda e: self._report(e, "index replays"), label="Indexing replays")
        self._refresh_totals_label()

    def close_source(self) -> None:
        self.reconnect.stop()
        self.cancel_button.hide()
        self.filters.archived.hide()
        old_source, old_runner, old_background = self.source, self.source_runner, self.background_runner
        old_logs = self.logs_runner
        old_evidence, old_grading = self.evidence_runner, self.grading_runner
        self.source = None
        self.source_runner = None
        self.background_runner = None
        self.logs_runner = None
        self.logs_source = None
        self.evidence_runner = None
        self.grading_runner = None
        self.evidence_reader = None
        self._evidence_error = None
        self.grading.clear()
        self.filters.set_grades_available(None)
        for view in self._run_views:
            view.close()  # they read the source being closed
        self._run_views.clear()
        if self._evidence_panel is not None:
            self._evidence_panel.set_store("unknown")
        if self._logs_panel is not None:
            self._logs_panel.clear()
        if self._ledger_window is not None:
            self._ledger_window.hide()
        # The logs and evidence readers share the source's engine: the source is closed only once
        # their workers are idle too (close_when_idle waits for them).
        extra_runners = [r for r in (old_logs, old_evidence, old_grading) if r is not None]
        for extra in extra_runners:
            extra.shutdown_async(None)
            self._retired.append(extra)
        if old_source is not None and hasattr(old_source, "cancel"):
            # Stop a slow statement now rather than wait for it (sent from a short-lived thread).
            import threading

            threading.Thread(target=old_source.cancel, name="cancel-on-close", daemon=True).start()
        self.runs_model.set_source(None)
        self.steps_model.set_source(None)
        self.detail.clear()
        self.source_label.setText("No source open")
        self.totals_label.clear()
        if old_runner is not None:
            # Let the old workers finish what they are doing and close the source on one of them
            # once both are idle: the GUI thread never waits for a read.
            background = old_background

            def close_when_idle() -> None:
                if background is not None:
                    background.wait(-1)
                for extra in extra_runners:
                    extra.wait(-1)
                if old_source is not None:
                    old_source.close()

            if background is not None:
                background.shutdown_async(None)
                self._retired.append(background)
            old_runner.shutdown_async(close_when_idle)
            self._retired.append(old_runner)
        elif old_source is not None:
            old_source.close()
        # Workers of sources closed earlier that have finished need no keeping.
        for runner in [r for r in self._retired if r.idle]:
            self._retired.remove(runner)
            runner.deleteLater()

    def refresh(self) -> None:
        source, runner = self.source, self.source_runner
        if source is None or runner is None:
            return
        current = self.current_run()
        self._pending_select = current.key if current else None
        self._pending_scroll = self.runs_view.verticalScrollBar().value()

        def done(_):
            if source is self.source:
                self.runs_model.reload(keep_rows=True)
                self._load_side_info()
                # Evidence (even its tables) may have been written since: the reader is found
                # again, then the grades, the distribution and the Evidence panel are read again.
                self._start_evidence(source)
                self.bus.info("Refreshed")

        runner.submit(source.refresh, done, lambda e: self._report(e, "refresh"), label="Refreshing")

    # -- replays: compare, replay check, idempotency keys (issue 5) ----------------------------

    @property
    def redis(self):
        """The Redis setting (URL without password in QSettings; the password for this session)."""
        if self._redis is None:
            from ui.qt.redis_settings import RedisSettings

            self._redis = RedisSettings(self.settings, sync=self._sync, parent=self)
        return self._redis

    def show_redis_settings(self) -> None:
        from ui.qt.redis_settings import RedisSettingsDialog

        RedisSettingsDialog(self.redis, self).exec()

    def _selected_run(self, doing: str) -> RunSummary | None:
        run = self.current_run()
        if self.source is None or run is None:
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
        from ui.qt.compare_view import open_compare

        open_compare(self, self.background_runner, (self.source, run.key))

    def compare_with(self) -> None:
        """The selected run beside another run of this source (the window can switch sources)."""
        run = self._selected_run("compare it")
        if run is None:
            return
        from PySide6.QtWidgets import QInputDialog

        other, ok = QInputDialog.getText(self, "Compare With", f"Compare {run.run_id} (left) with run id:",
                                         text=run.replay_of or "")
        if not ok or not other.strip():
            return
        from ui.qt.compare_view import open_compare

        open_compare(self, self.background_runner, (self.source, run.key), (self.source, other.strip()))

    def _open_run_view(self, view: QWidget) -> None:
        view.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        view.setWindowFlag(Qt.WindowType.Window)
        self._run_views.append(view)
        view.destroyed.connect(lambda *_: self._run_views.remove(view) if view in self._run_views else None)
        view.show()
        view.start()

    def replay_check(self) -> None:
        """The selected replay through upstream's replay enforcer against its original."""
        run = self._selected_run("check its replay")
        if run is None:
            return
        from ui.qt.replay_view import ReplayCheckView

        self._open_run_view(ReplayCheckView(self.source, run.key, runner_for=lambda: self.background_runner,
                                            redis=self.redis, parent=self))

    def show_idempotency(self) -> None:
        """The Redis state of the selected run's idempotency keys."""
        run = self._selected_run("see its idempotency keys")
        if run is None:
            return
        from ui.qt.idempotency_view import IdempotencyView

        self._open_run_view(IdempotencyView(self.source, run.key, runner_for=lambda: self.background_runner,
                                            redis=self.redis, parent=self))

    # -- selection -----------------------------------------------------------------------------

    def current_run(self) -> RunSummary | None:
        ix = self.runs_view.currentIndex()
        return self.runs_model.run_at(ix.row(), request=False) if ix.isValid() else None

    def _restore_run_selection(self) -> None:
        """After the list was read again: back to where the user was (scroll position, then the
        selected run, found once its page has been read)."""
        if self._pending_scroll is not None:
            scroll, self._pending_scroll = self._pending_scroll, None
            # Scrolling there makes the view ask for the pages it shows.
            QTimer.singleShot(0, lambda: self.runs_view.verticalScrollBar().setValue(scroll))
        if not self._pending_select:
            return
        QTimer.singleShot(0, self._try_restore_selection)

    def _page_arrived(self, top_left=None, bottom_right=None, *_args) -> None:
        if top_left is not None and bottom_right is not None and top_left.column() == bottom_right.column() \
                == self._grade_column:
            return  # grades arriving: no new rows to find the selected run in
        if self._pending_select:
            self._try_restore_selection()

    def _try_restore_selection(self) -> None:
        target = self._pending_select
        if not target:
            return
        row = self.runs_model.row_of(target)
        if row is not None:
            self._pending_select = None
            self.runs_view.selectRow(row)

    def select_run(self, run_id: str) -> bool:
        row = self.runs_model.row_of(run_id)
        if row is None:
            return False
        self.runs_view.selectRow(row)
        self.runs_view.scrollTo(self.runs_model.index(row, 0))
        return True

    def _run_selected(self, current, _previous=None) -> None:
        run = self.runs_model.data(current, RUN_ROLE) if current.isValid() else None
        if run is None:
            return
        same = self.steps_model.current_run is not None and self.steps_model.current_run.key == run.key
        if same and not run.orphan and not self._reload_selected:
            self._show_run_evidence(run)  # read again if a refresh found the evidence reader again
            return
        self._reload_selected = False
        self.steps_model.set_run(run)
        top = self.steps_model.top_index()
        if top.isValid():
            # Ask for the first steps now: after a reset QTreeView expands (and fetches) only at
            # its next layout, which would put the step page behind the run detail read.
            self.steps_model.fetchMore(top)
            self.steps_view.expand(top)
        self._show_run_detail(run.key, run)
        self._show_run_logs(run)
        self._show_run_evidence(run)

    def _show_run_detail(self, run_id: str, known: RunSummary | None = None) -> None:
        source, runner, background = self.source, self.source_runner, self.background_runner
        if source is None or runner is None:
            return
        self._detail_request += 1
        token = self._detail_request
        self.detail.show_loading(f"run {run_id}")
        # Counting a run's steps reads every one of them (100k for the largest): the record is
        # read at once without them, the counters come from the list row or, failing that, from
        # the background worker.
        counted = known is not None and known.has_aggregates and not known.orphan

        def load():
            record = source.get_run(run_id, with_aggregates=False)
            if counted:
                record = dataclasses.replace(record, summary=record.summary.with_counters(known))
            return record

        def shown(record) -> None:
            if token != self._detail_request:
                return
            self.detail.show_run(record)
            if record.summary.has_aggregates or background is None:
                return

            def counters(aggs) -> None:
                agg = aggs.get(run_id)
                if token == self._detail_request and agg is not None:
                    self.detail.show_run(dataclasses.replace(record, summary=record.summary.with_counters(agg)))

            background.submit(lambda: source.aggregate_runs([run_id]), counters,
                              lambda e: self._report(e, f"count the steps of {run_id}"), label="Counting steps")

        runner.submit(load, shown, lambda e: self._report(e, f"read run {run_id}"), label="Reading run")

    def _step_selected(self, current, _previous=None) -> None:
        if not current.isValid():
            return
        step_ref = self.steps_model.data(current.siblingAtColumn(0), STEP_ROLE)
        source, runner = self.source, self.source_runner
        if source is None or runner is None:
            return
        if step_ref is None:
            run = self.steps_model.data(current.siblingAtColumn(0), NODE_ROLE)
            if run is not None:
                self._show_run_detail(run.key, run)
            return
        run_id, row = step_ref
        self._detail_request += 1
        token = self._detail_request
        self.detail.show_loading(f"step {row.step_index}")
        runner.submit(
            lambda: source.get_step(run_id, row.step_index),
            lambda step: token == self._detail_request and self.detail.show_step(step),
            lambda e: self._report(e, f"read step {row.step_index} of {run_id}"),
            label="Reading step",
        )

    def _maybe_fetch_steps(self, *_args) -> None:
        """Near the end of the loaded steps of an expanded run, ask for the next chunk."""
        bar = self.steps_view.verticalScrollBar()
        if bar.maximum() > 0 and bar.value() < bar.maximum() - bar.pageStep():
            return
        from PySide6.QtCore import QPoint

        vp = self.steps_view.viewport()
        bottom = self.steps_view.indexAt(QPoint(4, vp.height() - 4))
        candidates = []
        if bottom.isValid():
            candidates.append(bottom.parent() if self.steps_model.data(bottom.siblingAtColumn(0), STEP_ROLE) else bottom)
        elif bar.maximum() == 0:
            # Nothing scrolls: either the rows do not fill the view (fetch more) or the view has
            # not laid them out yet (a range change before layout must not fetch ahead).
            model = self.steps_model
            top = model.top_index()
            last = model.index(model.rowCount(top) - 1, 0, top) if top.isValid() else top
            rect = self.steps_view.visualRect(last) if last.isValid() else None
            if rect is None or not rect.isValid() or rect.bottom() >= vp.height():
                return
        candidates.append(self.steps_model.top_index())
        for parent in candidates:
            if parent.isValid() and self.steps_view.isExpanded(parent) and self.steps_model.request_more(parent):
                return

    def _span_node_rows(self, parent=None, first: int = 0, last: int = -1) -> None:
        """Run and group rows span the whole width; steps use the columns."""
        from PySide6.QtCore import QModelIndex

        model = self.steps_model
        parent = parent if parent is not None and parent.isValid() else QModelIndex()
        if parent.isValid() and model.data(parent, NODE_ROLE) is not None and model.rowCount(parent) > 0:
            # Within a run node only the first rows can be nodes (the replays group).
            for r in range(min(model.rowCount(parent), 2)):
                ix = model.index(r, 0, parent)
                if model.data(ix, STEP_ROLE) is None:
                    self.steps_view.setFirstColumnSpanned(r, parent, True)
                    self._span_children(ix)
        else:
            for r in range(model.rowCount(QModelIndex())):
                self.steps_view.setFirstColumnSpanned(r, QModelIndex(), True)

    def _span_children(self, parent) -> None:
        model = self.steps_model
        for r in range(model.rowCount(parent)):
            ix = model.index(r, 0, parent)
            if model.data(ix, STEP_ROLE) is None:
                self.steps_view.setFirstColumnSpanned(r, parent, True)

    # -- files ---------------------------------------------------------------------------------

    def ask_open(self) -> None:
        start = str(Path(self.recent_files()[0]).parent) if self.recent_files() else str(Path.home())
        path, _ = QFileDialog.getOpenFileName(
            self, "Open trace source", start, "Trace sources (*.db *.sqlite *.sqlite3 *.json);;All files (*)"
        )
        if path:
            self.open_location(path)

    def save_payload(self, path: str, text: str) -> None:
        self.disk.submit(
            lambda: save_text(path, text),
            lambda p: self.bus.info(f"Saved {p}"),
            lambda e: self.bus.error(f"Could not save {path}: {e}"),
            label="Saving",
        )

    def recent_files(self) -> list[str]:
        value = self.settings.value("recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or [])]

    def _add_recent(self, location: str) -> None:
        items = [location] + [r for r in self.recent_files() if r != location]
        self.settings.setValue("recent", items[:MAX_RECENT])
        self._rebuild_recent_menu()

    def _rebuild_recent_menu(self) -> None:
        menu: QMenu | None = getattr(self, "recent_menu", None)
        if menu is None:
            return
        menu.clear()
        items = self.recent_files()
        for loc in items:
            action = menu.addAction(loc)
            action.triggered.connect(lambda _=False, loc=loc: self.open_location(loc))
        if not items:
            empty = menu.addAction("(none yet)")
            empty.setEnabled(False)
        else:
            menu.addSeparator()
            clear = menu.addAction("Clear recent")
            clear.triggered.connect(self._clear_recent)

    def _clear_recent(self) -> None:
        self.settings.setValue("recent", [])
        self._rebuild_recent_menu()

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

    # -- shutdown ------------------------------------------------------------------------------

    def shutdown(self) -> None:
        """Stop every worker and close the source; called on close and by tests."""
        self.close_source()
        if self._redis is not None:
            self._redis.shutdown()
        self.disk.shutdown()
        for runner in self._retired:
            runner.shutdown()
        self._retired.clear()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown()
        super().closeEvent(event)

