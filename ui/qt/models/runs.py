"""The runs list: a lazy table model over a trace source, paged, sorted and filtered in the source.

The model knows the number of runs in the filter and holds only the pages a view has asked for
(STYLE §7). Rows of a page not loaded yet show a placeholder while a worker reads them; step
counters (a pass over the steps) arrive in a second read, so the first page paints without them.
Orphan run ids (steps without a run row) are pinned above the runs when no filter excludes them.

The Grade column shows upstream's integrity grade of each row's run id. Grades are read for the
pages shown (one grouped count per evidence table for a page's run ids) once the session has found
the source's evidence reader (after the first paint), and are kept by run id: the status bar's
grading job fills the same cache (``add_grades``).

The model follows its :class:`~ui.qt.session.session.SourceSession`: a source opened is shown
from its first page (read while opening), a refresh reads the list again keeping the rows until
the new ones arrive, a closed source empties it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QFont

from inspector.evidence import EvidenceReader
from inspector.model import RunFilter, RunSort, RunSummary
from inspector.services.grading import GradeInfo, grades_of
from inspector.source import TraceSource
from ui.format import fmt_cost, fmt_count, fmt_duration, fmt_timestamp
from ui.qt.icons import run_status_icon, warning_icon
from ui.qt.models.fast import SELECTABLE, MultiDataMixin
from ui.qt.models.findings import RunFindings
from ui.qt.session.session import SourceSession, Worker
from ui.qt.theme import colours, grade_colours

__all__ = ["COLUMNS", "GRADE_ROLE", "NO_STORE_TIP", "PAGE_SIZE", "RUN_ROLE", "RunsModel", "column_of",
           "read_first_page", "run_texts"]

RUN_ROLE = Qt.ItemDataRole.UserRole + 1
#: The Grade column's role: the run's grade as text (``PASS``…), or None (no grade to paint).
GRADE_ROLE = Qt.ItemDataRole.UserRole + 7
PAGE_SIZE = 200

#: (header, sort key, getter, formatter, right-aligned)
COLUMNS: list[tuple[str, RunSort | None, str]] = [
    ("Run ID", RunSort.RUN_ID, "run_id"),
    ("Status", RunSort.STATUS, "status"),
    ("Grade", RunSort.GRADE, "grade"),
    ("Findings", None, "findings"),
    ("Tenant", RunSort.TENANT, "tenant_id"),
    ("Agent", RunSort.AGENT, "agent_id"),
    ("Steps", RunSort.TOTAL_STEPS, "total_steps"),
    ("Failures", RunSort.FAILURES, "failure_count"),
    ("Cost", RunSort.COST, "total_cost_cents"),
    ("Duration", RunSort.DURATION, "total_duration_ms"),
    ("Started", RunSort.STARTED_AT, "started_at"),
]
_NUMERIC = {"total_steps", "failure_count", "total_cost_cents", "total_duration_ms"}
_PLACEHOLDER = "…"

_Index = QModelIndex | QPersistentModelIndex
NO_STORE_TIP = "no evidence store"


def column_of(field: str) -> int:
    """The column showing a :class:`RunSummary` field (or ``grade``)."""
    return next(i for i, c in enumerate(COLUMNS) if c[2] == field)


@lru_cache(maxsize=1)
def _italic_font() -> QFont:
    font = QFont()
    font.setItalic(True)
    return font


def _display(field: str, run: RunSummary) -> str:
    if field in ("grade", "findings"):
        return ""  # not fields of the run: from the model's caches
    value = getattr(run, field)
    if field in ("total_steps", "failure_count"):
        return fmt_count(value)
    if field == "total_cost_cents":
        return fmt_cost(value)
    if field == "total_duration_ms":
        return fmt_duration(value)
    if field == "started_at":
        return fmt_timestamp(value)
    if field == "status" and run.orphan:
        return "orphan steps"
    if field == "status" and run.archived:
        return f"{value} (archived)"
    if field == "run_id" and run.replay_of:
        return f"↻ {value}"
    return "" if value is None else str(value)


def read_first_page(source: TraceSource, flt: RunFilter = RunFilter(), sort: RunSort = RunSort.STARTED_AT,
                    descending: bool = True) -> tuple[int, list[RunSummary]]:
    """What the list shows first: the number of runs and the first page (worker side)."""
    count = source.count_runs(flt)
    page = source.list_runs(flt, sort, descending, 0, PAGE_SIZE, with_aggregates=sort.needs_aggregates)
    return count, page


@lru_cache(maxsize=8192)
def run_texts(run: RunSummary) -> tuple[str, ...]:
    """A row's cells as shown, made once per (immutable) summary rather than on every paint."""
    return tuple(_display(field, run) for _, _, field in COLUMNS)


_DISPLAY = Qt.ItemDataRole.DisplayRole
_DECORATION = Qt.ItemDataRole.DecorationRole
_ALIGN = Qt.ItemDataRole.TextAlignmentRole
_FOREGROUND = Qt.ItemDataRole.ForegroundRole
_FONT = Qt.ItemDataRole.FontRole
_RIGHT_ALIGN = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_STATUS_COL = next(i for i, c in enumerate(COLUMNS) if c[2] == "status")
_FAILURES_COL = next(i for i, c in enumerate(COLUMNS) if c[2] == "failure_count")
_NUMERIC_COLS = frozenset(i for i, c in enumerate(COLUMNS) if c[2] in _NUMERIC)
_GRADE_COL = column_of("grade")
_FINDINGS_COL = column_of("findings")
_TOOLTIP = Qt.ItemDataRole.ToolTipRole


class RunsModel(MultiDataMixin, QAbstractTableModel):
    """Rows are runs; ``RUN_ROLE`` gives the :class:`RunSummary` of a loaded row."""

    #: (runs in filter, orphan run ids shown)
    counts_changed = Signal(int, int)
    loading_changed = Signal(bool)

    def __init__(self, session: SourceSession, parent=None) -> None:
        """Pages are read on the session's interactive worker; step counters and orphan run ids on
        the background one, so those never delay a page; grades on the evidence worker."""
        super().__init__(parent)
        self._session = session
        #: The count and pages of the query shown (a filter, a sort): renewed by every reload.
        self._list = session.scope("runs")
        #: The grades read with one evidence reader: renewed when the reader changes.
        self._grading = session.scope("grades")
        self._source: TraceSource | None = None
        self._filter = RunFilter()
        self._sort = RunSort.STARTED_AT
        self._descending = True
        self._count = 0
        self._orphans: list[RunSummary] = []
        self._pages: dict[int, list[RunSummary]] = {}
        self._pending: set[int] = set()
        self._loading = False
        # Grades: "unknown" until the session has found the source's evidence reader, then "none"
        # (no evidence store: a dash) or "store" (graded, by run id).
        self._evidence: EvidenceReader | None = None
        self._evidence_state = "unknown"
        self._grades: dict[str, GradeInfo] = {}
        self._grades_pending: set[str] = set()
        #: Why a run's grade could not be read (its cell says so instead of waiting forever).
        self._grade_errors: dict[str, str] = {}
        session.opened.connect(lambda source, first_page: self.set_source(source, first_page))
        session.closed.connect(lambda: self.set_source(None))
        session.refreshed.connect(lambda: self.reload(keep_rows=True))
        session.evidence_changed.connect(lambda _previous: self.set_evidence(session.evidence))
        #: The rows of the loaded runs by key (None: to be made again, the rows changed).
        self._where: dict[str, int] | None = None
        #: Each shown run's panels checked against each other (the Findings column).
        self.findings = RunFindings(session, self)
        self.findings.changed.connect(self._findings_changed)

    # -- query state ---------------------------------------------------------------------------

    @property
    def source(self) -> TraceSource | None:
        return self._source

    @property
    def run_filter(self) -> RunFilter:
        return self._filter

    @property
    def sort_key(self) -> tuple[RunSort, bool]:
        return self._sort, self._descending

    def set_source(self, source: TraceSource | None, first_page: tuple[int, list[RunSummary]] | None = None) -> None:
        """Show a source. ``first_page`` is ``read_first_page(source)`` when the caller read it
        already (while opening, on the same worker), saving a round trip before the first paint."""
        self._source = source
        self._filter = RunFilter()
        self._sort, self._descending = RunSort.STARTED_AT, True
        self._grading.renew()
        self._evidence = None
        self._evidence_state = "unknown"
        self._grades = {}
        self._grades_pending = set()
        self._grade_errors = {}
        self.findings.reset()
        self.reload(first_page)

    def set_filter(self, flt: RunFilter) -> None:
        if flt != self._filter:
            self._filter = flt
            self.reload()

    def reload(self, first_page: tuple[int, list[RunSummary]] | None = None, *, keep_rows: bool = False) -> None:
        """Read the count and first page again (after a filter, a sort, or a refresh).
        ``keep_rows`` (a refresh) leaves the rows shown until the new ones arrive, so a read
        that fails (a lost server) takes nothing away from the user."""
        self._list.renew()
        self._pending.clear()
        if not keep_rows:
            self.beginResetModel()
            self._count = 0
            self._orphans = []
            self._pages.clear()
            self._where = None
            self.endResetModel()
        source = self._source
        if source is None or self._session.source is not source:
            self.counts_changed.emit(0, 0)
            return
        flt, sort, desc = self._filter, self._sort, self._descending
        self._set_loading(True)

        def read():
            return read_first_page(source, flt, sort, desc)

        def shown(result):
            count, page = result
            self.beginResetModel()
            self._count = count
            self._orphans = []
            self._pages = {0: page}
            self._where = None
            self.endResetModel()
            self._set_loading(False)
            self.counts_changed.emit(self._count, len(self._orphans))
            if not sort.needs_aggregates:
                self._load_aggregates(0, page)
            self._load_grades(page)
            self.findings.request(page)
            if flt.is_empty or flt.run_id_prefix:
                self._load_orphans(flt)

        def failed(exc):
            self._set_loading(False)
            self._session.report(exc, "list runs")

        if first_page is not None:
            shown(first_page)
        elif self._list.submit(read, shown, failed, label="Listing runs") is None:
            self._set_loading(False)

    def _set_loading(self, loading: bool) -> None:
        if loading != self._loading:
            self._loading = loading
            self.loading_changed.emit(loading)

    @property
    def loading(self) -> bool:
        return self._loading

    def _load_aggregates(self, page_no: int, page: list[RunSummary]) -> None:
        source = self._source
        if source is None or not page:
            return
        ids = [r.key for r in page]

        def done(aggs):
            if page_no not in self._pages:
                return
            rows = self._pages[page_no]
            for i, run in enumerate(rows):
                agg = aggs.get(run.key)
                if agg is not None:
                    rows[i] = run.with_counters(agg)
            first = len(self._orphans) + page_no * PAGE_SIZE
            self.dataChanged.emit(self.index(first, 0), self.index(first + len(rows) - 1, len(COLUMNS) - 1))

        self._list.submit(lambda: source.aggregate_runs(ids), done, lambda e: self._session.report(e, "count steps"),
                          worker=Worker.BACKGROUND, label="Counting steps")

    def _load_orphans(self, flt: RunFilter) -> None:
        source = self._source
        if source is None:
            return

        def done(orphans):
            if flt.run_id_prefix:
                orphans = [o for o in orphans if o.run_id.startswith(flt.run_id_prefix)]
            if not orphans:
                return
            self.beginInsertRows(QModelIndex(), 0, len(orphans) - 1)
            self._orphans = list(orphans)
            self._where = None
            self.endInsertRows()
            self.counts_changed.emit(self._count, len(self._orphans))
            self._load_grades(self._orphans)
            self.findings.request(self._orphans)

        self._list.submit(source.orphan_runs, done, lambda e: self._session.report(e, "look for orphan steps"),
                          worker=Worker.BACKGROUND, label="Looking for orphan steps")

    # -- grades ----------------------------------------------------------------------------------

    @property
    def evidence_state(self) -> str:
        """``unknown`` (not looked yet), ``none`` (no evidence store) or ``store``."""
        return self._evidence_state

    def set_evidence(self, reader: EvidenceReader | None) -> None:
        """The source's evidence reader (with a store), or None when the source has no evidence
        store: then every grade cell shows a dash. Grades read before are forgotten (a refresh
        finds the reader again) and those of the rows loaded are read at once."""
        self._grading.renew()
        self._grades = {}
        self._grades_pending = set()
        self._grade_errors = {}
        has_store = reader is not None and reader.has_store
        self._evidence = reader if has_store else None
        self._evidence_state = "store" if has_store else "none"
        self._grades_changed()
        if has_store:
            self._load_grades(self._orphans)
            for page in list(self._pages.values()):
                self._load_grades(page)

    def add_grades(self, grades: dict[str, GradeInfo]) -> None:
        """Grades read elsewhere (the status bar's grading job), by run id."""
        if self._evidence_state != "store" or not grades:
            return
        self._grades.update(grades)
        self._grades_changed()

    def grade_of(self, run_id: str) -> GradeInfo | None:
        return self._grades.get(run_id)

    def _grades_changed(self) -> None:
        rows = self.rowCount()
        if rows:
            self.dataChanged.emit(self.index(0, _GRADE_COL), self.index(rows - 1, _GRADE_COL))

    def _load_grades(self, runs: list[RunSummary]) -> None:
        """Read the grades of these runs (one grouped count per table for all of them) on the
        grades worker; run ids graded or being read already are skipped."""
        reader = self._evidence
        if self._evidence_state != "store" or reader is None or not runs:
            return
        ids = list(dict.fromkeys(r.run_id for r in runs if r.run_id not in self._grades
                                 and r.run_id not in self._grades_pending and r.run_id not in self._grade_errors))
        if not ids:
            return
        self._grades_pending.update(ids)

        def done(grades: dict[str, GradeInfo]) -> None:
            self._grades_pending.difference_update(ids)
            self._grades.update(grades)
            self._grades_changed()

        def failed(exc: BaseException) -> None:
            self._grades_pending.difference_update(ids)
            why = str(exc) or type(exc).__name__
            self._grade_errors.update(dict.fromkeys(ids, why))
            self._grades_changed()
            self._session.report(exc, "read the integrity grades")

        self._grading.submit(lambda: grades_of(reader, ids), done, failed, worker=Worker.EVIDENCE,
                             label="Reading integrity grades")

    def _grade_data(self, run: RunSummary, role: int):
        """The Grade cell of a run, for every role the view asks."""
        state = self._evidence_state
        info = self._grades.get(run.run_id) if state == "store" else None
        if role == _DISPLAY:
            if state == "none":
                return "—"
            if info is not None:
                return info.grade.value
            if state == "store" and run.run_id in self._grade_errors:
                return "?"
            return "…" if state == "store" else ""
        if role == GRADE_ROLE:
            return info.grade.value if info is not None else None
        if role == _FOREGROUND:
            return grade_colours(info.grade)[0] if info is not None else colours().muted
        if role == _TOOLTIP:
            if state == "none":
                return NO_STORE_TIP
            if info is None:
                if state == "store" and run.run_id in self._grade_errors:
                    return (f"The grade could not be read: {self._grade_errors[run.run_id]}\n"
                            "File → Refresh reads it again.")
                return "Reading the grade…" if state == "store" else None
            tip = info.tooltip
            if run.trace_id is not None:
                tip += f"\nThe grade of run {run.run_id}: every trace of the run shares it."
            return tip
        return None

    # -- findings --------------------------------------------------------------------------------

    def _findings_changed(self, keys: list) -> None:
        """Repaint the Findings cells of these runs only (a block arrives every ~0.1 s while
        the checks run: a whole-column change repainted every visible cell each time)."""
        rows = self.rowCount()
        if not rows:
            return
        if not keys:
            self.dataChanged.emit(self.index(0, _FINDINGS_COL), self.index(rows - 1, _FINDINGS_COL))
            return
        wanted = set(keys)
        for row in self._rows_of(wanted):
            ix = self.index(row, _FINDINGS_COL)
            self.dataChanged.emit(ix, ix)

    def _rows_of(self, keys: set[str]) -> list[int]:
        """The rows of these runs among those loaded (from a map of the loaded pages, made again
        only when they change: a sweep's blocks arrive many times between two scrolls)."""
        if self._where is None:
            where: dict[str, int] = {o.key: i for i, o in enumerate(self._orphans)}
            for page_no, page in self._pages.items():
                first = len(self._orphans) + page_no * PAGE_SIZE
                where.update((r.key, first + i) for i, r in enumerate(page))
            self._where = where
        return [self._where[k] for k in keys if k in self._where]

    def _findings_data(self, run: RunSummary, role: int):
        """The Findings cell: how many of the inspector's rules the run's panels break."""
        found = self.findings.of(run.key)
        if role == _DISPLAY:
            if found is None:
                return "…" if self.findings.waiting(run.key) else ""
            if found.error is not None:
                return "?"
            return str(found.count) if found.count else "✓"
        if role == _FOREGROUND:
            if found is None or found.error is not None:
                return colours().muted
            return colours().failure if found.count else colours().success
        if role == _ALIGN:
            return int(Qt.AlignmentFlag.AlignCenter)
        if role == _TOOLTIP:
            if found is None:
                return "Checking the run's panels against each other…" if self.findings.waiting(run.key) else None
            if found.error is not None:
                return f"The run's panels could not be checked: {found.error}"
            if not found.count:
                return "The run's panels agree (the inspector's rules INS-001…)"
            return (f"{found.count} finding{'s' if found.count != 1 else ''}: {', '.join(found.rule_ids)}: "
                    "the run's panels disagree (View → Consistency says how)")
        return None

    def _request_page(self, page_no: int) -> None:
        if page_no in self._pending or page_no in self._pages:
            return
        source = self._source
        if source is None:
            return
        self._pending.add(page_no)
        flt, sort, desc = self._filter, self._sort, self._descending

        def load():
            return source.list_runs(flt, sort, desc, page_no * PAGE_SIZE, PAGE_SIZE, with_aggregates=sort.needs_aggregates)

        def done(page):
            self._pending.discard(page_no)
            self._pages[page_no] = page
            self._where = None
            first = len(self._orphans) + page_no * PAGE_SIZE
            last = min(first + PAGE_SIZE, self.rowCount()) - 1
            if last >= first:
                self.dataChanged.emit(self.index(first, 0), self.index(last, len(COLUMNS) - 1))
            if not sort.needs_aggregates:
                self._load_aggregates(page_no, page)
            self._load_grades(page)
            self.findings.request(page)

        def failed(exc):
            self._pending.discard(page_no)
            self._session.report(exc, "read runs")

        if self._list.submit(load, done, failed, label="Reading runs") is None:
            self._pending.discard(page_no)

    # -- lookups -------------------------------------------------------------------------------

    def run_at(self, row: int, *, request: bool = True) -> RunSummary | None:
        if row < 0 or row >= self.rowCount():
            return None
        if row < len(self._orphans):
            return self._orphans[row]
        r = row - len(self._orphans)
        page_no, offset = divmod(r, PAGE_SIZE)
        page = self._pages.get(page_no)
        if page is None:
            if request:
                self._request_page(page_no)
            return None
        return page[offset] if offset < len(page) else None

    def row_of(self, key: str) -> int | None:
        """The row of a loaded run (by ``RunSummary.key``, the run id in SQLite), or None."""
        for i, o in enumerate(self._orphans):
            if o.key == key:
                return i
        for page_no, page in self._pages.items():
            for i, r in enumerate(page):
                if r.key == key:
                    return len(self._orphans) + page_no * PAGE_SIZE + i
        return None

    @property
    def orphan_rows(self) -> int:
        """Rows pinned on top for orphan run ids (steps without a run row)."""
        return len(self._orphans)

    @property
    def loaded_rows(self) -> int:
        return len(self._orphans) + sum(len(p) for p in self._pages.values())

    # -- Qt model API --------------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        if parent.isValid():
            return 0
        return len(self._orphans) + self._count

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        if parent.isValid():
            return 0
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(COLUMNS):
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section][0]
            if role == Qt.ItemDataRole.ToolTipRole:
                return {
                    "Steps": "Steps recorded for the run",
                    "Failures": "Steps whose status is a failure (failure, failed, error)",
                    "Cost": "Sum of the steps' cost_cents",
                    "Duration": "Sum of the steps' duration_ms",
                    "Findings": "How many of the inspector's consistency rules the run's panels break (✓: none); "
                                "View → Consistency shows them",
                    "Grade": "Upstream's integrity grade of the run id: PASS, WARN or FAIL from "
                             "the evidence recorded; — when the source has no evidence store",
                }.get(COLUMNS[section][0])
        return None

    def multiData(self, index: _Index, roleDataSpan) -> None:
        """One call per painted cell (ui.qt.models.fast), answered from the row's cached texts."""
        column = index.column()
        run = self.run_at(index.row()) if index.isValid() and 0 <= column < len(COLUMNS) else None
        if run is None:
            return super().multiData(index, roleDataSpan)
        if column in (_GRADE_COL, _FINDINGS_COL):
            cell = self._grade_data if column == _GRADE_COL else self._findings_data
            for role_data in roleDataSpan:
                value = cell(run, role_data.role()) if role_data.role() != _TOOLTIP else None
                if value is None:
                    role_data.clearData()
                else:
                    role_data.setData(value)
            return
        texts = run_texts(run)
        for role_data in roleDataSpan:
            role = role_data.role()
            if role == _DISPLAY:
                role_data.setData(texts[column])
            elif role == _DECORATION and column == _STATUS_COL:
                role_data.setData(warning_icon() if run.orphan else run_status_icon(run.status))
            elif role == _ALIGN and column in _NUMERIC_COLS:
                role_data.setData(_RIGHT_ALIGN)
            elif role == _FOREGROUND and column == _FAILURES_COL and (run.failure_count or 0) > 0:
                role_data.setData(colours().failure)
            elif role == _FONT and (run.orphan or run.archived):
                role_data.setData(_italic_font())
            else:
                role_data.clearData()  # the delegate reuses the span from the previous cell

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or index.row() >= self.rowCount() or not 0 <= index.column() < len(COLUMNS):
            return None
        field = COLUMNS[index.column()][2]
        run = self.run_at(index.row())
        if run is None:
            return _PLACEHOLDER if role == Qt.ItemDataRole.DisplayRole and index.column() == 0 else None
        if role == RUN_ROLE:
            return run
        if index.column() == _GRADE_COL:
            return self._grade_data(run, role)
        if index.column() == _FINDINGS_COL:
            return self._findings_data(run, role)
        if role == Qt.ItemDataRole.DisplayRole:
            return run_texts(run)[index.column()]
        if role == RUN_ROLE:
            return run
        if role == Qt.ItemDataRole.TextAlignmentRole and field in _NUMERIC:
            return _RIGHT_ALIGN
        if role == Qt.ItemDataRole.DecorationRole and field == "status":
            return warning_icon() if run.orphan else run_status_icon(run.status)
        if role == Qt.ItemDataRole.ForegroundRole and field == "failure_count" and (run.failure_count or 0) > 0:
            return colours().failure
        if role == Qt.ItemDataRole.ToolTipRole:
            if run.orphan:
                return f"{run.run_id}: {run.total_steps or 0} steps whose run row is missing (deleted upstream)"
            if field == "run_id" and (run.replay_of or run.trace_id):
                lines = [f"trace {run.trace_id}"] if run.trace_id else []
                if run.replay_of:
                    lines.append(f"Replay of {run.replay_of}")
                return "\n".join(lines)
            if field == "status" and run.archived:
                return "Soft-archived trace (archived_at is set); shown because Archived is ticked"
            if field == "started_at":
                return run.started_at
        if role == Qt.ItemDataRole.FontRole and (run.orphan or run.archived):
            return _italic_font()
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return SELECTABLE

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(COLUMNS):
            return
        key = COLUMNS[column][1]
        if key is None:
            return
        descending = order == Qt.SortOrder.DescendingOrder
        if (key, descending) == (self._sort, self._descending):
            return
        self._sort, self._descending = key, descending
        self.reload()
