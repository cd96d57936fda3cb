"""Comparing two 100k-step runs from SQLite: the verdict and the aligned rows, beside the floor of
reading both runs' steps and hashing them, measured in the same run.

    .venv/bin/python benchmarks/bench_compare.py [--steps 100000] [--db benchmarks/data/compare.db] [--repeat 3]

Writes (once; reused when present) a SQLite ``traces.db`` with an original run of N steps and a
replay of it that changes one output, drops one step and renumbers the rest (so the alignment
has to go by skill names), through ``SQLiteTraceWriter`` as the runtime would. Then, per repeat:

* floor: ``iter_steps`` of both runs, and per step upstream's step determinism hash and
  ``hash_output`` (what any verdict must at least do);
* ours: ``load_side`` of both runs (read into ``StepDoc``) and ``compare_runs`` (signatures,
  verdict, alignment, field diffs), i.e. everything the Compare view and ``diff`` show.

Targets (issue 5): ours ≤ 1.5 s and ≤ 2× the floor. Prints medians and the ratio.

    .venv/bin/python benchmarks/bench_compare.py --scale DB [--run RUN_ID]

measures instead ``trace-inspector diff DB RUN RUN`` (a run against itself; the longest run when
``--run`` is not given) in a subprocess, beside the floor in another subprocess: read both sides
with ``iter_steps`` and SHA-256 each step's stored params and outcome text. Prints wall time and
peak RSS (``os.wait4``'s ``ru_maxrss`` of each child) and the ratios. Targets (issue 14): ≤ 1.5× the
floor's time, ≤ 500 MB peak RSS.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sqlite3
import subprocess
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivers.sqlite_reader import SQLiteTraceReader
from drivers.sqlite_writer import SQLiteTraceWriter, StepInput
from inspector.compare import compare_runs, load_side, step_doc
from inspector.hashing import hash_output, step_determinism_hash

SKILLS = ("json_transform", "http_call", "llm_invoke", "data_filter")


def build(path: Path, n: int) -> None:
    rng = random.Random(11)
    steps = []
    for i in range(n):
        skill = SKILLS[rng.randrange(len(SKILLS))]
        params = {"input": {"id": i, "x": rng.random(), "tags": ["a", "b"]}, "skill": skill}
        out = {"ok": True, "value": rng.random(), "items": [rng.randrange(100) for _ in range(5)]}
        steps.append((skill, params, out))
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    with SQLiteTraceWriter(tmp) as w, w.bulk():
        for run_id, rows in (("original", steps), ("replay", _replayed(steps))):
            w.start_trace(run_id, f"corr-{run_id}", "tenant-bench", "agent-bench", [{"skill": "x"}])
            w.record_steps(StepInput(run_id=run_id, step_index=i, skill_name=s, params=p, status="success",
                                     outcome_category="SUCCESS", outcome_code=None, outcome_data=o,
                                     cost_cents=0.1, duration_ms=5.0) for i, (s, p, o) in enumerate(rows))
            w.complete_trace(run_id, "completed", {"replay_of": "original"} if run_id == "replay" else None)
    tmp.rename(path)


def _replayed(steps):
    out = list(steps)
    skill, params, data = out[len(out) // 3]
    out[len(out) // 3] = (skill, params, dict(data, value=-1.0))  # one changed output
    del out[2 * len(out) // 3]  # one dropped step: later steps renumber
    return out


def floor(reader) -> float:
    t = time.perf_counter()
    for run in ("original", "replay"):
        for s in reader.iter_steps(run):
            d = step_doc(s)
            step_determinism_hash(d.determinism_fields())
            hash_output(d.outcome_data)
    return time.perf_counter() - t


def ours(reader):
    t = time.perf_counter()
    left, right = load_side(reader, "original"), load_side(reader, "replay")
    cmp = compare_runs(left.steps, right.steps)
    return time.perf_counter() - t, cmp


def scale_floor(db: str, run: str) -> None:
    """The floor, run in a child: both sides read as diff reads them, one SHA-256 per step."""
    reader = SQLiteTraceReader(db)
    n = 0
    for _side in ("left", "right"):
        for s in reader.iter_steps(run):
            hashlib.sha256(((s.params.raw or "") + "\0" + (s.outcome_data.raw or "")).encode("utf-8", "replace"))
            n += 1
    reader.close()
    print(f"floor read {n:,} steps")


def _tree_rss_mb(root: int) -> float:
    """The summed RSS of a process and all its descendants now (Linux /proc), in MB."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        rss[int(entry)] = int(fields[21])
    tree, changed = {root}, True
    while changed:
        more = {pid for pid, ppid in parents.items() if ppid in tree} - tree
        changed = bool(more)
        tree |= more
    return sum(rss.get(pid, 0) for pid in tree) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _child(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, int, str, float, float]:
    """Wall seconds, peak RSS (MB; ``os.wait4``'s ``ru_maxrss``: the largest single process of the
    child's tree), exit status, stdout, and the largest summed RSS of the whole tree seen by
    sampling /proc every 0.25 s (worker processes run beside the child), and the CPU seconds of
    the tree (user + system; less sensitive to a busy machine than wall time)."""
    import threading

    t = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                         env=dict(os.environ, **(env or {})))
    tree_peak = [0.0]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.25):
            tree_peak[0] = max(tree_peak[0], _tree_rss_mb(p.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out = p.stdout.read()
    stop.set()
    _, status, usage = os.wait4(p.pid, 0)
    sampler.join()
    p.returncode = os.waitstatus_to_exitcode(status)
    return (time.perf_counter() - t, usage.ru_maxrss / 1024, p.returncode, out, tree_peak[0],
            usage.ru_utime + usage.ru_stime)


def scale(db: Path, run: str | None, repeat: int) -> int:
    uri = f"file:{db}?mode=ro"
    if run is None:
        with sqlite3.connect(uri, uri=True) as conn:
            run, = conn.execute("SELECT run_id FROM trace_steps GROUP BY run_id ORDER BY COUNT(*) DESC LIMIT 1").fetchone()
    here = Path(__file__).resolve()
    floor_argv = [sys.executable, str(here), "--floor-child", str(db), run]
    diff_argv = [sys.executable, "-m", "ui.cli", "diff", str(db), run, run]
    env_root = str(here.parents[1])
    os.chdir(env_root)
    runs: dict[str, list] = {"floor": [], "diff": [], "diff, one process": []}
    for _ in range(repeat):  # interleaved: load on the shared machine affects all alike
        runs["floor"].append(_child(floor_argv))
        runs["diff"].append(_child(diff_argv))
        runs["diff, one process"].append(_child(diff_argv, {"TRACE_INSPECTOR_DIFF_WORKERS": "0"}))
        for name in ("diff", "diff, one process"):
            if runs[name][-1][2] not in (0, 1):
                print(runs[name][-1][3])
                return 2
    print(f"run {run} of {db}; load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    f_t = statistics.median(x[0] for x in runs["floor"])
    f_cpu = statistics.median(x[5] for x in runs["floor"])
    for name, rs in runs.items():
        wall = statistics.median(x[0] for x in rs)
        cpu = statistics.median(x[5] for x in rs)
        peak = max(max(x[1], x[4]) for x in rs)
        print(f"{name:<18} wall median {wall:6.1f} s (all: {', '.join(f'{x[0]:.1f}' for x in rs)}) = {wall / f_t:.2f}x "
              f"the floor; CPU {cpu:6.1f} s = {cpu / f_cpu:.2f}x; peak RSS {peak:.0f} MB "
              f"(largest process {max(x[1] for x in rs):.0f} MB, whole tree sampled {max(x[4] for x in rs):.0f} MB)")
    print("targets: diff <= 1.5x the floor's wall time, peak RSS <= 500 MB")
    print("diff said: " + " | ".join(runs["diff"][-1][3].splitlines()[2:4]))
    return 0


def main() -> int:
    if len(sys.argv) == 4 and sys.argv[1] == "--floor-child":
        scale_floor(sys.argv[2], sys.argv[3])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--db", type=Path, default=Path(__file__).parent / "data" / "compare.db")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scale", type=Path, metavar="DB", help="measure diff of a run against itself (see above)")
    ap.add_argument("--run", help="with --scale: the run (default: the longest)")
    args = ap.parse_args()
    if args.scale is not None:
        return scale(args.scale.resolve(), args.run, args.repeat)
    args.db.parent.mkdir(parents=True, exist_ok=True)
    if not args.db.exists():
        t = time.perf_counter()
        build(args.db, args.steps)
        print(f"wrote {args.db} ({args.steps:,} + {args.steps - 1:,} steps) in {time.perf_counter() - t:.1f} s")
    reader = SQLiteTraceReader(args.db)
    try:
        floors, totals = [], []
        cmp = None
        for _ in range(args.repeat):  # interleaved, so load affects both alike
            floors.append(floor(reader))
            total, cmp = ours(reader)
            totals.append(total)
        f, o = statistics.median(floors), statistics.median(totals)
        print(f"floor (read both runs + hash every step): median {f:.2f} s  (all: {', '.join(f'{x:.2f}' for x in floors)})")
        print(f"ours  (load + verdict + aligned rows):    median {o:.2f} s  (all: {', '.join(f'{x:.2f}' for x in totals)})")
        print(f"ratio {o / f:.2f}x (target <= 2x); absolute target <= 1.5 s: {'met' if o <= 1.5 else 'NOT met'}")
        print(f"verdict: parity={cmp.parity.is_parity} divergence_step={cmp.parity.divergence_step} "
              f"reason={cmp.parity.divergence_reason!r}; aligned by {cmp.aligned_by}; rows {cmp.counts()}")
    finally:
        reader.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
