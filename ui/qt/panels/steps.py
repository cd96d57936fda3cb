"""The run and its steps: a small tree of the selected run, its replays and other traces, and
below it the table of the chosen run's steps, at any size, with a bar to jump inside the run
(go to step N, previous/next failure, previous/next retry).

Choosing a run in the tree shows its steps in the table; the run's details show in the detail
panel, a step's when a step is chosen.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QIntValidator, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QSizePolicy,
    QTableView,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from inspector.model import RunSummary, StepRow
from inspector.services.steps import seek_step
from inspector.source import StepSeek
from ui.format import fmt_count
from ui.qt.context import Entry, Item, ViewMenu, step_items
from ui.qt.geometry import fit_columns
from ui.qt.models.run_tree import NODE_ROLE, RunTreeModel
from ui.qt.models.steps import StepTableModel
from ui.qt.panels.find_bar import FindBar, TableFind
from ui.qt.session.session import SourceSession

__all__ = ["RunTreeView", "StepTableView", "StepsPanel", "stub_step"]

#: Column widths: step, status, skill, outcome, code, cost, duration, retries, timestamp; at least
#: as wide as the header and the widest usual value need in the font.
_WIDTHS = (60, 80, 150, 80, 90, 60, 60, 50, 150)
_SAMPLES = {0: "1,000,000", 1: "succeeded", 2: "skill.postgres_query", 3: "SUCCESS", 4: "ERR_HTTP_503",
            5: "$1,234.56", 6: "59 min 59 s", 7: "10", 8: "2026-10-27 17:52:10.123"}
ROW_HEIGHT = 22
#: A step chosen while the previous choice is this recent waits until the keys stop (Page Down
#: held): the detail panel reads and lays out one step, not every step flown over.
SETTLE_MS = 120


def stub_step(run: RunSummary, step_index: Any) -> StepRow:
    """A step known only by its index (its row not read yet): what the detail panel needs to read it."""
    return StepRow(None, run.run_id, step_index, None, None, None, None, None, None, None, None,
                   trace_id=run.trace_id)


class RunTreeView(QTreeView):
    """The run, its replays and other traces. ``run_chosen(RunSummary)`` when a run row becomes current."""

    run_chosen = Signal(object)

    def __init__(self, model: RunTreeModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runTreeView")
        self.setModel(model)
        self._model = model
        self.setHeaderHidden(True)
        self.setUniformRowHeights(True)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.selectionModel().currentChanged.connect(self._current_changed)
        model.rowsInserted.connect(self._grew)
        model.modelReset.connect(self._grew)
        self._fit()

    def _grew(self, *_args) -> None:
        top = self._model.top_index()
        if top.isValid():
            self.expandAll()
        self._fit()

    def _fit(self) -> None:
        """As tall as its rows, up to six; a run without replays takes one line."""
        rows = 0
        ix = self._model.top_index()
        while ix.isValid() and rows < 6:
            rows += 1
            ix = self.indexBelow(ix)
        self.setFixedHeight(max(1, rows) * ROW_HEIGHT + 2 * self.frameWidth() + 2)

    def select_top(self) -> None:
        top = self._model.top_index()
        if top.isValid():
            self.setCurrentIndex(top)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex | None = None) -> None:
        run = self._model.data(current, NODE_ROLE) if current.isValid() else None
        if run is not None:
            self.run_chosen.emit(run)


class StepTableView(QTableView):
    """A table of a :class:`StepTableModel`: fixed row heights (no per-row call into Python when
    it lays out). ``step_chosen(run key, StepRow)`` fires when a row becomes current (a stub
    :class:`StepRow` with only the step_index when its page is not read yet); a row that becomes
    current while the previous one is under :data:`SETTLE_MS` old is told when the moves stop."""

    step_chosen = Signal(str, object)

    def __init__(self, model: StepTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("stepsView")
        self.setModel(model)
        self._model = model
        self._pending_step: Any = None
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self._settled)
        self._unsaid = False
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setCornerButtonEnabled(False)
        vh = self.verticalHeader()
        vh.setVisible(False)
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vh.setDefaultSectionSize(ROW_HEIGHT)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        fit_columns(self, _WIDTHS, _SAMPLES, icon=frozenset({1}))
        self.selectionModel().currentRowChanged.connect(self._current_changed)
        self.verticalScrollBar().valueChanged.connect(self._scrolled)
        model.count_known.connect(self._count_known)
        model.modelReset.connect(self._reset)

    def _reset(self) -> None:
        self._pending_step = None
        self._unsaid = False

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex | None = None) -> None:
        if self._settle.isActive():
            self._unsaid = True  # said when the moves stop
        else:
            self._say(current)
        self._settle.start()

    def _settled(self) -> None:
        if self._unsaid:
            self._unsaid = False
            self._say(self.currentIndex())

    def _say(self, current: QModelIndex) -> None:
        run = self._model.run
        if not current.isValid() or run is None:
            return
        row = current.row()
        step = self._model.step_at(row)
        if step is None:
            key = self._model.step_index_at(row)
            if key is None:
                return
            step = stub_step(run, key)
        self.step_chosen.emit(run.key, step)

    def _scrolled(self, _value: int = 0) -> None:
        first = self.rowAt(0)
        if first >= 0:
            last = self.rowAt(self.viewport().height() - 1)
            self._model.prefetch(first, last if last >= 0 else self._model.rowCount() - 1)

    def current_step_index(self) -> Any:
        current = self.currentIndex()
        return self._model.step_index_at(current.row()) if current.isValid() else None

    def select_step(self, step_index: Any) -> bool:
        """Make the step with this step_index current and show it in the middle of the view;
        before the run's steps are counted, once they are. False when the run has no such step."""
        row = self._model.row_of(step_index)
        if row is None:
            if self._model.row_map is None and self._model.run is not None:
                self._pending_step = step_index
                return True
            return False
        self._pending_step = None
        index = self._model.index(row, 0)
        self.setCurrentIndex(index)
        self.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        return True

    def _count_known(self, _count: int) -> None:
        if self._pending_step is not None:
            self.select_step(self._pending_step)


class StepsPanel(QWidget):
    """The run tree, the jump bar and the step table. ``run_chosen(RunSummary)`` when a run of
    the tree becomes current (its steps are shown then); a refresh reads the steps again.
    ``find_whole_run(text)``: the find bar's "Whole Run…" (the window's Find in Run searches)."""

    run_chosen = Signal(object)
    find_whole_run = Signal(str)

    def __init__(self, session: SourceSession, tree_model: RunTreeModel, model: StepTableModel,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._model = model
        self._tree_model = tree_model
        self._seeks = session.scope("step seek")
        self.tree = RunTreeView(tree_model)
        self.table = StepTableView(model)
        self.title = QLabel("")
        self.title.setObjectName("stepsTitle")
        self.go_to = QLineEdit()
        self.go_to.setObjectName("goToStep")
        self.go_to.setPlaceholderText("Go to step…")
        self.go_to.setValidator(QIntValidator(0, 2**31 - 1, self.go_to))
        self.go_to.setClearButtonEnabled(True)
        self.go_to.setFixedWidth(120)
        self.go_to.setToolTip("Type a step_index and press Enter (Ctrl+G)")
        self.go_to.returnPressed.connect(self._go)
        self.note = QLabel("")
        self.note.setObjectName("stepsNote")
        for label in (self.title, self.note):  # they shrink (elided by the layout) before the buttons do
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.title.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.buttons: dict[tuple[StepSeek, bool], QToolButton] = {}
        bar = QHBoxLayout()
        bar.setContentsMargins(4, 2, 4, 2)
        bar.setSpacing(4)
        bar.addWidget(self.go_to)
        for what, backward, text, keys in (
            (StepSeek.FAILURE, True, "◀ Failure", "Shift+F8"), (StepSeek.FAILURE, False, "Failure ▶", "F8"),
            (StepSeek.RETRY, True, "◀ Retry", "Shift+F7"), (StepSeek.RETRY, False, "Retry ▶", "F7"),
        ):
            button = QToolButton()
            button.setText(text)
            direction = "previous" if backward else "next"
            button.setToolTip(f"The {direction} {'failed' if what is StepSeek.FAILURE else 'retried'} step ({keys})")
            button.clicked.connect(lambda _=False, w=what, b=backward: self.seek(w, backward=b))
            QShortcut(QKeySequence(keys), self, lambda w=what, b=backward: self.seek(w, backward=b),
                      context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.buttons[(what, backward)] = button
            bar.addWidget(button)
        bar.addWidget(self.note, 1)
        bar.addWidget(self.title)
        QShortcut(QKeySequence("Ctrl+G"), self, self._focus_go_to, context=Qt.ShortcutContext.WidgetWithChildrenShortcut)
        #: Ctrl+F in the table: the rows read (at most 6,400, whatever the run's size); "Whole
        #: Run…" hands the text to Find in Run, which searches every step on a worker.
        self.find_bar = FindBar("Find in the steps read…", whole="Search every step of the run, payloads "
                                "included (Find in Run, Ctrl+Shift+F)")
        self.find = TableFind(self.table, self.find_bar, model.loaded_rows, noun="steps")
        self.find_bar.whole_requested.connect(self.find_whole_run)
        #: Right-click, Ctrl+C (the row), Ctrl+Shift+C (its step index).
        self.table_menu = ViewMenu(self.table, self._step_entries, loaded=lambda row: model.step_at(row) is not None,
                                   find=self.find)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.tree)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.find_bar)
        model.modelReset.connect(self._show_title)
        model.count_known.connect(self._show_title)
        model.loading_changed.connect(self._show_title)
        self.tree.run_chosen.connect(self._tree_run_chosen)
        session.refreshed.connect(self._read_again)
        self._enable(False)

    # -- the run shown ---------------------------------------------------------------------------

    @property
    def current_run(self) -> RunSummary | None:
        """The run the tree is about (its steps, or a replay's, in the table)."""
        return self._tree_model.current_run

    def show_run(self, run: RunSummary | None) -> None:
        self._model.set_run(run)  # first: its first page is what the user waits on
        self._tree_model.set_run(run)

    def _tree_run_chosen(self, run: RunSummary) -> None:
        shown = self._model.run
        if shown is None or shown.key != run.key:
            self._model.set_run(run)
        self.run_chosen.emit(run)

    def _read_again(self) -> None:
        """After a refresh: the steps shown are read again (steps written since, pages that
        failed), keeping the step the user is on."""
        run = self._model.run
        if run is None:
            return
        step = self.table.current_step_index()
        self._model.set_run(run)
        if step is not None:
            self.table.select_step(step)

    def show_step(self, step_index: Any) -> bool:
        """Select a step of the tree's run by its step_index (the table shows that run's steps
        again if a replay's were shown). False when the run has no such step."""
        run = self.current_run
        if run is None:
            return False
        if self._model.run is None or self._model.run.key != run.key:
            self.tree.select_top()
        return self.table.select_step(step_index)

    # -- the title -------------------------------------------------------------------------------

    def _show_title(self, *_args) -> None:
        run = self._model.run
        self._enable(run is not None)
        if run is None:
            self.title.setText("")
            self.note.setText("")
            return
        row_map = self._model.row_map
        count = f"{fmt_count(row_map.count)} steps" if row_map is not None else "counting steps…"
        self.title.setText(f"{count} of {run.run_id}")
        self.title.setToolTip(f"The steps of {run.key}, in step_index order")

    def _enable(self, on: bool) -> None:
        self.go_to.setEnabled(on)
        for button in self.buttons.values():
            button.setEnabled(on)

    def _step_entries(self, index: QModelIndex) -> list[Entry]:
        row = index.row() if index.isValid() else -1
        step = self._model.step_at(row) if row >= 0 else None
        step_index = self._model.step_index_at(row) if row >= 0 else None
        return [*step_items(step, step_index, self.table_menu.copy_items(index)), None,
                Item("Go to Step…", self._focus_go_to, keys="Ctrl+G", enabled=self._model.run is not None,
                     name="go_to_step")]

    # -- jumps -----------------------------------------------------------------------------------

    def _focus_go_to(self) -> None:
        self.go_to.setFocus()
        self.go_to.selectAll()

    def _go(self) -> None:
        text = self.go_to.text().strip()
        if not text:
            return
        step_index, ok = self.go_to.validator().locale().toInt(text)  # "1,000" as the validator reads it
        if not ok:
            self.note.setText(f"Not a step number: {text}")
            return
        if self.table.select_step(step_index):
            self.note.setText("")
            self.table.setFocus()
        else:
            self.note.setText(f"No step {step_index} in this run")

    def seek(self, what: StepSeek, *, backward: bool = False) -> None:
        """Select the next (previous) failed or retried step after the current one, looked for by
        the source (one statement on SQLite and Postgres) on the interactive worker."""
        run = self._model.run
        source = self._session.source
        if run is None or source is None:
            return
        after = self.table.current_step_index()
        key = run.key
        noun = "failure" if what is StepSeek.FAILURE else "retry"
        direction = "previous" if backward else "next"
        self._seeks.renew()
        self.note.setText(f"Looking for the {direction} {noun}…")

        def found(step_index: Any) -> None:
            if self._model.run is None or self._model.run.key != key:
                return
            if step_index is None:
                where = f" {'before' if backward else 'after'} step {after}" if after is not None else ""
                self.note.setText(f"No {noun}{where}")
                return
            self.note.setText("")
            self.table.select_step(step_index)
            self.table.setFocus()

        def failed(exc: BaseException) -> None:
            self.note.setText("")
            self._session.report(exc, f"look for the {direction} {noun}")

        self._seeks.submit(lambda: seek_step(source, key, after, what, backward=backward), found, failed,
                           label=f"Looking for the {direction} {noun}")
