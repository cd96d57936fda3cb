"""Ledger reads over 1,000,000 audit rows: PostgresLogsReader beside a bare psycopg cursor.

    source /tmp/devenv.sh   # or any superuser URL in TRACE_INSPECTOR_PG_URL
    .venv/bin/python benchmarks/bench_ledger.py bench_ledger [--rows N] [--reuse] [--drop]

Creates the scratch database NAME on the server of ``TRACE_INSPECTOR_PG_URL`` (dropped first
unless ``--reuse`` finds it filled), makes the AOS schema with ``drivers.pg_schema`` (upstream's
indexes only), fills ``audit_ledger`` with one ``INSERT … SELECT generate_series`` and VACUUM
ANALYZEs it, as autovacuum would. Then times each read through the reader (``make_engine``'s
read-only pooled engine) and the very same SQL and parameters (caught by the reader's tracer)
through a bare psycopg cursor: the floor the driver can approach. "cold" is the first call on a
reader on a new engine (its connection opened by the reader's catalogue probe, no statement
prepared yet); "warm" the median of the calls after it. The server's shared buffers (128 MB by
default) do not hold the 280 MB table, so reads that visit many rows go to the OS page cache.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC
from functools import partial
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg
import sqlalchemy as sa

from drivers.pg_common import PgLocation, make_engine
from drivers.pg_logs import LEDGER_VALUE_FIELDS, PostgresLogsReader
from drivers.pg_schema import create_schema
from inspector.logs import LedgerFilter

TENANTS = 20
WARM_RUNS = 9

FILL_SQL = """
INSERT INTO audit_ledger (id, tenant_id, event_type, entity_type, entity_id, actor_type, actor_id,
                          action_reason, before_state, after_state, created_at, correlation_id)
SELECT CAST(md5(CAST(g AS text)) AS uuid)::text,
       'tenant-' || lpad(CAST(g %% {tenants} AS text), 2, '0'),
       (ARRAY['PolicyRuleCreated','PolicyRuleModified','PolicyRuleRetired','LimitCreated','LimitUpdated',
              'LimitBreached','PolicyProposalApproved','PolicyProposalRejected','IncidentAcknowledged',
              'IncidentResolved','SignalAcknowledged','SignalEscalated'])[1 + CAST(floor(r.e * 12) AS int)],
       (ARRAY['POLICY_RULE','POLICY_RULE','POLICY_RULE','LIMIT','LIMIT','LIMIT','POLICY_PROPOSAL',
              'POLICY_PROPOSAL','INCIDENT','INCIDENT','SIGNAL','SIGNAL'])[1 + CAST(floor(r.e * 12) AS int)],
       'ent-' || CAST(g %% 5000 AS text),
       CASE WHEN r.a < 0.5 THEN 'SYSTEM' WHEN r.a < 0.8 THEN 'HUMAN' ELSE 'AGENT' END,
       CASE WHEN r.a < 0.35 THEN NULL
            WHEN r.a < 0.5 THEN 'scheduler-' || CAST(CAST(r.a * 100 AS int) %% 5 AS text)
            WHEN r.a < 0.8 THEN 'user-' || CAST(CAST(r.a * 100000 AS int) %% 500 AS text)
            ELSE 'agent-' || CAST(CAST(r.a * 100000 AS int) %% 200 AS text) END,
       'reason ' || CAST(g AS text),
       CASE WHEN r.e BETWEEN 0.08 AND 0.25 THEN jsonb_build_object('limit', g %% 1000, 'run_id', 'run-' || CAST(g / 7 AS text)) END,
       jsonb_build_object('run_id', 'run-' || CAST(g / 7 AS text), 'value', g, 'note', repeat('x', 40)),
       timestamptz '2026-01-01 00:00:00+00' + make_interval(secs => g / 60),
       'corr-' || CAST(g / 7 AS text)
FROM generate_series(1, {rows}) AS g,
     LATERAL (SELECT random() AS e, random() AS a OFFSET 0 * g) AS r
"""


def admin_url(url: str, dbname: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + dbname))


def sa_url(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1]


def fill(server_url: str, name: str, rows: int, reuse: bool) -> str:
    url = admin_url(server_url, name)
    admin = sa.create_engine(sa_url(server_url), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            exists = conn.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %(n)s", {"n": name}).first()
        if exists and reuse:
            engine = sa.create_engine(sa_url(url), poolclass=sa.pool.NullPool)
            try:
                with engine.connect() as conn:
                    have = conn.exec_driver_sql("SELECT count(*) FROM audit_ledger").scalar()
            except sa.exc.SQLAlchemyError:
                have = -1
            finally:
                engine.dispose()
            if have == rows:
                print(f"reusing {name}: {have:,} audit rows")
                return url
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.dispose()
    engine = sa.create_engine(sa_url(url), poolclass=sa.pool.NullPool)
    try:
        t0 = time.perf_counter()
        with engine.begin() as conn:
            create_schema(conn)
            conn.exec_driver_sql(
                "INSERT INTO tenants (id, name) SELECT 'tenant-' || lpad(CAST(g AS text), 2, '0'), 'Tenant ' || g "
                f"FROM generate_series(0, {TENANTS - 1}) g"
            )
            conn.exec_driver_sql("SELECT setseed(0.42)")
            conn.exec_driver_sql(FILL_SQL.format(rows=int(rows), tenants=TENANTS))
        t1 = time.perf_counter()
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
        t2 = time.perf_counter()
    finally:
        engine.dispose()
    print(f"filled {name}: {rows:,} audit rows in {t1 - t0:.1f} s, VACUUM ANALYZE {t2 - t1:.1f} s")
    return url


def median_ms(fn, runs: int = WARM_RUNS) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


class Caught:
    """The reader's tracer: keeps the last statement, to replay it through bare psycopg."""

    def __init__(self) -> None:
        self.sql: str | None = None
        self.params: dict = {}

    def __call__(self, sql, params) -> None:
        self.sql, self.params = sql, dict(params)


def raw_floor(url: str, sql: str, params: dict) -> tuple[float, float]:
    """Cold (first execution on a new connection, connecting excluded) and warm median, ms."""
    with psycopg.connect(url, options="-c default_transaction_read_only=on") as conn:
        def once() -> None:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                cur.fetchall()
            conn.rollback()

        t0 = time.perf_counter()
        once()
        cold = (time.perf_counter() - t0) * 1000
        return cold, median_ms(once)


def measure(url: str, label: str, call) -> tuple[str, float, float, float, float, int]:
    """``call(reader)`` on a new engine (cold), then warm; and the same SQL raw. The timed reader
    has no tracer (compiling for it costs time); a second one on the same engine catches the SQL."""
    engine = make_engine(PgLocation(url))
    try:
        reader = PostgresLogsReader(engine, PgLocation(url).display)
        t0 = time.perf_counter()
        result = call(reader)
        cold = (time.perf_counter() - t0) * 1000
        warm = median_ms(lambda: call(reader))
        caught = Caught()
        call(PostgresLogsReader(engine, PgLocation(url).display, tracer=caught))
    finally:
        engine.dispose()
    n = len(result.events) if hasattr(result, "events") else len(result)
    raw_cold, raw_warm = raw_floor(url, caught.sql, caught.params)
    return label, cold, warm, raw_cold, raw_warm, n


def deep_cursor(url: str, flt: LedgerFilter, pages: int) -> tuple[str, str]:
    """The cursor after ``pages`` pages of 200: reached by paging, as a user scrolling would."""
    engine = make_engine(PgLocation(url))
    try:
        with engine.connect() as conn:
            # Jump straight to the row at that depth instead of paging there (same cursor).
            q = "SELECT created_at, id FROM audit_ledger"
            params: dict = {"off": pages * 200 - 1}
            if flt.tenant_id:
                q += " WHERE tenant_id = %(t)s"
                params["t"] = flt.tenant_id
            q += " ORDER BY created_at DESC, id DESC OFFSET %(off)s LIMIT 1"
            row = conn.exec_driver_sql(q, params).first()
    finally:
        engine.dispose()
    return row[0].astimezone(UTC).isoformat(), row[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database", help="scratch database to (re)create on the server")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep an already filled database")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    args = parser.parse_args(argv)
    server = os.environ.get("TRACE_INSPECTOR_PG_URL")
    if not server:
        print("TRACE_INSPECTOR_PG_URL is not set (source /tmp/devenv.sh, or run under `make test`)", file=sys.stderr)
        return 2
    url = fill(server, args.database, args.rows, args.reuse)

    engine = make_engine(PgLocation(url))
    try:
        t0 = time.perf_counter()
        PostgresLogsReader(engine, "bench")
        probe_ms = (time.perf_counter() - t0) * 1000
    finally:
        engine.dispose()

    tenant = LedgerFilter(tenant_id="tenant-07")
    deep_pages = (args.rows // TENANTS) // 200 // 2
    deep = deep_cursor(url, tenant, deep_pages)
    deep_all = deep_cursor(url, LedgerFilter(), args.rows // 200 // 2)
    cases = [
        ("list_ledger first page, one tenant", lambda r: r.list_ledger(tenant)),
        ("list_ledger first page, all tenants", lambda r: r.list_ledger(LedgerFilter())),
        ("list_ledger filtered (tenant+event_type)",
         lambda r: r.list_ledger(LedgerFilter(tenant_id="tenant-07", event_type="LimitBreached"))),
        ("list_ledger filtered (tenant+actor)",
         lambda r: r.list_ledger(LedgerFilter(tenant_id="tenant-07", actor="user-42"))),
        ("list_ledger filtered (all tenants, entity_type)",
         lambda r: r.list_ledger(LedgerFilter(entity_type="INCIDENT"))),
        ("list_ledger filtered (all tenants, actor)", lambda r: r.list_ledger(LedgerFilter(actor="user-42"))),
        ("list_ledger filtered (all tenants, since/until)",
         lambda r: r.list_ledger(LedgerFilter(since="2026-01-01T02:00:00Z", until="2026-01-01T02:30:00Z"))),
        ("list_ledger filtered (since/until, one tenant)",
         lambda r: r.list_ledger(LedgerFilter(tenant_id="tenant-07", since="2026-01-01T02:00:00Z",
                                              until="2026-01-01T02:30:00Z"))),
        (f"list_ledger deep page ({deep_pages:,}), one tenant", lambda r: r.list_ledger(tenant, cursor=deep)),
        (f"list_ledger deep page ({args.rows // 400:,}), all tenants",
         lambda r: r.list_ledger(LedgerFilter(), cursor=deep_all)),
        *[(f"ledger_values({f})", partial(PostgresLogsReader.ledger_values, field=f)) for f in LEDGER_VALUE_FIELDS],
        *[(f"ledger_values({f}, method={m})", partial(PostgresLogsReader.ledger_values, field=f, method=m))
          for f in ("event_type", "actor_id") for m in ("skip", "distinct")],
        ("audit_for_run (tenant)", lambda r: r.audit_for_run("run-70000", "tenant-00")),
        ("audit_for_run (no tenant)", lambda r: r.audit_for_run("run-70000")),
    ]
    print(f"\n{args.rows:,} audit rows, {TENANTS} tenants; PostgreSQL "
          f"{psycopg.connect(url).info.server_version}; reader set-up (catalogue probe) {probe_ms:.1f} ms")
    head = f"{'read':<48} {'rows':>5} {'cold':>9} {'warm':>9} {'raw cold':>9} {'raw warm':>9}"
    print(head)
    print("-" * len(head))
    for label, cold, warm, raw_cold, raw_warm, n in (measure(url, label, call) for label, call in cases):
        print(f"{label:<48} {n:>5} {cold:>7.1f}ms {warm:>7.1f}ms {raw_cold:>7.1f}ms {raw_warm:>7.1f}ms")

    if args.drop:
        admin = sa.create_engine(sa_url(server), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
