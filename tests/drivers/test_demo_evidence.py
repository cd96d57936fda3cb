"""The demos' evidence (SQLite and Postgres): runs of every integrity grade, graded now with
upstream's rules (``gather_facts`` + ``evaluate``), and stored integrity records that agree with
that grade except where the demo made them go stale."""

from __future__ import annotations

import collections

import pytest
import sqlalchemy as sa

from drivers.demo import generate_demo
from drivers.demo.evidence import Scenario
from drivers.evidence_reader import gather_facts
from drivers.evidence_schema import (
    activity_evidence,
    environment_evidence,
    evidence_capture_failures,
    integrity_evidence,
    policy_decisions,
    provider_evidence,
    runs,
)
from inspector.integrity import (
    EvidenceClass,
    IntegrityGrade,
    compute_integrity_v2,
    evaluate,
)
from tests.pgutil import sa_url, with_database

S = Scenario
H, B, G, D, T, ST = (EvidenceClass.H_ENVIRONMENT, EvidenceClass.B_ACTIVITY, EvidenceClass.G_PROVIDER,
                     EvidenceClass.D_DECISION, EvidenceClass.TRACE, EvidenceClass.TRACE_STEPS)
PASS, WARN, FAIL = IntegrityGrade.PASS, IntegrityGrade.WARN, IntegrityGrade.FAIL


@pytest.fixture(scope="module")
def sqlite_demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo-evidence") / "demo.db"
    summary = generate_demo(path, 7, big_run_steps=500)
    engine = sa.create_engine(sa.engine.URL.create("sqlite+pysqlite", database=str(path)), poolclass=sa.pool.NullPool)
    yield engine, summary.evidence_scenarios, set(summary.orphan_run_ids), summary
    engine.dispose()


@pytest.fixture(scope="module")
def pg_demo(pg_server):
    from drivers.demo.postgres import generate_pg_demo

    name = pg_server.create()
    url = with_database(pg_server.url, name)
    summary = generate_pg_demo(url, big_run_steps=200)
    engine = sa.create_engine(sa_url(url), poolclass=sa.pool.NullPool)
    yield engine, summary.evidence_scenarios, set(), summary  # archived traces still count on Postgres
    engine.dispose()
    pg_server.drop(name)


@pytest.fixture(params=["sqlite", "postgresql"])
def demo(request):
    return request.getfixturevalue("sqlite_demo" if request.param == "sqlite" else "pg_demo")


class Graded:
    """Every run of a demo database graded now, beside what its integrity record stored."""

    def __init__(self, engine: sa.Engine) -> None:
        with engine.connect() as conn:
            self.ids = [r[0] for r in conn.execute(sa.select(runs.c.id))]
            self.status = dict(conn.execute(sa.select(runs.c.id, runs.c.status)).all())
            self.facts = gather_facts(conn, self.ids)
            self.stored = {r.run_id: r for r in conn.execute(sa.select(integrity_evidence)).mappings()}
            self.failure_rows = [dict(r) for r in conn.execute(sa.select(evidence_capture_failures)).mappings()]
            self.rows_per_run = collections.Counter()
            for table in (environment_evidence, activity_evidence, provider_evidence, policy_decisions,
                          integrity_evidence):
                for rid, n in conn.execute(sa.select(table.c.run_id, sa.func.count()).group_by(table.c.run_id)):
                    self.rows_per_run[rid] += n
        self.results = {rid: evaluate(f) for rid, f in self.facts.items()}
        self.v2 = {rid: compute_integrity_v2(f) for rid, f in self.facts.items()}


@pytest.fixture
def graded(demo) -> tuple[Graded, dict[str, tuple[str, ...]], set[str]]:
    engine, scenarios, deleted, _ = demo
    return Graded(engine), scenarios, deleted


def test_scenarios_cover_every_run_once(graded, demo):
    g, scenarios, _ = graded
    listed = [rid for ids in scenarios.values() for rid in ids]
    assert sorted(listed) == sorted(g.ids) and len(set(listed)) == len(listed)
    assert set(scenarios) == {s.value for s in Scenario}
    assert all(scenarios[s.value] for s in Scenario)  # each scenario has runs
    assert demo[3].integrity_records == len(g.stored)


def test_every_grade_is_there(graded):
    g, _, _ = graded
    kinds = collections.Counter((r.grade, len(r.facts.observed), bool(r.facts.failures)) for r in g.results.values())
    assert kinds[(PASS, 6, False)] >= 50  # full evidence
    assert kinds[(PASS, 5, False)] >= 5  # "All evidence present (5/6)" with one class missing (§11.14)
    assert kinds[(WARN, 4, False)] >= 20  # expected classes missing, no failure
    assert kinds[(WARN, 6, True)] >= 5  # everything there, superseded failures
    assert kinds[(WARN, 5, True)] >= 3  # unresolved failure for a missing class
    assert sum(n for (grade, _, _), n in kinds.items() if grade is FAIL) >= 20


def test_planted_scenarios_grade_as_designed(graded):
    g, scenarios, _ = graded

    def results(s: Scenario):
        return [g.results[rid] for rid in scenarios[s.value]]

    for r in results(S.NO_POLICY):
        assert (r.grade, r.facts.missing, r.explanation) == (PASS, (D,), "All evidence present (5/6)")

    superseded_types = set()
    for r in results(S.SUPERSEDED_FAILURE):
        assert (r.grade, len(r.facts.observed)) == (WARN, 6)
        assert r.explanation == "1 capture failures recorded"
        assert [f.resolution.value for f in r.facts.failures] == ["superseded"]
        superseded_types.add(r.facts.failures[0].evidence_type)
        assert g.v2[r.run_id]["missing_reasons"] == {"_capture_failures": []}  # upstream lists only unresolved ones
    assert superseded_types == {"environment_evidence", "activity_evidence", "provider_evidence"}

    for r in results(S.UNRESOLVED_FAILURE):
        assert (r.grade, r.facts.missing) == (WARN, (G,))
        assert r.explanation == "1 evidence types missing; 1 capture failures recorded"
        reasons = g.v2[r.run_id]["missing_reasons"]
        assert reasons["provider_evidence"] == "provider_timeout"
        assert [f["resolution"] for f in reasons["_capture_failures"]] == ["transient"]
        assert g.stored[r.run_id].missing_reasons["provider_evidence"] == "provider_timeout"

    env_reasons = collections.Counter()
    for r in results(S.ENVIRONMENT_FAILED):
        assert (r.grade, r.facts.missing, r.explanation) == (FAIL, (H,), "Critical evidence missing: environment_evidence")
        env_reasons[g.v2[r.run_id]["missing_reasons"]["environment_evidence"]] += 1
        assert g.stored[r.run_id].integrity_status == "FAILED"
    assert env_reasons == {"database_error": 2, "pre_attach": 2}
    failed_env = {f["run_id"]: f for f in g.failure_rows if f["evidence_type"] == "environment_evidence"
                  and f["run_id"] in scenarios[S.ENVIRONMENT_FAILED.value]}
    assert {f["resolution"] for f in failed_env.values() if f["failure_reason"] == "pre_attach"} == {"permanent"}
    assert all("sdk_mode" in f["error_message"] and len(f["error_message"]) <= 500
               for f in failed_env.values() if f["failure_reason"] == "database_error")

    for r in results(S.NO_ENVIRONMENT):
        assert (r.grade, r.facts.missing) == (FAIL, (H,)) and not r.facts.failures

    for r in results(S.NO_EVIDENCE):
        assert (r.grade, r.facts.observed) == (FAIL, (T, ST))
        assert g.rows_per_run[r.run_id] == 0 and not r.facts.failures

    for rid in scenarios[S.NO_INTEGRITY_RECORD.value]:
        assert rid not in g.stored


def test_stored_records_agree_with_the_grade_now_except_the_stale_ones(graded):
    g, scenarios, deleted = graded
    disagree = {rid for rid, row in g.stored.items() if row.integrity_status != g.v2[rid]["integrity_status"]}
    stale = set(scenarios[S.STALE_AFTER_FAILURE.value]) | set(scenarios[S.STALE_AFTER_EVIDENCE.value])
    # SQLite only: a trace deleted after its record was sealed (the demo's orphans) fails now.
    assert disagree == stale | (deleted & set(g.stored))
    for rid in scenarios[S.STALE_AFTER_FAILURE.value]:
        assert (g.stored[rid].integrity_status, g.results[rid].grade) == ("VALID", WARN)
    for rid in scenarios[S.STALE_AFTER_EVIDENCE.value]:
        assert (g.stored[rid].integrity_status, g.results[rid].grade) == ("DEGRADED", PASS)
        assert g.stored[rid].integrity_score == pytest.approx(4 / 6) and g.results[rid].score == 1.0
    for rid, row in g.stored.items():
        if rid in disagree:
            continue
        v2 = g.v2[rid]
        assert (row.observed_artifacts, row.missing_artifacts) == (v2["observed_artifacts"], v2["missing_artifacts"])
        assert row.integrity_score == pytest.approx(v2["integrity_score"])
        assert row.verification_method == "evidence_table_scan"
    assert not any(g.status[rid] == "running" for rid in g.stored)  # sealed only when the run ended


def test_evidence_step_indexes_are_one_based_and_count_retries(demo):
    engine = demo[0]
    if engine.dialect.name == "sqlite":
        trace_sql = "SELECT run_id, step_index FROM trace_steps WHERE skill_name LIKE '%llm%'"
    else:
        trace_sql = ("SELECT t.run_id, s.step_index FROM aos_trace_steps s JOIN aos_traces t ON t.trace_id = s.trace_id "
                     "WHERE s.skill_name LIKE '%llm%'")
    with engine.connect() as conn:
        evidence = collections.defaultdict(set)
        for rid, idx in conn.execute(sa.select(activity_evidence.c.run_id, activity_evidence.c.step_index)):
            evidence[rid].add(idx)
        trace = collections.defaultdict(set)
        for rid, idx in conn.execute(sa.text(trace_sql)):
            trace[rid].add(idx)
        provider_min = conn.execute(sa.select(sa.func.min(provider_evidence.c.step_index))).scalar_one()
    assert min(min(v) for v in evidence.values()) >= 1 and provider_min >= 1
    shifted = {rid for rid in evidence if {i + 1 for i in trace[rid]} == evidence[rid]}
    counted = {rid for rid in evidence if rid in trace and {i + 1 for i in trace[rid]} != evidence[rid]}
    assert len(shifted) > 50  # no retries before the model calls: trace index + 1
    assert counted  # retries (and re-recorded steps) advance the evidence cursor: the indexes part ways


def test_sqlite_demo_keeps_upstreams_tables_and_adds_the_evidence_ones(sqlite_demo):
    engine = sqlite_demo[0]
    with engine.connect() as conn:
        tables = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = 'table'")}
        version = conn.exec_driver_sql("PRAGMA user_version").scalar_one()
    assert {"traces", "trace_steps", "runs", "environment_evidence", "activity_evidence", "provider_evidence",
            "policy_decisions", "integrity_evidence", "evidence_capture_failures"} <= tables
    from drivers.demo import DEMO_RECIPE_VERSION

    assert version == DEMO_RECIPE_VERSION


def test_pg_demo_summary_text_mentions_the_evidence(pg_demo):
    from drivers.demo.postgres import demo_summary_text

    summary = pg_demo[3]
    text = demo_summary_text(summary)
    assert f"{summary.integrity_records} integrity records" in text and "evidence for " in text
