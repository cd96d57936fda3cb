"""The step timeline (pyqtgraph): a waterfall of the selected run's steps, one row per step
(step_index order, top down), a bar from its start for its duration, coloured by status, retries
marked; beside it, sharing its step axis, each row's latency (the longest step it stands for) and
cost. Level of detail: a frame draws at most one bar per pixel row of what is in view
(``inspector.timeline.bucket``), so a 100,000-step run costs what a 1,000-step one does. The
steps are read on a worker as columns; a long run is shown first as an overview (one step in
``stride``, read by an index-only scan: ~35 ms for 100,000 steps on SQLite), then whole. Clicking a bar chooses its step (``step_clicked``);
:meth:`centre_on` brings a step chosen elsewhere into view. Wheel zooms, dragging pans; the
keyboard's arrows pan and +/- zoom. The chart exports as PNG."""

from __future__ import annotations


import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from inspector.model import RunSummary
from inspector.source import StepColumnsSource
from inspector.services.timeline import read_step_columns
from inspector.timeline import STATUS_CODES, StepColumns, bucket
from ui.format import fmt_cost, fmt_duration
from ui.qt.panels.charts import ask_png_path, chart_image, export_png, follow_palette
from ui.qt.session.session import SourceSession, Worker
from ui.qt.theme import MARK_COLORS, muted

__all__ = ["OVERVIEW_ABOVE", "OVERVIEW_ROWS", "StepTimeline", "TimelinePanel", "overview_stride"]

#: Runs longer than this are shown first as an overview of about ``OVERVIEW_ROWS`` steps.
OVERVIEW_ABOVE = 20_000
OVERVIEW_ROWS = 2_000
#: The time axis counts seconds beyond this span (ms).
_SECONDS_ABOVE_MS = 10_000.0
#: Bar marks by status code (success, skipped, unknown, retry, failure): the same in both
#: schemes (each stays ≥ 3:1 against the chart's light and dark Base).
_COLOURS = {code: MARK_COLORS[f"bar_{name}"] for code, name in
            ((0, "success"), (1, "skipped"), (2, "unknown"), (3, "retry"), (4, "failure"))}
_NAMES = {code: status.value for status, code in STATUS_CODES.items()}


class _StepRows(pg.GraphicsObject):
    """An item with a row per step: the columns it draws, how many steps a row stands for, and
    bounds ``row_width(cols)`` wide and a row a step tall."""

    def __init__(self) -> None:
        super().__init__()
        self.cols: StepColumns | None = None
        self._bounds = QRectF()
        self.stride = 1

    def row_width(self, cols: StepColumns) -> float:
        raise NotImplementedError

    def set_columns(self, cols: StepColumns | None, stride: int = 1) -> None:
        """``stride`` > 1: the columns hold one step in ``stride`` (an overview), each drawn
        ``stride`` rows tall so the axis still counts steps."""
        self.prepareGeometryChange()
        self.cols = cols
        self.stride = stride
        self._bounds = QRectF() if cols is None or not len(cols) else \
            QRectF(0.0, 0.0, self.row_width(cols), float(len(cols) * stride))
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return self._bounds


class _Bars(_StepRows):
    """The bars: drawn from buckets of what is in view, recomputed on every paint."""

    def __init__(self) -> None:
        super().__init__()
        self._brushes = {code: QBrush(QColor(c)) for code, c in _COLOURS.items()}
        self._retry_pen = QPen(QColor(MARK_COLORS["bar_retry"]))
        self._retry_pen.setCosmetic(True)
        self._retry_pen.setWidth(2)
        self.drawn = 0

    def row_width(self, cols: StepColumns) -> float:
        return max(float(np.nanmax(cols.end)), 1.0)

    def paint(self, painter: QPainter, *_args) -> None:
        cols, vb = self.cols, self.getViewBox()
        if cols is None or not len(cols) or vb is None:
            self.drawn = 0
            return
        (x0, x1), (y0, y1) = vb.viewRange()
        pixels = max(1, int(vb.height()))
        b = bucket(cols, y0 / self.stride, y1 / self.stride, pixels)
        self.drawn = len(b)
        painter.scale(1.0, float(self.stride))  # rows of the overview, in steps
        painter.setPen(Qt.PenStyle.NoPen)
        # A bar at least a pixel wide, so a 1 ms step shows on a 3-hour axis.
        min_w = (x1 - x0) / max(1.0, vb.width())
        for code, brush in self._brushes.items():
            sel = np.flatnonzero(b.status == code)
            if not len(sel):
                continue
            painter.setBrush(brush)
            left, right, first, last = b.left[sel], b.right[sel], b.first[sel], b.last[sel]
            painter.drawRects([QRectF(float(lx), float(f) + 0.1, max(float(rx - lx), min_w), float(la - f) + 0.8)
                               for lx, rx, f, la in zip(left, right, first, last, strict=True)])
        retried = np.flatnonzero(b.retries > 0)
        if len(retried):
            painter.setPen(self._retry_pen)
            for i in retried:
                y = float(b.first[i]) + 0.5
                painter.drawLine(QPointF(float(b.left[i]) - min_w * 3, y), QPointF(float(b.left[i]), y))


class _MetricBars(_StepRows):
    """One value per step row (a bucket's longest duration, or its costliest step) as a bar from 0,
    drawn from the same buckets as the timeline beside it."""

    def __init__(self, which: str, colour: str) -> None:
        super().__init__()
        self.which = which
        self._brush = QBrush(QColor(colour))

    def row_width(self, cols: StepColumns) -> float:
        top = float((cols.duration if self.which == "duration" else cols.cost).max())
        # Nothing above zero (steps of 0 ms, free steps): a unit axis, not one scaled by 1e-9.
        return top if top > 0 else 1.0

    def paint(self, painter: QPainter, *_args) -> None:
        cols, vb = self.cols, self.getViewBox()
        if cols is None or not len(cols) or vb is None:
            return
        (_x0, _x1), (y0, y1) = vb.viewRange()
        b = bucket(cols, y0 / self.stride, y1 / self.stride, max(1, int(vb.height())))
        values = b.max_duration if self.which == "duration" else b.cost
        painter.scale(1.0, float(self.stride))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self._brush)
        painter.drawRects([QRectF(0.0, float(f) + 0.1, float(v), float(la - f) + 0.8)
                           for f, la, v in zip(b.first, b.last, values, strict=True)])


class StepTimeline(pg.PlotWidget):
    """The chart itself: y = step row (top down), x = ms after the run's first step."""

    step_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background=None)
        self.setObjectName("stepTimeline")
        self.bars = _Bars()
        self.addItem(self.bars)
        item = self.getPlotItem()
        item.invertY(True)
        item.setLabel("bottom", "ms after the first step")
        item.getAxis("bottom").enableAutoSIPrefix(False)
        item.setLabel("left", "step")
        item.showGrid(x=True, y=False, alpha=0.2)
        item.setMenuEnabled(False)
        self.getViewBox().setMouseMode(pg.ViewBox.PanMode)
        self.cols: StepColumns | None = None
        self.setMouseTracking(True)
        self.scene().sigMouseClicked.connect(self._clicked)
        self.scene().sigMouseMoved.connect(self._moved)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        follow_palette(self)

    @property
    def stride(self) -> int:
        """1, or how many steps a row of an overview stands for."""
        return self.bars.stride

    def set_columns(self, cols: StepColumns | None, stride: int = 1, *, keep_view: bool = False) -> None:
        """Show these columns (``stride``: an overview's) and the whole run, unless ``keep_view``
        (the whole columns replacing their overview: the user may have zoomed already)."""
        self.cols = cols
        self.bars.set_columns(cols, stride)
        # A long run reads in seconds (3,500 s, not 3.5e+06 ms); the data stay in ms.
        seconds = cols is not None and len(cols) > 0 and float(np.nanmax(cols.end)) > _SECONDS_ABOVE_MS
        axis = self.getPlotItem().getAxis("bottom")
        axis.setScale(0.001 if seconds else 1.0)
        self.getPlotItem().setLabel("bottom", "s after the first step" if seconds else "ms after the first step")
        if cols is not None and len(cols) and not keep_view:
            self.getViewBox().setRange(self.bars.boundingRect(), padding=0.02)

    def row_at(self, scene_pos: QPointF) -> int | None:
        if self.cols is None or not len(self.cols):
            return None
        p = self.getViewBox().mapSceneToView(scene_pos)
        row = int(np.floor(p.y() / self.stride))
        return row if 0 <= row < len(self.cols) else None

    def _clicked(self, event) -> None:
        row = self.row_at(event.scenePos())
        if row is not None and self.cols is not None:
            self.step_clicked.emit(int(self.cols.index[row]))

    def _moved(self, pos: QPointF) -> None:
        row = self.row_at(pos)
        if row is None or self.cols is None:
            self.setToolTip("")
            return
        c = self.cols
        self.setToolTip(f"step {int(c.index[row])} · {_NAMES[int(c.status[row])]} · starts at {fmt_duration(c.start[row])} · "
                        f"{fmt_duration(c.duration[row])} · {fmt_cost(c.cost[row])}"
                        + (f" · {int(c.retries[row])} retries" if c.retries[row] else ""))

    def centre_on(self, step_index: int) -> None:
        """Bring a step into view (the tree chose it), keeping the zoom."""
        if self.cols is None:
            return
        row = self.cols.position_of(step_index)
        if row is None:
            return
        vb = self.getViewBox()
        (x0, x1), (y0, y1) = vb.viewRange()
        half = (y1 - y0) / 2
        start = float(self.cols.start[row])
        row *= self.stride
        width = x1 - x0
        vb.setRange(xRange=(start - width / 2, start + width / 2) if not x0 <= start <= x1 else (x0, x1),
                    yRange=(row + 0.5 - half, row + 0.5 + half), padding=0)

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt's name
        vb = self.getViewBox()
        (x0, x1), (y0, y1) = vb.viewRange()
        dx, dy = (x1 - x0) / 10, (y1 - y0) / 10
        key = event.key()
        if key == Qt.Key.Key_Left:
            vb.translateBy(x=-dx)
        elif key == Qt.Key.Key_Right:
            vb.translateBy(x=dx)
        elif key == Qt.Key.Key_Up:
            vb.translateBy(y=-dy)
        elif key == Qt.Key.Key_Down:
            vb.translateBy(y=dy)
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal):
            vb.scaleBy((0.8, 0.8))
        elif key == Qt.Key.Key_Minus:
            vb.scaleBy((1.25, 1.25))
        else:
            super().keyPressEvent(event)

    def export_png(self, path: str) -> bool:
        """The chart as a PNG (pyqtgraph's SVG exporter is broken on Qt 6.11+)."""
        return export_png(self, path)


class TimelinePanel(QWidget):
    """The dock's content: a line about the run and the chart."""

    loaded = Signal(str)
    #: An overview of a long run is shown (its key); the whole run follows.
    overview_shown = Signal(str)
    png_requested = Signal(str, QImage)

    def __init__(self, session: SourceSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._read = session.scope("timeline")
        self.key: str | None = None
        self.title = QLabel("Select a run: its steps on a time axis.")
        self.title.setObjectName("timelineTitle")
        muted(self.title)
        self.fit_button = QPushButton("Fit")
        self.fit_button.setToolTip("Show the whole run")
        self.fit_button.clicked.connect(self.fit)
        self.save_button = QPushButton("Save PNG…")
        self.save_button.setToolTip("Save the timeline, latency and cost charts as a PNG image")
        self.save_button.clicked.connect(self._save)
        self.chart = StepTimeline()
        # Latency and cost per step, sharing the timeline's step axis (its rows).
        self.latency = self._metric_plot("duration", MARK_COLORS["bar_latency"], "longest step (ms)")
        self.cost = self._metric_plot("cost", MARK_COLORS["bar_cost"], "costliest step (¢)")
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.fit_button)
        top.addWidget(self.save_button)
        self.charts = QWidget()
        charts = QHBoxLayout(self.charts)
        charts.setContentsMargins(0, 0, 0, 0)
        charts.setSpacing(0)
        charts.addWidget(self.chart, 5)
        charts.addWidget(self.latency, 1)
        charts.addWidget(self.cost, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addLayout(top)
        layout.addWidget(self.charts, 1)

    def _metric_plot(self, which: str, colour: str, label: str) -> pg.PlotWidget:
        plot = pg.PlotWidget(background=None)
        plot.setObjectName(f"timeline_{which}")
        bars = _MetricBars(which, colour)
        plot.addItem(bars)
        plot.bars = bars  # type: ignore[attr-defined]
        item = plot.getPlotItem()
        item.invertY(True)
        item.setLabel("bottom", label)
        item.getAxis("bottom").enableAutoSIPrefix(False)  # 0.005, not "× 0.001"
        item.hideAxis("left")
        item.setMenuEnabled(False)
        plot.setYLink(self.chart)
        plot.setMouseEnabled(x=False, y=True)
        follow_palette(plot)
        return plot

    @property
    def pending(self) -> bool:
        return self._read.pending

    def _save(self) -> None:
        path = ask_png_path(self, f"timeline-{self.key or 'run'}")
        if path:
            self.png_requested.emit(path, chart_image(self.charts))

    def fit(self) -> None:
        self.chart.set_columns(self.chart.cols, self.chart.stride)

    def _set_columns(self, cols: StepColumns, stride: int = 1, *, keep_view: bool = False) -> None:
        for plot in (self.latency, self.cost):
            plot.bars.set_columns(cols, stride)  # type: ignore[attr-defined]
            if len(cols):
                plot.setXRange(0, plot.bars.boundingRect().width(), padding=0.05)  # type: ignore[attr-defined]
        self.chart.set_columns(cols, stride, keep_view=keep_view)

    def show_run(self, run: RunSummary) -> None:
        """Read the run's steps as columns on the worker (a read for another run is dropped). A
        long run on a source with a column read is shown first as an overview (one step in
        ``stride``, ~2,000 rows: an index-only scan), then whole."""
        source = self._session.source
        if source is None:
            return
        self._read.renew()
        self.key = run.key
        self.title.setText(f"Reading the steps of {run.run_id}…")
        key = run.key
        total = run.total_steps or 0
        stride = overview_stride(total) if isinstance(source, StepColumnsSource) else 1
        shown: dict[str, bool] = {"overview": False}

        def overview(cols: StepColumns) -> None:
            # Step indices with gaps give a thin sample: then only the whole read is shown.
            if len(cols) * stride * 2 < total:
                return
            shown["overview"] = True
            self._set_columns(cols, stride)
            self.title.setText(f"Run {run.run_id}: an overview of its {total:,} steps (one in {stride}); "
                               "reading them all…")
            self.overview_shown.emit(key)

        def done(cols: StepColumns) -> None:
            self._set_columns(cols, keep_view=shown["overview"])
            span = float(np.nanmax(cols.end)) if len(cols) else 0.0
            self.title.setText(f"Run {run.run_id}: {len(cols):,} step{'s' if len(cols) != 1 else ''} over "
                               f"{fmt_duration(span)} "
                               "(wheel: zoom · drag: pan · click: choose the step)")
            self.loaded.emit(key)

        def failed(exc: BaseException) -> None:
            self.title.setText(f"Could not read the steps of {run.run_id}: {exc}")
            self._session.report(exc, f"read the timeline of {run.run_id}")

        if stride > 1:
            self._read.submit(lambda: read_step_columns(source, key, every=stride), overview, failed,
                              worker=Worker.BACKGROUND, label="Reading an overview of the steps")
        self._read.submit(lambda: read_step_columns(source, key), done, failed, worker=Worker.BACKGROUND,
                          label="Reading the step timeline")


def overview_stride(total_steps: int) -> int:
    """How many steps a row of the first overview stands for (1: no overview, the run is short)."""
    return 1 if total_steps <= OVERVIEW_ABOVE else -(-total_steps // OVERVIEW_ROWS)
