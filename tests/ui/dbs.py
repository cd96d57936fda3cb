"""Small real SQLite trace databases for the CLI and Qt tests, built with the upstream-semantics writer."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

from drivers.sqlite_writer import SQLiteTraceWriter

BIG_RUN = "run_00000000000000bb"
BROKEN_RUN = "run_0000000000000005"
ORPHAN_RUN = "run_0000000000000006"
ORIGINAL_RUN = "run_0000000000000003"
REPLAYS = ("run_000000000000000a", "run_000000000000000b")
BIG_RUN_STEPS = 1234
STATUSES = ["success", "failed", "retry", "weird", "succeeded", "failure", "skipped"]


class StepClock:
    """Deterministic timestamps: each call one second later."""

    def __init__(self) -> None:
        self.t = datetime(2026, 10, 1, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        self.t += timedelta(seconds=1)
        return self.t


def build_small_db(path: Path, runs: int = 30) -> Path:
    with SQLiteTraceWriter(path, clock=StepClock()) as w:
        for i in range(runs):
            rid = f"run_{i:016x}"
            w.start_trace(rid, f"corr-{i}", f"tenant-{i % 3}", f"agent-{i % 2}" if i % 4 else None,
                          [{"skill": "skill.http_call", "params": {"url": "https://example.com"}}])
            for j in range(i % 7):
                w.record_step(rid, j, "skill.http_call", {"url": f"https://example.com/{j}", "ü": "日本語"},
                              STATUSES[j % len(STATUSES)], "SUCCESS" if j % 3 else "TRANSIENT",
                              None if j % 3 else "ERR_HTTP_503", {"ok": True, "n": j} if j % 2 else None,
                              0.25 * (j + 1), 10.0 + j, j % 2)
            meta = {"replay_of": ORIGINAL_RUN, "dry_run": True, "verify_parity": True} if rid in REPLAYS else None
            w.complete_trace(rid, "completed" if i % 5 else "failed", meta)
        w.start_trace(BIG_RUN, "corr-big", "tenant-0", "agent-big", [])
        with w.bulk():
            from drivers.sqlite_writer import StepInput

            w.record_steps(
                StepInput(BIG_RUN, j, "skill.json_transform", {"i": j}, "success" if j % 10 else "failed",
                          "SUCCESS", None, {"out": j}, 0.01, 1.0, 0)
                for j in range(BIG_RUN_STEPS)
            )
        w.complete_trace(BIG_RUN, "completed")
        # A payload over 1 MB in the big run's step 3.
        big = {"blob": "x" * 1_200_000, "note": "large"}
        import json

        w.execute_raw("UPDATE trace_steps SET outcome_data = ? WHERE run_id = ? AND step_index = 3",
                      (json.dumps(big), BIG_RUN))
        # A foreign writer's damage: params that are not JSON.
        w.execute_raw("UPDATE trace_steps SET params = '{\"broken\": tru' WHERE run_id = ? AND step_index = 1",
                      (BROKEN_RUN,))
        w.delete_trace(ORPHAN_RUN)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
