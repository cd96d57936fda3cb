"""The command line on real files: JSON shapes, exit codes, one-line errors."""

from __future__ import annotations

import io
import os
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


# --- grade -------------------------------------------------------------------------------------

GRADE_KEYS = ["run_id", "expected_artifacts", "observed_artifacts", "missing_artifacts", "missing_reasons",
              "capture_failures", "integrity_score", "integrity_status", "integrity_state", "integrity_grade",
              "explanation", "reasons"]
EV_NOW = "2026-10-02T00:00:00+00:00"


@pytest.fixture
def evidence_db(tmp_path):
    """A traces.db with the evidence tables: a run of each grade, a stored verdict that agrees and
    one that does not, evidence step indexes one above the trace's, and evidence of a run id that
    has no trace."""
    from datetime import UTC, datetime

    import sqlalchemy as sa

    from drivers.evidence_schema import (
        activity_evidence,
        create_evidence_tables,
        environment_evidence,
        evidence_capture_failures,
        integrity_evidence,
        policy_decisions,
        provider_evidence,
        runs,
    )
    from drivers.sqlite_writer import SQLiteTraceWriter
    from tests.ui.dbs import StepClock

    path = tmp_path / "evidence.db"
    plan = [{"skill": "skill.llm_invoke"}]
    with SQLiteTraceWriter(path, clock=StepClock()) as w:
        for rid, tenant, n in (("r-pass", "tenant-a", 2), ("r-warn", "tenant-b", 1), ("r-fail", "tenant-a", 1),
                               ("r-half", "tenant-b", 1)):
            w.start_trace(rid, f"corr-{rid}", tenant, "agent-1", plan)
            for j in range(n):
                w.record_step(rid, j, "skill.llm_invoke", {}, "success", "SUCCESS", None, None, 1.0, 5.0, 0)
            w.complete_trace(rid, "completed")
    now = datetime(2026, 10, 2, tzinfo=UTC)
    engine = sa.create_engine(sa.engine.URL.create("sqlite+pysqlite", database=str(path)))
    with engine.begin() as conn:
        create_evidence_tables(conn)
        conn.execute(runs.insert(), [{"id": r} for r in ("r-pass", "r-warn", "r-fail", "r-half", "ghost")])
        conn.execute(environment_evidence.insert(), [
            {"id": f"ee-{r}", "run_id": r, "sdk_mode": "inline"} for r in ("r-pass", "r-warn", "r-half", "ghost")])
        # Upstream's cursor is 1-based: evidence 1–2 against trace steps 0–1 (§11.6).
        conn.execute(activity_evidence.insert(), [
            {"id": f"ae-{r}-{i}", "run_id": r, "step_index": i} for r, i in (("r-pass", 1), ("r-pass", 2), ("r-warn", 1))])
        conn.execute(provider_evidence.insert(), [
            {"id": f"pe-{r}", "run_id": r, "step_index": 1, "requested_at": now} for r in ("r-pass", "r-warn", "r-fail")])
        conn.execute(policy_decisions.insert(), [
            {"id": "pd-r-pass", "run_id": "r-pass", "policy_type": "budget", "decision": "GRANTED", "evaluated_at": now}])
        conn.execute(evidence_capture_failures.insert(), [
            {"id": "ecf-1", "run_id": "r-warn", "evidence_type": "policy_decisions", "failure_reason": "database_error",
             "error_message": "deadlock detected"}])
        conn.execute(integrity_evidence.insert(), [
            {"id": "ie-pass", "run_id": "r-pass", "expected_artifacts": [], "integrity_score": 1.0,
             "integrity_status": "VALID", "verification_timestamp": now,
             "observed_artifacts": ["environment_evidence", "activity_evidence", "provider_evidence",
                                    "policy_decisions", "aos_traces", "aos_trace_steps"]},
            # Sealed before the failure was recorded: VALID then, WARN now.
            {"id": "ie-warn", "run_id": "r-warn", "expected_artifacts": [], "integrity_score": 5 / 6,
             "integrity_status": "VALID", "verification_timestamp": now,
             "observed_artifacts": ["environment_evidence", "activity_evidence", "provider_evidence",
                                    "aos_traces", "aos_trace_steps"]}])
    engine.dispose()
    return path


def _upstream_v2(db, run_id: str) -> dict:
    """compute_integrity_v2 on the facts read straight from the file (no CLI in between)."""
    from drivers import open_source
    from inspector.integrity import compute_integrity_v2

    source = open_source(str(db))
    try:
        return compute_integrity_v2(source.evidence().facts(run_id))
    finally:
        source.close()


def test_grade_all_json_matches_upstream_and_exits_1_on_a_fail(evidence_db):
    code, text = run_cli("grade", str(evidence_db), "--json")
    assert code == 1
    doc = json.loads(text)
    assert doc["source"]["kind"] == "sqlite"
    assert doc["count"] == 4 and doc["grades"] == {"PASS": 1, "WARN": 2, "FAIL": 1}
    by_id = {r["run_id"]: r for r in doc["runs"]}
    assert list(by_id) == ["r-fail", "r-half", "r-pass", "r-warn"]  # run id order; "ghost" has no trace
    for rid, report in by_id.items():
        assert list(report)[:len(GRADE_KEYS)] == GRADE_KEYS
        assert {k: report[k] for k in GRADE_KEYS[1:-1]} == _upstream_v2(evidence_db, rid)
    assert (by_id["r-pass"]["integrity_grade"], by_id["r-pass"]["integrity_score"]) == ("PASS", 1.0)
    assert by_id["r-pass"]["explanation"] == "All evidence present (6/6)"
    assert by_id["r-warn"]["explanation"] == "1 evidence types missing; 1 capture failures recorded"
    assert by_id["r-warn"]["missing_reasons"]["policy_decisions"] == "database_error"
    assert by_id["r-half"]["explanation"] == "3 evidence types missing" and by_id["r-half"]["integrity_score"] == 0.5
    assert by_id["r-fail"]["explanation"] == "Critical evidence missing: environment_evidence"
    # Stored verdicts: r-pass agrees; r-warn was sealed VALID and is WARN now; the others have none.
    assert by_id["r-pass"]["stored_agrees"] is True
    assert by_id["r-warn"]["stored"]["integrity_status"] == "VALID" and by_id["r-warn"]["stored_agrees"] is False
    assert "stored" not in by_id["r-half"]
    assert "NO_INTEGRITY_RECORD" in [r["code"] for r in by_id["r-half"]["reasons"]]
    assert "STORED_VERDICT_DIFFERS" in [r["code"] for r in by_id["r-warn"]["reasons"]]
    # Many runs: no step-index alignment in the reasons (it needs each run's rows).
    assert "STEP_INDEX_MISMATCH" not in [r["code"] for r in by_id["r-pass"]["reasons"]]


def test_grade_all_text_lines_and_summary(evidence_db):
    code, text = run_cli("grade", str(evidence_db))
    lines = text.splitlines()
    assert code == 1
    assert lines[-1] == "4 runs: 1 PASS, 2 WARN, 1 FAIL; 1 stored verdict differs from the grade now"
    assert lines[0].split() == ["r-fail", "FAIL", "3/6", "Critical", "evidence", "missing:", "environment_evidence"]
    warn = next(line for line in lines if line.startswith("r-warn"))
    assert "WARN  5/6  1 evidence types missing; 1 capture failures recorded" in warn
    assert warn.endswith("(stored: VALID ≠ now)")
    assert "stored:" not in next(line for line in lines if line.startswith("r-pass"))


def test_grade_filters(evidence_db):
    code, text = run_cli("grade", str(evidence_db), "--json", "--grade", "pass")
    assert code == 0 and [r["run_id"] for r in json.loads(text)["runs"]] == ["r-pass"]
    code, text = run_cli("grade", str(evidence_db), "--json", "--grade", "FAIL")
    assert code == 1 and [r["run_id"] for r in json.loads(text)["runs"]] == ["r-fail"]
    code, text = run_cli("grade", str(evidence_db), "--json", "--tenant", "tenant-b")
    doc = json.loads(text)
    assert code == 0 and [r["run_id"] for r in doc["runs"]] == ["r-half", "r-warn"]
    assert doc["grades"] == {"PASS": 0, "WARN": 2, "FAIL": 0}
    code, text = run_cli("grade", str(evidence_db), "--tenant", "tenant-b", "--grade", "PASS")
    assert code == 0 and text == "0 runs: 0 PASS, 0 WARN, 0 FAIL\n"
    code, text = run_cli("grade", str(evidence_db), "--json", "--since", "2999-01-01")
    assert code == 0 and json.loads(text) == {"source": json.loads(text)["source"], "runs": [], "count": 0,
                                              "grades": {"PASS": 0, "WARN": 0, "FAIL": 0}}


def test_grade_one_run_with_reasons_and_alignment(evidence_db):
    code, text = run_cli("grade", str(evidence_db), "r-pass", "--json")
    report = json.loads(text)
    assert code == 0
    assert list(report) == [*GRADE_KEYS, "stored", "stored_agrees"]
    assert {k: report[k] for k in GRADE_KEYS[1:-1]} == _upstream_v2(evidence_db, "r-pass")
    mismatch = [r for r in report["reasons"] if r["code"] == "STEP_INDEX_MISMATCH"]
    assert [r["message"] for r in mismatch] == [
        "1 of 2 activity_evidence rows have a step index with no trace step (evidence 1–2, trace steps 0–1)"]
    assert mismatch[0]["refs"] == [{"table": "activity_evidence", "step_index": 2}]
    code, text = run_cli("grade", str(evidence_db), "r-warn")
    lines = text.splitlines()
    assert code == 0
    assert lines[0] == "r-warn  WARN  5/6  1 evidence types missing; 1 capture failures recorded  (stored: VALID ≠ now)"
    assert lines[1].startswith("  WARN  No policy decisions evidence (policy_decisions); capture failed: database_error")
    assert lines[2].startswith("        No policy decisions:")
    assert any(line.startswith("  WARN  Upstream stored VALID (score 0.833)") for line in lines)
    code, text = run_cli("grade", str(evidence_db), "r-fail")
    assert code == 1 and text.startswith("r-fail  FAIL  3/6  Critical evidence missing: environment_evidence\n"
                                         "  FAIL  Required environment evidence is missing")
    assert "No integrity record" in text


def test_grade_a_run_id_with_evidence_but_no_trace_and_a_missing_run(evidence_db, capsys):
    code, text = run_cli("grade", str(evidence_db), "ghost", "--json")
    report = json.loads(text)
    assert code == 1
    assert report["integrity_grade"] == "FAIL" and report["observed_artifacts"] == ["environment_evidence"]
    assert report["explanation"] == "Critical evidence missing: aos_traces, aos_trace_steps"
    assert report == {**report, **_upstream_v2(evidence_db, "ghost")}
    code, text = run_cli("grade", str(evidence_db), "nobody")
    err = capsys.readouterr().err
    assert code == 2 and text == ""
    assert err == f"trace-inspector: {evidence_db}: no run 'nobody': no trace, steps or evidence\n"


def test_grade_without_an_evidence_store_says_so_and_exits_2(small_db, fixtures_dir, capsys):
    for source in (str(small_db), str(fixtures_dir / "golden_trace.json")):
        code, text = run_cli("grade", source)
        err = capsys.readouterr().err
        assert code == 2 and text == ""
        assert err.endswith(": no evidence store (no evidence tables) — nothing to grade\n") and err.count("\n") == 1
        assert source in err
    code, _ = run_cli("grade", str(small_db), "run_0000000000000001", "--json")
    assert code == 2 and "no evidence store" in capsys.readouterr().err


def test_grade_usage_errors(evidence_db, capsys):
    code, _ = run_cli("grade", str(evidence_db), "r-pass", "--tenant", "tenant-a", "--grade", "FAIL")
    assert code == 2 and "RUN_ID grades one run: --tenant, --grade filter the runs" in capsys.readouterr().err
    code, _ = run_cli("grade", str(evidence_db), "--grade", "GOOD")
    assert code == 2 and "invalid choice: 'GOOD'" in capsys.readouterr().err


def test_version_names_the_package_version(capsys):
    from importlib.metadata import version

    from ui.cli import main

    out = io.StringIO()
    assert main(["--version"], out=out) == 0
    assert out.getvalue().startswith(f"trace-inspector {version('aos-trace-inspector')} (Python ")


def test_without_a_display_the_app_says_so_in_one_line(small_db):
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    done = subprocess.run([sys.executable, "-m", "ui.cli", str(small_db)], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2  # not Qt's abort (134) telling the user to reinstall
    assert done.stderr.count("\n") == 1 and "no display to open the window on" in done.stderr


def test_what_needs_no_display():
    from ui.cli import _no_display

    assert _no_display({}, "linux") is not None
    assert _no_display({"DISPLAY": ":0"}, "linux") is None
    assert _no_display({"WAYLAND_DISPLAY": "wayland-0"}, "linux") is None
    assert _no_display({"QT_QPA_PLATFORM": "offscreen"}, "linux") is None
    assert _no_display({"QT_QPA_PLATFORM": "xcb"}, "linux") is not None
    assert _no_display({}, "darwin") is None and _no_display({}, "win32") is None
