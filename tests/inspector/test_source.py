"""The in-memory source (one-run files, tests): counters, filters, sorting, orphans, lookups."""

from __future__ import annotations

import pytest

from inspector.errors import RunNotFound
from inspector.model import Payload, RunFilter, RunRecord, RunSort, RunSummary, SourceInfo, Step, StepRow
from inspector.records import trace_record_from_dict
from inspector.source import MemorySource, TraceSource, run_matches, summarise_steps

INFO = SourceInfo(location="/mem/test", kind="memory", display_name="test")


def step(run_id, index, status, cost=1.0, duration=10.0):
    row = StepRow(None, run_id, index, f"skill_{index}", status, "SUCCESS", None, cost, duration, 0, None)
    return Step(row, Payload.from_value({"i": index}), Payload(None))


def run(run_id, started_at, status="completed", tenant="t1", agent="a1", replay_of=None):
    summary = RunSummary(run_id, f"c-{run_id}", tenant, agent, status, started_at, None, replay_of=replay_of)
    return RunRecord(summary, Payload.from_value([]), Payload.from_value({"replay_of": replay_of} if replay_of else {}))


@pytest.fixture
def source():
    runs = [
        run("r1", "2026-01-01T00:00:00+00:00", tenant="t1", agent="a1"),
        run("r2", "2026-01-02T00:00:00+00:00", status="failed", tenant="t2", agent=None),
        run("r3", "2026-01-03T00:00:00+00:00", tenant="t1", agent="a2", replay_of="r1"),
        run("r4", None, status="running", tenant="t2", agent="a1"),  # a foreign document without a start
    ]
    steps = {
        "r1": [step("r1", 1, "failed", 2.0), step("r1", 0, "succeeded", 1.5)],  # out of order on purpose
        "r2": [step("r2", 0, "failure"), step("r2", 1, "error"), step("r2", 2, "ok", None, None)],
        "r3": [step("r3", 0, "success")],
        "ghost": [step("ghost", 0, "success"), step("ghost", 1, "failed")],  # steps without a run row
    }
    return MemorySource(INFO, runs, steps)


def test_memory_source_is_a_trace_source(source):
    assert isinstance(source, TraceSource)


def test_summarise_steps_counts_normalised_statuses():
    rows = [step("r", i, s).row for i, s in enumerate(["success", "Succeeded", "ok", "failed", "ERROR", "retry",
                                                         "skipped", "weird"])]
    rows.append(StepRow(None, "r", 9, "s", None, "X", None, None, None, None, None))
    base = RunSummary("r", None, None, None, None, None, None)
    s = summarise_steps(base, rows)
    assert (s.total_steps, s.success_count, s.failure_count) == (9, 3, 2)
    assert (s.total_cost_cents, s.total_duration_ms) == (8.0, 80.0)
    assert isinstance(s.total_cost_cents, float)
    empty = summarise_steps(base, [])
    assert (empty.total_steps, empty.success_count, empty.total_cost_cents) == (0, 0, 0.0)


def test_counters_are_computed_on_load(source):
    r1 = source.get_run("r1")
    assert (r1.total_steps, r1.success_count, r1.failure_count, r1.total_cost_cents) == (2, 1, 1, 3.5)
    r2 = source.get_run("r2")
    assert (r2.success_count, r2.failure_count, r2.total_cost_cents, r2.total_duration_ms) == (1, 2, 2.0, 20.0)
    assert source.get_run("r4").total_steps == 0


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (RunFilter(), ["r1", "r2", "r3", "r4"]),
        (RunFilter(status="failed"), ["r2"]),
        (RunFilter(tenant_id="t2"), ["r2", "r4"]),
        (RunFilter(agent_id="a1"), ["r1", "r4"]),
        (RunFilter(run_id_prefix="r"), ["r1", "r2", "r3", "r4"]),
        (RunFilter(run_id_prefix="R"), []),
        (RunFilter(since="2026-01-02"), ["r2", "r3"]),
        (RunFilter(until="2026-01-02T00:00:00+00:00"), ["r1", "r2"]),
        # A run without a start time matches no time bound, as NULL compares in SQL.
        (RunFilter(until="2099"), ["r1", "r2", "r3"]),
        (RunFilter(since=""), ["r1", "r2", "r3"]),
    ],
)
def test_filters(source, flt, expected):
    assert sorted(r.run_id for r in source.list_runs(flt)) == expected
    assert source.count_runs(flt) == len(expected)
    assert sorted(r.summary.run_id for r in source._records.values() if run_matches(r.summary, flt)) == expected


@pytest.mark.parametrize(
    ("sort", "ascending"),
    [
        (RunSort.STARTED_AT, ["r4", "r1", "r2", "r3"]),  # None first ascending, as SQLite
        (RunSort.RUN_ID, ["r1", "r2", "r3", "r4"]),
        (RunSort.STATUS, ["r1", "r3", "r2", "r4"]),
        (RunSort.AGENT, ["r2", "r1", "r4", "r3"]),
        (RunSort.TOTAL_STEPS, ["r4", "r3", "r1", "r2"]),
        (RunSort.FAILURES, ["r3", "r4", "r1", "r2"]),
        (RunSort.COST, ["r4", "r3", "r2", "r1"]),
    ],
)
def test_sorting_both_directions(source, sort, ascending):
    assert [r.run_id for r in source.list_runs(RunFilter(), sort, descending=False)] == ascending
    assert [r.run_id for r in source.list_runs(RunFilter(), sort, descending=True)] == ascending[::-1]


def test_paging(source):
    pages = [[r.run_id for r in source.list_runs(RunFilter(), RunSort.RUN_ID, False, off, 3)] for off in (0, 3, 6)]
    assert pages == [["r1", "r2", "r3"], ["r4"], []]


def test_orphans(source):
    (ghost,) = source.orphan_runs()
    assert (ghost.run_id, ghost.orphan, ghost.total_steps, ghost.failure_count) == ("ghost", True, 2, 1)
    rec = source.get_run("ghost")
    assert rec.summary.orphan and rec.plan.is_missing
    assert "ghost" not in [r.run_id for r in source.list_runs(RunFilter())]
    totals = source.totals()
    assert (totals.runs, totals.steps, totals.orphan_runs) == (4, 8, 1)


def test_steps_are_ordered_and_paged_by_index(source):
    assert [r.step_index for r in source.list_steps("r1")] == [0, 1]
    assert [r.step_index for r in source.list_steps("r2", after_index=0, limit=1)] == [1]
    assert source.list_steps("r2", after_index=2) == []
    assert [s.step_index for s in source.iter_steps("r2")] == [0, 1, 2]
    assert source.count_steps("r4") == 0 and source.count_steps("ghost") == 2
    assert source.get_step("r1", 1).status_raw == "failed"


@pytest.mark.parametrize(
    "call",
    [lambda s: s.get_run("nope"), lambda s: s.list_steps("nope"), lambda s: s.count_steps("nope"),
     lambda s: s.get_step("nope", 0), lambda s: s.get_step("r1", 5), lambda s: list(s.iter_steps("nope"))],
)
def test_unknown_ids_raise_run_not_found(source, call):
    with pytest.raises(RunNotFound) as info:
        call(source)
    assert info.value.location == "/mem/test"


def test_replays_and_distinct_values(source):
    assert [r.run_id for r in source.replays_of("r1")] == ["r3"]
    assert source.replays_of("r3") == []
    assert source.distinct_values("status") == ["completed", "failed", "running"]
    assert source.distinct_values("agent_id") == ["a1", "a2"]
    with pytest.raises(ValueError):
        source.distinct_values("plan")


def test_aggregate_runs(source):
    aggs = source.aggregate_runs(["r1", "nope"])
    assert list(aggs) == ["r1"] and aggs["r1"].total_steps == 2


def test_golden_trace_through_memory_source(golden):
    record, steps = trace_record_from_dict(golden, "/g.json")
    src = MemorySource(INFO, [record], {record.summary.run_id: steps})
    (listed,) = src.list_runs(RunFilter())
    assert (listed.total_steps, listed.success_count, listed.failure_count) == (2, 2, 0)
    assert listed.total_cost_cents == pytest.approx(0.03)
    assert listed.total_duration_ms == 8.0
    assert src.get_step("frozen-trace-001", 1).outcome_data.value["sum"] == 5.85987447
