"""The main window's status line: which source is open, its totals (runs, steps, orphan run ids,
counted in the background), a progress indicator whenever something is being read, and Cancel
when a read the user waits on runs long on a source that can stop its statements."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QLabel, QProgressBar, QToolButton, QWidget

from inspector.source import SourceTotals
from ui.format import fmt_count
from ui.qt.models.runs import RunsModel
from ui.qt.session.session import WAITED_ON, SourceSession, Worker
from ui.qt.session.tasks import TaskRunner

__all__ = ["CANCEL_AFTER_MS", "StatusLine"]

#: A read the user waits on offers Cancel once it has run this long.
CANCEL_AFTER_MS = 400
_WAITED_ON = frozenset(w.value for w in WAITED_ON)


class StatusLine(QObject):
    """The widgets (``source_label``, ``totals_label``, ``progress``, ``cancel_button``) and what
    keeps them true. :meth:`load_totals` counts the source (background worker); :meth:`track`
    adds a worker of the window's own (saving files) to the progress indicator."""

    def __init__(self, session: SourceSession, runs_model: RunsModel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._runs = runs_model
        self._totals_read = session.scope("totals")
        self.totals: SourceTotals | None = None
        self._busy: dict[str, str] = {}
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
        self.cancel_button.clicked.connect(self._cancel)
        self._cancel_timer = QTimer(self)
        self._cancel_timer.setSingleShot(True)
        self._cancel_timer.setInterval(CANCEL_AFTER_MS)
        self._cancel_timer.timeout.connect(self._offer_cancel)
        session.opened.connect(self._opened)
        session.closed.connect(self._closed)
        session.busy_changed.connect(self._on_busy)
        runs_model.loading_changed.connect(lambda _loading: self.show_progress())
        runs_model.counts_changed.connect(lambda *_counts: self._show_totals())

    @property
    def widgets(self) -> tuple[QWidget, ...]:
        """The permanent widgets, left to right (the source label stretches before them)."""
        return (self.totals_label, self.progress, self.cancel_button)

    def track(self, runner: TaskRunner) -> None:
        """Show a window's own worker (saving files, preparing the demo) in the progress indicator."""
        runner.busy_changed.connect(lambda busy, label, name=runner.name: self._on_busy(name, busy, label))

    # -- the source and its totals ----------------------------------------------------------------

    def _opened(self, source, _prepared) -> None:
        info = source.info
        note = f" — {'; '.join(info.notes)}" if info.notes else ""
        self.source_label.setText(f"{info.kind}: {info.location}{note}")
        self.source_label.setToolTip(info.location)
        self.totals = None
        self._show_totals()

    def _closed(self) -> None:
        self._cancel_timer.stop()
        self.cancel_button.hide()
        self.source_label.setText("No source open")
        self.source_label.setToolTip("")
        self.totals = None
        self.totals_label.clear()

    def load_totals(self) -> None:
        """Count the source's runs, steps and orphan run ids (background worker)."""
        source = self._session.source
        if source is None:
            return
        self._totals_read.renew()

        def counted(totals: SourceTotals) -> None:
            self.totals = totals
            self._show_totals()

        self._totals_read.submit(source.totals, counted, lambda e: self._session.report(e, "count runs and steps"),
                                 worker=Worker.BACKGROUND, label="Counting runs and steps")
        self._show_totals()

    def _show_totals(self) -> None:
        if self._session.source is None:
            self.totals_label.clear()
            return
        filtered = not self._runs.run_filter.is_empty
        runs = self._runs.rowCount() - self._runs.orphan_rows
        shown = f"{fmt_count(runs)} shown · " if filtered else ""
        totals = self.totals
        if totals is None:
            self.totals_label.setText(f"{shown}counting…")
            return
        orphan = f" · {fmt_count(totals.orphan_runs)} orphan run ids" if totals.orphan_runs else ""
        self.totals_label.setText(f"{shown}{fmt_count(totals.runs)} runs · {fmt_count(totals.steps)} steps{orphan}")

    # -- progress and Cancel ----------------------------------------------------------------------

    def _on_busy(self, worker: str, busy: bool, label: str) -> None:
        if busy:
            self._busy[worker] = label
        else:
            self._busy.pop(worker, None)
        self.show_progress()
        if worker in _WAITED_ON:
            if busy:
                self._cancel_timer.start()
            elif not self._session.pending(*WAITED_ON):
                self._cancel_timer.stop()
                self.cancel_button.hide()

    def show_progress(self, done: int | None = None, total: int | None = None) -> None:
        """A determinate bar for ``done`` of ``total``; else busy while anything is read."""
        if done is not None and total:
            self.progress.setRange(0, total)
            self.progress.setValue(done)
            self.progress.show()
            return
        if self._busy or self._runs.loading:
            self.progress.setRange(0, 0)
            self.progress.setToolTip(", ".join(self._busy.values()) or "Loading")
            self.progress.show()
        else:
            self.progress.hide()

    def _offer_cancel(self) -> None:
        """A read the user waits on has run for a while: offer to stop it (sources that can)."""
        if self._session.pending(*WAITED_ON) and self._session.can_cancel:
            self.cancel_button.show()

    def _cancel(self) -> None:
        self.cancel_button.hide()
        self._session.cancel()
