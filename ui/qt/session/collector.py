"""Garbage collection on the GUI thread only.

CPython collects reference cycles in whichever thread happens to allocate when a generation's
threshold is crossed: often a worker reading a database. A cycle that holds a Qt object (a widget's
Python wrapper, a closure over one) is then destroyed on that worker while the GUI thread uses
it, and the process crashes: the test suite did, about one run in seven, "Garbage-collecting" on a
worker in ``QObject::~QObject``. pyqtgraph's ``GarbageCollector`` is the known cure and this is
it: automatic collection off, the same thresholds checked from a timer on the GUI thread.

The check keeps the interpreter's two rules that bound a pause: it runs often (every 20 ms), so a
young generation never holds more than a few thousand objects (every 250 ms let 30,000 pile up
while pages of steps streamed in: 18 ms of CPU a collection), and a full collection waits until
the objects that reached the old generation since the last one are a quarter of those it kept
(CPython's ``long_lived_pending > long_lived_total / 4``; without it every tenth middle
collection was a full one). The app also freezes what it made to start (``freeze_startup``):
a full collection then walks only what came after, about 6 ms of CPU instead of 65–115 ms.
"""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

__all__ = ["GuiThreadCollector"]


class GuiThreadCollector(QObject):
    """While it lives, cycles are collected by :meth:`check`, called from a timer on the GUI
    thread (and by whoever wants a check now, e.g. between tests); ``stop()`` gives collection
    back to the interpreter."""

    def __init__(self, interval_ms: int = 20, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.threshold = gc.get_threshold()
        self._was_enabled = gc.isenabled()
        gc.disable()
        self.collections = 0
        self.full_collections = 0
        #: Objects in the old generation after the last full collection (CPython's
        #: long_lived_total), and those moved into it since (long_lived_pending).
        self._long_lived = len(gc.get_objects(2))
        self._pending = 0
        self.frozen = False
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.check)
        self._timer.start()

    def check(self) -> int:
        """Collect the generations whose thresholds are crossed, as the interpreter would have;
        the number of objects collected."""
        counts = gc.get_count()
        if counts[0] <= self.threshold[0]:
            return 0
        self.collections += 1
        if counts[1] <= self.threshold[1]:
            return gc.collect(0)
        if counts[2] > self.threshold[2] and self._pending > self._long_lived // 4:
            found = gc.collect(2)
            self.full_collections += 1
            self._long_lived = len(gc.get_objects(2))  # once per full collection
            self._pending = 0
            return found
        # A middle collection moves what survives of the young generations into the old one:
        # counted from their sizes (small), never by listing the old generation (12 ms or more).
        young = len(gc.get_objects(0)) + len(gc.get_objects(1))
        found = gc.collect(1)
        self._pending += max(0, young - found)
        return found

    def freeze_startup(self) -> None:
        """Put what the application made to start (modules, classes, the main window) out of
        the collector's sight, once: it lives as long as the process, and every full collection
        walked it all (about 100 ms of CPU). CPython's ``gc.freeze``, after a last collection."""
        if self.frozen:
            return
        gc.collect()
        gc.freeze()
        self.frozen = True
        self._long_lived = len(gc.get_objects(2))
        self._pending = 0

    def stop(self) -> None:
        self._timer.stop()
        if self.frozen:
            gc.unfreeze()
            self.frozen = False
        if self._was_enabled:
            gc.enable()
