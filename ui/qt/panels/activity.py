"""Runs over time, above the runs list: for the list's filter, how many runs started in each
interval and how many of them failed. Dragging across the chart (or clicking a bar) chooses a span
of start times, snapped to whole intervals: the list then shows the runs started in it (the filter
bar's Started fields say so, and clear it). The chart keeps showing the filter's whole span with
the chosen one shaded, so the span can be chosen again. Counts are read on a worker
(``services.activity``): one grouped query on SQLite and Postgres.

pyqtgraph takes ~0.7 s to import: the chart's module is imported on a worker thread once the list
has painted (the GUI thread keeps running), and the counts wait for it in the panel."""

from __future__ import annotations

import importlib
import math
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QTimer, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from inspector.model import RunFilter, parse_timestamp
from ui.format import fmt_count, fmt_interval
from ui.qt.panels.charts import ask_png_path, chart_image
from ui.qt.session.session import SourceSession, Worker
from ui.qt.session.tasks import TaskRunner
from ui.qt.theme import muted

if TYPE_CHECKING:  # numpy loads with it (0.2-0.35 s): on the worker that counts, after the first paint
    from inspector.activity import RunActivity

__all__ = ["RunsActivityPanel", "intervals_for_width", "short_time", "span_bounds"]

#: A pixel width per interval the chart aims at (bars stay wide enough to point at).
_PIXELS_PER_INTERVAL = 7
_CHART_MODULE = "ui.qt.panels.activity_chart"
#: The chart's module is imported once the readers are idle, or after this long (ms).
_QUIET_WAIT_MS = 5000
_QUIET_POLL_MS = 100


def intervals_for_width(pixels: int) -> int:
    """How many intervals to ask for on a chart this many pixels wide."""
    return max(12, min(240, pixels // _PIXELS_PER_INTERVAL))


class RunsActivityPanel(QWidget):
    """The chart with a line saying what it shows, a button back to all start times, and "Save
    PNG…". ``span_chosen(since, until)``: ISO bounds for the filter bar (None, None: all times).
    ``loader`` imports the chart's module off the GUI thread (None: at once, on first use)."""

    span_chosen = Signal(object, object)
    png_requested = Signal(str, QImage)
    loaded = Signal()

    def __init__(self, session: SourceSession, parent: QWidget | None = None, *,
                 loader: TaskRunner | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("runsActivity")
        self._session = session
        self._loader = loader
        self._read = session.scope("activity")
        self._base: RunFilter | None = None
        self._span: tuple[float | None, float | None] = (None, None)
        self._activity: RunActivity | None = None
        self._loading_chart = False
        #: The chart, once its module is imported (``RunsActivityChart``).
        self.chart: Any = None
        self.title = QLabel("Runs over time")
        self.title.setObjectName("activityTitle")
        muted(self.title)
        self.title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.all_button = QPushButton("All times")
        self.all_button.setToolTip("List the runs of every start time (clear Started)")
        self.all_button.setEnabled(False)
        self.all_button.clicked.connect(lambda: self.span_chosen.emit(None, None))
        self.save_button = QPushButton("Save PNG…")
        self.save_button.setToolTip("Save the chart as a PNG image")
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self._save)
        self._room = QWidget()  # where the chart goes
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.title, 1)
        top.addWidget(self.all_button)
        top.addWidget(self.save_button)
        self._layout = QVBoxLayout(self)
        self._layout.setContentsMargins(4, 2, 4, 0)
        self._layout.setSpacing(2)
        self._layout.addLayout(top)
        self._layout.addWidget(self._room, 1)
        session.closed.connect(self.clear)

    @property
    def pending(self) -> bool:
        return self._read.pending or self._loading_chart

    @property
    def activity(self) -> RunActivity | None:
        return self._activity

    def clear(self) -> None:
        self._read.renew()
        self._base = None
        self._activity = None
        self._span = (None, None)
        if self.chart is not None:
            self.chart.set_activity(None)
            self.chart.set_span(None, None)
        self.all_button.setEnabled(False)
        self.save_button.setEnabled(False)
        self.title.setText("Runs over time")

    def show_filter(self, flt: RunFilter, *, reread: bool = False) -> None:
        """The list's filter changed: count its runs per interval again unless only the span of
        start times changed (the chart shows the whole span and shades the chosen part)."""
        if self._session.source is None:
            return
        base = replace(flt, since=None, until=None)
        self._span = (_epoch(flt.since), _epoch(flt.until))
        self.all_button.setEnabled(flt.since is not None or flt.until is not None)
        self._load_chart()
        if reread or base != self._base:
            self._base = base
            self._count(base)
        else:
            self._show()

    # -- the chart, imported off the GUI thread ----------------------------------------------------

    def _load_chart(self) -> None:
        if self.chart is not None or self._loading_chart:
            return
        self._loading_chart = True
        if self._loader is None:
            self._chart_loaded(importlib.import_module(_CHART_MODULE))
        else:
            self._waited = 0
            self._import_when_quiet()

    def _import_when_quiet(self) -> None:
        """Import once the source's readers are idle (or after ``_QUIET_WAIT_MS``): an import
        competing with them for the interpreter held the GUI thread 200 ms at a time, where alone
        it holds it under 40 ms."""
        busy = self._session.pending(Worker.INTERACTIVE, Worker.BACKGROUND, Worker.EVIDENCE) > 0
        if busy and self._waited < _QUIET_WAIT_MS and self._session.source is not None:
            self._waited += _QUIET_POLL_MS
            QTimer.singleShot(_QUIET_POLL_MS, self._import_when_quiet)
            return

        def failed(exc: BaseException) -> None:
            self._loading_chart = False
            self.title.setText(f"Could not load the chart: {exc}")

        assert self._loader is not None
        self._loader.submit(lambda: importlib.import_module(_CHART_MODULE), self._chart_loaded, failed,
                            label="Loading the charts")

    def _chart_loaded(self, module: Any) -> None:
        self._loading_chart = False
        if self.chart is not None:
            return
        self.chart = module.RunsActivityChart()
        self.chart.span_chosen.connect(self._chosen)
        self._layout.replaceWidget(self._room, self.chart)
        self._room.deleteLater()
        self._show()

    # -- counting ------------------------------------------------------------------------------------

    def _count(self, base: RunFilter) -> None:
        source = self._session.source
        self._read.renew()
        width = self.chart.width() if self.chart is not None else self._room.width()
        most = intervals_for_width(max(width, self.width() - 50))
        self.title.setText("Counting runs over time…")

        def done(act: RunActivity) -> None:
            self._activity = act
            self._show()
            self.loaded.emit()

        def failed(exc: BaseException) -> None:
            self._activity = None
            self._show()
            self.title.setText(f"Could not count runs over time: {exc}")
            self._session.report(exc, "count runs over time")

        def count() -> RunActivity:
            from inspector.services.activity import runs_over_time

            return runs_over_time(source, base, max_intervals=most)

        self._read.submit(count, done, failed, worker=Worker.BACKGROUND, label="Counting runs over time")

    def _show(self) -> None:
        act, (lo, hi) = self._activity, self._span
        if self.chart is not None:
            if self.chart.activity is not act:
                self.chart.set_activity(act)
            self.chart.set_span(lo, hi)
        self.save_button.setEnabled(self.chart is not None and act is not None)
        if act is None:
            return
        if not len(act):
            undated = f" ({fmt_count(act.undated)} without a start time)" if act.undated else ""
            self.title.setText(f"No run of this filter has a start time{undated}")
            return
        head = (f"{fmt_count(act.total)} run{'s' if act.total != 1 else ''}, {fmt_count(act.total_failures)} failed, per "
                f"{fmt_interval(act.width)} (UTC)")
        if lo is None and hi is None:
            self.title.setText(f"{head} · drag across the chart to list the runs started then")
            return
        edges = act.edges()
        inside = (edges[:-1] >= (lo if lo is not None else -math.inf)) & (edges[1:] <= (hi if hi is not None else math.inf)
                                                                          + 1e-3)
        shown = int(act.runs[inside].sum())
        since = short_time(lo) if lo is not None else "the first"
        # An inclusive bound a microsecond before an edge reads as that edge.
        until = short_time(round(hi) if abs(hi - round(hi)) < 1e-3 else hi) if hi is not None else "the last"
        self.title.setText(f"{head} · listing those started {since} – {until}: about {fmt_count(shown)}")

    def _chosen(self, lo: float, hi: float) -> None:
        self.span_chosen.emit(*span_bounds(lo, hi))

    def _save(self) -> None:
        if self.chart is None:
            return
        path = ask_png_path(self, "runs-over-time")
        if path:
            self.png_requested.emit(path, chart_image(self.chart))


def span_bounds(lo: float, hi: float) -> tuple[str, str]:
    """The filter bar's Started bounds of the span lo <= t < hi (epoch seconds): whole UTC days as
    dates (an ``until`` date includes its day), else ISO times, ``until`` a microsecond before hi
    (the filter's bounds are inclusive)."""
    if lo % 86400 == 0 and hi % 86400 == 0:
        first = datetime.fromtimestamp(lo, UTC).date()
        last = datetime.fromtimestamp(hi - 86400, UTC).date()
        return first.isoformat(), last.isoformat()
    from inspector.activity import iso_utc

    return iso_utc(lo), iso_utc(hi - 1e-6)


def short_time(epoch_s: float) -> str:
    """An interval bound, to the minute when it is a whole one (clamped to years 1…9999: an
    "until forever" bound ends at 9999-12-31T23:59:59.999999)."""
    try:
        dt = datetime.fromtimestamp(epoch_s, UTC)
    except (OverflowError, OSError, ValueError):
        dt = datetime.max.replace(tzinfo=UTC) if epoch_s > 0 else datetime.min.replace(tzinfo=UTC)
    return f"{dt.year:04d}-{dt:%m-%d %H:%M:%S}".removesuffix(":00")  # %Y drops a year's zeros


def _epoch(bound: str | None) -> float | None:
    dt = parse_timestamp(bound) if bound else None
    return dt.timestamp() if dt is not None else None
