"""The command line on real files: JSON shapes, exit codes, one-line errors."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from tests.ui.dbs import BIG_RUN, BIG_RUN_STEPS, BROKEN_RUN, ORPHAN_RUN, REPLAYS
from ui.cli import main

RUN_FIELDS = {"run_id", "correlation_id", "tenant_id", "agent_id", "status", "started_at", "completed_at",
              "total_steps", "success_count", "failure_count", "total_cost_cents", "total_duration_ms"}
STEP_FIELDS = {"step_index", "skill_name", "params", "status", "status_raw", "outcome_category", "outcome_code",
               "outcome_data", "cost_cents", "duration_ms", "retry_count", "timestamp"}


def run_cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(args), out=out)
    return code, out.getvalue()


def test_runs_json_fields_and_counts(small_db):
    code, text = run_cli("runs", str(small_db), "--json")
    assert code == 0
    doc = json.loads(text)
    runs = doc["runs"]
    assert doc["count"] == len(runs) == 31  # 29 runs + the big run + 1 orphan run id, listed last
    assert RUN_FIELDS <= set(runs[0])
    assert runs[-1]["run_id"] == ORPHAN_RUN and runs[-1]["orphan"] is True
    started = [r["started_at"] for r in runs if not r["orphan"]]
    assert started == sorted(started, reverse=True)
    big = next(r for r in runs if r["run_id"] == BIG_RUN)
    assert big["total_steps"] == BIG_RUN_STEPS
    assert big["failure_count"] == len(range(0, BIG_RUN_STEPS, 10))  # worker "failed" counts (§11.4)
    assert {r["run_id"] for r in runs if r["replay_of"]} == set(REPLAYS)


def test_runs_filters(small_db):
    code, text = run_cli("runs", str(small_db), "--json", "--status", "failed", "--tenant", "tenant-0")
    runs = json.loads(text)["runs"]
    assert code == 0 and runs
    assert all(r["status"] == "failed" and r["tenant_id"] == "tenant-0" for r in runs)
    code, text = run_cli("runs", str(small_db), "--json", "--since", "2026-10-01T00:00:30", "--until", "2026-10-01T00:01:00")
    runs = json.loads(text)["runs"]
    assert runs and all("2026-10-01T00:00:30" <= r["started_at"] <= "2026-10-01T00:01:00+00:00" for r in runs)
    code, text = run_cli("runs", str(small_db), "--json", "--limit", "3")
    assert len(json.loads(text)["runs"]) == 3


def test_show_json_streams_every_step(small_db):
    code, text = run_cli("show", str(small_db), BIG_RUN, "--json")
    assert code == 0
    doc = json.loads(text)
    assert doc["run"]["run_id"] == BIG_RUN and RUN_FIELDS <= set(doc["run"])
    assert len(doc["steps"]) == BIG_RUN_STEPS
    assert STEP_FIELDS <= set(doc["steps"][0])
    assert [s["step_index"] for s in doc["steps"]] == list(range(BIG_RUN_STEPS))
    assert doc["steps"][10]["status"] == "failure" and doc["steps"][10]["status_raw"] == "failed"


def test_show_keeps_a_broken_json_cell_raw(small_db):
    code, text = run_cli("show", str(small_db), BROKEN_RUN, "--json")
    step = json.loads(text)["steps"][1]
    assert code == 0
    assert step["params"] == '{"broken": tru'
    assert step["warnings"][0].startswith("params: not valid JSON")


def test_show_orphan_run_prints_its_steps(small_db):
    code, text = run_cli("show", str(small_db), ORPHAN_RUN, "--json")
    doc = json.loads(text)
    assert code == 0 and doc["run"]["orphan"] is True
    assert len(doc["steps"]) == doc["run"]["total_steps"] > 0
    code, text = run_cli("show", str(small_db), ORPHAN_RUN)
    assert "run row is missing" in text


def test_show_golden_trace_json(fixtures_dir):
    code, text = run_cli("show", str(fixtures_dir / "golden_trace.json"), "frozen-trace-001", "--json")
    doc = json.loads(text)
    assert code == 0
    assert doc["run"]["status"] == "completed" and len(doc["steps"]) == 2
    assert doc["steps"][1]["params"] == {"input": {"x": 3.14159265, "y": 2.71828182}}


@pytest.mark.parametrize(
    "args, needle",
    [
        (["runs", "{missing}"], "no such file"),
        (["runs", "{text}"], "not a SQLite database"),
        (["show", "{db}", "run_nope"], "no run 'run_nope'"),
        (["runs", "{db}", "--since", "yesterday"], "not a date or time"),
        (["runs", "{db}", "--limit", "x"], "invalid int value"),
        (["{missing}"], "no such file"),
    ],
)
def test_errors_exit_2_with_one_line(small_db, tmp_path, args, needle):
    text_file = tmp_path / "notes.txt"
    text_file.write_text("plain words")
    subst = {"missing": str(tmp_path / "nope.db"), "text": str(text_file), "db": str(small_db)}
    argv = [a.format(**subst) for a in args]
    proc = subprocess.run([sys.executable, "-m", "ui.cli", *argv], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert needle in last
    assert "Traceback" not in proc.stderr


def test_demo_command_writes_a_database(tmp_path):
    out = tmp_path / "demo.db"
    code, text = run_cli("demo", "--out", str(out), "--seed", "5", "--big-run-steps", "1000")
    assert code == 0 and out.exists() and str(out) in text
    code, text = run_cli("runs", str(out), "--json", "--limit", "1")
    assert code == 0
    code, _ = run_cli("demo", "--out", str(out))
    assert code == 2  # refuses to overwrite without --force
