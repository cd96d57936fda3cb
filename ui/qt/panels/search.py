"""The Find in Run dock: text searched in the selected run's step payloads (``inspector.services.search``,
as ``trace-inspector search``), the hits listed as they stream in from a worker, with progress and
Cancel; choosing a hit (``hit_chosen``) selects its step. In "whole database" mode the search goes
through the source's full-text index (SQLite files), which is built on request (its size said
first), with progress, and can be deleted.

A search runs in a scope: a new search, another run, Cancel or a closed source renew it, which
stops the worker at its next page and drops whatever it still delivers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QModelIndex, Signal
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from inspector.errors import InspectorError, QueryCancelled
from inspector.model import RunSummary
from inspector.services.search import IndexedSource, IndexStatus, SearchHit, SearchQuery, search_index, search_run
from ui.format import fmt_bytes
from ui.qt.models.records import RECORD_ROLE, Column, RecordTableModel, record_table_view, texts_for
from ui.qt.session.session import SourceSession, Worker

__all__ = ["HIT_COLUMNS", "MAX_HITS", "SearchPanel"]

#: Hits listed at most: the search stops there (a common word can match every step).
MAX_HITS = 10_000

HIT_COLUMNS = (
    Column("Run", lambda h: h.run_id, 22),
    Column("Step", lambda h: str(h.step_index), 7, numeric=True),
    Column("Field", lambda h: h.field, 13),
    Column("Excerpt", lambda h: h.excerpt, 80),
)


class _HitModel(RecordTableModel):
    def append(self, hits: list[SearchHit]) -> None:
        if not hits:
            return
        n = len(self._records)
        self.beginInsertRows(QModelIndex(), n, n + len(hits) - 1)
        self._records.extend(hits)
        self._texts.extend(texts_for(self.columns, hits))
        self.endInsertRows()


class _Inbox:
    """Hits found on the worker, waiting for the GUI thread to take them (on a progress signal)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: list[SearchHit] = []

    def put(self, hit: SearchHit) -> bool:
        """True when the box was empty (the GUI should be told)."""
        with self._lock:
            self._hits.append(hit)
            return len(self._hits) == 1

    def take(self) -> list[SearchHit]:
        with self._lock:
            hits, self._hits = self._hits, []
            return hits


class SearchPanel(QWidget):
    #: A hit was chosen: the SearchHit (its ``key`` and ``step_index`` name the step).
    hit_chosen = Signal(object)
    #: A search ended (completed, stopped at MAX_HITS, cancelled or failed): the number of hits.
    finished = Signal(int)

    def __init__(self, session: SourceSession, parent: QWidget | None = None, *, cache_dir: str | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._cache_dir = cache_dir
        self._search = session.scope("search")
        self._index_work = session.scope("search-index")
        self.run: RunSummary | None = None
        self.searching = False
        self.index_status: IndexStatus | None = None
        self.estimate: int | None = None

        self.query = QLineEdit()
        self.query.setObjectName("searchText")
        self.query.setPlaceholderText("Text in params, outcome data, error codes…")
        self.query.setClearButtonEnabled(True)
        self.query.returnPressed.connect(self.start)
        self.whole = QCheckBox("Whole database")
        self.whole.setObjectName("searchWholeDatabase")
        self.whole.setToolTip("Search every run through the source's full-text index (SQLite files)")
        self.whole.toggled.connect(self._mode_changed)
        self.search_button = QPushButton("Search")
        self.search_button.setObjectName("searchStart")
        self.search_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("searchCancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.setEnabled(False)
        top = QHBoxLayout()
        top.addWidget(self.query, 1)
        top.addWidget(self.whole)
        top.addWidget(self.search_button)
        top.addWidget(self.cancel_button)

        self.index_label = QLabel()
        self.index_label.setObjectName("searchIndexStatus")
        self.build_button = QPushButton("Build Index")
        self.build_button.setObjectName("searchBuildIndex")
        self.build_button.clicked.connect(self.build_index)
        self.delete_button = QPushButton("Delete Index")
        self.delete_button.setObjectName("searchDeleteIndex")
        self.delete_button.clicked.connect(self.delete_index)
        self.index_row = QWidget()
        row = QHBoxLayout(self.index_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.index_label, 1)
        row.addWidget(self.build_button)
        row.addWidget(self.delete_button)
        self.index_row.hide()

        self.status = QLabel()
        self.status.setObjectName("searchProgress")
        self.model = _HitModel(HIT_COLUMNS, self)
        self.view = record_table_view(self.model, "searchHits")
        self.view.clicked.connect(self._chosen)
        self.view.activated.connect(self._chosen)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addLayout(top)
        layout.addWidget(self.index_row)
        layout.addWidget(self.status)
        layout.addWidget(self.view, 1)
        self._set_status("Type text and press Search: the selected run's steps are searched.")
        session.closed.connect(self._source_closed)
        session.opened.connect(lambda *_: self.whole.isChecked() and self._refresh_index())

    # -- state --------------------------------------------------------------------------------------

    def _set_status(self, text: str) -> None:
        self.status.setText(text)

    def _busy(self, busy: bool) -> None:
        self.searching = busy
        self.cancel_button.setEnabled(busy)

    def focus_query(self) -> None:
        self.query.setFocus()
        self.query.selectAll()

    def _index(self):
        source = self._session.source
        return source.payload_index(self._cache_dir) if isinstance(source, IndexedSource) else None

    def show_run(self, run: RunSummary | None) -> None:
        """The run searched from now on: a search of another run stops and its hits go."""
        if run is not None and self.run is not None and run.key == self.run.key:
            return
        self.run = run
        if not self.whole.isChecked():
            self.stop("Type text and press Search: the selected run's steps are searched." if run is not None
                      else "Select a run to search its steps.")

    def _source_closed(self) -> None:
        """The source went: its search, index work and hits go with it."""
        self._index_work.renew()
        self.run = None
        self.index_status = self.estimate = None
        self.stop("Select a run to search its steps.")

    def stop(self, text: str = "") -> None:
        """Stop the search (its late hits are dropped) and clear the list."""
        self._search.renew()
        self._busy(False)
        self.model.clear()
        self._set_status(text)

    def cancel(self) -> None:
        """Cancel: the search stops at its next page; the hits found so far stay listed."""
        if self._index_work.pending:
            self._index_work.renew()
            self._set_status("Index build cancelled.")
            self._refresh_index()
        if self.searching:
            self._search.renew()
            self._busy(False)
            self._set_status(f"Cancelled: {self.model.rowCount():,} hit(s) so far.")
            self.finished.emit(self.model.rowCount())

    # -- searching ----------------------------------------------------------------------------------

    def start(self) -> None:
        text = self.query.text()
        try:
            query = SearchQuery(text)
        except InspectorError as exc:
            self._set_status(str(exc))
            return
        source = self._session.source
        if source is None:
            self._set_status("No source is open.")
            return
        if self.whole.isChecked():
            index = self._index()
            if index is None or self.index_status is None or not self.index_status.ready:
                self._set_status("Build the index first to search the whole database.")
                return
            self._run(lambda cancelled, put, _progress: [put(h) for h in search_index(
                index, query, limit=MAX_HITS, cancelled=cancelled)],
                      f"Searching the index for {text!r}…", "the database")
            return
        run = self.run
        if run is None:
            self._set_status("Select a run to search its steps.")
            return

        def work(cancelled: Callable[[], bool], put: Callable[[SearchHit], Any],
                 progress: Callable[[int, int], None]) -> None:
            n = 0
            for hit in search_run(source, run.key, query, progress=progress, cancelled=cancelled):
                put(hit)
                n += 1
                if n >= MAX_HITS:
                    raise _Full

        self._run(work, f"Searching run {run.run_id} for {text!r}…", f"run {run.run_id}")

    def _run(self, work, started: str, where: str) -> None:
        self.stop(started)
        self._busy(True)
        inbox = _Inbox()
        seen = [0, 0]
        scope_generation = self._search.generation

        def fn(progress) -> str:
            cancelled = lambda: progress.cancelled  # noqa: E731

            def put(hit: SearchHit) -> None:
                if inbox.put(hit):
                    progress(seen[0], seen[1])  # the GUI takes the box at once

            def moved(done: int, total: int) -> None:
                seen[0], seen[1] = done, total
                progress(done, total)

            try:
                work(cancelled, put, moved)
            except _Full:
                return "full"
            return "done"

        def drain() -> None:
            if self._search.generation == scope_generation:
                self.model.append(inbox.take())

        def moved(done: int, total: int) -> None:
            drain()
            hits = self.model.rowCount()
            self._set_status(f"Searching {where}: {done:,} of {total:,} steps, {hits:,} hit(s)…" if total
                             else f"Searching {where}: {hits:,} hit(s)…")

        def done(outcome: str) -> None:
            drain()
            self._busy(False)
            hits = self.model.rowCount()
            if outcome == "full":
                self._set_status(f"Stopped at {hits:,} hits in {where}: make the text more specific.")
            else:
                self._set_status(f"{hits:,} hit(s) in {where}." if hits else f"Nothing found in {where}.")
            self.finished.emit(hits)

        def failed(exc: BaseException) -> None:
            drain()
            self._busy(False)
            if isinstance(exc, QueryCancelled):
                self._set_status(f"Cancelled: {self.model.rowCount():,} hit(s) so far.")
            else:
                why = str(exc) if isinstance(exc, InspectorError) else f"internal error ({type(exc).__name__}: {exc})"
                self._set_status(f"The search failed: {why}")
                if not isinstance(exc, InspectorError):
                    self._session.report(exc, "search the steps")
            self.finished.emit(self.model.rowCount())

        self._search.submit(fn, done, failed, worker=Worker.CHECKING, label="Searching the steps",
                            on_progress=moved)

    def _chosen(self, index) -> None:
        hit = self.model.data(index, RECORD_ROLE)
        if isinstance(hit, SearchHit):
            self.hit_chosen.emit(hit)

    # -- the index ----------------------------------------------------------------------------------

    def _mode_changed(self, whole: bool) -> None:
        self.stop("Search every run through the full-text index." if whole
                  else "Type text and press Search: the selected run's steps are searched.")
        self.index_row.setVisible(whole)
        if whole:
            self._refresh_index()

    def _refresh_index(self) -> None:
        """Read the index's state (and, when there is none, what a build would take) on a worker."""
        index = self._index()
        self.build_button.setEnabled(False)
        self.delete_button.setEnabled(False)
        if index is None:
            self.index_label.setText("This source has no full-text index (SQLite files only): search one run "
                                     "at a time.")
            return
        self.index_label.setText("Reading the index's state…")

        def read() -> tuple[IndexStatus, int | None]:
            status = index.status()
            return status, (None if status.ready else index.estimate())

        self._index_work.submit(read, self._show_index, self._index_failed, worker=Worker.BACKGROUND,
                                label="Reading the search index")

    def _show_index(self, result: tuple[IndexStatus, int | None]) -> None:
        status, estimate = result
        self.index_status, self.estimate = status, estimate
        if status.ready:
            self.index_label.setText(f"Index ready: {status.steps:,} steps, {fmt_bytes(status.size_bytes)} "
                                     f"(built {status.built_at}).")
            self.build_button.setText("Rebuild Index")
        else:
            why = "out of date (the source changed)" if status.state == "stale" else "not built"
            self.index_label.setText(f"Index {why}: building it takes about {fmt_bytes(estimate or 0)} "
                                     "in your cache folder.")
            self.build_button.setText("Build Index")
        self.build_button.setEnabled(True)
        self.delete_button.setEnabled(status.state != "none")

    def _index_failed(self, exc: BaseException) -> None:
        self._busy(False)
        if isinstance(exc, QueryCancelled):
            self.index_label.setText("Index build cancelled.")
        else:
            why = str(exc) if isinstance(exc, InspectorError) else f"internal error ({type(exc).__name__}: {exc})"
            self.index_label.setText(f"The index failed: {why}")
        self.build_button.setEnabled(True)

    def build_index(self) -> None:
        index = self._index()
        if index is None:
            return
        self._index_work.renew()
        self.stop()
        self.build_button.setEnabled(False)
        self.delete_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        size = f" (about {fmt_bytes(self.estimate)})" if self.estimate else ""
        self.index_label.setText(f"Building the index{size}…")

        def moved(done: int, total: int) -> None:
            self.index_label.setText(f"Building the index{size}: {done:,} of {total:,} steps…")

        def built(status: IndexStatus) -> None:
            self.cancel_button.setEnabled(False)
            self._show_index((status, None))

        self._index_work.submit(lambda progress: index.build(progress, lambda: progress.cancelled), built,
                                self._index_failed, worker=Worker.GRADING, label="Building the search index",
                                on_progress=moved)

    def delete_index(self) -> None:
        index = self._index()
        if index is None:
            return
        self._index_work.renew()
        self._index_work.submit(index.delete, lambda _existed: self._refresh_index(), self._index_failed,
                                worker=Worker.BACKGROUND, label="Deleting the search index")


class _Full(Exception):
    """The search found MAX_HITS: it stops there."""
