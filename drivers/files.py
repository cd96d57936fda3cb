"""One-run JSON sources: a ``TraceRecord`` document (``golden_trace.json``) or an SDK v1.1
``*.trace.json`` file (spec §1.7, §1.8), read into an in-memory source."""

from __future__ import annotations

import json
import os
from pathlib import Path

from inspector.errors import NotATraceSource, SourceNotFound
from inspector.model import SourceInfo
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
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SourceNotFound("no such file", location=location) from None
    except IsADirectoryError:
        raise SourceNotFound("is a folder, not a trace file", location=location) from None
    except PermissionError:
        raise SourceNotFound("permission denied: the file cannot be read", location=location) from None
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
