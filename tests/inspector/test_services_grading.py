"""The grading job over a filter (inspector.services.grading), on a real SQLite file: counts per grade, the grades
it hands to the list's cache, progress, and a cancel that stops between chunks."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from drivers import open_source
from drivers.evidence_schema import environment_evidence, runs
from inspector.errors import RunNotFound
from inspector.integrity import IntegrityGrade
from inspector.model import RunFilter
from inspector.services.grading import (
    FilterGrading,
    GradeDistribution,
    grade_distribution,
    grade_one,
    grade_run,
)
from tests.ui.evidence_dbs import GRADES, build_evidence_db


@pytest.fixture
def source(tmp_path):
    path = build_evidence_db(tmp_path / "traces.db")
    s = open_source(path)
    yield s
    s.close()


def test_distribution_of_every_grade(source):
    seen = []
    dist = grade_distribution(source, source.evidence(), RunFilter(), progress=lambda d, t: seen.append((d, t)))
    assert dist.total == len(GRADES) and not dist.cancelled
    assert dist.counts == {IntegrityGrade.PASS: 2, IntegrityGrade.WARN: 1, IntegrityGrade.FAIL: 7}
    assert {rid: info.grade.value for rid, info in dist.grades.items()} == GRADES
    assert dist.text == "Integrity: 2 PASS · 1 WARN · 7 FAIL"
    assert seen[0] == (0, 10) and seen[-1] == (10, 10)
    # Equal verdicts share one object (a big list keeps a few dozen, not one per run).
    assert dist.grades["plain-0"] is dist.grades["plain-1"]
    assert dist.grades["ev-warn"].tooltip == "WARN 4/6 — 2 evidence types missing; 2 capture failures recorded"


def test_filter_and_empty_filter(source):
    dist = grade_distribution(source, source.evidence(), RunFilter(grade="WARN"))
    assert dist.text == "Integrity: 0 PASS · 1 WARN · 0 FAIL" and list(dist.grades) == ["ev-warn"]
    assert grade_distribution(source, source.evidence(), RunFilter(run_id_prefix="nobody")).text == \
        "Integrity: no runs in the filter"


def test_cancel_stops_between_chunks(tmp_path):
    """1,200 runs are three SQLite chunks of 500: a cancel after the first keeps its 500 grades."""
    from drivers.sqlite_writer import SQLiteTraceWriter

    path = build_evidence_db(tmp_path / "traces.db")
    ids = [f"many-{i:04d}" for i in range(1190)]
    with SQLiteTraceWriter(path) as w, w.bulk():
        for rid in ids:
            w.start_trace(rid, "c", "t", None, [])
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(runs.insert(), [{"id": r} for r in ids])
        conn.execute(environment_evidence.insert(), [{"id": f"ee-{r}", "run_id": r, "sdk_mode": "inline"}
                                                     for r in ids])
    engine.dispose()
    src = open_source(path)
    try:
        seen = []
        dist = grade_distribution(src, src.evidence(), RunFilter(), progress=lambda d, t: seen.append(d),
                                  cancelled=lambda: len(seen) >= 2)
        assert dist.cancelled and dist.total == 1200 and dist.graded == 500 == len(dist.grades)
        assert dist.text.endswith(" · graded 500 of 1,200 — cancelled")
        # The job's own batches stop too (a cancel seen before a batch starts).
        dist = grade_distribution(src, src.evidence(), RunFilter(), batch=400, cancelled=lambda: True)
        assert dist.cancelled and dist.graded == 0
        full = grade_distribution(src, src.evidence(), RunFilter(), batch=400)
        assert not full.cancelled and full.graded == 1200
        assert full.counts[IntegrityGrade.FAIL] == 1190 + 7  # no steps: required evidence missing
    finally:
        src.close()


def test_text_of_a_cancelled_distribution():
    dist = GradeDistribution(RunFilter(), 100_000, {IntegrityGrade.PASS: 9000, IntegrityGrade.WARN: 2000,
                                                    IntegrityGrade.FAIL: 1000}, cancelled=True)
    assert dist.text == "Integrity: 9,000 PASS · 2,000 WARN · 1,000 FAIL · graded 12,000 of 100,000 — cancelled"


def test_one_run_with_every_reason_and_the_stored_verdict(source):
    from tests.ui.evidence_dbs import PASS_RUN, WARN_RUN

    graded = grade_one(source, source.evidence(), WARN_RUN)
    assert graded.run_id == WARN_RUN and graded.result.grade.value == "WARN"
    codes = [r.code for r in graded.reasons]
    assert "STORED_VERDICT_DIFFERS" in codes and "CAPTURE_FAILURE" in codes
    assert graded.differences and graded.report()["stored_agrees"] is False
    # The same as reading the run's evidence directly (what the Evidence panel does).
    assert grade_run(source.evidence(), WARN_RUN) == graded
    # §11.6: a single run's reasons include the step-index alignment, which needs its rows.
    assert "STEP_INDEX_MISMATCH" in [r.code for r in grade_one(source, source.evidence(), PASS_RUN).reasons]
    with pytest.raises(RunNotFound, match="no trace, steps or evidence"):
        grade_one(source, source.evidence(), "no-such-run")


def test_a_filter_block_by_block_with_the_stored_verdicts(source):
    grading = FilterGrading.of(source, source.evidence(), RunFilter())
    assert grading.run_ids == sorted(GRADES) and grading.total == len(GRADES)
    seen = []
    blocks = list(grading.blocks(4, with_stored=True, progress=lambda d, t: seen.append((d, t))))
    assert [len(b) for b in blocks] == [4, 4, 2] and not grading.stopped
    graded = {g.run_id: g for b in blocks for g in b}
    assert {rid: g.result.grade.value for rid, g in graded.items()} == GRADES
    assert seen[0] == (0, 10) and seen[-1] == (10, 10)
    differs = {rid for rid, g in graded.items() if g.stored_differs}
    assert "ev-warn" in differs and all(graded[r].stored is not None for r in differs)
    report = grading.report(graded["ev-warn"])
    assert report["run_id"] == "ev-warn" and report["integrity_grade"] == "WARN"
    # Many runs' reasons leave the step alignment out: it reads each run's rows.
    assert all(r["code"] != "STEP_INDEX_MISMATCH" for r in report["reasons"])
    # Without the stored verdicts nothing about them is said.
    plain = [g for b in FilterGrading.of(source, source.evidence(), RunFilter()).blocks(100) for g in b]
    assert all(g.stored is None and g.has_integrity_record is None for g in plain)
