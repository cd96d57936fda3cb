"""The runs list's filter bar: status, tenant, agent, integrity grade, time range (typed, or chosen
on the runs-over-time chart), run-id prefix and (Postgres) archived traces. It follows its session: a new source starts unfiltered, the grade
choice is enabled only for a source with an evidence store, and the choices come from the source
(read on the background worker)."""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from inspector.errors import InspectorError
from inspector.model import RunFilter, normalise_time_bound
from inspector.source import Capability
from ui.qt.models.findings import RunFindings
from ui.qt.session.session import EvidenceState, SourceSession, Worker
from ui.qt.theme import set_invalid

__all__ = ["FilterBar"]

_ANY = "(any)"
_FINDINGS_TEXT = "With findings"
_GRADES = ("PASS", "WARN", "FAIL")
_GRADE_TIPS = {
    True: "Only runs of this integrity grade (upstream's rules)",
    False: "This source has no evidence store: its runs have no integrity grade",
    None: "Looking for the evidence tables…",
}


class FilterBar(QWidget):
    """Status, tenant, agent, integrity grade, time range and run-id prefix. Emits the filter when
    it changes. The grade choice is enabled only for a source with an evidence store."""

    changed = Signal(object)
    invalid = Signal(str)

    def __init__(self, session: SourceSession, parent: QWidget | None = None, *,
                 findings: RunFindings | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._findings = findings
        #: The last sweep: (the filter swept, the run ids of its runs with findings).
        self._swept: tuple[RunFilter, frozenset[str]] | None = None
        self._choices = session.scope("filter-choices")
        self.status = self._combo("Status")
        self.tenant = self._combo("Tenant")
        self.agent = self._combo("Agent")
        self.grade = QComboBox()
        self.grade.setObjectName("filterGrade")
        self.grade.addItem(_ANY)
        self.grade.addItems(list(_GRADES))
        self.grade.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.set_grades_available(None)
        self.since = QLineEdit()
        self.since.setPlaceholderText("since (e.g. 2026-10-01)")
        self.until = QLineEdit()
        self.until.setPlaceholderText("until")
        self.search = QLineEdit()
        self.search.setPlaceholderText("run id starts with…")
        self.search.setClearButtonEnabled(True)
        self.archived = QCheckBox("Archived")
        self.archived.setObjectName("filterArchived")
        self.archived.setToolTip("Also list soft-archived traces (archived_at set; Postgres)")
        self.archived.hide()
        self.with_findings = QCheckBox(_FINDINGS_TEXT)
        self.with_findings.setObjectName("filterFindings")
        self.with_findings.setToolTip("Only the runs whose panels disagree (the inspector's consistency rules): "
                                      "every run of the other filters is checked first")
        self.with_findings.setVisible(findings is not None)
        self.clear_button = QPushButton("Clear")
        self.clear_button.setToolTip("Show every run")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        for label, w in (("Status", self.status), ("Tenant", self.tenant), ("Agent", self.agent),
                         ("Grade", self.grade)):
            layout.addWidget(QLabel(label))
            layout.addWidget(w)
        layout.addWidget(QLabel("Started"))
        layout.addWidget(self.since)
        layout.addWidget(QLabel("–"))
        layout.addWidget(self.until)
        layout.addWidget(self.search, 1)
        layout.addWidget(self.archived)
        layout.addWidget(self.with_findings)
        layout.addWidget(self.clear_button)
        for combo in (self.status, self.tenant, self.agent, self.grade):
            combo.currentIndexChanged.connect(self._emit)
        for edit in (self.since, self.until, self.search):
            edit.editingFinished.connect(self._emit)
        self.archived.toggled.connect(self._emit)
        self.with_findings.toggled.connect(self._findings_toggled)
        if findings is not None:
            findings.sweep_progress.connect(self._sweep_progress)
            findings.swept.connect(self._sweep_ended)
            findings.sweep_failed.connect(lambda _why: self.with_findings.setText(_FINDINGS_TEXT))
            session.refreshed.connect(self._recheck)
        self.clear_button.clicked.connect(self.clear)
        self._last: RunFilter | None = None
        session.opened.connect(self._source_opened)
        session.closed.connect(self._source_closed)
        session.evidence_changed.connect(self._evidence_known)

    def _source_opened(self, source, _prepared) -> None:
        self.archived.setVisible(Capability.ARCHIVE in source.info.capabilities)
        self.reset()

    def _source_closed(self) -> None:
        self.archived.hide()
        self.with_findings.setText(_FINDINGS_TEXT)  # a sweep under way ended with the source
        self.set_grades_available(None)

    def _evidence_known(self, _previous: str) -> None:
        state = self._session.evidence_state
        if state is EvidenceState.ERROR:
            self.set_grades_available(False, f"Could not look for the evidence tables: {self._session.evidence_error}")
        else:
            self.set_grades_available(state is EvidenceState.STORE)

    def load_choices(self) -> None:
        """Read the values of status, tenant and agent the source holds (background worker)."""
        source = self._session.source
        if source is None:
            return
        self._choices.renew()

        def choices() -> dict[str, list[str]]:
            return {f: source.distinct_values(f) for f in ("status", "tenant_id", "agent_id")}

        def got(values: dict[str, list[str]]) -> None:
            for f, v in values.items():
                self.set_choices(f, v)

        self._choices.submit(choices, got, lambda e: self._session.report(e, "list filter values"),
                             worker=Worker.BACKGROUND, label="Listing filter values")

    @staticmethod
    def _combo(name: str) -> QComboBox:
        c = QComboBox()
        c.setObjectName(f"filter{name}")
        c.setMinimumContentsLength(10)
        c.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        c.addItem(_ANY)
        return c

    def set_choices(self, field: str, values: list[str]) -> None:
        combo = {"status": self.status, "tenant_id": self.tenant, "agent_id": self.agent}[field]
        current = combo.currentText()
        combo.blockSignals(True)
        combo.clear()
        combo.addItem(_ANY)
        combo.addItems(values)
        i = combo.findText(current)
        combo.setCurrentIndex(max(i, 0))
        combo.blockSignals(False)

    def set_grades_available(self, available: bool | None, why: str | None = None) -> None:
        """Enable the grade choice for a source with an evidence store (``None``: not known yet);
        without one it goes back to "(any)" and says why in its tooltip."""
        self.grade.setEnabled(bool(available))
        self.grade.setToolTip(why or _GRADE_TIPS[available])
        if not available and self.grade.currentIndex() != 0:
            self.grade.setCurrentIndex(0)  # emits: the list drops its grade filter

    def reset(self) -> None:
        """Back to no filter without emitting (a new source starts unfiltered anyway)."""
        self._swept = None
        self.blockSignals(True)
        self.clear()
        self.blockSignals(False)
        self._last = RunFilter()

    def clear(self) -> None:
        for combo in (self.status, self.tenant, self.agent, self.grade):
            combo.blockSignals(True)
            combo.setCurrentIndex(0)
            combo.blockSignals(False)
        for edit in (self.since, self.until, self.search):
            edit.clear()
        for box in (self.archived, self.with_findings):
            box.blockSignals(True)
            box.setChecked(False)
            box.blockSignals(False)
        self._stop_sweep()
        self._emit()

    def set_started(self, since: str | None, until: str | None) -> None:
        """Show the runs started in this span (the runs-over-time chart chose it); None: open."""
        for edit, text in ((self.since, since), (self.until, until)):
            edit.setText(text or "")
            edit.setCursorPosition(0)  # the date first, when the time does not fit
        self._emit()

    # -- runs with findings -------------------------------------------------------------------------

    def _findings_toggled(self, on: bool) -> None:
        if not on:
            self._stop_sweep()
        self._emit()

    def _stop_sweep(self) -> None:
        if self._findings is not None and self._findings.sweeping is not None:
            self._findings.cancel_sweep()
        self.with_findings.setText(_FINDINGS_TEXT)

    def _sweep_progress(self, done: int, total: int) -> None:
        if self.with_findings.isChecked():
            self.with_findings.setText(f"With findings (checking {done:,}/{total:,}…)" if total
                                       else "With findings (listing runs…)")

    def _sweep_ended(self, swept: RunFilter, keys: frozenset[str]) -> None:
        self.with_findings.setText(_FINDINGS_TEXT)
        try:
            typed = self._typed()
        except InspectorError:
            return
        if swept != typed:
            return  # the filter changed since: its own sweep (or result) stands
        self._swept = (swept, keys)
        self._emit()

    def _recheck(self) -> None:
        """The source was read again: its runs' findings may have changed."""
        self._swept = None
        if self.with_findings.isChecked():
            self._emit()

    def current(self) -> RunFilter:
        """The filter as typed, limited to the runs with findings once they are known (With
        findings); raises UsageError for a malformed date."""
        base = self._typed()
        if self.with_findings.isChecked() and self._swept is not None and self._swept[0] == base:
            return replace(base, keys=self._swept[1])
        return base

    def _typed(self) -> RunFilter:

        def pick(c: QComboBox) -> str | None:
            return None if c.currentIndex() <= 0 else c.currentText()

        since = normalise_time_bound(self.since.text()) if self.since.text().strip() else None
        until = normalise_time_bound(self.until.text(), end=True) if self.until.text().strip() else None
        return RunFilter(
            status=pick(self.status),
            tenant_id=pick(self.tenant),
            agent_id=pick(self.agent),
            since=since,
            until=until,
            run_id_prefix=self.search.text().strip() or None,
            include_archived=not self.archived.isHidden() and self.archived.isChecked(),
            grade=pick(self.grade) if self.grade.isEnabled() else None,
        )

    def _emit(self) -> None:
        try:
            flt = self.current()
        except InspectorError as exc:
            sender = self.sender()
            for edit in (self.since, self.until):
                set_invalid(edit, edit is sender)
            self.invalid.emit(str(exc))
            return
        for edit in (self.since, self.until):
            set_invalid(edit, False)
        if self.with_findings.isChecked() and self._findings is not None:
            if flt.keys is None and self._findings.sweeping != flt:
                before = self._last
                self._findings.sweep(flt)  # until it ends, the list shows the other filters' runs
                if self._last is not before:
                    return  # it ended at once (every run checked already) and said so
            elif flt.keys is not None and self._findings.sweeping is not None:
                self._stop_sweep()  # back to a filter already swept: another's sweep is moot
        if flt != self._last:
            self._last = flt
            self.changed.emit(flt)
