"""The Consistency, Timeline and Find in Run docks of the main window: made on first use, read for the selected
run only while shown, and tied to the rest of the window (a finding brings its panels forward; a
bar of the timeline chooses its step, a step chosen in the tree is brought into view)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Qt

from inspector.consistency import Violation
from inspector.integrity import EvidenceClass
from inspector.model import RunSummary
from inspector.services.consistency import RunCheck, step_of
from ui.qt.panels.consistency import ConsistencyPanel
from ui.qt.panels.docks import AutoDock

if TYPE_CHECKING:  # pyqtgraph loads when the Timeline is first shown
    from ui.qt.panels.search import SearchPanel
    from ui.qt.panels.timeline import TimelinePanel
    from ui.qt.main_window import MainWindow

__all__ = ["RunDocks"]


class RunDocks(QObject):
    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._w = window
        self.consistency_dock = AutoDock("Consistency", "consistencyDock", window, holds=lambda: False)
        self.timeline_dock = AutoDock("Timeline", "timelineDock", window, holds=lambda: False)
        self.search_dock = AutoDock("Find in Run", "searchDock", window, holds=lambda: False)
        for dock in (self.consistency_dock, self.timeline_dock, self.search_dock):
            window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
        window.tabifyDockWidget(window.evidence_dock, self.consistency_dock)
        window.tabifyDockWidget(self.consistency_dock, self.timeline_dock)
        window.tabifyDockWidget(self.timeline_dock, self.search_dock)
        self._consistency: ConsistencyPanel | None = None
        self._timeline: TimelinePanel | None = None
        self._search: SearchPanel | None = None
        self.search_dock.opened.connect(lambda: self.search_panel.show_run(window.current_run()))
        self.consistency_dock.opened.connect(lambda: self.show_consistency(window.current_run()))
        self.timeline_dock.opened.connect(lambda: self.show_timeline(window.current_run()))
        window.steps_view.step_chosen.connect(
            lambda _key, row: self._timeline is not None and self._timeline.chart.centre_on(row.step_index))

    def show_run(self, run: RunSummary | None) -> None:
        self.show_consistency(run)
        self.show_timeline(run)
        if self._search is not None:
            self._search.show_run(run)  # a search of the run shown before stops

    # -- consistency ---------------------------------------------------------------------------------

    @property
    def consistency_panel(self) -> ConsistencyPanel:
        if self._consistency is None:
            self._consistency = ConsistencyPanel(self._w.session)
            self._consistency.finding_chosen.connect(self._show_finding)
            self._consistency.step_requested.connect(self._timeline_step)
            self.consistency_dock.setWidget(self._consistency)
        return self._consistency

    def show_consistency(self, run: RunSummary | None) -> None:
        """Check the selected run's panels, only while the dock is shown."""
        if run is None or not self.consistency_dock.isVisible():
            return
        panel = self.consistency_panel
        if panel.pending and panel.run_id == run.run_id:
            return
        if panel.current is not None and panel.current.key == run.key:
            return  # shown already (choosing the tab again checks nothing again)
        panel.show_run(run.key, run.run_id)

    def _show_finding(self, finding: Violation, checked: RunCheck | None) -> None:
        """A finding was chosen: bring the panels it involves forward, with the rows involved
        selected (the run in the list; the step a compared signal comes from, else the run, in
        the tree; the evidence card or the logs tab that holds the signal)."""
        w = self._w
        slots = finding.slots_involved
        if checked is not None and ("runs_list" in slots or "step_tree" in slots):
            current = w.current_run()
            if (current is None or current.key != checked.key) and not w.select_run(checked.key):
                return  # the run is no longer listed: its steps are not the tree's
        if any(s in ("evidence", "integrity") for s in slots) and w.session.evidence is not None:
            w.evidence_dock.show()
            w.evidence_dock.raise_()
            card = EvidenceClass.G_PROVIDER.value if "evidence" in slots else EvidenceClass.J_INTEGRITY.value
            panel = w.evidence_panel
            if card in panel.cards:
                panel.card_tabs.setCurrentWidget(panel.cards[card])
        elif any(s in ("llm_record", "audit") for s in slots) and w.session.logs is not None:
            w.logs_dock.show()
            w.logs_dock.raise_()
            tab = "llm" if "llm_record" in slots else "audit"
            if tab in w.logs_panel.tabs:
                w.logs_panel.setCurrentIndex(w.logs_panel.tab_index(tab))
        if "step_tree" in slots:
            index = step_of(finding, checked.slots) if checked is not None else None
            if index is not None:
                self._timeline_step(index)
            else:
                w.run_tree_view.select_top()
            w.steps_view.setFocus()
        elif "runs_list" in slots:
            w.runs_view.setFocus()

    # -- timeline ---------------------------------------------------------------------------------------

    @property
    def timeline_panel(self) -> TimelinePanel:
        """Made on first use (pyqtgraph loads then)."""
        if self._timeline is None:
            from ui.qt.panels.timeline import TimelinePanel

            self._timeline = TimelinePanel(self._w.session)
            self._timeline.chart.step_clicked.connect(self._timeline_step)
            self._timeline.png_requested.connect(self._w.save_png)
            self.timeline_dock.setWidget(self._timeline)
        return self._timeline

    def show_timeline(self, run: RunSummary | None) -> None:
        if run is None or run.orphan or not self.timeline_dock.isVisible():
            return
        panel = self.timeline_panel
        if panel.key != run.key:
            panel.show_run(run)

    def _timeline_step(self, step_index: int) -> None:
        """A bar was clicked (a finding or a search hit chosen): select that step in the table."""
        w = self._w
        if not w.steps_panel.show_step(step_index):
            w.bus.info(f"The selected run has no step {step_index}")

    # -- find in run --------------------------------------------------------------------------------

    @property
    def search_panel(self) -> SearchPanel:
        if self._search is None:
            from ui.qt.panels.search import SearchPanel

            self._search = SearchPanel(self._w.session)
            self._search.hit_chosen.connect(self._search_hit)
            self.search_dock.setWidget(self._search)
        return self._search

    def find_in_run(self, text: str | None = None) -> None:
        """Show the Find in Run dock, its text box focused; with ``text`` (the step table's find
        bar, "Whole Run…"), search for it."""
        self.search_dock.show()
        self.search_dock.raise_()
        panel = self.search_panel
        panel.focus_query()
        if text:
            # The run whose steps the table shows (a replay chosen in the run tree, too).
            panel.show_run(self._w.steps_model.run or self._w.current_run())
            panel.query.setText(text)
            panel.start()

    def _search_hit(self, hit) -> None:
        """A hit was chosen: its step (of another run, in whole-database mode: that run first)."""
        w = self._w
        current = w.current_run()
        if current is None or current.key != hit.key:
            if not w.select_run(hit.key):
                w.bus.info(f"Run {hit.run_id} is not in the runs list (clear the filters to show it).")
                return
        self._timeline_step(hit.step_index)
