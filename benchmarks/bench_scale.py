"""A million steps in the real main window, offscreen, with a 10 ms heartbeat on the GUI thread:
prints one JSON line of figures (issue 14). Asserts nothing.

    python benchmarks/generate_large_db.py --out /tmp/1m.db --runs 2000 --steps 1100000 \\
        --big-run-steps 1000000 --payload-scale 0.3
    python benchmarks/bench_scale.py /tmp/1m.db [RUN_ID] [--pages 200] [--timeout 60]

RUN_ID defaults to the run with the most steps. Keys:

- ``click_to_steps_ms``: select the run in the list → its first steps painted in the step table;
  ``count_known_ms``: → the table has all the run's rows;
- ``page_paint_p95_ms`` / ``page_paint_max_ms``: Page Down in the table, until the rows in view
  are read and painted, over ``--pages`` pages;
- ``jump_to_end_ms``: Ctrl+End until the run's last step is read and painted (likewise
  ``jump_to_start_ms``, ``go_to_middle_ms``; ``next_retry_ms``/``next_failure_ms``: the jump bar,
  ``*_found`` whether one was found);
- ``scroll_all_max_stall_ms``: the longest the heartbeat waited while paging down through 20,000
  rows and dragging the scroll bar to 25/50/75/100 % (``drag_paint_max_ms``: the slowest drag);
- ``*_busy_ms``: the GUI thread's own CPU time between two heartbeats, beside each wall-clock
  stall (on a shared machine a stall with little CPU is the thread waiting for a core);
  ``load_average`` at the end;
- ``rss_after_visiting_mb``: resident memory after dragging through the whole run in 500 stops
  (``visit_max_stall_ms`` the longest wait meanwhile, ``pages_read``/``pages_kept``);
- ``search_first_hit_ms`` / ``search_rare_hit_ms``: Find in Run's first hit of a common word
  ("request") and of a text found once, 90 % into the run (``search_max_stall_ms``: meanwhile).

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
        self.last_cpu = time.thread_time()
        self.gaps: list[float] = []
        #: The GUI thread's own CPU time between ticks (ms): a long gap with little CPU is the
        #: thread waiting for a CPU on a busy machine, not work of ours.
        self.busy: list[float] = []
        #: What the benchmark was doing, and the ticks over 50 ms of CPU by it.
        self.phase = "start"
        self.busy_phases: list[str] = []
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(self._tick)
        self.timer.start()

    def _tick(self) -> None:
        now = self.clock.nsecsElapsed()
        cpu = time.thread_time()
        if self.last:
            self.gaps.append((now - self.last) / 1e6)
            self.busy.append((cpu - self.last_cpu) * 1000)
            if self.busy[-1] > 50:
                self.busy_phases.append(self.phase)
        self.last = now
        self.last_cpu = cpu

    def mark(self) -> int:
        return len(self.gaps)

    def max_since(self, mark: int) -> float:
        # A gap is how long the loop was away beyond the timer's own 10 ms.
        return max((g - 10.0 for g in self.gaps[mark:]), default=0.0)

    def max_busy_since(self, mark: int) -> float:
        """The most CPU the GUI thread spent between two ticks (ms)."""
        return max(self.busy[mark:], default=0.0)


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

    from ui.qt.app import collector, create_window, make_application
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
    beat.phase = "open"
    w.open_location(str(args.db))
    spin(lambda: w.runs_model.rowCount() > 0)
    w.filters.search.setText(run_id)
    w.filters.search.editingFinished.emit()
    spin(lambda: w.runs_model.row_of(run_id) is not None and w.session.pending(Worker.INTERACTIVE) == 0)
    spin(lambda: w.session.pending(Worker.INTERACTIVE, Worker.BACKGROUND) == 0, timeout=30)
    collector(app).freeze_startup()  # as run_gui does FREEZE_AFTER_MS after the window shows

    # Click the run: its first steps painted.
    beat.phase = "click"
    view, model = w.steps_view, w.steps_model
    watch = PaintWatch(view.viewport())
    t0 = time.perf_counter()
    w.runs_view.selectRow(w.runs_model.row_of(run_id))
    spin(lambda: model.rowCount() > 0)
    marker = len(watch.times)
    spin(lambda: len(watch.times) > marker)
    out["click_to_steps_ms"] = round((watch.times[-1] - t0) * 1000, 1) if watch.times else None
    spin(lambda: model.row_map is not None and w.session.pending(Worker.INTERACTIVE) == 0)
    out["count_known_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    view.setFocus()
    view.setCurrentIndex(model.index(0, 0))
    app.processEvents()

    def settled() -> bool:
        """Every row in the view is read and the read painted."""
        first = view.rowAt(0)
        last = view.rowAt(view.viewport().height() - 2)
        last = model.rowCount() - 1 if last < 0 else last
        return first < 0 or (model.step_at(first) is not None and model.step_at(last) is not None)

    ready = PaintWatch(view.viewport(), ready=settled)

    def act(do) -> float:
        """Do something to the table; ms to the first paint of its rows all read (the reads it
        causes included)."""
        t0 = time.perf_counter()
        marker = len(ready.ready)
        do()
        spin(lambda: settled() and len(ready.ready) > marker and w.session.pending(Worker.INTERACTIVE) == 0)
        return (ready.ready[marker] - t0) * 1000 if len(ready.ready) > marker else float("nan")

    def key(k, mod=Qt.KeyboardModifier.NoModifier) -> float:
        return act(lambda: QTest.keyClick(view, k, mod))

    # Page Down: the next paint, reads included.
    beat.phase = "page down"
    mark = beat.mark()
    pages = [key(Qt.Key.Key_PageDown) for _ in range(args.pages)]
    out["page_paint_p95_ms"] = round(pct(pages, 95), 1) if pages else None
    out["page_paint_max_ms"] = round(max(pages), 1) if pages else None
    out["page_down_max_stall_ms"] = round(beat.max_since(mark), 1)
    out["page_down_max_busy_ms"] = round(beat.max_busy_since(mark), 1)

    # Ctrl+End: the last step read and painted.
    beat.phase = "jumps"
    out["jump_to_end_ms"] = round(key(Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier), 1)
    out["jump_to_end_last_row"] = model.step_index_at(model.rowCount() - 1)
    out["jump_to_end_last_painted"] = model.step_at(model.rowCount() - 1) is not None
    # Ctrl+Home, then Go to step (the middle of the run).
    out["jump_to_start_ms"] = round(key(Qt.Key.Key_Home, Qt.KeyboardModifier.ControlModifier), 1)
    middle = model.step_index_at(model.rowCount() // 2)
    out["go_to_middle_ms"] = round(act(lambda: view.select_step(middle)), 1)
    for name, what, backward in (("next_retry_ms", "retry", False), ("next_failure_ms", "failure", False)):
        from inspector.source import StepSeek

        before = view.current_step_index()
        t0 = time.perf_counter()
        w.steps_panel.seek(StepSeek(what), backward=backward)
        spin(lambda: w.session.pending(Worker.INTERACTIVE) == 0 and (view.current_step_index() != before
                                                                      or w.steps_panel.note.text().startswith("No")))
        out[name] = round((time.perf_counter() - t0) * 1000, 1)
        out[name.replace("_ms", "_found")] = view.current_step_index() != before

    # Page down through 20,000 rows, then drag the scroll bar: the heartbeat's longest wait.
    beat.phase = "scroll"
    mark = beat.mark()
    view.setCurrentIndex(model.index(0, 0))
    view.scrollToTop()
    app.processEvents()
    rows_per_page = max(1, view.viewport().height() // max(1, view.rowHeight(0)))
    deadline = time.perf_counter() + args.timeout
    for _ in range(20_000 // rows_per_page):
        key(Qt.Key.Key_PageDown)
        if time.perf_counter() > deadline:
            out["scroll_all_gave_up_after_s"] = args.timeout
            break
    bar = view.verticalScrollBar()
    drags = []
    for share in (0.25, 0.5, 0.75, 1.0):
        drags.append(act(lambda share=share: bar.setValue(int(bar.maximum() * share))))
    out["drag_paint_max_ms"] = round(max(drags), 1)
    out["scroll_all_max_stall_ms"] = round(beat.max_since(mark), 1)
    out["scroll_all_max_busy_ms"] = round(beat.max_busy_since(mark), 1)

    # Visit the whole run: the scroll bar dragged through it in 500 stops.
    beat.phase = "visit"
    mark = beat.mark()
    t0 = time.perf_counter()
    for i in range(501):
        act(lambda i=i: bar.setValue(int(bar.maximum() * i / 500)))
    out["visit_whole_run_s"] = round(time.perf_counter() - t0, 1)
    out["visit_max_stall_ms"] = round(beat.max_since(mark), 1)
    out["rows"] = model.rowCount()
    out["pages_read"] = model.pages_read
    out["pages_kept"] = model.pages_kept
    out["rss_after_visiting_mb"] = round(rss_mb())

    # Find in Run (the dock): a common word's first hit, and a text found once, 90 % into the run.
    beat.phase = "search"
    from bench_search import rare_text

    w.run_docks.search_dock.show()
    panel = w.run_docks.search_panel
    panel.show_run(w.current_run())
    mark = beat.mark()
    for name, text in (("search_first_hit_ms", "request"), ("search_rare_hit_ms", rare_text(args.db, run_id, total))):
        panel.query.setText(text)
        t0 = time.perf_counter()
        panel.start()
        spin(lambda: panel.model.rowCount() > 0 or not panel.searching)
        out[name] = round((time.perf_counter() - t0) * 1000, 1) if panel.model.rowCount() else None
        panel.cancel()
        spin(lambda: not panel.searching)
    out["search_max_stall_ms"] = round(beat.max_since(mark), 1)
    out["heartbeat_max_stall_ms"] = round(beat.max_since(0), 1)
    out["heartbeat_max_busy_ms"] = round(beat.max_busy_since(0), 1)
    out["heartbeat_busy_over_50ms"] = beat.busy_phases
    out["load_average"] = round(os.getloadavg()[0], 2)
    w.shutdown()
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
