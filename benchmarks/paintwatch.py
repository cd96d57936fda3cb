"""What the GUI benchmarks share: when a widget paints, and the median of a list."""

from __future__ import annotations

import statistics
import time

__all__ = ["PaintWatch", "median"]


def median(xs):
    return statistics.median(xs) if xs else float("nan")


class PaintWatch:
    """Records the ``time.perf_counter()`` of every paint of a widget (e.g. a view's viewport)."""

    def __init__(self, widget):
        from PySide6.QtCore import QEvent, QObject

        class _Filter(QObject):
            def __init__(self) -> None:
                super().__init__()
                self.times: list[float] = []

            def eventFilter(self, obj, ev):
                if ev.type() == QEvent.Type.Paint:
                    self.times.append(time.perf_counter())
                return False

        self.filter = _Filter()
        widget.installEventFilter(self.filter)

    @property
    def times(self) -> list[float]:
        return self.filter.times
