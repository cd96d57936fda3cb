"""PostgresTraceReader against a real Postgres: listing, paging, several traces per run, status
normalisation, archived traces, older schemas, read-only sessions, timeouts, cancel, restarts."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from drivers import open_source
from drivers.pg_reader import PostgresTraceReader
from inspector.source import Capability
from inspector.errors import (
    NotATraceSource,
    PasswordRequired,
    QueryCancelled,
    RunNotFound,
    SourceError,
    SourceNotFound,
    SourceUnavailable,
)
from inspector.model import RunFilter, RunSort, StepStatus
from tests.pgutil import TraceBuilder, restart_server, sa_url, with_database

T0 = datetime(2026, 11, 29, 5, 0, 0, tzinfo=UTC)


@pytest.fixture
def builder(pg_url):
    b = TraceBuilder(pg_url)
    yield b
    b.close()


@pytest.fixture
def reader(pg_url):
    r = PostgresTraceReader(pg_url)
    yield r
    r.close()


def _fill(builder: TraceBuilder, n: int = 25) -> None:
    for i in range(n):
        builder.trace(f"run-{i:03d}", started_at=T0 + timedelta(minutes=i), created_at=T0 + timedelta(minutes=i),
                      tenant_id="tenant-a" if i % 2 else "tenant-b", agent_id=None if i % 5 == 0 else f"agent-{i % 3}",
                      status=["completed", "failed", "running"][i % 3], statuses=("succeeded",) * (i % 4))


def test_opens_and_describes_itself(pg_url, builder):
    builder.trace("r1")
    with contextlib.closing(open_source(pg_url)) as src:
        assert isinstance(src, PostgresTraceReader)
        assert src.info.kind == "postgres"
        assert Capability.ARCHIVE in src.info.capabilities
        assert src.info.read_only
        assert src.count_runs(RunFilter()) == 1


def test_location_never_shows_the_password(pg_url):
    url = pg_url.replace("postgres@", "postgres:s3cret@")
    src = open_source(url)
    try:
        assert "s3cret" not in src.info.location
        assert "s3cret" not in repr(src.info)
        assert src.info.location.startswith("postgresql://postgres@")
    finally:
        src.close()


def test_keyset_pages_match_a_single_ordered_read(builder, reader):
    _fill(builder, 25)
    for sort in (RunSort.STARTED_AT, RunSort.RUN_ID, RunSort.STATUS, RunSort.TENANT, RunSort.AGENT):
        for desc in (True, False):
            whole = [r.key for r in reader.list_runs(RunFilter(), sort, desc, 0, 100, with_aggregates=False)]
            assert len(whole) == 25
            paged = []
            for off in range(0, 25, 7):
                paged += [r.key for r in reader.list_runs(RunFilter(), sort, desc, off, 7, with_aggregates=False)]
            assert paged == whole, (sort, desc)
            # A jump (scroll bar drag) lands on the same rows as sequential paging.
            assert [r.key for r in reader.list_runs(RunFilter(), sort, desc, 17, 5)] == whole[17:22]
            # Going back to an earlier page after later ones.
            assert [r.key for r in reader.list_runs(RunFilter(), sort, desc, 3, 4)] == whole[3:7]
    newest = reader.list_runs(RunFilter(), RunSort.STARTED_AT, True, 0, 1)[0]
    assert newest.run_id == "run-024"


def test_sorting_by_step_counters(builder, reader):
    builder.trace("few", statuses=("succeeded",), costs=[5.0])
    builder.trace("many", statuses=("succeeded",) * 6)
    builder.trace("none", statuses=())
    by_steps = reader.list_runs(RunFilter(), RunSort.TOTAL_STEPS, True, 0, 10)
    assert [r.run_id for r in by_steps] == ["many", "few", "none"]
    assert [r.total_steps for r in by_steps] == [6, 1, 0]
    by_cost = reader.list_runs(RunFilter(), RunSort.COST, True, 0, 10)
    assert by_cost[0].run_id == "many" and by_cost[0].total_cost_cents == 6.0


def test_filters(builder, reader):
    _fill(builder, 12)
    assert reader.count_runs(RunFilter(tenant_id="tenant-a")) == 6
    assert {r.status for r in reader.list_runs(RunFilter(status="failed"), limit=50)} == {"failed"}
    assert reader.count_runs(RunFilter(agent_id="agent-1")) == len(
        [i for i in range(12) if i % 5 and i % 3 == 1])
    since = (T0 + timedelta(minutes=10)).isoformat()
    assert [r.run_id for r in reader.list_runs(RunFilter(since=since), limit=50)] == ["run-011", "run-010"]
    until = (T0 + timedelta(minutes=1)).isoformat()
    assert reader.count_runs(RunFilter(until=until)) == 2
    assert reader.count_runs(RunFilter(run_id_prefix="run-00")) == 10
    assert reader.count_runs(RunFilter(run_id_prefix="trace_run-01")) == 2
    assert reader.count_runs(RunFilter(run_id_prefix="run_")) == 0  # '_' is not a wildcard
    assert reader.distinct_values("tenant_id") == ["tenant-a", "tenant-b"]
    assert "agent-0" in reader.distinct_values("agent_id")


def test_archived_traces_are_hidden_unless_asked_for(builder, reader):
    builder.trace("live")
    builder.trace("old", archived_at=T0)
    assert [r.run_id for r in reader.list_runs(RunFilter())] == ["live"]
    shown = reader.list_runs(RunFilter(include_archived=True))
    assert {r.run_id: r.archived for r in shown} == {"live": False, "old": True}
    assert reader.count_runs(RunFilter(include_archived=True)) == 2
    assert reader.totals().runs == 1
    # An archived trace can still be opened by id.
    assert reader.get_run("trace_old").summary.archived


def test_several_traces_per_run(builder, reader):
    builder.trace("r1", trace_id="trace_r1", created_at=T0)
    builder.trace("r1", trace_id="trace_0123456789abcdef", created_at=T0 + timedelta(seconds=5),
                  statuses=("succeeded", "failed"))
    builder.trace("r2")
    keys = [r.key for r in reader.list_runs(RunFilter(run_id_prefix="r1"))]
    assert sorted(keys) == ["trace_0123456789abcdef", "trace_r1"]
    # A run id resolves to its newest trace, as upstream's get_trace does; a trace id to itself.
    assert reader.get_run("r1").summary.trace_id == "trace_0123456789abcdef"
    assert reader.get_run("trace_r1").summary.trace_id == "trace_r1"
    assert [t.trace_id for t in reader.traces_of("r1")] == ["trace_0123456789abcdef", "trace_r1"]
    assert [t.total_steps for t in reader.traces_of("r1")] == [2, 1]
    # Steps are read per trace.
    assert reader.count_steps("trace_r1") == 1
    assert reader.count_steps("r1") == 2
    with pytest.raises(RunNotFound):
        reader.get_run("nope")


def test_worker_statuses_are_normalised_not_turned_into_success(builder, reader):
    builder.trace("w", statuses=("succeeded", "failed", "skipped", "failure", "retrying", "weird"))
    rec = reader.get_run("w")
    assert rec.summary.total_steps == 6
    assert rec.summary.success_count == 1
    assert rec.summary.failure_count == 2  # 'failed' and 'failure' (upstream counts only 'failure')
    rows = reader.list_steps("w")
    assert [r.status for r in rows] == [StepStatus.SUCCESS, StepStatus.FAILURE, StepStatus.SKIPPED,
                                        StepStatus.FAILURE, StepStatus.RETRY, StepStatus.UNKNOWN]
    assert [r.status_raw for r in rows][-1] == "weird"
    assert all(r.run_id == "w" and r.trace_id == "trace_w" for r in rows)


def test_record_fields_and_pending_root_hash(builder, reader):
    builder.trace("r", metadata={"replay_of": "orig", "k": 1}, plan=[{"skill": "a"}, {"skill": "b"}])
    builder.trace("orig")
    rec = reader.get_run("r")
    assert rec.root_hash == "pending"
    assert rec.plan.value == [{"skill": "a"}, {"skill": "b"}]
    assert rec.metadata.value == {"replay_of": "orig", "k": 1}
    assert rec.schema_version == "1.0"
    assert rec.extra["trace"].value == {"steps": []}
    assert rec.summary.replay_of == "orig"
    reader.prepare()
    assert [r.run_id for r in reader.replays_of("orig")] == ["r"]
    assert [r.run_id for r in reader.replays_of("trace_orig")] == ["r"]


def test_steps_keyset_stream_and_detail(builder, reader):
    builder.trace("big", statuses=("succeeded",) * 2500)
    first = reader.list_steps("big", None, 100)
    assert [r.step_index for r in first] == list(range(100))
    nxt = reader.list_steps("big", first[-1].step_index, 500)
    assert nxt[0].step_index == 100 and len(nxt) == 500
    streamed = list(reader.iter_steps("big"))
    assert [s.row.step_index for s in streamed] == list(range(2500))
    assert streamed[4].params.value == {"i": 4} and streamed[4].outcome_data.value == {"out": 4}
    assert streamed[5].outcome_data.is_missing
    step = reader.get_step("big", 7)
    assert step.params.raw == '{"i": 7}' and step.extra["level"] == "INFO"
    with pytest.raises(RunNotFound):
        reader.get_step("big", 999_999)


def test_stream_stopped_early_releases_its_connection(builder, reader):
    builder.trace("big", statuses=("succeeded",) * 3000)
    it = reader.iter_steps("big")
    next(it)
    it.close()
    assert reader.engine.pool.checkedout() == 0
    assert reader.count_steps("big") == 3000


def test_foreign_and_missing_databases(pg_empty_url, pg_server):
    with pytest.raises(NotATraceSource, match="without the AOS trace tables"):
        open_source(pg_empty_url)
    with pytest.raises(SourceNotFound, match="no such database"):
        open_source(with_database(pg_server.url, "no_such_db_here"))


def test_server_not_listening():
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    with pytest.raises(SourceUnavailable) as err:
        open_source(f"postgresql://nobody@127.0.0.1:{port}/aos")
    assert f"127.0.0.1:{port}" in str(err.value)


def test_password_required_and_refused(pg_url, pg_server):
    with pg_server.admin.connect() as conn:
        conn.exec_driver_sql("DO $$ BEGIN CREATE ROLE ti_password_users NOLOGIN; "
                             "EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        conn.exec_driver_sql("DROP ROLE IF EXISTS ti_pw_reader")
        conn.exec_driver_sql("CREATE ROLE ti_pw_reader LOGIN PASSWORD 'right-one' IN ROLE ti_password_users")
    try:
        url = pg_url.replace("postgresql://postgres@", "postgresql://ti_pw_reader@")
        os.environ.pop("PGPASSWORD", None)
        with pytest.raises(PasswordRequired):
            open_source(url)
        with pytest.raises(PasswordRequired) as err:
            open_source(url, password="wrong")
        assert "wrong" not in str(err.value)
        with pytest.raises(SourceError, match="may not read aos_traces, aos_trace_steps: ask for SELECT rights"):
            open_source(url, password="right-one")
        TraceBuilder(pg_url).execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO ti_pw_reader")
        src = open_source(url, password="right-one")
        try:
            assert src.count_runs(RunFilter()) == 0
        finally:
            src.close()
    finally:
        pg_server.drop(pg_url.rsplit("/", 1)[1])
        with pg_server.admin.connect() as conn:
            conn.exec_driver_sql("DROP ROLE IF EXISTS ti_pw_reader")


def test_sessions_are_read_only_and_a_select_only_role_browses_everything(pg_url, pg_server, builder):
    builder.trace("r", statuses=("succeeded", "failed"), metadata={"replay_of": "x"})
    db = pg_url.rsplit("/", 1)[1]
    with pg_server.admin.connect() as conn:
        conn.exec_driver_sql("DROP ROLE IF EXISTS ti_select_only")
        conn.exec_driver_sql("CREATE ROLE ti_select_only LOGIN")
    builder.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO ti_select_only")
    try:
        src = PostgresTraceReader(pg_url.replace("postgres@", "ti_select_only@"))
        try:
            with src.engine.connect() as conn:
                assert conn.execute(sa.text("SHOW transaction_read_only")).scalar() == "on"
                with pytest.raises(sa.exc.InternalError, match="read-only transaction"):
                    conn.execute(sa.text("CREATE TEMP TABLE x (a int)"))
            src.prepare()
            runs = src.list_runs(RunFilter(include_archived=True))
            assert [r.run_id for r in runs] == ["r"]
            assert src.list_runs(RunFilter(), RunSort.FAILURES)[0].failure_count == 1
            assert len(list(src.iter_steps("r"))) == 2
            src.get_step("r", 1)
            src.traces_of("r")
            src.totals()
            for f in ("status", "tenant_id", "agent_id"):
                src.distinct_values(f)
        finally:
            src.close()
    finally:
        builder.close()
        pg_server.drop(db)
        with pg_server.admin.connect() as conn:
            conn.exec_driver_sql("DROP ROLE IF EXISTS ti_select_only")


@pytest.mark.parametrize("level", ["012", "078", "080"])
def test_older_schemas_open(pg_server, level):
    from drivers.pg_schema import create_schema

    name = pg_server.create()
    url = with_database(pg_server.url, name)
    engine = sa.create_engine(sa_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            create_schema(conn, level=level)
            conn.exec_driver_sql(
                "INSERT INTO aos_traces (trace_id, run_id, correlation_id, tenant_id, root_hash, schema_version, "
                "plan, trace, status) VALUES ('trace_a', 'a', 'c', 't', 'pending', '1.0', '[]', '{}', 'running')")
            conn.exec_driver_sql(
                "INSERT INTO aos_trace_steps (trace_id, step_index, skill_id, skill_name, params, status, "
                "outcome_category, cost_cents, duration_ms, retry_count, replay_behavior) "
                "VALUES ('trace_a', 0, 's', 's', '{}', 'succeeded', 'execution', 1, 1, 0, 'execute')")
        src = open_source(url)
        try:
            assert any("older schema" in n for n in src.info.notes) or level == "final"
            assert (Capability.ARCHIVE in src.info.capabilities) == (level >= "080")
            runs = src.list_runs(RunFilter())
            assert [r.run_id for r in runs] == ["a"] and runs[0].total_steps == 1
            assert src.get_run("a").extra.get("incident_id") is None
            assert len(list(src.iter_steps("a"))) == 1
        finally:
            src.close()
    finally:
        engine.dispose()
        pg_server.drop(name)


def test_statement_timeout_stops_a_slow_read(pg_url):
    src = PostgresTraceReader(pg_url, statement_timeout_ms=200)
    try:
        with pytest.raises(QueryCancelled, match="statement timeout"):
            with src._connect("waiting") as conn:
                conn.execute(sa.text("SELECT pg_sleep(5)"))
    finally:
        src.close()


def test_cancel_from_another_thread(reader):
    errors: list[BaseException] = []
    started = threading.Event()

    def slow():
        try:
            with reader._connect("a slow read") as conn:
                started.set()
                conn.execute(sa.text("SELECT pg_sleep(20)"))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    t0 = time.monotonic()
    worker = threading.Thread(target=slow)
    worker.start()
    assert started.wait(10)
    time.sleep(0.2)
    assert reader.cancel() == 1
    worker.join(10)
    assert time.monotonic() - t0 < 10
    assert len(errors) == 1 and isinstance(errors[0], QueryCancelled)
    assert "cancelled" in str(errors[0])
    # The reader is still usable afterwards.
    assert reader.count_runs(RunFilter()) == 0


def test_server_restart_mid_session(builder, reader):
    _fill(builder, 5)
    assert reader.count_runs(RunFilter()) == 5
    builder.close()
    restart_server()
    # Pooled connections died with the server; pre-ping replaces them on checkout.
    assert reader.count_runs(RunFilter()) == 5
    assert len(reader.list_runs(RunFilter())) == 5


def test_server_down_gives_a_clear_error_then_recovers(builder, reader):
    _fill(builder, 3)
    builder.close()
    reader.count_runs(RunFilter())
    data, pg_bin = os.environ.get("TRACE_INSPECTOR_PG_DATA"), os.environ.get("TRACE_INSPECTOR_PG_BIN")
    if not data:
        restart_server()  # skips or fails with the reason
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    ctl = prefix + [os.path.join(pg_bin, "pg_ctl"), "-D", data]
    cwd = os.path.dirname(data)
    subprocess.run(ctl + ["-m", "fast", "-w", "stop"], check=True, cwd=cwd, capture_output=True)
    try:
        with pytest.raises(SourceUnavailable) as err:
            reader.count_runs(RunFilter())
        assert reader.location in str(err.value)
    finally:
        subprocess.run(ctl + ["-w", "-l", os.path.join(cwd, "server.log"), "start"], check=True, cwd=cwd,
                       capture_output=True)
    assert reader.count_runs(RunFilter()) == 3


def test_iter_runs_streams_the_same_order_as_the_pages(builder, reader):
    _fill(builder, 25)
    for sort in (RunSort.STARTED_AT, RunSort.AGENT, RunSort.TOTAL_STEPS):
        for desc in (True, False):
            paged = reader.list_runs(RunFilter(), sort, desc, 0, 100)
            streamed = list(reader.iter_runs(RunFilter(), sort, desc, batch=4))
            assert [r.key for r in streamed] == [r.key for r in paged], (sort, desc)
            assert [r.total_steps for r in streamed] == [r.total_steps for r in paged]
    assert [r.run_id for r in reader.iter_runs(RunFilter(tenant_id="tenant-a"))] == [
        r.run_id for r in reader.list_runs(RunFilter(tenant_id="tenant-a"), limit=100)]
    reader.ping()
    assert reader.engine.pool.checkedout() == 0


def test_sorting_by_counters_counts_only_the_filtered_traces(builder, reader):
    builder.trace("a1", tenant_id="tenant-a", statuses=("succeeded",) * 3)
    builder.trace("b1", tenant_id="tenant-b", statuses=("succeeded",) * 9)
    builder.trace("a2", tenant_id="tenant-a", statuses=("failed",))
    runs = reader.list_runs(RunFilter(tenant_id="tenant-a"), RunSort.TOTAL_STEPS, True, 0, 10)
    assert [(r.run_id, r.total_steps) for r in runs] == [("a1", 3), ("a2", 1)]
