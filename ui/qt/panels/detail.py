"""Step detail (and run detail): the fields, and each JSON payload as a collapsible tree and as raw
text. Payloads over ``TRUNCATE_BYTES`` show their first megabyte with a "Save to file…" action
that writes the whole stored text. The panel reads what it shows through the session: the
latest selection wins, a read for an earlier one is dropped."""

from __future__ import annotations

import dataclasses
import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTabWidget,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from inspector.model import Payload, RunRecord, RunSummary, Step, StepRow, StepStatus
from ui.format import fmt_bytes, fmt_cost, fmt_duration
from ui.qt.context import ViewMenu, json_items
from ui.qt.models.json_tree import JsonTreeModel
from ui.qt.panels.find_bar import FindBar, JsonFind
from ui.qt.panels.verification import untrusted_mark
from ui.qt.session.session import SourceSession, Worker
from ui.qt.theme import css, muted, set_severity, title_font

__all__ = ["TRUNCATE_BYTES", "DetailPanel", "PayloadView"]

TRUNCATE_BYTES = 1_000_000


class PayloadView(QWidget):
    """One JSON payload: tree / raw toggle, warning banner, save action."""

    save_requested = Signal(str, str)  # suggested file name, full text

    def __init__(self, name: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._payload: Payload | None = None
        self._raw_loaded = False
        self._file_stem = name
        self.setObjectName(f"payload-{name}")

        self.banner = QLabel()
        self.banner.setObjectName("payloadBanner")
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.banner.hide()

        self.tree_button = QPushButton("Tree")
        self.raw_button = QPushButton("Raw")
        for b in (self.tree_button, self.raw_button):
            b.setCheckable(True)
            b.setAutoExclusive(True)
            b.setFlat(True)
        self.tree_button.setChecked(True)
        self.save_button = QPushButton("Save to file…")
        self.save_button.setToolTip("Write the whole stored text of this payload to a file")
        self.save_button.setEnabled(False)
        self.size_label = QLabel()
        self.size_label.setObjectName("payloadSize")
        muted(self.size_label)

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.tree_button)
        bar.addWidget(self.raw_button)
        bar.addStretch(1)
        bar.addWidget(self.size_label)
        bar.addWidget(self.save_button)

        self.model = JsonTreeModel(self)
        self.tree = QTreeView()
        self.tree.setModel(self.model)
        self.tree.setUniformRowHeights(True)
        self.tree.setAlternatingRowColors(True)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        self.tree.header().setStretchLastSection(False)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.tree.setColumnWidth(0, 180)
        #: Ctrl+F in the tree: keys and values searched, a few thousand nodes per turn of the loop.
        self.find_bar = FindBar("Find key or value…")
        self.find = JsonFind(self.tree, self.find_bar)
        #: Right-click, Ctrl+C (the node's value), Ctrl+Shift+C (its JSON pointer).
        self.menu = ViewMenu(self.tree, lambda index: json_items(self.model.item_at(index)), find=self.find)
        tree_page = QWidget()
        tree_layout = QVBoxLayout(tree_page)
        tree_layout.setContentsMargins(0, 0, 0, 0)
        tree_layout.setSpacing(0)
        tree_layout.addWidget(self.tree, 1)
        tree_layout.addWidget(self.find_bar)
        self.tree_page = tree_page
        self.raw = QPlainTextEdit()
        self.raw.setReadOnly(True)
        self.raw.setObjectName("rawText")
        self.placeholder = QLabel()
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setObjectName("payloadPlaceholder")
        muted(self.placeholder)

        self.stack = QStackedWidget()
        self.stack.addWidget(tree_page)
        self.stack.addWidget(self.raw)
        self.stack.addWidget(self.placeholder)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.banner)
        layout.addWidget(self.stack, 1)

        self.tree_button.toggled.connect(self._sync_mode)
        self.raw_button.toggled.connect(self._sync_mode)
        self.save_button.clicked.connect(self._ask_save)
        self.clear()

    @property
    def payload(self) -> Payload | None:
        return self._payload

    @property
    def truncated(self) -> bool:
        return self._payload is not None and self._payload.size > TRUNCATE_BYTES

    def clear(self, text: str = "") -> None:
        self._payload = None
        self.model.clear()
        self.raw.clear()
        self.banner.hide()
        self.size_label.clear()
        self.save_button.setEnabled(False)
        self.placeholder.setText(text)
        self.stack.setCurrentWidget(self.placeholder)

    def set_payload(self, payload: Payload, *, file_stem: str, absent_text: str) -> None:
        self._payload = payload
        self._file_stem = file_stem
        self._raw_loaded = False
        self.raw.clear()
        self.model.clear()
        if payload.is_missing:
            self.banner.hide()
            self.size_label.clear()
            self.save_button.setEnabled(False)
            self.placeholder.setText(absent_text)
            self.stack.setCurrentWidget(self.placeholder)
            return
        self.size_label.setText(fmt_bytes(payload.size))
        self.save_button.setEnabled(True)
        notes = []
        if payload.error:
            notes.append(f"⚠ The stored {self.name} text is {payload.error}. It is shown raw, exactly as stored.")
        if self.truncated:
            notes.append(
                f"The stored {self.name} text is {fmt_bytes(payload.size)}: the raw view shows the first "
                f"{fmt_bytes(TRUNCATE_BYTES)}. Use “Save to file…” for all of it."
            )
        self.banner.setText("\n".join(notes))
        self.banner.setVisible(bool(notes))
        set_severity(self.banner, "payload-warning" if payload.error else "payload-info")
        if payload.ok:
            self.model.set_value(payload.value, label=self.name)
            self.tree.expandToDepth(0)
            self.tree_button.setEnabled(True)
        else:
            self.tree_button.setEnabled(False)
            self.raw_button.setChecked(True)
        self._sync_mode()

    def _sync_mode(self) -> None:
        if self._payload is None or self._payload.is_missing:
            return
        if self.raw_button.isChecked() or not self._payload.ok:
            if not self._raw_loaded:
                text = self._payload.raw or ""
                if self.truncated:
                    text = text.encode("utf-8")[:TRUNCATE_BYTES].decode("utf-8", "ignore") + "\n… (truncated)"
                self.raw.setPlainText(text)
                self._raw_loaded = True
            self.stack.setCurrentWidget(self.raw)
        else:
            self.stack.setCurrentWidget(self.tree_page)

    def _ask_save(self) -> None:
        if self._payload is None or self._payload.raw is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, f"Save {self.name}", f"{self._file_stem}.json", "JSON (*.json);;All files (*)")
        if path:
            self.save_requested.emit(path, self._payload.raw)


def _row(label: str, value: Any, *, note: str = "") -> str:
    shown = "—" if value is None or value == "" else html.escape(str(value))
    muted_css = css("muted")
    extra = f" <span style='color:{muted_css}'>{html.escape(note)}</span>" if note else ""
    return (f"<tr><td style='padding-right:12px;color:{muted_css}'>{html.escape(label)}</td>"
            f"<td><b>{shown}</b>{extra}</td></tr>")


class DetailPanel(QWidget):
    """Shows a step (fields + params + outcome data) or a run (fields + plan + metadata), read
    through ``session`` (:meth:`read_run`, :meth:`read_step`)."""

    save_requested = Signal(str, str)

    def __init__(self, session: SourceSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = session
        #: The read of what is selected: a new selection drops the previous one's result.
        self._reads = session.scope("detail")
        self.title = QLabel("Select a run, then a step")
        self.title.setObjectName("detailTitle")
        self.title.setFont(title_font(self.title.font()))
        self.title.setContentsMargins(4, 6, 4, 6)
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fields = QLabel()
        self.fields.setObjectName("detailFields")
        self.fields.setTextFormat(Qt.TextFormat.RichText)
        self.fields.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.fields.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.first = PayloadView("params")
        self.second = PayloadView("outcome data")
        self.tabs = QTabWidget()
        self.tabs.addTab(self.first, "Params")
        self.tabs.addTab(self.second, "Outcome data")
        fields_page = QWidget()
        fl = QVBoxLayout(fields_page)
        fl.addWidget(self.fields)
        fl.addStretch(1)
        # Scrolled, so a long list of fields (a Postgres trace has ~30) never sets the panel's
        # minimum height and squeezes the step tree above it.
        fields_tab = QScrollArea()
        fields_tab.setObjectName("detailFieldsScroll")
        fields_tab.setWidgetResizable(True)
        fields_tab.setFrameShape(QFrame.Shape.NoFrame)
        fields_tab.setWidget(fields_page)
        self.tabs.insertTab(0, fields_tab, "Fields")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.tabs, 1)
        for view in (self.first, self.second):
            view.save_requested.connect(self.save_requested)
        self.kind: str | None = None
        self.clear()
        session.opened.connect(lambda *_: self.clear())
        session.closed.connect(self.clear)

    def read_run(self, run_id: str, known: RunSummary | None = None) -> None:
        """Read a run's record and show it. Counting a run's steps reads every one of them (100k
        for the largest): the record is read at once without them, the counters come from
        ``known`` (the list's row) or, failing that, from the background worker afterwards."""
        source = self._session.source
        if source is None:
            return
        self._reads.renew()
        self.show_loading(f"run {run_id}")
        counted = known is not None and known.has_aggregates and not known.orphan

        def load() -> RunRecord:
            record = source.get_run(run_id, with_aggregates=False)
            if counted:
                record = dataclasses.replace(record, summary=record.summary.with_counters(known))
            return record

        def shown(record: RunRecord) -> None:
            self.show_run(record)
            if record.summary.has_aggregates:
                return

            def counters(aggs: dict[str, RunSummary]) -> None:
                agg = aggs.get(run_id)
                if agg is not None:
                    self.show_run(dataclasses.replace(record, summary=record.summary.with_counters(agg)))

            self._reads.submit(lambda: source.aggregate_runs([run_id]), counters,
                               lambda e: self._session.report(e, f"count the steps of {run_id}"),
                               worker=Worker.BACKGROUND, label="Counting steps")

        self._reads.submit(load, shown, lambda e: self._session.report(e, f"read run {run_id}"), label="Reading run")

    def read_step(self, run_id: str, row: StepRow) -> None:
        """Read one step with its payloads and show it."""
        source = self._session.source
        if source is None:
            return
        self._reads.renew()
        self.show_loading(f"step {row.step_index}")
        self._reads.submit(lambda: source.get_step(run_id, row.step_index), self.show_step,
                           lambda e: self._session.report(e, f"read step {row.step_index} of {run_id}"),
                           label="Reading step")

    def clear(self, text: str = "Select a run, then a step") -> None:
        self._reads.renew()
        self.kind = None
        self.title.setText(text)
        self.fields.clear()
        self.first.clear("Nothing selected")
        self.second.clear("Nothing selected")

    def show_loading(self, what: str) -> None:
        self.title.setText(f"Loading {what}…")

    def show_step(self, step: Step) -> None:
        self.kind = "step"
        row = step.row
        status_note = "" if row.status is not StepStatus.UNKNOWN else "not a known status; shown as stored"
        self.title.setText(f"{untrusted_mark(self._session.source)}Step {row.step_index} of {row.run_id}")
        norm = row.status.value
        raw = "" if row.status_raw is None else str(row.status_raw)
        rows = [
            _row("step_index", row.step_index),
            _row("skill_name", row.skill_name),
            _row("status", f"{raw} → {norm}" if raw.lower() != norm else raw, note=status_note),
            _row("outcome_category", row.outcome_category),
            _row("outcome_code", row.outcome_code),
            _row("cost_cents", fmt_cost(row.cost_cents) if row.cost_cents is not None else None,
                 note="" if row.cost_cents is None else repr(row.cost_cents)),
            _row("duration_ms", fmt_duration(row.duration_ms) if row.duration_ms is not None else None,
                 note="" if row.duration_ms is None else repr(row.duration_ms)),
            _row("retry_count", row.retry_count),
            _row("timestamp", row.timestamp),
            _row("row id", row.row_id),
            _row("idempotency_key", step.idempotency_key),
            _row("replay_behavior", step.replay_behavior),
            _row("input_hash", step.input_hash),
            _row("output_hash", step.output_hash),
            _row("rng_state_before", step.rng_state_before),
        ]
        if row.trace_id is not None:
            rows.insert(0, _row("trace_id", row.trace_id))
        for name in ("skill_id", "source", "level", "is_synthetic", "synthetic_scenario_id", "archived_at"):
            if name in step.extra:
                note = "upstream derives level from status at write time; 'failed' gets INFO" \
                    if name == "level" else ""
                rows.append(_row(name, step.extra[name], note=note))
        self.fields.setText("<table>" + "".join(rows) + "</table>")
        self.tabs.setTabText(1, "Params")
        self.tabs.setTabText(2, "Outcome data")
        self.first.name, self.second.name = "params", "outcome data"
        stem = f"{row.run_id}-step{row.step_index}"
        self.first.set_payload(step.params, file_stem=f"{stem}-params",
                               absent_text="No params stored (the source does not carry them).")
        self.second.set_payload(step.outcome_data, file_stem=f"{stem}-outcome",
                                absent_text="No outcome data (upstream stores an empty outcome as NULL).")

    def show_run(self, record: RunRecord) -> None:
        self.kind = "run"
        s = record.summary
        self.title.setText(untrusted_mark(self._session.source) + ("Orphan steps of " if s.orphan else "Run ") + s.run_id)
        rows = [
            _row("run_id", s.run_id),
            _row("status", s.status),
            _row("correlation_id", s.correlation_id),
            _row("tenant_id", s.tenant_id),
            _row("agent_id", s.agent_id),
            _row("started_at", s.started_at),
            _row("completed_at", s.completed_at),
            _row("steps", s.total_steps),
            _row("successes", s.success_count, note="success, succeeded, ok"),
            _row("failures", s.failure_count, note="failure, failed, error"),
            _row("total cost", fmt_cost(s.total_cost_cents) if s.total_cost_cents is not None else None),
            _row("total duration", fmt_duration(s.total_duration_ms) if s.total_duration_ms is not None else None),
            _row("replay of", s.replay_of),
            _row("seed", record.seed),
            _row("frozen_timestamp", record.frozen_timestamp),
            _row("root_hash", "not computed" if record.root_hash == "pending" else record.root_hash,
                 note="stored as 'pending': worker traces never get a root hash"
                 if record.root_hash == "pending" else ""),
            _row("plan_hash", record.plan_hash),
            _row("created_at", record.created_at),
        ]
        if s.orphan:
            rows.insert(1, _row("note", "the run row was deleted; its steps remain (foreign keys are off upstream)"))
        if s.trace_id is not None:
            rows.insert(1, _row("trace_id", s.trace_id))
            rows.insert(2, _row("schema_version", record.schema_version))
            if s.archived:
                rows.insert(3, _row("archived_at", record.extra.get("archived_at"), note="soft-archived"))
            for name, value in record.extra.items():
                if name in ("trace", "archived_at") or value in (None, False):
                    continue
                rows.append(_row(name, value))
        self.fields.setText("<table>" + "".join(rows) + "</table>")
        self.tabs.setTabText(1, "Plan")
        self.tabs.setTabText(2, "Metadata")
        self.first.name, self.second.name = "plan", "metadata"
        self.first.set_payload(record.plan, file_stem=f"{s.run_id}-plan", absent_text="No plan stored.")
        self.second.set_payload(record.metadata, file_stem=f"{s.run_id}-metadata", absent_text="No metadata stored.")


def save_text(path: str, text: str) -> str:
    """Disk work for "Save to file…" (runs on a worker)."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return path

