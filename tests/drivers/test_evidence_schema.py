"""The evidence tables (spec §3.7) as a real Postgres creates them: columns, uniqueness, defaults."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from drivers.evidence_schema import (
    EVIDENCE_TABLES,
    activity_evidence,
    create_evidence_tables,
    environment_evidence,
    evidence_capture_failures,
    runs,
)
from tests.pgutil import sa_url


@pytest.fixture
def engine(pg_url):
    e = sa.create_engine(sa_url(pg_url), poolclass=sa.pool.NullPool)
    with e.begin() as conn:
        create_evidence_tables(conn)
    yield e
    e.dispose()


def test_tables_and_constraints(engine):
    insp = sa.inspect(engine)
    names = set(insp.get_table_names())
    assert {t.name for t in EVIDENCE_TABLES} <= names
    assert {"aos_traces", "aos_trace_steps"} <= names  # beside the trace schema, not instead of it
    uniques = {u["name"]: u["column_names"] for u in insp.get_unique_constraints("evidence_capture_failures")}
    assert uniques["uq_ecf_run_evidence_reason"] == ["run_id", "evidence_type", "failure_reason"]
    cols = {c["name"] for c in insp.get_columns("activity_evidence")}
    assert {"is_synthetic", "synthetic_scenario_id", "created_at", "evidence_source", "prompt_fingerprint"} <= cols
    with engine.begin() as conn:
        conn.execute(runs.insert(), [{"id": "run-1"}])
        conn.execute(environment_evidence.insert(), [{"id": "ee-run-1", "run_id": "run-1", "sdk_mode": "inline"}])
        conn.execute(activity_evidence.insert(), [{"id": "ae-run-1-1", "run_id": "run-1", "step_index": 1}])
        conn.execute(evidence_capture_failures.insert(), [{"id": "ecf-1", "run_id": "no-such-run",
                                                           "evidence_type": "activity_evidence",
                                                           "failure_reason": "database_error"}])
        row = conn.execute(sa.select(activity_evidence.c.evidence_source, activity_evidence.c.is_synthetic)).one()
        assert tuple(row) == ("execution", False)
        resolution = conn.execute(sa.select(evidence_capture_failures.c.resolution)).scalar_one()
        assert resolution == "transient"
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(environment_evidence.insert(), [{"id": "ee-2", "run_id": "run-1", "sdk_mode": "inline"}])
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(activity_evidence.insert(), [{"id": "ae-x", "run_id": "missing-run", "step_index": 1}])
