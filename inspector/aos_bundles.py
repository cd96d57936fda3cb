"""AOS's own export bundles (spec §8): ``EvidenceBundle``, ``SOC2Bundle`` and
``ExecutiveDebriefBundle`` built from a run as upstream assembles them, their delivery envelope, and
``content_hash`` computed exactly as upstream computes it (§8.2), so AOS's consumers can read what
the inspector exports and the inspector can check what AOS exported.

Upstream quirks kept (§8.2, §11.19–20): steps are re-indexed by enumeration; inside steps datetimes
are serialised with ``str()`` (a space) while ``created_at`` uses ``isoformat()`` (a ``T``); a SOC2
bundle reuses its evidence bundle's hash (computed over the evidence bundle's ``created_at``).
There is no version field and no signature: the inspector's own bundle format adds both.

Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from inspector.model import RunRecord, StepRow, parse_timestamp, to_float, to_int

__all__ = [
    "AOS_BUNDLE_TYPES",
    "ContentHashCheck",
    "SOC2_CONTROLS",
    "check_content_hash",
    "content_hash",
    "envelope",
    "evidence_bundle",
    "executive_bundle",
    "json_datetime",
    "soc2_bundle",
    "unwrap",
]

#: ``bundle_type`` values and the bundle kind each names.
AOS_BUNDLE_TYPES = {"evidence": "evidence", "soc2": "soc2", "executive_debrief": "executive"}

#: Upstream's default SOC2 control mappings.
SOC2_CONTROLS = (
    ("CC7.2", "Incident Response", "System monitors and responds to security incidents"),
    ("CC7.3", "Incident Management", "Incidents are identified, tracked and resolved"),
    ("CC7.4", "Analysis and Remediation", "Incidents are analysed and remediated"),
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def json_datetime(dt: datetime | None) -> str | None:
    """A datetime as pydantic's JSON mode writes it: ISO 8601, UTC as ``Z``."""
    if dt is None:
        return None
    text = dt.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _py_step(step: Mapping[str, Any]) -> Mapping[str, Any]:
    """A step as ``model_dump()`` (python mode) holds it: the timestamp a datetime again."""
    ts = step.get("timestamp")
    if not isinstance(ts, str):
        return step
    out = dict(step)
    parsed = parse_timestamp(ts)
    out["timestamp"] = parsed if parsed is not None else ts
    return out


def content_hash(run_id: Any, incident_id: Any, trace_id: Any, steps: Sequence[Mapping[str, Any]],
                 created_at: datetime | str) -> str:
    """Upstream's ``content_hash`` (§8.2): SHA-256 hex of ``json.dumps({run_id, incident_id,
    trace_id, steps, created_at: created_at.isoformat()}, sort_keys=True, default=str)``. Steps may
    be given with ISO strings (as JSON holds them): their timestamps are turned back into datetimes
    so that ``default=str`` writes them with a space, as upstream's hash does."""
    if isinstance(created_at, str):
        parsed = parse_timestamp(created_at)
        if parsed is None:
            raise ValueError(f"created_at is not a date and time: {created_at!r}")
        created_at = parsed
    doc = {"run_id": run_id, "incident_id": incident_id, "trace_id": trace_id,
           "steps": [_py_step(s) for s in steps], "created_at": created_at.isoformat()}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode("utf-8")).hexdigest()


def _step_evidence(position: int, row: StepRow, fallback: datetime, violation_index: int | None) -> dict[str, Any]:
    """A ``TraceStepEvidence`` in python mode (the timestamp a datetime, as the hash needs it)."""
    ts = parse_timestamp(row.timestamp) or fallback
    violation = violation_index is not None and position == violation_index
    skill = row.skill_name if isinstance(row.skill_name, str) and row.skill_name else "unknown"
    return {"step_index": position, "timestamp": ts, "step_type": skill,
            "tokens": 0, "cost_cents": to_float(row.cost_cents), "duration_ms": to_float(row.duration_ms),
            "status": "violation" if violation else "ok", "is_inflection": violation, "content_hash": None}


def evidence_bundle(record: RunRecord, steps: Sequence[StepRow], *, bundle_id: str, created_at: datetime,
                    exported_by: str = "system", export_reason: str | None = None,
                    incident_id: str | None = None) -> dict[str, Any]:
    """An ``EvidenceBundle`` (JSON mode) for a run, as upstream assembles it (§8.2 steps 2–5)."""
    s = record.summary
    extra = record.extra or {}
    violation_index = extra.get("violation_step_index")
    if not isinstance(violation_index, int) or isinstance(violation_index, bool):
        violation_index = None
    fallback = parse_timestamp(s.started_at) or created_at
    py_steps = [_step_evidence(i, row, fallback, violation_index) for i, row in enumerate(steps)]
    step_docs = [{**d, "timestamp": json_datetime(d["timestamp"])} for d in py_steps]
    trace_id = s.trace_id or s.run_id
    started = parse_timestamp(s.started_at)
    completed = parse_timestamp(s.completed_at)
    policy_snapshot = extra.get("policy_snapshot_id")
    metadata = record.metadata.value if record.metadata.ok and isinstance(record.metadata.value, dict) else {}
    return {
        "bundle_id": bundle_id,
        "bundle_type": "evidence",
        "created_at": json_datetime(created_at),
        "run_id": s.run_id,
        "incident_id": incident_id,
        "trace_id": trace_id,
        "tenant_id": s.tenant_id or "",
        "agent_id": s.agent_id,
        "policy_context": {"policy_snapshot_id": policy_snapshot if isinstance(policy_snapshot, str) else "N/A",
                           "active_policies": [], "violated_policy_id": None, "violated_policy_name": None,
                           "violation_type": None, "threshold_value": None, "actual_value": None},
        "violation_step_index": violation_index,
        "violation_timestamp": json_datetime(parse_timestamp(extra.get("violation_timestamp"))),
        "steps": step_docs,
        "total_steps": len(step_docs),
        "total_duration_ms": float(sum(d["duration_ms"] for d in step_docs)),
        "total_tokens": 0,
        "total_cost_cents": float(sum(d["cost_cents"] for d in step_docs)),
        "run_goal": metadata.get("goal") if isinstance(metadata.get("goal"), str) else None,
        "run_started_at": json_datetime(started),
        "run_completed_at": json_datetime(completed),
        "termination_reason": s.status,
        "exported_by": exported_by,
        "export_reason": export_reason,
        "content_hash": content_hash(s.run_id, incident_id, trace_id, py_steps, created_at),
    }


def soc2_bundle(base: Mapping[str, Any], *, created_at: datetime, reviewed_by: str | None = None) -> dict[str, Any]:
    """A ``SOC2Bundle`` from an evidence bundle, as upstream builds it (§8.2 step 6): the base's
    fields and content hash, ``EVD-`` → ``SOC2-``, the attestation naming the base id."""
    out = dict(base)
    base_id = str(base["bundle_id"])
    violation = base.get("violation_step_index")
    out.update({
        "bundle_id": "SOC2-" + base_id.removeprefix("EVD-"),
        "bundle_type": "soc2",
        "created_at": json_datetime(created_at),
        "control_mappings": [{"control_id": cid, "control_name": name, "control_description": desc,
                              "evidence_provided": f"Trace evidence for run {base.get('run_id')}",
                              "compliance_status": "DEMONSTRATED"} for cid, name, desc in SOC2_CONTROLS],
        "attestation_statement": (
            f"This evidence bundle ({base_id}) documents incident {base.get('incident_id') or 'N/A'}; "
            f"violation step {violation if violation else 'N/A'}; content hash "
            f"{str(base.get('content_hash') or '')[:16]}."),
        "compliance_period_start": json_datetime(created_at),
        "compliance_period_end": json_datetime(created_at),
        "auditor_notes": None,
        "review_status": "PENDING",
        "reviewed_by": reviewed_by,
        "reviewed_at": None,
        "criteria_covered": ["CC7.2", "CC7.3", "CC7.4"],
    })
    return out


def executive_bundle(base: Mapping[str, Any], *, bundle_id: str, created_at: datetime,
                     severity: str | None = None, prepared_for: str | None = None,
                     prepared_by: str = "system") -> dict[str, Any]:
    """An ``ExecutiveDebriefBundle`` (§8.2 step 7): risk from severity, time to detect from the
    run's start and completion, upstream's fixed summary and recommendations."""
    risk = {"critical": "high", "high": "high", "medium": "medium"}.get((severity or "").lower(), "low")
    started = parse_timestamp(base.get("run_started_at"))
    completed = parse_timestamp(base.get("run_completed_at"))
    detect = int((completed - started).total_seconds()) if started and completed else 0
    return {
        "bundle_id": bundle_id,
        "bundle_type": "executive_debrief",
        "created_at": json_datetime(created_at),
        "incident_summary": f"Run {base.get('run_id')} ended {base.get('termination_reason') or 'N/A'} after "
                            f"{base.get('total_steps', 0)} steps.",
        "business_impact": "Agent run evidence exported for review.",
        "risk_level": risk,
        "run_id": base.get("run_id"),
        "incident_id": base.get("incident_id"),
        "tenant_id": base.get("tenant_id"),
        "policy_violated": None,
        "violation_time": base.get("violation_timestamp"),
        "detection_time": base.get("run_completed_at"),
        "recommended_actions": ["Review the policy configuration", "Check the agent's behaviour",
                                "Confirm the remediation", "Update the monitoring thresholds"],
        "remediation_status": "pending",
        "remediation_notes": None,
        "time_to_detect_seconds": detect,
        "time_to_contain_seconds": None,
        "cost_incurred_cents": to_int(base.get("total_cost_cents")),
        "cost_prevented_cents": None,
        "prepared_for": prepared_for,
        "prepared_by": prepared_by,
        "classification": "INTERNAL",
    }


def envelope(data: Mapping[str, Any], *, timestamp: datetime, request_id: str) -> dict[str, Any]:
    """Upstream's JSON delivery: ``{"success", "data", "meta": {"timestamp", "request_id"}}``."""
    return {"success": True, "data": dict(data),
            "meta": {"timestamp": json_datetime(timestamp), "request_id": request_id}}


def unwrap(doc: Any) -> tuple[dict[str, Any], str] | None:
    """``(bundle, kind)`` of an AOS bundle document (the envelope or a bare bundle), else None."""
    if isinstance(doc, dict) and "data" in doc and "success" in doc and isinstance(doc.get("data"), dict):
        doc = doc["data"]
    if not isinstance(doc, dict):
        return None
    kind = AOS_BUNDLE_TYPES.get(doc.get("bundle_type")) if isinstance(doc.get("bundle_type"), str) else None
    if kind is None or not isinstance(doc.get("bundle_id"), str):
        return None
    return doc, kind


@dataclass(frozen=True, slots=True)
class ContentHashCheck:
    """``match``, ``mismatch`` or ``absent`` (no ``content_hash``, or a kind that has none),
    with the stored and recomputed values and what to know about the result."""

    state: str
    stored: str | None
    computed: str | None
    note: str = ""


def check_content_hash(bundle: Mapping[str, Any]) -> ContentHashCheck:
    """Recompute a bundle's ``content_hash`` as §8.2 says and compare it with the stored one."""
    stored = bundle.get("content_hash")
    if bundle.get("bundle_type") == "executive_debrief":
        return ContentHashCheck("absent", None, None, "executive debrief bundles carry no content hash")
    if not isinstance(stored, str) or not stored:
        return ContentHashCheck("absent", None, None, "the bundle has no content_hash")
    steps = bundle.get("steps")
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        return ContentHashCheck("mismatch", stored, None, "steps is not a list of objects")
    try:
        computed = content_hash(bundle.get("run_id"), bundle.get("incident_id"), bundle.get("trace_id"), steps,
                                bundle.get("created_at") if isinstance(bundle.get("created_at"), str) else "")
    except (ValueError, RecursionError) as exc:
        return ContentHashCheck("mismatch", stored, None, f"cannot recompute: {exc}")
    if computed == stored:
        return ContentHashCheck("match", stored, computed)
    note = ""
    if bundle.get("bundle_type") == "soc2":
        note = ("SOC2 bundles reuse their evidence bundle's hash, computed over that bundle's created_at "
                "(not their own): a mismatch here does not by itself mean a change")
    return ContentHashCheck("mismatch", stored, computed, note)
