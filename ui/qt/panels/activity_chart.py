"""The runs-over-time chart itself (pyqtgraph, loaded off the GUI thread by
:class:`~ui.qt.panels.activity.RunsActivityPanel`): bars per interval on a UTC date axis, a drag or
click chooses a span of whole intervals."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from inspector.activity import RunActivity
from ui.format import fmt_count
from ui.qt.panels.activity import short_time
from ui.qt.panels.charts import follow_palette
from ui.qt.theme import MARK_COLORS

__all__ = ["RunsActivityChart"]

_RUNS_COLOUR = MARK_COLORS["bar_runs"]
_FAILED_COLOUR = MARK_COLORS["bar_failed_runs"]
_REGION_COLOUR = QColor(MARK_COLORS["span_fill"])


class _UtcAxis(pg.DateAxisItem):
    """UTC dates that say which month they are in (pyqtgraph's show a day as ``04``)."""

    def __init__(self) -> None:
        super().__init__(orientation="bottom", utcOffset=0)

    def tickStrings(self, values, scale, spacing):  # noqa: N802 - pyqtgraph's name
        if spacing >= 28 * 86400:
            fmt = "%Y-%m"
        elif spacing >= 86400:
            fmt = "%b %d"
        elif spacing >= 60:
            fmt = "%b %d %H:%M"
        else:
            fmt = "%H:%M:%S"
        out = []
        for v in values:
            try:
                out.append(datetime.fromtimestamp(v, UTC).strftime(fmt))
            except (OverflowError, OSError, ValueError):
                out.append("")
        return out


class _DragBox(pg.ViewBox):
    """A view box whose left drag chooses a span along x instead of panning."""

    def __init__(self, chart: RunsActivityChart) -> None:
        super().__init__(enableMenu=False)
        self._chart = chart
        self.setMouseEnabled(x=False, y=False)

    def mouseDragEvent(self, ev, axis=None) -> None:  # noqa: N802 - pyqtgraph's name
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        x0 = self.mapSceneToView(ev.buttonDownScenePos()).x()
        x1 = self.mapSceneToView(ev.scenePos()).x()
        self._chart.drag(min(x0, x1), max(x0, x1), finished=ev.isFinish())

    def mouseClickEvent(self, ev) -> None:  # noqa: N802 - pyqtgraph's name
        if ev.button() != Qt.MouseButton.LeftButton:
            ev.ignore()
            return
        ev.accept()
        x = self.mapSceneToView(ev.scenePos()).x()
        self._chart.drag(x, x, finished=True)


class RunsActivityChart(pg.PlotWidget):
    """Bars per interval (runs; failed runs over them in red) on a UTC date axis. ``span_chosen``
    gives the chosen span's bounds (epoch seconds, whole intervals) when a drag or click ends."""

    span_chosen = Signal(float, float)

    def __init__(self, parent: QWidget | None = None) -> None:
        self.box = _DragBox(self)
        super().__init__(parent, viewBox=self.box, axisItems={"bottom": _UtcAxis()})
        self.setObjectName("runsActivityChart")
        self.activity: RunActivity | None = None
        item = self.getPlotItem()
        item.setMenuEnabled(False)
        item.hideButtons()
        item.getAxis("left").setWidth(38)
        item.showGrid(x=False, y=True, alpha=0.15)
        self.runs_bars = pg.BarGraphItem(x0=[0.0], x1=[0.0], height=[0], brush=_RUNS_COLOUR, pen=None)
        self.failed_bars = pg.BarGraphItem(x0=[0.0], x1=[0.0], height=[0], brush=_FAILED_COLOUR, pen=None)
        self.region = pg.LinearRegionItem(movable=False, brush=_REGION_COLOUR, pen=pg.mkPen(MARK_COLORS["span_edge"], width=1))
        self.region.setZValue(10)
        self.region.hide()
        for it in (self.runs_bars, self.failed_bars, self.region):
            self.addItem(it)
        self.runs_bars.hide()
        self.failed_bars.hide()
        self.setMouseTracking(True)
        self.scene().sigMouseMoved.connect(self._moved)
        follow_palette(self)

    def set_activity(self, act: RunActivity | None) -> None:
        self.activity = act
        if act is None or not len(act):
            self.runs_bars.hide()
            self.failed_bars.hide()
            return
        edges = act.edges()
        self.runs_bars.setOpts(x0=edges[:-1], x1=edges[1:], height=act.runs)
        self.failed_bars.setOpts(x0=edges[:-1], x1=edges[1:], height=act.failures)
        self.runs_bars.show()
        self.failed_bars.show()
        top = int(act.runs.max())
        # Counts are whole: below 6, a tick per run rather than 0.2, 0.4…
        self.getPlotItem().getAxis("left").setTicks([[(v, str(v)) for v in range(top + 1)]] if top < 6 else None)
        self.box.setRange(xRange=(act.start, act.end), yRange=(0, max(1, int(act.runs.max())) * 1.08),
                          padding=0.01)

    def set_span(self, lo: float | None, hi: float | None) -> None:
        """Shade the span the filter lists (either bound may be open: the chart's end)."""
        act = self.activity
        if lo is None and hi is None:
            self.region.hide()
            return
        left = lo if lo is not None else (act.start if act is not None and len(act) else hi)
        right = hi if hi is not None else (act.end if act is not None and len(act) else lo)
        self.region.setRegion((left, right))
        self.region.show()

    def snap(self, x0: float, x1: float) -> tuple[float, float] | None:
        """The whole intervals a span touches, within the chart's (None without data)."""
        act = self.activity
        if act is None or not len(act):
            return None
        i0 = int(np.clip(np.floor((x0 - act.start) / act.width), 0, len(act) - 1))
        i1 = int(np.clip(np.floor((x1 - act.start) / act.width), 0, len(act) - 1))
        return act.start + i0 * act.width, act.start + (i1 + 1) * act.width

    def drag(self, x0: float, x1: float, *, finished: bool) -> None:
        span = self.snap(x0, x1)
        if span is None:
            return
        self.region.setRegion(span)
        self.region.show()
        if finished:
            self.span_chosen.emit(*span)

    def interval_at(self, scene_pos: QPointF) -> int | None:
        act = self.activity
        if act is None or not len(act):
            return None
        x = self.box.mapSceneToView(scene_pos).x()
        i = int(np.floor((x - act.start) / act.width))
        return i if 0 <= i < len(act) else None

    def _moved(self, pos: QPointF) -> None:
        i = self.interval_at(pos)
        act = self.activity
        if i is None or act is None:
            self.setToolTip("")
            return
        lo = act.start + i * act.width
        self.setToolTip(f"{short_time(lo)} – {short_time(lo + act.width)} UTC: {fmt_count(int(act.runs[i]))} runs, "
                        f"{fmt_count(int(act.failures[i]))} failed")
