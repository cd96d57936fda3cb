"""Spec §8: upstream's bundles and content_hash, with the spec's vector."""

from __future__ import annotations

from datetime import UTC, datetime

from inspector.aos_bundles import (
    check_content_hash,
    content_hash,
    envelope,
    evidence_bundle,
    executive_bundle,
    soc2_bundle,
    unwrap,
)
from inspector.model import Payload, RunRecord, RunSummary, StepRow

CREATED = datetime(2026, 1, 1, tzinfo=UTC)


def test_content_hash_matches_the_spec_vector():
    assert content_hash("N/A", "inc-1", "N/A", [], CREATED) == \
        "4813574b6f4e83ccd176fde0438d790b2c3307e065d2df4d92cc17fae9692870"
    assert content_hash("N/A", "inc-1", "N/A", [], "2026-01-01T00:00:00Z") == \
        "4813574b6f4e83ccd176fde0438d790b2c3307e065d2df4d92cc17fae9692870"


def _record(**extra) -> RunRecord:
    s = RunSummary("run-1", "c", "tenant-a", "agent-1", "completed", "2026-01-01T00:00:00+00:00",
                   "2026-01-01T00:01:30+00:00")
    return RunRecord(s, Payload(None), Payload.from_value({"goal": "ship it"}), extra=extra)


def _rows() -> list[StepRow]:
    return [StepRow(None, "run-1", 5, "llm_invoke", "success", None, None, 1.5, 20.0, 0, "2026-01-01T00:00:10+00:00"),
            StepRow(None, "run-1", 9, None, "failed", None, None, None, None, 0, "not a time")]


def test_steps_are_reindexed_and_the_hash_uses_str_datetimes():
    b = evidence_bundle(_record(violation_step_index=1), _rows(), bundle_id="EVD-0123456789ab", created_at=CREATED)
    assert [s["step_index"] for s in b["steps"]] == [0, 1]
    assert b["steps"][0]["timestamp"] == "2026-01-01T00:00:10Z"  # pydantic JSON mode
    assert b["steps"][1]["step_type"] == "unknown" and b["steps"][1]["timestamp"] == "2026-01-01T00:00:00Z"
    assert [s["status"] for s in b["steps"]] == ["ok", "violation"] and b["steps"][1]["is_inflection"]
    assert b["total_cost_cents"] == 1.5 and b["total_steps"] == 2 and b["run_goal"] == "ship it"
    # The hash is over python-mode steps: str(datetime) with a space, as upstream's default=str.
    import hashlib
    import json
    py_steps = [dict(s, timestamp=datetime.fromisoformat(s["timestamp"].replace("Z", "+00:00"))) for s in b["steps"]]
    doc = {"run_id": "run-1", "incident_id": None, "trace_id": "run-1", "steps": py_steps,
           "created_at": CREATED.isoformat()}
    assert b["content_hash"] == hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()
    assert "2026-01-01 00:00:10+00:00" in json.dumps(py_steps, default=str)
    assert check_content_hash(b).state == "match"


def test_a_changed_bundle_no_longer_matches():
    b = evidence_bundle(_record(), _rows(), bundle_id="EVD-0123456789ab", created_at=CREATED)
    b["steps"][0]["cost_cents"] = 2.5
    check = check_content_hash(b)
    assert check.state == "mismatch" and check.stored != check.computed
    assert check_content_hash({**b, "content_hash": None}).state == "absent"
    assert check_content_hash({**b, "steps": "x"}).state == "mismatch"


def test_soc2_reuses_the_base_hash_and_names_the_base_id():
    base = evidence_bundle(_record(), _rows(), bundle_id="EVD-0123456789ab", created_at=CREATED)
    soc2 = soc2_bundle(base, created_at=CREATED)
    assert soc2["bundle_id"] == "SOC2-0123456789ab" and soc2["content_hash"] == base["content_hash"]
    assert "EVD-0123456789ab" in soc2["attestation_statement"]
    assert [c["control_id"] for c in soc2["control_mappings"]] == ["CC7.2", "CC7.3", "CC7.4"]
    assert check_content_hash(soc2).state == "match"  # same created_at here
    later = soc2_bundle(base, created_at=datetime(2026, 2, 1, tzinfo=UTC))
    check = check_content_hash(later)
    assert check.state == "mismatch" and "reuse their evidence bundle's hash" in check.note
    assert "§" not in check.note


def test_executive_debrief_risk_and_time_to_detect():
    base = evidence_bundle(_record(), _rows(), bundle_id="EVD-x", created_at=CREATED)
    ex = executive_bundle(base, bundle_id="EXEC-x", created_at=CREATED, severity="critical")
    assert ex["risk_level"] == "high" and ex["time_to_detect_seconds"] == 90
    assert executive_bundle(base, bundle_id="E", created_at=CREATED, severity="medium")["risk_level"] == "medium"
    assert executive_bundle(base, bundle_id="E", created_at=CREATED)["risk_level"] == "low"
    assert check_content_hash(ex).state == "absent"


def test_unwrap_reads_the_envelope_and_bare_bundles():
    base = evidence_bundle(_record(), _rows(), bundle_id="EVD-x", created_at=CREATED)
    env = envelope(base, timestamp=CREATED, request_id="req-1")
    assert env["success"] is True and env["meta"] == {"timestamp": "2026-01-01T00:00:00Z", "request_id": "req-1"}
    assert unwrap(env) == (base, "evidence")
    assert unwrap(base) == (base, "evidence")
    assert unwrap({"bundle_type": "other", "bundle_id": "x"}) is None
    assert unwrap([1, 2]) is None and unwrap({"success": True, "data": 3}) is None
