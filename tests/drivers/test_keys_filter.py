"""RunFilter.keys (the runs found with consistency findings) on every source: one parameter however
many keys, combined with the other fields, an empty set lists nothing; on Postgres a key is a
trace id, so one trace of a run is listed without the others."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from drivers import open_source
from inspector.model import RunFilter, RunSort
from tests.pgutil import TraceBuilder

T0 = datetime(2026, 11, 29, 5, 0, 0, tzinfo=UTC)


def _ids(source, flt):
    return sorted(r.run_id for r in source.list_runs(flt, RunSort.RUN_ID, False, 0, 1000) if not r.orphan)


def _check(source, key=lambda rid: rid):
    many = frozenset({key("run-003"), key("run-007"), "nope"} | {f"x{i}" for i in range(40_000)})
    assert _ids(source, RunFilter(keys=many)) == ["run-003", "run-007"]
    assert source.count_runs(RunFilter(keys=many)) == 2
    assert _ids(source, RunFilter(keys=many, tenant_id="t1")) == ["run-003", "run-007"]
    assert _ids(source, RunFilter(keys=many, tenant_id="t0")) == []
    assert _ids(source, RunFilter(keys=frozenset())) == []
    assert sorted(source.run_ids(RunFilter(keys=frozenset({key("run-001"), key("it's")})))) == ["it's", "run-001"]
    assert not RunFilter(keys=frozenset()).is_empty


def test_sqlite(db_path, raw_db, open_reader):
    conn = raw_db(db_path)
    for i, rid in enumerate([f"run-{k:03d}" for k in range(10)] + ["it's"]):
        conn.execute("INSERT INTO traces (run_id, correlation_id, tenant_id, plan, started_at, status) "
                     "VALUES (?, 'c', ?, '[]', ?, 'completed')", (rid, f"t{i % 2}", (T0 + timedelta(minutes=i)).isoformat()))
    _check(open_reader(db_path))


def test_postgres(pg_url):
    builder = TraceBuilder(pg_url)
    try:
        for i, rid in enumerate([f"run-{k:03d}" for k in range(10)] + ["it's"]):
            builder.trace(rid, tenant_id=f"t{i % 2}", started_at=T0 + timedelta(minutes=i))
    finally:
        builder.close()
    builder = TraceBuilder(pg_url)
    try:  # a second trace of run-005 (a retried worker): its key lists it alone
        builder.trace("run-005", trace_id="trace_run-005-b", tenant_id="t1", started_at=T0 + timedelta(hours=1))
    finally:
        builder.close()
    with contextlib.closing(open_source(pg_url)) as source:
        _check(source, key=lambda rid: f"trace_{rid}")
        listed = source.list_runs(RunFilter(keys=frozenset({"trace_run-005-b"})), RunSort.RUN_ID, False, 0, 10)
        assert [(r.run_id, r.key) for r in listed] == [("run-005", "trace_run-005-b")]


def test_memory_source():
    from inspector.model import Payload, RunRecord, RunSummary, SourceInfo
    from inspector.source import MemorySource

    runs = [RunRecord(RunSummary(run_id=rid, correlation_id=None, tenant_id=f"t{i % 2}", agent_id=None,
                                 status="completed", started_at=(T0 + timedelta(minutes=i)).isoformat(),
                                 completed_at=None), Payload(None), Payload(None))
            for i, rid in enumerate([f"run-{k:03d}" for k in range(10)] + ["it's"])]
    _check(MemorySource(SourceInfo("mem", "memory", "mem"), runs, {}))
