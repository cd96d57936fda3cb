"""One-run JSON sources: a ``TraceRecord`` document (``golden_trace.json``) or an SDK v1.1
``*.trace.json`` file (spec §1.7, §1.8), read into an in-memory source."""

from __future__ import annotations

import json
import os
from pathlib import Path

from drivers.paths import open_regular
from inspector.errors import NotATraceSource, SourceNotFound
from inspector.aos_bundles import check_content_hash, unwrap
from inspector.model import Payload, RunRecord, RunSummary, SourceInfo, Step, StepRow
from inspector.records import detect_shape, sdk_trace_from_dict, trace_record_from_dict
from inspector.source import Capability, MemorySource

__all__ = ["open_json_trace"]


def _run_id_from_name(path: Path) -> str:
    name = path.name
    for suffix in (".trace.json", ".json"):
        if name.endswith(suffix):
            return name[: -len(suffix)] or name
    return name


def open_json_trace(path: str | os.PathLike[str]) -> MemorySource:
    path = Path(path).expanduser().resolve()
    location = str(path)
    try:
        with open_regular(path) as fh:  # a FIFO, a device or a folder is refused in its own words
            raw = fh.read()
    except OSError as exc:
        raise SourceNotFound(f"cannot be read: {exc.strerror or exc}", location=location) from None
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise NotATraceSource(f"is not UTF-8 text ({exc.reason} at byte {exc.start})", location=location) from None
    except json.JSONDecodeError as exc:
        raise NotATraceSource(
            f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}", location=location
        ) from None
    except RecursionError:
        raise NotATraceSource("is JSON nested too deeply to read", location=location) from None
    except ValueError as exc:  # an integer beyond sys.get_int_max_str_digits()
        raise NotATraceSource(f"is JSON that cannot be read: {exc}", location=location) from None
    aos = unwrap(doc)
    if aos is not None:
        return _aos_bundle_source(aos[0], aos[1], path)
    shape = detect_shape(doc)
    if shape == "trace_record":
        record, steps = trace_record_from_dict(doc, location)
        kind = "trace record JSON"
    elif shape == "sdk_trace":
        record, steps = sdk_trace_from_dict(doc, location, _run_id_from_name(path))
        kind = f"SDK trace v{record.schema_version}"
    else:
        raise NotATraceSource(
            "is JSON but not an AOS trace: expected a trace record (run_id, correlation_id, tenant_id, "
            "plan, steps, started_at, status) or an SDK trace (version, seed, timestamp, plan, steps)",
            location=location,
        )
    info = SourceInfo(
        location=location,
        kind=kind,
        display_name=path.name,
        capabilities=frozenset({Capability.RUNS, Capability.STEPS}),
        notes=("SDK traces carry hashes, not payloads",) if shape == "sdk_trace" else (),
    )
    return MemorySource(info, [record], {record.summary.run_id: steps})


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _aos_bundle_source(bundle: dict, kind: str, path: Path) -> MemorySource:
    """AOS's own bundle JSON (spec §8.3), read-only: its run and steps as upstream put them, and
    its ``content_hash`` recomputed as §8.2 says (match / mismatch / absent) in the notes."""
    location = str(path)
    check = check_content_hash(bundle)
    run_id = _text(bundle.get("run_id")) or "N/A"
    steps_doc = bundle.get("steps") if isinstance(bundle.get("steps"), list) else []
    steps = []
    for i, s in enumerate(steps_doc):
        if not isinstance(s, dict):
            continue
        index = s.get("step_index")
        row = StepRow(row_id=None, run_id=run_id,
                      step_index=index if isinstance(index, int) and not isinstance(index, bool) else i,
                      skill_name=_text(s.get("step_type")), status_raw=_text(s.get("status")),
                      outcome_category="VIOLATION" if s.get("is_inflection") else None, outcome_code=None,
                      cost_cents=_number(s.get("cost_cents")), duration_ms=_number(s.get("duration_ms")),
                      retry_count=None, timestamp=_text(s.get("timestamp")), trace_id=_text(bundle.get("trace_id")))
        steps.append(Step(row, Payload.from_value({k: v for k, v in s.items()}), Payload(None)))
    summary = RunSummary(run_id, None, _text(bundle.get("tenant_id")), _text(bundle.get("agent_id")),
                         _text(bundle.get("termination_reason")), _text(bundle.get("run_started_at")),
                         _text(bundle.get("run_completed_at")), trace_id=_text(bundle.get("trace_id")))
    meta = {k: v for k, v in bundle.items() if k != "steps"}
    record = RunRecord(summary, Payload(None), Payload.from_value(meta))
    word = {"match": "matches", "mismatch": "DOES NOT MATCH", "absent": "absent"}[check.state]
    note = f"AOS {kind} bundle {bundle.get('bundle_id')}: content_hash {word}"
    if check.state == "mismatch" and check.computed:
        note += f" (stored {check.stored}, recomputed {check.computed})"
    notes = [note + (f"; {check.note}" if check.note else ""),
             "AOS bundles carry no signature and no format version"]
    info = SourceInfo(location=location, kind=f"AOS {kind} bundle JSON", display_name=path.name,
                      capabilities=frozenset({Capability.RUNS, Capability.STEPS}), notes=tuple(notes))
    source = MemorySource(info, [record], {run_id: steps})
    source.content_hash_check = check  # type: ignore[attr-defined]
    return source
