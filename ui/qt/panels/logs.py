"""The logs domain around a run (spec §2.7, §3, §12) as a panel: ``RunLogsPanel`` shows one run's
audit events, policy activations, LLM run records, system records, log exports, replay window and
mismatches, one tab each (the tenant-wide ledger is ``ui.qt.windows.ledger``).

Every read runs on the session's logs worker; results for a run or a filter that is no longer
shown are dropped when they arrive. Failures go to ``session.report``.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from inspector.errors import InspectorError
from inspector.ledger import state_diff
from inspector.logs import (
    AUDIT_CAP,
    AuditEvent,
    LogsSource,
    Mismatch,
    PolicyActivation,
    ReplayWindow,
    SystemRecord,
    SystemRecordFilter,
)
from inspector.model import Payload
from ui.qt.models.logs import (
    AUDIT_COLUMNS,
    EXPORT_COLUMNS,
    LLM_COLUMNS,
    MISMATCH_COLUMNS,
    PENDING_STATUS_NOTE,
    POLICY_COLUMNS,
    SOURCE_COLORS,
    SYSTEM_COLUMNS,
    WINDOW_COLUMNS,
    StateDiffModel,
    audit_styler,
    export_styler,
    fmt_time_ms,
    llm_styler,
    mismatch_styler,
    system_styler,
    window_styler,
)
from ui.qt.models.records import (
    RECORD_ROLE,
    Column,
    RecordTableModel,
    record_table_view,
    texts_for,
)
from ui.qt.panels.detail import PayloadView
from ui.qt.session.session import SourceSession, Worker
from ui.qt.theme import css, muted, placeholder_label, set_severity, title_font

__all__ = [
    "NO_LOGS_TEXT",
    "TAB_KEYS",
    "AuditEventView",
    "RecordTab",
    "RunLogsPanel",
]

#: What the panel says when the source holds traces only (SQLite files, trace-only databases).
NO_LOGS_TEXT = "Logs tables are available on Postgres sources"
_NO_LOGS_DETAIL = (
    "The audit ledger, LLM run records, system records, log exports, policy activations and replay "
    "mismatches live in AOS's Postgres database; this source holds traces only."
)
_ANY = "(any)"
_SYSTEM_RECORD_LIMIT = 500


@dataclass(frozen=True, slots=True)
class _Tab:
    key: str
    title: str
    capability: str | None  # what LogsSource.logs_capabilities must name
    table: str  # the upstream table, for "this source has no … table"


#: The tabs of :class:`RunLogsPanel`, in order.
_TABS = (
    _Tab("audit", "Audit", "audit", "audit_ledger"),
    _Tab("policy", "Policy activations", "policy_activations", "policy_activation_audit"),
    _Tab("llm", "LLM run", "llm_runs", "llm_run_records"),
    _Tab("system", "System", "system_records", "system_records"),
    _Tab("exports", "Exports", "log_exports", "log_exports"),
    _Tab("window", "Replay window", None, "aos_trace_steps"),
    _Tab("mismatches", "Mismatches", "mismatches", "aos_trace_mismatches"),
)
TAB_KEYS = tuple(t.key for t in _TABS)


class RecordTab(QWidget):
    """One tab: optional controls, a note line, and a table that gives way to a placeholder when
    it is loading, empty or failed."""

    def __init__(self, name: str, columns: Sequence[Column], styler, *, empty_text: str,
                 detail: QWidget | None = None, parent: QWidget | None = None) -> None:
        """``detail`` (what the selected row shows) goes below the table, in a splitter."""
        super().__init__(parent)
        self.setObjectName(f"logsTab-{name}")
        self.empty_text = empty_text
        self.controls = QHBoxLayout()
        self.controls.setContentsMargins(0, 0, 0, 0)
        self.note = QLabel()
        self.note.setObjectName("logsNote")
        self.note.setWordWrap(True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.note.hide()
        self.model = RecordTableModel(columns, self, styler=styler)
        self.view = record_table_view(self.model, f"{name}View")
        self.placeholder = placeholder_label()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.view)
        self.stack.addWidget(self.placeholder)
        self.body = QVBoxLayout(self)
        self.body.setContentsMargins(4, 4, 4, 4)
        self.body.addLayout(self.controls)
        self.body.addWidget(self.note)
        if detail is None:
            self.body.addWidget(self.stack, 1)
        else:
            # Side by side: the panel lives in a dock under the lists, where height is scarce.
            split = QSplitter(Qt.Orientation.Horizontal)
            split.setChildrenCollapsible(False)
            split.addWidget(self.stack)
            split.addWidget(detail)
            split.setStretchFactor(0, 4)
            split.setStretchFactor(1, 5)
            self.body.addWidget(split, 1)
        self.show_message("")

    def show_message(self, text: str) -> None:
        self.model.clear()
        self.placeholder.setText(text)
        self.stack.setCurrentWidget(self.placeholder)

    def show_loading(self) -> None:
        self.show_message("Loading…")

    def show_rows(self, records: Sequence[Any], texts: Sequence[tuple[str, ...]] | None = None) -> None:
        self.model.set_rows(records, texts)
        if records:
            self.stack.setCurrentWidget(self.view)
        else:
            self.placeholder.setText(self.empty_text)
            self.stack.setCurrentWidget(self.placeholder)

    def set_note(self, text: str | None, severity: str = "payload-info") -> None:
        self.note.setText(text or "")
        self.note.setVisible(bool(text))
        if text:
            set_severity(self.note, severity)

    @property
    def showing_rows(self) -> bool:
        return self.stack.currentWidget() is self.view


def _no_state(payload: Payload) -> bool:
    """SQL NULL, or a top-level JSON null (upstream's writer stores an unused state so, §3.1)."""
    return payload.is_missing or (payload.ok and payload.value is None)


class AuditEventView(QWidget):
    """One ledger event: what happened, and what changed between ``before_state`` and
    ``after_state`` (a row per JSON pointer), beside both states as JSON trees."""

    save_requested = Signal(str, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("auditEventView")
        self.current_event: AuditEvent | None = None
        self.title = QLabel()
        self.title.setObjectName("auditEventTitle")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.summary = QLabel()
        self.summary.setObjectName("auditEventSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        muted(self.summary)
        self.diff_model = StateDiffModel(self)
        self.diff_view = record_table_view(self.diff_model, "stateDiffView")
        # Before and after share what the pointer and change columns leave: no sideways scrolling.
        diff_header = self.diff_view.horizontalHeader()
        diff_header.setStretchLastSection(False)  # with Stretch sections, it overshoots the viewport
        for col in (2, 3):
            diff_header.setSectionResizeMode(col, QHeaderView.ResizeMode.Stretch)
        self.diff_placeholder = placeholder_label()
        self.diff_stack = QStackedWidget()
        self.diff_stack.addWidget(self.diff_view)
        self.diff_stack.addWidget(self.diff_placeholder)
        self.before = PayloadView("before state")
        self.after = PayloadView("after state")
        self.states = QTabWidget()
        self.states.setDocumentMode(True)
        self.states.addTab(self.before, "Before")
        self.states.addTab(self.after, "After")
        for view in (self.before, self.after):
            view.save_requested.connect(self.save_requested)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.setChildrenCollapsible(False)
        split.addWidget(self.diff_stack)
        split.addWidget(self.states)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)
        self.show_event(None)

    def show_event(self, event: AuditEvent | None, *, empty_text: str = "Select an event to see what it changed") -> None:
        self.current_event = event
        if event is None:
            self.title.setText(empty_text)
            self.summary.clear()
            self.diff_model.clear()
            self.diff_placeholder.setText("")
            self.diff_stack.setCurrentWidget(self.diff_placeholder)
            self.before.clear("Nothing selected")
            self.after.clear("Nothing selected")
            return
        actor = f"{event.actor_type} {event.actor_id}" if event.actor_id else event.actor_type
        self.title.setText(f"{event.event_type} · {event.entity_type}:{event.entity_id}")
        stem = f"audit-{event.id}"
        self.before.set_payload(event.before_state, file_stem=f"{stem}-before",
                                absent_text="No before_state (NULL): created, or a kind of event that records none.")
        self.after.set_payload(event.after_state, file_stem=f"{stem}-after",
                               absent_text="No after_state (NULL): retired, or a kind of event that records none.")
        broken = [name for name, p in (("before_state", event.before_state), ("after_state", event.after_state))
                  if not p.ok]
        changes = [] if broken else state_diff(event.before_state, event.after_state)
        self.diff_model.set_rows(changes)
        facts = [f"by {actor}", f"at {fmt_time_ms(event.created_at)}"]
        if event.correlation_id:
            facts.append(f"correlation {event.correlation_id}")
        if event.action_reason:
            facts.append(f"reason: {event.action_reason}")
        self.summary.setText(" · ".join(facts))
        if broken:
            self.diff_placeholder.setText(f"{' and '.join(broken)} is not valid JSON: no diff; the raw text is shown on the right.")
        elif _no_state(event.before_state) and _no_state(event.after_state):
            self.diff_placeholder.setText("This event records neither a before nor an after state.")
        elif not changes:
            self.diff_placeholder.setText("before_state and after_state are equal.")
        if changes:
            self.diff_stack.setCurrentWidget(self.diff_view)
            counts: dict[str, int] = {}
            for c in changes:
                counts[c.op] = counts.get(c.op, 0) + 1
            parts = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items()))
            self.title.setText(f"{self.title.text()} — {len(changes)} change{'s' if len(changes) != 1 else ''} ({parts})")
        else:
            self.diff_stack.setCurrentWidget(self.diff_placeholder)
        # Show the state that exists when only one does (a creation has no "before").
        if _no_state(event.before_state) and not _no_state(event.after_state):
            self.states.setCurrentWidget(self.after)
        elif _no_state(event.after_state) and not _no_state(event.before_state):
            self.states.setCurrentWidget(self.before)


@dataclass(frozen=True, slots=True)
class _RunKey:
    run_id: str
    trace_id: str | None
    tenant_id: str | None
    correlation_id: str | None

    @property
    def link_ids(self) -> tuple[str, ...]:
        """The ids a policy activation's ``loop_trace_id`` may carry (§12), without repeats."""
        return tuple(dict.fromkeys(x for x in (self.trace_id, self.run_id, self.correlation_id) if x))


class RunLogsPanel(QTabWidget):
    """The logs domain around one run, a tab per table family, each titled with its count.

    ``show_run`` reads every tab on the worker; ``loaded(run_id)`` fires when the last one has
    arrived. Tabs whose table the source lacks are disabled, with the reason as tooltip; a source
    without logs tables (the session has no logs reader) gets one message instead of the tabs."""

    save_requested = Signal(str, str)
    loaded = Signal(str)

    def __init__(self, session: SourceSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runLogsPanel")
        self.setTabBarAutoHide(True)
        self.setUsesScrollButtons(True)
        self._session = session
        self._run: _RunKey | None = None
        #: One stream of reads per tab: a newer read of a tab (another run, another filter) drops
        #: the older one's result.
        self._reads = {t.key: session.scope(f"logs:{t.key}") for t in _TABS}
        #: Tabs whose read has not come back yet.
        self._waiting: set[str] = set()
        #: Rows shown per tab key; None while loading, after a failure, or with no run.
        self.counts: dict[str, int | None] = {t.key: None for t in _TABS}

        self.audit_detail = AuditEventView()
        self.audit_detail.save_requested.connect(self.save_requested)
        self.audit = RecordTab("audit", AUDIT_COLUMNS, audit_styler, detail=self.audit_detail,
                               empty_text="No governance event mentions this run.")
        self.audit.view.selectionModel().currentRowChanged.connect(self._audit_selected)

        self.policy = RecordTab("policy", POLICY_COLUMNS, None,
                                empty_text="No policy activation is linked to this run.")
        self.llm = RecordTab("llm", LLM_COLUMNS, llm_styler, empty_text="No LLM run record for this run.")

        self.system_details = PayloadView("details")
        self.system_details.save_requested.connect(self.save_requested)
        self.system = RecordTab("system", SYSTEM_COLUMNS, system_styler, detail=self.system_details,
                                empty_text="No system record matches.")
        self.system_component = self._combo("systemComponent", ("worker", "api", "scheduler", "db", "auth", "migration"))
        self.system_severity = self._combo("systemSeverity", ("INFO", "WARN", "CRITICAL"))
        self.system_only = QCheckBox("System-wide only")
        self.system_only.setObjectName("systemOnly")
        self.system_only.setToolTip("Only records whose tenant_id is NULL (shown to every tenant)")
        for label, widget in (("Component", self.system_component), ("Severity", self.system_severity)):
            self.system.controls.addWidget(QLabel(label))
            self.system.controls.addWidget(widget)
        self.system.controls.addWidget(self.system_only)
        self.system.controls.addStretch(1)
        self.system.view.selectionModel().currentRowChanged.connect(self._system_selected)
        self.system_component.currentIndexChanged.connect(self._reload_system)
        self.system_severity.currentIndexChanged.connect(self._reload_system)
        self.system_only.toggled.connect(self._reload_system)

        self.exports = RecordTab("exports", EXPORT_COLUMNS, export_styler,
                                 empty_text="No log export was requested for this run.")
        self.exports_tenant = QCheckBox("Whole tenant")
        self.exports_tenant.setObjectName("exportsWholeTenant")
        self.exports_tenant.setToolTip("Every export of the run's tenant, not only those for this run")
        self.exports.controls.addWidget(self.exports_tenant)
        self.exports.controls.addStretch(1)
        self.exports_tenant.toggled.connect(self._reload_exports)

        self.replay = RecordTab("window", WINDOW_COLUMNS, window_styler,
                                empty_text="Nothing recorded in the window around this run.")
        self.replay_header = QLabel()
        self.replay_header.setObjectName("replayWindowHeader")
        self.replay_header.setWordWrap(True)
        self.replay_header.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.replay_header.setTextFormat(Qt.TextFormat.RichText)
        self.replay.body.insertWidget(0, self.replay_header)

        self.mismatches = RecordTab("mismatches", MISMATCH_COLUMNS, mismatch_styler,
                                    empty_text="No replay mismatch was reported for this run's trace.")

        self.tabs: dict[str, RecordTab] = {
            "audit": self.audit, "policy": self.policy, "llm": self.llm, "system": self.system,
            "exports": self.exports, "window": self.replay, "mismatches": self.mismatches,
        }
        for spec in _TABS:
            self.addTab(self.tabs[spec.key], spec.title)

        self.no_logs = QWidget()
        self.no_logs.setObjectName("noLogsMessage")
        self.no_logs_label = QLabel(NO_LOGS_TEXT)
        self.no_logs_label.setObjectName("noLogsLabel")
        self.no_logs_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.no_logs_label.setFont(title_font(self.no_logs_label.font()))
        detail = QLabel(_NO_LOGS_DETAIL)
        detail.setAlignment(Qt.AlignmentFlag.AlignCenter)
        detail.setWordWrap(True)
        muted(detail)
        nl = QVBoxLayout(self.no_logs)
        nl.addStretch(1)
        nl.addWidget(self.no_logs_label)
        nl.addWidget(detail)
        nl.addStretch(2)
        self._no_logs_shown = False
        self.clear()

    @staticmethod
    def _combo(name: str, values: Sequence[str]) -> QComboBox:
        combo = QComboBox()
        combo.setObjectName(name)
        combo.addItem(_ANY)
        combo.addItems(list(values))
        return combo

    # -- state ------------------------------------------------------------------------------------

    @property
    def run_id(self) -> str | None:
        return self._run.run_id if self._run else None

    @property
    def pending(self) -> int:
        """Tabs whose read has not come back yet."""
        return len(self._waiting)

    @property
    def logs_available(self) -> bool:
        return not self._no_logs_shown

    def tab_index(self, key: str) -> int:
        return self.indexOf(self.tabs[key])

    def _sync_availability(self) -> LogsSource | None:
        """Show the tabs or the one message, whichever the current source calls for; enable the
        tabs whose tables exist."""
        logs = self._session.logs
        if logs is None:
            if not self._no_logs_shown:
                while self.count():
                    self.removeTab(0)
                self.addTab(self.no_logs, "Logs")
                self._no_logs_shown = True
            return None
        if self._no_logs_shown:
            self.removeTab(self.indexOf(self.no_logs))
            for spec in _TABS:
                self.addTab(self.tabs[spec.key], spec.title)
            self._no_logs_shown = False
        caps = logs.logs_capabilities
        # The reader says in words what is missing.
        notes = [str(n) for n in logs.missing_notes]
        for spec in _TABS:
            i = self.tab_index(spec.key)
            # The replay window merges whatever exists, trace steps included: never disabled.
            ok = spec.capability is None or spec.capability in caps
            note = next((n for n in notes if spec.table in n.split(":")[0]), None)
            why = note[:1].upper() + note[1:] if note else f"This source has no {spec.table} table"
            self.setTabEnabled(i, ok)
            self.setTabToolTip(i, "" if ok else why)
            if not ok:
                self.tabs[spec.key].show_message(why + ".")
        return logs

    def _set_title(self, key: str, count: int | None, suffix: str = "") -> None:
        spec = next(t for t in _TABS if t.key == key)
        self.counts[key] = count
        if self._no_logs_shown:
            return
        text = spec.title if count is None and not suffix else f"{spec.title} ({suffix or count})"
        self.setTabText(self.tab_index(key), text)

    def clear(self) -> None:
        """Show no run. Reads not started yet are cancelled (so arrowing through twenty runs
        does not queue twenty runs' reads); results still on their way are dropped."""
        self._run = None
        self._waiting.clear()
        for reads in self._reads.values():
            reads.renew()
        logs = self._sync_availability()
        caps = logs.logs_capabilities if logs is not None else frozenset()
        for spec in _TABS:
            self._set_title(spec.key, None)
            tab = self.tabs[spec.key]
            tab.set_note(None)
            if logs is None or spec.capability is None or spec.capability in caps:
                tab.show_message("Select a run to see its logs.")
        self.audit_detail.show_event(None)
        self.system_details.clear("Select a record to see its details")
        self.replay_header.clear()
        self.exports_tenant.setEnabled(True)

    # -- loading ----------------------------------------------------------------------------------

    def show_run(self, run_id: str, trace_id: str | None = None, tenant_id: str | None = None,
                 correlation_id: str | None = None) -> None:
        """Read everything the logs tables hold about this run (each tab on the worker)."""
        self.clear()
        logs = self._session.logs
        if logs is None:
            return
        run = _RunKey(run_id, trace_id, tenant_id, correlation_id)
        self._run = run
        self.exports_tenant.setEnabled(tenant_id is not None)
        caps = logs.logs_capabilities
        # One serial worker reads them in this order: the small keyed reads first; the audit read
        # (a JSON match over the governance events, the slowest on a big ledger) and the replay
        # window (four reads) last, so most tabs fill at once.
        if "policy_activations" in caps:
            self._load_policy(logs, run)
        if "llm_runs" in caps:
            self._load_llm(logs, run)
        if "system_records" in caps:
            self._load_system(logs, run)
        if "log_exports" in caps:
            self._load_exports(logs, run)
        if "mismatches" in caps:
            self._load_mismatches(logs, run)
        self._load_window(logs, run)
        if "audit" in caps:
            self._load_audit(logs, run)
        if not self._waiting:
            self.loaded.emit(run_id)

    def _submit(self, key: str, work: Callable[[], Any], apply: Callable[[Any], None], doing: str) -> None:
        """Read one tab (a read of the same tab before it is dropped)."""
        reads = self._reads[key]
        reads.renew()
        self._waiting.add(key)
        self.tabs[key].show_loading()
        self._set_title(key, None, "…")
        run_id = self._run.run_id if self._run else ""

        def done(result: Any) -> None:
            self._waiting.discard(key)
            apply(result)
            if not self._waiting:
                self.loaded.emit(run_id)

        def failed(exc: BaseException) -> None:
            self._waiting.discard(key)
            message = str(exc) if isinstance(exc, InspectorError) else f"internal error ({type(exc).__name__})"
            self.tabs[key].show_message(f"Could not {doing}:\n{message}")
            self._set_title(key, None, "!")
            self._session.report(exc, doing)
            if not self._waiting:
                self.loaded.emit(run_id)

        if reads.submit(work, done, failed, worker=Worker.LOGS, label=doing[:1].upper() + doing[1:]) is None:
            self._waiting.discard(key)  # the source is gone

    def _rows(self, key: str, records: Sequence[Any], texts: Sequence[tuple[str, ...]]) -> None:
        self.tabs[key].show_rows(records, texts)
        self._set_title(key, len(records))

    def _load_audit(self, logs: LogsSource, run: _RunKey) -> None:
        def work():
            events = logs.audit_for_run(run.run_id, run.tenant_id)
            return events, texts_for(AUDIT_COLUMNS, events)

        def apply(result):
            events, texts = result
            self._rows("audit", events, texts)
            self.audit.set_note(f"Showing the newest {AUDIT_CAP:,} events that name this run (there are more)."
                                if len(events) >= AUDIT_CAP else None, "payload-warning")
            self.audit_detail.show_event(None, empty_text="Select an event to see what it changed" if events else "")
            if events:
                self.audit.view.selectRow(0)

        self._submit("audit", work, apply, f"read the audit ledger for run {run.run_id}")

    def _load_policy(self, logs: LogsSource, run: _RunKey) -> None:
        ids = run.link_ids

        def work():
            rows = logs.policy_activations(ids)
            return rows, texts_for(POLICY_COLUMNS, rows)

        def apply(result):
            rows, texts = result
            self._rows("policy", rows, texts)
            self.policy.set_note(self._policy_note(rows, run))

        self._submit("policy", work, apply, f"read policy activations for run {run.run_id}")

    @staticmethod
    def _policy_note(rows: Sequence[PolicyActivation], run: _RunKey) -> str:
        names = {run.trace_id: "trace_id", run.run_id: "run_id", run.correlation_id: "correlation_id"}
        looked = ", ".join(f"{names[i]} {i}" for i in run.link_ids)
        found = sorted({names.get(r.loop_trace_id, "?") for r in rows if r.loop_trace_id})
        text = f"Linked through loop_trace_id, matched against {looked}."
        if rows:
            text += f" Matches on: {', '.join(found)}."
        return text

    def _load_llm(self, logs: LogsSource, run: _RunKey) -> None:
        def work():
            rows = logs.llm_records(run.run_id)
            return rows, texts_for(LLM_COLUMNS, rows)

        def apply(result):
            rows, texts = result
            self._rows("llm", rows, texts)
            if len(rows) > 1:
                self.llm.set_note(f"{len(rows)} records for this run. Upstream's reader assumes one per run and "
                                  "shows whichever the database returns first.", "payload-warning")
            else:
                self.llm.set_note(None)

        self._submit("llm", work, apply, f"read LLM run records for run {run.run_id}")

    def system_filter(self) -> SystemRecordFilter:
        """What the System tab asks for: the run's tenant and the system-wide records, narrowed by
        the tab's controls. A run without a tenant sees only system-wide records."""
        run = self._run
        tenant = run.tenant_id if run else None

        def pick(c: QComboBox) -> str | None:
            return None if c.currentIndex() <= 0 else c.currentText()

        return SystemRecordFilter(
            tenant_id=tenant,
            system_only=self.system_only.isChecked() or tenant is None,
            component=pick(self.system_component),
            severity=pick(self.system_severity),
        )

    def _reload_system(self, *_args) -> None:
        logs = self._session.logs
        if self._run is not None and logs is not None and "system_records" in logs.logs_capabilities:
            self._load_system(logs, self._run)

    def _load_system(self, logs: LogsSource, run: _RunKey) -> None:
        flt = self.system_filter()

        def work():
            rows = logs.system_records(flt, _SYSTEM_RECORD_LIMIT)
            return rows, texts_for(SYSTEM_COLUMNS, rows)

        def apply(result):
            rows, texts = result
            self._rows("system", rows, texts)
            self.system_details.clear("Select a record to see its details" if rows else "")
            notes = ["The tenant's and system-wide records, newest first, whenever they happened; "
                     "the Replay window has those within 30 s of the run."]
            if run.tenant_id is None and not self.system_only.isChecked():
                notes.append("The run has no tenant: only system-wide records are shown.")
            if len(rows) >= _SYSTEM_RECORD_LIMIT:
                notes.append(f"The newest {_SYSTEM_RECORD_LIMIT} records; narrow the filter to see older ones.")
            self.system.set_note(" ".join(notes) or None)

        self._submit("system", work, apply, "read system records")

    def _system_selected(self, current: QModelIndex, _previous: QModelIndex | None = None) -> None:
        record: SystemRecord | None = self.system.model.data(current, RECORD_ROLE) if current.isValid() else None
        if record is None:
            self.system_details.clear("Select a record to see its details")
            return
        self.system_details.set_payload(record.details, file_stem=f"system-{record.id}-details",
                                        absent_text="No details stored.")

    def _reload_exports(self, *_args) -> None:
        logs = self._session.logs
        if self._run is not None and logs is not None and "log_exports" in logs.logs_capabilities:
            self._load_exports(logs, self._run)

    def _load_exports(self, logs: LogsSource, run: _RunKey) -> None:
        whole_tenant = self.exports_tenant.isChecked() and run.tenant_id is not None

        def work():
            if whole_tenant:
                rows = logs.log_exports(tenant_id=run.tenant_id)
            else:
                rows = logs.log_exports(run_id=run.run_id)
            return rows, texts_for(EXPORT_COLUMNS, rows)

        def apply(result):
            rows, texts = result
            self.exports.empty_text = (f"No log export for tenant {run.tenant_id}." if whole_tenant
                                       else "No log export was requested for this run.")
            self._rows("exports", rows, texts)
            pending = sum(1 for r in rows if r.status == "pending")
            self.exports.set_note(f"{pending} of {len(rows)} pending. {PENDING_STATUS_NOTE}" if pending else None,
                                  "payload-warning")

        self._submit("exports", work, apply,
                     f"read log exports for tenant {run.tenant_id}" if whole_tenant else f"read log exports for run {run.run_id}")

    def _load_window(self, logs: LogsSource, run: _RunKey) -> None:
        def work():
            window = logs.replay_window(run.run_id, run.trace_id)
            return window, texts_for(WINDOW_COLUMNS, window.entries)

        def apply(result):
            window, texts = result
            self._rows("window", window.entries, texts)
            self.replay_header.setText(self._window_header(window))

        self._submit("window", work, apply, f"build the replay window of run {run.run_id}")

    @staticmethod
    def _window_header(window: ReplayWindow) -> str:
        counts: dict[str, int] = {}
        for e in window.entries:
            counts[e.source] = counts.get(e.source, 0) + 1
        glyphs = {"llm": "●", "system": "■", "policy": "◆"}
        legend = " ".join(
            f"<span style='color:{css(role)}'>{glyphs.get(name, '●')}</span> {name} {counts.get(name, 0)}"
            for name, role in SOURCE_COLORS.items()
        )
        if window.anchor:
            head = (f"Anchor <b>{html.escape(fmt_time_ms(window.anchor))}</b> "
                    f"<span style='color:{css('muted')}'>from {html.escape(window.anchor_from)}</span>")
        else:
            head = f"No anchor <span style='color:{css('muted')}'>({html.escape(window.anchor_from)})</span>"
        if window.start or window.end:
            head += f" · window {html.escape(fmt_time_ms(window.start))} → {html.escape(fmt_time_ms(window.end))}"
        notes = "".join(f"<br><span style='color:{css('warning')}'>{html.escape(n)}</span>" for n in window.notes)
        return f"{head} · {legend}{notes}"

    def _load_mismatches(self, logs: LogsSource, run: _RunKey) -> None:
        # Mismatches are keyed by the Postgres trace id (§2.7); without one, the worker's
        # ``trace_{run_id}`` (§2.3).
        key = run.trace_id or f"trace_{run.run_id}"

        def work():
            rows = logs.mismatches(key)
            return rows, texts_for(MISMATCH_COLUMNS, rows)

        def apply(result):
            rows, texts = result
            self._rows("mismatches", rows, texts)
            open_count = sum(1 for m in rows if not m.resolved)
            if open_count:
                self._set_title("mismatches", len(rows), f"{len(rows)}, {open_count} open")
            self.mismatches.set_note(self._mismatch_note(rows, key))

        self._submit("mismatches", work, apply, f"read replay mismatches of trace {key}")

    @staticmethod
    def _mismatch_note(rows: Sequence[Mismatch], key: str) -> str | None:
        if not rows:
            return None
        open_count = sum(1 for m in rows if not m.resolved)
        return (f"Trace {key}: {open_count} open, {len(rows) - open_count} resolved. Open mismatches are "
                "highlighted. Upstream stores details as {} (its writer cannot store anything else).")

    def _audit_selected(self, current: QModelIndex, _previous: QModelIndex | None = None) -> None:
        event = self.audit.model.data(current, RECORD_ROLE) if current.isValid() else None
        self.audit_detail.show_event(event)
