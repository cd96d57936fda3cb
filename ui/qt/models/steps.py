"""The step table: one run's steps, one row each, at any size.

The table has as many rows as the run has steps from the moment their count is known (the
scroll bar shows the whole run, Ctrl+End and dragging reach any row at once), but holds only
the pages of rows that were painted lately: a page is read by keyset on ``step_index`` when a row
of it is first painted (the same cost at row 10 as at row 999,990), and at most
:data:`KEEP_PAGES` pages are kept (least recently painted dropped first), so memory does not
grow with the steps visited. Which step is in which row comes from a
:class:`~inspector.step_rows.StepRowMap` (index lookups only, for upstream's dense step_index).

The first page is read before the count (it is what the user waits on): the table shows those
rows, then grows to the whole run. Reads go through the session (the interactive worker): pages
are read one at a time, the most recently painted first, and pages scrolled past before their
turn are not read at all.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal

from inspector.model import RunSummary, StepRow, StepStatus
from inspector.services.steps import StepPage, read_page, read_row_map
from inspector.step_rows import StepRowMap
from ui.format import fmt_cost, fmt_duration, fmt_timestamp
from ui.qt.icons import step_status_icon
from ui.qt.models.fast import SELECTABLE
from ui.qt.session.session import SourceSession
from ui.qt.theme import colours

__all__ = ["KEEP_PAGES", "PAGE_ROWS", "STEP_COLUMNS", "STEP_ROLE", "StepTableModel", "WANTED_PAGES", "step_texts"]

#: ``(run key, StepRow)`` of a loaded row, None for a row whose page is not read yet.
STEP_ROLE = Qt.ItemDataRole.UserRole + 1
#: Rows a read brings: a window's worth and some.
PAGE_ROWS = 100
#: Pages kept (least recently painted dropped first): 6,400 rows, a few MB.
KEEP_PAGES = 64
#: Pages waiting to be read: the latest painted ones; older requests were scrolled past.
WANTED_PAGES = 4

STEP_COLUMNS = ["Step", "Status", "Skill", "Outcome", "Code", "Cost", "Duration", "Retries", "Timestamp"]
_RIGHT = frozenset({0, 5, 6, 7})
_DISPLAY = Qt.ItemDataRole.DisplayRole
_DECORATION = Qt.ItemDataRole.DecorationRole
_ALIGN = Qt.ItemDataRole.TextAlignmentRole
_FOREGROUND = Qt.ItemDataRole.ForegroundRole
_TOOLTIP = Qt.ItemDataRole.ToolTipRole
_RIGHT_ALIGN = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_PLACEHOLDER = "…"

_Index = QModelIndex | QPersistentModelIndex


def step_texts(step: StepRow) -> tuple[str, ...]:
    """The row's cells as shown. Formatting costs more than painting a row, so it is done once,
    on the worker that read the rows, not on every paint."""
    raw = step.status_raw
    text = "" if raw is None else str(raw)
    status = text if step.status is not StepStatus.UNKNOWN or not text else f"{text} (?)"
    return (
        str(step.step_index),
        status,
        step.skill_name or "",
        step.outcome_category or "",
        step.outcome_code or "",
        fmt_cost(step.cost_cents),
        fmt_duration(step.duration_ms),
        "" if step.retry_count is None else str(step.retry_count),
        fmt_timestamp(step.timestamp),
    )


class _Page:
    __slots__ = ("rows", "texts")

    def __init__(self, rows: list[StepRow], texts: list[tuple[str, ...]]) -> None:
        self.rows = rows
        self.texts = texts


class StepTableModel(QAbstractTableModel):
    """The steps of :attr:`run`. ``count_known`` fires once the table has all the run's rows."""

    loading_changed = Signal(bool)
    count_known = Signal(int)

    def __init__(self, session: SourceSession, parent=None) -> None:
        super().__init__(parent)
        self._session = session
        #: The reads of the run shown: renewed when another run (or none) is shown.
        self._reads = session.scope("steps")
        self._run: RunSummary | None = None
        self._map: StepRowMap | None = None
        self._rows = 0
        self._pages: OrderedDict[int, _Page] = OrderedDict()
        self._failed: set[int] = set()
        self._wanted: OrderedDict[int, None] = OrderedDict()
        #: Pages painted as placeholders: repainted when read (a page read ahead is not: a view
        #: repaints its whole viewport for any change of more than one cell).
        self._shown_missing: set[int] = set()
        self._reading: int | None = None
        self._pump_queued = False
        #: Pages read since the run was set (tests and the benchmark look at it).
        self.pages_read = 0
        session.opened.connect(lambda *_: self.set_run(None))
        session.closed.connect(lambda: self.set_run(None))

    # -- content -------------------------------------------------------------------------------

    @property
    def run(self) -> RunSummary | None:
        return self._run

    @property
    def row_map(self) -> StepRowMap | None:
        """Which step is in which row, once the run's steps are counted."""
        return self._map

    @property
    def loading(self) -> bool:
        return self._reads.pending

    @property
    def pages_kept(self) -> int:
        return len(self._pages)

    def set_run(self, run: RunSummary | None) -> None:
        """Show ``run``'s steps (None: none): its first page, then its count."""
        self._reads.renew()
        self.beginResetModel()
        self._run = run
        self._map = None
        self._rows = 0
        self._pages.clear()
        self._failed.clear()
        self._wanted.clear()
        self._shown_missing.clear()
        self._reading = None
        self.pages_read = 0
        self.endResetModel()
        if run is not None:
            self._read_first(run)

    def _read_first(self, run: RunSummary) -> None:
        source = self._session.source
        if source is None:
            return
        key = run.key

        def read() -> tuple[list[StepRow], list[tuple[str, ...]]]:
            rows = source.list_steps(key, None, PAGE_ROWS)
            return rows, [step_texts(r) for r in rows]

        def done(result: tuple[list[StepRow], list[tuple[str, ...]]]) -> None:
            rows, texts = result
            self.pages_read += 1
            if rows:
                self.beginInsertRows(QModelIndex(), 0, len(rows) - 1)
                self._pages[0] = _Page(rows, texts)
                self._rows = len(rows)
                self.endInsertRows()
            if len(rows) < PAGE_ROWS:
                self._map = StepRowMap.from_keys(r.step_index for r in rows)
                self._settled()
            else:
                self._read_map(run)
            self.loading_changed.emit(self.loading)

        self._submit(read, done, f"read the steps of {key}", "Reading steps")

    def _read_map(self, run: RunSummary) -> None:
        source = self._session.source
        if source is None:
            return
        key = run.key

        def done(row_map: StepRowMap) -> None:
            first = self._pages.get(0)
            if first is not None and not self._agrees(row_map, first.rows):
                self._pages.clear()  # the run changed between the two reads: read what is shown again
                if self._rows:
                    self.dataChanged.emit(self.index(0, 0), self.index(self._rows - 1, len(STEP_COLUMNS) - 1))
            self._map = row_map
            self._resize(row_map.count)
            self._settled()
            self.loading_changed.emit(self.loading)
            self._queue_pump()

        self._submit(lambda: read_row_map(source, key), done, f"count the steps of {key}", "Counting steps")

    @staticmethod
    def _agrees(row_map: StepRowMap, rows: list[StepRow]) -> bool:
        return all(i < row_map.count and row_map.key_at(i) == r.step_index for i, r in enumerate(rows))

    def _resize(self, count: int) -> None:
        if count > self._rows:
            self.beginInsertRows(QModelIndex(), self._rows, count - 1)
            self._rows = count
            self.endInsertRows()
        elif count < self._rows:
            self.beginRemoveRows(QModelIndex(), count, self._rows - 1)
            self._rows = count
            self._pages.clear()
            self.endRemoveRows()

    def _settled(self) -> None:
        self.count_known.emit(self._rows)

    def _submit(self, read, done, doing: str, label: str) -> None:
        def failed(exc: BaseException) -> None:
            self.loading_changed.emit(self.loading)
            self._session.report(exc, doing)

        self._reads.submit(read, done, failed, label=label)
        self.loading_changed.emit(self.loading)

    # -- pages ---------------------------------------------------------------------------------

    def _want(self, page_no: int) -> None:
        if page_no == self._reading or page_no in self._failed or self._map is None:
            return
        wanted = self._wanted
        wanted[page_no] = None
        wanted.move_to_end(page_no)
        while len(wanted) > WANTED_PAGES:
            wanted.popitem(last=False)
        self._queue_pump()

    def prefetch(self, first: int, last: int) -> None:
        """Rows ``first..last`` are in view: read the page past each edge after the pages in
        view (a Page Down then finds its rows read)."""
        if self._map is None:
            return
        for row in (last + PAGE_ROWS // 2, first - PAGE_ROWS // 2):
            page_no = row // PAGE_ROWS
            if (0 <= row < self._rows and page_no not in self._pages and page_no != self._reading
                    and page_no not in self._failed and page_no not in self._wanted):
                self._wanted[page_no] = None
                self._wanted.move_to_end(page_no, last=False)  # after every page in view
        while len(self._wanted) > WANTED_PAGES:
            self._wanted.popitem(last=False)
        self._queue_pump()

    def _queue_pump(self) -> None:
        if not self._pump_queued and self._wanted:
            self._pump_queued = True
            QTimer.singleShot(0, self._pump)

    def _pump(self) -> None:
        """Read the most recently painted page that is missing, one read at a time."""
        self._pump_queued = False
        if self._reading is not None or self._map is None or self._run is None:
            return
        source = self._session.source
        while self._wanted:
            page_no, _ = self._wanted.popitem(last=True)
            if page_no not in self._pages:
                break
        else:
            return
        if source is None:
            return
        key, row_map = self._run.key, self._map
        self._reading = page_no

        def read() -> tuple[StepPage, list[tuple[str, ...]]]:
            page = read_page(source, key, row_map, page_no * PAGE_ROWS, PAGE_ROWS)
            return page, [step_texts(r) for r in page.rows]

        def done(result: tuple[StepPage, list[tuple[str, ...]]]) -> None:
            page, texts = result
            self._reading = None
            self.pages_read += 1
            if page.row_map is not self._map:
                # A dense-looking run had a repeated step_index: rows are now placed by its keys.
                self._map = page.row_map
                self._pages.clear()
                self._resize(page.row_map.count)
                if self._rows:
                    self.dataChanged.emit(self.index(0, 0), self.index(self._rows - 1, len(STEP_COLUMNS) - 1))
            self._keep(page_no, _Page(page.rows, texts))
            self.loading_changed.emit(self.loading)
            self._queue_pump()

        def failed(exc: BaseException) -> None:
            self._reading = None
            self._failed.add(page_no)  # shown as such; a refresh or another run reads again
            self._changed(page_no)
            self.loading_changed.emit(self.loading)
            self._session.report(exc, f"read steps {page_no * PAGE_ROWS}… of {key}")

        # Ahead of the queue: a page on screen must not wait behind a step's payloads being read.
        if self._reads.submit(read, done, failed, label="Reading steps", first=True) is None:
            self._reading = None
        self.loading_changed.emit(self.loading)

    def _keep(self, page_no: int, page: _Page) -> None:
        pages = self._pages
        pages[page_no] = page
        pages.move_to_end(page_no)
        while len(pages) > KEEP_PAGES:
            pages.popitem(last=False)
        if page_no in self._shown_missing:
            self._shown_missing.discard(page_no)
            self._changed(page_no)

    def _changed(self, page_no: int) -> None:
        first = page_no * PAGE_ROWS
        last = min(first + PAGE_ROWS, self._rows) - 1
        if last >= first:
            self.dataChanged.emit(self.index(first, 0), self.index(last, len(STEP_COLUMNS) - 1))

    # -- lookups -------------------------------------------------------------------------------

    def step_at(self, row: int) -> StepRow | None:
        """The loaded step in ``row``, or None (not read yet, or out of range)."""
        page = self._pages.get(row // PAGE_ROWS)
        off = row % PAGE_ROWS
        return page.rows[off] if page is not None and off < len(page.rows) else None

    def step_index_at(self, row: int) -> Any:
        """The step_index of ``row``, loaded or not (None when unknown)."""
        step = self.step_at(row)
        if step is not None:
            return step.step_index
        if self._map is not None and 0 <= row < self._map.count:
            return self._map.key_at(row)
        return None

    def loaded_rows(self) -> list[tuple[int, tuple[str, ...]]]:
        """``(row, cell texts)`` of the rows read and kept: at most ``KEEP_PAGES`` pages, whatever
        the run's size (the find bar looks in these)."""
        out = []
        for page_no, page in list(self._pages.items()):
            base = page_no * PAGE_ROWS
            out.extend((base + i, texts) for i, texts in enumerate(page.texts))
        return out

    def row_of(self, step_index: Any) -> int | None:
        if self._map is not None:
            return self._map.row_of(step_index)
        page = self._pages.get(0)
        return next((i for i, r in enumerate(page.rows) if r.step_index == step_index), None) if page else None

    # -- Qt model API --------------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else self._rows

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(STEP_COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == _DISPLAY and 0 <= section < len(STEP_COLUMNS):
            return STEP_COLUMNS[section]
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        return SELECTABLE if index.isValid() else Qt.ItemFlag.NoItemFlags

    def multiData(self, index: _Index, roleDataSpan) -> None:
        """One call per painted cell (see ui.qt.models.fast), answered from the page's strings."""
        row, column = index.row(), index.column()
        page_no = row // PAGE_ROWS
        page = self._pages.get(page_no)
        off = row - page_no * PAGE_ROWS
        if page is None or off >= len(page.rows):
            self._placeholder(row, column, page_no, page is not None, roleDataSpan)
            return
        step = page.rows[off]
        failed = step.status is StepStatus.FAILURE
        for role_data in roleDataSpan:
            role = role_data.role()
            if role == _DISPLAY:
                role_data.setData(page.texts[off][column])
            elif role == _DECORATION and column == 1:
                role_data.setData(step_status_icon(step.status))
            elif role == _ALIGN and column in _RIGHT:
                role_data.setData(_RIGHT_ALIGN)
            elif role == _FOREGROUND and failed and column in (1, 3, 4):
                role_data.setData(colours().failure)
            else:
                role_data.clearData()  # the delegate reuses the span from the previous cell

    def _placeholder(self, row: int, column: int, page_no: int, short: bool, span) -> None:
        """A row not read yet: its step number when known, and a mark; asks for its page."""
        if not short:
            self._shown_missing.add(page_no)
            self._want(page_no)
        failed = page_no in self._failed
        for role_data in span:
            role = role_data.role()
            if role == _DISPLAY:
                if column == 0:
                    key = self._map.key_at(row) if self._map is not None and row < self._map.count else None
                    role_data.setData("" if key is None else str(key))
                elif column == 1:
                    role_data.setData("?" if failed else ("" if short else _PLACEHOLDER))
                else:
                    role_data.clearData()
            elif role == _ALIGN and column in _RIGHT:
                role_data.setData(_RIGHT_ALIGN)
            elif role == _FOREGROUND:
                role_data.setData(colours().muted)
            elif role == _TOOLTIP and column == 1 and (failed or short):
                role_data.setData("These steps could not be read (the status bar says why); Refresh reads them again"
                                  if failed else "This step was not found when its page was read (the run changed)")
            else:
                role_data.clearData()

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = index.row(), index.column()
        step = self.step_at(row)
        if role == STEP_ROLE:
            return (self._run.key, step) if step is not None and self._run is not None else None
        if step is None:
            if role == _DISPLAY:
                if column == 0:
                    key = self.step_index_at(row)
                    return "" if key is None else str(key)
                return _PLACEHOLDER if column == 1 else ""
            return None
        if role == _DISPLAY:
            return step_texts(step)[column]
        if role == _DECORATION and column == 1:
            return step_status_icon(step.status)
        if role == _ALIGN and column in _RIGHT:
            return _RIGHT_ALIGN
        if role == _TOOLTIP and column == 1:
            return f"stored status {step.status_raw!r} → {step.status.value}"
        if role == _FOREGROUND and step.status is StepStatus.FAILURE and column in (1, 3, 4):
            return colours().failure
        return None
