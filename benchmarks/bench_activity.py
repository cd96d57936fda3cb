"""Runs over time and the Findings column on a large upstream-shaped SQLite DB. Prints figures;
asserts nothing.

    python benchmarks/bench_activity.py --db benchmarks/data/large.db

1. count runs per interval (``services.activity.runs_over_time``: the span, then one grouped
   count) beside its floor in the same run: plain sqlite3 fetching the same runs' start times and
   statuses (what counting them in Python would start with);
2. check runs' panels as the Findings column does (``check_run``, runs of a page), runs a second;
3. the window: open the DB and wait until the chart is drawn (pyqtgraph imported on a worker) and
   the first page's findings are in; the longest the GUI thread went without turning its event
   loop (a 1 ms timer's largest gap; target ≤ 50 ms).
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def timed(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--db", type=Path, default=ROOT / "benchmarks" / "data" / "large.db")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--check-runs", type=int, default=400)
    args = ap.parse_args()
    from drivers import open_source
    from inspector.model import RunFilter, RunSort
    from inspector.services.activity import runs_over_time
    from inspector.services.consistency import check_run

    src = open_source(str(args.db))
    try:
        tenant = next(iter(src.distinct_values("tenant_id")), None)
        print(f"1. runs over time ({args.db.name}):")
        con = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
        for label, flt, where, params in (
                ("every run", RunFilter(), "", ()),
                (f"tenant {tenant}", RunFilter(tenant_id=tenant), "WHERE tenant_id = ?", (tenant,)),
                ("status failed", RunFilter(status="failed"), "WHERE status = ?", ("failed",))):
            took, act = timed(lambda flt=flt: runs_over_time(src, flt), args.repeats)
            floor, _rows = timed(lambda where=where, params=params: con.execute(
                f"SELECT started_at, status FROM traces {where}", params).fetchall(), args.repeats)
            print(f"   {label}: {act.total:,} runs in {len(act)} intervals of {act.width:,} s: {took * 1000:.0f} ms; "
                  f"floor (sqlite3 fetching their start times and statuses) {floor * 1000:.0f} ms; "
                  f"ratio {took / floor:.2f}x")
        con.close()
        runs = src.list_runs(RunFilter(), RunSort.STARTED_AT, True, 0, args.check_runs)
        ev = src.evidence()
        evidence = ev if ev is not None and ev.has_store else None
        t0 = time.perf_counter()
        bad = sum(bool(check_run(src, r.key, evidence=evidence).result.violations) for r in runs)
        took = time.perf_counter() - t0
        print(f"2. the Findings column: {len(runs)} runs checked in {took:.2f} s ({len(runs) / took:,.0f} runs/s, "
              f"{took / len(runs) * 1000:.1f} ms a run); {bad} with findings")
    finally:
        src.close()

    from PySide6.QtCore import QElapsedTimer, QSettings, QTimer

    from ui.qt.app import create_window, make_application

    app = make_application()
    settings = QSettings(str(Path(os.environ.get("TMPDIR", "/tmp")) / "bench-activity.ini"), QSettings.Format.IniFormat)
    w = create_window(settings)
    w.resize(1280, 800)
    w.show()
    gaps: list[float] = []
    clock = QElapsedTimer()
    clock.start()
    last = [clock.nsecsElapsed()]

    def tick() -> None:
        now = clock.nsecsElapsed()
        gaps.append((now - last[0]) / 1e6)
        last[0] = now

    beat = QTimer()
    beat.setInterval(1)
    beat.timeout.connect(tick)
    beat.start()
    t0 = time.perf_counter()
    w.open_location(str(args.db))
    marks: dict[str, float] = {}
    end = t0 + 120
    while time.perf_counter() < end:
        app.processEvents()
        now = time.perf_counter() - t0
        if "list" not in marks and w.runs_model.rowCount() > 0:
            marks["list"] = now
        if "chart" not in marks and w.activity.chart is not None and w.activity.activity is not None:
            marks["chart"] = now
        page = [w.runs_model.run_at(r, request=False) for r in range(min(40, w.runs_model.rowCount()))]
        if "findings" not in marks and page and all(
                r is not None and w.runs_model.findings.of(r.key) is not None for r in page):
            marks["findings"] = now
        if len(marks) == 3:
            break
        time.sleep(0.001)
    beat.stop()
    w.shutdown()
    print("3. the window: " + ", ".join(f"{k} at {v * 1000:.0f} ms" for k, v in marks.items())
          + f"; the GUI thread's longest gap {max(gaps):.0f} ms (p99 {sorted(gaps)[int(len(gaps) * 0.99)]:.1f} ms, "
          f"{len(gaps):,} beats)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
