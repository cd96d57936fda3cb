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
"""

from __future__ import annotations

import argparse
import random
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


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=100_000)
    ap.add_argument("--db", type=Path, default=Path(__file__).parent / "data" / "compare.db")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
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
