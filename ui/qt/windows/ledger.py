"""The tenant-wide audit ledger window (spec §3.1): filters, a table that reads more rows as it is
scrolled (keyset pages on the session's logs worker, so a million rows cost what is on screen),
and the before/after diff of the selected event."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QItemSelection, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from inspector.errors import InspectorError
from inspector.logs import LedgerFilter, LogsSource
from inspector.model import normalise_time_bound
from ui.qt.geometry import secondary_window
from ui.qt.models.logs import LedgerModel
from ui.qt.models.records import RECORD_ROLE, record_table_view
from ui.qt.panels.logs import NO_LOGS_TEXT, AuditEventView
from ui.qt.session.session import SourceSession, Worker
from ui.qt.theme import muted, placeholder_label, set_invalid, title_font

__all__ = ["LedgerWindow"]

_ANY = "(any)"


class _LedgerFilterBar(QWidget):
    """Tenant, event type, entity type, actor, and a time range: emits a ``LedgerFilter``."""

    changed = Signal(object)
    invalid = Signal(object)  # the UsageError

    FIELDS = ("tenant_id", "event_type", "entity_type", "actor")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.combos: dict[str, QComboBox] = {}
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        for field, label in zip(self.FIELDS, ("Tenant", "Event", "Entity", "Actor")):
            combo = QComboBox()
            combo.setObjectName(f"ledger-{field}")
            combo.setMinimumContentsLength(12)
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.addItem(_ANY)
            combo.currentIndexChanged.connect(self._emit)
            self.combos[field] = combo
            layout.addWidget(QLabel(label))
            layout.addWidget(combo)
        self.combos["actor"].setToolTip("Matches actor_id or actor_type")
        self.since = QLineEdit()
        self.since.setObjectName("ledgerSince")
        self.since.setPlaceholderText("since (e.g. 2026-10-01)")
        self.until = QLineEdit()
        self.until.setObjectName("ledgerUntil")
        self.until.setPlaceholderText("until")
        for edit in (self.since, self.until):
            edit.setClearButtonEnabled(True)
            edit.setMinimumWidth(edit.fontMetrics().horizontalAdvance("since (e.g. 2026-10-01)") + 40)
            edit.editingFinished.connect(self._emit)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Show every event")
        self.clear_button.clicked.connect(self.clear)
        layout.addWidget(QLabel("Created"))
        layout.addWidget(self.since)
        layout.addWidget(QLabel("–"))
        layout.addWidget(self.until)
        layout.addStretch(1)
        layout.addWidget(self.clear_button)
        self._last = LedgerFilter()

    def set_choices(self, field: str, values: Sequence[str]) -> None:
        combo = self.combos[field]
        current = combo.currentText()
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(_ANY)
        combo.addItems([v for v in values if v])
        combo.setCurrentIndex(max(combo.findText(current), 0))
        combo.blockSignals(False)

    def current(self) -> LedgerFilter:
        """The filter as typed; raises UsageError for a malformed date."""

        def pick(field: str) -> str | None:
            combo = self.combos[field]
            return None if combo.currentIndex() <= 0 else combo.currentText()

        since = normalise_time_bound(self.since.text()) if self.since.text().strip() else None
        until = normalise_time_bound(self.until.text(), end=True) if self.until.text().strip() else None
        return LedgerFilter(tenant_id=pick("tenant_id"), event_type=pick("event_type"),
                            entity_type=pick("entity_type"), actor=pick("actor"), since=since, until=until)

    def clear(self) -> None:
        for combo in self.combos.values():
            combo.blockSignals(True)
            combo.setCurrentIndex(0)
            combo.blockSignals(False)
        for edit in (self.since, self.until):
            edit.clear()
        self._emit()

    def reset(self) -> None:
        """Back to no filter without emitting (a new source starts unfiltered)."""
        self.blockSignals(True)
        self.clear()
        self.blockSignals(False)
        self._last = LedgerFilter()

    def _emit(self, *_args) -> None:
        try:
            flt = self.current()
        except InspectorError as exc:
            sender = self.sender()
            for edit in (self.since, self.until):
                set_invalid(edit, edit is sender)
            self.invalid.emit(exc)
            return
        for edit in (self.since, self.until):
            set_invalid(edit, False)
        if flt != self._last:
            self._last = flt
            self.changed.emit(flt)


class LedgerWindow(QWidget):
    """The tenant-wide audit ledger of the session's source: filters, a table that reads more
    rows as it is scrolled, and the before/after diff of the selected event. It reads again when
    the session's logs reader changes or the server comes back; hidden, it reads nothing."""

    save_requested = Signal(str, str)

    def __init__(self, session: SourceSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ledgerWindow")
        self.setWindowTitle("Audit ledger — AOS Trace Inspector")
        self._session = session
        self._choices = session.scope("ledger-choices")

        self.filters = _LedgerFilterBar()
        self.model = LedgerModel(session, self)
        self.view = record_table_view(self.model, "ledgerView")
        self.status = QLabel()
        self.status.setObjectName("ledgerStatus")
        muted(self.status)
        self.detail = AuditEventView()
        self.detail.save_requested.connect(self.save_requested)
        split = QSplitter(Qt.Orientation.Vertical)
        split.setChildrenCollapsible(False)
        split.addWidget(self.view)
        split.addWidget(self.detail)
        split.setSizes([480, 320])

        self.placeholder = placeholder_label()
        self.placeholder.setFont(title_font(self.placeholder.font()))
        self.stack = QStackedWidget()
        page = QWidget()
        pl = QVBoxLayout(page)
        pl.setContentsMargins(0, 0, 0, 0)
        pl.addWidget(self.filters)
        pl.addWidget(split, 1)
        pl.addWidget(self.status)
        self.stack.addWidget(page)
        self.stack.addWidget(self.placeholder)
        self._page = page
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.stack)

        self.filters.changed.connect(self.model.set_filter)
        self.filters.invalid.connect(lambda exc: self._session.report(exc, "filter the audit ledger"))
        self.model.counts_changed.connect(self._on_counts)
        self.model.loading_changed.connect(lambda _loading: self._on_counts(self.model.rowCount(), not self.model.exhausted))
        self.model.modelReset.connect(lambda: self.detail.show_event(None))
        self.view.selectionModel().selectionChanged.connect(self._selection_changed)
        secondary_window(self, "ledgerWindow", (1200, 800))
        self.reload()
        session.logs_changed.connect(self._source_changed)
        session.reconnected.connect(self._source_changed)
        session.closed.connect(self.hide)

    def _source_changed(self) -> None:
        if self.isVisible():
            self.reload()

    @property
    def pending(self) -> bool:
        return self.model.loading

    def reload(self) -> None:
        """Read the filter choices and the first page again (after the source changed)."""
        logs = self._session.logs
        self.filters.reset()
        if logs is None or "audit" not in logs.logs_capabilities:
            self.placeholder.setText(NO_LOGS_TEXT if logs is None else "This source has no audit_ledger table")
            self.stack.setCurrentWidget(self.placeholder)
            self.model.set_filter(LedgerFilter())
            self.model.reload()
            return
        self.stack.setCurrentWidget(self._page)
        if self.model.ledger_filter != LedgerFilter():
            self.model.set_filter(LedgerFilter())
        else:
            self.model.reload()
        self._load_choices(logs)  # after the first page, which the user waits on

    def _load_choices(self, logs: LogsSource) -> None:
        self._choices.renew()

        def work():
            values = {field: logs.ledger_values(field) for field in ("tenant_id", "event_type", "entity_type")}
            # The actor filter matches actor_type or actor_id: offer both, types first.
            values["actor"] = logs.ledger_values("actor_type") + logs.ledger_values("actor_id")
            return values

        def done(values):
            for field, choices in values.items():
                self.filters.set_choices(field, choices)

        self._choices.submit(work, done, lambda exc: self._session.report(exc, "list the audit ledger's filter values"),
                             worker=Worker.LOGS, label="Listing ledger filter values")

    def _on_counts(self, rows: int, more: bool) -> None:
        if self.model.error is not None:
            exc = self.model.error
            why = str(exc) if isinstance(exc, InspectorError) else f"internal error ({type(exc).__name__})"
            text = f"{rows:,} events shown; reading stopped: {why}. Change a filter to try again."
        elif self.model.loading:
            text = f"{rows:,} events loaded · reading more…" if rows else "Reading the audit ledger…"
        elif more:
            text = f"{rows:,} events loaded, newest first · scroll down for more"
        elif rows:
            text = f"{rows:,} events, newest first (all that match)"
        else:
            text = "No event matches the filter." if self.model.ledger_filter != LedgerFilter() else "The audit ledger is empty."
        self.status.setText(text)

    def _selection_changed(self, selected: QItemSelection, _deselected: QItemSelection) -> None:
        rows = selected.indexes()
        event = self.model.data(rows[0], RECORD_ROLE) if rows else None
        self.detail.show_event(event)
