"""Evidence capture writers (upstream's capture_driver, spec §3.7) against a real SQLite file and a
real Postgres: ids and columns, the activity upsert merge, first write wins, the context guard,
failure recording (and upstream's over-long failure id, §11.15), and the stored integrity record."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from drivers.evidence_capture import (
    CaptureStamps,
    EvidenceContextError,
    capture_activity_evidence,
    capture_environment_evidence,
    capture_integrity_evidence,
    capture_policy_decision_evidence,
    capture_provider_evidence,
    hash_prompt,
    record_capture_failure,
)
from drivers.evidence_reader import gather_facts
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
from drivers.sqlite_writer import SQLiteTraceWriter, StepInput
from inspector.capture import EvidenceSource, ExecutionContext
from inspector.integrity import compute_integrity_v2, evaluate
from tests.pgutil import TraceBuilder, sa_url

RUN = "run_00000000000000aa"
T0 = datetime(2026, 11, 29, 5, 0, tzinfo=UTC)


class Stamps:
    """Reproducible stamps: each ``now()`` one second later, tokens 00000001, 00000002, …"""

    def __init__(self) -> None:
        self.t = T0
        self.n = 0

    def now(self) -> datetime:
        self.t += timedelta(seconds=1)
        return self.t

    def token(self) -> str:
        self.n += 1
        return f"{self.n:08x}"

    @property
    def stamps(self) -> CaptureStamps:
        return CaptureStamps(self.now, self.token)


class DB:
    """One database of either dialect: an engine, and traces written the dialect's way."""

    def __init__(self, dialect: str, engine: sa.Engine, *, path: Path | None = None, url: str | None = None):
        self.dialect, self.engine, self.path, self.url = dialect, engine, path, url

    def add_run(self, run_id: str, n_steps: int = 0, *, trace: bool = True) -> None:
        with self.engine.begin() as conn:
            conn.execute(runs.insert(), [{"id": run_id}])
        if not trace:
            return
        if self.dialect == "sqlite":
            with SQLiteTraceWriter(self.path, clock=lambda: T0) as w:
                w.start_trace(run_id, f"corr-{run_id}", "tenant-a", "agent-1", [{"skill": "llm_invoke"}])
                w.record_steps(StepInput(run_id, i, "llm_invoke", {"i": i}, "success", "SUCCESS", None, None, 1.0,
                                         5.0) for i in range(n_steps))
        else:
            b = TraceBuilder(self.url)
            b.trace(run_id, statuses=("succeeded",) * n_steps)
            b.close()

    def rows(self, table: sa.Table, run_id: str = RUN) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(
                sa.select(table).where(table.c.run_id == run_id).order_by(table.c.id)).mappings()]


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    if request.param == "sqlite":
        path = tmp_path / "traces.db"
        SQLiteTraceWriter(path).close()  # upstream's trace schema, then the evidence tables beside it
        engine = sa.create_engine(sa.engine.URL.create("sqlite+pysqlite", database=str(path)),
                                  poolclass=sa.pool.NullPool)
        with engine.begin() as conn:
            create_evidence_tables(conn)
        d = DB("sqlite", engine, path=path)
    else:
        url = request.getfixturevalue("pg_url")  # create_schema made the evidence tables
        d = DB("postgresql", sa.create_engine(sa_url(url), poolclass=sa.pool.NullPool), url=url)
    d.add_run(RUN, 2)
    yield d
    d.engine.dispose()


def ctx(step: int = 1, source: EvidenceSource = EvidenceSource.WORKER, run_id: str = RUN, **kw) -> ExecutionContext:
    return ExecutionContext(run_id, step, source, **kw)


def as_utc(value) -> datetime:
    """A stored timestamp as an aware UTC datetime (SQLite keeps ISO text without the offset)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# -- H --------------------------------------------------------------------------------------------


def test_environment_columns_id_and_first_write_wins(db):
    s = Stamps()
    with db.engine.begin() as conn:
        eid = capture_environment_evidence(
            conn, ctx(0, EvidenceSource.SDK, is_synthetic=True, synthetic_scenario_id="sdsr-1"), sdk_mode="inline",
            execution_environment="staging", sdk_version="1.1.0", telemetry_delivery_status="sent",
            capture_confidence_score=0.75, telemetry_enabled=False, debug_mode=True, dry_run=True,
            stamps=s.stamps)
        again = capture_environment_evidence(conn, ctx(4), sdk_mode="offline", stamps=s.stamps)
    assert eid == again == f"ee-{RUN}"  # upstream returns the id although the second row was dropped
    [row] = db.rows(environment_evidence)
    assert {k: row[k] for k in ("id", "run_id", "sdk_mode", "sdk_version", "environment", "telemetry_enabled",
                                "telemetry_delivery_status", "capture_confidence_score", "debug_mode", "dry_run",
                                "is_synthetic", "synthetic_scenario_id")} == {
        "id": f"ee-{RUN}", "run_id": RUN, "sdk_mode": "inline", "sdk_version": "1.1.0", "environment": "staging",
        "telemetry_enabled": False, "telemetry_delivery_status": "sent", "capture_confidence_score": 0.75,
        "debug_mode": True, "dry_run": True, "is_synthetic": True, "synthetic_scenario_id": "sdsr-1"}
    assert as_utc(row["created_at"]) == T0 + timedelta(seconds=1)
    # columns upstream's writer never sets keep their defaults
    assert row["trace_sampling_rate"] == 1.0 and row["metrics_enabled"] is True and row["client_ip"] is None


# -- B --------------------------------------------------------------------------------------------


def test_activity_prompt_first_response_later_never_erased(db):
    prompt = "Summarise ticket #A-1029: 注文した商品がまだ届いていません。"
    with db.engine.begin() as conn:
        aid = capture_activity_evidence(
            conn, ctx(3, EvidenceSource.PROVIDER), skill_id="skill.llm_invoke", model_name="claude-haiku-4-5",
            prompt_fingerprint=hash_prompt(prompt), prompt_token_length=41, prompt_template_id="tpl-summary",
            prompt_template_version="v2", sensitivity_class="pii", redaction_status="hashed")
    assert aid == f"ae-{RUN}-3"
    [row] = db.rows(activity_evidence)
    assert row["response_fingerprint"] is None and row["completion_type"] is None
    assert row["evidence_source"] == "provider" and row["step_index"] == 3

    with db.engine.begin() as conn:  # after the response: only response_* and completion_type merge in
        assert capture_activity_evidence(
            conn, ctx(3, EvidenceSource.WORKER), skill_id="other", model_name="other", prompt_fingerprint="0" * 64,
            prompt_token_length=1, response_fingerprint=hash_prompt("ok"), response_token_length=12,
            completion_type="final", sensitivity_class="public") == aid
        # a later call without response fields erases nothing
        capture_activity_evidence(conn, ctx(3), skill_id="x", model_name="x", prompt_fingerprint="1" * 64,
                                  prompt_token_length=2)
    [row] = db.rows(activity_evidence)
    assert {k: row[k] for k in ("id", "run_id", "step_index", "skill_id", "model_name", "prompt_fingerprint",
                                "prompt_token_length", "prompt_template_id", "prompt_template_version",
                                "response_fingerprint", "response_token_length", "completion_type",
                                "sensitivity_class", "redaction_status", "evidence_source", "is_synthetic",
                                "synthetic_scenario_id", "provider_safety_flags")} == {
        "id": aid, "run_id": RUN, "step_index": 3, "skill_id": "skill.llm_invoke", "model_name": "claude-haiku-4-5",
        "prompt_fingerprint": hashlib.sha256(prompt.encode()).hexdigest(), "prompt_token_length": 41,
        "prompt_template_id": "tpl-summary", "prompt_template_version": "v2",
        "response_fingerprint": hashlib.sha256(b"ok").hexdigest(), "response_token_length": 12,
        "completion_type": "final", "sensitivity_class": "pii", "redaction_status": "hashed",
        "evidence_source": "provider", "is_synthetic": False, "synthetic_scenario_id": None,
        "provider_safety_flags": None}


def test_activity_one_row_per_evidence_step(db):
    with db.engine.begin() as conn:
        for step in (1, 2, 4):
            capture_activity_evidence(conn, ctx(step), skill_id="skill.llm_invoke", model_name="m",
                                      prompt_fingerprint=hash_prompt(str(step)), prompt_token_length=step)
    assert [(r["id"], r["step_index"]) for r in db.rows(activity_evidence)] == [
        (f"ae-{RUN}-1", 1), (f"ae-{RUN}-2", 2), (f"ae-{RUN}-4", 4)]


# -- G --------------------------------------------------------------------------------------------


def test_provider_columns_total_tokens_and_first_write_wins(db):
    s = Stamps()
    with db.engine.begin() as conn:
        pid = capture_provider_evidence(
            conn, ctx(2), provider_name="anthropic", model_name="claude-sonnet-4-5", input_tokens=120,
            output_tokens=30, total_tokens=0, provider_latency_ms=812, provider_request_id="req_01",
            model_version="20250929", api_version="2023-06-01", provider_http_status=200, provider_retry_count=1,
            cache_read_tokens=64, stamps=s.stamps)
        assert capture_provider_evidence(conn, ctx(2), provider_name="openai", model_name="gpt-4o-mini",
                                         input_tokens=1, stamps=s.stamps) == pid
        capture_provider_evidence(conn, ctx(3), provider_name="openai", model_name="gpt-4o-mini", total_tokens=7,
                                  input_tokens=1, output_tokens=1, provider_http_status=429,
                                  provider_error_code="rate_limit", stamps=s.stamps)
        capture_provider_evidence(conn, ctx(4), provider_name="openai", model_name="gpt-4o-mini", stamps=s.stamps)
    first, third, fourth = db.rows(provider_evidence)
    assert pid == f"pe-{RUN}-2" and first["id"] == pid
    assert {k: first[k] for k in ("step_index", "provider_name", "model_name", "model_version", "input_tokens",
                                  "output_tokens", "total_tokens", "cache_read_tokens", "cache_creation_tokens",
                                  "api_version", "provider_latency_ms", "provider_http_status",
                                  "provider_error_code", "provider_retry_count", "provider_request_id",
                                  "endpoint")} == {
        "step_index": 2, "provider_name": "anthropic", "model_name": "claude-sonnet-4-5", "model_version": "20250929",
        "input_tokens": 120, "output_tokens": 30, "total_tokens": 150,  # 0 is falsy: upstream sums instead
        "cache_read_tokens": 64, "cache_creation_tokens": 0, "api_version": "2023-06-01",
        "provider_latency_ms": 812, "provider_http_status": 200, "provider_error_code": None,
        "provider_retry_count": 1, "provider_request_id": "req_01", "endpoint": None}
    stamp = T0 + timedelta(seconds=1)
    assert as_utc(first["requested_at"]) == as_utc(first["responded_at"]) == as_utc(first["created_at"]) == stamp
    assert (third["id"], third["total_tokens"], third["provider_error_code"]) == (f"pe-{RUN}-3", 7, "rate_limit")
    assert (fourth["total_tokens"], fourth["input_tokens"], fourth["output_tokens"]) == (0, None, None)


# -- D --------------------------------------------------------------------------------------------


def test_policy_decisions_one_row_per_evaluation(db):
    s = Stamps()
    with db.engine.begin() as conn:
        a = capture_policy_decision_evidence(
            conn, ctx(1), policy_type="budget", decision="GRANTED", policies_evaluated=["pol-budget", "pol-cap"],
            policy_results="pass", decision_reason="under budget", decision_confidence=0.93,
            thresholds_used={"max_cents": 500, "spent": 12.5}, policy_rule_id="rule-7", policy_version=3,
            customer_guardrail_result={"pii": False}, provider_moderation_result={"flagged": []},
            decision_reason_codes=["BUDGET_OK"], stamps=s.stamps)
        b = capture_policy_decision_evidence(conn, ctx(1), policy_type="budget", decision="DENIED", stamps=s.stamps)
    assert (a, b) == (f"pd-{RUN}-budget-00000001", f"pd-{RUN}-budget-00000002")
    first, second = db.rows(policy_decisions)
    assert {k: first[k] for k in ("id", "policy_type", "decision", "policies_evaluated", "policy_results",
                                  "decision_reason", "decision_confidence", "thresholds_used", "policy_rule_id",
                                  "policy_version", "customer_guardrail_result", "provider_moderation_result",
                                  "decision_reason_codes", "evaluation_order", "evaluated_by")} == {
        "id": a, "policy_type": "budget", "decision": "GRANTED", "policies_evaluated": ["pol-budget", "pol-cap"],
        "policy_results": "pass", "decision_reason": "under budget", "decision_confidence": 0.93,
        "thresholds_used": {"max_cents": 500, "spent": 12.5}, "policy_rule_id": "rule-7", "policy_version": 3,
        "customer_guardrail_result": {"pii": False}, "provider_moderation_result": {"flagged": []},
        "decision_reason_codes": ["BUDGET_OK"], "evaluation_order": None, "evaluated_by": None}
    assert as_utc(first["evaluated_at"]) == as_utc(first["created_at"]) == T0 + timedelta(seconds=1)
    assert (second["decision"], second["policies_evaluated"], second["thresholds_used"]) == ("DENIED", None, None)
    with db.engine.connect() as conn:  # SQL NULL on both dialects, not a JSON 'null' on SQLite
        assert conn.execute(sa.text("SELECT count(*) FROM policy_decisions WHERE policies_evaluated IS NULL "
                                    "AND thresholds_used IS NULL AND decision_reason_codes IS NULL")).scalar_one() == 1


def test_policy_decision_ids_are_random_by_default(db):
    with db.engine.begin() as conn:
        ids = {capture_policy_decision_evidence(conn, ctx(1), policy_type="rate_limit", decision="GRANTED")
               for _ in range(3)}
    assert len(ids) == 3 and all(i.startswith(f"pd-{RUN}-rate_limit-") and len(i.rsplit("-", 1)[1]) == 8
                                 for i in ids)


# -- the context guard ----------------------------------------------------------------------------

WRITERS = {
    "environment_evidence": lambda conn, c: capture_environment_evidence(conn, c, sdk_mode="inline"),
    "activity_evidence": lambda conn, c: capture_activity_evidence(
        conn, c, skill_id="s", model_name="m", prompt_fingerprint=hash_prompt("p"), prompt_token_length=1),
    "provider_evidence": lambda conn, c: capture_provider_evidence(conn, c, provider_name="p", model_name="m"),
    "policy_decision": lambda conn, c: capture_policy_decision_evidence(conn, c, policy_type="budget",
                                                                       decision="GRANTED"),
}
TABLE_OF = {"environment_evidence": environment_evidence, "activity_evidence": activity_evidence,
            "provider_evidence": provider_evidence, "policy_decision": policy_decisions}


def all_rows(db: DB) -> dict[str, int]:
    with db.engine.connect() as conn:
        return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
                for t in (*TABLE_OF.values(), evidence_capture_failures, integrity_evidence)}


@pytest.mark.parametrize("evidence_type", list(WRITERS))
def test_no_context_no_evidence(db, evidence_type):
    with db.engine.begin() as conn:
        with pytest.raises(EvidenceContextError) as err:
            WRITERS[evidence_type](conn, None)
        for bad in (ctx(-1), ctx(run_id=""), ctx(1, is_synthetic=True)):
            with pytest.raises(EvidenceContextError):
                WRITERS[evidence_type](conn, bad)
    assert err.value.evidence_type == evidence_type
    assert "blocked: ExecutionContext is None" in str(err.value)
    assert set(all_rows(db).values()) == {0}  # nothing written, not even a capture failure


# -- capture failures -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "resolution"),
    [("capture_failed", "transient"), ("provider_timeout", "transient"), ("pre_attach", "permanent"),
     ("network_partition", "transient"), ("database_error", "transient"), ("context_invalid", "permanent"),
     ("made_up_reason", "transient")],
)
def test_failure_resolution_by_reason(db, reason, resolution):
    s = Stamps()
    with db.engine.begin() as conn:
        record_capture_failure(conn, RUN, "provider_evidence", reason, "boom", stamps=s.stamps)
    [row] = db.rows(evidence_capture_failures)
    assert {k: row[k] for k in ("id", "run_id", "evidence_type", "failure_reason", "error_message", "resolution")} == {
        "id": f"ecf-{RUN}-provider_evidence-00000001", "run_id": RUN, "evidence_type": "provider_evidence",
        "failure_reason": reason, "error_message": "boom", "resolution": resolution}
    assert as_utc(row["created_at"]) == T0 + timedelta(seconds=1)


def test_failure_message_truncated_explicit_resolution_and_first_per_reason_kept(db):
    with db.engine.begin() as conn:
        record_capture_failure(conn, RUN, "activity_evidence", "capture_failed", "é" * 700, resolution="superseded")
        record_capture_failure(conn, RUN, "activity_evidence", "capture_failed", "second")  # same type and reason
        record_capture_failure(conn, RUN, "activity_evidence", "pre_attach", None)
    first, second = sorted(db.rows(evidence_capture_failures), key=lambda r: r["failure_reason"])
    assert first["error_message"] == "é" * 500 and first["resolution"] == "superseded"
    assert (second["failure_reason"], second["error_message"], second["resolution"]) == ("pre_attach", None,
                                                                                        "permanent")


def test_over_long_failure_id_is_lost_on_postgres_only(db):
    """§11.15: ``ecf-{uuid run id}-{type}-{8hex}`` is 66–70 characters, over varchar(64)."""
    rid = str(uuid.UUID(int=7))
    db.add_run(rid, trace=False)
    fid_len = len(f"ecf-{rid}-environment_evidence-00000001")
    assert fid_len == 70
    with db.engine.begin() as conn:
        record_capture_failure(conn, rid, "environment_evidence", "capture_failed", "x", stamps=Stamps().stamps)
        record_capture_failure(conn, rid, "policy_decisions", "capture_failed", "x")  # 66 characters
        # the swallowed error left the caller's transaction usable
        assert capture_environment_evidence(conn, ctx(0, run_id=rid), sdk_mode="inline") == f"ee-{rid}"
    stored = db.rows(evidence_capture_failures, rid)
    assert len(db.rows(environment_evidence, rid)) == 1
    if db.dialect == "postgresql":
        assert stored == []
    else:
        assert sorted(len(r["id"]) for r in stored) == [66, 70]


@pytest.mark.parametrize("evidence_type", list(WRITERS))
def test_sql_error_records_a_database_error_and_the_transaction_goes_on(db, evidence_type):
    table = TABLE_OF[evidence_type]
    with db.engine.begin() as conn:
        table.drop(conn)
    with db.engine.begin() as conn:
        assert WRITERS[evidence_type](conn, ctx(1)) is None
        # the same transaction keeps working, and the failure is really there
        record_capture_failure(conn, RUN, "marker", "capture_failed")
    [failure, marker] = sorted(db.rows(evidence_capture_failures), key=lambda r: r["evidence_type"] == "marker")
    assert marker["evidence_type"] == "marker"
    # upstream's names: the guard says policy_decision, the failure row policy_decisions (the table)
    assert failure["evidence_type"] == table.name
    assert (failure["failure_reason"], failure["resolution"]) == ("database_error", "transient")
    assert table.name in failure["error_message"] and len(failure["error_message"]) <= 500
    assert failure["id"].startswith(f"ecf-{RUN}-{table.name}-")


def test_constraint_violation_is_a_database_error(db):
    with db.engine.begin() as conn:
        assert capture_environment_evidence(conn, ctx(0), sdk_mode=None) is None  # type: ignore[arg-type]
        assert capture_environment_evidence(conn, ctx(0), sdk_mode="inline") == f"ee-{RUN}"
    [failure] = db.rows(evidence_capture_failures)
    assert failure["failure_reason"] == "database_error" and "sdk_mode" in failure["error_message"]
    assert [r["sdk_mode"] for r in db.rows(environment_evidence)] == ["inline"]
    if db.dialect == "postgresql":  # varchar lengths hold on Postgres only
        with db.engine.begin() as conn:
            assert capture_provider_evidence(conn, ctx(1), provider_name="p" * 51, model_name="m") is None
        assert "provider_evidence" in {r["evidence_type"] for r in db.rows(evidence_capture_failures)}


def test_writers_never_commit(db):
    with db.engine.connect() as conn:
        for write in WRITERS.values():
            write(conn, ctx(1))
        record_capture_failure(conn, RUN, "activity_evidence", "capture_failed")
        capture_integrity_evidence(conn, RUN)
        assert all_rows(db) == dict.fromkeys(all_rows(db), 0)  # another connection sees nothing yet
        conn.rollback()
    assert set(all_rows(db).values()) == {0}


# -- J --------------------------------------------------------------------------------------------


def test_integrity_record_agrees_with_compute_integrity_v2(db):
    s = Stamps()
    with db.engine.begin() as conn:
        capture_environment_evidence(conn, ctx(0), sdk_mode="inline", stamps=s.stamps)
        record_capture_failure(conn, RUN, "activity_evidence", "capture_failed", "first try", stamps=s.stamps)
        capture_activity_evidence(conn, ctx(1), skill_id="s", model_name="m", prompt_fingerprint=hash_prompt("p"),
                                  prompt_token_length=1, stamps=s.stamps)
        record_capture_failure(conn, RUN, "provider_evidence", "provider_timeout", "no answer", stamps=s.stamps)
        # written in this same, uncommitted transaction: seen (upstream's separate connection misses it)
        assert capture_integrity_evidence(conn, RUN, stamps=s.stamps) == f"ie-{RUN}"
        facts = gather_facts(conn, [RUN])[RUN]
    v2 = compute_integrity_v2(facts)
    assert evaluate(facts).grade.value == v2["integrity_grade"] == "WARN"
    [row] = db.rows(integrity_evidence)
    assert row["id"] == f"ie-{RUN}"
    assert row["expected_artifacts"] == v2["expected_artifacts"] == [
        "activity_evidence", "policy_decisions", "provider_evidence", "environment_evidence", "aos_traces",
        "aos_trace_steps"]
    assert row["observed_artifacts"] == v2["observed_artifacts"] == [
        "environment_evidence", "activity_evidence", "aos_traces", "aos_trace_steps"]
    assert row["missing_artifacts"] == v2["missing_artifacts"] == ["provider_evidence", "policy_decisions"]
    assert row["integrity_score"] == pytest.approx(v2["integrity_score"]) and row["integrity_score"] == pytest.approx(4 / 6)
    assert row["integrity_status"] == v2["integrity_status"] == "DEGRADED"
    assert row["verification_method"] == "evidence_table_scan"
    assert as_utc(row["verification_timestamp"]) == as_utc(row["created_at"]) == T0 + timedelta(seconds=5)
    # missing_reasons: the v2 reasons, with _capture_failures = every failure, the superseded one too
    assert row["missing_reasons"] == {
        "provider_evidence": "provider_timeout", "policy_decisions": "no_records_found",
        "_capture_failures": [
            {"evidence_type": "activity_evidence", "failure_reason": "capture_failed", "error_message": "first try",
             "resolution": "superseded"},
            {"evidence_type": "provider_evidence", "failure_reason": "provider_timeout",
             "error_message": "no answer", "resolution": "transient"}]}
    assert v2["missing_reasons"]["_capture_failures"] == row["missing_reasons"]["_capture_failures"][1:]
    assert row["expected_artifact_schema"] is None and row["coverage_metrics"] is None


def test_integrity_first_record_wins_and_goes_stale(db):
    with db.engine.begin() as conn:
        capture_environment_evidence(conn, ctx(0), sdk_mode="inline")
        for step in (1, 2):
            capture_activity_evidence(conn, ctx(step), skill_id="s", model_name="m",
                                      prompt_fingerprint=hash_prompt("p"), prompt_token_length=1)
            capture_provider_evidence(conn, ctx(step), provider_name="p", model_name="m")
        capture_integrity_evidence(conn, RUN, is_synthetic=True, synthetic_scenario_id="sdsr-2")
    with db.engine.begin() as conn:
        record_capture_failure(conn, RUN, "policy_decisions", "network_partition", "lost")
        assert capture_integrity_evidence(conn, RUN) == f"ie-{RUN}"  # id returned, row kept
        now = compute_integrity_v2(gather_facts(conn, [RUN])[RUN])
    [row] = db.rows(integrity_evidence)
    assert (row["integrity_status"], row["integrity_score"], row["is_synthetic"], row["synthetic_scenario_id"]) == (
        "VALID", pytest.approx(5 / 6), True, "sdsr-2")
    assert row["missing_reasons"] == {"policy_decisions": "no_records_found", "_capture_failures": []}
    assert now["integrity_status"] == "DEGRADED"  # the stored verdict no longer says what a scan says


def test_integrity_of_a_run_without_trace_or_environment(db):
    rid = "run_00000000000000bb"
    db.add_run(rid, trace=False)
    with db.engine.begin() as conn:
        capture_integrity_evidence(conn, rid)
    [row] = db.rows(integrity_evidence, rid)
    assert (row["integrity_status"], row["integrity_score"], row["observed_artifacts"]) == ("FAILED", 0.0, [])
    assert row["missing_reasons"]["_capture_failures"] == [] and row["missing_reasons"]["aos_traces"] == \
        "no_records_found"
