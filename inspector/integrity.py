"""Integrity grading of a run's evidence, exactly as upstream computes it (spec §4), as pure
functions of the assembled facts: counts per evidence table and the capture failures stored.

``assemble`` turns what a reader found into :class:`IntegrityFacts` the way upstream's gatherer
does (the stored ``resolution`` ignored, every failure ``transient``, unknown evidence types read as
``activity_evidence``, a failure whose class was observed ``superseded``); ``evaluate`` grades
them in upstream's order; ``compute_integrity_v2`` gives upstream's result dict, keys and values
as upstream returns them. Upstream's quirks are reproduced here, not fixed (§11.14): the reasons
that explain them live beside this module, never inside the upstream-compatible result.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EXPECTED_EVIDENCE",
    "EXPECTED_TABLES",
    "GRADE_OF_STATUS",
    "LEGACY_STATUS",
    "REQUIRED_EVIDENCE",
    "assemble",
    "CaptureFailure",
    "compute_integrity_v2",
    "evaluate",
    "EvidenceClass",
    "FailureResolution",
    "IntegrityFacts",
    "IntegrityGrade",
    "IntegrityResult",
    "IntegrityState",
    "missing_reasons",
    "run_proof_hash",
    "upstream_result",
]


class IntegrityState(enum.StrEnum):
    PENDING = "PENDING"
    SEALED = "SEALED"


class IntegrityGrade(enum.StrEnum):
    PASS = "PASS"
    WARN = "WARN"
    FAIL = "FAIL"


class EvidenceClass(enum.StrEnum):
    """Evidence classes; the value is the table that holds them (enum order matters: it is the
    order of ``expected_artifacts``)."""

    B_ACTIVITY = "activity_evidence"
    D_DECISION = "policy_decisions"
    G_PROVIDER = "provider_evidence"
    H_ENVIRONMENT = "environment_evidence"
    J_INTEGRITY = "integrity_evidence"
    TRACE = "aos_traces"
    TRACE_STEPS = "aos_trace_steps"


class FailureResolution(enum.StrEnum):
    TRANSIENT = "transient"
    PERMANENT = "permanent"
    SUPERSEDED = "superseded"


#: The legacy status upstream stores in ``integrity_evidence.integrity_status``.
LEGACY_STATUS = {IntegrityGrade.PASS: "VALID", IntegrityGrade.WARN: "DEGRADED", IntegrityGrade.FAIL: "FAILED"}
GRADE_OF_STATUS = {v: k for k, v in LEGACY_STATUS.items()}

REQUIRED_EVIDENCE = (EvidenceClass.H_ENVIRONMENT, EvidenceClass.TRACE, EvidenceClass.TRACE_STEPS)
#: Declared upstream, not used in grading.
EXPECTED_EVIDENCE = (EvidenceClass.B_ACTIVITY, EvidenceClass.G_PROVIDER, EvidenceClass.D_DECISION)
#: The tables scanned, in scan order; their number is the score's denominator.
EXPECTED_TABLES = (
    EvidenceClass.H_ENVIRONMENT,
    EvidenceClass.B_ACTIVITY,
    EvidenceClass.G_PROVIDER,
    EvidenceClass.D_DECISION,
    EvidenceClass.TRACE,
    EvidenceClass.TRACE_STEPS,
)
_BY_VALUE = {c.value: c for c in EvidenceClass}


@dataclass(frozen=True, slots=True)
class CaptureFailure:
    """An ``evidence_capture_failures`` row as stored (``stored_resolution`` is what the table
    says; upstream ignores it) with the resolution upstream's gatherer assigns."""

    evidence_type: str | None
    failure_reason: str | None
    error_message: str | None
    resolution: FailureResolution = FailureResolution.TRANSIENT
    stored_resolution: str | None = None
    id: str | None = None

    @property
    def evidence_class(self) -> EvidenceClass:
        """Upstream maps an evidence type it does not know to ``activity_evidence``."""
        return _BY_VALUE.get(self.evidence_type or "", EvidenceClass.B_ACTIVITY)

    def as_upstream(self) -> dict[str, Any]:
        return {"evidence_type": self.evidence_class.value, "failure_reason": self.failure_reason,
                "error_message": self.error_message, "resolution": self.resolution.value}


@dataclass(frozen=True, slots=True)
class IntegrityFacts:
    """What was found for one run: which tables have rows (in scan order) and its failures."""

    run_id: str
    observed: tuple[EvidenceClass, ...]
    missing: tuple[EvidenceClass, ...]
    failures: tuple[CaptureFailure, ...] = ()
    counts: Mapping[EvidenceClass, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IntegrityResult:
    run_id: str
    grade: IntegrityGrade
    score: float
    explanation: str
    facts: IntegrityFacts
    state: IntegrityState = IntegrityState.SEALED

    @property
    def status(self) -> str:
        return LEGACY_STATUS[self.grade]


def assemble(run_id: str, counts: Mapping[str | EvidenceClass, int | None],
             failures: Iterable[CaptureFailure] = ()) -> IntegrityFacts:
    """Upstream's gatherer over counts already read: a table with a positive count is observed,
    anything else (zero, absent, unreadable: upstream counts an SQL error as 0) is missing."""
    by_class = {EvidenceClass(k) if not isinstance(k, EvidenceClass) else k: int(v or 0) for k, v in counts.items()}
    observed = tuple(c for c in EXPECTED_TABLES if by_class.get(c, 0) > 0)
    missing = tuple(c for c in EXPECTED_TABLES if c not in observed)
    assigned = []
    for f in failures:
        resolution = FailureResolution.SUPERSEDED if f.evidence_class in observed else FailureResolution.TRANSIENT
        assigned.append(CaptureFailure(f.evidence_type, f.failure_reason, f.error_message, resolution,
                                       f.stored_resolution, f.id))
    return IntegrityFacts(run_id, observed, missing, tuple(assigned), {c: by_class.get(c, 0) for c in EXPECTED_TABLES})


def evaluate(facts: IntegrityFacts) -> IntegrityResult:
    """Upstream's evaluation, in its order (§4)."""
    n_observed = len(facts.observed)
    score = n_observed / len(EXPECTED_TABLES)
    failures = facts.failures
    missing_required = [c for c in EXPECTED_TABLES if c in REQUIRED_EVIDENCE and c in facts.missing]
    if missing_required:
        grade = IntegrityGrade.FAIL
    elif any(f.resolution is FailureResolution.PERMANENT for f in failures):
        grade = IntegrityGrade.FAIL  # unreachable from stored data: the gatherer never says permanent
    elif failures:
        grade = IntegrityGrade.WARN  # superseded failures count too
    elif score >= 0.8:
        grade = IntegrityGrade.PASS
    elif score >= 0.5:
        grade = IntegrityGrade.WARN
    else:
        grade = IntegrityGrade.FAIL
    if grade is IntegrityGrade.PASS:
        explanation = f"All evidence present ({n_observed}/6)"
    elif grade is IntegrityGrade.WARN:
        parts = []
        if n_observed < 6:
            parts.append(f"{6 - n_observed} evidence types missing")
        if failures:
            parts.append(f"{len(failures)} capture failures recorded")
        explanation = "; ".join(parts)
    else:
        explanation = "Critical evidence missing: " + ", ".join(c.value for c in missing_required)
    return IntegrityResult(facts.run_id, grade, score, explanation, facts)


def missing_reasons(facts: IntegrityFacts) -> dict[str, Any]:
    """Per missing class the reason of its first failure, else ``no_records_found``; plus
    ``_capture_failures``: the failures not superseded."""
    out: dict[str, Any] = {}
    for cls in facts.missing:
        first = next((f for f in facts.failures if f.evidence_class is cls), None)
        out[cls.value] = first.failure_reason if first is not None else "no_records_found"
    out["_capture_failures"] = [f.as_upstream() for f in facts.failures
                                if f.resolution is not FailureResolution.SUPERSEDED]
    return out


def compute_integrity_v2(facts: IntegrityFacts) -> dict[str, Any]:
    """Upstream's ``compute_integrity_v2`` result: its keys, in its order, with its values."""
    return upstream_result(evaluate(facts))


def upstream_result(result: IntegrityResult) -> dict[str, Any]:
    """``compute_integrity_v2``'s dict for a result already evaluated."""
    facts = result.facts
    return {
        "expected_artifacts": [c.value for c in EvidenceClass if c is not EvidenceClass.J_INTEGRITY],
        "observed_artifacts": [c.value for c in facts.observed],
        "missing_artifacts": [c.value for c in facts.missing],
        "missing_reasons": missing_reasons(facts),
        "capture_failures": [f.as_upstream() for f in facts.failures],
        "integrity_score": result.score,
        "integrity_status": result.status,
        "integrity_state": result.state.value,
        "integrity_grade": result.grade.value,
        "explanation": result.explanation,
    }


def run_proof_hash(run_id: str, steps: Sequence[tuple[Any, Any, Any]]) -> str:
    """Upstream's run-proof ``HASH_CHAIN`` digest: sha256 over the run id, then
    ``"{step_index}:{skill_name}:{status}"`` of each step, with no separator between steps."""
    h = hashlib.sha256(str(run_id).encode())
    for step_index, skill_name, status in steps:
        h.update(f"{step_index}:{skill_name}:{status}".encode())
    return h.hexdigest()
