"""Screenshot of the Compare window on a demo pair: an original run and a replay of it that changes
one output, drops one step, fails a step, and differs only by a request id (absorbed by an ignore
rule) and a float beyond 6 places (absorbed by upstream's rounding).

    xvfb-run -a -s "-screen 0 1400x900x24" .venv/bin/python benchmarks/shoot_compare.py \
        --db /tmp/compare-demo.db --png resources/screenshot-compare.png

Writes the SQLite file through ``SQLiteTraceWriter`` (replacing it), then runs
``python -m ui.qt.app DB replay --ignore /outcome_data/request_id --png OUT``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drivers.sqlite_writer import SQLiteTraceWriter, StepInput

ORIGINAL = "run-7f3a-original"
REPLAY = "run-7f3a-replay-1"
SKILLS = ["http_call", "llm_generate", "json_transform", "db_query", "json_transform", "send_email"]


def _steps(run_id: str, replay: bool) -> list[StepInput]:
    out = []
    for i in range(24):
        skill = SKILLS[i % len(SKILLS)]
        params = {"url": f"https://api.example.com/items/{i}"} if skill == "http_call" else {"i": i}
        data = {"ok": True, "items": i * 3, "score": round(0.25 * i, 3)}
        status, category, code, retries = "success", "SUCCESS", None, 0
        if skill == "http_call":
            data["request_id"] = f"req-{run_id[-8:]}-{i}"  # differs every run: the ignore rule's job
        if replay and i == 9:
            data["score"] = data["score"] + 1e-9  # equal once rounded to 6 places
        if replay and i == 5:
            data["items"] = 17  # a changed output
        if replay and i == 14:
            status, category, code, retries = "failure", "EXECUTION_ERROR", "TIMEOUT", 1
            data = {"error": "upstream timed out after 30 s"}
        if replay and i == 10:
            continue  # a dropped step
        out.append(StepInput(run_id=run_id, step_index=i, skill_name=skill, params=params, status=status,
                             outcome_category=category, outcome_code=code, outcome_data=data,
                             cost_cents=0.4 + i / 100, duration_ms=120.0 + 7 * i, retry_count=retries))
    return out


def write_demo(path: Path) -> None:
    if path.exists():
        path.unlink()
    with SQLiteTraceWriter(path) as w:
        for run_id, replay in ((ORIGINAL, False), (REPLAY, True)):
            w.start_trace(run_id, f"corr-{run_id}", "tenant-acme", "agent-orders", [{"skill": s} for s in SKILLS])
            w.record_steps(_steps(run_id, replay))
            w.complete_trace(run_id, "completed", {"replay_of": ORIGINAL} if replay else None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default="/tmp/compare-demo.db")
    parser.add_argument("--png", default=str(ROOT / "resources" / "screenshot-compare.png"))
    parser.add_argument("--size", default="1360x900")
    parser.add_argument("--row", type=int)
    args = parser.parse_args()
    write_demo(Path(args.db))
    from ui.qt.app import compare_screenshot as compare_main

    argv = [args.db, REPLAY, "--ignore", "/outcome_data/request_id", "--png", args.png, "--size", args.size]
    if args.row is not None:
        argv += ["--row", str(args.row)]
    return compare_main(argv)


if __name__ == "__main__":
    sys.exit(main())
