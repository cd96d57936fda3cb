"""The Consistency dock: the selected run's panels checked against each other (the rules of
``inspector.services.consistency``, as ``trace-inspector check``). Each finding names its rule,
the panels involved, what was expected and what the panels show; choosing one
(``finding_chosen(violation, run_check)``) brings those panels forward with the rows involved
selected."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from inspector.consistency import Violation
from inspector.errors import InspectorError
from inspector.services.consistency import RunCheck, check_run, step_of
from ui.qt.context import Entry, Item, finding_items, menu_of
from ui.qt.models.records import RECORD_ROLE, Column, RecordTableModel, record_table_view
from ui.qt.panels.verification import untrusted_mark
from ui.qt.session.session import SourceSession, Worker
from ui.qt.theme import css, placeholder_label

__all__ = ["ConsistencyPanel", "FINDING_COLUMNS"]

FINDING_COLUMNS = (
    Column("Rule", lambda v: v.rule_id, 9),
    Column("Name", lambda v: v.rule_name, 28),
    Column("Panels", lambda v: ", ".join(v.slots_involved), 18),
    Column("Expected", lambda v: v.expected, 40),
    Column("Actual", lambda v: v.actual, 46),
)


class ConsistencyPanel(QWidget):
    #: A finding was chosen: the panels it involves (``runs_list``, ``step_tree``, ``evidence`` …).
    #: (the Violation chosen, the RunCheck it belongs to)
    finding_chosen = Signal(object, object)
    #: A run was checked (or failed to be): its run id.
    loaded = Signal(str)
    #: "Go to Step N" of a finding's context menu: the step_index.
    step_requested = Signal(int)

    def __init__(self, session: SourceSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._read = session.scope("consistency")
        self.run_id: str | None = None
        self.current: RunCheck | None = None
        self.summary = QLabel()
        self.summary.setObjectName("consistencySummary")
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setWordWrap(True)
        self.model = RecordTableModel(FINDING_COLUMNS, self)
        self.view = record_table_view(self.model, "consistencyFindings")
        self.view.clicked.connect(self._chosen)
        self.view.activated.connect(self._chosen)
        self.menu = menu_of(self.view)
        assert self.menu is not None
        self.menu.set_entries(self._entries)
        self.notes = QLabel()
        self.notes.setObjectName("consistencyNotes")
        self.notes.setWordWrap(True)
        self.placeholder = placeholder_label("consistencyPlaceholder")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addWidget(self.summary)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.notes)
        layout.addWidget(self.placeholder, 1)
        self.clear("Select a run: its panels are checked against each other.")

    @property
    def pending(self) -> bool:
        return self._read.pending

    def clear(self, text: str = "") -> None:
        self._read.renew()
        self.current = None
        self.model.clear()
        self.summary.clear()
        self.notes.clear()
        self.view.hide()
        self.notes.hide()
        self.placeholder.setText(text)
        self.placeholder.show()

    def show_run(self, key: str, run_id: str) -> None:
        """Check the run on the worker (a check of the run shown before is dropped)."""
        source = self._session.source
        if source is None:
            self.clear()
            return
        self._read.renew()
        self.run_id = run_id
        evidence, logs = self._session.evidence, self._session.logs
        self.placeholder.setText(f"Checking the panels of run {run_id}…")

        def failed(exc: BaseException) -> None:
            why = str(exc) if isinstance(exc, InspectorError) else f"internal error ({type(exc).__name__}: {exc})"
            self.clear(f"Could not check run {run_id}: {why}")
            self._session.report(exc, f"check the panels of run {run_id}")
            self.loaded.emit(run_id)

        self._read.submit(lambda: check_run(source, key, evidence=evidence, logs=logs), self._apply, failed,
                          worker=Worker.EVIDENCE, label="Checking the run's panels")

    def _apply(self, checked: RunCheck) -> None:
        self.current = checked
        result = checked.result
        n = len(result.violations)
        mark = untrusted_mark(self._session.source, rich=True)
        panels = sorted({s.slot_id for s in checked.slots})
        if n:
            self.summary.setText(f"{mark}<b style='color:{css('failure')}'>{n} finding{'s' if n != 1 else ''}</b>: panels "
                                 f"of run <b>{html.escape(checked.run_id)}</b> disagree "
                                 f"(checked: {html.escape(', '.join(panels))})")
        else:
            self.summary.setText(f"{mark}<b style='color:{css('success')}'>✔ Consistent</b>: the panels of run "
                                 f"<b>{html.escape(checked.run_id)}</b> agree ({html.escape(', '.join(panels))})")
        self.model.set_rows(list(result.violations))
        self.view.setVisible(bool(n))
        self.notes.setText("<br>".join(html.escape(x) for x in result.notes))
        self.notes.setVisible(bool(result.notes))
        self.placeholder.setVisible(not n)
        self.placeholder.setText("" if n else "No rule found the panels disagreeing.")
        self.loaded.emit(checked.run_id)

    def _entries(self, index) -> list[Entry]:
        finding = self.model.record_at(index.row()) if index.isValid() else None
        assert self.menu is not None
        if not isinstance(finding, Violation):
            return self.menu.copy_items(index)
        checked = self.current
        entries: list[Entry] = [*finding_items(finding.rule_id, finding, self.menu.copy_items(index)), None,
                                Item("Show Panels Involved", lambda: self.finding_chosen.emit(finding, checked),
                                     name="show_panels", tip="Bring the panels it names forward (Enter)")]
        step = step_of(finding, checked.slots) if checked is not None else None
        if step is not None:
            entries.append(Item(f"Go to Step {step}", lambda: self.step_requested.emit(step), name="go_to_step",
                                tip="The step a compared value comes from, in the step table"))
        return entries

    def _chosen(self, index) -> None:
        finding = self.model.data(index, RECORD_ROLE)
        if isinstance(finding, Violation):
            self.finding_chosen.emit(finding, self.current)
