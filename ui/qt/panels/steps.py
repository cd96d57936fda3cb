"""The run → step tree view: the selected run, its replays and other traces, and its steps read a
chunk at a time as the view scrolls near the end of what is loaded (the model never reads ahead of
the user); run and group rows span the whole width, steps use the columns."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPoint, Signal
from PySide6.QtWidgets import QAbstractItemView, QTreeView, QWidget

from ui.qt.models.steps import NODE_ROLE, STEP_ROLE, StepTreeModel

__all__ = ["StepTreeView"]

#: Column widths: step, status, skill, outcome, code, cost, duration, retries, timestamp.
_WIDTHS = (60, 95, 150, 85, 105, 65, 65, 50, 150)


class StepTreeView(QTreeView):
    """A view of a :class:`StepTreeModel`. ``run_chosen(RunSummary)`` fires when a run row becomes
    current, ``step_chosen(run key, StepRow)`` when a step does."""

    run_chosen = Signal(object)
    step_chosen = Signal(str, object)

    def __init__(self, model: StepTreeModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("stepsView")
        self.setModel(model)
        self._model = model
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        for col, width in enumerate(_WIDTHS):
            self.setColumnWidth(col, width)
        self.verticalScrollBar().valueChanged.connect(self.fetch_if_near_end)
        self.verticalScrollBar().rangeChanged.connect(self.fetch_if_near_end)
        self.expanded.connect(self.fetch_if_near_end)
        model.rowsInserted.connect(self._span_node_rows)
        model.modelReset.connect(self._span_node_rows)
        self.selectionModel().currentChanged.connect(self._current_changed)

    def show_run_top(self) -> None:
        """After a run was set on the model: ask for its first steps now and expand it (after a
        reset QTreeView expands, and fetches, only at its next layout, which would put the step
        page behind the run's detail read)."""
        top = self._model.top_index()
        if top.isValid():
            self._model.fetchMore(top)
            self.expand(top)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex | None = None) -> None:
        if not current.isValid():
            return
        first = current.siblingAtColumn(0)
        step_ref = self._model.data(first, STEP_ROLE)
        if step_ref is not None:
            run_key, row = step_ref
            self.step_chosen.emit(run_key, row)
            return
        run = self._model.data(first, NODE_ROLE)
        if run is not None:
            self.run_chosen.emit(run)

    def fetch_if_near_end(self, *_args) -> None:
        """Near the end of the loaded steps of an expanded run, ask for the next chunk."""
        bar = self.verticalScrollBar()
        if bar.maximum() > 0 and bar.value() < bar.maximum() - bar.pageStep():
            return
        model = self._model
        vp = self.viewport()
        bottom = self.indexAt(QPoint(4, vp.height() - 4))
        candidates = []
        if bottom.isValid():
            candidates.append(bottom.parent() if model.data(bottom.siblingAtColumn(0), STEP_ROLE) else bottom)
        elif bar.maximum() == 0:
            # Nothing scrolls: either the rows do not fill the view (fetch more) or the view has
            # not laid them out yet (a range change before layout must not fetch ahead).
            top = model.top_index()
            last = model.index(model.rowCount(top) - 1, 0, top) if top.isValid() else top
            rect = self.visualRect(last) if last.isValid() else None
            if rect is None or not rect.isValid() or rect.bottom() >= vp.height():
                return
        candidates.append(model.top_index())
        for parent in candidates:
            if parent.isValid() and self.isExpanded(parent) and model.request_more(parent):
                return

    def _span_node_rows(self, parent: QModelIndex | None = None, first: int = 0, last: int = -1) -> None:
        """Run and group rows span the whole width; steps use the columns."""
        model = self._model
        parent = parent if parent is not None and parent.isValid() else QModelIndex()
        if parent.isValid() and model.data(parent, NODE_ROLE) is not None and model.rowCount(parent) > 0:
            # Within a run node only the first rows can be nodes (the replays group).
            for r in range(min(model.rowCount(parent), 2)):
                ix = model.index(r, 0, parent)
                if model.data(ix, STEP_ROLE) is None:
                    self.setFirstColumnSpanned(r, parent, True)
                    self._span_children(ix)
        else:
            for r in range(model.rowCount(QModelIndex())):
                self.setFirstColumnSpanned(r, QModelIndex(), True)

    def _span_children(self, parent: QModelIndex) -> None:
        model = self._model
        for r in range(model.rowCount(parent)):
            ix = model.index(r, 0, parent)
            if model.data(ix, STEP_ROLE) is None:
                self.setFirstColumnSpanned(r, parent, True)
