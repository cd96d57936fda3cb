"""The evidence of runs read through real sources, SQLite and Postgres alike: facts, the grade
filter and sort in SQL agreeing with upstream's evaluator on every combination that matters, a
run's evidence rows, its stored verdict and the step-index alignment (§11.6)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from drivers.evidence_schema import (
    activity_evidence,
    create_evidence_tables,
    environment_evidence,
    evidence_capture_failures,
    integrity_evidence,
    policy_decisions,
    provider_evidence,
    runs,
)
from drivers.pg_reader import PostgresTraceReader
from drivers.sqlite_reader import SQLiteTraceReader
from drivers.sqlite_writer import SQLiteTraceWriter, StepInput
from inspector.evidence import reasons
from inspector.integrity import EvidenceClass, IntegrityGrade, evaluate
from inspector.model import RunFilter, RunSort
from tests.pgutil import TraceBuilder, sa_url

NOW = datetime(2026, 11, 29, 5, 0, tzinfo=UTC)


class World:
    """A database of one dialect: traces written the upstream way, evidence with the Core tables."""

    def __init__(self, kind: str, tmp_path, pg_url: str | None) -> None:
        self.kind = kind
        if kind == "sqlite":
            self.path = tmp_path / "traces.db"
            self._writer = SQLiteTraceWriter(self.path)
            self.engine = sa.create_engine(f"sqlite:///{self.path}", poolclass=sa.pool.NullPool)
        else:
            self.url = pg_url
            self._builder = TraceBuilder(pg_url)
            self.engine = sa.create_engine(sa_url(pg_url), poolclass=sa.pool.NullPool)
        with self.engine.begin() as conn:
            create_evidence_tables(conn)

    def trace(self, run_id: str, n_steps: int) -> None:
        if self.kind == "sqlite":
            w = self._writer
            w.start_trace(run_id, f"corr-{run_id}", "tenant-a", "agent-1", [{"skill": "s"}])
            w.record_steps(StepInput(run_id=run_id, step_index=i, skill_name=f"skill_{i}", params={},
                                     status="success", outcome_category="SUCCESS", outcome_code=None,
                                     outcome_data=None, cost_cents=1.0, duration_ms=1.0)
                           for i in range(n_steps))
            w.complete_trace(run_id, "completed")
        else:
            self._builder.trace(run_id, statuses=("succeeded",) * n_steps)

    def insert(self, table, rows) -> None:
        if rows:
            with self.engine.begin() as conn:
                conn.execute(table.insert(), rows)

    def open(self):
        if self.kind == "sqlite":
            return SQLiteTraceReader(self.path)
        return PostgresTraceReader(self.url)

    def close(self) -> None:
        if self.kind == "sqlite":
            self._writer.close()
        else:
            self._builder.close()
        self.engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def world(request, tmp_path):
    pg_url = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    w = World(request.param, tmp_path, pg_url)
    yield w
    w.close()


def _combos():
    """Every combination the grade depends on: each of H, B, G, D present or not, steps or none,
    and no failure / a failure of a present class (superseded) / of a missing class / of an
    evidence type upstream does not know (read as activity evidence)."""
    for h, b, g, d, steps, failure in itertools.product((0, 1), (0, 1), (0, 1), (0, 1), (0, 1),
                                                        ("none", "present", "missing", "unknown")):
        yield f"r-h{h}b{b}g{g}d{d}s{steps}-{failure}", h, b, g, d, steps, failure


def _fill(world: World) -> dict[str, str]:
    """Write every combination; return the failure kind per run id."""
    env, act, prov, pol, fails, run_rows = [], [], [], [], [], []
    kinds = {}
    for rid, h, b, g, d, steps, failure in _combos():
        kinds[rid] = failure
        world.trace(rid, steps)
        run_rows.append({"id": rid})
        if h:
            env.append({"id": f"ee-{rid}", "run_id": rid, "sdk_mode": "inline"})
        if b:
            act.append({"id": f"ae-{rid}-1", "run_id": rid, "step_index": 1})
        if g:
            prov.append({"id": f"pe-{rid}-1", "run_id": rid, "step_index": 1, "requested_at": NOW})
        if d:
            pol.append({"id": f"pd-{rid}", "run_id": rid, "policy_type": "budget", "decision": "GRANTED",
                        "evaluated_at": NOW})
        present = [t for t, on in (("environment_evidence", h), ("activity_evidence", b),
                                   ("provider_evidence", g), ("policy_decisions", d)) if on]
        absent = [t for t, on in (("environment_evidence", h), ("activity_evidence", b),
                                  ("provider_evidence", g), ("policy_decisions", d)) if not on]
        etype = {"none": None, "present": (present or [None])[0], "missing": (absent or [None])[0],
                 "unknown": "retrieval_evidence"}[failure]
        if etype is not None:
            fails.append({"id": f"ecf-{rid}", "run_id": rid, "evidence_type": etype,
                          "failure_reason": "database_error", "error_message": "boom", "resolution": "transient"})
    world.insert(runs, run_rows)
    for table, rows in ((environment_evidence, env), (activity_evidence, act), (provider_evidence, prov),
                        (policy_decisions, pol), (evidence_capture_failures, fails)):
        world.insert(table, rows)
    return kinds


def test_sql_grade_filter_and_sort_agree_with_upstreams_evaluator_on_every_combination(world):
    kinds = _fill(world)
    source = world.open()
    try:
        ev = source.evidence()
        assert ev.has_store
        graded = ev.grade_runs(list(kinds))
        assert set(graded) == set(kinds)
        assert {r.grade for r in graded.values()} == set(IntegrityGrade)
        for grade in IntegrityGrade:
            expected = sorted(rid for rid, r in graded.items() if r.grade is grade)
            assert sorted(source.run_ids(RunFilter(grade=grade.value))) == expected, grade
            assert source.count_runs(RunFilter(grade=grade.value)) == len(expected)
        rank = {IntegrityGrade.FAIL: 0, IntegrityGrade.WARN: 1, IntegrityGrade.PASS: 2}
        for descending in (False, True):
            listed = source.list_runs(RunFilter(), RunSort.GRADE, descending, 0, 1000, with_aggregates=False)
            ranks = [rank[graded[r.run_id].grade] for r in listed]
            assert len(listed) == len(kinds)
            assert ranks == sorted(ranks, reverse=descending)
        # the filter composes with the others, and paging the sorted list covers it once
        page = [r.run_id for off in range(0, len(kinds), 37)
                for r in source.list_runs(RunFilter(), RunSort.GRADE, True, off, 37, with_aggregates=False)]
        assert sorted(page) == sorted(kinds)
    finally:
        source.close()


def test_progress_and_cancel_of_grading_many_runs(world):
    kinds = _fill(world)
    source = world.open()
    try:
        ev = source.evidence()
        seen = []
        ev.grade_runs(list(kinds), progress=lambda done, total: seen.append((done, total)))
        assert seen[-1] == (len(kinds), len(kinds))
        assert ev.grade_runs(list(kinds), cancelled=lambda: True) == {}
    finally:
        source.close()


def test_a_runs_evidence_rows_stored_verdict_and_step_index_alignment(world):
    world.trace("run-1", 3)  # trace steps 0, 1, 2
    world.insert(runs, [{"id": "run-1"}])
    world.insert(environment_evidence, [{"id": "ee-run-1", "run_id": "run-1", "sdk_mode": "inline",
                                         "environment": "prod", "active_feature_flags": ["a", "b"]}])
    # upstream's ExecutionCursor: 1-based, retries counted (§11.6): 1, 2, 3 (a retry), 4
    world.insert(activity_evidence, [{"id": f"ae-run-1-{i}", "run_id": "run-1", "step_index": i, "skill_id": "llm",
                                      "prompt_fingerprint": "ab" * 32, "provider_safety_flags": {"ok": True}}
                                     for i in (1, 2, 3, 4)])
    world.insert(evidence_capture_failures, [{"id": "ecf-1", "run_id": "run-1", "evidence_type": "provider_evidence",
                                              "failure_reason": "provider_timeout", "resolution": "permanent"}])
    world.insert(integrity_evidence, [{"id": "ie-run-1", "run_id": "run-1",
                                       "expected_artifacts": ["environment_evidence"],
                                       "observed_artifacts": ["environment_evidence", "aos_traces"],
                                       "missing_artifacts": ["activity_evidence"], "integrity_score": 0.5,
                                       "integrity_status": "DEGRADED", "missing_reasons": {"x": "y"},
                                       "verification_method": "evidence_table_scan", "verification_timestamp": NOW}])
    source = world.open()
    try:
        ev = source.evidence().run_evidence("run-1")
        assert ev.count(EvidenceClass.B_ACTIVITY) == 4 and ev.count(EvidenceClass.J_INTEGRITY) == 1
        b = ev.rows[EvidenceClass.B_ACTIVITY]
        assert [r.step_index for r in b] == [1, 2, 3, 4] and b[0].id == "ae-run-1-1"
        assert b[0].get("provider_safety_flags") == {"ok": True}  # JSON decoded on both dialects
        assert ev.rows[EvidenceClass.H_ENVIRONMENT][0].get("active_feature_flags") == ["a", "b"]
        h = ev.rows[EvidenceClass.H_ENVIRONMENT][0]
        assert (h.get("telemetry_enabled"), h.get("dry_run"), h.get("is_synthetic")) == (True, False, False)
        assert ev.rows[EvidenceClass.H_ENVIRONMENT][0].get("created_at").endswith("+00:00")  # ISO, both dialects
        assert ev.stored.verification_timestamp == "2026-11-29T05:00:00+00:00"
        assert ev.stored is not None and ev.stored.grade is IntegrityGrade.WARN
        assert ev.stored.missing_reasons == {"x": "y"} and ev.stored.observed_artifacts[0] == "environment_evidence"
        (al,) = ev.alignment
        assert (al.cls, al.evidence_count, al.evidence_min, al.evidence_max) == (EvidenceClass.B_ACTIVITY, 4, 1, 4)
        assert (al.trace_count, al.trace_min, al.trace_max) == (3, 0, 2)
        assert al.unmatched == (3, 4) and al.unmatched_count == 2
        result = evaluate(ev.facts)
        assert result.grade is IntegrityGrade.WARN  # G missing, its failure recorded
        codes = {r.code: r for r in reasons(result, stored=ev.stored, has_j=True, alignment=ev.alignment)}
        assert codes["STEP_INDEX_MISMATCH"].refs[0].step_index == 3
        assert codes["STEP_INDEX_MISMATCH"].message.startswith("2 of 4 activity_evidence rows")
        assert "STORED_RESOLUTION_IGNORED" in codes and "CAPTURE_FAILURE" in codes
        assert "STORED_VERDICT_DIFFERS" in codes  # stored score 0.5, now 5/6
    finally:
        source.close()


def test_row_limit_truncates_rows_but_not_counts(world):
    world.trace("big", 1)
    world.insert(runs, [{"id": "big"}])
    world.insert(activity_evidence, [{"id": f"ae-big-{i}", "run_id": "big", "step_index": i} for i in range(1, 31)])
    source = world.open()
    try:
        ev = source.evidence()
        ev.row_limit = 10
        got = ev.run_evidence("big")
        assert len(got.rows[EvidenceClass.B_ACTIVITY]) == 10 and EvidenceClass.B_ACTIVITY in got.truncated
        assert got.count(EvidenceClass.B_ACTIVITY) == 30
    finally:
        source.close()


def test_a_plain_upstream_sqlite_file_has_no_evidence_store(tmp_path):
    with SQLiteTraceWriter(tmp_path / "plain.db") as w:
        w.start_trace("r1", "c", "t", "a", [])
    source = SQLiteTraceReader(tmp_path / "plain.db")
    try:
        ev = source.evidence()
        assert not ev.has_store and ev.classes == frozenset()
        assert source.count_runs(RunFilter(grade="FAIL")) == 0  # no store: no graded runs
        assert [r.run_id for r in source.list_runs(RunFilter(), RunSort.GRADE)] == ["r1"]
        facts = ev.facts("r1")
        assert facts.counts[EvidenceClass.TRACE] == 1 and facts.counts[EvidenceClass.TRACE_STEPS] == 0
        got = ev.run_evidence("r1")
        assert got.rows == {} and got.stored is None and got.alignment == ()
    finally:
        source.close()


def test_the_source_file_is_never_written(tmp_path):
    w = World("sqlite", tmp_path, None)
    _fill(w)
    w.close()
    before = (tmp_path / "traces.db").read_bytes()
    source = SQLiteTraceReader(tmp_path / "traces.db")
    try:
        ev = source.evidence()
        ev.grade_runs(source.run_ids(RunFilter()))
        ev.run_evidence("r-h1b1g1d1s1-none")
        source.count_runs(RunFilter(grade="PASS"))
    finally:
        source.close()
    assert (tmp_path / "traces.db").read_bytes() == before
