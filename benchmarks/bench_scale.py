"""A million steps in the real main window, offscreen, with a 10 ms heartbeat on the GUI thread:
prints one JSON line of figures (issue 14). Asserts nothing.

    python benchmarks/generate_large_db.py --out /tmp/1m.db --runs 2000 --steps 1100000 \\
        --big-run-steps 1000000 --payload-scale 0.3
    python benchmarks/bench_scale.py /tmp/1m.db [RUN_ID] [--pages 200] [--timeout 60]

RUN_ID defaults to the run with the most steps. Keys:

- ``click_to_steps_ms``: select the run in the list → its first steps painted in the tree;
- ``page_paint_p95_ms`` / ``page_paint_max_ms``: Page Down in the tree, to the next paint (the
  fetches it causes included), over ``--pages`` pages;
- ``jump_to_end_ms``: Ctrl+End, again until the run's last step is painted (null when
  ``--timeout`` passes first, with ``jump_to_end_rows`` the rows reached);
- ``scroll_all_max_stall_ms``: the longest the heartbeat waited while paging down through 20,000
  rows and dragging the scroll bar to 25/50/75/100 %;
- ``rss_after_mb``: resident memory at the end, and ``rows_loaded`` then;
- ``search_first_hit_ms``: null until the tree has a search.

Every figure is measured here, in this run; ``heartbeat_max_stall_ms`` is the longest gap over the
whole benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from paintwatch import PaintWatch, pct, rss_mb  # noqa: E402


class Heartbeat:
    """A 10 ms timer on the GUI thread; ``gaps`` are the waits between its ticks (ms)."""

    def __init__(self) -> None:
        from PySide6.QtCore import QElapsedTimer, QTimer

        self.clock = QElapsedTimer()
        self.clock.start()
        self.last = 0
        self.gaps: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = self.clock.nsecsElapsed()
        if self.last:
            self.gaps.append((now - self.last) / 1e6)
        self.last = now

    def mark(self) -> int:
        return len(self.gaps)

    def max_since(self, mark: int) -> float:
        # A gap is how long the loop was away beyond the timer's own 10 ms.
        return max((g - 10.0 for g in self.gaps[mark:]), default=0.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("db", type=Path)
    ap.add_argument("run_id", nargs="?")
    ap.add_argument("--pages", type=int, default=200)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds a phase may take before it gives up")
    args = ap.parse_args()
    run_id = args.run_id
    con = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    if run_id is None:
        run_id = con.execute("SELECT run_id FROM trace_steps GROUP BY run_id ORDER BY COUNT(*) DESC LIMIT 1").fetchone()[0]
    total = con.execute("SELECT COUNT(*) FROM trace_steps WHERE run_id = ?", (run_id,)).fetchone()[0]
    con.close()

    from PySide6.QtCore import QSettings, Qt
    from PySide6.QtTest import QTest

    from ui.qt.app import create_window, make_application
    from ui.qt.session.session import Worker

    app = make_application()
    settings = QSettings(str(Path(os.environ.get("TMPDIR", "/tmp")) / "bench-scale.ini"), QSettings.Format.IniFormat)
    out: dict[str, object] = {"db": args.db.name, "run_id": run_id, "steps": total}

    def spin(until, timeout: float = args.timeout) -> bool:
        end = time.perf_counter() + timeout
        while not until():
            if time.perf_counter() > end:
                return False
            app.processEvents()
            time.sleep(0.0005)
        return True

    w = create_window(settings)
    w.resize(1280, 800)
    w.show()
    beat = Heartbeat()
    w.open_location(str(args.db))
    spin(lambda: w.runs_model.rowCount() > 0)
    w.filters.search.setText(run_id)
    w.filters.search.editingFinished.emit()
    spin(lambda: w.runs_model.row_of(run_id) is not None and w.session.pending(Worker.INTERACTIVE) == 0)
    spin(lambda: w.session.pending(Worker.INTERACTIVE, Worker.BACKGROUND) == 0, timeout=30)

    # Click the run: its first steps painted.
    view, model = w.steps_view, w.steps_model
    watch = PaintWatch(view.viewport())
    t0 = time.perf_counter()
    w.runs_view.selectRow(w.runs_model.row_of(run_id))
    spin(lambda: model.rowCount(model.top_index()) > 0)
    marker = len(watch.times)
    spin(lambda: len(watch.times) > marker)
    out["click_to_steps_ms"] = round((watch.times[-1] - t0) * 1000, 1) if watch.times else None
    spin(lambda: w.session.pending(Worker.INTERACTIVE) == 0)
    top = model.top_index()
    view.setFocus()
    view.setCurrentIndex(model.index(0, 0, top))
    app.processEvents()

    def key(k, mod=Qt.KeyboardModifier.NoModifier) -> float:
        """Press a key in the tree; ms to the next paint (the fetch it starts included)."""
        marker = len(watch.times)
        t0 = time.perf_counter()
        QTest.keyClick(view, k, mod)
        spin(lambda: len(watch.times) > marker and w.session.pending(Worker.INTERACTIVE) == 0, timeout=args.timeout)
        return (watch.times[-1] - t0) * 1000 if len(watch.times) > marker else float("nan")

    # Page Down: the next paint, fetches included.
    pages = [key(Qt.Key.Key_PageDown) for _ in range(args.pages)]
    out["page_paint_p95_ms"] = round(pct(pages, 95), 1) if pages else None
    out["page_paint_max_ms"] = round(max(pages), 1) if pages else None

    # Ctrl+End until the last step is painted.
    t0 = time.perf_counter()
    end = t0 + args.timeout
    while time.perf_counter() < end:
        key(Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
        last = model.index(model.rowCount(top) - 1, 0, top)
        if model.rowCount(top) >= total and view.visualRect(last).isValid():
            break
    reached = model.rowCount(top)
    out["jump_to_end_ms"] = round((time.perf_counter() - t0) * 1000, 1) if reached >= total else None
    out["jump_to_end_rows"] = reached

    # Page down through 20,000 rows, then drag the scroll bar: the heartbeat's longest wait.
    mark = beat.mark()
    view.setCurrentIndex(model.index(0, 0, top))
    view.scrollToTop()
    app.processEvents()
    rows_per_page = max(1, view.viewport().height() // max(1, view.sizeHintForRow(0)))
    deadline = time.perf_counter() + args.timeout
    for _ in range(20_000 // rows_per_page):
        key(Qt.Key.Key_PageDown)
        if time.perf_counter() > deadline:
            out["scroll_all_gave_up_after_s"] = args.timeout
            break
    bar = view.verticalScrollBar()
    for share in (0.25, 0.5, 0.75, 1.0):
        bar.setValue(int(bar.maximum() * share))
        spin(lambda: w.session.pending(Worker.INTERACTIVE) == 0, timeout=args.timeout)
        app.processEvents()
    out["scroll_all_max_stall_ms"] = round(beat.max_since(mark), 1)
    out["rows_loaded"] = model.rowCount(top)
    out["rss_after_mb"] = round(rss_mb())
    out["search_first_hit_ms"] = None
    out["heartbeat_max_stall_ms"] = round(beat.max_since(0), 1)
    w.shutdown()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
