"""The grading job over a filter (ui.grading), on a real SQLite file: counts per grade, the grades
it hands to the list's cache, progress, and a cancel that stops between chunks."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from drivers import open_source
from drivers.evidence_schema import environment_evidence, runs
from inspector.integrity import IntegrityGrade
from inspector.model import RunFilter
from tests.ui.evidence_dbs import GRADES, build_evidence_db
from ui.grading import GradeDistribution, grade_distribution


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
