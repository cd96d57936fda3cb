"""Runs, steps, evidence and logs as the JSON a bundle holds, and back. A round trip gives the
same domain objects the source gave (payloads compared by value: a JSON column's text is stored
parsed when it parses, raw with its error when it does not, absent when the source had none).

Values JSON cannot hold are written as text: a BLOB (bytes) as UTF-8 with replacement characters,
a date as ISO 8601, a Decimal as a float. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import decimal
import json
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any

from inspector.evidence import EvidenceRow, IndexAlignment, RunEvidence, StoredVerdict
from inspector.integrity import CaptureFailure, EvidenceClass, FailureResolution, IntegrityFacts
from inspector.logs import RunLogs
from inspector.model import MISSING, Payload, RunRecord, RunSummary, Step, StepRow

__all__ = [
    "CodecError",
    "evidence_from_doc",
    "evidence_to_doc",
    "jsonable",
    "logs_from_doc",
    "logs_to_doc",
    "run_from_doc",
    "run_to_doc",
    "step_from_doc",
    "step_row_from_doc",
    "step_to_doc",
]


class CodecError(ValueError):
    """A bundle document that does not have the shape written (the message names the field)."""


def jsonable(value: Any) -> Any:
    """A value as JSON can hold it (see the module docstring); Payloads as their parsed value."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, Payload):
        return value.to_json()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((jsonable(v) for v in value), key=repr)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return str(value)


# -- payloads ---------------------------------------------------------------------------------


def _put_payload(doc: dict[str, Any], name: str, p: Payload) -> None:
    if p.raw is None:
        return
    if p.error is None:
        # Parsed JSON already (json.loads or a stored scalar): no conversion needed.
        doc[name] = p.value
    else:
        doc[name + "_raw"] = p.raw
        doc[name + "_error"] = p.error


def _get_payload(doc: Mapping[str, Any], name: str) -> Payload:
    if name in doc:
        value = doc[name]
        try:
            raw = json.dumps(value)
        except (ValueError, RecursionError):
            raw = str(value)
        return Payload(raw, value, None)
    if name + "_raw" in doc:
        raw = doc[name + "_raw"]
        return Payload(raw if isinstance(raw, str) else str(raw), MISSING, str(doc.get(name + "_error") or "unreadable"))
    return Payload(None)


def _str(doc: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    v = doc.get(name)
    if v is None:
        if required:
            raise CodecError(f"{name} is missing")
        return None
    if not isinstance(v, str):
        raise CodecError(f"{name} is not a string")
    return v


def _num(doc: Mapping[str, Any], name: str) -> float | None:
    v = doc.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise CodecError(f"{name} is not a number")
    return float(v)


def _int(doc: Mapping[str, Any], name: str) -> int | None:
    v = doc.get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise CodecError(f"{name} is not an integer")
    return v


def _obj(doc: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(doc, Mapping):
        raise CodecError(f"{what} is not a JSON object")
    return doc


# -- runs and steps ---------------------------------------------------------------------------

_SUMMARY_FIELDS = [f.name for f in dataclasses.fields(RunSummary)]


def run_to_doc(record: RunRecord) -> dict[str, Any]:
    s = record.summary
    doc: dict[str, Any] = {name: jsonable(getattr(s, name)) for name in _SUMMARY_FIELDS}
    _put_payload(doc, "plan", record.plan)
    _put_payload(doc, "metadata", record.metadata)
    doc.update({"seed": jsonable(record.seed), "frozen_timestamp": record.frozen_timestamp,
                "root_hash": record.root_hash, "plan_hash": record.plan_hash, "created_at": record.created_at,
                "schema_version": jsonable(record.schema_version)})
    extra: dict[str, Any] = {}
    payload_extras = []
    for k, v in (record.extra or {}).items():
        if isinstance(v, Payload):
            payload_extras.append(k)
            _put_payload(extra, k, v)
        else:
            extra[k] = jsonable(v)
    doc["extra"] = extra
    doc["payload_extras"] = sorted(payload_extras)
    return doc


def run_from_doc(doc: Any) -> RunRecord:
    doc = _obj(doc, "run.json")
    s = RunSummary(
        run_id=_str(doc, "run_id", required=True) or "",
        correlation_id=_str(doc, "correlation_id"), tenant_id=_str(doc, "tenant_id"),
        agent_id=_str(doc, "agent_id"), status=_str(doc, "status"), started_at=_str(doc, "started_at"),
        completed_at=_str(doc, "completed_at"), total_steps=_int(doc, "total_steps"),
        success_count=_int(doc, "success_count"), failure_count=_int(doc, "failure_count"),
        total_cost_cents=_num(doc, "total_cost_cents"), total_duration_ms=_num(doc, "total_duration_ms"),
        replay_of=_str(doc, "replay_of"), orphan=bool(doc.get("orphan")), trace_id=_str(doc, "trace_id"),
        archived=bool(doc.get("archived")))
    extra_doc = _obj(doc.get("extra") or {}, "run.json extra")
    payload_extras = doc.get("payload_extras") or []
    if not isinstance(payload_extras, list):
        raise CodecError("payload_extras is not a list")
    extra: dict[str, Any] = {}
    for k, v in extra_doc.items():
        if k.endswith(("_raw", "_error")) and k.rsplit("_", 1)[0] in payload_extras:
            continue
        extra[k] = v
    for k in payload_extras:
        extra[k] = _get_payload(extra_doc, k)
    return RunRecord(s, _get_payload(doc, "plan"), _get_payload(doc, "metadata"), seed=doc.get("seed"),
                     frozen_timestamp=_str(doc, "frozen_timestamp"), root_hash=_str(doc, "root_hash"),
                     plan_hash=_str(doc, "plan_hash"), created_at=_str(doc, "created_at"),
                     schema_version=doc.get("schema_version"), extra=extra)


_PLAIN = (str, int, float, type(None))


def _j(value: Any) -> Any:
    return value if type(value) in _PLAIN else jsonable(value)


def step_to_doc(step: Step) -> dict[str, Any]:
    r = step.row
    doc: dict[str, Any] = {
        "step_index": r.step_index, "row_id": r.row_id, "run_id": _j(r.run_id), "trace_id": _j(r.trace_id),
        "skill_name": _j(r.skill_name), "status_raw": _j(r.status_raw), "status": r.status.value,
        "outcome_category": _j(r.outcome_category), "outcome_code": _j(r.outcome_code),
        "cost_cents": r.cost_cents, "duration_ms": r.duration_ms, "retry_count": _j(r.retry_count),
        "timestamp": _j(r.timestamp), "idempotency_key": _j(step.idempotency_key),
        "replay_behavior": _j(step.replay_behavior), "input_hash": _j(step.input_hash),
        "output_hash": _j(step.output_hash), "rng_state_before": _j(step.rng_state_before),
    }
    _put_payload(doc, "params", step.params)
    _put_payload(doc, "outcome_data", step.outcome_data)
    if step.extra:
        doc["extra"] = jsonable(step.extra)
    return doc


def _loose(doc: Mapping[str, Any], name: str) -> Any:
    v = doc.get(name)
    return v if v is None or isinstance(v, str | int | float) else str(v)


def step_row_from_doc(doc: Any) -> StepRow:
    doc = _obj(doc, "a step")
    index = _int(doc, "step_index")
    if index is None:
        raise CodecError("step_index is missing")
    retry = doc.get("retry_count")
    return StepRow(row_id=_int(doc, "row_id"), run_id=_str(doc, "run_id") or "", step_index=index,
                   skill_name=_loose(doc, "skill_name"), status_raw=doc.get("status_raw"),
                   outcome_category=_loose(doc, "outcome_category"), outcome_code=_loose(doc, "outcome_code"),
                   cost_cents=_num(doc, "cost_cents"), duration_ms=_num(doc, "duration_ms"),
                   retry_count=retry if isinstance(retry, int) and not isinstance(retry, bool) else None,
                   timestamp=_loose(doc, "timestamp"), trace_id=_str(doc, "trace_id"))


def step_from_doc(doc: Any) -> Step:
    row = step_row_from_doc(doc)
    extra = doc.get("extra") or {}
    return Step(row, _get_payload(doc, "params"), _get_payload(doc, "outcome_data"),
                idempotency_key=_loose(doc, "idempotency_key"), replay_behavior=_loose(doc, "replay_behavior"),
                input_hash=_loose(doc, "input_hash"), output_hash=_loose(doc, "output_hash"),
                rng_state_before=_loose(doc, "rng_state_before"),
                extra=dict(extra) if isinstance(extra, Mapping) else {})


# -- evidence ---------------------------------------------------------------------------------


def _failure_doc(f: CaptureFailure) -> dict[str, Any]:
    return {"id": f.id, "evidence_type": f.evidence_type, "failure_reason": f.failure_reason,
            "error_message": f.error_message, "resolution": f.resolution.value,
            "stored_resolution": f.stored_resolution}


def evidence_to_doc(ev: RunEvidence) -> dict[str, Any]:
    f = ev.facts
    return {
        "run_id": ev.run_id,
        "facts": {"observed": [c.value for c in f.observed], "missing": [c.value for c in f.missing],
                  "failures": [_failure_doc(x) for x in f.failures],
                  "counts": {c.value: int(n) for c, n in f.counts.items()}},
        "rows": {cls.value: [{"id": jsonable(r.id), "step_index": r.step_index,
                              "fields": [[k, jsonable(v)] for k, v in r.fields]} for r in rows]
                 for cls, rows in ev.rows.items()},
        "truncated": sorted(c.value for c in ev.truncated),
        "stored": jsonable(ev.stored) if ev.stored is not None else None,
        "alignment": [{**jsonable(a), "cls": a.cls.value} for a in ev.alignment],
        "tables": sorted(c.value for c in ev.tables),
        "unusable": dict(ev.unusable),
    }


def _cls(value: Any) -> EvidenceClass:
    try:
        return EvidenceClass(value)
    except ValueError:
        raise CodecError(f"unknown evidence class {value!r}") from None


def _tuple_or_none(value: Any) -> tuple[str, ...] | None:
    return tuple(str(v) for v in value) if isinstance(value, list) else None


def evidence_from_doc(doc: Any) -> RunEvidence:
    doc = _obj(doc, "evidence.json")
    facts_doc = _obj(doc.get("facts"), "evidence.json facts")
    failures = []
    for x in facts_doc.get("failures") or []:
        x = _obj(x, "a capture failure")
        try:
            resolution = FailureResolution(x.get("resolution") or "transient")
        except ValueError:
            raise CodecError(f"unknown resolution {x.get('resolution')!r}") from None
        failures.append(CaptureFailure(_str(x, "evidence_type"), _str(x, "failure_reason"), _str(x, "error_message"),
                                       resolution, _str(x, "stored_resolution"), _str(x, "id")))
    counts = {_cls(k): int(v) for k, v in _obj(facts_doc.get("counts") or {}, "counts").items()
              if isinstance(v, int)}
    facts = IntegrityFacts(_str(doc, "run_id", required=True) or "",
                           tuple(_cls(c) for c in facts_doc.get("observed") or []),
                           tuple(_cls(c) for c in facts_doc.get("missing") or []), tuple(failures), counts)
    rows = {}
    for cls_name, items in _obj(doc.get("rows") or {}, "rows").items():
        cls = _cls(cls_name)
        out = []
        for r in items if isinstance(items, list) else []:
            r = _obj(r, "an evidence row")
            fields = tuple((str(kv[0]), kv[1]) for kv in r.get("fields") or [] if isinstance(kv, list) and len(kv) == 2)
            si = r.get("step_index")
            out.append(EvidenceRow(cls, r.get("id") if isinstance(r.get("id"), str) else None,
                                   si if isinstance(si, int) and not isinstance(si, bool) else None, fields))
        rows[cls] = tuple(out)
    stored = None
    if isinstance(doc.get("stored"), Mapping):
        s = doc["stored"]
        stored = StoredVerdict(facts.run_id, _str(s, "integrity_status"), _num(s, "integrity_score"),
                               _tuple_or_none(s.get("observed_artifacts")), _tuple_or_none(s.get("missing_artifacts")),
                               s.get("missing_reasons"), _str(s, "verification_method"),
                               _str(s, "verification_timestamp"), _str(s, "id"))
    alignment = []
    for a in doc.get("alignment") or []:
        a = _obj(a, "an alignment")
        alignment.append(IndexAlignment(_cls(a.get("cls")), int(a.get("evidence_count") or 0), _int(a, "evidence_min"),
                                        _int(a, "evidence_max"), int(a.get("trace_count") or 0), _int(a, "trace_min"),
                                        _int(a, "trace_max"), tuple(int(i) for i in a.get("unmatched") or []),
                                        int(a.get("unmatched_count") or 0)))
    return RunEvidence(facts.run_id, facts, rows, frozenset(_cls(c) for c in doc.get("truncated") or []), stored,
                       tuple(alignment), frozenset(_cls(c) for c in doc.get("tables") or []),
                       {str(k): str(v) for k, v in _obj(doc.get("unusable") or {}, "unusable").items()})


# -- logs -------------------------------------------------------------------------------------


def logs_to_doc(logs: RunLogs) -> dict[str, Any]:
    return _dc_to_doc(logs)


def _dc_to_doc(value: Any) -> Any:
    if isinstance(value, Payload):
        out: dict[str, Any] = {}
        _put_payload(out, "value", value)
        return out
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _dc_to_doc(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_dc_to_doc(v) for v in value]
    return jsonable(value)


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(tp: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Payload:
        return _get_payload(_obj(value or {}, where), "value")
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if value is None:
            return None
        inner = [a for a in args if a is not type(None)]
        return _decode(inner[0], value, where) if len(inner) == 1 else value
    if origin is tuple:
        if not isinstance(value, list):
            raise CodecError(f"{where} is not a list")
        inner = args[0] if args else Any
        return tuple(_decode(inner, v, f"{where}[{i}]") for i, v in enumerate(value))
    if dataclasses.is_dataclass(tp):
        doc = _obj(value, where)
        hints = _hints(tp)
        kwargs = {}
        for f in dataclasses.fields(tp):
            if f.name in doc:
                kwargs[f.name] = _decode(hints[f.name], doc[f.name], f"{where}.{f.name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise CodecError(f"{where}.{f.name} is missing")
        try:
            return tp(**kwargs)
        except TypeError as exc:
            raise CodecError(f"{where}: {exc}") from None
    return value


def logs_from_doc(doc: Any) -> RunLogs:
    return _decode(RunLogs, doc, "logs.json")
