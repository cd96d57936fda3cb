"""PostgresLogsReader against a real Postgres: every read, keyset paging with ties, skip scans,
absent tables and columns, malformed data, and a role that may only SELECT."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import sqlalchemy as sa

from drivers.pg_common import PgLocation, make_engine
from drivers.pg_logs import LEDGER_VALUE_FIELDS, PostgresLogsReader
from drivers.pg_schema import (
    aos_trace_mismatches,
    aos_trace_steps,
    aos_traces,
    audit_ledger,
    llm_run_records,
    log_exports,
    policy_activation_audit,
    system_records,
    tenants,
)
from inspector.errors import NotATraceSource, SourceError, SourceUnavailable, UsageError
from inspector.ledger import ANCHOR_LLM, ANCHOR_NONE, ANCHOR_TRACE
from inspector.logs import (
    LOGS_CAPABILITIES,
    LedgerFilter,
    LogsSource,
    SystemRecordFilter,
)
from tests.pgutil import sa_url, with_database

T0 = datetime(2026, 11, 29, 5, 53, 15, 3803, tzinfo=UTC)
_ids = itertools.count()


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def iso(seconds: float) -> str:
    return at(seconds).isoformat()


# --- fixtures -------------------------------------------------------------------------------------


@pytest.fixture
def engines():
    """Factory of engines for a libpq URL, disposed after the test."""
    made: list[sa.Engine] = []

    def make(url: str, **kwargs) -> sa.Engine:
        engine = sa.create_engine(sa_url(url), **kwargs)
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.dispose()


@pytest.fixture
def db(pg_url, engines) -> sa.Engine:
    """A superuser engine on a fresh AOS database, to write the rows the tests read."""
    engine = engines(pg_url)
    with engine.begin() as conn:
        conn.execute(sa.insert(tenants), [{"id": "t1"}, {"id": "t2"}, {"id": "t3"}])
    return engine


@pytest.fixture
def statements() -> list[str]:
    return []


@pytest.fixture
def reader(db, pg_url, statements) -> PostgresLogsReader:
    return PostgresLogsReader(db, pg_url, tracer=lambda sql, params: statements.append(sql))


@pytest.fixture
def trace_only_url(pg_server):
    """A database made with ``create_schema(logs_tables=False)``: traces and steps only. Without
    triggers: pg_schema's trigger DDL names the logs tables, so it fails when they are left out."""
    name = pg_server.create(template=pg_server.template(logs_tables=False, triggers=False))
    yield with_database(pg_server.url, name)
    pg_server.drop(name)


def insert(engine: sa.Engine, table: sa.Table, *rows: dict) -> None:
    with engine.begin() as conn:
        conn.execute(sa.insert(table), list(rows))


def audit(tenant: str = "t1", *, created: float = 0.0, event_type: str = "PolicyRuleCreated",
          entity_type: str = "POLICY_RULE", actor_type: str = "SYSTEM", actor_id: str | None = None,
          before: Any = None, after: Any = None, id: str | None = None, **extra) -> dict:
    row = {
        "id": id or str(uuid.uuid4()), "tenant_id": tenant, "event_type": event_type, "entity_type": entity_type,
        "entity_id": f"ent-{next(_ids)}", "actor_type": actor_type, "actor_id": actor_id,
        "action_reason": None, "before_state": before, "after_state": after, "created_at": at(created),
    }
    row.update(extra)
    return row


def llm(run_id: str, *, tenant: str = "t1", started: float = 0.0, completed: float | None = 5.0,
        created: float | None = None, trace_id: str | None = None, id: str | None = None) -> dict:
    return {
        "id": id or f"llm-{next(_ids)}", "tenant_id": tenant, "run_id": run_id, "trace_id": trace_id,
        "provider": "anthropic", "model": "claude", "prompt_hash": "p", "response_hash": "r",
        "input_tokens": 10, "output_tokens": 20, "cost_cents": 3, "execution_status": "SUCCEEDED",
        "started_at": at(started), "completed_at": None if completed is None else at(completed),
        "source": "WORKER", "is_synthetic": False, "synthetic_scenario_id": None,
        "created_at": at(created if created is not None else (completed or started)),
    }


def sysrec(tenant: str | None, created: float, *, id: str | None = None, component: str = "api",
           event_type: str = "DEPLOY", severity: str = "INFO", details: Any = None) -> dict:
    return {
        "id": id or f"sys-{next(_ids)}", "tenant_id": tenant, "component": component, "event_type": event_type,
        "severity": severity, "summary": "something happened", "details": details, "caused_by": "SYSTEM",
        "correlation_id": None, "created_at": at(created),
    }


def trace(run_id: str, *, trace_id: str | None = None, tenant: str = "t1", started: float = 0.0,
          completed: float | None = 10.0, correlation_id: str | None = None) -> dict:
    return {
        "trace_id": trace_id or f"trace_{run_id}", "run_id": run_id, "correlation_id": correlation_id or f"corr-{run_id}",
        "tenant_id": tenant, "root_hash": "pending", "schema_version": "1.0", "plan": [], "trace": {"steps": []},
        "status": "completed" if completed is not None else "running", "started_at": at(started),
        "completed_at": None if completed is None else at(completed), "created_at": at(started),
    }


def step(trace_id: str, index: int, when: float, *, skill: str = "json_transform", outcome: str = "SUCCESS") -> dict:
    return {
        "trace_id": trace_id, "step_index": index, "skill_id": skill, "skill_name": skill, "params": {},
        "status": "success", "outcome_category": outcome, "cost_cents": 0.0, "duration_ms": 1.0, "retry_count": 0,
        "replay_behavior": "execute", "timestamp": at(when),
    }


def mismatch(trace_id: str, created: float, *, details: Any = None, resolved: bool = False) -> dict:
    return {
        "id": str(uuid.uuid4()), "trace_id": trace_id, "tenant_id": "t1", "reported_by": "replay", "step_index": 1,
        "reason": "output_mismatch", "expected_hash": "aa", "actual_hash": "bb", "details": details,
        "resolved": resolved, "created_at": at(created),
    }


def export(run_id: str | None, created: float, *, tenant: str = "t1") -> dict:
    return {"id": f"exp-{next(_ids)}", "tenant_id": tenant, "scope": "llm_run", "run_id": run_id,
            "requested_by": "alice", "format": "json", "origin": "HUMAN", "created_at": at(created)}


def activation(policy_id: str, loop: str | None, activated: float, *, tenant: str = "t1") -> dict:
    return {"policy_id": policy_id, "source_pattern_id": "pat", "source_recovery_id": None,
            "confidence_at_activation": 0.9, "confidence_version": "v2", "approval_path": "auto",
            "loop_trace_id": loop, "activated_at": at(activated), "tenant_id": tenant}


def expected_order(engine: sa.Engine, where: str = "TRUE", params: dict | None = None) -> list[str]:
    """Ledger ids in (created_at DESC, id DESC) order, as the server collates them."""
    with engine.connect() as conn:
        return list(conn.execute(sa.text(f"SELECT id FROM audit_ledger WHERE {where} "
                                         "ORDER BY created_at DESC, id DESC"), params or {}).scalars())


def all_pages(reader: PostgresLogsReader, flt: LedgerFilter, size: int) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        page = reader.list_ledger(flt, cursor, size)
        pages.append([e.id for e in page.events])
        if page.cursor is None:
            return pages
        cursor = page.cursor
        assert len(pages) < 1000


# --- capabilities ---------------------------------------------------------------------------------


def test_full_schema_has_every_capability(reader):
    assert isinstance(reader, LogsSource)
    assert reader.logs_capabilities == frozenset(LOGS_CAPABILITIES)
    assert reader.missing_notes == ()


def test_trace_only_database_answers_empty_and_says_why(trace_only_url, engines):
    engine = engines(trace_only_url)
    insert(engine, aos_traces, trace("r1", started=0, completed=10))
    insert(engine, aos_trace_steps, step("trace_r1", 0, 2), step("trace_r1", 1, 45))
    reader = PostgresLogsReader(engine, trace_only_url)
    assert reader.logs_capabilities == frozenset()
    notes = " | ".join(reader.missing_notes)
    for table in ("audit_ledger", "llm_run_records", "system_records", "log_exports", "aos_trace_mismatches",
                  "policy_activation_audit"):
        assert f"no {table} table" in notes
    assert "no audit_ledger table: the audit panel is empty" in reader.missing_notes
    assert reader.audit_for_run("r1") == []
    assert reader.list_ledger(LedgerFilter()).events == ()
    assert all(reader.ledger_values(f) == [] for f in LEDGER_VALUE_FIELDS)
    assert reader.policy_activations(["trace_r1"]) == []
    assert reader.list_policy_activations() == []
    assert reader.llm_records("r1") == []
    assert reader.system_records(SystemRecordFilter()) == []
    assert reader.log_exports(run_id="r1") == []
    assert reader.mismatches("trace_r1") == []
    window = reader.replay_window("r1")
    assert window.anchor_from == ANCHOR_TRACE and window.anchor == iso(10)
    assert [(e.source, e.ref) for e in window.entries] == [("llm", "0")]  # step 1 is 35 s after the anchor
    logs = reader.run_logs("r1")
    assert logs.trace_id == "trace_r1" and logs.llm_records == () and logs.replay_window == window
    assert set(reader.missing_notes) <= set(logs.notes)


def test_database_without_ledger_correlation_id(db, pg_url):
    with db.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE audit_ledger DROP COLUMN correlation_id")
    with db.begin() as conn:  # the Core table still declares it: insert the other columns
        conn.execute(sa.insert(audit_ledger).values(audit(after={"run_id": "r1"}, created=1, id="a1")))
    reader = PostgresLogsReader(db, pg_url)
    assert "audit" in reader.logs_capabilities
    assert any("no correlation_id column" in n for n in reader.missing_notes)
    (event,) = reader.audit_for_run("r1")
    assert event.id == "a1" and event.correlation_id is None
    assert reader.list_ledger(LedgerFilter()).events[0].correlation_id is None


def test_table_lacking_a_needed_column_is_absent_with_a_note(db, pg_url):
    with db.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE system_records DROP COLUMN created_at")
    reader = PostgresLogsReader(db, pg_url)
    assert "system_records" not in reader.logs_capabilities
    assert "system_records lacks created_at: no system records are shown" in reader.missing_notes
    assert reader.system_records(SystemRecordFilter()) == []


def test_unreachable_server_is_a_source_error():
    location = PgLocation("postgresql://nobody@127.0.0.1:1/nothing")
    engine = make_engine(location, connect_timeout_s=2)
    try:
        with pytest.raises(SourceUnavailable, match="looking for the logs tables"):
            PostgresLogsReader(engine, location.display)
    finally:
        engine.dispose()


# --- audit for a run ------------------------------------------------------------------------------


def test_audit_for_run_matches_in_sql_every_key_and_side(db, reader, statements):
    insert(
        db, audit_ledger,
        audit(id="after-run", created=1, after={"run_id": "r1"}),
        audit(id="after-source", created=2, entity_type="LIMIT", event_type="LimitBreached",
              after={"source_run_id": "r1"}),
        audit(id="before-run", created=3, entity_type="POLICY_PROPOSAL", before={"run_id": "r1"}, after={"x": 1}),
        audit(id="before-source", created=4, entity_type="INCIDENT", before={"source_run_id": "r1"}),
        audit(id="signal", created=5, entity_type="SIGNAL", after={"run_id": "r1"}),  # not governance
        audit(id="other-run", created=6, after={"run_id": "r2"}),
        audit(id="nested", created=7, after={"inner": {"run_id": "r1"}}),
        audit(id="array", created=8, after=["run_id", "r1"]),
        audit(id="scalar", created=9, after="r1"),
        audit(id="other-tenant", tenant="t2", created=10, after={"run_id": "r1"}),
        audit(id="numeric", created=11, after={"run_id": 42}),
    )
    found = reader.audit_for_run("r1")
    assert [e.id for e in found] == ["other-tenant", "before-source", "before-run", "after-source", "after-run"]
    assert [e.id for e in reader.audit_for_run("r1", "t1")] == ["before-source", "before-run", "after-source",
                                                                "after-run"]
    assert [e.id for e in reader.audit_for_run("42")] == ["numeric"]
    assert reader.audit_for_run("nobody") == []
    assert found[-1].after_state.value == {"run_id": "r1"} and found[-1].before_state.is_missing
    assert found[-1].created_at == iso(1)
    assert "->>" in statements[-1]  # filtered by the server, not in Python


def test_audit_for_run_finds_events_older_than_the_newest_hundred(db, reader):
    """Upstream (§3.1) reads the newest 100 governance events, then filters: an older event of the
    run is lost. Here it is found."""
    rows = [audit(id="old", created=0, after={"run_id": "r1"})]
    rows += [audit(created=10 + i, after={"run_id": f"busy-{i}"}) for i in range(150)]
    insert(db, audit_ledger, *rows)
    assert [e.id for e in reader.audit_for_run("r1", "t1")] == ["old"]


# --- the ledger, paged by keyset ------------------------------------------------------------------


def _ledger_rows() -> list[dict]:
    rows = []
    for i in range(25):  # 25 rows at the very same instant: ties broken by id
        rows.append(audit("t1" if i % 3 else "t2", created=100, id=f"tie-{i:02d}-{uuid.uuid4().hex[:6]}",
                          event_type="LimitBreached" if i % 2 else "PolicyRuleModified",
                          entity_type="LIMIT" if i % 2 else "POLICY_RULE"))
    for i in range(30):
        rows.append(audit("t1" if i % 2 else "t3", created=i * 7.5, actor_type="HUMAN" if i % 4 == 0 else "AGENT",
                          actor_id=f"user-{i % 3}" if i % 4 == 0 else None, event_type="LimitCreated",
                          entity_type="LIMIT"))
    return rows


@pytest.mark.parametrize("size", [1, 7, 25, 200])
@pytest.mark.parametrize("tenant", [None, "t1"])
def test_keyset_paging_visits_every_row_once_in_order(db, reader, statements, size, tenant):
    insert(db, audit_ledger, *_ledger_rows())
    flt = LedgerFilter(tenant_id=tenant)
    pages = all_pages(reader, flt, size)
    where, params = ("tenant_id = :t", {"t": tenant}) if tenant else ("TRUE", {})
    expected = expected_order(db, where, params)
    assert [i for p in pages for i in p] == expected
    assert all(len(p) == size for p in pages[:-1]) and 0 < len(pages[-1]) <= size
    assert not any("OFFSET" in s.upper() for s in statements)


def test_keyset_page_cursor_is_created_at_and_id(db, reader):
    insert(db, audit_ledger, *_ledger_rows())
    page = reader.list_ledger(LedgerFilter(), None, 3)
    last = page.events[-1]
    assert page.cursor == (last.created_at, last.id)
    assert datetime.fromisoformat(page.cursor[0]).utcoffset() == timedelta(0)
    assert reader.list_ledger(LedgerFilter(), None, 1000).cursor is None


def test_ledger_filters(db, reader):
    rows = _ledger_rows()
    insert(db, audit_ledger, *rows)
    cases = [
        (LedgerFilter(event_type="LimitBreached"), "event_type = 'LimitBreached'"),
        (LedgerFilter(entity_type="POLICY_RULE"), "entity_type = 'POLICY_RULE'"),
        (LedgerFilter(actor="user-1"), "actor_id = 'user-1' OR actor_type = 'user-1'"),
        (LedgerFilter(actor="HUMAN"), "actor_id = 'HUMAN' OR actor_type = 'HUMAN'"),
        (LedgerFilter(tenant_id="t1", entity_type="LIMIT"), "tenant_id = 't1' AND entity_type = 'LIMIT'"),
        (LedgerFilter(since=iso(30), until=iso(100)), f"created_at BETWEEN '{iso(30)}' AND '{iso(100)}'"),
        (LedgerFilter(tenant_id="t3", since=iso(30)), f"tenant_id = 't3' AND created_at >= '{iso(30)}'"),
        (LedgerFilter(until="2026-11-29"), "created_at < '2026-11-30T00:00:00+00:00'"),  # the whole day
        (LedgerFilter(since="2026-11-30"), "FALSE"),
    ]
    for flt, where in cases:
        expected = expected_order(db, where)
        assert [i for p in all_pages(reader, flt, 4) for i in p] == expected, flt
    assert reader.list_ledger(LedgerFilter(event_type="NoSuchEvent")).events == ()


def test_ledger_rejects_bad_bounds_and_cursors(reader):
    with pytest.raises(UsageError, match="not a date"):
        reader.list_ledger(LedgerFilter(since="last tuesday"))
    with pytest.raises(UsageError, match="not a ledger cursor"):
        reader.list_ledger(LedgerFilter(), ("yesterday", "x"))
    with pytest.raises(UsageError, match="not a ledger cursor"):
        reader.list_ledger(LedgerFilter(), ("only-one",))


def test_ledger_pages_without_the_tenant_index(db, pg_url, statements):
    """The all-tenants page merges per-tenant index scans; without that index it sorts instead."""
    insert(db, audit_ledger, *_ledger_rows())
    with db.begin() as conn:
        conn.exec_driver_sql("DROP INDEX idx_audit_ledger_tenant_created")
    reader = PostgresLogsReader(db, pg_url, tracer=lambda sql, params: statements.append(sql))
    assert [i for p in all_pages(reader, LedgerFilter(), 6) for i in p] == expected_order(db)
    assert "RECURSIVE" not in statements[-1]


def test_ledger_page_limit_is_bounded(db, reader):
    insert(db, audit_ledger, *_ledger_rows())
    assert len(reader.list_ledger(LedgerFilter(), None, 0).events) == 1
    assert len(reader.list_ledger(LedgerFilter(), None, 10**9).events) == 55


# --- ledger values --------------------------------------------------------------------------------


def _values_rows() -> list[dict]:
    rows = []
    for i in range(60):
        tenant = ("t1", "t2", "t3")[i % 3]
        actor_type = "SYSTEM" if tenant == "t3" else ("HUMAN", "SYSTEM", "AGENT")[(i // 3) % 3]
        # SYSTEM actors of t2 all have NULL ids (a prefix whose values are all NULL); t3 only SYSTEM.
        actor_id = None if actor_type == "SYSTEM" and (tenant == "t2" or i % 2) else f"{actor_type.lower()}-{i % 7}"
        rows.append(audit(tenant, created=i, actor_type=actor_type, actor_id=actor_id,
                          event_type=f"Event{i % 5}", entity_type=("LIMIT", "POLICY_RULE", "INCIDENT")[i % 3]))
    return rows


@pytest.mark.parametrize("method", ["auto", "skip", "distinct"])
def test_ledger_values_are_the_distinct_values(db, reader, method):
    insert(db, audit_ledger, *_values_rows())
    with db.connect() as conn:
        for field in LEDGER_VALUE_FIELDS:
            expected = sorted(conn.execute(sa.text(
                f"SELECT DISTINCT {field} FROM audit_ledger WHERE {field} IS NOT NULL")).scalars())
            assert reader.ledger_values(field, method=method) == expected, field


def test_ledger_values_methods_run_the_statements_they_name(db, reader, statements):
    insert(db, audit_ledger, *_values_rows())
    with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE audit_ledger")
    reader.ledger_values("event_type", method="skip")
    assert "WITH RECURSIVE prefixes" in statements[-1]
    reader.ledger_values("entity_type", method="skip")
    assert "WITH RECURSIVE ledger_values" in statements[-1]
    reader.ledger_values("actor_id", method="distinct")
    assert "RECURSIVE" not in statements[-1]
    # auto: consults the statistics once; 60 rows are fewer than the probes would cost
    reader.ledger_values("tenant_id")
    assert "pg_stats" in statements[-2] and "RECURSIVE" not in statements[-1]
    count = len(statements)
    assert reader.ledger_values("tenant_id") == ["t1", "t2", "t3"]
    assert statements[count:] == statements[-1:] == [statements[count - 1]]


def test_ledger_values_without_indexes(db, pg_url):
    insert(db, audit_ledger, *_values_rows())
    with db.begin() as conn:
        for index in ("idx_audit_ledger_tenant_created", "idx_audit_ledger_tenant_event", "idx_audit_ledger_entity",
                      "idx_audit_ledger_actor"):
            conn.exec_driver_sql(f"DROP INDEX {index}")
    reader = PostgresLogsReader(db, pg_url)
    assert reader.ledger_values("event_type", method="skip") == [f"Event{i}" for i in range(5)]
    assert reader.ledger_values("tenant_id") == ["t1", "t2", "t3"]


def test_ledger_values_rejects_other_columns(reader):
    with pytest.raises(ValueError, match="not a ledger field"):
        reader.ledger_values("after_state")
    with pytest.raises(ValueError, match="not a method"):
        reader.ledger_values("tenant_id", method="fast")


# --- policy activations, LLM records, system records, exports, mismatches --------------------------


def test_policy_activations(db, reader):
    insert(
        db, policy_activation_audit,
        activation("pol-a", "trace_r1", 10), activation("pol-b", "corr-r1", 20), activation("pol-c", "r1", 5),
        activation("pol-d", "trace_r2", 30), activation("pol-e", None, 40, tenant="t2"),
    )
    rows = reader.policy_activations(["trace_r1", "r1", "corr-r1", "", None, "r1"])
    assert [a.policy_id for a in rows] == ["pol-b", "pol-a", "pol-c"]
    assert rows[0].confidence_at_activation == 0.9 and rows[0].activated_at == iso(20)
    assert reader.policy_activations([]) == []
    assert [a.policy_id for a in reader.list_policy_activations()] == ["pol-e", "pol-d", "pol-b", "pol-a", "pol-c"]
    assert [a.policy_id for a in reader.list_policy_activations("t2")] == ["pol-e"]
    assert len(reader.list_policy_activations(limit=2)) == 2


def test_llm_records_are_all_of_the_run_newest_first(db, reader):
    insert(db, llm_run_records, llm("r1", started=0, completed=5, id="first"),
           llm("r1", started=60, completed=70, id="retry"), llm("r2", id="other"))
    records = reader.llm_records("r1")
    assert [r.id for r in records] == ["retry", "first"]
    assert records[0].started_at == iso(60) and records[0].completed_at == iso(70)
    assert records[0].input_tokens == 10 and records[0].is_synthetic is False
    assert reader.llm_records("nobody") == []


def test_system_records_filters(db, reader):
    insert(
        db, system_records,
        sysrec("t1", 1, id="t1-old"), sysrec(None, 2, id="sys-old", component="db", severity="WARN"),
        sysrec("t2", 3, id="t2"), sysrec("t1", 4, id="t1-new", severity="CRITICAL", event_type="ERROR"),
        sysrec(None, 5, id="sys-new", component="worker"),
    )

    def ids(**kw) -> list[str]:
        return [r.id for r in reader.system_records(SystemRecordFilter(**kw))]

    assert ids() == ["sys-new", "t1-new", "t2", "sys-old", "t1-old"]
    assert ids(tenant_id="t1") == ["sys-new", "t1-new", "sys-old", "t1-old"]
    assert ids(system_only=True) == ["sys-new", "sys-old"]
    assert ids(tenant_id="t1", system_only=True) == ["sys-new", "sys-old"]
    assert ids(component="db") == ["sys-old"]
    assert ids(severity="CRITICAL") == ["t1-new"]
    assert ids(since=iso(2), until=iso(4)) == ["t1-new", "t2", "sys-old"]
    assert [r.id for r in reader.system_records(SystemRecordFilter(), limit=2)] == ["sys-new", "t1-new"]
    first = reader.system_records(SystemRecordFilter(severity="CRITICAL"))[0]
    assert first.event_type == "ERROR" and first.details.is_missing and first.created_at == iso(4)


def test_log_exports(db, reader):
    insert(db, log_exports, export("r1", 1), export("r1", 3), export(None, 2), export("r2", 4, tenant="t2"))
    assert [e.created_at for e in reader.log_exports(run_id="r1")] == [iso(3), iso(1)]
    assert [e.created_at for e in reader.log_exports(tenant_id="t1")] == [iso(3), iso(2), iso(1)]
    assert len(reader.log_exports()) == 4
    row = reader.log_exports(tenant_id="t2")[0]
    assert (row.status, row.source_component, row.scope, row.delivered_at) == (
        "pending", "LogExportService", "llm_run", None)


def test_mismatches(db, reader):
    insert(db, aos_trace_mismatches, mismatch("trace_r1", 1, details={"field": "x"}),
           mismatch("trace_r1", 2, resolved=True), mismatch("trace_r2", 3))
    rows = reader.mismatches("trace_r1")
    assert [m.created_at for m in rows] == [iso(2), iso(1)]
    assert rows[0].state == "resolved" and rows[1].state == "open"
    assert rows[1].details.value == {"field": "x"}
    assert rows[0].details.is_missing  # NULL, not upstream's '{}' default: inserted explicitly
    assert rows[0].notification_sent is False and rows[0].step_index == 1
    assert reader.mismatches("nothing") == []


# --- replay window and the whole run --------------------------------------------------------------


def _window_world(db) -> None:
    insert(db, llm_run_records, llm("r1", started=-20, completed=0, trace_id="trace_custom"))
    insert(db, aos_traces, trace("r1", trace_id="trace_custom", started=-20, completed=0))
    insert(db, aos_trace_steps, step("trace_custom", 0, -31), step("trace_custom", 1, -30, skill="fetch"),
           step("trace_custom", 2, 0, outcome=""), step("trace_custom", 3, 30), step("trace_custom", 4, 31))
    insert(db, system_records, sysrec("t1", -5, id="mine", severity="WARN"), sysrec(None, 0, id="global"),
           sysrec("t2", 1, id="theirs"), sysrec("t1", 40, id="too-late"))
    insert(db, audit_ledger, audit(id="rule", created=0, event_type="PolicyRuleModified"),
           audit(id="limit", created=10, entity_type="LIMIT", event_type="LimitBreached",
                 after={"run_id": "r1"}),
           audit(id="incident", created=11, entity_type="INCIDENT", event_type="IncidentResolved",
                 after={"source_run_id": "r1"}),
           audit(id="other-tenant", tenant="t2", created=12, entity_type="LIMIT"))


def test_replay_window_centred_on_the_llm_record(db, reader, statements):
    _window_world(db)
    window = reader.replay_window("r1")
    assert (window.anchor, window.anchor_from) == (iso(0), ANCHOR_LLM)
    assert (window.start, window.end) == (iso(-30), iso(30))
    assert [(e.source, e.ref, e.action, e.outcome) for e in window.entries] == [
        ("llm", "1", "fetch", "SUCCESS"),
        ("system", "mine", "DEPLOY", "WARN"),
        ("llm", "2", "json_transform", "unknown"),
        ("system", "global", "DEPLOY", "INFO"),
        ("policy", "rule", "PolicyRuleModified", "POLICY_RULE"),
        ("policy", "limit", "LimitBreached", "LIMIT"),
        ("llm", "3", "json_transform", "SUCCESS"),
    ]
    assert window.notes == ()
    window_sql = statements[-3:]
    assert all("BETWEEN" in s for s in window_sql)  # every source is bounded in SQL
    narrow = reader.replay_window("r1", seconds=5)
    assert [e.ref for e in narrow.entries] == ["mine", "2", "global", "rule"]
    # an explicit trace id wins over the record's
    assert reader.replay_window("r1", "trace_nothing").entries[0].source == "system"


def test_replay_window_uses_the_newest_llm_record(db, reader):
    insert(db, llm_run_records, llm("r1", started=-100, completed=-90, id="old"),
           llm("r1", started=0, completed=None, created=1, id="new"))
    window = reader.replay_window("r1")
    assert window.anchor == iso(0)  # the newest record has no completed_at: its started_at
    assert any("2 LLM run records" in n for n in window.notes)


def test_replay_window_falls_back_to_the_trace(db, reader):
    insert(db, aos_traces, trace("r9", started=0, completed=None))
    insert(db, aos_trace_steps, step("trace_r9", 0, 1))
    window = reader.replay_window("r9")
    assert (window.anchor, window.anchor_from) == (iso(0), ANCHOR_TRACE)
    assert any("no LLM run record" in n and "start of trace trace_r9" in n for n in window.notes)
    assert [e.ref for e in window.entries] == ["0"]


def test_replay_window_without_record_or_trace(reader):
    window = reader.replay_window("ghost")
    assert (window.anchor, window.anchor_from, window.entries) == (None, ANCHOR_NONE, ())
    assert window.notes and "no replay window" in window.notes[0]


def test_run_logs_gathers_everything_in_one_snapshot(db, reader):
    _window_world(db)
    insert(db, aos_traces, trace("r1", trace_id="trace_r1", started=-25, completed=-1, correlation_id="corr-x"))
    insert(db, log_exports, export("r1", 50), export("r2", 51))
    insert(db, aos_trace_mismatches, mismatch("trace_custom", 5), mismatch("trace_r1", 6), mismatch("trace_r2", 7))
    insert(db, policy_activation_audit, activation("pol-1", "corr-x", 3), activation("pol-2", "trace_custom", 4),
           activation("pol-3", "elsewhere", 5))
    logs = reader.run_logs("r1")
    assert logs.run_id == "r1" and logs.trace_id == "trace_custom"
    assert len(logs.llm_records) == 1
    # from 30 s before the earliest start (-25 s) to 30 s after the latest end (0 s), newest first
    assert [r.id for r in logs.system_records] == ["global", "mine"]
    assert [e.run_id for e in logs.exports] == ["r1"]
    assert logs.replay_window is not None and logs.replay_window.anchor_from == ANCHOR_LLM
    assert sorted(m.trace_id for m in logs.mismatches) == ["trace_custom", "trace_r1"]
    assert [e.id for e in logs.audit] == ["incident", "limit"]
    assert [a.policy_id for a in logs.policy_activations] == ["pol-2", "pol-1"]
    assert logs.notes == ()


# --- malformed and foreign data -------------------------------------------------------------------


def test_foreign_column_types_and_odd_json_degrade_to_raw_payloads(db, pg_url):
    """A foreign database whose JSON columns are text: unparseable text is shown raw with the
    reason; jsonb holding a string (upstream's ``str(dict)``, §11.16) is a string payload."""
    with db.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE audit_ledger ALTER COLUMN after_state TYPE text")
        conn.exec_driver_sql("ALTER TABLE system_records ALTER COLUMN details TYPE text")
        conn.exec_driver_sql(
            "INSERT INTO audit_ledger (id, tenant_id, event_type, entity_type, entity_id, actor_type, before_state, "
            "after_state, created_at) VALUES ('bad', 't1', 'LimitUpdated', 'LIMIT', 'e', 'SYSTEM', "
            "'{\"run_id\": \"r1\"}', '{not json', now())"
        )
        conn.exec_driver_sql(
            "INSERT INTO system_records (id, tenant_id, component, event_type, severity, summary, details) "
            "VALUES ('s', NULL, 'api', 'ERROR', 'WARN', 'x', 'plain words')"
        )
        conn.execute(sa.insert(aos_trace_mismatches).values(mismatch("trace_r1", 1, details="{'a': 1}")))
    reader = PostgresLogsReader(db, pg_url)
    (event,) = reader.audit_for_run("r1")  # found through before_state, the jsonb side
    assert not event.after_state.ok and event.after_state.raw == "{not json"
    assert event.before_state.value == {"run_id": "r1"}
    assert reader.list_ledger(LedgerFilter()).events[0].id == "bad"
    (record,) = reader.system_records(SystemRecordFilter())
    assert record.details.raw == "plain words" and "not valid JSON" in record.details.error
    (m,) = reader.mismatches("trace_r1")
    assert m.details.ok and m.details.value == "{'a': 1}"


def test_a_table_the_login_cannot_read_is_absent(db, pg_url, pg_server):
    role = pg_server.new_name("role")
    with db.begin() as conn:
        conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
        conn.exec_driver_sql(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
        conn.exec_driver_sql(f'REVOKE SELECT ON policy_activation_audit FROM "{role}"')
    location = PgLocation(_as_role(pg_url, role))
    engine = make_engine(location)
    try:
        reader = PostgresLogsReader(engine, location.display)
        assert reader.logs_capabilities == frozenset(LOGS_CAPABILITIES) - {"policy_activations"}
        assert ("policy_activation_audit is not readable by this login (no SELECT right): "
                "no policy activations are shown") in reader.missing_notes
        assert reader.policy_activations(["x"]) == [] and reader.list_policy_activations() == []
        assert reader.run_logs("r1").policy_activations == ()
    finally:
        engine.dispose()
        _drop_role(db, role)


def _drop_role(db: sa.Engine, role: str) -> None:
    with db.begin() as conn:
        conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
        conn.exec_driver_sql(f'DROP ROLE "{role}"')


def _as_role(url: str, role: str) -> str:
    parts = urlsplit(url)
    netloc = f"{role}@{parts.hostname}:{parts.port}" if parts.port else f"{role}@{parts.hostname}"
    return urlunsplit(parts._replace(netloc=netloc))


def test_select_only_role_reads_everything(db, pg_url, pg_server):
    _window_world(db)
    insert(db, log_exports, export("r1", 50))
    insert(db, aos_trace_mismatches, mismatch("trace_custom", 5))
    insert(db, policy_activation_audit, activation("pol-1", "trace_custom", 3))
    role = pg_server.new_name("reader")
    with db.begin() as conn:
        conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
        conn.exec_driver_sql(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
    location = PgLocation(_as_role(pg_url, role))
    engine = make_engine(location)
    plain = sa.create_engine(sa_url(_as_role(pg_url, role)), poolclass=sa.pool.NullPool)
    try:
        ro = PostgresLogsReader(engine, location.display)
        su = PostgresLogsReader(db, pg_url)
        assert ro.logs_capabilities == frozenset(LOGS_CAPABILITIES) and ro.missing_notes == ()
        logs = ro.run_logs("r1")
        assert logs == su.run_logs("r1")
        assert logs.llm_records and logs.system_records and logs.exports and logs.mismatches and logs.audit
        assert logs.policy_activations and logs.replay_window.entries
        assert ro.list_ledger(LedgerFilter()) == su.list_ledger(LedgerFilter())
        for field in LEDGER_VALUE_FIELDS:
            for method in ("auto", "skip", "distinct"):
                assert ro.ledger_values(field, method=method) == su.ledger_values(field)
        assert ro.list_policy_activations() == su.list_policy_activations()
        assert ro.system_records(SystemRecordFilter(tenant_id="t1")) == su.system_records(
            SystemRecordFilter(tenant_id="t1"))
        assert ro.log_exports(tenant_id="t1") == su.log_exports(tenant_id="t1")
        # the role itself may not write, even outside make_engine's read-only sessions
        with pytest.raises(sa.exc.ProgrammingError, match="permission denied"), plain.begin() as conn:
            conn.exec_driver_sql("INSERT INTO tenants (id) VALUES ('intruder')")
    finally:
        engine.dispose()
        plain.dispose()
        _drop_role(db, role)


def test_reader_never_writes(db, reader, statements):
    _window_world(db)
    reader.run_logs("r1")
    reader.list_ledger(LedgerFilter())
    reader.ledger_values("actor_id")
    reader.list_policy_activations()
    reader.log_exports()
    reader.system_records(SystemRecordFilter())
    assert statements and all(s.lstrip().upper().startswith(("SELECT", "WITH")) for s in statements)


def test_errors_inside_a_read_are_translated(db, pg_url):
    reader = PostgresLogsReader(db, pg_url)
    with db.begin() as conn:  # the table disappears after the reader looked
        conn.exec_driver_sql("DROP TABLE log_exports")
    with pytest.raises(NotATraceSource, match="reading log exports"):
        reader.log_exports()
    assert issubclass(NotATraceSource, SourceError)


def test_ledger_values_auto_skip_scans_when_the_statistics_say_it_pays(db, pg_url, statements):
    with db.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO audit_ledger (id, tenant_id, event_type, entity_type, entity_id, actor_type, created_at) "
            "SELECT 'g' || g, 't' || (1 + g %% 3), 'E' || (g %% 4), 'LIMIT', 'e', 'SYSTEM', now() "
            "FROM generate_series(1, 2000) g"
        )
    with db.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE audit_ledger")
    reader = PostgresLogsReader(db, pg_url, tracer=lambda sql, params: statements.append(sql))
    assert reader.ledger_values("tenant_id") == ["t1", "t2", "t3"]
    assert "pg_stats" in statements[-2] and "WITH RECURSIVE ledger_values" in statements[-1]
    assert reader.ledger_values("event_type") == ["E0", "E1", "E2", "E3"]
    assert "WITH RECURSIVE prefixes" in statements[-1]


def test_audit_for_run_scans_from_an_hour_before_the_run_started(pg_url):
    """The index bounds the scan: events naming a run are written after it started."""
    from datetime import datetime, timedelta

    from drivers.pg_logs import PostgresLogsReader
    from drivers.pg_schema import audit_ledger, tenants
    from tests.pgutil import TraceBuilder

    start = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    b = TraceBuilder(pg_url)
    b.trace("bounded-run", started_at=start, created_at=start)
    with b.engine.begin() as conn:
        conn.execute(tenants.insert(), [{"id": "tenant-a"}])
        conn.execute(audit_ledger.insert(), [
            {"id": f"ev-{n}", "tenant_id": "tenant-a", "event_type": "LimitBreached", "entity_type": "LIMIT",
             "entity_id": "lim", "actor_type": "SYSTEM", "after_state": {"run_id": "bounded-run"},
             "created_at": start + offset}
            for n, offset in enumerate((timedelta(hours=-3), timedelta(minutes=-30), timedelta(minutes=5)))])
    engine = sa.create_engine(sa_url(pg_url))
    try:
        reader = PostgresLogsReader(engine, pg_url)
        assert [e.id for e in reader.audit_for_run("bounded-run")] == ["ev-2", "ev-1"]
        # A run without a trace row is matched over the whole ledger.
        with b.engine.begin() as conn:
            conn.execute(audit_ledger.insert(), [
                {"id": "ev-x", "tenant_id": "tenant-a", "event_type": "LimitBreached", "entity_type": "LIMIT",
                 "entity_id": "lim", "actor_type": "SYSTEM", "after_state": {"run_id": "no-trace"},
                 "created_at": start - timedelta(days=30)}])
        assert [e.id for e in reader.audit_for_run("no-trace")] == ["ev-x"]
    finally:
        engine.dispose()
        b.close()
