"""Grading runs by their evidence (spec §3.7, §4): one run with every reason behind its grade, or
every run id of a filter a block of grouped counts at a time. ``trace-inspector grade``, the
Evidence panel, the runs list's Grade column and the status bar's distribution all grade here.

A runs list of 100,000 runs keeps one small shared :class:`GradeInfo` per distinct verdict (a few
dozen at most), not an :class:`~inspector.integrity.IntegrityResult` per run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from inspector.errors import RunNotFound
from inspector.evidence import (
    EvidenceReader,
    Reason,
    RunEvidence,
    StoredVerdict,
    grade_report,
    reasons,
    stored_differences,
)
from inspector.integrity import (
    EXPECTED_TABLES,
    EvidenceClass,
    IntegrityGrade,
    IntegrityResult,
    evaluate,
)
from inspector.model import RunFilter
from inspector.source import TraceSource

__all__ = [
    "GRADE_ORDER",
    "FilterGrading",
    "GradeDistribution",
    "GradeInfo",
    "GradedRun",
    "RunGrade",
    "grade_distribution",
    "grade_info",
    "grade_one",
    "grade_run",
    "grades_of",
]

#: The order grades are listed in (best first, as the status bar reads).
GRADE_ORDER = (IntegrityGrade.PASS, IntegrityGrade.WARN, IntegrityGrade.FAIL)
#: Runs graded per block in the window's job. Small, so a Cancel is seen within about a thousand
#: runs (the reader checks it only between its own chunks: 5,000 runs on Postgres, 0.3–0.9 s on
#: the 100k-run benchmark database against ~25 ms at 1,000) and few full results are alive at once;
#: grading all 100k took the same time either way.
_JOB_BATCH = 1_000


# -- one run ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunGrade:
    """One run graded from its evidence rows: upstream's verdict, our reasons (the step-index
    alignment of §11.6 and whether an integrity record was stored included) and how the verdict
    upstream stored differs from the one computed now."""

    evidence: RunEvidence
    result: IntegrityResult
    reasons: tuple[Reason, ...]
    differences: tuple[str, ...]

    @property
    def run_id(self) -> str:
        return self.evidence.run_id

    @property
    def stored(self) -> StoredVerdict | None:
        return self.evidence.stored

    def report(self) -> dict[str, Any]:
        """The ``grade --json`` object of the run."""
        return grade_report(self.result, stored=self.stored, reason_list=self.reasons)


def _has_integrity_record(tables: frozenset[EvidenceClass], rows: Sequence[Any] | None) -> bool | None:
    """Whether upstream stored an integrity record (None: the source has no such table)."""
    return bool(rows) if EvidenceClass.J_INTEGRITY in tables else None


def grade_run(reader: EvidenceReader, run_id: str) -> RunGrade:
    """Read one run's evidence and work out its verdict and reasons (worker side)."""
    ev = reader.run_evidence(run_id)
    result = evaluate(ev.facts)
    has_j = _has_integrity_record(ev.tables, ev.rows.get(EvidenceClass.J_INTEGRITY))
    found = reasons(result, stored=ev.stored, has_j=has_j, alignment=ev.alignment, unusable=ev.unusable)
    diffs = stored_differences(result, ev.stored) if ev.stored is not None else []
    return RunGrade(ev, result, tuple(found), tuple(diffs))


def grade_one(source: TraceSource, reader: EvidenceReader, key: str) -> RunGrade:
    """The run ``key`` names (a run id, or on Postgres a trace id: its run is graded, every trace
    of it counting). A run id with evidence but no trace is graded (FAIL: its trace is missing);
    one with neither raises :class:`RunNotFound`."""
    run_id, found = key, True
    try:
        run_id = source.get_run(key, with_aggregates=False).summary.run_id or key
    except RunNotFound:
        found = False
    graded = grade_run(reader, run_id)
    ev = graded.evidence
    if not found and not (any(ev.facts.counts.values()) or ev.facts.failures or any(ev.rows.values())):
        raise RunNotFound(f"no run {run_id!r}: no trace, steps or evidence", location=source.info.location)
    return graded


# -- many runs ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GradedRun:
    """A run graded with grouped counts (no per-run rows: its reasons leave out the step-index
    alignment). ``stored`` is read only when asked for; ``has_integrity_record`` is None when
    it was not asked for or the source has no ``integrity_evidence`` table."""

    result: IntegrityResult
    stored: StoredVerdict | None = None
    has_integrity_record: bool | None = None

    @property
    def run_id(self) -> str:
        return self.result.run_id

    @property
    def stored_differs(self) -> bool:
        return self.stored is not None and bool(stored_differences(self.result, self.stored))


@dataclass
class FilterGrading:
    """Grading every run id of a filter (``source.run_ids``, in run id order), a block at a time.
    Build it with :meth:`of` (it lists the run ids: worker side), then iterate :meth:`blocks`."""

    reader: EvidenceReader
    flt: RunFilter
    run_ids: list[str]
    #: Set when grading stopped before the last run (a cancel).
    stopped: bool = False

    @classmethod
    def of(cls, source: TraceSource, reader: EvidenceReader, flt: RunFilter) -> FilterGrading:
        return cls(reader, flt, sorted(source.run_ids(flt)))

    @property
    def total(self) -> int:
        return len(self.run_ids)

    def blocks(self, size: int, *, with_stored: bool = False,
               progress: Callable[[int, int], None] | None = None,
               cancelled: Callable[[], bool] | None = None) -> Iterator[list[GradedRun]]:
        """Each block of ``size`` run ids graded with one grouped count per evidence table (per the
        reader's own chunk), reporting ``progress(done, total)`` and stopping between chunks once
        ``cancelled()``. With ``with_stored`` the verdicts upstream stored come along.

        The filter chose its runs by grade in SQL; evidence written since may have changed a
        grade, and a run no longer of the filter's grade is left out."""
        total = self.total
        has_j_table = EvidenceClass.J_INTEGRITY.value in self.reader.tables
        if progress is not None:
            progress(0, total)
        for start in range(0, total, size):
            if cancelled is not None and cancelled():
                self.stopped = True
                return
            part = self.run_ids[start:start + size]

            def offset(done: int, _of: int, start: int = start) -> None:
                if progress is not None:
                    progress(start + done, total)

            results = self.reader.grade_runs(part, progress=offset, cancelled=cancelled)
            stored = self.reader.stored_verdicts(part) if with_stored else {}
            block = []
            for rid in part:
                result = results.get(rid)
                if result is None:
                    continue  # stopped between the reader's chunks
                if self.flt.grade is not None and result.grade.value != self.flt.grade:
                    continue
                has_j = (rid in stored) if with_stored and has_j_table else None
                block.append(GradedRun(result, stored.get(rid), has_j))
            yield block
            if len(results) < len(dict.fromkeys(part)):
                self.stopped = True  # grade_runs stopped between its own chunks
                return

    def report(self, graded: GradedRun) -> dict[str, Any]:
        """The ``grade --json`` object of a run graded here (reasons without the step alignment)."""
        found = reasons(graded.result, stored=graded.stored, has_j=graded.has_integrity_record,
                        unusable=self.reader.unusable)
        return grade_report(graded.result, stored=graded.stored, reason_list=found)


# -- what the list and the status bar show --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GradeInfo:
    """What the grade column shows of a run's verdict: the grade, the observed count and
    upstream's explanation."""

    grade: IntegrityGrade
    observed: int
    explanation: str

    @property
    def score_text(self) -> str:
        return f"{self.observed}/{len(EXPECTED_TABLES)}"

    @property
    def tooltip(self) -> str:
        """``PASS 6/6 — All evidence present (6/6)``: the grade, the score and upstream's words."""
        return f"{self.grade.value} {self.score_text} — {self.explanation}"


@lru_cache(maxsize=4096)
def _shared(grade: IntegrityGrade, observed: int, explanation: str) -> GradeInfo:
    return GradeInfo(grade, observed, explanation)


def grade_info(result: IntegrityResult) -> GradeInfo:
    """The run's verdict as the list shows it; equal verdicts share one object."""
    return _shared(result.grade, len(result.facts.observed), result.explanation)


def grades_of(reader: EvidenceReader, run_ids: Sequence[str]) -> dict[str, GradeInfo]:
    """The grades of a page of runs, from one grouped count per evidence table (worker side)."""
    return {rid: grade_info(evaluate(facts)) for rid, facts in reader.facts_for_runs(run_ids).items()}


@dataclass(frozen=True, slots=True)
class GradeDistribution:
    """How the runs of a filter grade: counts per grade, the grades themselves (for the grade
    column's cache), and whether grading stopped before the end."""

    flt: RunFilter
    total: int
    counts: Mapping[IntegrityGrade, int]
    grades: Mapping[str, GradeInfo] = field(default_factory=dict)
    cancelled: bool = False

    @property
    def graded(self) -> int:
        return sum(self.counts.values())

    def parts(self) -> list[tuple[IntegrityGrade, int]]:
        return [(g, self.counts.get(g, 0)) for g in GRADE_ORDER]

    @property
    def text(self) -> str:
        """``Integrity: 120 PASS · 40 WARN · 12 FAIL`` (plus how far it got when cancelled)."""
        if self.total == 0:
            return "Integrity: no runs in the filter"
        text = "Integrity: " + " · ".join(f"{n:,} {g.value}" for g, n in self.parts())
        if self.cancelled:
            text += f" · graded {self.graded:,} of {self.total:,} — cancelled"
        return text


def grade_distribution(source: TraceSource, reader: EvidenceReader, flt: RunFilter, *,
                       progress: Callable[[int, int], None] | None = None,
                       cancelled: Callable[[], bool] | None = None,
                       batch: int = _JOB_BATCH) -> GradeDistribution:
    """Grade every run id of the filter, ``batch`` at a time, reporting ``progress(done, total)``
    and stopping between chunks once ``cancelled()``. Worker side: it reads the database."""
    grading = FilterGrading.of(source, reader, flt)
    counts = dict.fromkeys(GRADE_ORDER, 0)
    grades: dict[str, GradeInfo] = {}
    for block in grading.blocks(batch, progress=progress, cancelled=cancelled):
        for graded in block:
            info = grade_info(graded.result)
            grades[graded.run_id] = info
            counts[info.grade] += 1
    return GradeDistribution(flt, grading.total, counts, grades, grading.stopped)
