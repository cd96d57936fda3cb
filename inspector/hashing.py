"""Every hash convention AOS uses, exactly as upstream computes it (spec §1.7, §1.8, §6).

They disagree with each other on purpose-less details (§11.9): separators, prefix lengths, which
fields are covered. Each function here names the convention it reproduces; none of them is
"fixed". Pure: no database, no Qt.

| Convention | Serialisation | Digest |
|---|---|---|
| step determinism hash (``TraceStep.determinism_hash``) | 7 fields, floats rounded to 6, ``params`` as its own sort_keys JSON text, then sort_keys JSON, default separators | sha256, 16 hex |
| trace signature (``determinism_signature``) | step hashes joined by ``:`` | sha256, 32 hex |
| replay ``hash_output`` | sort_keys JSON, default separators, ``default=str``; None → ``null`` | sha256, 16 hex |
| idempotency ``canonical_json`` / ``hash_request`` | sort_keys JSON, compact, ``default=str`` | sha256, 64 hex |
| SDK ``hash_data`` | as ``canonical_json`` | sha256, 16 hex |
| SDK step deterministic hash | ``canonical_json`` of 8 keys | sha256, 64 hex |
| SDK ``root_hash`` | ``sha256("{seed}:{timestamp}:{tenant}")`` chained with ``"{h}:{step hash}"`` | sha256, 64 hex |
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DETERMINISM_FIELDS",
    "EMPTY_SIGNATURE",
    "SDK_STEP_FIELDS",
    "ParityResult",
    "TraceStatus",
    "canonical_json",
    "compare_traces",
    "determinism_canonical",
    "determinism_signature",
    "diff_traces_summary",
    "hash_data",
    "hash_output",
    "hash_request",
    "round_floats",
    "sdk_diff_traces",
    "sdk_idempotency_key",
    "sdk_root_hash",
    "sdk_step_hash",
    "status_text",
    "step_determinism_hash",
]

#: The fields ``TraceStep.determinism_hash`` covers (outcome_data, cost, duration, timestamp are not).
DETERMINISM_FIELDS = ("step_index", "skill_name", "params", "status", "outcome_category", "outcome_code",
                      "retry_count")
#: The fields the SDK's step deterministic hash covers.
SDK_STEP_FIELDS = ("step_index", "skill_id", "input_hash", "output_hash", "rng_state_before", "outcome",
                   "idempotency_key", "replay_behavior")
#: The signature of a trace without steps: sha256 of the empty string, 32 hex.
EMPTY_SIGNATURE = "e3b0c44298fc1c149afbf4c8996fb924"


class TraceStatus(str, enum.Enum):
    """Upstream's ``TraceStatus(str, Enum)``. On Python ≥ 3.11 ``f"{TraceStatus.SUCCESS}"`` renders
    ``TraceStatus.SUCCESS`` (3.10 rendered ``success``): upstream's reason text carries that."""

    SUCCESS = "success"
    FAILURE = "failure"
    RETRY = "retry"
    SKIPPED = "skipped"


_STATUS_BY_VALUE = {s.value: s for s in TraceStatus}


def status_text(status: Any, *, python: tuple[int, int] = (3, 11)) -> str:
    """How upstream's f-string renders a step status in ``compare_traces`` reasons: the enum's
    qualified name on Python ≥ 3.11 for a TraceStatus value, the raw value otherwise."""
    value = status.value if isinstance(status, enum.Enum) else status
    member = _STATUS_BY_VALUE.get(value) if isinstance(value, str) else None
    if member is not None and python >= (3, 11):
        return f"TraceStatus.{member.name}"
    return str(value)


def round_floats(value: Any, ndigits: int = 6) -> Any:
    """Every float rounded, dicts and lists walked (bools and ints untouched), as upstream does."""
    if isinstance(value, float):
        return round(value, ndigits)
    if isinstance(value, Mapping):
        return {k: round_floats(v, ndigits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [round_floats(v, ndigits) for v in value]
    return value


def _status_value(status: Any) -> Any:
    return status.value if isinstance(status, enum.Enum) else status


def determinism_canonical(step: Mapping[str, Any]) -> str:
    """The exact text ``TraceStep.determinism_hash`` hashes (spec §1.7 gives one as a vector)."""
    d = {k: step.get(k) for k in DETERMINISM_FIELDS}
    d["status"] = _status_value(d["status"])
    d = round_floats(d)
    d["params"] = json.dumps(d["params"], sort_keys=True)
    return json.dumps(d, sort_keys=True)


def step_determinism_hash(step: Mapping[str, Any]) -> str:
    """``TraceStep.determinism_hash()``: 16 hex."""
    return hashlib.sha256(determinism_canonical(step).encode()).hexdigest()[:16]


def determinism_signature(step_hashes: Sequence[str]) -> str:
    """``TraceRecord.determinism_signature()`` from the step hashes in list order: 32 hex."""
    return hashlib.sha256(":".join(step_hashes).encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class ParityResult:
    """Upstream's ``ParityResult``; ``divergence_step`` is a position in ``zip`` order (the n-th
    step of each list), not a ``step_index``."""

    is_parity: bool
    original_signature: str
    replay_signature: str
    divergence_step: int | None = None
    divergence_reason: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {"is_parity": self.is_parity, "original_signature": self.original_signature,
                "replay_signature": self.replay_signature, "divergence_step": self.divergence_step,
                "divergence_reason": self.divergence_reason}


def _params_json(params: Any) -> str:
    return json.dumps(params, sort_keys=True)


def compare_traces(original: Sequence[Mapping[str, Any]], replay: Sequence[Mapping[str, Any]], *,
                   python: tuple[int, int] = (3, 11),
                   original_hashes: Sequence[str] | None = None,
                   replay_hashes: Sequence[str] | None = None) -> ParityResult:
    """Upstream's ``compare_traces`` over two step lists (dicts with the determinism fields), with
    its reason strings. Step hashes may be passed in when already computed."""
    oh = list(original_hashes) if original_hashes is not None else [step_determinism_hash(s) for s in original]
    rh = list(replay_hashes) if replay_hashes is not None else [step_determinism_hash(s) for s in replay]
    osig, rsig = determinism_signature(oh), determinism_signature(rh)
    if osig == rsig:
        return ParityResult(True, osig, rsig)
    for i, (o, r) in enumerate(zip(original, replay, strict=False)):
        if oh[i] == rh[i]:
            continue
        reasons = []
        if o.get("skill_name") != r.get("skill_name"):
            reasons.append(f"skill: {o.get('skill_name')} vs {r.get('skill_name')}")
        if _status_value(o.get("status")) != _status_value(r.get("status")):
            reasons.append(f"status: {status_text(o.get('status'), python=python)} vs "
                           f"{status_text(r.get('status'), python=python)}")
        if o.get("retry_count") != r.get("retry_count"):
            reasons.append(f"retries: {o.get('retry_count')} vs {r.get('retry_count')}")
        if _params_json(o.get("params")) != _params_json(r.get("params")):
            reasons.append("params differ")
        return ParityResult(False, osig, rsig, i, "; ".join(reasons) if reasons else "hash mismatch")
    if len(original) != len(replay):
        n = min(len(original), len(replay))
        return ParityResult(False, osig, rsig, n, f"step count: {len(original)} vs {len(replay)}")
    return ParityResult(False, osig, rsig, None, "unknown divergence")


def hash_output(data: Any) -> str:
    """Replay enforcement's ``hash_output``: default separators (unlike the SDK), 16 hex."""
    if data is None:
        return hashlib.sha256(b"null").hexdigest()[:16]
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def canonical_json(obj: Any) -> str:
    """The idempotency driver's and the SDK's canonical JSON: sorted keys, compact, ``default=str``."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def hash_request(data: Any) -> str:
    """Idempotency ``hash_request``: 64 hex."""
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()


def hash_data(data: Any) -> str:
    """SDK ``hash_data`` (input/output hashes of SDK traces): 16 hex."""
    return hashlib.sha256(canonical_json(data).encode()).hexdigest()[:16]


def sdk_step_hash(step: Mapping[str, Any]) -> str:
    """SDK ``TraceStep.deterministic_hash()``: 64 hex over the 8 deterministic keys
    (an absent ``replay_behavior`` reads ``execute``, as the SDK's ``from_dict`` does)."""
    payload = {k: step.get(k) for k in SDK_STEP_FIELDS}
    if "replay_behavior" not in step:
        payload["replay_behavior"] = "execute"
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def sdk_root_hash(seed: Any, timestamp: Any, tenant_id: Any, steps: Sequence[Mapping[str, Any]]) -> str:
    """SDK ``Trace._compute_root_hash()``: 64 hex."""
    h = hashlib.sha256(f"{seed}:{timestamp}:{tenant_id}".encode()).hexdigest()
    for step in steps:
        h = hashlib.sha256(f"{h}:{sdk_step_hash(step)}".encode()).hexdigest()
    return h


def sdk_idempotency_key(run_id: str, step_index: int, skill_id: str, input_hash: str,
                        tenant_id: str | None = None) -> str:
    """The SDK's idempotency key: ``"{tenant}:"`` + 32 hex (no prefix without a tenant)."""
    digest = hashlib.sha256(f"{run_id}:{step_index}:{skill_id}:{input_hash}".encode()).hexdigest()[:32]
    return f"{tenant_id}:{digest}" if tenant_id else digest


def diff_traces_summary(fields: Sequence[str]) -> str:
    """The SDK's and the trace API's summary text for a list of differing field names."""
    if not fields:
        return "Traces are deterministically identical"
    text = f"Traces differ in {len(fields)} field(s): {', '.join(fields[:3])}"
    if len(fields) > 3:
        text += f" and {len(fields) - 3} more"
    return text


def sdk_diff_traces(t1: Mapping[str, Any], t2: Mapping[str, Any]) -> dict[str, Any]:
    """SDK ``diff_traces`` over two SDK v1.1 trace dicts: ``{match, differences, summary}``."""
    diffs: list[dict[str, Any]] = []

    def check(name: str, a: Any, b: Any) -> None:
        if a != b:
            diffs.append({"field": name, "trace1": a, "trace2": b})

    check("seed", t1.get("seed"), t2.get("seed"))
    check("timestamp", t1.get("timestamp"), t2.get("timestamp"))
    check("tenant_id", t1.get("tenant_id", "default"), t2.get("tenant_id", "default"))  # from_dict's default
    s1, s2 = list(t1.get("steps") or []), list(t2.get("steps") or [])
    check("step_count", len(s1), len(s2))
    for i, (a, b) in enumerate(zip(s1, s2, strict=False)):
        for key, name in (("skill_id", "skill_id"), ("input_hash", "input_hash"), ("output_hash", "output_hash"),
                          ("rng_state_before", "rng_state"), ("outcome", "outcome")):
            check(f"step[{i}].{name}", a.get(key), b.get(key))
    check("root_hash", t1.get("root_hash"), t2.get("root_hash"))
    return {"match": not diffs, "differences": diffs, "summary": diff_traces_summary([d["field"] for d in diffs])}
