"""``trace-inspector show DB RUN --json > /dev/null`` on a long run, against its floor measured in
the same run: sqlite3 reading the run's step rows and ``json.dumps`` of each row (a dict of its
columns), without and with parsing the two payload columns. Each is a subprocess (interpreter
start included), to /dev/null; wall time (best of ``--repeats``, interleaved) and CPU time are
printed, and the ratio. Prints figures; asserts nothing.

    python benchmarks/bench_show.py --db SCALE.db [--run RUN_ID] [--steps 100000] [--repeats 1]

``--run`` defaults to the run with the most steps. ``--steps N`` measures on a copy (in a temporary
folder) of the run's first N steps instead: a quick check.
"""

from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FLOOR = r"""
import json, sqlite3, sys
db, run_id, parse = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
cur = conn.execute("SELECT * FROM trace_steps WHERE run_id = ? ORDER BY step_index", (run_id,))
names = [d[0] for d in cur.description]
with open(__import__("os").devnull, "w") as out:
    for row in cur:
        d = dict(zip(names, row))
        if parse:
            for k in ("params", "outcome_data"):
                if d[k] is not None:
                    d[k] = json.loads(d[k])
        out.write(json.dumps(d, ensure_ascii=False) + ",\n")
"""


def timed(argv: list[str]) -> tuple[float, float]:
    """(wall, CPU) seconds of a subprocess, its output to /dev/null."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(os.devnull, "wb") as null:
        subprocess.run(argv, stdout=null, check=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def longest_run(db: Path) -> tuple[str, int]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute("SELECT run_id, COUNT(*) FROM trace_steps GROUP BY run_id "
                           "ORDER BY COUNT(*) DESC LIMIT 1").fetchone()
    finally:
        con.close()


def copy_head(src: Path, run_id: str, steps: int, dest: Path) -> None:
    """The run's row and its first ``steps`` steps, with the tables' own schema and indexes."""
    con = sqlite3.connect(dest)
    try:
        con.execute("ATTACH DATABASE ? AS src", (f"file:{src}?mode=ro",))
        ddl = con.execute("SELECT sql FROM src.sqlite_master WHERE tbl_name IN ('traces', 'trace_steps') "
                          "AND sql IS NOT NULL ORDER BY type = 'index'").fetchall()
        for (sql,) in ddl:
            con.execute(sql)
        con.execute("INSERT INTO traces SELECT * FROM src.traces WHERE run_id = ?", (run_id,))
        con.execute("INSERT INTO trace_steps SELECT * FROM src.trace_steps WHERE run_id = ? "
                    "ORDER BY step_index LIMIT ?", (run_id, steps))
        con.commit()
    finally:
        con.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", required=True, type=Path)
    ap.add_argument("--run", help="default: the run with the most steps")
    ap.add_argument("--steps", type=int, help="measure on a copy of the run's first N steps")
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()
    db = args.db.resolve()
    run_id, n = (args.run, None) if args.run else longest_run(db)
    with tempfile.TemporaryDirectory() as tmp:
        if args.steps:
            copy = Path(tmp) / "head.db"
            copy_head(db, run_id, args.steps, copy)
            db = copy
            n = args.steps
        print(f"show --json of {run_id} ({n or '?'} steps) in {db.name}; best of {args.repeats}, wall (CPU) s")
        cases = {
            "floor: sqlite3 + json.dumps per row": [sys.executable, "-c", FLOOR, str(db), run_id, "0"],
            "floor, payloads parsed": [sys.executable, "-c", FLOOR, str(db), run_id, "1"],
            "trace-inspector show --json": [sys.executable, "-m", "ui.cli", "show", str(db), run_id, "--json"],
        }
        best: dict[str, tuple[float, float]] = {}
        for _ in range(args.repeats):
            for name, argv in cases.items():
                wall, cpu = timed(argv)
                if name not in best or wall < best[name][0]:
                    best[name] = (wall, cpu)
    for name, (wall, cpu) in best.items():
        print(f"  {name:<40} {wall:7.2f} s  (CPU {cpu:6.2f} s)")
    show = best["trace-inspector show --json"]
    for name in list(cases)[:2]:
        print(f"  ratio to '{name}': {show[0] / best[name][0]:.2f}x wall, {show[1] / best[name][1]:.2f}x CPU")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
