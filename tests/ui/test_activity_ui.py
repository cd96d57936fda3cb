"""Runs over time above the runs list: counts read on a worker for the list's filter, a drag (the
mouse's, through pyqtgraph's scene) chooses a span of start times that filters the list, the
filter bar shows it and "All times" clears it; the chart follows the palette and saves as PNG."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPalette
from PySide6.QtWidgets import QApplication
from PySide6.QtTest import QTest

from inspector.model import RunFilter, parse_timestamp
from tests.ui.test_main_window import WAIT, idle, open_and_wait

pytestmark = pytest.mark.gui


def _loaded(qtbot, w):
    qtbot.waitUntil(lambda: w.activity.activity is not None and not w.activity.pending, timeout=WAIT)
    idle(qtbot, w)
    return w.activity.activity


def _viewport_point(chart, x: float, y: float):
    scene = chart.box.mapViewToScene(QPointF(x, y))
    return chart.mapFromScene(scene)


def _mouse(widget, kind, pos, button, buttons):
    local = QPointF(pos)
    event = QMouseEvent(kind, local, QPointF(widget.mapToGlobal(pos)), button, buttons,
                        Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def _drag(widget, start, end, steps: int = 10):
    """A left-button drag as the window system sends it (QTest's moves carry no held button)."""
    left, none = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton
    _mouse(widget, QEvent.Type.MouseButtonPress, start, left, left)
    for k in range(1, steps + 1):
        QTest.qWait(5)
        _mouse(widget, QEvent.Type.MouseMove, start + (end - start) * k / steps, none, left)
    _mouse(widget, QEvent.Type.MouseButtonRelease, end, left, none)


def test_dragging_across_the_chart_filters_the_list(qtbot, make_window, small_db):
    w = make_window()
    w.show()
    open_and_wait(qtbot, w, small_db)
    act = _loaded(qtbot, w)
    assert act.total == w.source.count_runs(RunFilter()) == 30
    assert act.total_failures == 6
    assert "30 runs, 6 failed" in w.activity.title.text()
    assert not w.activity.all_button.isEnabled()
    # Drag with the mouse from inside the 2nd interval holding runs to inside the 4th.
    busy = np.flatnonzero(act.runs)
    first, last = int(busy[1]), int(busy[3])
    chart = w.activity.chart
    qtbot.waitUntil(lambda: chart.isVisible() and chart.box.width() > 200, timeout=WAIT)
    qtbot.wait(50)  # the layout settles: the view's mapping is final
    y = float(act.runs.max()) / 2
    start = _viewport_point(chart, act.start + (first + 0.5) * act.width, y)
    end = _viewport_point(chart, act.start + (last + 0.5) * act.width, y)
    with qtbot.waitSignal(w.filters.changed, timeout=WAIT):
        _drag(chart.viewport(), start, end)
    idle(qtbot, w)
    flt = w.runs_model.run_filter
    lo, hi = act.start + first * act.width, act.start + (last + 1) * act.width
    assert parse_timestamp(flt.since).timestamp() == lo
    assert hi - 1e-3 < parse_timestamp(flt.until).timestamp() < hi
    assert w.filters.since.text() == flt.since and w.filters.until.text() == flt.until
    expected = int(act.runs[first:last + 1].sum())
    assert w.source.count_runs(flt) == expected, (expected, w.source.count_runs(flt), act.runs.tolist(), flt)
    qtbot.waitUntil(lambda: w.runs_model.rowCount() == expected, timeout=WAIT)
    # The chart still shows the whole span (not read again), with the chosen part shaded.
    assert w.activity.activity is act
    assert tuple(chart.region.getRegion()) == pytest.approx((lo, parse_timestamp(flt.until).timestamp()))
    assert f"about {expected}" in w.activity.title.text()
    # "All times" lists every run again.
    assert w.activity.all_button.isEnabled()
    w.activity.all_button.click()
    idle(qtbot, w)
    assert w.runs_model.run_filter.since is None and w.filters.since.text() == ""
    qtbot.waitUntil(lambda: w.runs_model.rowCount() == 30 + 1, timeout=WAIT)  # and the orphan run id
    assert not chart.region.isVisible()


def test_another_filter_is_counted_again_and_a_click_picks_one_interval(qtbot, make_window, small_db):
    w = make_window()
    open_and_wait(qtbot, w, small_db)
    _loaded(qtbot, w)
    w.filters.status.setCurrentIndex(w.filters.status.findText("failed"))
    qtbot.waitUntil(lambda: w.activity.activity is not None and w.activity.activity.total == 6, timeout=WAIT)
    act = _loaded(qtbot, w)
    assert act.total_failures == 6
    i = int(np.flatnonzero(act.runs)[0])
    with qtbot.waitSignal(w.activity.span_chosen, timeout=WAIT) as sig:
        w.activity.chart.drag(act.start + (i + 0.3) * act.width, act.start + (i + 0.3) * act.width, finished=True)
    assert parse_timestamp(sig.args[0]).timestamp() == act.start + i * act.width
    idle(qtbot, w)
    qtbot.waitUntil(lambda: w.runs_model.rowCount() == int(act.runs[i]), timeout=WAIT)
    assert w.activity.activity is act  # only the span changed: nothing read again
    w.session.close()
    qtbot.waitUntil(lambda: w.activity.activity is None, timeout=WAIT)
    assert w.activity.title.text() == "Runs over time"


def test_the_chart_follows_the_palette_and_saves_a_png(qtbot, make_window, small_db, tmp_path):
    w = make_window()
    open_and_wait(qtbot, w, small_db)
    _loaded(qtbot, w)
    chart = w.activity.chart
    axis = chart.getPlotItem().getAxis("bottom")
    dark = QPalette(chart.palette())
    dark.setColor(QPalette.ColorRole.WindowText, QColor("#e6e6e6"))
    dark.setColor(QPalette.ColorRole.Base, QColor("#1e1e1e"))
    chart.setPalette(dark)
    assert axis.textPen().color().name() == "#e6e6e6"
    assert chart.backgroundBrush().color().name() == "#1e1e1e"
    path = tmp_path / "activity.png"
    w.save_png(str(path), w.activity.chart.grab().toImage())
    qtbot.waitUntil(lambda: w.disk.pending == 0 and path.exists(), timeout=WAIT)
    assert path.read_bytes().startswith(b"\x89PNG")
    w.save_png(str(tmp_path / "missing" / "x.png"), chart.grab().toImage())
    qtbot.waitUntil(lambda: "Could not save" in w.banner.label.text(), timeout=WAIT)


def test_span_bounds_read_as_dates_when_they_are_whole_days():
    from datetime import UTC, datetime

    from inspector.model import normalise_time_bound
    from ui.qt.panels.activity import span_bounds

    day = datetime(2026, 10, 9, tzinfo=UTC).timestamp()
    since, until = span_bounds(day, day + 5 * 86400)
    assert (since, until) == ("2026-10-09", "2026-10-13")
    # The same instants as the ISO bounds: the 9th's first microsecond to the 13th's last.
    assert parse_timestamp(normalise_time_bound(since)).timestamp() == day
    assert parse_timestamp(normalise_time_bound(until, end=True)).timestamp() == pytest.approx(day + 5 * 86400 - 1e-6)
    since, until = span_bounds(day + 3600, day + 7200)
    assert (since, until) == ("2026-10-09T01:00:00+00:00", "2026-10-09T01:59:59.999999+00:00")


def test_an_until_forever_bound_reads_as_the_last_day():
    from inspector.model import normalise_time_bound
    from ui.qt.panels.activity import short_time

    forever = parse_timestamp(normalise_time_bound("9999-12-31", end=True)).timestamp()
    assert short_time(round(forever)).startswith("9999-12-31")
    assert short_time(-1e20).startswith("0001-01-01")
