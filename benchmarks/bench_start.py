"""How fast the command line and the desktop app start, against floors measured in the same run.
Prints figures; asserts nothing.

    python benchmarks/bench_start.py --db TRACES.db [--repeats 7] [--no-gui]

1. ``trace-inspector runs DB --limit 50`` (a subprocess, output to /dev/null), against
   ``python -c pass`` plus a plain sqlite3 read of the same 50 runs (newest first, with their step
   counters) in one subprocess; the ratio. Also what the command spends importing SQLAlchemy
   (``python -c "import sqlalchemy"`` less ``python -c pass``).
2. The desktop app on the same DB (offscreen): process start to the main window's first paint,
   and which heavy libraries were loaded by then.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FLOOR = r"""
import sqlite3, sys
con = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
runs = con.execute("SELECT run_id, correlation_id, tenant_id, agent_id, status, started_at, completed_at "
                   "FROM traces ORDER BY started_at DESC, run_id DESC LIMIT 50").fetchall()
ids = [r[0] for r in runs]
marks = ", ".join("?" * len(ids))
counts = con.execute(f"SELECT run_id, COUNT(*), TOTAL(cost_cents), TOTAL(duration_ms) FROM trace_steps "
                     f"WHERE run_id IN ({marks}) GROUP BY run_id", ids).fetchall()
print(len(runs), len(counts))
"""

HEAVY = ("sqlalchemy", "numpy", "pyqtgraph", "redis", "psycopg", "cryptography", "reportlab", "orjson")

GUI = r"""
import sys, time
t0 = time.perf_counter()
from PySide6.QtCore import QEvent, QObject, QTimer
from ui.qt.app import create_window, make_application
app = make_application()
window = create_window()
if sys.argv[1] != "-":
    window.open_location(sys.argv[1])  # as run_gui does: the worker opens it while the window paints
heavy = sys.argv[2].split(",")

class FirstPaint(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and not getattr(self, "done", False):
            self.done = True
            loaded = [m for m in heavy if m in sys.modules]
            print(f"{time.perf_counter() - t0:.4f} {','.join(loaded) or '-'}", flush=True)
            QTimer.singleShot(0, app.quit)
        return False

watch = FirstPaint()
window.installEventFilter(watch)
window.show()
app.exec()
window.shutdown()
"""


def wall(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    t0 = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, check=True, cwd=ROOT, env=env)
    return time.perf_counter() - t0, done.stdout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True, type=Path)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--no-gui", action="store_true")
    args = ap.parse_args()
    db = str(args.db.resolve())
    py = sys.executable
    cases = {
        "python -c pass": [py, "-c", "pass"],
        "sqlite3 read of 50 runs (own process)": [py, "-c", FLOOR, db],
        "python -c 'import sqlalchemy'": [py, "-c", "import sqlalchemy"],
        "trace-inspector runs DB --limit 50": [py, "-m", "ui.cli", "runs", db, "--limit", "50"],
        # What the command imports besides the SQLite driver (SQLAlchemy): its start without it.
        "imports of runs but the SQLite driver": [py, "-c", "import ui.cli, drivers, inspector.serialize, ui.format"],
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(args.repeats):  # interleaved: the machine's noise falls on each alike
        for name, argv in cases.items():
            times[name].append(wall(argv)[0])
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"Start-up, median of {args.repeats} (min), on {Path(db).name}:")
    for name, v in times.items():
        print(f"  {name:<40} {med[name] * 1000:7.0f} ms  (min {min(v) * 1000:.0f})")
    floor = med["sqlite3 read of 50 runs (own process)"]
    print(f"  floor (python -c pass + the sqlite3 read): the read's own process, {floor * 1000:.0f} ms")
    print(f"  ratio runs --limit 50 / floor: {med['trace-inspector runs DB --limit 50'] / floor:.2f}x (target <= 3x)")
    sa_import = med["python -c 'import sqlalchemy'"] - med["python -c pass"]
    print(f"  of which importing SQLAlchemy: ~{sa_import * 1000:.0f} ms")
    if not args.no_gui:
        env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
        got: dict[str, tuple[list[float], str]] = {"no source": ([], ""), "the DB": ([], "")}
        for _ in range(max(3, args.repeats // 2)):
            for name, where in (("no source", "-"), ("the DB", db)):
                out = wall([py, "-c", GUI, where, ",".join(HEAVY)], env)[1]
                inner, loaded = out.split()[-2:]
                got[name][0].append(float(inner))
                got[name] = (got[name][0], loaded)
        for name, (paints, loaded) in got.items():
            print(f"  app on {name}: start to first window paint {statistics.median(paints) * 1000:.0f} ms "
                  f"(min {min(paints) * 1000:.0f}); loaded by then: {loaded}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
