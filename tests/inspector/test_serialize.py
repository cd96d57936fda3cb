"""The CLI's --json shapes use upstream's field names (TraceSummary / TraceStep, spec §1.7)."""

from __future__ import annotations

import json

from inspector.model import Payload, RunRecord, RunSummary, Step, StepRow
from inspector.records import trace_record_from_dict
from inspector.serialize import run_record_to_json, run_summary_to_json, step_to_json

# Spec §1.7 TraceSummary fields, in the order the CLI prints them.
RUN_FIELDS = ["run_id", "correlation_id", "tenant_id", "agent_id", "status", "started_at", "completed_at",
              "total_steps", "success_count", "failure_count", "total_cost_cents", "total_duration_ms"]
# Spec §1.7 TraceStep.to_dict fields, plus status_raw beside the normalised status.
STEP_FIELDS = ["step_index", "skill_name", "params", "status", "status_raw", "outcome_category", "outcome_code",
               "outcome_data", "cost_cents", "duration_ms", "retry_count", "timestamp"]
# What the inspector adds after upstream's fields (never instead of them).
RUN_EXTRAS = ["replay_of", "orphan", "trace_id", "archived"]
RECORD_EXTRAS = ["plan", "metadata", "seed", "frozen_timestamp", "root_hash", "plan_hash"]
STEP_EXTRAS = ["idempotency_key", "replay_behavior", "input_hash", "output_hash", "rng_state_before", "trace_id"]


def summary():
    return RunSummary("run_abc", "corr-1", "t1", None, "completed", "2026-11-29T05:53:15.003803+00:00",
                      "2026-11-29T05:53:15.007990+00:00", 3, 1, 2, 1.5, 20.0, replay_of="run_0")


def step(status="failed", params='{"a": 1}', outcome=None):
    row = StepRow(9, "run_abc", 2, "http_call", status, "TRANSIENT", "ERR_HTTP_503", 0.5, 12.0, 1,
                  "2026-11-29T05:53:16+00:00")
    return Step(row, Payload.from_text(params), Payload.from_text(outcome), replay_behavior="execute")


def test_run_summary_field_names():
    out = run_summary_to_json(summary())
    assert list(out) == RUN_FIELDS + RUN_EXTRAS
    assert out == {
        "run_id": "run_abc", "correlation_id": "corr-1", "tenant_id": "t1", "agent_id": None, "status": "completed",
        "started_at": "2026-11-29T05:53:15.003803+00:00", "completed_at": "2026-11-29T05:53:15.007990+00:00",
        "total_steps": 3, "success_count": 1, "failure_count": 2, "total_cost_cents": 1.5, "total_duration_ms": 20.0,
        "replay_of": "run_0", "orphan": False, "trace_id": None, "archived": False,
    }
    json.dumps(out)


def test_run_record_field_names_and_values(golden):
    record, _ = trace_record_from_dict(golden, "/g.json")
    out = run_record_to_json(record)
    assert list(out) == RUN_FIELDS + RUN_EXTRAS + RECORD_EXTRAS
    assert out["plan"] == golden["plan"]
    assert out["metadata"] == {"test": "determinism_invariant"}
    assert (out["seed"], out["frozen_timestamp"], out["root_hash"]) == (42, "2025-12-22T00:00:00+00:00", None)
    assert "warnings" not in out
    json.dumps(out)


def test_run_record_with_broken_payloads_shows_raw_text_and_warnings():
    record = RunRecord(summary(), Payload.from_text("[{"), Payload.from_text(None))
    out = run_record_to_json(record)
    assert out["plan"] == "[{"
    assert out["metadata"] is None
    assert len(out["warnings"]) == 1 and out["warnings"][0].startswith("plan: not valid JSON")


def test_step_field_names_and_values():
    out = step_to_json(step(outcome='{"attempts": 3}'))
    assert list(out) == STEP_FIELDS + STEP_EXTRAS
    assert {k: out[k] for k in STEP_FIELDS} == {
        "step_index": 2, "skill_name": "http_call", "params": {"a": 1}, "status": "failure", "status_raw": "failed",
        "outcome_category": "TRANSIENT", "outcome_code": "ERR_HTTP_503", "outcome_data": {"attempts": 3},
        "cost_cents": 0.5, "duration_ms": 12.0, "retry_count": 1, "timestamp": "2026-11-29T05:53:16+00:00",
    }
    assert out["replay_behavior"] == "execute"
    json.dumps(out)


def test_step_status_is_the_normalised_value():
    for raw, shown in [("success", "success"), ("succeeded", "success"), (" ERROR ", "failure"), ("retrying", "retry"),
                       ("skipped", "skipped"), ("pending", "unknown"), (None, "unknown")]:
        out = step_to_json(step(status=raw))
        assert (out["status"], out["status_raw"]) == (shown, raw)


def test_step_with_broken_params_and_null_outcome():
    out = step_to_json(step(params="{oops", outcome=None))
    assert out["params"] == "{oops"
    assert out["outcome_data"] is None
    assert [w.split(":")[0] for w in out["warnings"]] == ["params"]


def test_values_sqlite_may_hand_back_as_bytes_still_serialise():
    # A foreign writer's BLOB status (or TEXT that is not UTF-8) reaches the step as bytes.
    out = step_to_json(step(status=b"succ\xffess"))
    assert out["status"] == "unknown"
    assert out["status_raw"] == "succ\ufffdess"
    json.dumps(out)
    record = RunRecord(summary(), Payload.from_text("[]"), Payload.from_text("{}"), seed=b"\x2a")
    assert run_record_to_json(record)["seed"] == "*"
    json.dumps(run_record_to_json(record))
