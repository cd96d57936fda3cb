"""The command line on a real Postgres: runs and show like SQLite, several traces per run,
archived traces, streaming JSON, password handling, one-line errors."""

from __future__ import annotations

import io
import json
import socket
from datetime import UTC, datetime, timedelta

import pytest

from tests.pgutil import TraceBuilder
from ui.cli import main

T0 = datetime(2026, 11, 29, 5, 0, 0, tzinfo=UTC)


def run_cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(args), out=out)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def pg(pg_server):
    """One database for the module: these tests only read."""
    from tests.pgutil import with_database

    name = pg_server.create(template=pg_server.template())
    pg_url = with_database(pg_server.url, name)
    b = TraceBuilder(pg_url)
    for i in range(12):
        b.trace(f"run-{i:02d}", started_at=T0 + timedelta(minutes=i), tenant_id=f"tenant-{i % 2}",
                statuses=("succeeded", "failed", "skipped")[: 1 + i % 3])
    b.trace("run-03", trace_id="trace_feedfacefeedface", created_at=T0 + timedelta(days=1),
            started_at=T0 + timedelta(days=1), statuses=("succeeded",) * 3)
    b.trace("gone", archived_at=T0, started_at=T0 - timedelta(days=100))
    b.trace("long", started_at=T0 + timedelta(hours=3), statuses=("succeeded",) * 5000)
    b.close()
    yield pg_url
    pg_server.drop(name)


def test_runs_json(pg):
    code, text = run_cli("runs", pg, "--json")
    assert code == 0
    doc = json.loads(text)
    assert doc["source"]["kind"] == "postgres"
    assert doc["count"] == 14
    keys = [r["trace_id"] for r in doc["runs"]]
    assert keys[0] == "trace_feedfacefeedface" and "trace_run-03" in keys
    assert "trace_gone" not in keys
    r2 = next(r for r in doc["runs"] if r["trace_id"] == "trace_run-02")
    assert (r2["total_steps"], r2["success_count"], r2["failure_count"]) == (3, 1, 1)
    code, text = run_cli("runs", pg, "--json", "--archived", "--tenant", "tenant-a")
    assert [r["trace_id"] for r in json.loads(text)["runs"]] == ["trace_feedfacefeedface", "trace_long", "trace_gone"]
    assert json.loads(text)["runs"][2]["archived"] is True


def test_runs_table_has_trace_ids(pg):
    code, text = run_cli("runs", pg, "--limit", "3")
    assert code == 0
    assert "TRACE ID" in text.splitlines()[0]
    assert "trace_feedfacefeedface" in text
    assert text.rstrip().endswith("3 run(s)")


def test_show_by_run_id_picks_the_newest_trace_and_names_the_others(pg, capsys):
    code, text = run_cli("show", pg, "run-03")
    assert code == 0
    assert "trace=trace_feedfacefeedface" in text and "root_hash=not computed" in text
    assert "run run-03 has 2 traces" in capsys.readouterr().err
    code, text = run_cli("show", pg, "trace_run-03", "--json")
    doc = json.loads(text)
    assert doc["run"]["trace_id"] == "trace_run-03"
    assert [s["status_raw"] for s in doc["steps"]] == ["succeeded"]
    assert doc["steps"][0]["status"] == "success" and doc["steps"][0]["trace_id"] == "trace_run-03"


def test_show_streams_a_long_run(pg):
    code, text = run_cli("show", pg, "long", "--json")
    assert code == 0
    steps = json.loads(text)["steps"]
    assert [s["step_index"] for s in steps] == list(range(5000))
    assert steps[10]["params"] == {"i": 10} and steps[10]["outcome_data"] == {"out": 10}


def test_errors_are_one_line_with_exit_2(pg, capsys):
    code, _ = run_cli("show", pg, "no-such-run")
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "no-such-run" in err
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    code, _ = run_cli("runs", f"postgresql://someone:hunter2@127.0.0.1:{port}/aos")
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert f"127.0.0.1:{port}" in err and "hunter2" not in err


def test_demo_fills_postgres_and_refuses_a_second_time(pg_empty_url, capsys):
    code, text = run_cli("demo", "--postgres", pg_empty_url, "--big-run-steps", "300")
    assert code == 0, capsys.readouterr().err
    assert "traces" in text and "audit events" in text and "mismatches" in text
    code, listing = run_cli("runs", pg_empty_url, "--json")
    doc = json.loads(listing)
    assert doc["count"] > 300
    runs = {r["run_id"]: r for r in doc["runs"]}
    # Two runs have a second, SDK-posted trace; statuses of every kind are there.
    per_run: dict[str, int] = {}
    for r in doc["runs"]:
        per_run[r["run_id"]] = per_run.get(r["run_id"], 0) + 1
    assert sorted(per_run.values())[-2:] == [2, 2]
    assert {"completed", "failed", "running"} <= {r["status"] for r in runs.values()}
    code, again = run_cli("demo", "--postgres", pg_empty_url, "--big-run-steps", "300")
    err = capsys.readouterr().err
    assert code == 2 and "already holds AOS traces" in err


@pytest.fixture(scope="module")
def demo_pg(pg_server):
    """The Postgres demo (small big run), for the logs commands; read-only tests."""
    from drivers.demo.postgres import generate_pg_demo
    from tests.pgutil import with_database

    name = pg_server.create()
    url = with_database(pg_server.url, name)
    summary = generate_pg_demo(url, big_run_steps=200)
    yield url, summary
    pg_server.drop(name)


def test_audit_tenant_wide_pages_and_filters(demo_pg):
    url, summary = demo_pg
    code, text = run_cli("audit", url, "--json")
    assert code == 0
    doc = json.loads(text)
    assert doc["count"] == summary.audit_events == len(doc["events"])
    created = [(e["created_at"], e["id"]) for e in doc["events"]]
    assert created == sorted(created, reverse=True)
    code, text = run_cli("audit", url, "--json", "--entity-type", "LIMIT", "--limit", "7")
    events = json.loads(text)["events"]
    assert len(events) == 7 and {e["entity_type"] for e in events} == {"LIMIT"}
    code, text = run_cli("audit", url, "--json", "--event-type", "LimitUpdated", "--limit", "1")
    (event,) = json.loads(text)["events"]
    assert {"pointer": "/max", "op": "changed", "before": 500, "after": 400} in event["changes"]
    code, text = run_cli("audit", url, "--limit", "3")
    assert code == 0 and text.rstrip().endswith("3 event(s)")


def test_audit_for_one_run_and_logs_document(demo_pg):
    url, _ = demo_pg
    code, text = run_cli("audit", url, "--json", "--event-type", "LimitBreached", "--limit", "1")
    run_id = json.loads(text)["events"][0]["after_state"]["run_id"]
    code, text = run_cli("audit", url, "--run", run_id, "--json")
    events = json.loads(text)["events"]
    assert code == 0 and events
    assert all(run_id in (str((e["after_state"] or {}).get("run_id")), str((e["after_state"] or {}).get("source_run_id")),
                          str((e["before_state"] or {}).get("run_id")), str((e["before_state"] or {}).get("source_run_id")))
               for e in events)
    code, text = run_cli("logs", url, run_id, "--json")
    assert code == 0
    doc = json.loads(text)
    assert doc["run_id"] == run_id and doc["trace_id"] == f"trace_{run_id}"
    assert {"llm_records", "system_records", "exports", "replay_window", "mismatches", "audit",
            "policy_activations", "notes"} <= set(doc)
    window = doc["replay_window"]
    stamps = [e["timestamp"] for e in window["entries"]]
    assert stamps == sorted(stamps) and {e["source"] for e in window["entries"]} >= {"llm"}
    assert any(e["event_type"] == "LimitBreached" for e in doc["audit"])
    code, text = run_cli("logs", url, run_id)
    assert code == 0 and "Replay window" in text and "LLM run records" in text


def test_logs_and_audit_need_postgres(small_db, capsys):
    code, _ = run_cli("logs", str(small_db), "whatever")
    err = capsys.readouterr().err
    assert code == 2 and "live in the AOS Postgres database" in err
    code, _ = run_cli("audit", str(small_db))
    assert code == 2


# --- grade -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graded_pg(pg_server):
    """Traces with evidence of every grade: a run with two traces, an archived trace, a stored
    verdict that disagrees, and evidence of a run id that has no trace. Read-only tests."""
    import sqlalchemy as sa

    from drivers.evidence_schema import (
        activity_evidence,
        environment_evidence,
        evidence_capture_failures,
        integrity_evidence,
        policy_decisions,
        provider_evidence,
        runs,
    )
    from tests.pgutil import sa_url, with_database

    name = pg_server.create(template=pg_server.template())
    url = with_database(pg_server.url, name)
    b = TraceBuilder(url)
    b.trace("p-pass", statuses=("succeeded", "succeeded"), started_at=T0)
    b.trace("p-two", trace_id="trace_p-two-old", statuses=(), tenant_id="tenant-b", created_at=T0,
            started_at=T0 + timedelta(minutes=1))
    b.trace("p-two", statuses=("succeeded",), tenant_id="tenant-b", created_at=T0 + timedelta(minutes=5),
            started_at=T0 + timedelta(minutes=5))
    b.trace("p-warn", statuses=("succeeded",), started_at=T0 + timedelta(minutes=2))
    b.trace("p-fail", statuses=(), started_at=T0 + timedelta(minutes=3))
    b.trace("p-archived", statuses=("succeeded",), archived_at=T0, started_at=T0 - timedelta(days=9))
    b.close()
    every = ("p-pass", "p-two", "p-warn", "p-fail", "p-archived", "p-ghost")
    e = sa.create_engine(sa_url(url), poolclass=sa.pool.NullPool)
    with e.begin() as conn:
        conn.execute(runs.insert(), [{"id": r} for r in every])
        conn.execute(environment_evidence.insert(), [{"id": f"ee-{r}", "run_id": r, "sdk_mode": "inline"} for r in every])
        conn.execute(activity_evidence.insert(), [
            {"id": f"ae-{r}-{i}", "run_id": r, "step_index": i}
            for r, i in (("p-pass", 1), ("p-pass", 2), ("p-two", 1), ("p-warn", 1), ("p-archived", 1))])
        conn.execute(provider_evidence.insert(), [
            {"id": f"pe-{r}", "run_id": r, "step_index": 1, "requested_at": T0} for r in ("p-pass", "p-archived")])
        conn.execute(policy_decisions.insert(), [
            {"id": f"pd-{r}", "run_id": r, "policy_type": "budget", "decision": "GRANTED", "evaluated_at": T0}
            for r in ("p-pass", "p-two", "p-archived")])
        conn.execute(evidence_capture_failures.insert(), [
            {"id": "ecf-1", "run_id": "p-warn", "evidence_type": "provider_evidence", "failure_reason": "timeout",
             "error_message": "provider did not answer", "resolution": "permanent"}])
        conn.execute(integrity_evidence.insert(), [
            {"id": "ie-pass", "run_id": "p-pass", "expected_artifacts": [], "integrity_score": 1.0,
             "integrity_status": "VALID", "verification_timestamp": T0,
             "observed_artifacts": ["environment_evidence", "activity_evidence", "provider_evidence",
                                    "policy_decisions", "aos_traces", "aos_trace_steps"]},
            {"id": "ie-warn", "run_id": "p-warn", "expected_artifacts": [], "integrity_score": 0.5,
             "integrity_status": "FAILED", "verification_timestamp": T0,
             "observed_artifacts": ["aos_traces", "aos_trace_steps", "activity_evidence"]}])
    e.dispose()
    yield url
    pg_server.drop(name)


def _v2(url: str, run_id: str) -> dict:
    """compute_integrity_v2 on the facts the evidence reader gathers (no CLI in between)."""
    from drivers import open_source
    from inspector.integrity import compute_integrity_v2

    source = open_source(url)
    try:
        return compute_integrity_v2(source.evidence().facts(run_id))
    finally:
        source.close()


def test_grade_every_run_once_per_run_id(graded_pg):
    code, text = run_cli("grade", graded_pg, "--json")
    doc = json.loads(text)
    assert code == 1
    assert doc["source"]["kind"] == "postgres"
    # Traces are rows of the runs list; grading is per run id: p-two (two traces) is graded once.
    assert [r["run_id"] for r in doc["runs"]] == ["p-fail", "p-pass", "p-two", "p-warn"]
    assert doc["count"] == 4 and doc["grades"] == {"PASS": 2, "WARN": 1, "FAIL": 1}
    by_id = {r["run_id"]: r for r in doc["runs"]}
    for rid, report in by_id.items():
        assert {k: v for k, v in report.items() if k not in ("run_id", "reasons", "stored", "stored_agrees")} \
            == _v2(graded_pg, rid)
    assert by_id["p-two"]["explanation"] == "All evidence present (5/6)"  # the steps of either trace count
    assert by_id["p-fail"]["explanation"] == "Critical evidence missing: aos_trace_steps"
    # A stored 'permanent' resolution is ignored (§11.14): transient, so WARN, not FAIL.
    assert by_id["p-warn"]["integrity_grade"] == "WARN"
    assert by_id["p-warn"]["capture_failures"] == [{"evidence_type": "provider_evidence", "failure_reason": "timeout",
                                                    "error_message": "provider did not answer",
                                                    "resolution": "transient"}]
    assert "STORED_RESOLUTION_IGNORED" in [r["code"] for r in by_id["p-warn"]["reasons"]]
    assert by_id["p-warn"]["stored_agrees"] is False and by_id["p-pass"]["stored_agrees"] is True


def test_grade_filters_on_postgres(graded_pg):
    code, text = run_cli("grade", graded_pg, "--json", "--archived")
    assert code == 1 and "p-archived" in [r["run_id"] for r in json.loads(text)["runs"]]
    code, text = run_cli("grade", graded_pg, "--json", "--grade", "PASS")
    assert code == 0 and [r["run_id"] for r in json.loads(text)["runs"]] == ["p-pass", "p-two"]
    code, text = run_cli("grade", graded_pg, "--json", "--grade", "PASS", "--archived")
    assert [r["run_id"] for r in json.loads(text)["runs"]] == ["p-archived", "p-pass", "p-two"]
    code, text = run_cli("grade", graded_pg, "--grade", "FAIL")
    assert code == 1 and text.splitlines() == ["p-fail  FAIL  2/6  Critical evidence missing: aos_trace_steps",
                                               "1 run: 0 PASS, 0 WARN, 1 FAIL"]
    code, text = run_cli("grade", graded_pg, "--tenant", "tenant-b", "--json")
    assert code == 0 and [r["run_id"] for r in json.loads(text)["runs"]] == ["p-two"]
    code, text = run_cli("grade", graded_pg, "--since", "2026-11-29T05:02:00")
    assert code == 1 and [line.split()[0] for line in text.splitlines()[:-1]] == ["p-fail", "p-two", "p-warn"]


def test_grade_one_run_by_trace_id_with_alignment(graded_pg, capsys):
    code, text = run_cli("grade", graded_pg, "trace_p-two-old", "--json")
    report = json.loads(text)
    assert code == 0 and report["run_id"] == "p-two"
    assert "note: trace trace_p-two-old is of run p-two" in capsys.readouterr().err
    assert "NO_INTEGRITY_RECORD" in [r["code"] for r in report["reasons"]] and "stored" not in report
    code, text = run_cli("grade", graded_pg, "p-pass", "--json")
    report = json.loads(text)
    assert code == 0 and report["stored_agrees"] is True
    assert {k: report[k] for k in _v2(graded_pg, "p-pass")} == _v2(graded_pg, "p-pass")
    mismatch = [r for r in report["reasons"] if r["code"] == "STEP_INDEX_MISMATCH"]
    assert [r["refs"] for r in mismatch] == [[{"table": "activity_evidence", "step_index": 2}]]
    code, text = run_cli("grade", graded_pg, "p-warn")
    assert code == 0
    assert text.splitlines()[0] == ("p-warn  WARN  4/6  2 evidence types missing; 1 capture failures recorded"
                                    "  (stored: FAILED ≠ now)")


def test_grade_evidence_without_a_trace_and_a_missing_run(graded_pg, capsys):
    code, text = run_cli("grade", graded_pg, "p-ghost", "--json")
    report = json.loads(text)
    assert code == 1
    assert report["explanation"] == "Critical evidence missing: aos_traces, aos_trace_steps"
    assert report["missing_reasons"]["aos_traces"] == "no_records_found"
    code, text = run_cli("grade", graded_pg, "nobody")
    err = capsys.readouterr().err
    assert code == 2 and text == "" and err.count("\n") == 1
    assert "no run 'nobody': no trace, steps or evidence" in err


def test_grade_postgres_without_evidence_tables(pg_server, capsys):
    from tests.pgutil import with_database

    name = pg_server.create(template=pg_server.template(evidence_tables=False))
    url = with_database(pg_server.url, name)
    try:
        b = TraceBuilder(url)
        b.trace("r1")
        b.close()
        code, text = run_cli("grade", url)
        err = capsys.readouterr().err
        assert code == 2 and text == ""
        assert err.endswith(": no evidence store (no evidence tables) — nothing to grade\n") and name in err
        code, text = run_cli("grade", url, "r1")
        assert code == 2 and "nothing to grade" in capsys.readouterr().err
    finally:
        pg_server.drop(name)
