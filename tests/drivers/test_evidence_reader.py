"""Integrity facts read from a real Postgres with grouped counts, graded by upstream's rules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from drivers.evidence_reader import PostgresEvidenceReader
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
from inspector.integrity import (
    EvidenceClass,
    IntegrityGrade,
    compute_integrity_v2,
    evaluate,
)
from tests.pgutil import TraceBuilder, sa_url, with_database

NOW = datetime(2026, 11, 29, 5, 0, tzinfo=UTC)


@pytest.fixture
def engine(pg_url):
    e = sa.create_engine(sa_url(pg_url), poolclass=sa.pool.NullPool)
    with e.begin() as conn:
        create_evidence_tables(conn)
    b = TraceBuilder(pg_url)
    b.trace("full", statuses=("succeeded", "succeeded"))
    b.trace("no-env", statuses=("succeeded",))
    b.trace("superseded", statuses=("succeeded",))
    b.trace("bare", statuses=())
    b.close()
    with e.begin() as conn:
        conn.execute(runs.insert(), [{"id": r} for r in ("full", "no-env", "superseded", "bare", "evidence-only")])
        conn.execute(environment_evidence.insert(), [
            {"id": f"ee-{r}", "run_id": r, "sdk_mode": "inline"} for r in ("full", "superseded", "evidence-only")])
        conn.execute(activity_evidence.insert(), [
            {"id": f"ae-{r}-{i}", "run_id": r, "step_index": i} for r in ("full", "no-env", "superseded") for i in (1, 2)])
        conn.execute(provider_evidence.insert(), [
            {"id": f"pe-{r}-1", "run_id": r, "step_index": 1, "requested_at": NOW} for r in ("full", "superseded")])
        conn.execute(policy_decisions.insert(), [
            {"id": f"pd-{r}", "run_id": r, "policy_type": "budget", "decision": "GRANTED", "evaluated_at": NOW}
            for r in ("full",)])
        conn.execute(evidence_capture_failures.insert(), [
            {"id": "ecf-1", "run_id": "superseded", "evidence_type": "activity_evidence",
             "failure_reason": "database_error", "error_message": "deadlock", "resolution": "permanent"},
            {"id": "ecf-2", "run_id": "no-env", "evidence_type": "environment_evidence",
             "failure_reason": "database_error", "error_message": "timeout", "resolution": "transient"}])
        conn.execute(integrity_evidence.insert(), [
            {"id": "ie-full", "run_id": "full", "expected_artifacts": ["a"], "observed_artifacts": ["b"],
             "integrity_score": 1.0, "integrity_status": "VALID"},
            {"id": "ie-superseded", "run_id": "superseded", "expected_artifacts": [], "observed_artifacts": [],
             "integrity_score": 0.8333, "integrity_status": "VALID"}])
    yield e
    e.dispose()


def test_grades_of_every_kind(engine, pg_url):
    reader = PostgresEvidenceReader(engine, pg_url)
    assert reader.has_store
    facts = reader.facts_for_runs(["full", "no-env", "superseded", "bare", "nobody"])
    grades = {rid: evaluate(f) for rid, f in facts.items()}
    assert grades["full"].grade is IntegrityGrade.PASS and grades["full"].explanation == "All evidence present (6/6)"
    assert grades["no-env"].grade is IntegrityGrade.FAIL
    assert grades["no-env"].explanation == "Critical evidence missing: environment_evidence"
    # A failure superseded by evidence captured later still forces WARN; the stored
    # 'permanent' resolution is ignored, as upstream does (§11.14).
    assert grades["superseded"].grade is IntegrityGrade.WARN
    assert grades["superseded"].explanation == "1 evidence types missing; 1 capture failures recorded"
    assert [f.stored_resolution for f in facts["superseded"].failures] == ["permanent"]
    assert grades["bare"].explanation == "Critical evidence missing: environment_evidence, aos_trace_steps"
    assert grades["nobody"].score == 0.0
    assert facts["full"].counts[EvidenceClass.TRACE_STEPS] == 2
    out = compute_integrity_v2(facts["no-env"])
    assert out["missing_reasons"]["environment_evidence"] == "database_error"
    assert out["missing_reasons"]["_capture_failures"][0]["resolution"] == "transient"
    assert reader.facts("full") == facts["full"]


def test_stored_verdicts_and_disagreement(engine, pg_url):
    reader = PostgresEvidenceReader(engine, pg_url)
    stored = reader.stored_verdicts(["full", "superseded", "bare"])
    assert set(stored) == {"full", "superseded"}
    assert stored["full"].grade is IntegrityGrade.PASS
    ours = evaluate(reader.facts("superseded"))
    assert stored["superseded"].grade is IntegrityGrade.PASS and ours.grade is IntegrityGrade.WARN


def test_no_evidence_store_and_missing_tables(pg_server):
    pg_url = with_database(pg_server.url, pg_server.create(template=pg_server.template(evidence_tables=False)))
    e = sa.create_engine(sa_url(pg_url), poolclass=sa.pool.NullPool)
    try:
        TraceBuilder(pg_url).trace("r1")
        reader = PostgresEvidenceReader(e, pg_url)
        assert not reader.has_store
        facts = reader.facts("r1")
        assert facts.counts[EvidenceClass.TRACE] == 1 and facts.failures == ()
        assert reader.stored_verdicts(["r1"]) == {}
        with e.begin() as conn:
            conn.execute(sa.text("CREATE TABLE environment_evidence (id text PRIMARY KEY, run_id text)"))
            conn.execute(sa.text("INSERT INTO environment_evidence VALUES ('ee', 'r1')"))
        reader = PostgresEvidenceReader(e, pg_url)
        assert reader.has_store
        assert evaluate(reader.facts("r1")).explanation == "3 evidence types missing"
    finally:
        e.dispose()
