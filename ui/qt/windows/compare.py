"""The Compare window: a run and its replay (or any two runs, from one source or two) side by side,
row by row as ``inspector.compare`` aligns them, with upstream's verdict, the rules that decide
what "equal" means, and the field-level diff of the selected row.

Each side is read through a :class:`~ui.qt.session.session.SourceSession`: one the window was
given (the main window's, read on its background worker and never closed here) or one the window
made for a location typed in it (opened, read, and closed with the window). Comparing runs on a
worker of the window's own, again whenever the ignore rules change. The GUI thread only shows
results. ``trace-inspector diff`` shows the same comparison as text: both stream the runs through
``inspector.compare_stream``. Each side is *digested* as it is read (hashes and what the
alignment needs, no step kept); the verdict and the rows are shown as soon as both digests are
in, and the few aligned pairs whose stored text differs are then read again (only those steps
kept) and compared field by field while the window already shows the rest.
"""

from __future__ import annotations

import bisect
import html
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import (
    QEvent,
    QItemSelectionModel,
    QMetaObject,
    QModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTableView,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from inspector.compare import (
    AUDIT_FIELDS,
    COMPARED_FIELDS,
    Comparison,
    IgnoreRule,
    RowKind,
    original_of,
)
from inspector.compare_stream import (
    SideDigest,
    StreamComparison,
    collect_docs,
    digest_side,
    plan_comparison,
)
from inspector.errors import (
    InspectorError,
    PasswordRequired,
    QueryCancelled,
    RunNotFound,
)
from inspector.hashing import DETERMINISM_FIELDS
from inspector.locations import is_postgres_url, location_key, split_pg_password
from inspector.model import MISSING
from ui.format import fmt_count
from ui.qt.geometry import secondary_window
from ui.qt.models.compare import (
    KIND_COLORS,
    KIND_MARKERS,
    LEFT_COLUMNS,
    MARKER_COLUMN,
    RIGHT_COLUMNS,
    RULE_COLOR,
    RULE_MARKER,
    CompareTableModel,
    difference_rows,
    kind_label,
)
from ui.qt.session.session import Scope, SourceSession, Worker
from ui.qt.session.tasks import TaskRunner
from ui.qt.theme import css, muted, set_invalid, set_severity, title_font
from ui.qt.windows.connect import PasswordPrompt

__all__ = ["PROGRESS_EVERY", "CompareWindow", "NewSession", "SideSpec", "open_compare", "verdict_texts"]

log = logging.getLogger(__name__)

#: Steps read between two progress reports (and cancellation checks) while loading a side.
PROGRESS_EVERY = 2000
#: Steps only in one run whose documents are read again for the detail pane (the first ones).
KEEP_ONE_SIDED = 1000
#: Longest value text the detail pane shows (the rest is cut, with a note).
VALUE_LIMIT = 2000
_SIDES = ("left", "right")
_NAMES = {"left": "original", "right": "replay"}



#: Makes a session for a location typed in the window (the caller's ``SourceSession.sibling``).
NewSession = Callable[[str], SourceSession]


@dataclass(frozen=True, slots=True)
class SideSpec:
    """One side as asked for: a session whose source to read (not ours to close) or a location to
    open, and a run (a run id, or on Postgres a trace id). An empty ``run_ref`` on the left means
    "the original the right run names in ``metadata.replay_of``"."""

    session: SourceSession | None
    location: str
    run_ref: str


def verdict_texts(cmp: Comparison) -> dict[str, str]:
    """The verdict bar's lines, worded as ``trace-inspector diff`` words them (a comparison still
    comparing its differing pairs says so)."""
    texts = _texts(cmp)
    if getattr(cmp, "complete", True):
        return texts
    # still comparing the pairs whose stored text differs: upstream's verdict is final, ours is
    # final only when a step is missing from one run
    pending = len(cmp.details)
    counts = cmp.counts()
    known = counts["only-left"] + counts["only-right"] > 0
    texts["headline"] = "Parity broken" if known else f"Comparing {fmt_count(pending)} differing step pair(s)…"
    texts["summary"] += f" · {fmt_count(pending)} pair(s) shown ≠ are still being compared field by field"
    texts["state"] = "broken" if known else "ruled"
    return texts


def _texts(cmp: Comparison) -> dict[str, str]:
    p = cmp.parity
    if p.is_parity:
        upstream = "Upstream verdict: parity"
    else:
        at = "" if p.divergence_step is None else f" at position {p.divergence_step}"
        upstream = f"Upstream verdict: NO parity{at}: {p.divergence_reason}"
    counts = cmp.counts()
    first = cmp.first_divergence
    summary = f"Aligned by {cmp.aligned_by}: " + ", ".join(f"{n} {k}" for k, n in counts.items())
    summary += "" if first is None else f" · first diverging row {first}"
    broken = cmp.parity_broken
    return {
        "headline": "Parity broken" if broken else "Parity holds",
        "upstream": upstream,
        "signatures": f"Signatures: original {p.original_signature} · replay {p.replay_signature}",
        "summary": summary,
        "notes": "\n".join(f"Note: {n}" for n in cmp.notes),
        "state": "broken" if broken else ("holds" if p.is_parity else "ruled"),
    }


# -- loading ----------------------------------------------------------------------------------


class _Watched:
    """A source seen through ``load_side``: reports steps read and stops when the task is
    cancelled. Everything else goes to the source itself."""

    def __init__(self, source: Any, progress: Any) -> None:
        self._source = source
        self._progress = progress
        self._total = 0
        self.info = source.info

    def get_run(self, run_ref: str, **kwargs: Any) -> Any:
        record = self._source.get_run(run_ref, **kwargs)
        self._total = record.summary.total_steps or 0
        return record

    def iter_steps(self, key: str) -> Iterator[Any]:
        n = 0
        for n, step in enumerate(self._source.iter_steps(key), 1):
            if n % PROGRESS_EVERY == 0:
                if self._progress.cancelled:
                    raise QueryCancelled("loading was cancelled")
                self._progress(n, self._total)
            yield step
        self._progress(n, self._total)


@dataclass(eq=False)
class _ReadSide:
    """One run read: where from, its summary, its digest (``steps``: one entry per step)."""

    location: str
    summary: Any
    steps: SideDigest
    source: Any = None
    key: str = ""
    session: SourceSession | None = None
    borrowed: bool = False


@dataclass(eq=False)
class _Handle:
    """Where one side is read from: a session given by the caller (read on its background worker,
    never closed here) or one the window made for a typed location (closed with the window)."""

    location: str
    session: SourceSession
    borrowed: bool


@dataclass(eq=False)
class _Load:
    """One comparison being prepared: the sides read so far, and those waiting for their session
    to open."""

    handles: dict[str, _Handle]
    refs: dict[str, str]
    sides: dict[str, _ReadSide] = field(default_factory=dict)
    waiting: set[str] = field(default_factory=set)
    progress: dict[str, tuple[int, int]] = field(default_factory=dict)
    original_found: str | None = None


def _error_text(exc: BaseException, doing: str) -> str:
    """A failure in the user's words: a source's message naming it once, our bug briefly."""
    if isinstance(exc, InspectorError):
        named = exc.location is not None and exc.location in doing
        return f"Could not {doing}: {exc.detail if named else exc}"
    log.error("internal error while trying to %s", doing, exc_info=exc)
    return f"Could not {doing}: internal error ({type(exc).__name__}: {exc}). Details are in the log."


# -- detail pane ------------------------------------------------------------------------------


def _value_text(value: Any) -> str:
    if value is MISSING:
        return "(absent)"
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = repr(value)
    if len(text) > VALUE_LIMIT:
        text = text[:VALUE_LIMIT] + f"… ({len(text) - VALUE_LIMIT:,} more characters)"
    return text


def _field_text(doc: Any, name: str) -> str:
    """A field of a step; a step the streamed comparison did not keep (its stored text equals its
    aligned step's) has only the fields the table shows."""
    if doc.params is MISSING and name not in ("step_index", "skill_name", "status", "outcome_code", "retry_count"):
        return "(not kept: the same stored text on both sides)" if name in ("params", "outcome_data") else "—"
    return _value_text(getattr(doc, name))


def _cell(text: str, *, mono: bool = False, bg: str | None = None, bold: bool = False) -> str:
    style = []
    if bg:
        style.append(f"background-color:{bg}")
    if bold:
        style.append("font-weight:600")
    body = html.escape(text)
    if mono:
        body = f"<code>{body}</code>"
    attr = f' style="{";".join(style)}"' if style else ""
    return f"<td{attr}>{body}</td>"


def _table(headers: Sequence[str], rows: Sequence[str], widths: Sequence[int] = ()) -> str:
    """An HTML table; ``widths`` in percent per column (Qt's rich text spreads columns evenly)."""
    cells = []
    for i, h in enumerate(headers):
        width = f' width="{widths[i]}%"' if i < len(widths) else ""
        cells.append(f'<th align="left" style="background-color:{css("header_bg")}"{width}>{html.escape(h)}</th>')
    head = "".join(cells)
    return (f'<table cellspacing="0" cellpadding="3" border="0" width="100%"><tr>{head}</tr>'
            + "".join(rows) + "</table>")


_HASH_CONVENTIONS = (
    ("step determinism hash", "determinism",
     ", ".join(DETERMINISM_FIELDS) + " (floats rounded to 6 places)"),
    ("replay hash_output", "output", "outcome_data (sorted keys, default separators)"),
    ("SDK stored output_hash", "stored_output", "the outcome as the SDK stored it (compact JSON)"),
)


def detail_html(cmp: Comparison, index: int) -> str:
    """The selected row in full: differences by JSON pointer, what the rules absorbed, the hashes
    of each side under every convention that applies, and the fields of both steps."""
    row = cmp.rows[index]
    ldoc = cmp.left[row.left] if row.left is not None else None
    rdoc = cmp.right[row.right] if row.right is not None else None
    lh = cmp.left_hashes[row.left] if row.left is not None else None
    rh = cmp.right_hashes[row.right] if row.right is not None else None

    def side(doc) -> str:
        return "—" if doc is None else f"step {doc.step_index} · {doc.skill_name or '?'}"

    ruled = row.kind is RowKind.EQUAL and bool(row.absorbed)
    marker = RULE_MARKER if ruled else KIND_MARKERS[row.kind]
    swatch = css(RULE_COLOR if ruled else KIND_COLORS[row.kind][1])
    what = kind_label(row)
    if ruled:
        what = "equal by rule: " + "; ".join(row.equal_by)
    parts = [(
        f'<p><span style="background-color:{swatch};color:{css("marker_text")}">'
        f"&nbsp;{html.escape(marker)}&nbsp;</span> "
        f"<b>Row {index}</b> · {html.escape(what)}<br>"
        f"Original: {html.escape(side(ldoc))} &nbsp;↔&nbsp; Replay: {html.escape(side(rdoc))}</p>"
    )]
    if row.differences:
        rows = [
            "<tr>" + _cell(c.pointer or "/", mono=True) + _cell(c.op) + _cell(_value_text(c.before), mono=True)
            + _cell(_value_text(c.after), mono=True) + "</tr>"
            for c in row.differences
        ]
        parts.append("<h4>Differences</h4>" + _table(("Pointer", "Op", "Original", "Replay"), rows, (30, 10, 30, 30)))
    if row.absorbed:
        rows = [
            "<tr>" + _cell(a.change.pointer or "/", mono=True) + _cell(_value_text(a.change.before), mono=True)
            + _cell(_value_text(a.change.after), mono=True) + _cell(a.rule) + "</tr>"
            for a in row.absorbed
        ]
        parts.append("<h4>Equal by rule</h4>" + _table(("Pointer", "Original", "Replay", "Rule"), rows, (25, 20, 20, 35)))
    hash_rows = []
    for name, attr, covers in _HASH_CONVENTIONS:
        a = getattr(lh, attr) if lh is not None else None
        b = getattr(rh, attr) if rh is not None else None
        if attr == "stored_output" and not a and not b:
            continue
        differ = lh is not None and rh is not None and a != b
        bg = css("changed_cell_bg") if differ else None
        hash_rows.append("<tr>" + _cell(name) + _cell(covers) + _cell(a or "—", mono=True, bg=bg)
                         + _cell(b or "—", mono=True, bg=bg) + "</tr>")
    parts.append("<h4>Hashes</h4>" + _table(("Convention", "Covers", "Original", "Replay"), hash_rows, (20, 44, 18, 18)))
    changed = {c.pointer.split("/")[1] for c in row.differences if c.pointer.count("/") >= 1}
    field_rows = []
    for name in ("step_index", *COMPARED_FIELDS, "params", "outcome_data", *AUDIT_FIELDS, "idempotency_key",
                 "replay_behavior"):
        a = "—" if ldoc is None else _field_text(ldoc, name)
        b = "—" if rdoc is None else _field_text(rdoc, name)
        label = name + (" (not compared)" if name in AUDIT_FIELDS else "")
        bg = css("changed_cell_bg") if name in changed else None
        field_rows.append("<tr>" + _cell(label) + _cell(a, mono=True, bg=bg) + _cell(b, mono=True, bg=bg) + "</tr>")
    parts.append("<h4>Fields</h4>" + _table(("Field", "Original", "Replay"), field_rows, (20, 40, 40)))
    return "".join(parts)


# -- the window -------------------------------------------------------------------------------


class _SideView(QTableView):
    """One side's table. The selection model is shared, so the current index may sit in a column
    this view hides (the other side's): keyboard moves start from this side's first column."""

    def __init__(self, home_column: int) -> None:
        super().__init__()
        self.home_column = home_column

    def moveCursor(self, action: QAbstractItemView.CursorAction, modifiers: Qt.KeyboardModifier) -> QModelIndex:
        current = self.currentIndex()
        if current.isValid() and self.isColumnHidden(current.column()):
            self.selectionModel().setCurrentIndex(self.model().index(current.row(), self.home_column),
                                                  QItemSelectionModel.SelectionFlag.NoUpdate)
        return super().moveCursor(action, modifiers)


def _side_view(model: CompareTableModel, name: str, shown: Sequence[int]) -> QTableView:
    view = _SideView(shown[0])
    view.setObjectName(name)
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
    view.setWordWrap(False)
    view.setTextElideMode(Qt.TextElideMode.ElideRight)
    view.setCornerButtonEnabled(False)
    view.verticalHeader().setVisible(False)
    view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    view.verticalHeader().setDefaultSectionSize(view.fontMetrics().height() + 6)
    header = view.horizontalHeader()
    header.setHighlightSections(False)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    header.setStretchLastSection(False)
    for col in range(model.columnCount()):
        view.setColumnHidden(col, col not in shown)
    fm = view.fontMetrics()
    digit = fm.horizontalAdvance("0")
    widths = {0: digit * 6 + 12, 2: digit * 8 + 12, 3: digit * 9 + 12, 4: digit * 10 + 16, 5: digit * 10 + 16}
    for col in shown:
        if col == MARKER_COLUMN:
            view.setColumnWidth(col, digit * 3 + 6)
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Fixed)
            continue
        field_no = col if col < MARKER_COLUMN else col - MARKER_COLUMN - 1
        if field_no == 1:
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Stretch)
        else:
            view.setColumnWidth(col, max(widths[field_no], fm.horizontalAdvance(
                str(model.headerData(col, Qt.Orientation.Horizontal))) + 20))
    return view


class CompareWindow(QMainWindow):
    """One comparison. ``open_compare`` builds and starts it; ``start()`` compares what the form
    names. ``comparison_shown`` fires with each :class:`Comparison` shown, ``failed`` with each
    error text (tests and scripts wait on them)."""

    comparison_shown = Signal(object)
    failed = Signal(str)
    state_changed = Signal(str)  # "idle", "loading", "comparing", "shown", "error"

    def __init__(self, new_session: NewSession, parent: QWidget | None = None, *,
                 sessions: Sequence[SourceSession] = ()) -> None:
        """``sessions`` are the caller's (their sources are read on their background workers and
        never closed here); ``new_session(name)`` makes a session for a location typed in the
        window, which the window opens, reads and closes."""
        super().__init__(parent)
        if parent is not None:
            self.setWindowFlag(Qt.WindowType.Window, True)
        self.setObjectName("compareWindow")
        self.setWindowTitle("Compare runs — AOS Trace Inspector")
        self._new_session = new_session
        self._borrowed: list[SourceSession] = []
        self._borrow_links: dict[SourceSession, QMetaObject.Connection] = {}
        #: Locations of given sessions closed before the window read them: said once, then opened here.
        self._closed_borrowed: dict[str, str] = {}
        for session in sessions:
            self._borrow(session)
        self._owned: dict[str, SourceSession] = {}
        #: The reads of the comparison being prepared, one stream per session read.
        self._reads: dict[SourceSession, Scope] = {}
        self._compute = TaskRunner("compare:compute", parent=self)
        #: Comparing the runs read (again under new rules): a new comparison drops the last one.
        self._comparing = Scope(None, "compare")
        self._load: _Load | None = None
        self._rules: list[IgnoreRule] = []
        self._sides: dict[str, _ReadSide] = {}
        self._shown_runs: tuple[_ReadSide, _ReadSide] | None = None
        #: The pending pairs' steps being read again (a token: a new comparison or Cancel drops it).
        self._detail: object | None = None
        self._state = "idle"
        self._error = ""
        self._closing = False
        self.delete_when_idle = False
        self._prompt: PasswordPrompt | None = None

        self.model = CompareTableModel(self)
        self._build()
        secondary_window(self, "compareWindow", (1280, 860))

    # -- layout --------------------------------------------------------------------------------

    def _build(self) -> None:
        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.setSpacing(6)

        form = QGridLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.setHorizontalSpacing(6)
        form.setVerticalSpacing(4)
        self.location_edits: dict[str, QLineEdit] = {}
        self.run_edits: dict[str, QLineEdit] = {}
        for r, side in enumerate(_SIDES):
            label = QLabel("Original (left)" if side == "left" else "Replay (right)")
            loc = QLineEdit()
            loc.setObjectName(f"{side}Location")
            loc.setPlaceholderText("same source as the replay" if side == "left"
                                   else "traces.db, trace .json or postgresql://user@host/db")
            loc.setClearButtonEnabled(True)
            browse = QPushButton("Browse…")
            browse.setObjectName(f"{side}Browse")
            browse.clicked.connect(lambda _=False, s=side: self._browse(s))
            run = QLineEdit()
            run.setObjectName(f"{side}Run")
            run.setPlaceholderText("found through the replay's replay_of" if side == "left" else "run id")
            run.setClearButtonEnabled(True)
            for edit in (loc, run):
                edit.returnPressed.connect(self.start)
                edit.textEdited.connect(lambda _t, e=edit: set_invalid(e, False))
            self.location_edits[side], self.run_edits[side] = loc, run
            form.addWidget(label, r, 0)
            form.addWidget(loc, r, 1)
            form.addWidget(browse, r, 2)
            form.addWidget(QLabel("Run"), r, 3)
            form.addWidget(run, r, 4)
        form.setColumnStretch(1, 3)
        form.setColumnStretch(4, 2)
        self.compare_button = QPushButton("Compare")
        self.compare_button.setObjectName("compareButton")
        self.compare_button.setDefault(True)
        self.compare_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("compareCancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        form.addWidget(self.compare_button, 0, 5)
        form.addWidget(self.cancel_button, 1, 5)
        outer.addLayout(form)

        # Loading strip: progress and what is being read.
        self.loading = QWidget()
        self.loading.setObjectName("compareLoading")
        ll = QHBoxLayout(self.loading)
        ll.setContentsMargins(0, 0, 0, 0)
        self.progress = QProgressBar()
        self.progress.setObjectName("compareProgress")
        self.progress.setMaximumWidth(260)
        self.progress.setTextVisible(False)
        self.loading_label = QLabel()
        self.loading_label.setObjectName("compareLoadingLabel")
        ll.addWidget(self.progress)
        ll.addWidget(self.loading_label, 1)
        self.loading.hide()
        outer.addWidget(self.loading)

        self.error_label = QLabel()
        self.error_label.setObjectName("compareError")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setContentsMargins(6, 4, 6, 4)
        set_severity(self.error_label, "error")
        self.error_label.hide()
        outer.addWidget(self.error_label)

        outer.addWidget(self._build_verdict())

        # Both runs side by side: one model, two views, one selection.
        self.left_view = _side_view(self.model, "compareLeftView", (*LEFT_COLUMNS, MARKER_COLUMN))
        self.right_view = _side_view(self.model, "compareRightView", RIGHT_COLUMNS)
        old = self.right_view.selectionModel()
        self.right_view.setSelectionModel(self.left_view.selectionModel())
        old.deleteLater()
        self.left_view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        lbar, rbar = self.left_view.verticalScrollBar(), self.right_view.verticalScrollBar()
        lbar.valueChanged.connect(rbar.setValue)
        rbar.valueChanged.connect(lbar.setValue)
        self.left_view.selectionModel().currentRowChanged.connect(self._current_changed)
        self.side_labels: dict[str, QLabel] = {}
        panes = QSplitter(Qt.Orientation.Horizontal)
        panes.setObjectName("compareSides")
        panes.setChildrenCollapsible(False)
        for side, view in (("left", self.left_view), ("right", self.right_view)):
            box = QWidget()
            bl = QVBoxLayout(box)
            bl.setContentsMargins(0, 0, 0, 0)
            bl.setSpacing(2)
            label = QLabel()
            label.setObjectName(f"{side}SideLabel")
            label.setTextFormat(Qt.TextFormat.RichText)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.side_labels[side] = label
            bl.addWidget(label)
            bl.addWidget(view, 1)
            panes.addWidget(box)
        panes.setSizes([660, 600])

        self.detail = QTextBrowser()
        self.detail.setObjectName("compareDetail")
        self.detail.setOpenLinks(False)
        self.detail.setPlaceholderText("Select a row to see its differences, hashes and fields.")
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.setChildrenCollapsible(False)
        bottom.addWidget(self.detail)
        bottom.addWidget(self._build_rules())
        bottom.setSizes([820, 440])

        split = QSplitter(Qt.Orientation.Vertical)
        split.setObjectName("compareSplit")
        split.setChildrenCollapsible(False)
        split.addWidget(panes)
        split.addWidget(bottom)
        split.setSizes([430, 300])
        outer.addWidget(split, 1)
        self.setCentralWidget(central)

    def _build_verdict(self) -> QFrame:
        self.verdict = QFrame()
        self.verdict.setObjectName("compareVerdict")
        grid = QGridLayout(self.verdict)
        grid.setContentsMargins(8, 6, 8, 6)
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(2)
        self.headline = QLabel()
        self.headline.setObjectName("verdictHeadline")
        self.headline.setFont(title_font(self.headline.font()))
        self.upstream_label = QLabel()
        self.upstream_label.setObjectName("verdictUpstream")
        self.signatures_label = QLabel()
        self.signatures_label.setObjectName("verdictSignatures")
        self.summary_label = QLabel()
        self.summary_label.setObjectName("verdictSummary")
        self.notes_label = QLabel()
        self.notes_label.setObjectName("verdictNotes")
        for label in (self.upstream_label, self.signatures_label, self.summary_label, self.notes_label):
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.first_button = QPushButton("Jump to first divergence")
        self.first_button.setObjectName("jumpFirst")
        self.first_button.setShortcut(QKeySequence("Ctrl+J"))
        self.first_button.setToolTip("Select the first row that is not equal (Ctrl+J)")
        self.first_button.clicked.connect(self.jump_to_first_divergence)
        self.prev_button = QPushButton("◀ Previous")
        self.prev_button.setObjectName("previousDifference")
        self.prev_button.setShortcut(QKeySequence("Shift+F8"))
        self.prev_button.setToolTip("The previous row that is not equal (Shift+F8)")
        self.prev_button.clicked.connect(self.previous_difference)
        self.next_button = QPushButton("Next ▶")
        self.next_button.setObjectName("nextDifference")
        self.next_button.setShortcut(QKeySequence("F8"))
        self.next_button.setToolTip("The next row that is not equal (F8)")
        self.next_button.clicked.connect(self.next_difference)
        self.position_label = QLabel()
        self.position_label.setObjectName("comparePosition")
        muted(self.position_label)
        nav = QHBoxLayout()
        nav.setSpacing(4)
        nav.addWidget(self.position_label)
        nav.addSpacing(6)
        nav.addWidget(self.first_button)
        nav.addWidget(self.prev_button)
        nav.addWidget(self.next_button)
        grid.addWidget(self.headline, 0, 0)
        grid.addWidget(self.upstream_label, 0, 1)
        grid.addLayout(nav, 0, 2, Qt.AlignmentFlag.AlignRight)
        grid.addWidget(self.signatures_label, 1, 0, 1, 2)
        self.legend = QLabel(" ".join(
            f'<span style="background-color:{css(role)};color:{css("marker_text")}">&nbsp;{mark}&nbsp;</span>'
            f'&nbsp;{html.escape(text)}&nbsp;'
            for mark, role, text in (
                ("=", KIND_COLORS[RowKind.EQUAL][1], "equal"),
                ("≈", RULE_COLOR, "equal by a rule"),
                ("≠", KIND_COLORS[RowKind.CHANGED][1], "changed"),
                ("−", KIND_COLORS[RowKind.ONLY_LEFT][1], "only left"),
                ("+", KIND_COLORS[RowKind.ONLY_RIGHT][1], "only right"))))
        self.legend.setObjectName("compareLegend")
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        grid.addWidget(self.legend, 1, 2, Qt.AlignmentFlag.AlignRight)
        grid.addWidget(self.summary_label, 2, 0, 1, 3)
        grid.addWidget(self.notes_label, 3, 0, 1, 3)
        grid.setColumnStretch(1, 1)
        self.verdict.hide()
        return self.verdict

    def _build_rules(self) -> QWidget:
        box = QWidget()
        box.setObjectName("compareRules")
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        title = QLabel("<b>Rules in force</b>")
        self.rules_label = QLabel()
        self.rules_label.setObjectName("rulesInForce")
        self.rules_label.setWordWrap(True)
        self.rules_label.setTextFormat(Qt.TextFormat.RichText)
        self.rules_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.rules_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.rules_label)
        ignore_title = QLabel("<b>Ignore rules</b> (JSON pointers into the step; <code>*</code> matches any key)")
        ignore_title.setWordWrap(True)
        self.rules_list = QListWidget()
        self.rules_list.setObjectName("ignoreRules")
        self.rules_list.setMaximumHeight(self.rules_list.fontMetrics().height() * 3 + 12)
        self.rules_list.itemChanged.connect(self._rule_edited)
        self.rule_edit = QLineEdit()
        self.rule_edit.setObjectName("ruleEdit")
        self.rule_edit.setPlaceholderText("/outcome_data/request_id or /params/*/ts")
        self.rule_edit.returnPressed.connect(self._add_rule_from_edit)
        self.rule_edit.textEdited.connect(lambda _t: self._rule_error(""))
        add = QPushButton("Add")
        add.setObjectName("addRule")
        add.clicked.connect(self._add_rule_from_edit)
        remove = QPushButton("Remove")
        remove.setObjectName("removeRule")
        remove.clicked.connect(self._remove_selected_rule)
        row = QHBoxLayout()
        row.addWidget(self.rule_edit, 1)
        row.addWidget(add)
        row.addWidget(remove)
        self.rule_error = QLabel()
        self.rule_error.setObjectName("ruleError")
        set_severity(self.rule_error, "error-text")
        self.rule_error.setWordWrap(True)
        self.rule_error.hide()
        layout.addWidget(title)
        layout.addWidget(scroll, 1)
        layout.addWidget(ignore_title)
        layout.addWidget(self.rules_list)
        layout.addLayout(row)
        layout.addWidget(self.rule_error)
        return box

    # -- form ----------------------------------------------------------------------------------

    def _borrow(self, session: SourceSession) -> None:
        if all(session is not b for b in self._borrowed):
            self._borrowed.append(session)
            location = session.location or ""
            # Disconnected once it fires, and when the window goes: a connection left behind would
            # keep the window alive and report a later source of that session as ours.
            self._borrow_links[session] = session.closed.connect(lambda: self._borrowed_closed(session, location))

    def _unborrow(self, session: SourceSession) -> None:
        self._borrowed = [b for b in self._borrowed if b is not session]
        link = self._borrow_links.pop(session, None)
        if link is not None:
            session.closed.disconnect(link)

    def set_sides(self, left: SideSpec | None, right: SideSpec) -> None:
        """Fill the form (left None: the original is found through the replay's replay_of)."""
        for s in (left, right):
            if s is not None and s.session is not None:
                self._borrow(s.session)
        self.location_edits["right"].setText(right.location)
        self.run_edits["right"].setText(right.run_ref)
        self.location_edits["left"].setText(left.location if left is not None else right.location)
        self.run_edits["left"].setText(left.run_ref if left is not None else "")

    def _browse(self, side: str) -> None:
        current = self.location_edits[side].text().strip()
        start = os.path.dirname(current) if current and "://" not in current else os.path.expanduser("~")
        path, _ = QFileDialog.getOpenFileName(
            self, "Open trace source", start, "Trace sources (*.db *.sqlite *.sqlite3 *.json);;All files (*)")
        if path:
            self.location_edits[side].setText(path)

    def _handle_for(self, text: str) -> _Handle:
        """The session reading ``text``. A password inside a typed URL is remembered once for the
        session and then left out, so a password typed at the prompt afterwards is the one used."""
        key = location_key(text)
        for session in self._borrowed:
            if session.location is not None and location_key(session.location) == key:
                return _Handle(session.location, session, borrowed=True)
        url, password = split_pg_password(text.strip()) if is_postgres_url(text.strip()) else (key, None)
        session = self._owned.get(key)
        if session is None:
            session = self._new_session(f"compare:{url}")
            session.setParent(self)
            session.opened.connect(lambda *_a: self._owned_opened(session))
            session.open_failed.connect(lambda _loc, exc: self._owned_failed(session, exc))
            session.password_needed.connect(lambda _loc, reason: self._owned_wants_password(session, reason))
            self._owned[key] = session
        if password:
            session.passwords.remember(url, password)
        return _Handle(url, session, borrowed=False)

    def _read_form(self) -> tuple[dict[str, _Handle], dict[str, str]] | None:
        loc = {s: self.location_edits[s].text().strip() for s in _SIDES}
        refs = {s: self.run_edits[s].text().strip() for s in _SIDES}
        missing = [(self.location_edits["right"], "Name the replay's source (a file or a postgresql:// URL)")
                   if not loc["right"] else None,
                   (self.run_edits["right"], "Name the replay's run id") if not refs["right"] else None]
        missing = [m for m in missing if m is not None]
        if missing:
            for edit, _ in missing:
                set_invalid(edit, True)
            self._show_error(missing[0][1])
            return None
        right = self._handle_for(loc["right"])
        left = self._handle_for(loc["left"]) if loc["left"] else right
        for side, handle in (("left", left), ("right", right)):
            if loc[side] and split_pg_password(loc[side])[1] is not None:
                self.location_edits[side].setText(handle.location)  # the password is kept in memory only
        return {"left": left, "right": right}, refs

    # -- loading -------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        return self._state

    @property
    def error_text(self) -> str:
        return self._error

    @property
    def comparison(self) -> Comparison | None:
        return self.model.comparison

    @property
    def idle(self) -> bool:
        """No worker of the window is reading or comparing (a given session's aside)."""
        return self._compute.idle and all(s.idle for s in self._owned.values())

    def open_locations(self) -> list[str]:
        """The locations this window opened and holds open (closed when it closes)."""
        return [s.location for s in self._owned.values() if s.source is not None and s.location is not None]

    @property
    def sides(self) -> dict[str, _ReadSide]:
        """The runs shown, by side (``left``, ``right``)."""
        return dict(self._sides)

    def _set_state(self, state: str) -> None:
        self._state = state
        busy = state in ("loading", "comparing")
        self.cancel_button.setEnabled(busy)
        self.loading.setVisible(busy)
        self.state_changed.emit(state)

    def start(self) -> None:
        """Read both runs the form names (on workers) and compare them."""
        if self._closing:
            return
        self.cancel(quiet=True)
        self.error_label.hide()
        self._error = ""
        for edit in (*self.location_edits.values(), *self.run_edits.values()):
            set_invalid(edit, False)
        read = self._read_form()
        if read is None:
            return
        handles, refs = read
        load = _Load(handles, refs)
        self._load = load
        for side in _SIDES:
            gone = self._closed_borrowed.pop(location_key(handles[side].location), None)
            if gone is not None:
                self._fail(load, f"Could not read run {refs[side] or load.refs['right']!r}: {gone} was closed in the "
                                 "main window; press Compare to open it here")
                return
        self._sides = {}
        self.model.set_comparison(None)
        self.verdict.hide()
        self.detail.clear()
        self._update_side_labels()
        self._set_state("loading")
        self.progress.setRange(0, 0)
        self._submit_side(load, "right")
        if refs["left"]:
            self._submit_side(load, "left")
        self._show_progress()

    def _submit_side(self, load: _Load, side: str) -> None:
        """Read one side: now, when its session's source is open; after opening it, when the
        window made the session and it is not open yet."""
        if load is not self._load:
            return
        handle, ref = load.handles[side], load.refs[side]
        session = handle.session
        source = session.source
        if source is None:
            if handle.borrowed:
                self._source_went_away(load, side)
                return
            load.waiting.add(side)
            if not session.opening:
                session.open(handle.location)
            return
        reads = self._reads.get(session)
        if reads is None:
            reads = self._reads[session] = session.scope("compare")

        def read(progress) -> _ReadSide:  # worker thread
            summary, digest = digest_side(_Watched(source, progress), ref)
            return _ReadSide(source.info.location, summary, digest, source, summary.key, session, handle.borrowed)

        reads.submit(read, lambda result: self._side_loaded(load, side, result),
                     lambda exc: self._side_failed(load, side, exc),
                     worker=Worker.BACKGROUND if handle.borrowed else Worker.INTERACTIVE,
                     on_progress=lambda done, total: self._side_progress(load, side, done, total),
                     label=f"Reading run {ref}")

    def _waiting_sides(self, session: SourceSession) -> list[str]:
        """The sides of the comparison being prepared that wait for ``session`` to open."""
        load = self._load
        if load is None:
            return []
        return [side for side in _SIDES if side in load.waiting and load.handles[side].session is session]

    def _owned_opened(self, session: SourceSession) -> None:
        load = self._load
        for side in self._waiting_sides(session):
            load.waiting.discard(side)
            self._submit_side(load, side)  # a failed side ends the load: the next one is not read

    def _owned_failed(self, session: SourceSession, exc: BaseException) -> None:
        sides = self._waiting_sides(session)
        if sides:
            load = self._load
            self._fail(load, _error_text(exc, f"open {load.handles[sides[0]].location}"))
            set_invalid(self._location_edit_of(load, sides[0]), True)

    def _owned_wants_password(self, session: SourceSession, reason: str) -> None:
        sides = self._waiting_sides(session)
        if sides:
            load = self._load
            handle = load.handles[sides[0]]
            self._fail(load, _error_text(PasswordRequired(reason, location=handle.location), f"open {handle.location}"))
            self._ask_password(handle, reason)

    def _borrowed_closed(self, session: SourceSession, location: str) -> None:
        """A given session's source was closed (the main window closed it): its location is
        opened by the window itself from the next Compare on."""
        self._unborrow(session)
        load = self._load
        if load is None:
            if location:
                self._closed_borrowed[location_key(location)] = location
            return
        for side in _SIDES:
            handle = load.handles.get(side)
            if handle is not None and handle.session is session and side not in load.sides:
                self._source_went_away(load, side)
                return

    def _source_went_away(self, load: _Load, side: str) -> None:
        handle = load.handles[side]
        self._unborrow(handle.session)
        self._fail(load, f"Could not read run {load.refs[side]!r}: {handle.location} was closed in the main "
                         "window; press Compare to open it here")

    def _side_progress(self, load: _Load, side: str, done: int, total: int) -> None:
        if load is self._load:
            load.progress[side] = (done, total)
            self._show_progress()

    def _show_progress(self) -> None:
        load = self._load
        if load is None:
            return
        parts, done_sum, total_sum, known = [], 0, 0, True
        for side in _SIDES:
            ref = load.refs[side] or load.original_found
            if side in load.sides:
                parts.append(f"{_NAMES[side]} {ref}: {fmt_count(len(load.sides[side].steps))} steps read")
                n = len(load.sides[side].steps)
                done_sum, total_sum = done_sum + n, total_sum + n
                continue
            if not ref:
                parts.append(f"{_NAMES[side]}: waiting for the replay's replay_of")
                known = False
                continue
            done, total = load.progress.get(side, (0, 0))
            known = known and total > 0
            done_sum, total_sum = done_sum + done, total_sum + max(total, done)
            of = f" of {fmt_count(total)}" if total else ""
            parts.append(f"{_NAMES[side]} {ref}: {fmt_count(done)}{of} steps")
        self.loading_label.setText("Loading… " + "; ".join(parts))
        if known and total_sum:
            self.progress.setRange(0, total_sum)
            self.progress.setValue(done_sum)
        else:
            self.progress.setRange(0, 0)

    def _side_loaded(self, load: _Load, side: str, result: _ReadSide) -> None:
        if load is not self._load:
            return
        load.sides[side] = result
        if side == "right" and not load.refs["left"]:
            try:
                load.original_found = original_of(None, result.summary)
            except InspectorError as exc:
                self._fail(load, _error_text(exc, "find the original"))
                set_invalid(self.run_edits["left"], True)
                return
            load.refs["left"] = load.original_found
            self._submit_side(load, "left")
        self._show_progress()
        if all(s in load.sides for s in _SIDES):
            self._sides = dict(load.sides)
            self._update_side_labels()
            self._run_compare()

    def _side_failed(self, load: _Load, side: str, exc: BaseException) -> None:
        if load is not self._load:
            return
        handle, ref = load.handles[side], load.refs[side]
        if isinstance(exc, RunNotFound):
            set_invalid(self.run_edits[side], True)
        what = "the original " if side == "left" and load.original_found else ""
        self._fail(load, _error_text(exc, f"read {what}run {ref!r} from {handle.location}"))

    def _location_edit_of(self, load: _Load, side: str) -> QLineEdit:
        """The edit that named this side's source (the left one may be empty: the replay's)."""
        if side == "left" and not self.location_edits["left"].text().strip():
            return self.location_edits["right"]
        return self.location_edits[side]

    def _ask_password(self, handle: _Handle, reason: str) -> None:
        if self._prompt is not None:
            self._prompt.deleteLater()
        self._prompt = PasswordPrompt(handle.location, reason, self)

        def submitted(_url: str, password: str) -> None:
            handle.session.passwords.remember(handle.location, password)
            self.start()

        self._prompt.submitted.connect(submitted)
        self._prompt.open()

    def _fail(self, load: _Load | None, text: str) -> None:
        if load is not None and load is not self._load:
            return
        self._drop_reads()
        self._load = None
        self._show_error(text)

    def _drop_reads(self) -> None:
        for reads in self._reads.values():
            reads.renew()

    def _show_error(self, text: str) -> None:
        self._error = text
        self.error_label.setText(text)
        self.error_label.show()
        self._set_state("error")
        self.failed.emit(text)

    def cancel(self, *, quiet: bool = False) -> None:
        """Stop reading and comparing; what was shown before stays."""
        load, self._load = self._load, None
        detail, self._detail = self._detail, None
        comparing = self._comparing.pending
        busy = load is not None or comparing or detail is not None
        if load is not None or detail is not None:
            self._drop_reads()
            owned = [h.session for h in load.handles.values() if not h.borrowed] if load is not None else \
                list(self._owned.values())
            for session in dict.fromkeys(owned):
                if session.can_cancel:
                    session.cancel()  # stop a slow statement of our own connection
        recompare = comparing and self.model.comparison is not None and detail is None
        self._comparing.renew()
        if busy and not quiet:
            self.loading_label.setText("")
            if detail is not None:
                # The verdict and the rows stay; the pairs marked ≠ were not compared field by field.
                self._show_error(f"Comparison cancelled: {fmt_count(len(self.model.comparison.details))} differing "
                                 "pair(s) were not compared field by field (marked ≠ without details)")
            elif recompare:
                # The rows stay, compared under the rules they were compared under.
                self._set_state("shown")
                self.error_label.setText("Comparing under the changed ignore rules was cancelled: the rows "
                                         "shown follow the rules listed under Rules in force")
                self.error_label.show()
            else:
                self._show_error("Comparison cancelled")

    # -- comparing -----------------------------------------------------------------------------

    def _run_compare(self) -> None:
        left, right = self._sides.get("left"), self._sides.get("right")
        if left is None or right is None or self._closing:
            return
        rules = tuple(self._rules)
        self._load = None
        self._set_state("comparing")
        self.progress.setRange(0, 0)
        self.loading_label.setText(f"Comparing {fmt_count(len(left.steps))} and {fmt_count(len(right.steps))} "
                                   "steps…")
        ldocs, rdocs = left.steps, right.steps
        shown = self.model.comparison
        # Only the rules changed: keep the hashes, verdict and alignment, compare the pairs again.
        reuse = (shown is not None and getattr(shown, "complete", True) and self._shown_runs is not None
                 and all(a is b for a, b in zip(self._shown_runs, (left, right), strict=True)))
        self._detail = None

        def work() -> tuple[Comparison, list[int], bool]:  # worker thread
            if reuse:
                cmp = shown.with_rules(rules)
                return cmp, difference_rows(cmp), True
            cmp = plan_comparison(ldocs, rdocs, rules=rules)
            return cmp, difference_rows(cmp), cmp.complete and not any(cmp.wanted(one_sided=KEEP_ONE_SIDED))

        def done(result: tuple[Comparison, list[int], bool]) -> None:
            cmp, diffs, final = result
            self._show_comparison(cmp, diffs, runs=(left, right), final=final)
            if not final:
                self._read_details(cmp, (left, right))

        def failed(exc: BaseException) -> None:
            self._show_error(_error_text(exc, "compare the runs"))

        self._comparing.renew()
        self._comparing.run_on(self._compute, work, done, failed, label="Comparing runs")

    def _read_details(self, plan: StreamComparison, runs: tuple[_ReadSide, _ReadSide]) -> None:
        """Read the steps of the pairs the digests could not call equal (and of the first steps
        only in one run), each side on its own session's worker, then compare those pairs."""
        token = self._detail = object()
        wanted = plan.wanted(one_sided=KEEP_ONE_SIDED)
        kept: dict[str, dict] = {}
        progress: dict[str, tuple[int, int]] = {}
        self._set_state("comparing")
        self.progress.setRange(0, 0)
        self.loading_label.setText(f"Comparing {fmt_count(len(plan.details))} differing step pair(s) field by field…")

        def shown_progress(side: str, done: int, total: int) -> None:
            if self._detail is not token:
                return
            progress[side] = (done, total)
            done_sum = sum(d for d, _ in progress.values())
            total_sum = sum(max(t, d) for d, t in progress.values())
            self.progress.setRange(0, max(total_sum, 1))
            self.progress.setValue(done_sum)

        def side_done(side: str, docs: dict) -> None:
            if self._detail is not token:
                return
            kept[side] = docs
            if len(kept) == len(_SIDES):
                self._detail = None

                def work() -> tuple[Comparison, list[int]]:  # worker thread
                    cmp = plan.completed(kept["left"], kept["right"])
                    return cmp, difference_rows(cmp)

                self._comparing.renew()
                self._comparing.run_on(self._compute, work, lambda r: self._show_comparison(*r, runs=runs),
                                       lambda exc: self._show_error(_error_text(exc, "compare the runs")),
                                       label="Comparing runs")

        def side_failed(side: str, exc: BaseException) -> None:
            if self._detail is token:
                self._detail = None
                self._show_error(_error_text(exc, f"read run {runs[_SIDES.index(side)].summary.run_id!r} again"))

        for side, read, positions in zip(_SIDES, runs, wanted, strict=True):
            session = read.session
            if session is None or session.source is not read.source:
                side_failed(side, InspectorError(f"{read.location} was closed; press Compare to read it again"))
                return
            if not positions:
                side_done(side, {})
                continue
            reads = self._reads.get(session)
            if reads is None:
                reads = self._reads[session] = session.scope("compare")

            def fetch(progress, source=read.source, key=read.key, positions=positions, total=len(read.steps)):
                watched = _Watched(source, progress)
                watched._total = total
                return collect_docs(watched.iter_steps(key), positions)

            reads.submit(fetch, lambda docs, side=side: side_done(side, docs),
                         lambda exc, side=side: side_failed(side, exc),
                         worker=Worker.BACKGROUND if read.borrowed else Worker.INTERACTIVE,
                         on_progress=lambda done, total, side=side: shown_progress(side, done, total),
                         label=f"Reading run {read.summary.run_id} again")

    def _show_comparison(self, cmp: Comparison, diffs: list[int], *, runs: tuple[_ReadSide, _ReadSide],
                         final: bool = True) -> None:
        """Show a comparison; ``final=False``: a plan whose differing pairs are still being read."""
        # The same runs under other rules keep their alignment: the selected row stays put.
        same_rows = (self.model.comparison is not None and self._shown_runs is not None
                     and all(a is b for a, b in zip(self._shown_runs, runs, strict=True)))
        self._shown_runs = runs
        current = self.left_view.currentIndex().row() if same_rows else -1
        scroll = self.right_view.verticalScrollBar().value()
        self.model.set_comparison(cmp, diffs)
        self._update_verdict(cmp)
        self._update_rules(cmp)
        self.error_label.hide()
        self._error = ""
        self._set_state("shown" if final else "comparing")
        if same_rows and current >= 0:
            self.select_row(current, scroll=False)
            self.right_view.verticalScrollBar().setValue(scroll)
        elif cmp.first_divergence is not None:
            self.jump_to_first_divergence()
        elif cmp.rows:
            self.select_row(0)
        self._update_position()
        if final:
            self.comparison_shown.emit(cmp)

    def _update_side_labels(self) -> None:
        for side in _SIDES:
            rs = self._sides.get(side)
            label = self.side_labels[side]
            name = _NAMES[side].capitalize()
            if rs is None:
                label.setText(f"<b>{name}</b>")
                label.setToolTip("")
                continue
            s = rs.summary
            trace = f" · trace {html.escape(s.trace_id)}" if s.trace_id else ""
            found = ""
            if side == "left" and not self.run_edits["left"].text().strip():
                found = " (found through replay_of)"
            label.setText(f"<b>{name}</b> {html.escape(s.run_id)}{found}{trace} · {fmt_count(len(rs.steps))} steps "
                          f"· <span style='color:{css('muted')}'>{html.escape(rs.location)}</span>")
            label.setToolTip(rs.location)
        left, right = self._sides.get("left"), self._sides.get("right")
        if left is not None and right is not None:
            self.setWindowTitle(f"Compare {left.summary.run_id} ↔ {right.summary.run_id} — AOS Trace Inspector")

    def _update_verdict(self, cmp: Comparison) -> None:
        t = verdict_texts(cmp)
        set_severity(self.verdict, t["state"])  # holds, ruled or broken
        self.verdict.setProperty("verdict", t["state"])
        self.headline.setText(t["headline"])
        set_severity(self.headline, f"{t['state']}-text")
        self.upstream_label.setText(t["upstream"])
        self.signatures_label.setText(t["signatures"])
        self.summary_label.setText(t["summary"])
        self.notes_label.setText(t["notes"])
        self.notes_label.setVisible(bool(t["notes"]))
        has_diffs = bool(self.model.differences)
        for b in (self.first_button, self.prev_button, self.next_button):
            b.setEnabled(has_diffs)
        self.verdict.show()

    def _update_rules(self, cmp: Comparison) -> None:
        items = "".join(f"<li>{html.escape(r)}</li>" for r in cmp.rules_in_force())
        self.rules_label.setText(f"<ul style='margin-left:-20px'>{items}</ul>")

    # -- ignore rules --------------------------------------------------------------------------

    @property
    def rules(self) -> list[str]:
        return [r.pointer for r in self._rules]

    def set_rules(self, pointers: Sequence[str]) -> None:
        """Replace the ignore rules (ValueError for a malformed pointer) and compare again."""
        rules = [IgnoreRule(p) for p in pointers]
        self._rules = rules
        self._fill_rules_list()
        self._rules_changed()

    def add_rule(self, pointer: str) -> bool:
        """Add an ignore rule; a malformed pointer is shown inline and not added."""
        pointer = pointer.strip()
        try:
            rule = IgnoreRule(pointer)
        except ValueError as exc:
            self._rule_error(f"{exc} (a JSON pointer starts with '/', e.g. /outcome_data/request_id)")
            set_invalid(self.rule_edit, True)
            return False
        if rule in self._rules:
            self._rule_error(f"{pointer} is already a rule")
            return False
        self._rules.append(rule)
        self._fill_rules_list()
        self._rule_error("")
        self._rules_changed()
        return True

    def remove_rule(self, pointer: str) -> None:
        self._rules = [r for r in self._rules if r.pointer != pointer]
        self._fill_rules_list()
        self._rules_changed()

    def _add_rule_from_edit(self) -> None:
        if self.add_rule(self.rule_edit.text()):
            self.rule_edit.clear()
            set_invalid(self.rule_edit, False)

    def _remove_selected_rule(self) -> None:
        item = self.rules_list.currentItem()
        if item is not None:
            self.remove_rule(item.data(Qt.ItemDataRole.UserRole))

    def _rule_edited(self, item: QListWidgetItem) -> None:
        old = item.data(Qt.ItemDataRole.UserRole)
        new = item.text().strip()
        if new == old:
            return
        try:
            rule = IgnoreRule(new)
        except ValueError as exc:
            self._rule_error(f"{exc}: rule {old} kept (a JSON pointer starts with '/')")
            self._fill_rules_list()
            return
        self._rules = [rule if r.pointer == old else r for r in self._rules]
        self._rules = list(dict.fromkeys(self._rules))
        self._rule_error("")
        self._fill_rules_list()
        self._rules_changed()

    def _fill_rules_list(self) -> None:
        self.rules_list.blockSignals(True)
        self.rules_list.clear()
        for r in self._rules:
            item = QListWidgetItem(r.pointer)
            item.setData(Qt.ItemDataRole.UserRole, r.pointer)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsEditable)
            self.rules_list.addItem(item)
        self.rules_list.blockSignals(False)

    def _rule_error(self, text: str) -> None:
        self.rule_error.setText(text)
        self.rule_error.setVisible(bool(text))
        if not text:
            set_invalid(self.rule_edit, False)

    def _rules_changed(self) -> None:
        if self._sides.get("left") is not None and self._sides.get("right") is not None and self._load is None:
            self._run_compare()

    # -- navigation ----------------------------------------------------------------------------

    def select_row(self, row: int, *, scroll: bool = True) -> None:
        """Select an aligned row on both sides and scroll both to it."""
        if not 0 <= row < self.model.rowCount():
            return
        left = self.model.index(row, LEFT_COLUMNS[0])
        self.left_view.selectionModel().setCurrentIndex(
            left, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        if scroll:
            hint = QAbstractItemView.ScrollHint.PositionAtCenter
            self.left_view.scrollTo(left, hint)
            self.right_view.scrollTo(self.model.index(row, RIGHT_COLUMNS[0]), hint)

    def current_row(self) -> int:
        return self.left_view.currentIndex().row()

    def jump_to_first_divergence(self) -> None:
        cmp = self.model.comparison
        if cmp is not None and cmp.first_divergence is not None:
            self.select_row(cmp.first_divergence)

    def next_difference(self) -> None:
        row = self.model.next_difference(self.current_row())
        if row is not None:
            self.select_row(row)

    def previous_difference(self) -> None:
        row = self.model.previous_difference(max(self.current_row(), 0))
        if row is not None:
            self.select_row(row)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        # The detail pane's HTML holds colours: made again in the scheme shown (banners and
        # labels are moved by ui.qt.theme, the table repaints from its model).
        if event.type() == QEvent.Type.PaletteChange and self.model.comparison is not None:
            self._current_changed(self.left_view.currentIndex(), QModelIndex())
        super().changeEvent(event)

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        cmp = self.model.comparison
        if cmp is None or not current.isValid():
            self.detail.clear()
        else:
            self.detail.setHtml(detail_html(cmp, current.row()))
        self._update_position()

    def _update_position(self) -> None:
        cmp = self.model.comparison
        if cmp is None:
            self.position_label.clear()
            return
        row = self.current_row()
        diffs = self.model.differences
        text = f"row {fmt_count(row)} of {fmt_count(len(cmp.rows))}" if row >= 0 else f"{fmt_count(len(cmp.rows))} rows"
        if diffs:
            i = bisect.bisect_left(diffs, row)
            at = f"difference {i + 1} of {fmt_count(len(diffs))}" if i < len(diffs) and diffs[i] == row else \
                f"{fmt_count(len(diffs))} differences"
            text += f" · {at}"
        self.position_label.setText(text)

    # -- closing -------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        self.shutdown(wait=False)
        super().closeEvent(event)

    def shutdown(self, *, wait: bool = True) -> None:
        """Stop the workers and close the sources this window opened (never a given session's).
        ``wait=False`` returns at once; the workers finish on their own and, with
        ``delete_when_idle``, the window is deleted after them."""
        if self._prompt is not None:
            self._prompt.reject()
        self.cancel(quiet=True)
        if not self._closing:
            self._closing = True
            for session in list(self._borrowed):
                self._unborrow(session)
            for session in self._owned.values():
                session.close()  # the source is closed on its worker once that is idle
            self._compute.shutdown_async(None)
        if wait:
            for session in self._owned.values():
                session.shutdown()
            self._compute.shutdown()
            return
        self._reap()

    def _reap(self) -> None:
        if self.idle:
            for session in self._owned.values():
                session.shutdown()
            self._compute.shutdown()
            if self.delete_when_idle:
                self.deleteLater()
            return
        QTimer.singleShot(100, self, self._reap)


def _spec(value: tuple[SourceSession | str | os.PathLike[str], str]) -> SideSpec:
    where, ref = value
    if isinstance(where, SourceSession):
        return SideSpec(where, where.location or "", str(ref))
    return SideSpec(None, os.fspath(where), str(ref))


def open_compare(parent: QWidget | None, new_session: NewSession,
                 left: tuple[SourceSession | str | os.PathLike[str], str],
                 right: tuple[SourceSession | str | os.PathLike[str], str] | None = None, *,
                 rules: Sequence[str] = (), show: bool = True) -> CompareWindow:
    """Open a Compare window and start comparing.

    ``left`` and ``right`` are ``(where, run_ref)``: ``where`` a session whose open source is
    read (on its background worker, never closed by the window) or a location to open (a SQLite
    file, a trace JSON file, a ``postgresql://`` URL) in a session made by ``new_session``. With
    ``right=None``, ``left`` names a replay: its original is found through
    ``metadata.replay_of`` and shown on the left, the replay on the right. ``rules`` are
    ignore-rule JSON pointers.
    """
    lspec = _spec(left)
    rspec = _spec(right) if right is not None else None
    sessions = [s.session for s in (lspec, rspec) if s is not None and s.session is not None]
    window = CompareWindow(new_session, parent, sessions=sessions)
    window.delete_when_idle = parent is not None
    if rspec is None:
        window.set_sides(None, lspec)
    else:
        window.set_sides(lspec, rspec)
    if rules:
        window.set_rules(rules)
    if show:
        window.show()
    window.start()
    return window
