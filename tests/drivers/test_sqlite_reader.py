"""SQLiteTraceReader over real trace databases: listing, filters, counters, steps, foreign data,
and read-only access (spec §1, §11)."""

from __future__ import annotations

import hashlib
import itertools
import json
import sqlite3

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.sqlite_writer import StepInput
from inspector.errors import RunNotFound
from inspector.model import MISSING, RunFilter, RunSort, RunSummary, StepStatus
from inspector.source import MemorySource, TraceSource, summarise_steps

# run_id, tenant, agent, run status, started_at, step statuses, costs, durations
RUNS = [
    ("run-a", "t1", "ag1", "completed", "2026-11-01T10:00:00+00:00", ["success", "success"], [1.0, 2.0], [10.0, 20.0]),
    ("run-b", "t2", "ag2", "failed", "2026-11-02T10:00:00+00:00", ["success", "failed", "failure"], [5.0] * 3, [1.0] * 3),
    ("run-c", "t1", None, "running", "2026-11-03T10:00:00+00:00", [], [], []),
    # Same started_at as run-c: the run id breaks the tie. Worker statuses, spaces and case (§2.4).
    ("run-d", "t2", "ag1", "completed", "2026-11-03T10:00:00+00:00", ["succeeded", " OK ", "error", "retry"], [0.5] * 4,
     [100.0] * 4),
    ("run-e", "t1", "ag2", "timeout", "2026-11-04T10:00:00.500000+00:00", ["skipped"], [0.0], [7.0]),
    # A foreign writer's space-separated start: string order puts it before run-e's 'T' (§1.5).
    ("run-f", "t3", "ag1", "completed", "2026-11-04 10:00:00", ["Success"], [3.0], [5.0]),
]

# The counters each run must show, worked out by hand from the step statuses above.
EXPECTED = {
    "run-a": dict(total_steps=2, success_count=2, failure_count=0, total_cost_cents=3.0, total_duration_ms=30.0),
    "run-b": dict(total_steps=3, success_count=1, failure_count=2, total_cost_cents=15.0, total_duration_ms=3.0),
    "run-c": dict(total_steps=0, success_count=0, failure_count=0, total_cost_cents=0.0, total_duration_ms=0.0),
    "run-d": dict(total_steps=4, success_count=2, failure_count=1, total_cost_cents=2.0, total_duration_ms=400.0),
    "run-e": dict(total_steps=1, success_count=0, failure_count=0, total_cost_cents=0.0, total_duration_ms=7.0),
    "run-f": dict(total_steps=1, success_count=1, failure_count=0, total_cost_cents=3.0, total_duration_ms=5.0),
}
FIELDS = {
    run_id: dict(run_id=run_id, tenant_id=tenant, agent_id=agent, status=status, started_at=started, **EXPECTED[run_id])
    for run_id, tenant, agent, status, started, *_ in RUNS
}


def write_runs(add_run, writer, runs=RUNS):
    with writer.bulk():  # one transaction: the same rows, written faster
        for run_id, tenant, agent, status, started, statuses, costs, durations in runs:
            add_run(run_id, statuses, tenant_id=tenant, agent_id=agent, costs=costs, durations=durations,
                    run_status=None if status == "running" else status)
            writer.execute_raw("UPDATE traces SET started_at = ? WHERE run_id = ?", (started, run_id))


@pytest.fixture
def sample(db_path, writer, add_run, open_reader):
    write_runs(add_run, writer)
    return open_reader(db_path)


def ids(runs):
    return [r.run_id for r in runs]


def expected_order(field, descending):
    # SQLite order: NULL first ascending; the run id keeps the order total, in the same direction.
    def key(run):
        value = run.get(field)  # no evidence store: every grade rank is equal
        return (value is not None, value if value is not None else 0, run["run_id"])

    return [r["run_id"] for r in sorted(FIELDS.values(), key=key, reverse=descending)]


# -- listing and sorting ---------------------------------------------------------------------------


def test_reader_is_a_trace_source(sample):
    assert isinstance(sample, TraceSource)
    assert sample.info.kind == "sqlite"
    assert sample.info.read_only
    assert sample.info.notes == ()


def test_default_order_is_started_at_descending(sample):
    assert ids(sample.list_runs(RunFilter())) == ["run-e", "run-f", "run-d", "run-c", "run-b", "run-a"]


@pytest.mark.parametrize("descending", [False, True], ids=["asc", "desc"])
@pytest.mark.parametrize("sort", list(RunSort), ids=lambda s: s.name)
def test_every_sort_in_both_directions(sample, sort, descending):
    got = sample.list_runs(RunFilter(), sort, descending)
    assert ids(got) == expected_order(sort.value, descending)


def test_list_rows_carry_the_run_fields_and_counters(sample):
    for run in sample.list_runs(RunFilter()):
        assert {k: getattr(run, k) for k in FIELDS[run.run_id]} == FIELDS[run.run_id]
        assert run.correlation_id == f"corr-{run.run_id}"
        assert run.orphan is False


def test_list_without_aggregates_leaves_counters_empty(sample):
    runs = sample.list_runs(RunFilter(), with_aggregates=False)
    assert len(runs) == 6
    assert all(r.total_steps is None and not r.has_aggregates for r in runs)


@pytest.mark.parametrize("sort", [RunSort.STARTED_AT, RunSort.TENANT, RunSort.FAILURES, RunSort.DURATION],
                         ids=lambda s: s.name)
def test_offset_paging_covers_the_list_once(sample, sort):
    whole = ids(sample.list_runs(RunFilter(), sort, True, 0, 100))
    pages = [ids(sample.list_runs(RunFilter(), sort, True, offset, 4)) for offset in (0, 4, 8)]
    assert [len(p) for p in pages] == [4, 2, 0]
    assert pages[0] + pages[1] == whole


# -- filters ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (RunFilter(), {"run-a", "run-b", "run-c", "run-d", "run-e", "run-f"}),
        (RunFilter(status="completed"), {"run-a", "run-d", "run-f"}),
        (RunFilter(status="Completed"), set()),  # run statuses are compared as stored
        (RunFilter(tenant_id="t1"), {"run-a", "run-c", "run-e"}),
        (RunFilter(agent_id="ag2"), {"run-b", "run-e"}),
        (RunFilter(tenant_id="t2", agent_id="ag1"), {"run-d"}),
        # since/until are string comparisons against started_at, bounds included (§1.5)
        (RunFilter(since="2026-11-03T10:00:00+00:00"), {"run-c", "run-d", "run-e", "run-f"}),
        (RunFilter(until="2026-11-02T10:00:00+00:00"), {"run-a", "run-b"}),
        (RunFilter(since="2026-11-02", until="2026-11-03T23"), {"run-b", "run-c", "run-d"}),
        (RunFilter(since="2026-11-04T"), {"run-e"}),  # 'T' sorts after the space of run-f
        (RunFilter(since="2026-11-04 "), {"run-e", "run-f"}),
        (RunFilter(until="2026-11-04T00"), {"run-a", "run-b", "run-c", "run-d", "run-f"}),
        (RunFilter(run_id_prefix="run-"), {"run-a", "run-b", "run-c", "run-d", "run-e", "run-f"}),
        (RunFilter(run_id_prefix="run-b"), {"run-b"}),
        (RunFilter(run_id_prefix="RUN"), set()),  # case-sensitive like run ids
        (RunFilter(status="completed", since="2026-11-02"), {"run-d", "run-f"}),
    ],
    ids=lambda v: repr(v) if isinstance(v, RunFilter) else "",
)
def test_filters(sample, flt, expected):
    assert set(ids(sample.list_runs(flt))) == expected
    assert sample.count_runs(flt) == len(expected)


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("x", {"x*1", "x?1", "x[1]", "x]1", "xa1", "x%_1", "x[ab]1"}),
        ("x*", {"x*1"}),
        ("x?", {"x?1"}),
        ("x[", {"x[1]", "x[ab]1"}),
        ("x[a", {"x[ab]1"}),
        ("x]", {"x]1"}),
        ("x%", {"x%_1"}),
        ("x_", set()),
        ("xa", {"xa1"}),
        ("xb", set()),
    ],
)
def test_run_id_prefix_treats_glob_metacharacters_literally(db_path, add_run, open_reader, prefix, expected):
    with add_run.writer.bulk():
        for run_id in ("x*1", "x?1", "x[1]", "x]1", "xa1", "x%_1", "x[ab]1", "y1"):
            add_run(run_id, [])
    reader = open_reader(db_path)
    flt = RunFilter(run_id_prefix=prefix)
    assert set(ids(reader.list_runs(flt))) == expected
    assert reader.count_runs(flt) == len(expected)
    assert set(ids(reader.list_runs(flt, RunSort.COST))) == expected


PARITY_FILTERS = [
    RunFilter(), RunFilter(status="completed"), RunFilter(tenant_id="t1"), RunFilter(agent_id="ag1"),
    RunFilter(since="2026-11-03T10:00:00+00:00"), RunFilter(until="2026-11-03T10:00:00+00:00"),
    RunFilter(since="2026-11-04 "), RunFilter(run_id_prefix="run-d"), RunFilter(tenant_id="t2", since="2026-11-02"),
]


@pytest.mark.parametrize("flt", PARITY_FILTERS, ids=repr)
def test_memory_source_lists_like_sql(sample, flt):
    """One-run JSON files go through MemorySource: its filters, sorts and counters must be SQL's."""
    run_ids = ids(sample.list_runs(RunFilter()))
    memory = MemorySource(sample.info, [sample.get_run(r) for r in run_ids],
                          {r: list(sample.iter_steps(r)) for r in run_ids})
    assert memory.count_runs(flt) == sample.count_runs(flt)
    for sort in RunSort:
        for descending in (False, True):
            assert memory.list_runs(flt, sort, descending) == sample.list_runs(flt, sort, descending), (sort, descending)


def test_filter_applies_to_aggregate_sorts(sample):
    assert ids(sample.list_runs(RunFilter(tenant_id="t1"), RunSort.DURATION, True)) == ["run-a", "run-e", "run-c"]


# -- counters --------------------------------------------------------------------------------------


def test_counters_use_normalised_statuses(sample):
    # Upstream counts only 'success'/'failure' (§1.4, §11.4): run-b would show 1 failure, run-d none.
    aggs = sample.aggregate_runs(["run-b", "run-d", "run-c", "no-such-run"])
    assert (aggs["run-b"].success_count, aggs["run-b"].failure_count) == (1, 2)
    assert (aggs["run-d"].success_count, aggs["run-d"].failure_count) == (2, 1)
    assert aggs["run-c"].total_steps == 0
    assert aggs["no-such-run"].total_steps == 0


STATUS_VALUES = st.one_of(
    st.sampled_from(["success", "succeeded", "ok", "failure", "failed", "error", "skipped", "retry", "retrying",
                     "pending", "SUCCESS", " Failed\t", "\nok\r", "Error ", "\x0bretry\x0c", "succes", ""]),
    st.text(max_size=12),
    st.text(alphabet=" \t\n\r\x0b\x0cOKokErRrFfAaIiLlUuSsCcDdÉé\x00", max_size=10),
    # Numbers would be stored as text (TEXT affinity); a BLOB stays a BLOB and is not a status (§2.4).
    st.binary(max_size=8),
    st.just(b"success"),
    st.just(b" failed"),
)


def test_sql_counters_equal_summarise_steps_property(db_path, writer, open_reader):
    """The SQL aggregates (used for the runs list) count exactly what the Python normalisation counts."""
    writer.start_trace("seed-run", "c", "t", None, [])
    reader = open_reader(db_path)
    counter = itertools.count()

    @settings(max_examples=80, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(statuses=st.lists(STATUS_VALUES, max_size=10),
           costs=st.lists(st.integers(min_value=0, max_value=10_000), min_size=10, max_size=10))
    def check(statuses, costs):
        run_id = f"prop-{next(counter)}"
        with writer.bulk():
            writer.start_trace(run_id, "c", "t", None, [])
            writer.record_steps(
                StepInput(run_id, i, "s", {}, status, "SUCCESS", None, None, costs[i] / 100, float(costs[i]))
                for i, status in enumerate(statuses)
            )
        rows = reader.list_steps(run_id, limit=100)
        assert [r.status_raw for r in rows] == statuses
        expected = summarise_steps(RunSummary(run_id, None, None, None, None, None, None), rows)
        got = reader.aggregate_runs([run_id])[run_id]
        assert (got.total_steps, got.success_count, got.failure_count) == (
            expected.total_steps, expected.success_count, expected.failure_count)
        assert got.total_cost_cents == pytest.approx(expected.total_cost_cents)
        assert got.total_duration_ms == pytest.approx(expected.total_duration_ms)
        # The runs list shows the same counters (its prefix also matches no later run: none exists yet).
        (listed,) = reader.list_runs(RunFilter(run_id_prefix=run_id), limit=1)
        assert (listed.run_id, listed.success_count, listed.failure_count) == (
            run_id, expected.success_count, expected.failure_count)

    check()


# -- steps -----------------------------------------------------------------------------------------


@pytest.fixture
def ten_steps(db_path, add_run, open_reader):
    add_run("r10", ["success"] * 10, costs=[float(i) for i in range(10)], durations=[1.0] * 10)
    return open_reader(db_path)


def test_list_steps_keyset_paging(ten_steps):
    assert [r.step_index for r in ten_steps.list_steps("r10")] == list(range(10))
    assert [r.step_index for r in ten_steps.list_steps("r10", after_index=3, limit=4)] == [4, 5, 6, 7]
    assert [r.step_index for r in ten_steps.list_steps("r10", after_index=-1, limit=2)] == [0, 1]
    assert ten_steps.list_steps("r10", after_index=9) == []
    assert ten_steps.list_steps("other") == []
    assert ten_steps.count_steps("r10") == 10


def test_list_steps_rows_hold_the_stored_values(ten_steps):
    row = ten_steps.list_steps("r10", after_index=6, limit=1)[0]
    assert (row.run_id, row.step_index, row.skill_name, row.status_raw, row.status) == (
        "r10", 7, "skill_7", "success", StepStatus.SUCCESS)
    assert (row.outcome_category, row.outcome_code, row.cost_cents, row.duration_ms, row.retry_count) == (
        "SUCCESS", None, 7.0, 1.0, 0)
    assert row.timestamp.endswith("+00:00")
    assert isinstance(row.row_id, int)


@pytest.mark.parametrize(("n", "batch", "queries"), [(7, 3, 3), (6, 3, 3), (2, 3, 1), (0, 3, 1), (10, 1000, 1)])
def test_iter_steps_streams_across_batch_boundaries(db_path, add_run, open_reader, n, batch, queries):
    add_run("r", ["success"] * n)
    reader = open_reader(db_path)
    statements = []
    # iter_steps runs its statements on sqlite3's own cursor: count them where SQLite runs them.
    sa.event.listen(reader.engine.pool, "checkout", lambda dbapi_conn, *a: dbapi_conn.set_trace_callback(
        lambda stmt: statements.append(stmt) if "trace_steps" in stmt else None))
    steps = list(reader.iter_steps("r", batch=batch))
    assert [s.step_index for s in steps] == list(range(n))
    assert [s.params.value for s in steps] == [{"i": i} for i in range(n)]
    assert len(statements) == queries


def test_iter_steps_with_gaps_in_step_indexes(db_path, writer, open_reader):
    writer.start_trace("gappy", "c", "t", None, [])
    for index in (100, 0, 5, 2, 7):
        writer.record_step("gappy", index, "s", {"i": index}, "success", "SUCCESS", None, None, 1.0, 1.0, 0)
    reader = open_reader(db_path)
    assert [s.step_index for s in reader.iter_steps("gappy", batch=2)] == [0, 2, 5, 7, 100]
    assert [r.step_index for r in reader.list_steps("gappy", after_index=5)] == [7, 100]


def test_get_step_with_payloads(db_path, writer, open_reader):
    writer.start_trace("r", "c", "t", None, [])
    writer.record_step("r", 0, "http_call", {"url": "https://x", "n": "é"}, "failed", "TRANSIENT", "ERR_HTTP_503",
                       {"attempts": 3}, 0.25, 120.0, 2)
    writer.record_step("r", 1, "noop", {}, "success", "SUCCESS", None, None, 0.0, 1.0, 0)
    reader = open_reader(db_path)
    step = reader.get_step("r", 0)
    assert step.params.value == {"url": "https://x", "n": "é"}
    assert step.params.raw == '{"url": "https://x", "n": "\\u00e9"}'
    assert step.outcome_data.value == {"attempts": 3}
    assert (step.status, step.status_raw, step.outcome_code, step.retry_count) == (
        StepStatus.FAILURE, "failed", "ERR_HTTP_503", 2)
    assert (step.idempotency_key, step.replay_behavior, step.input_hash, step.output_hash, step.rng_state_before) == (
        None, "execute", None, None, None)
    empty = reader.get_step("r", 1)
    assert empty.outcome_data.is_missing and empty.outcome_data.value is MISSING and empty.outcome_data.ok
    with pytest.raises(RunNotFound, match="no step 2"):
        reader.get_step("r", 2)


# -- runs ------------------------------------------------------------------------------------------


def test_get_run(sample, db_path):
    rec = sample.get_run("run-b")
    assert rec.summary.run_id == "run-b"
    assert {k: getattr(rec, k) for k in FIELDS["run-b"]} == FIELDS["run-b"]
    assert rec.plan.value == [{"skill": "json_transform"}]
    assert rec.metadata.value == {}
    assert rec.seed == 42
    assert (rec.frozen_timestamp, rec.root_hash, rec.plan_hash) == (None, None, None)
    assert len(rec.created_at) == 19 and rec.created_at[10] == " "
    assert rec.completed_at.endswith("+00:00")
    assert not rec.summary.orphan


def test_get_run_without_aggregates_skips_the_counters(sample):
    full = sample.get_run("run-b")
    bare = sample.get_run("run-b", with_aggregates=False)
    assert bare.total_steps is None and bare.failure_count is None
    assert (bare.plan, bare.metadata, bare.started_at, bare.status) == (full.plan, full.metadata, full.started_at,
                                                                       full.status)


def test_get_run_unknown_id_raises_run_not_found(sample):
    with pytest.raises(RunNotFound) as info:
        sample.get_run("nope")
    assert "nope" in str(info.value)
    assert info.value.location == sample.location


def test_orphan_runs_after_delete(db_path, writer, add_run, open_reader):
    add_run("kept", ["success"])
    add_run("gone", ["success", "failed", "failed"], costs=[1.0, 2.0, 3.0])
    add_run("gone-too", ["ok"])
    writer.delete_trace("gone")
    writer.delete_trace("gone-too")
    reader = open_reader(db_path)
    orphans = reader.orphan_runs()
    assert ids(orphans) == ["gone", "gone-too"]
    assert all(o.orphan for o in orphans)
    assert (orphans[0].total_steps, orphans[0].failure_count, orphans[0].total_cost_cents) == (3, 2, 6.0)
    assert ids(reader.list_runs(RunFilter())) == ["kept"]
    totals = reader.totals()
    assert (totals.runs, totals.steps, totals.orphan_runs) == (1, 5, 2)
    rec = reader.get_run("gone")
    assert rec.summary.orphan and rec.summary.total_steps == 3
    assert rec.plan.is_missing and rec.metadata.is_missing
    assert [s.step_index for s in reader.iter_steps("gone")] == [0, 1, 2]


def test_replays_of_via_metadata(db_path, writer, add_run, open_reader):
    add_run("orig", ["success", "success"])
    add_run("replay-1", ["success", "failure"], metadata={"replay_of": "orig", "dry_run": False, "verify_parity": True})
    add_run("replay-2", ["success"], metadata={"replay_of": "orig"})
    add_run("unrelated", [], metadata={"note": "mentions replay_of but names nothing", "replay_of": ""})
    add_run("other", [], metadata={"replay_of": "someone-else"})
    # Replays listed oldest first, whatever the insert order.
    writer.execute_raw("UPDATE traces SET started_at = '2020-01-01T00:00:00+00:00' WHERE run_id = 'replay-2'")
    reader = open_reader(db_path)
    replays = reader.replays_of("orig")
    assert ids(replays) == ["replay-2", "replay-1"]
    assert replays[1].failure_count == 1 and replays[1].replay_of == "orig"
    assert reader.replays_of("replay-1") == []
    assert reader.replays_of("nothing") == []
    listed = {r.run_id: r.replay_of for r in reader.list_runs(RunFilter())}
    assert listed == {"orig": None, "replay-1": "orig", "replay-2": "orig", "unrelated": None, "other": "someone-else"}
    assert reader.get_run("replay-1").replay_of == "orig"


def test_distinct_values(sample):
    assert sample.distinct_values("status") == ["completed", "failed", "running", "timeout"]
    assert sample.distinct_values("tenant_id") == ["t1", "t2", "t3"]
    assert sample.distinct_values("agent_id") == ["ag1", "ag2"]
    with pytest.raises(ValueError):
        sample.distinct_values("plan")


def test_totals(sample):
    totals = sample.totals()
    assert (totals.runs, totals.steps, totals.orphan_runs) == (6, 11, 0)


def test_refresh_picks_up_rows_written_after_open(sample, writer, add_run):
    before = ids(sample.list_runs(RunFilter(), RunSort.FAILURES, True))
    assert sample.orphan_runs() == []
    assert sample.replays_of("run-a") == []
    add_run("run-new", ["failed"] * 5, metadata={"replay_of": "run-a"})
    add_run("run-doomed", ["success"])
    writer.delete_trace("run-doomed")
    sample.refresh()
    assert ids(sample.list_runs(RunFilter(), RunSort.FAILURES, True)) == ["run-new"] + before
    assert sample.count_runs(RunFilter()) == 7
    assert ids(sample.orphan_runs()) == ["run-doomed"]
    assert ids(sample.replays_of("run-a")) == ["run-new"]
    assert sample.totals().orphan_runs == 1
    assert sample.list_runs(RunFilter())[0].run_id == "run-new"  # newest start


# -- data upstream would not write -----------------------------------------------------------------


def test_statuses_outside_the_enums_read_fine(db_path, writer, open_reader):
    writer.start_trace("odd", "c", "t", None, [])
    writer.record_step("odd", 0, "s", {}, "EXPLODED", "WEIRD", None, None, 1.0, 1.0, 0)
    writer.record_step("odd", 1, "s", {}, "success", "SUCCESS", None, None, 1.0, 1.0, 0)
    writer.complete_trace("odd", "half-done ✓")
    reader = open_reader(db_path)
    rec = reader.get_run("odd")
    assert rec.status == "half-done ✓"
    assert (rec.total_steps, rec.success_count, rec.failure_count) == (2, 1, 0)
    step = reader.get_step("odd", 0)
    assert (step.status, step.status_raw) == (StepStatus.UNKNOWN, "EXPLODED")
    assert reader.distinct_values("status") == ["half-done ✓"]


def test_step_with_invalid_json_params_keeps_raw_text(db_path, writer, raw_db, open_reader):
    writer.start_trace("r", "c", "t", None, [])
    for i in range(3):
        writer.record_step("r", i, "s", {"i": i}, "success", "SUCCESS", None, {"ok": True}, 1.0, 1.0, 0)
    conn = raw_db(db_path)
    conn.execute("UPDATE trace_steps SET params = '{\"i\": 1,' , outcome_data = 'NaN?' WHERE step_index = 1")
    conn.execute("UPDATE traces SET plan = 'not json', metadata = '[1, 2' WHERE run_id = 'r'")
    reader = open_reader(db_path)
    steps = list(reader.iter_steps("r"))
    assert [s.params.ok for s in steps] == [True, False, True]
    bad = steps[1]
    assert bad.params.raw == '{"i": 1,' and bad.params.value is MISSING
    assert "not valid JSON" in bad.params.error
    assert bad.outcome_data.raw == "NaN?" and not bad.outcome_data.ok
    assert steps[2].params.value == {"i": 2}
    assert reader.get_step("r", 1).params.error == bad.params.error
    rec = reader.get_run("r")
    assert rec.plan.raw == "not json" and not rec.plan.ok
    assert rec.metadata.raw == "[1, 2" and not rec.metadata.ok
    assert rec.replay_of is None


def test_step_with_bytes_that_are_not_utf8_keeps_other_steps(db_path, writer, raw_db, open_reader):
    writer.start_trace("r", "c", "t", None, [])
    for i in range(3):
        writer.record_step("r", i, "s", {"i": i}, "success", "SUCCESS", None, None, 1.0, 1.0, 0)
    conn = raw_db(db_path)
    # TEXT that is not UTF-8 (a foreign writer, a damaged page); and a BLOB that is.
    conn.execute("UPDATE trace_steps SET params = CAST(x'7b22ff223a20317d' AS TEXT) WHERE step_index = 1")
    conn.execute("UPDATE trace_steps SET params = x'7b2261223a20327d' WHERE step_index = 2")
    reader = open_reader(db_path)
    steps = list(reader.iter_steps("r"))
    assert [s.step_index for s in steps] == [0, 1, 2]
    assert steps[0].params.value == {"i": 0}
    assert "not UTF-8" in steps[1].params.error and steps[1].params.value is MISSING
    assert steps[2].params.value == {"a": 2}
    assert "not UTF-8" in reader.get_step("r", 1).params.error
    assert [r.step_index for r in reader.list_steps("r")] == [0, 1, 2]


def test_foreign_column_types_read_fine(db_path, writer, raw_db, open_reader):
    writer.start_trace("r", "c", "t", None, [])
    conn = raw_db(db_path)
    # SQLite is dynamically typed: a foreign writer can store numbers in TEXT columns and text in REAL.
    conn.execute(
        "INSERT INTO trace_steps (run_id, step_index, skill_name, params, status, outcome_category, cost_cents,"
        " duration_ms, retry_count, timestamp) VALUES ('r', 0, 's', 42, 'success', 'SUCCESS', 'cheap', '12.5', 1, 't')"
    )
    reader = open_reader(db_path)
    step = reader.get_step("r", 0)
    assert step.params.raw == "42" and step.params.value == 42
    assert (step.cost_cents, step.duration_ms) == (None, 12.5)


OLD_DDL = """
CREATE TABLE traces (
    run_id TEXT PRIMARY KEY, correlation_id TEXT NOT NULL, tenant_id TEXT NOT NULL, agent_id TEXT,
    plan TEXT NOT NULL, plan_hash TEXT, started_at TEXT NOT NULL, completed_at TEXT,
    status TEXT NOT NULL DEFAULT 'running', metadata TEXT DEFAULT '{}', created_at TEXT DEFAULT CURRENT_TIMESTAMP
);
CREATE TABLE trace_steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, step_index INTEGER NOT NULL,
    skill_name TEXT NOT NULL, params TEXT NOT NULL, status TEXT NOT NULL, outcome_category TEXT NOT NULL,
    outcome_code TEXT, outcome_data TEXT, cost_cents REAL NOT NULL, duration_ms REAL NOT NULL,
    retry_count INTEGER NOT NULL DEFAULT 0, timestamp TEXT NOT NULL,
    FOREIGN KEY (run_id) REFERENCES traces(run_id) ON DELETE CASCADE, UNIQUE(run_id, step_index)
);
INSERT INTO traces (run_id, correlation_id, tenant_id, plan, started_at, status, metadata)
    VALUES ('old-1', 'c', 't', '[]', '2025-01-01T00:00:00+00:00', 'completed', '{"replay_of": "old-0"}');
INSERT INTO traces (run_id, correlation_id, tenant_id, plan, started_at, status)
    VALUES ('old-0', 'c', 't', '[]', '2024-01-01T00:00:00+00:00', 'completed');
INSERT INTO trace_steps (run_id, step_index, skill_name, params, status, outcome_category, cost_cents, duration_ms,
    timestamp) VALUES ('old-1', 0, 's', '{"a": 1}', 'failure', 'PERMANENT', 1.5, 2.0, '2025-01-01T00:00:01+00:00');
"""


def test_older_schema_opens_with_a_note(tmp_path, raw_db, open_reader):
    path = tmp_path / "old.db"
    raw_db(path).executescript(OLD_DDL)
    reader = open_reader(path)
    (note,) = reader.info.notes
    assert "older schema" in note
    for col in ("seed", "frozen_timestamp", "root_hash", "idempotency_key", "replay_behavior", "input_hash",
                "output_hash", "rng_state_before"):
        assert col in note
    assert ids(reader.list_runs(RunFilter())) == ["old-1", "old-0"]
    assert ids(reader.list_runs(RunFilter(), RunSort.FAILURES)) == ["old-1", "old-0"]
    rec = reader.get_run("old-1")
    assert (rec.seed, rec.root_hash, rec.frozen_timestamp, rec.failure_count) == (None, None, None, 1)
    (step,) = reader.iter_steps("old-1")
    assert (step.params.value, step.replay_behavior, step.idempotency_key) == ({"a": 1}, None, None)
    assert reader.get_step("old-1", 0).status is StepStatus.FAILURE
    assert ids(reader.replays_of("old-0")) == ["old-1"]


def test_schema_without_metadata_column_still_lists(tmp_path, raw_db, open_reader):
    path = tmp_path / "older.db"
    conn = raw_db(path)
    conn.executescript(
        "CREATE TABLE traces (run_id TEXT PRIMARY KEY, correlation_id TEXT, tenant_id TEXT, agent_id TEXT, plan TEXT,"
        " started_at TEXT, completed_at TEXT, status TEXT);"
        "CREATE TABLE trace_steps (id INTEGER PRIMARY KEY, run_id TEXT, step_index INTEGER, skill_name TEXT,"
        " params TEXT, status TEXT, cost_cents REAL, duration_ms REAL, timestamp TEXT);"
        "INSERT INTO traces VALUES ('a', 'c', 't', NULL, '[]', '2025', NULL, 'completed');"
    )
    reader = open_reader(path)
    assert "metadata" in reader.info.notes[0]
    assert ids(reader.list_runs(RunFilter())) == ["a"]
    assert reader.get_run("a").metadata.is_missing
    assert reader.replays_of("a") == []


# -- read-only -------------------------------------------------------------------------------------


def sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_reading_everything_leaves_the_file_unchanged(sample, db_path, writer, tmp_path):
    writer.delete_trace("run-a")  # leave orphans to read too
    before = sha256(db_path)
    sample.refresh()
    for sort in RunSort:
        for desc in (True, False):
            for run in sample.list_runs(RunFilter(), sort, desc):
                sample.get_run(run.run_id)
                list(sample.iter_steps(run.run_id, batch=2))
                for row in sample.list_steps(run.run_id):
                    sample.get_step(run.run_id, row.step_index)
    sample.orphan_runs()
    sample.get_run("run-a")
    sample.totals()
    for field in ("status", "tenant_id", "agent_id"):
        sample.distinct_values(field)
    sample.replays_of("run-b")
    assert sha256(db_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["traces.db"]  # no journal left behind


def test_writing_through_the_readers_engine_fails(sample, db_path):
    before = sha256(db_path)
    with pytest.raises(sa.exc.OperationalError, match="readonly"):
        with sample.engine.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO traces (run_id, correlation_id, tenant_id, plan, started_at) VALUES ('x','c','t','[]','s')"
            )
    assert sha256(db_path) == before
    assert sample.count_runs(RunFilter()) == 6


def test_reader_sees_commits_without_reopening(sample, add_run):
    assert sample.count_runs(RunFilter()) == 6
    add_run("late", ["success"])
    assert sample.count_runs(RunFilter()) == 7
    assert sample.get_run("late").total_steps == 1


def test_json_payload_roundtrip_matches_sql_text(sample, db_path):
    conn = sqlite3.connect(db_path)
    try:
        stored = dict(conn.execute("SELECT step_index, params FROM trace_steps WHERE run_id = 'run-d'"))
    finally:
        conn.close()
    for step in sample.iter_steps("run-d"):
        assert step.params.raw == stored[step.step_index]
        assert step.params.value == json.loads(stored[step.step_index])


def test_more_runs_than_one_sql_parameter_chunk(db_path, writer, open_reader):
    """Counters and aggregate sorts go through IN lists chunked below SQLite's parameter cap."""
    with writer.bulk():
        for i in range(1203):
            writer.start_trace(f"r{i:05d}", "c", "t", None, [])
            writer.record_steps(StepInput(f"r{i:05d}", j, "s", {}, "failed", "PERMANENT", None, None, 1.0, 1.0)
                                for j in range(i % 7))
        for i in range(0, 1203, 2):
            writer.delete_trace(f"r{i:05d}")
    reader = open_reader(db_path)
    runs = reader.list_runs(RunFilter(), RunSort.FAILURES, True, 0, 2000)
    assert len(runs) == 601
    assert all(r.failure_count == r.total_steps == int(r.run_id[1:]) % 7 for r in runs)
    assert [r.failure_count for r in runs] == sorted((r.failure_count for r in runs), reverse=True)
    assert len(reader.aggregate_runs([r.run_id for r in runs])) == 601
    orphans = reader.orphan_runs()
    assert len(orphans) == 602 - len(range(0, 1203, 14))  # deleted runs that had steps
    assert all(o.total_steps == int(o.run_id[1:]) % 7 for o in orphans)


@pytest.mark.parametrize("name", ["my traces.db", "q?mark.db", "hash#1.db", "per%41cent.db", "ü.db"])
def test_paths_with_uri_characters_open(tmp_path, writer, add_run, db_path, open_reader, name):
    add_run("r1", ["success"])
    folder = tmp_path / "a?b#c%20d"
    folder.mkdir()
    target = folder / name
    db_path.rename(target)
    reader = open_reader(target)
    assert reader.info.display_name == name
    assert ids(reader.list_runs(RunFilter())) == ["r1"]


# -- the runs list in plain SQL (no SQLAlchemy at a command's start) ----------------------------

PLAIN_FILTERS = [RunFilter(), RunFilter(status="completed"), RunFilter(tenant_id="tenant-b"), RunFilter(agent_id="a*"),
                 RunFilter(since="2026-11-29T05:53:20"), RunFilter(until="2026-11-29T05:53:30+00:00"),
                 RunFilter(run_id_prefix="r["), RunFilter(run_id_prefix="r-1"), RunFilter(keys=frozenset({"r-1", "x"})),
                 RunFilter(status="failed", tenant_id="tenant-a", since="2026")]


@pytest.mark.parametrize("sort", [s for s in RunSort if not s.needs_aggregates and s is not RunSort.GRADE])
def test_runs_list_in_plain_sql_is_the_sqlalchemy_list(db_path, add_run, raw_db, open_reader, sort):
    for i, tenant in enumerate(["tenant-a", "tenant-b", "tenant-a", "tenant-b", "tenant-a"]):
        add_run(f"r-{i}", ["success", "failed"][: i % 2 + 1], tenant_id=tenant, agent_id=None if i == 3 else "a*",
                run_status=["completed", "failed", None][i % 3], metadata={"replay_of": "r-0"} if i == 4 else None)
    add_run("r[odd", ["success"])
    conn = raw_db(db_path)
    conn.execute("UPDATE traces SET status = x'ff00' WHERE run_id = 'r-2'")  # a BLOB where text belongs
    conn.execute("UPDATE traces SET tenant_id = CAST(x'ff41' AS TEXT) WHERE run_id = 'r-3'")  # not UTF-8
    reader = open_reader(db_path)
    plain_sql = reader._runs_sql
    for flt, descending, (offset, limit) in itertools.product(PLAIN_FILTERS, (True, False), ((0, 100), (1, 2))):
        assert plain_sql(flt, sort, descending) is not None
        plain = reader.list_runs(flt, sort, descending, offset, limit)
        reader._runs_sql = lambda *a: None  # the SQLAlchemy statement, as a grade filter builds it
        try:
            assert reader.list_runs(flt, sort, descending, offset, limit) == plain, (flt, descending)
        finally:
            del reader._runs_sql
    assert ids(reader.list_runs(RunFilter(run_id_prefix="r["))) == ["r[odd"]
    assert reader.list_runs(RunFilter(keys=frozenset({"r-4"})))[0].replay_of == "r-0"
