"""What the GUI benchmarks and screenshot scripts share: when a widget paints, the median of a
list, waiting for a window to settle."""

from __future__ import annotations

import statistics
import time

__all__ = ["PaintWatch", "median", "pct", "rss_mb", "wait"]


def wait(app, until, timeout=60.0) -> None:
    """Turn the event loop until ``until()`` holds, then a little longer (paints settle)."""
    end = time.monotonic() + timeout
    while not until():
        if time.monotonic() > end:
            raise TimeoutError("the window did not settle")
        app.processEvents()
        time.sleep(0.02)
    for _ in range(20):
        app.processEvents()
        time.sleep(0.02)


def rss_mb() -> float:
    """This process's resident memory (Linux)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def pct(xs, p):
    """The p-th percentile (nearest rank) of a list, NaN when it is empty."""
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def median(xs):
    return statistics.median(xs) if xs else float("nan")


class PaintWatch:
    """Records the ``time.perf_counter()`` of every paint of a widget (e.g. a view's viewport),
    and in ``ready`` those of the paints for which ``ready()`` held as they began."""

    def __init__(self, widget, ready=None):
        from PySide6.QtCore import QEvent, QObject

        class _Filter(QObject):
            def __init__(self) -> None:
                super().__init__()
                self.times: list[float] = []
                self.ready: list[float] = []

            def eventFilter(self, obj, ev):
                if ev.type() == QEvent.Type.Paint:
                    now = time.perf_counter()
                    self.times.append(now)
                    if ready is not None and ready():
                        self.ready.append(now)
                return False

        self.filter = _Filter()
        widget.installEventFilter(self.filter)

    @property
    def times(self) -> list[float]:
        return self.filter.times

    @property
    def ready(self) -> list[float]:
        return self.filter.ready
