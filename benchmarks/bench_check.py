"""Consistency rules over 100,000 runs: the time to evaluate the inspector's default rules beyond
reading the signals (the signals are built in memory first, as a reader hands them over).
Prints figures; asserts nothing.

    python benchmarks/bench_check.py [--runs 100000]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _by_hand(s: dict) -> bool:
    """INS-001…009 as plain Python (what the signals built here exercise)."""
    def get(name):
        return s.get(name)

    checks = (
        get("runs_list.total_steps") == get("step_tree.rows"),
        get("runs_list.failure_count") == get("step_tree.failures"),
        abs(get("runs_list.total_cost_cents") - get("step_tree.cost_sum")) <= 0.0001,
        abs(get("runs_list.total_duration_ms") - get("step_tree.duration_sum")) <= 0.001,
        get("runs_list.status") != "completed" or get("runs_list.completed_at") is not None,
        get("step_tree.first_step_at") >= get("runs_list.started_at"),
        get("step_tree.last_step_at") <= get("runs_list.completed_at"),
        get("integrity.grade") != "FAIL" or bool(get("integrity.required_missing")),
        get("integrity.stored_grade") == get("integrity.grade"),
    )
    return not all(checks)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--runs", type=int, default=100_000)
    args = p.parse_args()
    from inspector.consistency import PanelSlot, check, merge_signals
    from inspector.services.consistency import INSPECTOR_RULES

    rng = random.Random(7)
    t0 = time.perf_counter()
    runs = []
    for i in range(args.runs):
        n = rng.randint(1, 40)
        cost = round(rng.random() * 5, 4)
        runs.append((f"run-{i}", [
            PanelSlot("runs_list", {"runs_list.status": "completed", "runs_list.total_steps": n,
                                    "runs_list.failure_count": 0, "runs_list.total_cost_cents": cost,
                                    "runs_list.total_duration_ms": 10.0 * n,
                                    "runs_list.started_at": "2026-10-01T00:00:00+00:00",
                                    "runs_list.completed_at": "2026-10-01T00:10:00+00:00"}),
            PanelSlot("step_tree", {"step_tree.rows": n if i % 1000 else n - 1, "step_tree.failures": 0,
                                    "step_tree.cost_sum": cost, "step_tree.duration_sum": 10.0 * n,
                                    "step_tree.first_step_at": "2026-10-01T00:00:01+00:00",
                                    "step_tree.last_step_at": "2026-10-01T00:09:00+00:00"}),
            PanelSlot("integrity", {"integrity.grade": "PASS", "integrity.score": 1.0,
                                    "integrity.required_missing": False, "integrity.stored_grade": "PASS"}),
        ]))
    built = time.perf_counter() - t0
    rules = INSPECTOR_RULES
    t0 = time.perf_counter()
    bad = sum(not check(rid, slots, rules, compare_upstream=False).is_consistent for rid, slots in runs)
    took = time.perf_counter() - t0
    # The floor, in the same run: the same comparisons written by hand in Python on the merged
    # signals (no parser, no rule file, no findings' wording).
    t0 = time.perf_counter()
    floor_bad = sum(_by_hand(merge_signals(slots)[0]) for _rid, slots in runs)
    floor = time.perf_counter() - t0
    print(f"{args.runs:,} runs, {len(rules)} rules: signals built in {built:.2f} s; rules evaluated in {took:.2f} s "
          f"({took / args.runs * 1e6:.1f} µs a run; target ≤ 2 s); {bad:,} runs with violations")
    print(f"   floor (the same comparisons by hand): {floor:.2f} s, {floor_bad:,} runs with violations; "
          f"ratio {took / floor:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
