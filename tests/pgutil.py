"""Real Postgres and Redis for the tests: servers named by environment variables.

``.ci/run`` and ``make test`` start a throwaway Postgres and Redis on loopback ports and export
``TRACE_INSPECTOR_PG_URL`` (a superuser URL) and ``TRACE_INSPECTOR_REDIS_URL``. A missing
server fails the test with a message saying how to run it; nothing is skipped.

Each test that asks for ``pg_url`` gets a database of its own, cloned from a template holding the
AOS schema (a clone takes ~0.1 s), and dropped afterwards.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import pytest
import sqlalchemy as sa

PG_ENV = "TRACE_INSPECTOR_PG_URL"
REDIS_ENV = "TRACE_INSPECTOR_REDIS_URL"
_counter = itertools.count()


def require_service(env: str) -> str:
    url = os.environ.get(env)
    if url:
        return url
    # Never a skip: a test that did not run proves nothing, and CI must run every one of them.
    pytest.fail(f"{env} is not set: run the tests with `make test`, which starts a throwaway server "
                "(or source .ci/services.sh and call start_postgres DIR / start_redis)")


def with_database(url: str, dbname: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + dbname))


def sa_url(url: str) -> str:
    """The SQLAlchemy URL (psycopg 3 driver) for a libpq URL."""
    return "postgresql+psycopg://" + url.split("://", 1)[1]


class PgServer:
    """The test server: creates and drops databases, and a template with the AOS schema."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.admin = sa.create_engine(sa_url(url), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        self.prefix = f"ti_{os.getpid()}"
        self._templates: dict[tuple, str] = {}

    def new_name(self, kind: str = "db") -> str:
        return f"{self.prefix}_{kind}_{next(_counter)}"

    def create(self, *, template: str | None = None) -> str:
        name = self.new_name()
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return name

    def drop(self, name: str) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def template(self, **schema_options) -> str:
        """A template database holding the AOS schema made with these ``create_schema`` options."""
        key = tuple(sorted(schema_options.items()))
        if key not in self._templates:
            from drivers.pg_schema import create_schema

            name = self.create()
            engine = sa.create_engine(sa_url(with_database(self.url, name)), poolclass=sa.pool.NullPool)
            with engine.begin() as conn:
                create_schema(conn, **schema_options)
            engine.dispose()
            self._templates[key] = name
        return self._templates[key]

    def close(self) -> None:
        for name in self._templates.values():
            self.drop(name)
        self.admin.dispose()


def restart_server(stop_seconds: float = 0.0) -> None:
    """Stop the test server (fast shutdown, dropping every connection), wait, and start it again:
    what a user sees when the team's Postgres restarts mid-session. Needs the data folder that
    ``.ci/services.sh`` exports."""
    import subprocess
    import time

    data = os.environ.get("TRACE_INSPECTOR_PG_DATA")
    pg_bin = os.environ.get("TRACE_INSPECTOR_PG_BIN")
    if not data or not pg_bin:
        pytest.fail("TRACE_INSPECTOR_PG_DATA/_BIN not set: restarting needs a server started by "
                    ".ci/services.sh (make test does that)")
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    ctl = prefix + [os.path.join(pg_bin, "pg_ctl"), "-D", data]
    cwd = os.path.dirname(data)
    subprocess.run(ctl + ["-m", "fast", "-w", "stop"], check=True, cwd=cwd, capture_output=True)
    try:
        time.sleep(stop_seconds)
    finally:
        subprocess.run(ctl + ["-w", "-l", os.path.join(cwd, "server.log"), "start"], check=True, cwd=cwd,
                       capture_output=True)


#: Where a :class:`TraceBuilder`'s own clock starts: after every time the tests pin (2026-11-29 …),
#: as the server's ``now()`` was when the tests were written, but fixed, so no outcome depends on
#: the day the tests run (a trace pinned to 2026-11-30 beside one stamped ``now()`` turned CI red
#: on every run from 2026-12-01 on).
BUILDER_EPOCH = datetime(2030, 1, 1, tzinfo=UTC)


def ticking_clock(start: datetime = BUILDER_EPOCH, step: timedelta = timedelta(seconds=1)) -> Callable[[], datetime]:
    """A clock that gives ``start``, then one ``step`` later at each call: later writes are newer."""
    ticks = itertools.count()
    return lambda: start + step * next(ticks)


class TraceBuilder:
    """Writes AOS-shaped traces and steps into a test database with plain Core inserts.

    Times are never the server's ``now()``: ``created_at`` defaults to ``started_at`` (a trace is
    stored when its run starts), and a trace given neither takes both from ``clock`` (by default
    :func:`ticking_clock`), so traces written later are newer, whatever the date."""

    def __init__(self, url: str, *, clock: Callable[[], datetime] | None = None) -> None:
        self.engine = sa.create_engine(sa_url(url), poolclass=sa.pool.NullPool)
        self.clock = clock or ticking_clock()

    def trace(self, run_id: str, *, trace_id: str | None = None, tenant_id: str = "tenant-a",
              agent_id: str | None = "agent-1", status: str = "completed", started_at=None,
              created_at=None, metadata=None, archived_at=None, statuses=("succeeded",),
              costs=None, root_hash: str = "pending", plan=None) -> str:
        from drivers.pg_schema import aos_trace_steps, aos_traces

        trace_id = trace_id or f"trace_{run_id}"
        row = dict(trace_id=trace_id, run_id=run_id, correlation_id=f"corr-{run_id}", tenant_id=tenant_id,
                   agent_id=agent_id, root_hash=root_hash, schema_version="1.0",
                   plan=plan if plan is not None else [{"skill": "json_transform"}], trace={"steps": []},
                   status=status, metadata=metadata)
        if started_at is None:
            started_at = created_at if created_at is not None else self.clock()
        if created_at is None:
            created_at = started_at
        for key, value in (("started_at", started_at), ("created_at", created_at), ("archived_at", archived_at)):
            if value is not None:
                row[key] = value
        steps = [
            dict(trace_id=trace_id, step_index=i, skill_id=f"skill_{i}", skill_name=f"skill_{i}",
                 params={"i": i}, status=st, outcome_category="execution", outcome_code=st,
                 outcome_data={"out": i} if i % 2 == 0 else None,
                 cost_cents=(costs[i] if costs else 1.0), duration_ms=10.0 * (i + 1), retry_count=0,
                 replay_behavior="execute")
            for i, st in enumerate(statuses)
        ]
        with self.engine.begin() as conn:
            conn.execute(aos_traces.insert(), [row])
            if steps:
                conn.execute(aos_trace_steps.insert(), steps)
        return trace_id

    def execute(self, sql: str, **params) -> None:
        with self.engine.begin() as conn:
            conn.execute(sa.text(sql), params)

    def close(self) -> None:
        self.engine.dispose()
