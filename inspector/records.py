"""Turn the two one-run JSON shapes AOS writes into domain objects.

* ``TraceRecord.to_dict`` documents (spec §1.7; ``fixtures/aos/golden_trace.json``);
* SDK trace files v1.1.0 (spec §1.8, ``*.trace.json``), which carry hashes instead of payloads and
  no run id, status or start time of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from inspector.errors import NotATraceSource
from inspector.model import MISSING, Payload, RunRecord, RunSummary, Step, StepRow

__all__ = ["detect_shape", "replay_of", "trace_record_from_dict", "sdk_trace_from_dict"]

_TRACE_RECORD_REQUIRED = ("run_id", "correlation_id", "tenant_id", "plan", "steps", "started_at", "status")
_SDK_REQUIRED = ("version", "seed", "timestamp", "plan", "steps")


def replay_of(metadata: Payload) -> str | None:
    """The original run a replay names in its metadata (``{"replay_of": run_id, …}``, §1.5)."""
    value = metadata.value
    if isinstance(value, Mapping):
        target = value.get("replay_of")
        if isinstance(target, str) and target:
            return target
    return None


def detect_shape(doc: Any) -> str | None:
    """``"trace_record"``, ``"sdk_trace"`` or None for a parsed JSON document."""
    if not isinstance(doc, Mapping):
        return None
    if all(k in doc for k in _TRACE_RECORD_REQUIRED):
        return "trace_record"
    if all(k in doc for k in _SDK_REQUIRED):
        return "sdk_trace"
    return None


def _num(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an integer beyond a float's range
        return None


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an infinite float (-1e999 in JSON)
        return None


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def trace_record_from_dict(doc: Mapping[str, Any], location: str) -> tuple[RunRecord, list[Step]]:
    missing = [k for k in _TRACE_RECORD_REQUIRED if k not in doc]
    if missing:
        raise NotATraceSource(f"trace record lacks {', '.join(missing)}", location=location)
    if not isinstance(doc["steps"], list):
        raise NotATraceSource("trace record 'steps' is not a list", location=location)
    run_id = str(doc["run_id"])
    metadata = Payload.from_value(doc.get("metadata") if doc.get("metadata") is not None else {})
    summary = RunSummary(
        run_id=run_id,
        correlation_id=_str(doc.get("correlation_id")),
        tenant_id=_str(doc.get("tenant_id")),
        agent_id=_str(doc.get("agent_id")),
        status=_str(doc.get("status")),
        started_at=_str(doc.get("started_at")),
        completed_at=_str(doc.get("completed_at")),
        replay_of=replay_of(metadata),
    )
    steps = []
    for position, raw in enumerate(doc["steps"]):
        if not isinstance(raw, Mapping):
            raise NotATraceSource(f"step #{position} is not an object", location=location)
        index = _int(raw.get("step_index"))
        row = StepRow(
            row_id=None,
            run_id=run_id,
            step_index=position if index is None else index,
            skill_name=_str(raw.get("skill_name")),
            status_raw=raw.get("status"),
            outcome_category=_str(raw.get("outcome_category")),
            outcome_code=_str(raw.get("outcome_code")),
            cost_cents=_num(raw.get("cost_cents")),
            duration_ms=_num(raw.get("duration_ms")),
            retry_count=_int(raw.get("retry_count")),
            timestamp=_str(raw.get("timestamp")),
        )
        steps.append(
            Step(
                row=row,
                params=Payload.from_value(raw.get("params")),
                outcome_data=Payload.from_value(raw.get("outcome_data")),
                idempotency_key=_str(raw.get("idempotency_key")),
                replay_behavior=_str(raw.get("replay_behavior")),
                input_hash=_str(raw.get("input_hash")),
                output_hash=_str(raw.get("output_hash")),
                rng_state_before=_str(raw.get("rng_state_before")),
            )
        )
    record = RunRecord(
        summary=summary,
        plan=Payload.from_value(doc.get("plan")),
        metadata=metadata,
        seed=doc.get("seed", 42),
        frozen_timestamp=_str(doc.get("frozen_timestamp")),
        root_hash=_str(doc.get("root_hash")),
        schema_version=_str(doc.get("schema_version")),
        extra={k: doc[k] for k in ("replay_mode", "replay_attempt_id", "replay_artifact_version",
                                      "trace_completeness_status", "checksum") if k in doc},
    )
    return record, steps


def sdk_trace_from_dict(doc: Mapping[str, Any], location: str, fallback_run_id: str) -> tuple[RunRecord, list[Step]]:
    """An SDK v1.1 trace. It has no run id (the POST API needs the client to add ``run_id`` or
    ``trace_id``): those are used when present, else ``fallback_run_id`` (the file's name).
    Its steps carry ``outcome`` rather than a status, and hashes rather than payloads."""
    missing = [k for k in _SDK_REQUIRED if k not in doc]
    if missing:
        raise NotATraceSource(f"SDK trace lacks {', '.join(missing)}", location=location)
    if not isinstance(doc["steps"], list):
        raise NotATraceSource("SDK trace 'steps' is not a list", location=location)
    run_id = _str(doc.get("run_id")) or _str(doc.get("trace_id")) or fallback_run_id
    metadata = Payload.from_value(doc.get("metadata") if doc.get("metadata") is not None else {})
    finalized = bool(doc.get("finalized"))
    summary = RunSummary(
        run_id=run_id,
        correlation_id=_str(doc.get("correlation_id")) or run_id,
        tenant_id=_str(doc.get("tenant_id")) or "default",
        agent_id=_str(doc.get("agent_id")),
        status=_str(doc.get("status")) or ("completed" if finalized else "running"),
        started_at=_str(doc.get("timestamp")),
        completed_at=None,
        replay_of=replay_of(metadata),
    )
    steps = []
    for position, raw in enumerate(doc["steps"]):
        if not isinstance(raw, Mapping):
            raise NotATraceSource(f"step #{position} is not an object", location=location)
        index = _int(raw.get("step_index"))
        row = StepRow(
            row_id=None,
            run_id=run_id,
            step_index=position if index is None else index,
            skill_name=_str(raw.get("skill_id")),
            status_raw=raw.get("outcome"),
            outcome_category=None,
            outcome_code=_str(raw.get("error_code")),
            cost_cents=None,
            duration_ms=_num(raw.get("duration_ms")),
            retry_count=None,
            timestamp=_str(raw.get("timestamp")),
        )
        steps.append(
            Step(
                row=row,
                # The SDK keeps only hashes of inputs and outputs: the payloads were never captured.
                params=Payload(None, MISSING, None),
                outcome_data=Payload(None, MISSING, None),
                idempotency_key=_str(raw.get("idempotency_key")),
                replay_behavior=_str(raw.get("replay_behavior")),
                input_hash=_str(raw.get("input_hash")),
                output_hash=_str(raw.get("output_hash")),
                rng_state_before=_str(raw.get("rng_state_before")),
            )
        )
    record = RunRecord(
        summary=summary,
        plan=Payload.from_value(doc.get("plan")),
        metadata=metadata,
        seed=doc.get("seed"),
        frozen_timestamp=_str(doc.get("timestamp")),
        root_hash=_str(doc.get("root_hash")),
        schema_version=_str(doc.get("version")),
        extra={"finalized": finalized},
    )
    return record, steps
