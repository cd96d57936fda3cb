"""The Evidence panel: one run's integrity verdict and the evidence behind it (spec §3.7, §4).

The header shows upstream's grade, score, explanation and legacy status, and a warning when the
verdict upstream stored in ``integrity_evidence`` disagrees with the one computed now (§11.15).
Below it, our reasons, each naming the rows it is about: activating one selects those rows in the
cards, one per evidence class (H environment, B activity, G provider, D policy decisions,
J integrity record) plus the capture failures.

Every read runs on the session's evidence worker (``inspector.services.grading.grade_run``, the
same grading as ``trace-inspector grade RUN_ID``); a read for a run no longer selected is
cancelled if it has not started, and its result dropped if it has.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QPointF,
    QRect,
    QRectF,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontMetrics,
    QIcon,
    QPainter,
    QPalette,
    QPixmap,
    QPolygonF,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from inspector.errors import InspectorError
from inspector.evidence import (
    CLASS_LETTER,
    CLASS_TITLE,
    EvidenceReader,
    Reason,
    RowRef,
    RunEvidence,
    Severity,
    resolution_overridden,
)
from inspector.integrity import (
    EXPECTED_TABLES,
    REQUIRED_EVIDENCE,
    CaptureFailure,
    EvidenceClass,
    IntegrityGrade,
    IntegrityResult,
)
from inspector.services.grading import grade_run
from ui.format import fmt_count, fmt_duration, fmt_timestamp, shorten
from ui.qt.context import Entry, Item, ViewMenu, reason_items
from ui.qt.models.records import Column, RecordTableModel, record_table_view, texts_for
from ui.qt.panels.verification import untrusted_mark
from ui.qt.session.session import SourceSession, Worker
from ui.qt.theme import (
    MARK_COLORS,
    badge_style,
    colours,
    css,
    muted,
    placeholder_label,
    set_severity,
    title_font,
)

__all__ = [
    "ACTIVITY_COLUMNS",
    "CARD_ORDER",
    "DECISION_COLUMNS",
    "FAILURES_TABLE",
    "FAILURE_COLUMNS",
    "NO_STORE_TEXT",
    "PROVIDER_COLUMNS",
    "REASON_ROLE",
    "EvidenceCard",
    "EvidencePanel",
    "LoadedEvidence",
    "ReasonsModel",
    "load_run_evidence",
    "refs_text",
]

NO_STORE_TEXT = "No evidence store"
_NO_STORE_DETAIL = (
    "This source has no evidence tables (environment_evidence, activity_evidence, provider_evidence, "
    "policy_decisions, integrity_evidence), so its runs are not graded. A plain upstream traces.db "
    "holds traces only; the AOS Postgres database and a traces.db made with the evidence tables hold "
    "evidence.")
FAILURES_TABLE = "evidence_capture_failures"
#: The cards, in the order an auditor reads them.
CARD_ORDER = (EvidenceClass.H_ENVIRONMENT, EvidenceClass.B_ACTIVITY, EvidenceClass.G_PROVIDER,
              EvidenceClass.D_DECISION, EvidenceClass.J_INTEGRITY)
REASON_ROLE = Qt.ItemDataRole.UserRole + 11
#: Tab titles: short, so six tabs fit beside the reasons (the heading inside says it in full).
_TAB_TITLE = {
    EvidenceClass.H_ENVIRONMENT.value: "Environment",
    EvidenceClass.B_ACTIVITY.value: "Activity",
    EvidenceClass.G_PROVIDER.value: "Provider",
    EvidenceClass.D_DECISION.value: "Policy",
    EvidenceClass.J_INTEGRITY.value: "Integrity",
    "evidence_capture_failures": "Failures",
}
_ROOT = QModelIndex()


#: A reason's mark by severity (``ui.qt.theme.MARK_COLORS``).
_SEVERITY_MARK = {Severity.FAIL: "severity_fail", Severity.WARN: "severity_warn", Severity.INFO: "severity_info"}


# -- cells ----------------------------------------------------------------------------------------


def _text(value: Any) -> str:
    """A stored value as one line of text: lists joined, JSON compact, booleans as yes/no."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _count(value: Any) -> str:
    return fmt_count(value) if isinstance(value, int) and not isinstance(value, bool) else _text(value)


def _field(name: str, header: str, chars: int = 12, *, numeric: bool = False, fmt: Callable[[Any], str] = _text,
           tip: str | None = None) -> Column:
    return Column(header, lambda row: fmt(row.get(name)), chars, numeric, tip or name)


def _fingerprint(value: Any) -> str:
    text = _text(value)
    return text[:12] + "…" if len(text) > 13 else text


def _time(value: Any) -> str:
    return fmt_timestamp(value) if isinstance(value, str) else _text(value)


def _ms(value: Any) -> str:
    return fmt_duration(value) if isinstance(value, int | float) and not isinstance(value, bool) else _text(value)


ACTIVITY_COLUMNS: list[Column] = [
    _field("step_index", "Step", 5, numeric=True, tip="step_index (upstream's ExecutionCursor: 1-based, counts "
                                                      "retries; not the trace's step index)"),
    _field("skill_id", "Skill", 18),
    _field("model_name", "Model", 14),
    _field("prompt_fingerprint", "Prompt fingerprint", 13, fmt=_fingerprint,
           tip="prompt_fingerprint: sha256 of the prompt (hover for all of it)"),
    _field("prompt_token_length", "Prompt tokens", 7, numeric=True, fmt=_count),
    _field("response_fingerprint", "Response fingerprint", 13, fmt=_fingerprint,
           tip="response_fingerprint: sha256 of the response (hover for all of it)"),
    _field("response_token_length", "Response tokens", 7, numeric=True, fmt=_count),
    _field("completion_type", "Completion", 9),
    Column("Template", lambda r: "@".join(x for x in (_text(r.get("prompt_template_id")),
                                                      _text(r.get("prompt_template_version"))) if x), 14,
           tip="prompt_template_id@prompt_template_version"),
    _field("sensitivity_class", "Sensitivity", 9),
    _field("redaction_status", "Redaction", 8),
    _field("evidence_source", "Source", 8),
    _field("provider_safety_flags", "Safety flags", 14),
    _field("id", "Id", 16),
]

PROVIDER_COLUMNS: list[Column] = [
    _field("step_index", "Step", 5, numeric=True, tip="step_index (1-based, counts retries)"),
    _field("provider_name", "Provider", 9),
    Column("Model", lambda r: " ".join(x for x in (_text(r.get("model_name")), _text(r.get("model_version"))) if x),
           16, tip="model_name model_version"),
    _field("input_tokens", "Tokens in", 7, numeric=True, fmt=_count),
    _field("output_tokens", "Tokens out", 7, numeric=True, fmt=_count),
    _field("total_tokens", "Total", 7, numeric=True, fmt=_count),
    _field("cache_read_tokens", "Cache read", 7, numeric=True, fmt=_count),
    _field("provider_latency_ms", "Latency", 8, numeric=True, fmt=_ms, tip="provider_latency_ms"),
    _field("provider_http_status", "HTTP", 4, numeric=True, tip="provider_http_status"),
    _field("provider_error_code", "Error", 10, tip="provider_error_code"),
    _field("provider_retry_count", "Retries", 5, numeric=True, tip="provider_retry_count"),
    _field("provider_request_id", "Request id", 16),
    _field("requested_at", "Requested", 19, fmt=_time),
    _field("id", "Id", 16),
]

DECISION_COLUMNS: list[Column] = [
    _field("evaluated_at", "Evaluated", 19, fmt=_time),
    _field("policy_type", "Type", 10, tip="policy_type"),
    Column("Rule", lambda r: " v".join(x for x in (_text(r.get("policy_rule_id")), _text(r.get("policy_version")))
                                        if x), 14, tip="policy_rule_id v policy_version"),
    _field("decision", "Decision", 10),
    _field("decision_reason", "Reason", 26, tip="decision_reason"),
    _field("policy_results", "Results", 7, tip="policy_results"),
    _field("decision_confidence", "Confidence", 6, numeric=True),
    _field("decision_reason_codes", "Reason codes", 14),
    _field("evaluated_by", "Evaluated by", 10),
    _field("id", "Id", 16),
]


def _failure_type(f: CaptureFailure) -> str:
    etype = f.evidence_type or "(none)"
    return etype if f.evidence_type == f.evidence_class.value else f"{etype} → read as {f.evidence_class.value}"


FAILURE_COLUMNS: list[Column] = [
    Column("Evidence type", _failure_type, 20, tip="evidence_type (upstream reads an unknown type as activity_evidence)"),
    Column("Failure reason", lambda f: _text(f.failure_reason), 14, tip="failure_reason"),
    Column("Upstream resolution", lambda f: f.resolution.value, 10,
           tip="What upstream's gatherer assigns: superseded when the class was recorded after all, else "
               "transient"),
    Column("Stored resolution", lambda f: _text(f.stored_resolution), 10,
           tip="The resolution column as stored; upstream's gatherer never reads it"),
    Column("Error message", lambda f: shorten(f.error_message or "", 300), 36, tip="error_message"),
    Column("Id", lambda f: _text(f.id), 18),
]


def _activity_styler(row: Any, column: str, role: int) -> Any:
    if role == Qt.ItemDataRole.ToolTipRole and column in ("Prompt fingerprint", "Response fingerprint"):
        return _text(row.get("prompt_fingerprint" if column.startswith("Prompt") else "response_fingerprint")) or None
    if role == Qt.ItemDataRole.ForegroundRole and column == "Completion" and row.get("completion_type") == "refused":
        return colours().warning
    return None


def _provider_styler(row: Any, column: str, role: int) -> Any:
    if role != Qt.ItemDataRole.ForegroundRole:
        return None
    status = row.get("provider_http_status")
    if column == "HTTP" and isinstance(status, int) and status >= 400:
        return colours().failure
    if column == "Error" and row.get("provider_error_code"):
        return colours().failure
    return None


def _decision_styler(row: Any, column: str, role: int) -> Any:
    if role == Qt.ItemDataRole.ToolTipRole and column == "Reason":
        return shorten(_text(row.get("decision_reason")), 2000) or None
    if role != Qt.ItemDataRole.ForegroundRole:
        return None
    if column == "Decision" and row.get("decision") == "DENIED":
        return colours().failure
    if column == "Decision" and row.get("decision") == "PENDING_APPROVAL":
        return colours().warning
    if column == "Results":
        results = row.get("policy_results")
        return colours().failure if results == "fail" else colours().warning if results == "warn" else None
    return None


def _failure_styler(f: CaptureFailure, column: str, role: int) -> Any:
    if role == Qt.ItemDataRole.ToolTipRole:
        if column == "Error message" and f.error_message:
            return shorten(f.error_message, 2000)
        if column == "Stored resolution" and f.stored_resolution and f.stored_resolution != f.resolution.value:
            return (f"Stored '{f.stored_resolution}', ignored: upstream never reads it and treats it as "
                    f"'{f.resolution.value}'")
    if role == Qt.ItemDataRole.ForegroundRole:
        if column == "Stored resolution" and f.stored_resolution and f.stored_resolution != f.resolution.value:
            return colours().warning
        if column == "Upstream resolution":
            return colours().muted if f.resolution.value == "superseded" else colours().warning
    return None


_TABLE_CARDS = {
    EvidenceClass.B_ACTIVITY: (ACTIVITY_COLUMNS, _activity_styler),
    EvidenceClass.G_PROVIDER: (PROVIDER_COLUMNS, _provider_styler),
    EvidenceClass.D_DECISION: (DECISION_COLUMNS, _decision_styler),
}


# -- the read (worker side) -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoadedEvidence:
    """What the panel shows of one run, computed on the worker."""

    evidence: RunEvidence
    result: IntegrityResult
    reasons: tuple[Reason, ...]
    differences: tuple[str, ...]
    has_failures_table: bool
    row_limit: int
    texts: dict[str, list[tuple[str, ...]]]


def load_run_evidence(reader: EvidenceReader, run_id: str) -> LoadedEvidence:
    """Read a run's evidence, work out its verdict and reasons, and format the cards' cells
    (worker side)."""
    graded = grade_run(reader, run_id)
    ev = graded.evidence
    texts = {cls.value: texts_for(_TABLE_CARDS[cls][0], ev.rows.get(cls, ())) for cls in _TABLE_CARDS}
    texts[FAILURES_TABLE] = texts_for(FAILURE_COLUMNS, ev.facts.failures)
    return LoadedEvidence(ev, graded.result, graded.reasons, graded.differences, FAILURES_TABLE in reader.tables,
                          reader.row_limit, texts)


def _absent_text(ev: RunEvidence, table: str) -> str:
    """What a card without its table says: absent, or there but unreadable (and why)."""
    why = ev.unusable.get(table)
    if why is None:
        return f"This database has no {table} table."
    return f"The {table} table cannot be read: {why}. It counts as empty, as upstream counts a table it cannot query."


# -- reasons --------------------------------------------------------------------------------------


@cache
def severity_icon(severity: Severity) -> QIcon:
    """A coloured mark per severity: a cross for fail, a triangle for warn, an "i" for info."""
    pm = QPixmap(16, 16)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    color = QColor(MARK_COLORS[_SEVERITY_MARK[severity]])
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(color)
    if severity is Severity.WARN:
        p.drawPolygon(QPolygonF([QPointF(8, 1.5), QPointF(15, 14.5), QPointF(1, 14.5)]))
        glyph, rect = "!", QRectF(0, 4, 16, 11)
    else:
        p.drawEllipse(QRectF(1, 1, 14, 14))
        glyph, rect = ("✕" if severity is Severity.FAIL else "i"), QRectF(0, 0, 16, 16)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(10)
    p.setFont(font)
    p.setPen(QColor(MARK_COLORS["glyph"]))
    p.drawText(rect, Qt.AlignmentFlag.AlignCenter, glyph)
    p.end()
    return QIcon(pm)


def _table_label(table: str) -> str:
    if table == FAILURES_TABLE:
        return "capture failure"
    cls = next((c for c in EvidenceClass if c.value == table), None)
    return f"{CLASS_LETTER[cls]} {CLASS_TITLE[cls].lower()}" if cls is not None else table


def refs_text(refs: Sequence[RowRef]) -> str:
    """What activating a reason shows: ``→ 2 capture failure rows``."""
    if not refs:
        return ""
    by_table: dict[str, int] = {}
    for r in refs:
        by_table[r.table] = by_table.get(r.table, 0) + 1
    parts = [f"{n} {_table_label(t)} row{'s' if n != 1 else ''}" for t, n in by_table.items()]
    return "→ show " + ", ".join(parts)


class ReasonsModel(QAbstractListModel):
    """The reasons behind a grade, most severe first; ``REASON_ROLE`` gives the :class:`Reason`."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._reasons: list[Reason] = []

    def set_reasons(self, found: Sequence[Reason]) -> None:
        self.beginResetModel()
        self._reasons = list(found)
        self.endResetModel()

    def reason_at(self, row: int) -> Reason | None:
        return self._reasons[row] if 0 <= row < len(self._reasons) else None

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _ROOT) -> int:
        return 0 if parent.isValid() else len(self._reasons)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        reason = self.reason_at(index.row()) if index.isValid() else None
        if reason is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return reason.message
        if role == REASON_ROLE:
            return reason
        if role == Qt.ItemDataRole.DecorationRole:
            return severity_icon(reason.severity)
        if role == Qt.ItemDataRole.ToolTipRole:
            tip = f"{reason.code} ({reason.severity.value})"
            if reason.refs:
                tip += "\nClick to select the rows it is about."
            return tip
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable if index.isValid() else Qt.ItemFlag.NoItemFlags


class ReasonDelegate(QStyledItemDelegate):
    """A reason as three wrapped lines: the message (bold unless info), what it means (grey) and
    the rows it links to (link colour)."""

    PAD = 5
    ICON = 22

    def __init__(self, view: QListView) -> None:
        super().__init__(view)
        self._view = view

    def _fonts(self, base: QFont) -> tuple[QFont, QFont]:
        bold = QFont(base)
        bold.setBold(True)
        small = QFont(base)
        if base.pointSizeF() > 0:
            small.setPointSizeF(base.pointSizeF() * 0.92)
        return bold, small

    def blocks(self, reason: Reason, base: QFont, palette: QPalette | None = None,
               selected: bool = False) -> list[tuple[str, QFont, QColor]]:
        """The lines of a reason: text, font, colour (the palette's Text, the muted and link roles;
        all in HighlightedText when selected)."""
        bold, small = self._fonts(base)
        first = bold if reason.severity is not Severity.INFO else base
        pal = palette if palette is not None else self._view.palette()
        c = colours()
        if selected:
            text = meaning = link_colour = pal.color(QPalette.ColorRole.HighlightedText)
        else:
            text, meaning, link_colour = pal.color(QPalette.ColorRole.Text), c.muted, c.link
        blocks = [(reason.message, first, text), (reason.meaning, small, meaning)]
        link = refs_text(reason.refs)
        if link:
            blocks.append((link, small, link_colour))
        return blocks

    def _text_width(self) -> int:
        return max(self._view.viewport().width() - self.ICON - 2 * self.PAD - 4, 80)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        reason = index.data(REASON_ROLE)
        if reason is None:
            return super().sizeHint(option, index)
        width = self._text_width()
        height = 2 * self.PAD
        for text, font, _color in self.blocks(reason, option.font):
            rect = QFontMetrics(font).boundingRect(QRect(0, 0, width, 100000), Qt.TextFlag.TextWordWrap, text)
            height += rect.height() + 2
        return QSize(width + self.ICON + 2 * self.PAD, height)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        reason = index.data(REASON_ROLE)
        if reason is None:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        opt.icon = QIcon()
        widget = opt.widget
        style = widget.style() if widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        painter.save()
        r = option.rect
        severity_icon(reason.severity).paint(painter, QRect(r.left() + self.PAD, r.top() + self.PAD + 1, 16, 16))
        left = r.left() + self.PAD + self.ICON
        width = r.right() - left - self.PAD
        y = r.top() + self.PAD
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        for text, font, color in self.blocks(reason, option.font, option.palette, selected):
            painter.setFont(font)
            painter.setPen(color)
            rect = QFontMetrics(font).boundingRect(QRect(0, 0, width, 100000), Qt.TextFlag.TextWordWrap, text)
            painter.drawText(QRect(left, y, width, rect.height()), int(Qt.TextFlag.TextWordWrap), text)
            y += rect.height() + 2
        painter.setPen(colours().separator)
        painter.drawLine(r.left() + self.PAD, r.bottom(), r.right() - self.PAD, r.bottom())
        painter.restore()


# -- cards ----------------------------------------------------------------------------------------


@cache
def letter_icon(letter: str, color: str) -> QIcon:
    """The class letter in a small rounded square (green: recorded, red/amber: missing)."""
    pm = QPixmap(18, 18)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(color))
    p.drawRoundedRect(QRectF(1, 1, 16, 16), 3, 3)
    font = QFont()
    font.setBold(True)
    font.setPixelSize(11)
    p.setFont(font)
    p.setPen(QColor(MARK_COLORS["glyph"]))
    p.drawText(QRectF(0, 0, 18, 18), Qt.AlignmentFlag.AlignCenter, letter)
    p.end()
    return QIcon(pm)


_BOOLEAN_FIELDS = frozenset({"telemetry_enabled", "metrics_enabled", "debug_mode", "dry_run",
                             "firewall_proxy_detected", "is_synthetic"})


def _form_value(name: str, value: Any) -> str:
    if name in _BOOLEAN_FIELDS and isinstance(value, int):
        return "yes" if value else "no"
    if name.endswith(("_at", "_timestamp")):
        return _time(value)
    return _text(value)


def _form_html(fields: Sequence[tuple[str, Any]], columns: int = 2) -> str:
    """Fields as a label/value form, split over ``columns`` side-by-side tables."""
    shown = [(k, v) for k, v in fields if k != "run_id"]
    per = -(-len(shown) // columns) if shown else 0
    muted_css = css("muted")
    tables = []
    for c in range(columns):
        rows = []
        for name, value in shown[c * per:(c + 1) * per]:
            text = _form_value(name, value)
            cell = f"<span style='color:{muted_css}'>—</span>" if text == "" else html.escape(shorten(text, 600))
            rows.append(f"<tr><td style='padding-right:10px;color:{muted_css}' valign='top'>{html.escape(name)}</td>"
                        f"<td valign='top'><b>{cell}</b></td></tr>")
        tables.append("<table cellspacing='1'>" + "".join(rows) + "</table>")
    return ("<table><tr>" + "<td width='24'></td>".join(f"<td valign='top'>{t}</td>" for t in tables)
            + "</tr></table>")


class EvidenceCard(QWidget):
    """One class of evidence (or the capture failures): a heading, a note, and a table or a form
    that gives way to a message when there is nothing to show."""

    def __init__(self, key: str, title: str, letter: str | None, *, columns: Sequence[Column] | None = None,
                 styler=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.key = key  # the table the card shows
        self.title = title
        self.letter = letter
        self.setObjectName(f"evidenceCard-{key}")
        self.heading = QLabel()
        self.heading.setObjectName("evidenceCardHeading")
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note = QLabel()
        self.note.setObjectName("evidenceCardNote")
        self.note.setWordWrap(True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note.hide()
        self.placeholder = placeholder_label()
        self.stack = QStackedWidget()
        self.model: RecordTableModel | None = None
        self.view: QTableView | None = None
        self.form: QLabel | None = None
        if columns is not None:
            self.model = RecordTableModel(columns, self, styler=styler)
            self.view = record_table_view(self.model, f"{key}View", extended=True)
            self.stack.addWidget(self.view)
        else:
            self.form = QLabel()
            self.form.setObjectName(f"{key}Form")
            self.form.setTextFormat(Qt.TextFormat.RichText)
            self.form.setWordWrap(True)
            self.form.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
            self.form.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.form.setContentsMargins(4, 2, 4, 2)
            scroll = QScrollArea()
            scroll.setWidgetResizable(True)
            scroll.setFrameShape(QFrame.Shape.NoFrame)
            scroll.setWidget(self.form)
            self.stack.addWidget(scroll)
            self._form_page = scroll
        self.stack.addWidget(self.placeholder)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(3)
        layout.addWidget(self.heading)
        layout.addWidget(self.note)
        layout.addWidget(self.stack, 1)
        self.count: int | None = None
        self.absent = False
        #: The table exists but cannot be read (an ``absent`` card that says so).
        self.unreadable = False
        self.rows: list[Any] = []

    def set_heading(self, count: int | None, extra: str = "") -> None:
        self.count = count
        letter = f"<b>{self.letter}</b> · " if self.letter else ""
        if self.absent:
            what = f"<span style='color:{css('muted')}'>table {'unreadable' if self.unreadable else 'absent'}</span>"
        elif count is None:
            what = ""
        else:
            what = f"{count:,} row{'s' if count != 1 else ''}"
        parts = [f"{letter}<b>{html.escape(self.title)}</b>", what,
                 f"<span style='color:{css('muted')}'>{html.escape(self.key)}</span>"]
        if extra:
            parts.append(extra)
        self.heading.setText(" — ".join(p for p in parts if p))

    def set_note(self, text: str | None, severity: str = "payload-info") -> None:
        self.note.setText(text or "")
        self.note.setVisible(bool(text))
        if text:
            set_severity(self.note, severity)

    def show_message(self, text: str) -> None:
        self.rows = []
        if self.model is not None:
            self.model.clear()
        if self.form is not None:
            self.form.clear()
        self.placeholder.setText(text)
        self.stack.setCurrentWidget(self.placeholder)

    def show_rows(self, rows: Sequence[Any], texts: Sequence[tuple[str, ...]] | None, empty_text: str) -> None:
        self.rows = list(rows)
        if not rows:
            self.show_message(empty_text)
            return
        if self.model is not None and self.view is not None:
            self.model.set_rows(rows, texts)
            self.stack.setCurrentWidget(self.view)
        elif self.form is not None:
            self.form.setText("".join(_form_html(r.fields) for r in rows[:1]))
            self.stack.setCurrentWidget(self._form_page)

    @property
    def showing_rows(self) -> bool:
        return self.stack.currentWidget() is not self.placeholder

    def select_rows(self, rows: Sequence[int]) -> None:
        """Select these rows (table cards) and scroll to the first."""
        if self.view is None or self.model is None:
            return
        selection = QItemSelection()
        last = self.model.columnCount() - 1
        for r in rows:
            selection.select(self.model.index(r, 0), self.model.index(r, last))
        sm = self.view.selectionModel()
        sm.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
        if rows:
            sm.setCurrentIndex(self.model.index(rows[0], 0), QItemSelectionModel.SelectionFlag.NoUpdate)
            self.view.scrollTo(self.model.index(rows[0], 0), QAbstractItemView.ScrollHint.PositionAtCenter)

    def selected_rows(self) -> list[int]:
        if self.view is None:
            return []
        return sorted(ix.row() for ix in self.view.selectionModel().selectedRows())


# -- the panel ------------------------------------------------------------------------------------


class EvidencePanel(QWidget):
    """A run's evidence and integrity. ``set_store`` tells it whether the source has an evidence
    store; ``show_run`` reads one run on the worker; ``loaded(run_id)`` fires when it is shown."""

    loaded = Signal(str)

    def __init__(self, session: SourceSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("evidencePanel")
        self._session = session
        #: The read of the run shown: a newer run drops it.
        self._read = session.scope("evidence")
        self._run_id: str | None = None
        self.store_state = "unknown"
        self._store_detail = ""
        self.current: LoadedEvidence | None = None

        # Header: badge, score and status; upstream's words; the six classes; the stored verdict.
        self.badge = QLabel("—")
        self.badge.setObjectName("gradeBadge")
        self.badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.badge.setFont(title_font(self.badge.font()))
        # Never squeezed below its widest grade (the badge read "WARN" cut in a narrow dock).
        self.badge.setMinimumWidth(max(self.badge.fontMetrics().horizontalAdvance(g.value)
                                       for g in IntegrityGrade) + 2 * 10 + 8)
        self.summary = QLabel()
        self.summary.setObjectName("evidenceSummary")
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.explanation = QLabel()
        self.explanation.setObjectName("evidenceExplanation")
        self.explanation.setWordWrap(True)
        self.explanation.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.classes_line = QLabel()
        self.classes_line.setObjectName("evidenceClasses")
        self.classes_line.setTextFormat(Qt.TextFormat.RichText)
        self.classes_line.setWordWrap(True)
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.badge, 0, Qt.AlignmentFlag.AlignTop)
        texts = QVBoxLayout()
        texts.setContentsMargins(6, 0, 0, 0)
        texts.setSpacing(2)
        texts.addWidget(self.summary)
        texts.addWidget(self.explanation)
        texts.addWidget(self.classes_line)
        top.addLayout(texts, 1)
        self.stored_banner = QLabel()
        self.stored_banner.setObjectName("storedVerdictBanner")
        self.stored_banner.setWordWrap(True)
        self.stored_banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.stored_banner.hide()

        self.reasons_title = QLabel("Reasons")
        self.reasons_title.setObjectName("reasonsTitle")
        font = self.reasons_title.font()
        font.setBold(True)
        self.reasons_title.setFont(font)
        self.reasons_model = ReasonsModel(self)
        self.reasons_view = QListView()
        self.reasons_view.setObjectName("reasonsView")
        self.reasons_view.setModel(self.reasons_model)
        self.reasons_view.setItemDelegate(ReasonDelegate(self.reasons_view))
        self.reasons_view.setWordWrap(True)
        self.reasons_view.setUniformItemSizes(False)
        self.reasons_view.setResizeMode(QListView.ResizeMode.Adjust)
        self.reasons_view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.reasons_view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.reasons_view.setMouseTracking(True)
        self.reasons_view.selectionModel().currentChanged.connect(self._reason_current)
        self.reasons_view.clicked.connect(self._reason_clicked)
        self.reasons_view.activated.connect(self._reason_clicked)
        #: Right-click, Ctrl+C (the message), Ctrl+Shift+C (the code).
        self.reasons_menu = ViewMenu(self.reasons_view, self._reason_entries)
        self.reveal_note = QLabel()
        self.reveal_note.setObjectName("revealNote")
        self.reveal_note.setWordWrap(True)
        muted(self.reveal_note)
        self.reveal_note.hide()

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(4, 4, 4, 4)
        ll.setSpacing(4)
        ll.addLayout(top)
        ll.addWidget(self.stored_banner)
        ll.addWidget(self.reasons_title)
        ll.addWidget(self.reasons_view, 1)
        ll.addWidget(self.reveal_note)

        # Cards: one per class, then the capture failures.
        self.cards: dict[str, EvidenceCard] = {}
        for cls in CARD_ORDER:
            columns, styler = _TABLE_CARDS.get(cls, (None, None))
            self.cards[cls.value] = EvidenceCard(cls.value, CLASS_TITLE[cls], CLASS_LETTER[cls], columns=columns,
                                                 styler=styler)
        self.cards[FAILURES_TABLE] = EvidenceCard(FAILURES_TABLE, "Capture failures", None, columns=FAILURE_COLUMNS,
                                                  styler=_failure_styler)
        self.card_tabs = QTabWidget()
        self.card_tabs.setObjectName("evidenceCards")
        self.card_tabs.setDocumentMode(True)
        self.card_tabs.setUsesScrollButtons(True)
        for card in self.cards.values():
            self.card_tabs.addTab(card, _TAB_TITLE[card.key])

        split = QSplitter(Qt.Orientation.Horizontal)
        split.setChildrenCollapsible(False)
        split.addWidget(left)
        split.addWidget(self.card_tabs)
        split.setStretchFactor(0, 4)
        split.setStretchFactor(1, 5)
        split.setSizes([560, 700])
        self.splitter = split

        # Whole-panel messages: no store, nothing selected, loading, failed.
        self.message_title = QLabel()
        self.message_title.setObjectName("evidenceMessageTitle")
        self.message_title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message_title.setWordWrap(True)
        self.message_title.setFont(title_font(self.message_title.font()))
        self.message_detail = QLabel()
        self.message_detail.setObjectName("evidenceMessageDetail")
        self.message_detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message_detail.setWordWrap(True)
        self.message_detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        muted(self.message_detail)
        message = QWidget()
        ml = QVBoxLayout(message)
        ml.addStretch(1)
        ml.addWidget(self.message_title)
        ml.addWidget(self.message_detail)
        ml.addStretch(2)
        self.message_page = message
        self.stack = QStackedWidget()
        self.stack.addWidget(split)
        self.stack.addWidget(message)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.stack)
        self.set_store("unknown")

    # -- state ------------------------------------------------------------------------------------

    @property
    def run_id(self) -> str | None:
        return self._run_id

    @property
    def pending(self) -> bool:
        return self._read.pending

    @property
    def showing_evidence(self) -> bool:
        return self.stack.currentWidget() is self.splitter

    @property
    def message(self) -> str:
        """The whole-panel message shown (while a run loads over another's evidence: the loading
        line; empty when evidence is shown)."""
        if self.showing_evidence:
            return self.summary.text().replace("<b>", "").replace("</b>", "") if self.pending else ""
        detail = self.message_detail.text()
        return self.message_title.text() + (f"\n{detail}" if detail else "")

    def _show_message(self, title: str, detail: str = "") -> None:
        self.message_title.setText(title)
        self.message_detail.setText(detail)
        self.message_detail.setVisible(bool(detail))
        self.stack.setCurrentWidget(self.message_page)

    def _drop_pending(self) -> None:
        self.splitter.setEnabled(True)
        self._read.renew()

    def set_store(self, state: str, detail: str = "") -> None:
        """``unknown`` (still looking), ``none`` (no evidence store), ``store``, or ``error``
        (looking for the tables failed: ``detail`` says why)."""
        self.store_state = state
        self._store_detail = detail
        self.clear()

    def clear(self) -> None:
        """Show no run (a read on its way is dropped)."""
        self._drop_pending()
        self._run_id = None
        self.current = None
        if self.store_state == "none":
            self._show_message(NO_STORE_TEXT, _NO_STORE_DETAIL)
        elif self.store_state == "unknown":
            self._show_message("Looking for the evidence tables…")
        elif self.store_state == "error":
            self._show_message("Could not look for the evidence tables", self._store_detail)
        else:
            self._show_message("Select a run to see its evidence and integrity grade.")

    # -- loading ----------------------------------------------------------------------------------

    def show_run(self, run_id: str) -> None:
        """Read the run's evidence on the worker (a read for the run shown before is dropped)."""
        if self.store_state != "store":
            self.clear()
            self._run_id = run_id
            return
        reader = self._session.evidence
        if reader is None:
            return
        self._drop_pending()
        self._run_id = run_id
        if self.showing_evidence:
            # Arrowing through runs: the last run's evidence stays, greyed, instead of blinking.
            self.summary.setText(f"<b>Loading the evidence of run {html.escape(run_id)}…</b>")
            self.splitter.setEnabled(False)
        else:
            self._show_message(f"Loading the evidence of run {run_id}…")
        doing = f"read the evidence of run {run_id}"

        def done(loaded: LoadedEvidence) -> None:
            self._apply(loaded)
            self.loaded.emit(run_id)

        def failed(exc: BaseException) -> None:
            self.splitter.setEnabled(True)
            why = str(exc) if isinstance(exc, InspectorError) else f"internal error ({type(exc).__name__}: {exc})"
            self._show_message(f"Could not read the evidence of run {run_id}", why)
            self._session.report(exc, doing)
            self.loaded.emit(run_id)

        self._read.submit(lambda: load_run_evidence(reader, run_id), done, failed, worker=Worker.EVIDENCE,
                          label="Reading the run's evidence")

    # -- showing ----------------------------------------------------------------------------------

    def _apply(self, loaded: LoadedEvidence) -> None:
        self.current = loaded
        ev, result = loaded.evidence, loaded.result
        grade = result.grade
        self.badge.setText(grade.value)
        self.badge.setStyleSheet(badge_style(grade))
        observed = len(result.facts.observed)
        self.summary.setText(
            untrusted_mark(self._session.source, rich=True) +
            f"<b>Run {html.escape(ev.run_id)}</b> · score <b>{observed}/{len(EXPECTED_TABLES)}</b> "
            f"({result.score:.3f})"
            f" · legacy status <b>{html.escape(result.status)}</b>")
        self.explanation.setText(f"Upstream: “{result.explanation}”")
        self.classes_line.setText(self._classes_html(ev))
        self._show_stored(loaded)
        self.reasons_model.set_reasons(loaded.reasons)
        n = len(loaded.reasons)
        self.reasons_title.setText(f"Reasons ({n})" if n else "Reasons — none: every class recorded, no failure")
        self.reveal_note.hide()
        self._fill_cards(loaded)
        self.splitter.setEnabled(True)
        self.stack.setCurrentWidget(self.splitter)

    @staticmethod
    def _classes_html(ev: RunEvidence) -> str:
        short = {EvidenceClass.TRACE: "trace", EvidenceClass.TRACE_STEPS: "steps", EvidenceClass.D_DECISION: "D policy"}
        parts = []
        for cls in EXPECTED_TABLES:
            n = int(ev.facts.counts.get(cls, 0))
            name = short.get(cls) or f"{CLASS_LETTER[cls]} {CLASS_TITLE[cls].lower()}"
            if n > 0:
                mark = f"<span style='color:{css('success')}'>✓</span>"
            elif cls in REQUIRED_EVIDENCE:
                mark = f"<span style='color:{css('failure')}'>✗</span>"
            else:
                mark = f"<span style='color:{css('warning')}'>✗</span>"
            parts.append(f"{mark} {html.escape(name)} <span style='color:{css('muted')}'>{n:,}</span>")
        return " · ".join(parts)

    def _show_stored(self, loaded: LoadedEvidence) -> None:
        stored, result = loaded.evidence.stored, loaded.result
        if stored is None:
            self.stored_banner.hide()  # a reason says so (NO_INTEGRITY_RECORD) when the table exists
            return
        score = "—" if stored.integrity_score is None else f"{stored.integrity_score:.3f}".rstrip("0").rstrip(".")
        when = f" on {fmt_timestamp(stored.verification_timestamp)}" if stored.verification_timestamp else ""
        if loaded.differences:
            now = f"{result.score:.3f}".rstrip("0").rstrip(".")
            # Grade and score are said in the sentence; the other differences follow it.
            rest = [d for d in loaded.differences if not d.startswith(("grade ", "score "))]
            self.stored_banner.setText(
                f"⚠ Upstream stored {stored.integrity_status or '—'} "
                f"({stored.grade.value if stored.grade else 'no grade'}, score {score}){when}; computed now: "
                f"{result.status} ({result.grade.value}, score {now})."
                + (f" {'; '.join(rest)[:1].upper()}{'; '.join(rest)[1:]}." if rest else "")
                + " Evidence changed after the seal, or was not yet visible to it (upstream seals on a separate "
                  "connection): the grade shown is computed now.")
            set_severity(self.stored_banner, "payload-warning")
        else:
            self.stored_banner.setText(f"Upstream's stored verdict agrees: {stored.integrity_status} "
                                       f"(score {score}){when}.")
            set_severity(self.stored_banner, "payload-info")
        self.stored_banner.show()

    def _fill_cards(self, loaded: LoadedEvidence) -> None:
        ev = loaded.evidence
        for cls in CARD_ORDER:
            card = self.cards[cls.value]
            card.absent = cls not in ev.tables
            card.unreadable = cls.value in ev.unusable
            rows = ev.rows.get(cls, ())
            count = ev.count(cls)
            card.set_note(None)
            if card.absent:
                card.set_heading(None)
                card.show_message(_absent_text(ev, cls.value))
            else:
                extra = ""
                if cls in ev.truncated:
                    card.set_note(f"Showing the first {len(rows):,} of {count:,} rows (the reader's limit of "
                                  f"{loaded.row_limit:,} rows per class).", "payload-warning")
                alignment = next((a for a in ev.alignment if a.cls is cls), None)
                if alignment is not None and alignment.evidence_count:
                    trace = (f"trace steps {alignment.trace_min}–{alignment.trace_max}" if alignment.trace_count
                             else "no trace steps")
                    extra = (f"<span style='color:{css('muted')}'>step indexes {alignment.evidence_min}–"
                             f"{alignment.evidence_max} ({html.escape(trace)})</span>")
                card.set_heading(count, extra)
                card.show_rows(rows, loaded.texts.get(cls.value), f"No {CLASS_TITLE[cls].lower()} evidence was "
                                                                   "recorded for this run.")
                if cls is EvidenceClass.H_ENVIRONMENT and len(rows) > 1:
                    card.set_note(f"{len(rows)} environment rows (upstream keeps one per run): the first is shown.",
                                  "payload-warning")
            self._set_tab(card, cls)
        failures = self.cards[FAILURES_TABLE]
        failures.absent = not loaded.has_failures_table
        failures.unreadable = FAILURES_TABLE in ev.unusable
        failures.set_note(None)
        if failures.absent:
            failures.set_heading(None)
            failures.show_message(_absent_text(ev, FAILURES_TABLE))
        else:
            items = ev.facts.failures
            failures.set_heading(len(items))
            failures.show_rows(items, loaded.texts.get(FAILURES_TABLE), "No capture failure was recorded for this run.")
            ignored = sum(1 for f in items if resolution_overridden(f))
            if ignored:
                failures.set_note(f"{ignored} stored resolution{'s' if ignored != 1 else ''} ignored: upstream's "
                                  "gatherer never reads the column and assigns superseded or transient.",
                                  "payload-warning")
        self._set_tab(failures, None)

    def _set_tab(self, card: EvidenceCard, cls: EvidenceClass | None) -> None:
        i = self.card_tabs.indexOf(card)
        count = card.count
        title = _TAB_TITLE[card.key]
        if card.absent:
            text = f"{title} (table {'unreadable' if card.unreadable else 'absent'})"
        else:
            text = f"{title} ({count:,})" if count is not None else title
        self.card_tabs.setTabText(i, text)
        self.card_tabs.setTabToolTip(i, f"{card.letter + ' · ' if card.letter else ''}{card.title}: {card.key}")
        if cls is None:
            mark = "severity_warn" if count else "evidence_absent"
            self.card_tabs.setTabIcon(i, letter_icon("!", MARK_COLORS[mark]))
            return
        if card.absent:
            mark = "evidence_absent"
        elif count:
            mark = "evidence_present"
        elif cls in REQUIRED_EVIDENCE:
            mark = "severity_fail"
        elif cls is EvidenceClass.J_INTEGRITY:
            mark = "evidence_absent"
        else:
            mark = "severity_warn"
        self.card_tabs.setTabIcon(i, letter_icon(CLASS_LETTER[cls], MARK_COLORS[mark]))

    # -- reasons → rows ---------------------------------------------------------------------------

    def _reason_current(self, current: QModelIndex, _previous: QModelIndex | None = None) -> None:
        if current.isValid():
            self.reveal(current.row())

    def _reason_entries(self, index: QModelIndex) -> list[Entry]:
        reason = self.reasons_model.reason_at(index.row()) if index.isValid() else None
        if reason is None:
            return []
        row = index.row()
        return [*reason_items(reason), None,
                Item("Show Rows", lambda: self.reveal(row), enabled=bool(reason.refs), name="show_rows",
                     tip="Select the rows it names in the cards (Enter)" if reason.refs
                     else "This reason names no rows")]

    def _reason_clicked(self, index: QModelIndex) -> None:
        if index.isValid():
            self.reveal(index.row())

    def reveal(self, row: int) -> list[tuple[str, list[int]]]:
        """Show the rows reason ``row`` is about: switch to their card and select them. Returns
        (table, rows selected) per table it names."""
        reason = self.reasons_model.reason_at(row)
        if reason is None or not reason.refs:
            self.reveal_note.hide()
            return []
        by_table: dict[str, list[RowRef]] = {}
        for ref in reason.refs:
            by_table.setdefault(ref.table, []).append(ref)
        shown: list[tuple[str, list[int]]] = []
        missing = 0
        first_card: EvidenceCard | None = None
        for table, refs in by_table.items():
            card = self.cards.get(table)
            if card is None:
                missing += len(refs)
                continue
            rows = self._rows_of(card, refs)
            missing += len(refs) - len({id(r) for r in refs if self._matches_any(card, r)})
            if card.view is not None:
                card.select_rows(rows)
            first_card = first_card or card
            shown.append((table, rows))
        if first_card is not None:
            self.card_tabs.setCurrentWidget(first_card)
        if missing:
            self.reveal_note.setText(f"{missing} of the rows this reason names {'is' if missing == 1 else 'are'} not "
                                     "among the rows shown (cut at the reader's limit, or deleted since).")
            self.reveal_note.show()
        else:
            self.reveal_note.hide()
        return shown

    @staticmethod
    def _ref_matches(card: EvidenceCard, item: Any, ref: RowRef) -> bool:
        if ref.row_id is not None:
            return getattr(item, "id", None) == ref.row_id
        if ref.step_index is not None:
            return getattr(item, "step_index", None) == ref.step_index
        return True  # a ref to the table as a whole (the integrity record)

    def _matches_any(self, card: EvidenceCard, ref: RowRef) -> bool:
        return any(self._ref_matches(card, item, ref) for item in card.rows)

    def _rows_of(self, card: EvidenceCard, refs: Sequence[RowRef]) -> list[int]:
        return [i for i, item in enumerate(card.rows) if any(self._ref_matches(card, item, ref) for ref in refs)]
