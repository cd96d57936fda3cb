"""A run's evidence as the Evidence panel and ``grade`` show it, and the reasons behind its grade.

Upstream's grade and explanation (``inspector.integrity``) say *what*; the reasons here say *why*
and *what it means for an audit*, each naming the rows it is about: which class is missing, which
capture failures were recorded and whether they were superseded, where the stored resolution was
ignored, where evidence step indexes do not name trace steps (§11.6), and where the verdict
upstream stored disagrees with the one computed now. Upstream's quirks stay in the
upstream-compatible result; they are called out here (§11.14, §11.15), never silently fixed.

Pure: no database, no Qt.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from inspector.integrity import (
    EXPECTED_TABLES,
    GRADE_OF_STATUS,
    REQUIRED_EVIDENCE,
    CaptureFailure,
    EvidenceClass,
    FailureResolution,
    IntegrityFacts,
    IntegrityGrade,
    IntegrityResult,
    upstream_result,
)

__all__ = [
    "CLASS_LETTER",
    "CLASS_TITLE",
    "EvidenceReader",
    "EvidenceRow",
    "IndexAlignment",
    "Reason",
    "RowRef",
    "RunEvidence",
    "Severity",
    "StoredVerdict",
    "grade_report",
    "reasons",
    "resolution_overridden",
    "stored_differences",
]

#: The taxonomy letter of each class (spec §3.7); traces and steps are class I (observability).
CLASS_LETTER = {
    EvidenceClass.H_ENVIRONMENT: "H",
    EvidenceClass.B_ACTIVITY: "B",
    EvidenceClass.G_PROVIDER: "G",
    EvidenceClass.D_DECISION: "D",
    EvidenceClass.J_INTEGRITY: "J",
    EvidenceClass.TRACE: "I",
    EvidenceClass.TRACE_STEPS: "I",
}
CLASS_TITLE = {
    EvidenceClass.H_ENVIRONMENT: "Environment",
    EvidenceClass.B_ACTIVITY: "Activity",
    EvidenceClass.G_PROVIDER: "Provider",
    EvidenceClass.D_DECISION: "Policy decisions",
    EvidenceClass.J_INTEGRITY: "Integrity record",
    EvidenceClass.TRACE: "Trace",
    EvidenceClass.TRACE_STEPS: "Trace steps",
}

#: What the absence of each class means for an audit.
_MISSING_MEANS = {
    EvidenceClass.H_ENVIRONMENT: (
        "Nothing records how the run was executed (SDK mode, environment, telemetry, dry-run or debug), "
        "so an auditor cannot tell a production run from a test. Upstream requires it: FAIL."),
    EvidenceClass.TRACE: "There is no trace row for this run id: its execution record is absent. Required: FAIL.",
    EvidenceClass.TRACE_STEPS: "The trace has no steps: nothing shows what the run did. Required: FAIL.",
    EvidenceClass.B_ACTIVITY: (
        "No prompt or response fingerprints: the LLM and tool calls of this run cannot be matched to what was "
        "sent and received. (Upstream's taxonomy needs activity evidence only for external calls; a run of pure "
        "transforms legitimately has none.)"),
    EvidenceClass.G_PROVIDER: (
        "No provider records: token counts, latency and provider request ids cannot be checked against the "
        "provider's own logs or bill."),
    EvidenceClass.D_DECISION: (
        "No policy decisions: nothing shows which policies were evaluated for this run or what they decided."),
}


class Severity(enum.StrEnum):
    INFO = "info"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True, slots=True)
class RowRef:
    """A row a reason is about: by id, or by step index within the table for evidence rows."""

    table: str
    row_id: str | None = None
    step_index: int | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"table": self.table}
        if self.row_id is not None:
            out["id"] = self.row_id
        if self.step_index is not None:
            out["step_index"] = self.step_index
        return out


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    severity: Severity
    message: str
    meaning: str
    refs: tuple[RowRef, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "severity": self.severity.value, "message": self.message,
                "meaning": self.meaning, "refs": [r.as_json() for r in self.refs]}


@dataclass(frozen=True, slots=True)
class StoredVerdict:
    """The ``integrity_evidence`` row upstream stored for a run. Upstream keeps no grade: it is
    derived from the legacy ``integrity_status`` (VALID → PASS, DEGRADED → WARN, FAILED → FAIL)."""

    run_id: str
    integrity_status: str | None
    integrity_score: float | None
    #: None when the stored value is not a list of names (a foreign or damaged writer): unreadable.
    observed_artifacts: tuple[str, ...] | None
    missing_artifacts: tuple[str, ...] | None
    missing_reasons: Any
    verification_method: str | None
    verification_timestamp: str | None
    id: str | None = None

    @property
    def grade(self) -> IntegrityGrade | None:
        return GRADE_OF_STATUS.get(self.integrity_status or "")

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "integrity_status": self.integrity_status,
                "integrity_grade": self.grade.value if self.grade else None,
                "integrity_score": self.integrity_score,
                "observed_artifacts": None if self.observed_artifacts is None else list(self.observed_artifacts),
                "missing_artifacts": None if self.missing_artifacts is None else list(self.missing_artifacts),
                "missing_reasons": self.missing_reasons,
                "verification_method": self.verification_method,
                "verification_timestamp": self.verification_timestamp}


@dataclass(frozen=True, slots=True)
class EvidenceRow:
    """One captured evidence row: its id, its step index (B and G), and every column by name."""

    cls: EvidenceClass
    id: str | None
    step_index: int | None
    fields: tuple[tuple[str, Any], ...]

    def get(self, name: str, default: Any = None) -> Any:
        for key, value in self.fields:
            if key == name:
                return value
        return default


@dataclass(frozen=True, slots=True)
class IndexAlignment:
    """How the step indexes of one per-step evidence class (B or G) line up with the trace's."""

    cls: EvidenceClass
    evidence_count: int
    evidence_min: int | None
    evidence_max: int | None
    trace_count: int
    trace_min: int | None
    trace_max: int | None
    #: Evidence step indexes naming no trace step (the first few, ascending) and how many in all.
    unmatched: tuple[int, ...] = ()
    unmatched_count: int = 0


@dataclass(frozen=True, slots=True)
class RunEvidence:
    """Everything the Evidence panel shows for one run."""

    run_id: str
    facts: IntegrityFacts
    rows: Mapping[EvidenceClass, tuple[EvidenceRow, ...]] = field(default_factory=dict)
    #: Classes whose rows were cut at the reader's limit (their count is in ``facts.counts``).
    truncated: frozenset[EvidenceClass] = frozenset()
    stored: StoredVerdict | None = None
    alignment: tuple[IndexAlignment, ...] = ()
    #: Evidence tables the source has (a class whose table is absent reads "no table", not "none").
    tables: frozenset[EvidenceClass] = frozenset()
    #: Tables that exist but cannot be read (no SELECT, not upstream's shape), by name, with why.
    unusable: Mapping[str, str] = field(default_factory=dict)

    def count(self, cls: EvidenceClass) -> int:
        if cls is EvidenceClass.J_INTEGRITY:
            return len(self.rows.get(cls, ()))
        return int(self.facts.counts.get(cls, 0))


def _score_text(score: float | None) -> str:
    return "—" if score is None else f"{score:.3f}".rstrip("0").rstrip(".")


def stored_differences(result: IntegrityResult, stored: StoredVerdict) -> list[str]:
    """How the stored verdict differs from the computed one, one phrase per field that differs."""
    out = []
    if stored.grade is not result.grade:
        was = stored.grade.value if stored.grade else repr(stored.integrity_status)
        out.append(f"grade {was} stored, {result.grade.value} now")
    if stored.integrity_score is None or not abs(stored.integrity_score - result.score) <= 1e-9:  # NaN differs
        out.append(f"score {_score_text(stored.integrity_score)} stored, {_score_text(result.score)} now")
    now_observed = [c.value for c in result.facts.observed]
    if stored.observed_artifacts is None:
        out.append("stored observed_artifacts unreadable")
    elif sorted(stored.observed_artifacts) != sorted(now_observed):
        gained = sorted(set(now_observed) - set(stored.observed_artifacts))
        lost = sorted(set(stored.observed_artifacts) - set(now_observed))
        if gained:
            out.append("observed since: " + ", ".join(gained))
        if lost:
            out.append("no longer observed: " + ", ".join(lost))
    return out


def resolution_overridden(f: CaptureFailure) -> bool:
    """Whether upstream's gatherer overrides what the table says about this failure. The writer
    stores its default 'transient' and the gatherer upgrades it to 'superseded' when the class was
    observed: nothing is ignored there. A stored 'permanent' or 'superseded' it replaces is."""
    return (f.stored_resolution not in (None, FailureResolution.TRANSIENT.value)
            and f.stored_resolution != f.resolution.value)


def _failure_ref(f: CaptureFailure) -> RowRef:
    return RowRef("evidence_capture_failures", f.id)


def _failure_text(f: CaptureFailure) -> str:
    text = f"{f.evidence_type or '(no type)'}: {f.failure_reason or '(no reason)'}"
    if f.error_message:
        message = f.error_message if len(f.error_message) <= 120 else f.error_message[:117] + "…"
        text += f" ({message})"
    return text


def _unusable_means(table: str) -> str:
    what = {
        EvidenceClass.J_INTEGRITY.value: "no stored verdict can be compared with the grade computed now.",
        "evidence_capture_failures": "any capture failures recorded for the run are not seen, so the grade may "
                                     "be better than upstream's own.",
    }.get(table, "the grade treats that class as missing although its evidence may well exist.")
    return ("Upstream's gatherer counts a table its query fails on as empty, and so does this grade: "
            f"{what} Ask for SELECT on the table, or check the schema, before relying on this grade.")


def reasons(result: IntegrityResult, *, stored: StoredVerdict | None = None, has_j: bool | None = None,
            alignment: Sequence[IndexAlignment] = (), unusable: Mapping[str, str] | None = None) -> list[Reason]:
    """Our reason codes for a graded run, most severe first within upstream's evaluation order.

    ``has_j``: whether an ``integrity_evidence`` row exists (None: unknown, e.g. table absent).
    ``unusable``: tables that exist but could not be read, with why (counted as empty, §4)."""
    facts = result.facts
    unusable = unusable or {}
    out: list[Reason] = []
    failures_of = {c: [f for f in facts.failures if f.evidence_class is c] for c in EXPECTED_TABLES}
    for table, why in unusable.items():
        out.append(Reason("TABLE_UNREADABLE", Severity.WARN, f"Table {table} exists but cannot be read: {why}",
                          _unusable_means(table)))
    for cls in facts.missing:
        required = cls in REQUIRED_EVIDENCE
        refs = tuple(_failure_ref(f) for f in failures_of.get(cls, ()))
        why = failures_of.get(cls)
        if why:
            cause = f"; capture failed: {why[0].failure_reason}"
        elif cls.value in unusable:
            cause = "; its table cannot be read, so it counts as empty"
        else:
            cause = "; no records found"
        if required:
            out.append(Reason("REQUIRED_MISSING", Severity.FAIL,
                              f"Required {CLASS_TITLE[cls].lower()} evidence is missing ({cls.value}){cause}",
                              _MISSING_MEANS[cls], refs))
        else:
            sev = Severity.INFO if result.grade is IntegrityGrade.PASS else Severity.WARN
            out.append(Reason("EXPECTED_MISSING", sev,
                              f"No {CLASS_TITLE[cls].lower()} evidence ({cls.value}){cause}",
                              _MISSING_MEANS[cls], refs))
    if result.grade is IntegrityGrade.PASS and facts.missing:
        out.append(Reason(
            "PASS_DESPITE_MISSING", Severity.INFO,
            f"Upstream says \"{result.explanation}\" although {', '.join(c.value for c in facts.missing)} "
            "is missing",
            "Upstream grades 5 of 6 classes PASS and its PASS text always says \"All evidence present\" "
            "even when a class is missing. Read the count, not the words."))
    for f in facts.failures:
        if f.resolution is FailureResolution.SUPERSEDED:
            n = facts.counts.get(f.evidence_class, 0)
            out.append(Reason(
                "FAILURE_SUPERSEDED", Severity.WARN,
                f"Capture failure superseded: {_failure_text(f)}; {f.evidence_class.value} was recorded later "
                f"({n} row{'s' if n != 1 else ''})",
                "The evidence exists, so nothing is lost; but upstream still grades any recorded failure WARN, "
                "superseded or not.",
                (_failure_ref(f),)))
        else:
            out.append(Reason(
                "CAPTURE_FAILURE", Severity.WARN,
                f"Capture failure: {_failure_text(f)}",
                f"The writer tried to record {f.evidence_class.value} for this run and failed; that class has "
                "no rows, and the failure makes the grade at best WARN.",
                (_failure_ref(f),)))
        if f.evidence_type is not None and f.evidence_type != f.evidence_class.value:
            out.append(Reason(
                "UNKNOWN_EVIDENCE_TYPE", Severity.INFO,
                f"Capture failure names an unknown evidence type {f.evidence_type!r}; upstream counts it as "
                f"{f.evidence_class.value}",
                "Whether it is superseded depends on activity evidence, not on the class it meant.",
                (_failure_ref(f),)))
        if resolution_overridden(f):
            out.append(Reason(
                "STORED_RESOLUTION_IGNORED", Severity.INFO,
                f"Stored resolution '{f.stored_resolution}' ignored; upstream treats it as '{f.resolution.value}'",
                "Upstream's gatherer never reads the resolution column, so its \"permanent failure → FAIL\" rule "
                "never fires.",
                (_failure_ref(f),)))
    if stored is not None:
        diffs = stored_differences(result, stored)
        if diffs:
            when = f" on {stored.verification_timestamp}" if stored.verification_timestamp else ""
            out.append(Reason(
                "STORED_VERDICT_DIFFERS", Severity.WARN,
                f"Upstream stored {stored.integrity_status or '—'} (score {_score_text(stored.integrity_score)}){when}; "
                f"computed now: {result.status} ({_score_text(result.score)}): " + "; ".join(diffs),
                "Evidence or failures were written after the run was sealed, or the seal was computed on a "
                "separate connection that could not see evidence not yet committed. The grade "
                "shown is the one computed now.",
                (RowRef("integrity_evidence", stored.id),)))
    elif has_j is False:
        out.append(Reason(
            "NO_INTEGRITY_RECORD", Severity.INFO,
            "No integrity record (integrity_evidence) was stored for this run",
            "Upstream seals a run once, at its terminal state; a run without a seal was never finished or its "
            "seal failed. The grade shown is computed now from the evidence tables."))
    for a in alignment:
        if a.evidence_count == 0 or a.unmatched_count == 0:
            continue
        trace = (f"trace steps {a.trace_min}–{a.trace_max}" if a.trace_count else "no trace steps")
        shifted = (a.trace_count and a.evidence_min is not None and a.trace_min is not None
                   and a.evidence_min == a.trace_min + 1)
        meaning = ("Evidence step indexes come from upstream's ExecutionCursor: 1-based and advanced on every "
                   "attempt, retries included. They do not name trace steps: match evidence to "
                   "steps by order and skill, not by index.")
        if shifted:
            meaning = "Evidence indexes start one above the trace's. " + meaning
        out.append(Reason(
            "STEP_INDEX_MISMATCH", Severity.INFO,
            f"{a.unmatched_count} of {a.evidence_count} {a.cls.value} rows have a step index with no trace step "
            f"(evidence {a.evidence_min}–{a.evidence_max}, {trace})",
            meaning,
            tuple(RowRef(a.cls.value, step_index=i) for i in a.unmatched)))
    order = {Severity.FAIL: 0, Severity.WARN: 1, Severity.INFO: 2}
    return sorted(out, key=lambda r: order[r.severity])


def grade_report(result: IntegrityResult, *, stored: StoredVerdict | None = None,
                 reason_list: Sequence[Reason] = ()) -> dict[str, Any]:
    """One run's ``grade --json`` object: ``run_id``, upstream's ``compute_integrity_v2`` keys with
    upstream's values, then ours (``reasons``, and ``stored`` when upstream stored a verdict)."""
    out: dict[str, Any] = {"run_id": result.run_id}
    out.update(upstream_result(result))
    out["reasons"] = [r.as_json() for r in reason_list]
    if stored is not None:
        out["stored"] = stored.as_json()
        out["stored_agrees"] = not stored_differences(result, stored)
    return out


@runtime_checkable
class EvidenceReader(Protocol):
    """The evidence tables of a source (the port ``TraceSource.evidence()`` returns): what grading,
    the Evidence panel and ``grade`` read. Every method may raise
    :class:`inspector.errors.SourceError`; a table that exists but cannot be read counts as empty
    (``unusable`` says why), as upstream's gatherer counts a table its query fails on."""

    #: The evidence tables that can be read (by table name).
    tables: frozenset[str]
    #: Tables that exist but cannot be read, by name, with why.
    unusable: Mapping[str, str]
    #: Rows per class ``run_evidence`` reads at most (a card says when its rows were cut).
    row_limit: int

    @property
    def has_store(self) -> bool:
        """Whether the source has any evidence table at all (else: "no evidence store", which is
        not a FAIL)."""
        ...

    def facts_for_runs(self, run_ids: Sequence[str]) -> dict[str, IntegrityFacts]:
        """Upstream's facts for every run, from grouped counts."""
        ...

    def grade_runs(self, run_ids: Sequence[str], *, progress: Callable[[int, int], None] | None = None,
                   cancelled: Callable[[], bool] | None = None) -> dict[str, IntegrityResult]:
        """Grade many runs a chunk at a time; stops between chunks once ``cancelled()``."""
        ...

    def stored_verdicts(self, run_ids: Sequence[str]) -> dict[str, StoredVerdict]:
        """The verdicts upstream stored in ``integrity_evidence``, by run id."""
        ...

    def run_evidence(self, run_id: str) -> RunEvidence:
        """One run's rows per class, facts, stored verdict and step-index alignment."""
        ...
