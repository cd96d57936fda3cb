"""The CLI's ``--json`` shapes. Field names follow upstream's ``TraceSummary``/``TraceStep`` (§1.7)."""

from __future__ import annotations

from typing import Any

from inspector import fastjson
from inspector.model import Payload, RunRecord, RunSummary, Step

__all__ = [
    "audit_event_to_json",
    "logs_to_json",
    "run_record_to_json",
    "run_summary_to_json",
    "step_json_text",
    "step_to_json",
]


def _json_safe(value: Any) -> Any:
    # SQLite hands back a BLOB (or TEXT that is not UTF-8) as bytes, which JSON cannot hold.
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def run_summary_to_json(s: RunSummary) -> dict[str, Any]:
    return {
        "run_id": s.run_id,
        "correlation_id": s.correlation_id,
        "tenant_id": s.tenant_id,
        "agent_id": s.agent_id,
        "status": s.status,
        "started_at": s.started_at,
        "completed_at": s.completed_at,
        "total_steps": s.total_steps,
        "success_count": s.success_count,
        "failure_count": s.failure_count,
        "total_cost_cents": s.total_cost_cents,
        "total_duration_ms": s.total_duration_ms,
        "replay_of": s.replay_of,
        "orphan": s.orphan,
        "trace_id": s.trace_id,
        "archived": s.archived,
    }


def run_record_to_json(r: RunRecord) -> dict[str, Any]:
    out = run_summary_to_json(r.summary)
    out.update(
        {
            "plan": r.plan.to_json(),
            "metadata": r.metadata.to_json(),
            "seed": _json_safe(r.seed),
            "frozen_timestamp": r.frozen_timestamp,
            "root_hash": r.root_hash,
            "plan_hash": r.plan_hash,
        }
    )
    warnings = [f"{name}: {p.error}" for name, p in (("plan", r.plan), ("metadata", r.metadata)) if p.error]
    if warnings:
        out["warnings"] = warnings
    return out


def step_to_json(step: Step) -> dict[str, Any]:
    row = step.row
    out: dict[str, Any] = {
        "step_index": row.step_index,
        "skill_name": row.skill_name,
        "params": step.params.to_json(),
        "status": row.status.value,
        "status_raw": _json_safe(row.status_raw),
        "outcome_category": row.outcome_category,
        "outcome_code": row.outcome_code,
        "outcome_data": step.outcome_data.to_json(),
        "cost_cents": row.cost_cents,
        "duration_ms": row.duration_ms,
        "retry_count": row.retry_count,
        "timestamp": row.timestamp,
        "idempotency_key": step.idempotency_key,
        "replay_behavior": step.replay_behavior,
        "input_hash": step.input_hash,
        "output_hash": step.output_hash,
        "rng_state_before": step.rng_state_before,
        "trace_id": row.trace_id,
    }
    warnings = [f"{name}: {p.error}" for name, p in (("params", step.params), ("outcome_data", step.outcome_data)) if p.error]
    if warnings:
        out["warnings"] = warnings
    return out


def _writes_alike(p: Payload) -> bool:
    # What Payload.to_json gives orjson writes as json.dumps does: None, the raw text (a string
    # orjson refuses if it cannot encode it), or a value orjson read (no NaN, no infinity).
    return p.raw is None or p.error is not None or p.plain


#: Types orjson writes as json.dumps does (it refuses an int beyond 64 bits rather than differ).
_ALIKE = frozenset({str, int, bool, type(None)})


def _scalars_write_alike(doc: dict[str, Any]) -> bool:
    # A step's own fields come from any source: past the types above, a finite float is written
    # alike, a NaN or an infinity orjson would write as null, and anything else is left to
    # json.dumps. The payloads are judged by _writes_alike.
    for key, v in doc.items():
        t = type(v)
        if t in _ALIKE or (t is float and v - v == 0.0):
            continue
        if key in ("params", "outcome_data") or (key == "warnings" and all(type(w) is str for w in v)):
            continue
        return False
    return True


def step_json_text(step: Step) -> str:
    """``json.dumps(step_to_json(step), ensure_ascii=False)``'s document (the same keys and
    values), written by orjson when every value in it is one orjson writes alike (about four times
    faster on a typical step: ``show --json`` of a million steps)."""
    doc = step_to_json(step)
    plain = _writes_alike(step.params) and _writes_alike(step.outcome_data) and _scalars_write_alike(doc)
    return fastjson.dumps(doc, plain)


def logs_to_json(value: Any) -> Any:
    """A logs-domain object (``inspector.logs``) as JSON: dataclass fields by name, JSON columns
    as their parsed value (raw text when malformed), tuples as lists. A mismatch also carries the
    API's ``status`` word (``resolved``/``open``)."""
    import dataclasses

    from inspector.logs import Mismatch
    from inspector.model import Payload

    if isinstance(value, Payload):
        return value.to_json()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: logs_to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
        if isinstance(value, Mismatch):
            out["status"] = value.state
        return out
    if isinstance(value, (list, tuple)):
        return [logs_to_json(v) for v in value]
    return _json_safe(value)


def audit_event_to_json(event: Any) -> dict[str, Any]:
    """A ledger event with its before/after diff by JSON pointer."""
    from inspector.ledger import state_diff
    from inspector.model import MISSING

    out = logs_to_json(event)
    out["changes"] = [
        {"pointer": c.pointer, "op": c.op,
         "before": None if c.before is MISSING else c.before, "after": None if c.after is MISSING else c.after}
        for c in state_diff(event.before_state, event.after_state)
    ]
    return out
