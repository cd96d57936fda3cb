"""Benchmarks of the desktop app on a large upstream-shaped SQLite DB, each beside its raw floor
measured in the same run (plain sqlite3 doing the same read). Prints figures; asserts nothing.

    python benchmarks/bench_gui.py --db benchmarks/data/large.db
    python benchmarks/bench_gui.py --small      # builds a 200k-step DB first (about a minute)

Measured:
1. open the DB to a painted first page of the runs list, vs (sqlite3 first page + an empty
   window's first paint); target ≤ 1.5× and < 1 s;
2. click the largest run to its first painted page of steps; target ≤ 100 ms;
3. scroll through that run a page at a time: time to paint each page; target ≤ 16 ms;
4. resident memory with that run open (and after scrolling through all of it); target ≤ 300 MB.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from paintwatch import PaintWatch, median, pct, rss_mb


def floor_first_page(path: Path) -> float:
    t0 = time.perf_counter()
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    con.execute("SELECT name FROM sqlite_master WHERE type='table'").fetchall()
    con.execute("SELECT COUNT(*) FROM traces").fetchone()
    rows = con.execute(
        "SELECT run_id, correlation_id, tenant_id, agent_id, status, started_at, completed_at, metadata "
        "FROM traces ORDER BY started_at DESC, run_id DESC LIMIT 200"
    ).fetchall()
    ids = [r[0] for r in rows]
    con.execute(
        f"SELECT run_id, COUNT(*), SUM(status='success'), SUM(status='failure'), TOTAL(cost_cents), TOTAL(duration_ms) "
        f"FROM trace_steps WHERE run_id IN ({','.join('?' * len(ids))}) GROUP BY run_id",
        ids,
    ).fetchall()
    con.close()
    return time.perf_counter() - t0


def floor_first_steps(path: Path, run_id: str, n: int) -> float:
    t0 = time.perf_counter()
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    con.execute(
        "SELECT id, run_id, step_index, skill_name, status, outcome_category, outcome_code, cost_cents, "
        "duration_ms, retry_count, timestamp FROM trace_steps WHERE run_id = ? ORDER BY step_index LIMIT ?",
        (run_id, n),
    ).fetchall()
    con.close()
    return time.perf_counter() - t0


def biggest_run(path: Path) -> tuple[str, int]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    row = con.execute("SELECT run_id, COUNT(*) c FROM trace_steps GROUP BY run_id ORDER BY c DESC LIMIT 1").fetchone()
    con.close()
    return row[0], row[1]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", type=Path, default=ROOT / "benchmarks" / "data" / "large.db")
    ap.add_argument("--small", action="store_true", help="build and use a 10k-run / 200k-step DB")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--scroll-pages", type=int, default=600,
                    help="pages to scroll in step 3 (0 = the whole run; ~75 ms a page offscreen)")
    args = ap.parse_args()
    db = args.db
    if args.small:
        db = ROOT / "benchmarks" / "data" / "small.db"
    if not db.exists():
        size = ["--runs", "10000", "--steps", "200000", "--big-run-steps", "100000"] if args.small else []
        print(f"building {db} …", flush=True)
        subprocess.run([sys.executable, str(ROOT / "benchmarks" / "generate_large_db.py"), "--out", str(db), *size], check=True)

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QLabel, QMainWindow

    from ui.qt.app import create_window, make_application
    from ui.qt.session.session import Worker

    app = make_application()
    settings = QSettings(str(Path(os.environ.get("TMPDIR", "/tmp")) / "bench-settings.ini"), QSettings.Format.IniFormat)
    size_gb = db.stat().st_size / 1e9
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    n_runs, n_steps = con.execute("SELECT (SELECT COUNT(*) FROM traces), (SELECT COUNT(*) FROM trace_steps)").fetchone()
    con.close()
    print(f"DB {db.name}: {n_runs:,} runs, {n_steps:,} steps, {size_gb:.2f} GB; RSS at start {rss_mb():.0f} MB")

    def wait_until(cond, timeout=30.0):
        end = time.perf_counter() + timeout
        while not cond():
            app.processEvents()
            if time.perf_counter() > end:
                raise TimeoutError
            time.sleep(0.0005)

    # 1. open → first painted page, vs floor + empty window's first paint
    floors, empties, ours = [], [], []
    for _ in range(args.repeats):
        floors.append(floor_first_page(db))
        t0 = time.perf_counter()
        empty = QMainWindow()
        empty.setCentralWidget(QLabel("…"))
        empty.resize(1400, 860)
        watch = PaintWatch(empty.centralWidget())
        empty.show()
        wait_until(lambda: watch.times)
        empties.append(watch.times[0] - t0)
        empty.close()
        empty.deleteLater()
        app.processEvents()

        t0 = time.perf_counter()
        w = create_window(settings)
        w.resize(1400, 860)
        watch = PaintWatch(w.runs_view.viewport())
        w.open_location(str(db))  # as ui.qt.app.run_gui does: start reading, then show
        w.show()
        wait_until(lambda: w.runs_model.rowCount() > 0 and w.runs_model.run_at(0, request=False) is not None)
        marker = len(watch.times)
        wait_until(lambda: len(watch.times) > marker)
        ours.append(watch.times[-1] - t0)
        if _ < args.repeats - 1:
            w.shutdown()
            w.deleteLater()
            app.processEvents()
    floor = median(floors) + median(empties)
    print(f"1. open to painted first page: ours {median(ours) * 1000:.0f} ms (min {min(ours) * 1000:.0f}); "
          f"floor sqlite3 {median(floors) * 1000:.1f} ms + empty window paint {median(empties) * 1000:.0f} ms = "
          f"{floor * 1000:.0f} ms; ratio {median(ours) / floor:.2f}× (target ≤ 1.5×, < 1000 ms)")

    # 2. click the largest run → first painted page of steps
    run_id, count = biggest_run(db)
    wait_until(lambda: w.session.pending(Worker.INTERACTIVE, Worker.BACKGROUND) == 0 and not w.runs_model.loading, timeout=120)
    w.filters.search.setText(run_id)
    w.filters.search.editingFinished.emit()
    wait_until(lambda: w.runs_model.row_of(run_id) is not None and w.session.pending(Worker.INTERACTIVE) == 0, timeout=60)
    steps_floor = [floor_first_steps(db, run_id, 500) for _ in range(args.repeats)]
    clicks = []
    for _ in range(args.repeats):
        w.steps_model.set_run(None)
        w.runs_view.clearSelection()
        w.runs_view.setCurrentIndex(w.runs_model.index(-1, -1))
        app.processEvents()
        watch = PaintWatch(w.steps_view.viewport())
        row = w.runs_model.row_of(run_id)
        t0 = time.perf_counter()
        w.runs_view.selectRow(row)
        wait_until(lambda: w.steps_model.rowCount() > 0)
        marker = len(watch.times)
        wait_until(lambda: len(watch.times) > marker)
        clicks.append(watch.times[-1] - t0)
    print(f"2. click {run_id} ({count:,} steps) to painted first steps: ours {median(clicks) * 1000:.1f} ms "
          f"(max {max(clicks) * 1000:.1f}); floor sqlite3 first 500 steps {median(steps_floor) * 1000:.1f} ms "
          f"(target ≤ 100 ms)")
    wait_until(lambda: w.session.pending(Worker.INTERACTIVE) == 0, timeout=60)
    print(f"   RSS with the run open: {rss_mb():.0f} MB")

    # 3. scroll through the whole run a page at a time
    view = w.steps_view
    bar = view.verticalScrollBar()
    paints = []
    fetch_waits = 0
    model = w.steps_model
    wait_until(lambda: model.row_map is not None, timeout=60)
    t_all = time.perf_counter()
    while (not args.scroll_pages or len(paints) < args.scroll_pages) and bar.value() < bar.maximum():
        bar.setValue(bar.value() + bar.pageStep())
        app.processEvents()
        if model.step_at(view.rowAt(0)) is None:  # its page is read after the paint that shows it
            wait_until(lambda: model.step_at(view.rowAt(0)) is not None, timeout=60)
            fetch_waits += 1
        t0 = time.perf_counter()
        view.viewport().repaint()
        paints.append(time.perf_counter() - t0)
        app.processEvents()
    total = time.perf_counter() - t_all
    print(f"3. scrolled {len(paints):,} pages of {model.rowCount():,} steps in {total:.1f} s "
          f"({fetch_waits} waits for a page read): paint per page median {median(paints) * 1000:.2f} ms, "
          f"p95 {pct(paints, 95) * 1000:.2f} ms, max {max(paints) * 1000:.2f} ms (target ≤ 16 ms)")
    # The same pages painted from a C++ model (QStandardItemModel) in an identical view: Qt's own
    # floor for this many cells on this machine, measured in this run.
    from PySide6.QtGui import QStandardItem, QStandardItemModel
    from PySide6.QtWidgets import QTableView

    texts = [t for page in model._pages.values() for t in page.texts][:4000]
    floor_model = QStandardItemModel(len(texts), len(texts[0]) if texts else 9)
    for r, row in enumerate(texts):
        for c, t in enumerate(row):
            floor_model.setItem(r, c, QStandardItem(t))
    floor_view = QTableView()
    floor_view.verticalHeader().setVisible(False)
    floor_view.verticalHeader().setDefaultSectionSize(view.rowHeight(0))
    floor_view.setAlternatingRowColors(True)
    floor_view.setModel(floor_model)
    for c in range(floor_model.columnCount()):
        floor_view.setColumnWidth(c, view.columnWidth(c))
    floor_view.resize(view.size())
    floor_view.show()
    app.processEvents()
    fbar = floor_view.verticalScrollBar()
    floor_paints = []
    while fbar.value() < fbar.maximum() and len(floor_paints) < min(len(paints), 300):
        fbar.setValue(fbar.value() + fbar.pageStep())
        t0 = time.perf_counter()
        floor_view.viewport().repaint()
        floor_paints.append(time.perf_counter() - t0)
        app.processEvents()
    print(f"   same pages from a C++ QStandardItemModel in an identical view: median "
          f"{median(floor_paints) * 1000:.2f} ms, p95 {pct(floor_paints, 95) * 1000:.2f} ms; "
          f"ours / Qt floor = {median(paints) / median(floor_paints):.2f}×")
    floor_view.close()
    print(f"4. RSS after scrolling ({model.pages_read:,} pages read, {model.pages_kept} kept): {rss_mb():.0f} MB "
          "(target ≤ 300 MB)")
    w.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
