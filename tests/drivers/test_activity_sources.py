"""Runs over time from real sources: SQLite's and Postgres' own queries count what the pure
counter counts over the same runs (a differential test), the filter applies, odd start times are
undated, and a source without a query (an in-memory one) is counted from its runs."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from drivers import open_source
from drivers.pg_reader import PostgresTraceReader
from inspector.activity import activity_from_times
from inspector.model import Payload, RunFilter, RunRecord, RunSort, RunSummary, SourceInfo
from inspector.services.activity import runs_over_time
from inspector.source import MemorySource, RunActivitySource
from tests.pgutil import TraceBuilder

T0 = datetime(2026, 11, 29, 5, 0, 0, tzinfo=UTC)
STATUSES = ["completed", "failed", "running", "timeout", "ERROR", "aborted", "completed"]


def _pure(source, flt=RunFilter(), most=120):
    runs = [r for r in source.list_runs(flt, RunSort.STARTED_AT, False, 0, 10_000, with_aggregates=False)
            if not r.orphan]
    return activity_from_times([r.started_at for r in runs], [r.status for r in runs], most)


def _same(a, b):
    assert (a.start, a.width, a.undated) == (b.start, b.width, b.undated)
    assert a.runs.tolist() == b.runs.tolist()
    assert a.failures.tolist() == b.failures.tolist()


def _fill_sqlite(raw_db, db_path, n=40):
    conn = raw_db(db_path)
    for i in range(n):
        started = (T0 + timedelta(minutes=7 * i, seconds=i)).isoformat()
        conn.execute("INSERT INTO traces (run_id, correlation_id, tenant_id, plan, started_at, status) "
                     "VALUES (?, 'c', ?, '[]', ?, ?)", (f"run-{i:03d}", f"t{i % 2}", started, STATUSES[i % 7]))
    return conn


def test_sqlite_counts_what_the_pure_counter_counts(db_path, raw_db, open_reader):
    _fill_sqlite(raw_db, db_path)
    reader = open_reader(db_path)
    assert isinstance(reader, RunActivitySource)
    for flt, most in ((RunFilter(), 120), (RunFilter(), 7), (RunFilter(tenant_id="t1"), 30),
                      (RunFilter(status="failed"), 5), (RunFilter(since=(T0 + timedelta(hours=1)).isoformat()), 60)):
        act = runs_over_time(reader, flt, max_intervals=most)
        _same(act, _pure(reader, flt, most))
        assert act.total == reader.count_runs(flt)
    act = runs_over_time(reader, RunFilter(), max_intervals=120)
    assert act.total_failures == sum(s.lower() in ("failed", "timeout", "error", "aborted")
                                     for s in (STATUSES[i % 7] for i in range(40)))


def test_sqlite_odd_start_times_are_undated(db_path, raw_db, open_reader):
    conn = _fill_sqlite(raw_db, db_path, n=5)
    # bytes, text that is not UTF-8 (a lone surrogate's encoding), a Julian-day number, garbage, and
    # one good SQLite-style stamp
    for i, (expr, value) in enumerate([("?", b"\xff\xfe"), ("CAST(? AS TEXT)", b"\xed\xa0\x80"), ("?", 2461000.5),
                                       ("?", "garbage"), ("?", "2026-11-29 09:00:00"), ("?", "")]):
        conn.execute("INSERT INTO traces (run_id, correlation_id, tenant_id, plan, started_at, status) "
                     f"VALUES (?, 'c', 't', '[]', {expr}, ?)", (f"odd-{i}", value, "failed"))
    reader = open_reader(db_path)
    act = runs_over_time(reader, RunFilter())
    assert (act.total, act.undated) == (6, 5)
    assert act.total_failures == 4  # failed, timeout, ERROR, and the SQLite-style stamp's run
    _same(act, _pure(reader))


def test_sqlite_with_no_runs_is_empty(db_path, open_reader):
    act = runs_over_time(open_reader(db_path), RunFilter())
    assert (len(act), act.total, act.undated) == (0, 0, 0)


def test_memory_source_is_counted_from_its_runs():
    runs = [RunRecord(summary=RunSummary(run_id=f"r{i}", correlation_id=None, tenant_id=None, agent_id=None,
                                         completed_at=None, status=STATUSES[i % 7],
                                         started_at=(T0 + timedelta(hours=i)).isoformat()),
                      plan=Payload(None), metadata=Payload(None)) for i in range(30)]
    src = MemorySource(SourceInfo("mem", "memory", "mem"), runs, {})
    assert not isinstance(src, RunActivitySource)
    act = runs_over_time(src, RunFilter(), max_intervals=10)
    assert act.width == 6 * 3600 and act.total == 30 and len(act) <= 10  # 3 h aligned would need 11
    _same(act, _pure(src, RunFilter(), 10))


def test_postgres_counts_what_the_pure_counter_counts(pg_url):
    builder = TraceBuilder(pg_url)
    try:
        for i in range(40):
            builder.trace(f"run-{i:03d}", started_at=T0 + timedelta(minutes=7 * i, seconds=i),
                          tenant_id=f"t{i % 2}", status=STATUSES[i % 7])
        builder.trace("archived", started_at=T0 - timedelta(days=3), archived_at=T0, status="failed")
        # timestamptz holds ±infinity too: no time to plan intervals around
        builder.trace("forever", tenant_id="t9", status="failed", started_at="infinity", created_at=T0)
        builder.trace("never", tenant_id="t9", status="failed", started_at="-infinity", created_at=T0)
    finally:
        builder.close()
    with contextlib.closing(open_source(pg_url)) as reader:
        assert isinstance(reader, PostgresTraceReader)
        failed = sum(st.lower() in ("failed", "timeout", "error", "aborted") for st in (STATUSES[i % 7] for i in range(40)))
        for flt, most, undated, failures in ((RunFilter(), 120, 2, failed), (RunFilter(include_archived=True), 50, 2,
                                                                               failed + 1)):
            act = runs_over_time(reader, flt, max_intervals=most)
            assert act.total + act.undated == reader.count_runs(flt)
            assert (act.undated, act.total_failures) == (undated, failures) and len(act) <= most
        act = runs_over_time(reader, RunFilter(tenant_id="t0"), max_intervals=9)
        _same(act, _pure(reader, RunFilter(tenant_id="t0"), 9))
        assert act.total == reader.count_runs(RunFilter(tenant_id="t0")) and len(act) <= 9
        only = runs_over_time(reader, RunFilter(tenant_id="t9"))
        assert (len(only), only.total, only.undated) == (0, 0, 2)


def test_sqlite_runs_on_an_edge_count_in_the_interval_they_open(db_path, raw_db, open_reader):
    # julianday() holds a time as a day fraction: 00:10:00 came back as 00:09:59.99998 before
    # rounding to the millisecond, and counted in the interval before.
    conn = raw_db(db_path)
    for k in range(12):
        conn.execute("INSERT INTO traces (run_id, correlation_id, tenant_id, plan, started_at, status) "
                     "VALUES (?, 'c', 't', '[]', ?, 'completed')", (f"e{k}", (T0 + timedelta(seconds=10 * k)).isoformat()))
    reader = open_reader(db_path)
    act = runs_over_time(reader, RunFilter(), max_intervals=12)
    assert act.width == 10 and act.runs.tolist() == [1] * 12
    _same(act, _pure(reader, RunFilter(), 12))
