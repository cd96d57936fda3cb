"""The runs list's view: a table over the lazily paged :class:`RunsModel`, sorted in the source,
with the Grade column painted as badges. It keeps the user's place across a refresh (the scroll
position, then the selected run once its page has been read again)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QModelIndex, QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from inspector.model import RunSummary
from ui.format import fmt_count
from ui.qt.geometry import fit_columns
from ui.qt.models.runs import RUN_ROLE, RunsModel, column_of
from ui.qt.panels.grades import GradeDelegate

__all__ = ["FIRST_PAINT_WAIT_MS", "RunsView"]

#: Waiting for the first paint of a new source's first page stops after this (nothing painted).
FIRST_PAINT_WAIT_MS = 250

#: Column widths: run id, status, grade, findings, tenant, agent, steps, failures, cost, duration, started.
_WIDTHS = (160, 95, 58, 58, 110, 135, 50, 58, 68, 68, 145)
_GRADE_COLUMN = column_of("grade")
#: The widest usual value of the columns whose text must not be cut (counts up to a million, a
#: day's duration, a full timestamp).
_SAMPLES = {
    column_of("status"): "orphan steps",
    column_of("total_steps"): "1,000,000",
    column_of("failure_count"): "100,000",
    column_of("total_cost_cents"): "$12,345.67",
    column_of("total_duration_ms"): "23 h 59 min",
    column_of("started_at"): "2026-10-27 17:52:10",
}
#: Columns filled from the model's caches after the rows (grades, findings).
_CACHE_COLUMNS = frozenset({_GRADE_COLUMN, column_of("findings")})


class RunsView(QTableView):
    """``run_chosen(RunSummary)`` fires when the current row becomes a (loaded) run."""

    run_chosen = Signal(object)

    def __init__(self, model: RunsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runsView")
        self.setModel(model)
        self._model = model
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setSortingEnabled(True)
        header = self.horizontalHeader()
        header.setSortIndicator(column_of("started_at"), Qt.SortOrder.DescendingOrder)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(22)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        fit_columns(self, _WIDTHS, _SAMPLES, icon=frozenset({column_of("status")}))
        self.setItemDelegateForColumn(_GRADE_COLUMN, GradeDelegate(self))
        self._pending_select: str | None = None
        self._pending_scroll: int | None = None
        self.selectionModel().currentRowChanged.connect(self._current_changed)
        model.counts_changed.connect(self._on_counts)
        model.modelReset.connect(self._restore_place)
        model.dataChanged.connect(self._page_arrived)

    def current_run(self) -> RunSummary | None:
        ix = self.currentIndex()
        return self._model.run_at(ix.row(), request=False) if ix.isValid() else None

    def select_run(self, key: str) -> bool:
        """Select a loaded run by key (the run id; on Postgres the trace id) and scroll to it."""
        row = self._model.row_of(key)
        if row is None:
            return False
        self.selectRow(row)
        self.scrollTo(self._model.index(row, 0))
        return True

    def after_first_paint(self, work: Callable[[], object], *, sync: bool = False) -> None:
        """Run ``work`` once the list has painted (or after ``FIRST_PAINT_WAIT_MS`` if nothing
        paints); at once with ``sync`` (tests without an event loop)."""
        if sync:
            work()
            return
        viewport = self.viewport()
        # Both belong to the view: if it goes first, they go with it and nothing runs.
        fallback = QTimer(self)
        fallback.setSingleShot(True)
        fallback.setInterval(FIRST_PAINT_WAIT_MS)

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

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex | None = None) -> None:
        run = self._model.data(current, RUN_ROLE) if current.isValid() else None
        if run is not None:
            self.run_chosen.emit(run)

    def _on_counts(self, runs: int, orphans: int) -> None:
        extra = f" · {orphans} orphan run id{'s' if orphans != 1 else ''}" if orphans else ""
        filtered = "" if self._model.run_filter.is_empty else " (filtered)"
        self.setToolTip(f"{fmt_count(runs)} runs{filtered}{extra}")

    # -- keeping the place across a refresh --------------------------------------------------------

    def remember_place(self) -> None:
        """The list is about to be read again: come back to this scroll position and run."""
        current = self.current_run()
        self._pending_select = current.key if current else None
        self._pending_scroll = self.verticalScrollBar().value()

    def _restore_place(self) -> None:
        if self._pending_scroll is not None:
            scroll, self._pending_scroll = self._pending_scroll, None
            # Scrolling there makes the view ask for the pages it shows.
            QTimer.singleShot(0, lambda: self.verticalScrollBar().setValue(scroll))
        if self._pending_select:
            QTimer.singleShot(0, self._try_restore_selection)

    def _page_arrived(self, top_left: QModelIndex | None = None, bottom_right: QModelIndex | None = None,
                      *_roles) -> None:
        if top_left is not None and bottom_right is not None and top_left.column() == bottom_right.column() \
                and top_left.column() in _CACHE_COLUMNS:
            return  # grades or findings arriving: no new rows to find the selected run in
        if self._pending_select:
            self._try_restore_selection()

    def _try_restore_selection(self) -> None:
        target = self._pending_select
        if not target:
            return
        row = self._model.row_of(target)
        if row is not None:
            self._pending_select = None
            self.selectRow(row)
