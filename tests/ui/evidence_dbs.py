"""Small real databases with evidence of every grade for the Qt tests: the same evidence rows,
written with the Core evidence tables, on a SQLite ``traces.db`` or on the test Postgres.

Runs and what upstream grades them (spec §4):

- ``ev-pass``: every class, a stored verdict that agrees; B and G step indexes are 1-based
  (upstream's ExecutionCursor) while the trace's are 0-based: index 3 names no trace step (§11.6).
- ``ev-pass5``: no policy decisions, 5/6: PASS with "All evidence present (5/6)" (§11.14).
- ``ev-warn``: no provider or policy evidence, a transient provider failure and a superseded
  activity failure stored as 'permanent'; upstream stored VALID when it sealed: disagrees now.
- ``ev-fail``: no environment evidence, its capture failure recorded.
- ``plain-*``: traces without evidence: FAIL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

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

T0 = datetime(2026, 11, 29, 5, 0, tzinfo=UTC)
PASS_RUN, PASS5_RUN, WARN_RUN, FAIL_RUN = "ev-pass", "ev-pass5", "ev-warn", "ev-fail"
PLAIN_RUNS = tuple(f"plain-{i}" for i in range(6))
#: Steps written to each run's trace (0-based step indexes).
STEPS = {PASS_RUN: 3, PASS5_RUN: 2, WARN_RUN: 2, FAIL_RUN: 1, **{r: 1 for r in PLAIN_RUNS}}
GRADES = {PASS_RUN: "PASS", PASS5_RUN: "PASS", WARN_RUN: "WARN", FAIL_RUN: "FAIL", **{r: "FAIL" for r in PLAIN_RUNS}}
ALL_OBSERVED = ["environment_evidence", "activity_evidence", "provider_evidence", "policy_decisions",
                "aos_traces", "aos_trace_steps"]


def started(run_id: str) -> datetime:
    return T0 + timedelta(minutes=sorted(STEPS).index(run_id))


def write_evidence(engine: sa.Engine) -> None:
    """The evidence rows of every run (the traces are written by the caller, the dialect's way)."""
    def activity(run_id: str, steps: range) -> list[dict]:
        return [{"id": f"ae-{run_id}-{i}", "run_id": run_id, "step_index": i, "skill_id": "llm_invoke",
                 "model_name": "claude-sonnet", "prompt_fingerprint": f"{i:02d}" + "ab" * 31,
                 "prompt_token_length": 100 * i, "response_fingerprint": f"{i:02d}" + "cd" * 31,
                 "response_token_length": 40 * i, "completion_type": "refused" if i == 2 else "final",
                 "sensitivity_class": "internal", "redaction_status": "hashed", "evidence_source": "worker"}
                for i in steps]

    def provider(run_id: str, steps: range) -> list[dict]:
        return [{"id": f"pe-{run_id}-{i}", "run_id": run_id, "step_index": i, "provider_name": "anthropic",
                 "provider_request_id": f"req-{run_id}-{i}", "model_name": "claude-sonnet", "input_tokens": 100 * i,
                 "output_tokens": 40 * i, "total_tokens": 140 * i, "provider_latency_ms": 800 + i,
                 "provider_http_status": 529 if i == 2 else 200,
                 "provider_error_code": "overloaded" if i == 2 else None,
                 "provider_retry_count": 1 if i == 2 else 0, "requested_at": T0 + timedelta(seconds=i)}
                for i in steps]

    with engine.begin() as conn:
        conn.execute(runs.insert(), [{"id": r} for r in STEPS])
        conn.execute(environment_evidence.insert(), [
            {"id": f"ee-{r}", "run_id": r, "sdk_mode": "inline", "sdk_version": "1.1.0", "environment": "prod",
             "telemetry_delivery_status": "sent", "active_feature_flags": ["fast_path", "audit"],
             "capture_confidence_score": 0.97}
            for r in (PASS_RUN, PASS5_RUN, WARN_RUN)])
        conn.execute(activity_evidence.insert(), activity(PASS_RUN, range(1, 4)) + activity(PASS5_RUN, range(1, 3))
                     + activity(WARN_RUN, range(1, 3)) + activity(FAIL_RUN, range(1, 2)))
        conn.execute(provider_evidence.insert(), provider(PASS_RUN, range(1, 4)) + provider(PASS5_RUN, range(1, 3)))
        conn.execute(policy_decisions.insert(), [
            {"id": f"pd-{PASS_RUN}-budget-0001", "run_id": PASS_RUN, "policy_type": "budget", "decision": "GRANTED",
             "decision_reason": "within the run budget", "policy_results": "pass",
             "decision_reason_codes": ["BUDGET_OK"], "evaluated_by": "policy_engine", "evaluated_at": T0},
            {"id": f"pd-{PASS_RUN}-rate-0002", "run_id": PASS_RUN, "policy_type": "rate_limit", "decision": "DENIED",
             "decision_reason": "tenant over its rate limit", "policy_results": "fail",
             "decision_reason_codes": ["RATE_LIMITED"], "evaluated_by": "policy_engine", "evaluated_at": T0 + timedelta(seconds=1)},
        ])
        conn.execute(evidence_capture_failures.insert(), [
            {"id": "ecf-warn-provider", "run_id": WARN_RUN, "evidence_type": "provider_evidence",
             "failure_reason": "database_error", "error_message": "deadlock detected", "resolution": "transient"},
            {"id": "ecf-warn-activity", "run_id": WARN_RUN, "evidence_type": "activity_evidence",
             "failure_reason": "database_error", "error_message": "duplicate key", "resolution": "permanent"},
            {"id": "ecf-fail-env", "run_id": FAIL_RUN, "evidence_type": "environment_evidence",
             "failure_reason": "database_error", "error_message": "connection reset", "resolution": "transient"},
        ])
        conn.execute(integrity_evidence.insert(), [
            {"id": f"ie-{PASS_RUN}", "run_id": PASS_RUN, "expected_artifacts": ALL_OBSERVED,
             "observed_artifacts": ALL_OBSERVED, "missing_artifacts": [], "missing_reasons": {"_capture_failures": []},
             "integrity_score": 1.0, "integrity_status": "VALID", "verification_method": "evidence_table_scan",
             "verification_timestamp": T0 + timedelta(minutes=5)},
            {"id": f"ie-{WARN_RUN}", "run_id": WARN_RUN, "expected_artifacts": ALL_OBSERVED,
             "observed_artifacts": ALL_OBSERVED, "missing_artifacts": [], "missing_reasons": {"_capture_failures": []},
             "integrity_score": 1.0, "integrity_status": "VALID", "verification_method": "evidence_table_scan",
             "verification_timestamp": T0 + timedelta(minutes=5)},
        ])


def build_evidence_db(path: Path) -> Path:
    """A SQLite traces.db with the evidence tables beside upstream's trace tables."""
    from drivers.sqlite_writer import SQLiteTraceWriter, StepInput

    with SQLiteTraceWriter(path, clock=lambda: T0) as w:
        for run_id, n in STEPS.items():
            w.start_trace(run_id, f"corr-{run_id}", "tenant-a", "agent-1", [{"skill": "llm_invoke"}])
            w.record_steps(StepInput(run_id, i, "llm_invoke", {"i": i}, "success", "SUCCESS", None, None, 1.0, 5.0)
                           for i in range(n))
            w.complete_trace(run_id, "completed")
        for run_id in STEPS:
            w.execute_raw("UPDATE traces SET started_at = ? WHERE run_id = ?", (started(run_id).isoformat(), run_id))
    engine = sa.create_engine(sa.engine.URL.create("sqlite+pysqlite", database=str(path)), poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            create_evidence_tables(conn)
        write_evidence(engine)
    finally:
        engine.dispose()
    return path


def fill_pg_evidence(url: str) -> None:
    """The same runs on the test Postgres (whose schema has the evidence tables); ``ev-pass``
    gets a second trace, which shares its run's grade."""
    from tests.pgutil import TraceBuilder, sa_url

    b = TraceBuilder(url)
    try:
        for run_id, n in STEPS.items():
            b.trace(run_id, statuses=("succeeded",) * n, started_at=started(run_id), created_at=started(run_id))
        b.trace(PASS_RUN, trace_id=f"trace_{PASS_RUN}_2", statuses=("succeeded",),
                started_at=started(PASS_RUN) + timedelta(hours=1), created_at=started(PASS_RUN) + timedelta(hours=1))
    finally:
        b.close()
    engine = sa.create_engine(sa_url(url), poolclass=sa.pool.NullPool)
    try:
        write_evidence(engine)
    finally:
        engine.dispose()
