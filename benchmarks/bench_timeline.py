"""The step timeline on a large run: reading the steps as columns, and the time to paint a frame
(zoomed out, halfway, zoomed in) offscreen, and the first paint of a long run (its overview: one
step in N, then one frame). Prints figures; asserts nothing.

    python benchmarks/bench_timeline.py --db DEMO.db [--run RUN_ID] [--synthetic 1000000]

``--synthetic N`` also paints a run of N made-up steps (a million by default) from memory.
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def frames(app, chart, cols, label: str) -> None:
    import numpy as np

    chart.set_columns(cols)
    chart.resize(1200, 420)
    chart.show()
    app.processEvents()
    vb = chart.getViewBox()
    n = len(cols)
    right = float(np.nanmax(cols.end))
    out = []
    for name, rows in (("all", (0, n)), ("half", (0, n / 2)), ("200 rows", (n / 3, n / 3 + 200))):
        vb.setRange(xRange=(0, right), yRange=rows, padding=0)
        app.processEvents()
        times = []
        for _ in range(15):
            t0 = time.perf_counter()
            chart.viewport().repaint()
            times.append((time.perf_counter() - t0) * 1000)
        out.append(f"{name} {statistics.median(times):.1f} ms (max {max(times):.1f}, {chart.bars.drawn} bars)")
    print(f"   {label}: frame " + "; ".join(out) + f"; columns {cols.nbytes / 1e6:.1f} MB")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--db", required=True, type=Path)
    p.add_argument("--run")
    p.add_argument("--synthetic", type=int, default=1_000_000)
    args = p.parse_args()
    from drivers import open_source
    from inspector.services.timeline import CHUNK, read_step_columns
    from inspector.timeline import StepColumns, columns_from_raw
    from ui.qt.app import make_application
    from ui.qt.panels.timeline import StepTimeline, overview_stride

    con = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    run = args.run or con.execute("SELECT run_id FROM trace_steps GROUP BY run_id ORDER BY COUNT(*) DESC LIMIT 1").fetchone()[0]
    con.close()
    src = open_source(args.db)
    reads, overviews = [], []
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(3):
        t0 = time.perf_counter()
        cols = read_step_columns(src, run)
        reads.append(time.perf_counter() - t0)
    peak_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    stride = overview_stride(len(cols))
    for _ in range(3):
        t0 = time.perf_counter()
        overview = columns_from_raw(*src.step_columns(run, stride))
        overviews.append(time.perf_counter() - t0)
    src.close()
    print(f"1. read {len(cols):,} steps of {run} as columns (chunks of {CHUNK:,}): "
          f"{statistics.median(reads) * 1000:.0f} ms median, peak memory +{peak_mb:.0f} MB; "
          f"its overview (one step in {stride}, {len(overview):,} rows): {statistics.median(overviews) * 1000:.0f} ms "
          "median")
    app = make_application()
    chart = StepTimeline()
    # First paint after the click: the overview read, then one frame of it (the whole run in view).
    chart.resize(1200, 420)
    chart.show()
    firsts = []
    for _ in range(3):
        chart.set_columns(None)
        app.processEvents()
        src = open_source(args.db)
        t0 = time.perf_counter()
        chart.set_columns(columns_from_raw(*src.step_columns(run, stride)), stride)
        chart.viewport().repaint()
        firsts.append(time.perf_counter() - t0)
        src.close()
    print(f"   first paint (overview read + its frame): {statistics.median(firsts) * 1000:.0f} ms median "
          f"(max {max(firsts) * 1000:.0f}); target ≤ 300 ms at 100k steps, ≤ 1 s at 1M")
    print("2. paint one frame:")
    frames(app, chart, cols, f"{len(cols):,} steps")
    if args.synthetic:
        import numpy as np

        rng = np.random.default_rng(1)
        n = args.synthetic
        dur = rng.random(n) * 50
        big = StepColumns(np.arange(n), np.cumsum(dur), dur, rng.integers(0, 5, n).astype(np.int8),
                          rng.integers(0, 2, n).astype(np.int32), rng.random(n))
        frames(app, chart, big, f"{n:,} synthetic steps")
    return 0


if __name__ == "__main__":
    sys.exit(main())
