"""Table models of the logs panels: the columns and colours of each logs table (audit events,
policy activations, LLM and system records, exports, the replay window, mismatches), the
tenant-wide audit ledger read page by page with a keyset cursor as the view scrolls, and the
before/after diff of one ledger event."""

from __future__ import annotations

import json
from functools import cache, lru_cache
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QIcon, QPainter, QPen, QPixmap

from inspector.logs import (
    AuditEvent,
    LedgerFilter,
    LedgerPage,
    LlmRunRecord,
    LogExport,
    Mismatch,
    PolicyActivation,
    SystemRecord,
    WindowEntry,
)
from inspector.model import MISSING
from ui.format import fmt_cost, fmt_count, fmt_timestamp, shorten
from ui.qt.models.records import Column, RecordTableModel, texts_for
from ui.qt.session.session import Scope, SourceSession, Worker
from ui.qt.theme import MARK_COLORS, colours

__all__ = [
    "AUDIT_COLUMNS",
    "DIFF_COLUMNS",
    "EXPORT_COLUMNS",
    "LEDGER_COLUMNS",
    "LEDGER_PAGE_SIZE",
    "LLM_COLUMNS",
    "MISMATCH_COLUMNS",
    "PENDING_STATUS_NOTE",
    "POLICY_COLUMNS",
    "SOURCE_COLORS",
    "SYSTEM_COLUMNS",
    "WINDOW_COLUMNS",
    "LedgerModel",
    "StateDiffModel",
    "audit_styler",
    "diff_styler",
    "export_styler",
    "fmt_time_ms",
    "llm_styler",
    "mismatch_styler",
    "source_icon",
    "system_styler",
    "window_styler",
]

LEDGER_PAGE_SIZE = 200
_Index = QModelIndex | QPersistentModelIndex
_ROOT = QModelIndex()
_TOOLTIP = Qt.ItemDataRole.ToolTipRole

#: Upstream's ``log_exports`` rejects every UPDATE (§3.4, §11.17).
PENDING_STATUS_NOTE = ("log_exports is immutable upstream (trigger log_exports_immutable): "
                       "status can never leave 'pending' and checksum is never computed.")


# -- formatting -----------------------------------------------------------------------------------


def fmt_time_ms(text: str | None) -> str:
    """A timestamp to the millisecond: the replay window is ±30 s, seconds are too coarse."""
    return fmt_timestamp(text, millis=True)


def _s(value: Any) -> str:
    return "" if value is None else str(value)


def _one_line(value: str | None, limit: int = 240) -> str:
    return shorten(value, limit) if value else ""


def _actor(e: AuditEvent) -> str:
    return f"{e.actor_type} · {e.actor_id}" if e.actor_id else e.actor_type


def _json_cell(value: Any, *, present: bool = True) -> str:
    if not present:
        return "—"
    try:
        return shorten(json.dumps(value, ensure_ascii=False, sort_keys=True), 300)
    except (TypeError, ValueError):
        return shorten(repr(value), 300)


def _confidence(p: PolicyActivation) -> str:
    c = p.confidence_at_activation
    return "" if c is None else f"{c:.3f}"


def _yes(value: bool | None) -> str:
    return "" if value is None else ("yes" if value else "no")


# -- columns ----------------------------------------------------------------------------------------

AUDIT_COLUMNS: list[Column] = [
    Column("Time", lambda e: fmt_timestamp(e.created_at), 19),
    Column("Actor", _actor, 20, tip="actor_type · actor_id"),
    Column("Event", lambda e: e.event_type, 24),
    Column("Entity", lambda e: f"{e.entity_type}:{e.entity_id}", 30, tip="entity_type:entity_id"),
    Column("Reason", lambda e: _one_line(e.action_reason), 40, tip="action_reason"),
]

#: The tenant-wide ledger: the audit columns with the tenant.
LEDGER_COLUMNS: list[Column] = [AUDIT_COLUMNS[0], Column("Tenant", lambda e: e.tenant_id, 12), *AUDIT_COLUMNS[1:]]

POLICY_COLUMNS: list[Column] = [
    Column("Activated", lambda p: fmt_timestamp(p.activated_at), 19),
    Column("Policy", lambda p: p.policy_id, 22),
    Column("Confidence", _confidence, 10, numeric=True, tip="confidence_at_activation"),
    Column("Version", lambda p: _s(p.confidence_version), 10, tip="confidence_version"),
    Column("Approval path", lambda p: _s(p.approval_path), 16),
    Column("Loop trace", lambda p: _s(p.loop_trace_id), 24, tip="loop_trace_id: the link to the run"),
    Column("Pattern", lambda p: _s(p.source_pattern_id), 16, tip="source_pattern_id"),
    Column("Recovery", lambda p: _s(p.source_recovery_id), 16, tip="source_recovery_id"),
    Column("Tenant", lambda p: _s(p.tenant_id), 12),
]

LLM_COLUMNS: list[Column] = [
    Column("Provider", lambda r: r.provider, 9),
    Column("Model", lambda r: r.model, 15),
    Column("Status", lambda r: r.execution_status, 10, tip="execution_status"),
    Column("Tokens in", lambda r: fmt_count(r.input_tokens), 8, numeric=True, tip="input_tokens"),
    Column("Tokens out", lambda r: fmt_count(r.output_tokens), 8, numeric=True, tip="output_tokens"),
    Column("Cost", lambda r: fmt_cost(r.cost_cents), 7, numeric=True, tip="cost_cents (integer cents)"),
    Column("Prompt hash", lambda r: _s(r.prompt_hash), 16),
    Column("Response hash", lambda r: _s(r.response_hash), 16),
    Column("Started", lambda r: fmt_timestamp(r.started_at), 19),
    Column("Completed", lambda r: fmt_timestamp(r.completed_at), 19),
    Column("Source", lambda r: r.source + (" (synthetic)" if r.is_synthetic else ""), 8),
    Column("Record id", lambda r: r.id, 8),
]

SYSTEM_COLUMNS: list[Column] = [
    Column("Time", lambda r: fmt_timestamp(r.created_at), 19),
    Column("Severity", lambda r: r.severity, 8),
    Column("Component", lambda r: r.component, 10),
    Column("Event", lambda r: r.event_type, 14),
    Column("Tenant", lambda r: r.tenant_id or "system-wide", 12),
    Column("Summary", lambda r: _one_line(r.summary), 40),
    Column("Caused by", lambda r: _s(r.caused_by), 10),
    Column("Correlation", lambda r: _s(r.correlation_id), 16, tip="correlation_id"),
]

EXPORT_COLUMNS: list[Column] = [
    Column("Created", lambda x: fmt_timestamp(x.created_at), 19),
    Column("Scope", lambda x: x.scope, 10),
    Column("Format", lambda x: x.format, 6),
    Column("Status", lambda x: x.status, 9, tip=PENDING_STATUS_NOTE),
    Column("Requested by", lambda x: x.requested_by, 16),
    Column("Origin", lambda x: x.origin, 8),
    Column("Run", lambda x: _s(x.run_id), 18, tip="run_id"),
    Column("Checksum", lambda x: _s(x.checksum), 14),
    Column("Delivered", lambda x: fmt_timestamp(x.delivered_at), 19, tip="delivered_at"),
    Column("Component", lambda x: x.source_component, 16, tip="source_component"),
]

WINDOW_COLUMNS: list[Column] = [
    Column("Time", lambda w: fmt_time_ms(w.timestamp), 23),
    Column("Source", lambda w: w.source, 8),
    Column("Action", lambda w: _s(w.action), 24),
    Column("Outcome", lambda w: _s(w.outcome), 14),
    Column("Ref", lambda w: f"step {w.ref}" if w.source == "llm" else w.ref, 30,
           tip="the step index, the system record id or the ledger event id"),
]

MISMATCH_COLUMNS: list[Column] = [
    Column("Created", lambda m: fmt_timestamp(m.created_at), 19),
    Column("State", lambda m: m.state, 8, tip="resolved → resolved, otherwise open (the API's mapping)"),
    Column("Reason", lambda m: m.reason, 16),
    Column("Step", lambda m: _s(m.step_index), 5, numeric=True, tip="step_index"),
    Column("Expected hash", lambda m: _s(m.expected_hash), 18),
    Column("Actual hash", lambda m: _s(m.actual_hash), 18),
    Column("Reported by", lambda m: _s(m.reported_by), 14),
    Column("Resolved", lambda m: " ".join(x for x in (fmt_timestamp(m.resolved_at), _s(m.resolved_by)) if x), 22,
           tip="resolved_at, resolved_by"),
    Column("Issue", lambda m: _s(m.issue_url), 20, tip="issue_url"),
]

#: Rows are :class:`inspector.ledger.StateChange` (``before``/``after`` are ``MISSING`` where absent).
DIFF_COLUMNS: list[Column] = [
    Column("JSON pointer", lambda c: c.pointer or "(whole document)", 24, tip="RFC 6901 pointer into the state"),
    Column("Change", lambda c: c.op, 8),
    Column("Before", lambda c: _json_cell(c.before, present=c.before is not MISSING), 30),
    Column("After", lambda c: _json_cell(c.after, present=c.after is not MISSING), 30),
]


# -- colours and icons -------------------------------------------------------------------------------

#: Replay-window sources (§3.5): a step of the trace, a system record, a policy/limit ledger row;
#: each with its mark (``ui.qt.theme.MARK_COLORS``) and text role (``ui.qt.theme.ROLES``), both
#: named ``source_<source>``.
SOURCE_COLORS = {"llm": "source_llm", "system": "source_system", "policy": "source_policy"}
_SOURCE_SHAPES = {"llm": "circle", "system": "square", "policy": "diamond"}
_SEVERITY_FOREGROUND = {"CRITICAL": "failure", "WARN": "warning"}
_CHANGE_BACKGROUND = {"added": "success_bg", "removed": "error_bg", "changed": "warning_bg"}


@cache
def source_icon(source: str) -> QIcon:
    """A small coloured mark per replay-window source, so the three interleave readably."""
    pm = QPixmap(14, 14)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    color = QColor(MARK_COLORS[SOURCE_COLORS.get(source, "source_other")])
    p.setPen(QPen(color.darker(130), 1))
    p.setBrush(color)
    shape = _SOURCE_SHAPES.get(source, "circle")
    if shape == "square":
        p.drawRect(QRectF(3, 3, 8, 8))
    elif shape == "diamond":
        p.save()
        p.translate(7, 7)
        p.rotate(45)
        p.drawRect(QRectF(-3.5, -3.5, 7, 7))
        p.restore()
    else:
        p.drawEllipse(QRectF(2.5, 2.5, 9, 9))
    p.end()
    return QIcon(pm)


@lru_cache(maxsize=1)
def _bold() -> QFont:
    font = QFont()
    font.setBold(True)
    return font


def audit_styler(e: AuditEvent, column: str, role: int) -> Any:
    if role == _TOOLTIP:
        if column == "Reason" and e.action_reason:
            return shorten(e.action_reason, 2000)
        if column == "Time":
            return e.created_at
        if column == "Entity" and e.correlation_id:
            return f"correlation_id {e.correlation_id}"
    return None


def system_styler(r: SystemRecord, column: str, role: int) -> Any:
    if role == Qt.ItemDataRole.ForegroundRole and column == "Severity":
        role_name = _SEVERITY_FOREGROUND.get(r.severity)
        return None if role_name is None else getattr(colours(), role_name)
    if role == _TOOLTIP:
        if column == "Summary":
            return shorten(r.summary, 2000)
        if column == "Tenant" and r.tenant_id is None:
            return "tenant_id is NULL: a system-wide record, shown to every tenant"
    return None


def export_styler(x: LogExport, column: str, role: int) -> Any:
    if column == "Status":
        if role == _TOOLTIP:
            return PENDING_STATUS_NOTE
        if role == Qt.ItemDataRole.ForegroundRole and x.status == "pending":
            return colours().warning
    return None


def window_styler(w: WindowEntry, column: str, role: int) -> Any:
    if column == "Source":
        if role == Qt.ItemDataRole.DecorationRole:
            return source_icon(w.source)
        if role == Qt.ItemDataRole.ForegroundRole:
            role_name = SOURCE_COLORS.get(w.source)
            return None if role_name is None else getattr(colours(), role_name)
    if role == _TOOLTIP and column == "Time":
        return w.timestamp
    return None


def mismatch_styler(m: Mismatch, column: str, role: int) -> Any:
    if m.resolved:
        return None
    if role == Qt.ItemDataRole.BackgroundRole:
        return colours().error_bg
    if column == "State" and role == Qt.ItemDataRole.ForegroundRole:
        return colours().failure
    if column == "State" and role == Qt.ItemDataRole.FontRole:
        return _bold()
    return None


def llm_styler(r: LlmRunRecord, column: str, role: int) -> Any:
    if column == "Status" and role == Qt.ItemDataRole.ForegroundRole and r.execution_status != "SUCCEEDED":
        return colours().failure
    return None


def diff_styler(change: Any, column: str, role: int) -> Any:
    if role == Qt.ItemDataRole.BackgroundRole and column == "Change":
        role_name = _CHANGE_BACKGROUND.get(change.op)
        return None if role_name is None else getattr(colours(), role_name)
    if role == _TOOLTIP and column in ("Before", "After"):
        value = change.before if column == "Before" else change.after
        if value is MISSING:
            return "absent on this side"
        return shorten(json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=repr), 2000)
    return None


class LedgerModel(RecordTableModel):
    """The tenant-wide audit ledger, newest first, read ``LEDGER_PAGE_SIZE`` rows at a time with a
    keyset cursor when the view asks (``canFetchMore``/``fetchMore``): never everything, never on
    the GUI thread. A new filter drops what was read and starts again; a page read for an older
    filter is thrown away when it arrives."""

    #: (rows loaded, more may follow)
    counts_changed = Signal(int, bool)
    loading_changed = Signal(bool)

    def __init__(self, session: SourceSession, parent=None, *, page_size: int = LEDGER_PAGE_SIZE) -> None:
        super().__init__(LEDGER_COLUMNS, parent, styler=audit_styler)
        self._session = session
        self._pages: Scope = session.scope("ledger")
        self.page_size = page_size
        self._filter = LedgerFilter()
        self._cursor: tuple[str, str] | None = None
        self._exhausted = True
        self._pending = False
        self.pages_read = 0
        #: Why reading stopped early (the last read failed), until the next reload.
        self.error: BaseException | None = None

    @property
    def ledger_filter(self) -> LedgerFilter:
        return self._filter

    @property
    def loading(self) -> bool:
        return self._pending

    @property
    def exhausted(self) -> bool:
        return self._exhausted

    def set_filter(self, flt: LedgerFilter) -> None:
        if flt != self._filter:
            self._filter = flt
            self.reload()

    def reload(self) -> None:
        """Drop every row read and read the first page again (new filter, new source, refresh)."""
        self._pages.renew()
        self.beginResetModel()
        self._records, self._texts = [], []
        self._cursor = None
        logs = self._session.logs
        self._exhausted = logs is None or "audit" not in logs.logs_capabilities
        self.pages_read = 0
        self.error = None
        self.endResetModel()
        self._set_pending(False)
        self.counts_changed.emit(0, not self._exhausted)
        if not self._exhausted:
            self.fetchMore(QModelIndex())

    def canFetchMore(self, parent: _Index = _ROOT) -> bool:
        return not parent.isValid() and not self._exhausted

    def fetchMore(self, parent: _Index = _ROOT) -> None:
        if parent.isValid() or self._exhausted or self._pending:
            return
        logs = self._session.logs
        if logs is None:
            return
        flt, cursor, limit = self._filter, self._cursor, self.page_size

        def read() -> tuple[LedgerPage, list[tuple[str, ...]]]:
            page = logs.list_ledger(flt, cursor, limit)
            return page, texts_for(LEDGER_COLUMNS, page.events)

        def done(result: tuple[LedgerPage, list[tuple[str, ...]]]) -> None:
            page, texts = result
            self._set_pending(False)
            self.pages_read += 1
            self._cursor = page.cursor
            self._exhausted = page.cursor is None
            if page.events:
                first = len(self._records)
                self.beginInsertRows(QModelIndex(), first, first + len(page.events) - 1)
                self._records.extend(page.events)
                self._texts.extend(texts)
                self.endInsertRows()
            self.counts_changed.emit(len(self._records), not self._exhausted)

        def failed(exc: BaseException) -> None:
            self._set_pending(False)
            # Stop asking: a view at the bottom would otherwise retry (and fail) on every layout.
            self._exhausted = True
            self.error = exc
            self.counts_changed.emit(len(self._records), False)
            self._session.report(exc, "read the audit ledger")

        self._set_pending(True)
        if self._pages.submit(read, done, failed, worker=Worker.LOGS, label="Reading the audit ledger") is None:
            self._set_pending(False)  # the source is gone

    def _set_pending(self, pending: bool) -> None:
        if pending != self._pending:
            self._pending = pending
            self.loading_changed.emit(pending)


class StateDiffModel(RecordTableModel):
    """The changes between an event's ``before_state`` and ``after_state``, one JSON pointer a row."""

    def __init__(self, parent=None) -> None:
        super().__init__(DIFF_COLUMNS, parent, styler=diff_styler)


