"""Integrity grades as the runs list and the status bar show them, and the job that grades every
run of a filter. Pure Python (no Qt): the job runs on a worker, its result is applied on the GUI
thread.

A runs list of 100,000 runs keeps one small shared :class:`GradeInfo` per distinct verdict (a few
dozen at most), not an :class:`~inspector.integrity.IntegrityResult` per run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from inspector.integrity import EXPECTED_TABLES, IntegrityGrade, IntegrityResult
from inspector.model import RunFilter

__all__ = ["GRADE_ORDER", "GradeDistribution", "GradeInfo", "grade_distribution", "grade_info"]

#: The order grades are listed in (best first, as the status bar reads).
GRADE_ORDER = (IntegrityGrade.PASS, IntegrityGrade.WARN, IntegrityGrade.FAIL)
#: Runs graded per call of the reader's ``grade_runs``. Small, so a Cancel is seen within about a
#: thousand runs (the reader checks it only between its own chunks: 5,000 runs on Postgres, 0.3–0.9 s
#: on the 100k-run benchmark database against ~25 ms at 1,000) and few full results are alive at
#: once; grading all 100k took the same time either way.
JOB_BATCH = 1_000


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


def grade_distribution(source: Any, reader: Any, flt: RunFilter, *,
                       progress: Callable[[int, int], None] | None = None,
                       cancelled: Callable[[], bool] | None = None,
                       batch: int = JOB_BATCH) -> GradeDistribution:
    """Grade every run id of the filter (``source.run_ids``) with the reader's ``grade_runs``,
    reporting ``progress(done, total)`` and stopping between chunks once ``cancelled()``.
    Worker side: it reads the database."""
    ids = source.run_ids(flt)
    total = len(ids)
    counts = dict.fromkeys(GRADE_ORDER, 0)
    grades: dict[str, GradeInfo] = {}
    stopped = False
    if progress is not None:
        progress(0, total)
    for start in range(0, total, batch):
        if cancelled is not None and cancelled():
            stopped = True
            break
        part = ids[start:start + batch]

        def offset_progress(done: int, _of: int, start: int = start) -> None:
            if progress is not None:
                progress(start + done, total)

        results = reader.grade_runs(part, progress=offset_progress, cancelled=cancelled)
        for rid, result in results.items():
            info = grade_info(result)
            grades[rid] = info
            counts[info.grade] += 1
        if len(results) < len(dict.fromkeys(part)):
            stopped = True  # grade_runs stopped between its own chunks
            break
    return GradeDistribution(flt, total, counts, grades, stopped)
