"""The Postgres trace writer against a real Postgres with upstream's schema and triggers (spec §2)."""

from __future__ import annotations

import enum
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from drivers.pg_schema import (
    aos_trace_mismatches,
    aos_trace_steps,
    aos_traces,
    llm_run_records,
    log_exports,
    system_records,
    tenants,
)
from drivers.pg_writer import (
    ORPHAN_STEPS,
    PgStepInput,
    PostgresTraceStore,
    insert_llm_run_record,
    insert_log_export,
    insert_mismatch,
    insert_system_record,
    insert_tenant,
    status_to_level,
)
from tests.drivers.conftest import CLOCK_START
from tests.pgutil import sa_url

SDK_ROOT = "a6058e3ba45f1193d0b4f15c8d0710860cab6ac4ce021a04aff4edf552dc7629"  # spec §1.8's vector


@pytest.fixture
def engine(pg_url):
    eng = sa.create_engine(sa_url(pg_url))
    yield eng
    eng.dispose()


@pytest.fixture
def store(engine, clock) -> PostgresTraceStore:
    return PostgresTraceStore(engine, clock=clock)


def trace_row(engine, trace_id: str) -> dict:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(aos_traces).where(aos_traces.c.trace_id == trace_id)).mappings().one())


def step_rows(engine, trace_id: str) -> list[dict]:
    q = sa.select(aos_trace_steps).where(aos_trace_steps.c.trace_id == trace_id).order_by(aos_trace_steps.c.step_index)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def count(engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


STEP_DEFAULTS = {"skill_name": "http_call", "params": {"url": "https://x.io"}, "outcome_category": "execution",
                 "outcome_data": {"ok": True}, "cost_cents": 1.5, "duration_ms": 12.0, "retry_count": 0}
POSITIONAL = ("skill_name", "params", "status", "outcome_category", "outcome_code", "outcome_data", "cost_cents",
              "duration_ms", "retry_count")


def add_step(store: PostgresTraceStore, trace_id: str, index: int = 0, status="succeeded", **kw) -> bool:
    """``record_step`` with the worker's usual arguments, any of them overridden by keyword."""
    args = {**STEP_DEFAULTS, "status": status, "outcome_code": status, **kw}
    positional = [args.pop(k) for k in POSITIONAL]
    return store.record_step(trace_id, index, *positional, **args)


# -- start_trace ----------------------------------------------------------------------------------


def test_start_trace_writes_the_worker_row(store, engine):
    trace_id = store.start_trace("run-1", "corr-1", "t1", "agent-1", [{"skill": "http_call"}])
    assert trace_id == "trace_run-1"
    row = trace_row(engine, trace_id)
    assert {k: row[k] for k in ("run_id", "correlation_id", "tenant_id", "agent_id", "root_hash", "plan", "trace",
                                "schema_version", "status", "seed", "metadata", "completed_at", "checksum",
                                "is_synthetic", "synthetic_scenario_id", "incident_id", "archived_at")} == {
        "run_id": "run-1", "correlation_id": "corr-1", "tenant_id": "t1", "agent_id": "agent-1",
        "root_hash": "pending", "plan": [{"skill": "http_call"}], "trace": {"steps": []}, "schema_version": "1.0",
        "status": "running", "seed": None, "metadata": None, "completed_at": None, "checksum": None,
        "is_synthetic": False, "synthetic_scenario_id": None, "incident_id": None, "archived_at": None,
    }
    assert row["started_at"] == row["created_at"] == CLOCK_START


def test_start_trace_twice_does_nothing(store, engine):
    store.start_trace("run-1", "corr-1", "t1", None, [])
    assert store.start_trace("run-1", "corr-OTHER", "t2", "a", [{"x": 1}], is_synthetic=True) == "trace_run-1"
    row = trace_row(engine, "trace_run-1")
    assert (row["correlation_id"], row["tenant_id"], row["plan"], row["is_synthetic"]) == ("corr-1", "t1", [], False)
    assert count(engine, aos_traces) == 1


def test_start_trace_sdsr_columns_and_a_none_plan(store, engine):
    store.start_trace("run-s", "c", "t", None, None, is_synthetic=True, synthetic_scenario_id="SC-1",
                      incident_id="inc-9", replay_mode="FULL")
    row = trace_row(engine, "trace_run-s")
    assert (row["is_synthetic"], row["synthetic_scenario_id"], row["incident_id"], row["replay_mode"]) == (
        True, "SC-1", "inc-9", "FULL")
    # json.dumps(None) upstream: JSON null, which the NOT NULL column accepts.
    assert scalar(engine, "SELECT jsonb_typeof(plan) FROM aos_traces") == "null"


# -- record_step ----------------------------------------------------------------------------------


def test_record_step_row(store, engine, clock):
    tid = store.start_trace("run-1", "c", "t", None, [])
    assert add_step(store, tid, 0, status="succeeded") is True
    [row] = step_rows(engine, tid)
    assert {k: row[k] for k in ("step_index", "skill_id", "skill_name", "params", "status", "outcome_category",
                                "outcome_code", "outcome_data", "cost_cents", "duration_ms", "retry_count",
                                "replay_behavior", "source", "level", "is_synthetic", "synthetic_scenario_id",
                                "input_hash", "output_hash", "rng_state_before", "idempotency_key")} == {
        "step_index": 0, "skill_id": "http_call", "skill_name": "http_call", "params": {"url": "https://x.io"},
        "status": "succeeded", "outcome_category": "execution", "outcome_code": "succeeded",
        "outcome_data": {"ok": True}, "cost_cents": 1.5, "duration_ms": 12.0, "retry_count": 0,
        "replay_behavior": "execute", "source": "engine", "level": "INFO", "is_synthetic": False,
        "synthetic_scenario_id": None, "input_hash": None, "output_hash": None, "rng_state_before": None,
        "idempotency_key": None,
    }
    assert row["timestamp"] == CLOCK_START + timedelta(seconds=1)  # the clock's second call


def test_record_step_first_write_wins(store, engine):
    tid = store.start_trace("run-1", "c", "t", None, [])
    assert add_step(store, tid, 0, skill_name="first", status="success") is True
    assert add_step(store, tid, 0, skill_name="second", status="failure") is False
    [row] = step_rows(engine, tid)
    assert (row["skill_name"], row["status"], row["level"]) == ("first", "success", "INFO")


def test_record_step_refuses_orphans(store, engine):
    with pytest.raises(ValueError, match=ORPHAN_STEPS) as err:
        add_step(store, "trace_missing")
    assert str(err.value) == "Parent trace trace_missing does not exist - orphan steps forbidden"
    assert count(engine, aos_trace_steps) == 0


def test_record_step_guards(store, engine):
    tid = store.start_trace("run-1", "c", "t", None, [])
    with pytest.raises(ValueError, match="trace_id is required"):
        add_step(store, "")
    with pytest.raises(ValueError, match="synthetic_scenario_id required when is_synthetic=True"):
        add_step(store, tid, is_synthetic=True)
    assert add_step(store, tid, is_synthetic=True, synthetic_scenario_id="SC-1", source="replay")
    [row] = step_rows(engine, tid)
    assert (row["is_synthetic"], row["synthetic_scenario_id"], row["source"]) == (True, "SC-1", "replay")


class TraceStatus(str, enum.Enum):
    FAILURE = "failure"


LEVELS = [
    ("success", "success", "INFO"), ("succeeded", "succeeded", "INFO"), ("skipped", "skipped", "INFO"),
    ("failure", "failure", "ERROR"), ("FAILURE", "FAILURE", "ERROR"), ("Error", "Error", "ERROR"),
    ("failed", "failed", "INFO"),  # the worker's failed steps are INFO (§11.4)
    ("retry", "retry", "WARN"), ("RETRYING", "RETRYING", "WARN"), ("pending", "pending", "INFO"),
    (TraceStatus.FAILURE, "failure", "ERROR"),  # an enum is stored by its value
]


def test_level_mapping_at_write_time(store, engine):
    tid = store.start_trace("run-1", "c", "t", None, [])
    for index, (status, _stored, _level) in enumerate(LEVELS):
        add_step(store, tid, index, status=status)
    assert [(r["status"], r["level"]) for r in step_rows(engine, tid)] == [(s, lv) for _, s, lv in LEVELS]


def test_status_to_level_non_strings():
    assert status_to_level(None) == "INFO"
    assert status_to_level(TraceStatus.FAILURE) == "ERROR"  # str(Enum) ≠ value, but the str mixin lowers to it
    assert status_to_level(" failure") == "INFO"  # no trimming


def test_outcome_data_null_when_empty_and_params_json_null(store, engine):
    tid = store.start_trace("run-1", "c", "t", None, [])
    add_step(store, tid, 0, outcome_data={})
    add_step(store, tid, 1, outcome_data=None, params=None)
    rows = step_rows(engine, tid)
    assert [r["outcome_data"] for r in rows] == [None, None]
    assert scalar(engine, "SELECT count(*) FROM aos_trace_steps WHERE outcome_data IS NULL") == 2
    assert scalar(engine, "SELECT jsonb_typeof(params) FROM aos_trace_steps WHERE step_index = 1") == "null"


def test_record_step_v11_columns_and_explicit_timestamp(store, engine):
    tid = store.start_trace("run-1", "c", "t", None, [])
    when = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    add_step(store, tid, skill_id="skill-7", timestamp=when, idempotency_key="t:abc", replay_behavior="check",
             input_hash="i" * 16, output_hash="o" * 16, rng_state_before="rng", run_id="ignored")
    [row] = step_rows(engine, tid)
    assert (row["skill_id"], row["timestamp"], row["idempotency_key"], row["replay_behavior"], row["input_hash"],
            row["output_hash"], row["rng_state_before"]) == ("skill-7", when, "t:abc", "check", "i" * 16, "o" * 16,
                                                             "rng")


def test_record_steps_bulk(store, engine):
    a = store.start_trace("run-a", "c", "t", None, [])
    b = store.start_trace("run-b", "c", "t", None, [])
    add_step(store, a, 0, skill_name="already")
    rows = [PgStepInput(tid, i, f"s{i}", {"i": i}, "retry" if i == 2 else "success", "SUCCESS", None, {"i": i},
                        0.5, 2.0, 0) for tid in (a, b) for i in range(3)]
    rows.append({"trace_id": b, "step_index": 0, "skill_name": "dup", "params": {}, "status": "failure",
                 "outcome_category": "X", "outcome_code": None, "outcome_data": None, "cost_cents": 0,
                 "duration_ms": 0, "retry_count": 0})
    assert store.record_steps(rows) == 5  # a/0 and the second b/0 lose: first write wins
    assert [r["skill_name"] for r in step_rows(engine, a)] == ["already", "s1", "s2"]
    assert [(r["skill_name"], r["level"]) for r in step_rows(engine, b)] == [("s0", "INFO"), ("s1", "INFO"),
                                                                           ("s2", "WARN")]
    assert store.record_steps([]) == 0


def test_record_steps_checks_every_row_before_writing(store, engine):
    a = store.start_trace("run-a", "c", "t", None, [])
    rows = [PgStepInput(a, 0, "s", {}, "success", "SUCCESS", None, None, 0, 0, 0),
            PgStepInput("trace_nope", 0, "s", {}, "success", "SUCCESS", None, None, 0, 0, 0)]
    with pytest.raises(ValueError, match="Parent trace trace_nope does not exist - orphan steps forbidden"):
        store.record_steps(rows)
    assert count(engine, aos_trace_steps) == 0


# -- completion, abort and the immutability trigger -------------------------------------------------


def test_complete_trace_is_allowed_and_coalesces_metadata(store, engine, clock):
    tid = store.start_trace("run-1", "c", "t", None, [])
    assert store.complete_trace("run-1", "completed", {"replay_of": "run-0", "dry_run": False}) == 1
    row = trace_row(engine, tid)
    assert (row["status"], row["metadata"]) == ("completed", {"replay_of": "run-0", "dry_run": False})
    assert row["completed_at"] == CLOCK_START + timedelta(seconds=1)
    store.complete_trace("run-1", "failed", None)
    store.complete_trace("run-1", "failed", {})
    row = trace_row(engine, tid)
    assert (row["status"], row["metadata"]) == ("failed", {"replay_of": "run-0", "dry_run": False})
    assert store.complete_trace("run-nobody", "completed") == 0


def test_complete_trace_updates_every_trace_of_the_run(store, engine):
    store.start_trace("run-1", "c", "t", None, [])
    store.store_trace({"trace_id": "trace_sdk", "run_id": "run-1", "root_hash": SDK_ROOT, "status": "running"}, "t")
    assert store.complete_trace("run-1", "completed") == 2


def test_illegal_updates_raise_the_immutability_violation(store, engine):
    tid = store.start_trace("run-1", "c", "t", None, [])
    add_step(store, tid)
    with engine.connect() as conn:
        with pytest.raises(sa.exc.DBAPIError, match="S6_IMMUTABILITY_VIOLATION"):
            conn.execute(sa.update(aos_traces).where(aos_traces.c.trace_id == tid).values(root_hash="f" * 64))
        conn.rollback()
        with pytest.raises(sa.exc.DBAPIError, match="S6_IMMUTABILITY_VIOLATION"):
            conn.execute(sa.update(aos_trace_steps).values(status="failure"))
        conn.rollback()
        with pytest.raises(sa.exc.DBAPIError, match="S6_IMMUTABILITY_VIOLATION"):
            conn.execute(sa.delete(aos_traces))
        conn.rollback()
    assert trace_row(engine, tid)["root_hash"] == "pending"


def test_mark_trace_aborted_only_when_running(store, engine):
    tid = store.start_trace("run-1", "c", "t", None, [])
    assert store.mark_trace_aborted("run-1", "complete_trace raised: boom") == 1
    row = trace_row(engine, tid)
    # NULL metadata is COALESCEd to {} before jsonb_set.
    assert (row["status"], row["metadata"]) == ("aborted", {"abort_reason": "complete_trace raised: boom"})
    assert row["completed_at"] == CLOCK_START + timedelta(seconds=1)
    assert store.mark_trace_aborted("run-1", "again") == 0
    assert trace_row(engine, tid)["metadata"] == {"abort_reason": "complete_trace raised: boom"}

    done = store.start_trace("run-2", "c", "t", None, [])
    store.complete_trace("run-2", "completed", {"k": 1})
    assert store.mark_trace_aborted("run-2", "late") == 0
    assert (trace_row(engine, done)["status"], trace_row(engine, done)["metadata"]) == ("completed", {"k": 1})


def test_mark_trace_aborted_keeps_existing_metadata(store, engine):
    store.store_trace({"trace_id": "trace_x", "root_hash": SDK_ROOT, "status": "running", "metadata": {"a": 1}}, "t")
    assert store.mark_trace_aborted("trace_x", {"why": "timeout"}) == 1  # run_id defaults to the trace id
    assert trace_row(engine, "trace_x")["metadata"] == {"a": 1, "abort_reason": {"why": "timeout"}}


def test_archive_trace(store, engine):
    tid = store.start_trace("run-1", "c", "t", None, [])
    add_step(store, tid, 0)
    add_step(store, tid, 1)
    assert store.archive_trace(tid) is True
    assert trace_row(engine, tid)["archived_at"] is not None
    assert all(r["archived_at"] == trace_row(engine, tid)["archived_at"] for r in step_rows(engine, tid))
    assert store.archive_trace(tid) is False  # no re-archiving
    assert store.archive_trace("trace_missing") is False
    tid2 = store.start_trace("run-2", "c", "t", None, [])
    add_step(store, tid2)
    store.archive_trace(tid2, steps=False)
    assert step_rows(engine, tid2)[0]["archived_at"] is None


# -- store_trace ----------------------------------------------------------------------------------


def sdk_trace(**extra) -> dict:
    """Spec §1.8's verified vector trace, as the SDK posts it (plus what the caller adds)."""
    doc = {
        "version": "1.1.0", "seed": 42, "timestamp": "2025-12-22T00:00:00+00:00", "tenant_id": "default",
        "plan": [{"skill": "json_transform"}],
        "steps": [{
            "step_index": 0, "skill_id": "json_transform", "input_hash": "015abd7f5cc57a2d",
            "output_hash": "0ab1a6d394cd3019", "rng_state_before": "abc", "outcome": "success",
            "idempotency_key": None, "replay_behavior": "execute", "duration_ms": 5, "error_code": None,
            "timestamp": "2025-12-22T00:00:00+00:00",
        }],
        "root_hash": SDK_ROOT, "finalized": True, "metadata": {},
    }
    doc.update(extra)
    return doc


def test_store_trace_sdk_defaults(store, engine, clock):
    doc = sdk_trace()
    doc["steps"][0]["outcome"] = "failure"  # the store reads "status": the real outcome is lost (§11.5)
    trace_id = store.store_trace(doc, "tenant-a", stored_by="user-1")
    assert re.fullmatch(r"trace_[0-9a-f]{16}", trace_id)
    row = trace_row(engine, trace_id)
    assert {k: row[k] for k in ("run_id", "correlation_id", "tenant_id", "agent_id", "plan_id", "seed",
                                "frozen_timestamp", "root_hash", "plan_hash", "schema_version", "plan", "metadata",
                                "status", "completed_at", "stored_by", "is_synthetic")} == {
        "run_id": trace_id, "correlation_id": trace_id, "tenant_id": "tenant-a", "agent_id": None, "plan_id": None,
        "seed": 42, "frozen_timestamp": "2025-12-22T00:00:00+00:00", "root_hash": SDK_ROOT, "plan_hash": None,
        "schema_version": "1.1", "plan": [{"skill": "json_transform"}], "metadata": {}, "status": "completed",
        "completed_at": None, "stored_by": "user-1", "is_synthetic": False,
    }
    assert row["trace"] == doc
    assert row["started_at"] == CLOCK_START
    [step] = step_rows(engine, trace_id)
    assert {k: step[k] for k in ("step_index", "skill_id", "skill_name", "params", "status", "outcome_category",
                                 "outcome_code", "outcome_data", "cost_cents", "duration_ms", "retry_count",
                                 "input_hash", "output_hash", "rng_state_before", "idempotency_key",
                                 "replay_behavior", "source", "level", "timestamp")} == {
        "step_index": 0, "skill_id": "json_transform", "skill_name": "unknown", "params": {}, "status": "success",
        "outcome_category": "SUCCESS", "outcome_code": None, "outcome_data": None, "cost_cents": 0.0,
        "duration_ms": 5.0, "retry_count": 0, "input_hash": "015abd7f5cc57a2d", "output_hash": "0ab1a6d394cd3019",
        "rng_state_before": "abc", "idempotency_key": None, "replay_behavior": "execute", "source": "engine",
        "level": "INFO", "timestamp": datetime(2025, 12, 22, tzinfo=UTC),
    }


def test_store_trace_identity_from_the_document(store, engine):
    tid = store.store_trace(sdk_trace(trace_id="trace_abc", run_id="run-9", correlation_id="corr-9"), "t")
    row = trace_row(engine, tid)
    assert (tid, row["run_id"], row["correlation_id"]) == ("trace_abc", "run-9", "corr-9")
    tid = store.store_trace(sdk_trace(trace_id="trace_def"), "t")
    assert (trace_row(engine, tid)["run_id"], trace_row(engine, tid)["correlation_id"]) == ("trace_def", "trace_def")


def test_store_trace_record_shaped_document(store, engine):
    doc = {
        "trace_id": "trace_rec", "run_id": "run-r", "schema_version": "1.0.0", "seed": 7, "agent_id": "ag",
        "frozen_timestamp": "2025-01-01T00:00:00+00:00", "timestamp": "ignored", "root_hash": "r" * 64,
        "plan_hash": "p" * 64, "plan_id": "plan-1", "status": "failed", "started_at": "2025-01-01T00:00:00",
        "completed_at": "2025-01-01T00:00:02+02:00", "metadata": {"m": 1},
        "steps": [
            {"step_index": 3, "skill_name": "llm_invoke", "status": "failure", "outcome_category": "PERMANENT",
             "outcome_code": "E1", "outcome_data": {"err": "x"}, "cost_cents": 2.5, "duration_ms": 7.5,
             "retry_count": 2, "rng_state": "r0", "source": "replay", "params": {"q": 1}},
            {"skill_name": "no_index", "status": "RETRY"},
            {"skill_name": "also_index_0", "status": "success"},
        ],
    }
    store.store_trace(doc, "t")
    row = trace_row(engine, "trace_rec")
    assert (row["schema_version"], row["seed"], row["frozen_timestamp"], row["plan_hash"], row["plan_id"],
            row["status"], row["agent_id"], row["metadata"]) == (
        "1.0.0", 7, "2025-01-01T00:00:00+00:00", "p" * 64, "plan-1", "failed", "ag", {"m": 1})
    assert row["started_at"] == datetime(2025, 1, 1, tzinfo=UTC)  # a naive instant is read as UTC
    assert row["completed_at"] == datetime(2024, 12, 31, 22, 0, 2, tzinfo=UTC)
    s3, s0 = sorted(step_rows(engine, "trace_rec"), key=lambda r: -r["step_index"])
    assert (s3["skill_id"], s3["status"], s3["level"], s3["outcome_category"], s3["outcome_data"],
            s3["retry_count"], s3["rng_state_before"], s3["source"]) == (
        "llm_invoke", "failure", "ERROR", "PERMANENT", {"err": "x"}, 2, "r0", "replay")
    # Steps without a step_index all claim index 0: the first one wins.
    assert (s0["step_index"], s0["skill_name"], s0["level"]) == (0, "no_index", "WARN")


def test_store_trace_redacts_first(store, engine):
    doc = sdk_trace(
        trace_id="trace_red",
        plan=[{"skill": "http_call", "params": {"headers": {"Authorization": "Bearer abc"}}}],
        metadata={"owner": "ann@example.com", "api_key": "k-1"},
        note="top-level strings stay: bob@example.com",
    )
    doc["steps"][0].update(params={"password": "p", "to": "cat@example.com", "card": "4111111111111111"},
                           outcome_data={"token": "t"}, error="failed for dan@example.com")
    store.store_trace(doc, "t")
    row = trace_row(engine, "trace_red")
    assert row["plan"] == [{"skill": "http_call", "params": {"headers": {"Authorization": "<REDACTED>"}}}]
    assert row["metadata"] == {"owner": "<REDACTED_EMAIL>", "api_key": "<REDACTED>"}
    stored = row["trace"]
    assert stored["note"] == "top-level strings stay: bob@example.com"
    assert stored["steps"][0]["error"] == "failed for dan@example.com"
    assert stored["steps"][0]["params"] == {"password": "<REDACTED>", "to": "<REDACTED_EMAIL>",
                                            "card": "4111111111111111"}  # cards are never redacted (§11.22)
    [step] = step_rows(engine, "trace_red")
    assert step["params"] == stored["steps"][0]["params"]
    assert step["outcome_data"] == {"token": "<REDACTED>"}
    assert doc["metadata"]["api_key"] == "k-1"  # the caller's dict is untouched

    store.store_trace(sdk_trace(trace_id="trace_raw", metadata={"api_key": "k-1"}), "t", redact_pii=False)
    assert trace_row(engine, "trace_raw")["metadata"] == {"api_key": "k-1"}


def test_store_trace_twice_does_nothing(store, engine):
    store.store_trace(sdk_trace(trace_id="trace_dup"), "t1")
    again = sdk_trace(trace_id="trace_dup", status="failed", root_hash="0" * 64)
    again["steps"][0]["skill_id"] = "other"
    assert store.store_trace(again, "t2") == "trace_dup"
    row = trace_row(engine, "trace_dup")
    assert (row["tenant_id"], row["status"], row["root_hash"]) == ("t1", "completed", SDK_ROOT)
    assert [s["skill_id"] for s in step_rows(engine, "trace_dup")] == ["json_transform"]


def test_store_trace_sdsr_keys_override_the_arguments(store, engine):
    store.store_trace(sdk_trace(trace_id="trace_s", is_synthetic=True, synthetic_scenario_id="SC-2"), "t",
                      is_synthetic=False, incident_id="inc-1", replay_mode="TRACE_ONLY")
    row = trace_row(engine, "trace_s")
    assert (row["is_synthetic"], row["synthetic_scenario_id"], row["incident_id"], row["replay_mode"]) == (
        True, "SC-2", "inc-1", "TRACE_ONLY")
    assert step_rows(engine, "trace_s")[0]["is_synthetic"] is False  # steps never get the SDSR marker here


def test_unfinalized_sdk_trace_fails_not_null(store, engine):
    with pytest.raises(sa.exc.IntegrityError, match="root_hash"):
        store.store_trace(sdk_trace(root_hash=None, finalized=False), "t")
    assert count(engine, aos_traces) == count(engine, aos_trace_steps) == 0


def test_store_trace_keys_present_with_none_stay_none(store, engine):
    # dict.get(key, default) upstream: a None correlation id is not replaced by the run id.
    with pytest.raises(sa.exc.IntegrityError, match="correlation_id"):
        store.store_trace(sdk_trace(trace_id="trace_n", correlation_id=None), "t")
    store.store_trace(sdk_trace(trace_id="trace_m", metadata=None, seed=None), "t")
    assert trace_row(engine, "trace_m")["seed"] is None
    assert scalar(engine, "SELECT jsonb_typeof(metadata) FROM aos_traces WHERE trace_id = 'trace_m'") == "null"


def test_store_trace_commits_statement_by_statement(store, engine):
    doc = sdk_trace(trace_id="trace_half")
    doc["steps"].append(dict(doc["steps"][0], step_index=1, timestamp="not a time"))
    doc["steps"].append(dict(doc["steps"][0], step_index=2))
    with pytest.raises(ValueError, match="Invalid isoformat"):
        store.store_trace(doc, "t")
    assert trace_row(engine, "trace_half")["root_hash"] == SDK_ROOT
    assert [s["step_index"] for s in step_rows(engine, "trace_half")] == [0]


def test_bulk_groups_calls_in_one_transaction(store, engine):
    with store.bulk():
        tid = store.start_trace("run-1", "c", "t", None, [])
        add_step(store, tid)
        store.store_trace(sdk_trace(trace_id="trace_b"), "t")
        store.complete_trace("run-1", "completed")
    assert count(engine, aos_traces) == 2 and count(engine, aos_trace_steps) == 2
    with pytest.raises(ValueError, match=ORPHAN_STEPS), store.bulk():
        store.start_trace("run-2", "c", "t", None, [])
        add_step(store, "trace_run-404")
    assert count(engine, aos_traces) == 2  # run-2 was rolled back with the failing step


# -- logs tables ----------------------------------------------------------------------------------


def test_insert_helpers_and_server_defaults(engine):
    assert insert_tenant(engine, "t1", "Tenant one") == "t1"
    assert insert_tenant(engine, "t1", "renamed") == "t1"  # kept
    started = datetime(2026, 1, 1, tzinfo=UTC)
    llm = insert_llm_run_record(engine, tenant_id="t1", run_id="run-1", provider="anthropic", model="claude",
                                input_tokens=10, output_tokens=5, cost_cents=3, execution_status="SUCCEEDED",
                                started_at=started, trace_id="trace_run-1")
    sysrec = insert_system_record(engine, component="worker", event_type="STARTUP", severity="INFO",
                                  summary="worker up", details={"pid": 1}, record_id="sys-1")
    export = insert_log_export(engine, tenant_id="t1", scope="llm_run", requested_by="u", format="json",
                               origin="HUMAN", run_id="run-1")
    mismatch = insert_mismatch(engine, trace_id="trace_run-1", tenant_id="t1", reason="output_mismatch",
                               step_index=2, expected_hash="a", actual_hash="b", details={"field": "output"})
    assert sysrec == "sys-1" and all(re.fullmatch(r"[0-9a-f-]{36}", i) for i in (llm, export, mismatch))
    with engine.connect() as conn:
        assert conn.execute(sa.select(tenants.c.name)).scalar_one() == "Tenant one"
        r = conn.execute(sa.select(llm_run_records)).mappings().one()
        assert (r["id"], r["source"], r["is_synthetic"], r["started_at"], r["created_at"] is not None) == (
            llm, "WORKER", False, started, True)
        r = conn.execute(sa.select(system_records)).mappings().one()
        assert (r["tenant_id"], r["details"], r["caused_by"]) == (None, {"pid": 1}, None)
        r = conn.execute(sa.select(log_exports)).mappings().one()
        assert (r["source_component"], r["status"], r["checksum"], r["delivered_at"]) == (
            "LogExportService", "pending", None, None)
        r = conn.execute(sa.select(aos_trace_mismatches)).mappings().one()
        assert (r["details"], r["resolved"], r["notification_sent"], r["step_index"]) == (
            {"field": "output"}, False, False, 2)


def test_insert_mismatch_details_default_and_upstream_repr(engine):
    insert_mismatch(engine, trace_id="tr", tenant_id="t", reason="hash_mismatch", mismatch_id=None)
    insert_mismatch(engine, trace_id="tr", tenant_id="t", reason="hash_mismatch", details={}, upstream_repr=True)
    with pytest.raises(sa.exc.DataError, match="invalid input syntax for type json"):
        insert_mismatch(engine, trace_id="tr", tenant_id="t", reason="x", details={"a": 1}, upstream_repr=True)
    with engine.connect() as conn:
        assert conn.execute(sa.select(aos_trace_mismatches.c.details)).scalars().all() == [{}, {}]


def test_insert_helpers_join_the_callers_transaction(engine):
    with engine.connect() as conn:
        insert_tenant(conn, "t9")
        insert_system_record(conn, component="db", event_type="MIGRATION", severity="WARN", summary="m",
                             created_at=datetime(2020, 1, 1, tzinfo=UTC))
        assert conn.execute(sa.select(system_records.c.created_at)).scalar_one() == datetime(2020, 1, 1, tzinfo=UTC)
        conn.rollback()
    assert count(engine, tenants) == count(engine, system_records) == 0


def test_log_exports_stay_pending_forever(engine):
    insert_tenant(engine, "t1")
    insert_log_export(engine, tenant_id="t1", scope="audit", requested_by="u", format="csv", origin="SYSTEM")
    with engine.connect() as conn, pytest.raises(sa.exc.DBAPIError, match="immutable"):
        conn.execute(sa.update(log_exports).values(status="completed"))
