"""The CLI's ``--json`` shapes. Field names follow upstream's ``TraceSummary``/``TraceStep`` (§1.7)."""

from __future__ import annotations

from typing import Any

from inspector import fastjson
from inspector.model import RunRecord, RunSummary, Step, StepRow

__all__ = [
    "audit_event_to_json",
    "logs_to_json",
    "run_record_to_json",
    "run_summary_to_json",
    "step_json_text",
    "step_row_to_json",
    "step_to_json",
]


def _json_safe(value: Any) -> Any:
    # SQLite hands back a BLOB (or TEXT that is not UTF-8) as bytes, which JSON cannot hold.
    if isinstance(value, bytes):
        return fastjson.stored_text(value)
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


def step_row_to_json(row: StepRow) -> dict[str, Any]:
    """A step without its payloads (a row of the step list), in ``step_to_json``'s names."""
    return {
        "run_id": row.run_id,
        "step_index": row.step_index,
        "skill_name": row.skill_name,
        "status": row.status.value,
        "status_raw": _json_safe(row.status_raw),
        "outcome_category": row.outcome_category,
        "outcome_code": row.outcome_code,
        "cost_cents": row.cost_cents,
        "duration_ms": row.duration_ms,
        "retry_count": row.retry_count,
        "timestamp": row.timestamp,
        "trace_id": row.trace_id,
    }


def step_to_json(step: Step) -> dict[str, Any]:
    return _step_doc(step)[0]


#: Types orjson writes as json.dumps does (it refuses an int beyond 64 bits rather than differ).
_ALIKE = frozenset({str, int, bool, type(None)})
_ALIKE_OR_FLOAT = _ALIKE | {float}


def _step_doc(step: Step) -> tuple[dict[str, Any], bool]:
    """The step's JSON document, and whether orjson writes it as json.dumps does: its own fields
    (from any source) are of the types above or finite floats (orjson writes a NaN or an infinity
    as null), and its payloads are ones orjson read or plain text (``Payload.plain``)."""
    row = step.row
    out: dict[str, Any] = {
        "step_index": row.step_index,
        "skill_name": row.skill_name,
        "params": None,
        "status": row.status.value,
        "status_raw": _json_safe(row.status_raw),
        "outcome_category": row.outcome_category,
        "outcome_code": row.outcome_code,
        "outcome_data": None,
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
    # Judged before the payloads go in (their values are judged by how they were read).
    types = set(map(type, out.values()))
    alike = types <= _ALIKE or (types <= _ALIKE_OR_FLOAT and all(v - v == 0.0 for v in out.values() if type(v) is float))
    params, data = step.params, step.outcome_data
    out["params"] = params.to_json()
    out["outcome_data"] = data.to_json()
    # The payloads' text, when shown, is a str: orjson refuses one it cannot encode, never differs.
    alike = alike and (params.raw is None or params.error is not None or params.plain) and (
        data.raw is None or data.error is not None or data.plain)
    warnings = [f"{name}: {p.error}" for name, p in (("params", params), ("outcome_data", data)) if p.error]
    if warnings:
        out["warnings"] = warnings
    return out, alike


def step_json_text(step: Step) -> str:
    """``json.dumps(step_to_json(step), ensure_ascii=False)``'s document (the same keys and
    values), written by orjson when every value in it is one orjson writes alike (``show --json``
    of a million steps)."""
    doc, alike = _step_doc(step)
    return fastjson.dumps(doc, alike)


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
