"""A writer for AOS SQLite trace databases with upstream ``SQLiteTraceStore`` semantics (spec §1.5).

It serves the demo generator, the benchmarks, the tests, and people who want to record their own
agent runs into a local ``traces.db``. Semantics kept from upstream, on purpose:

* ``start_trace`` is a plain INSERT: a duplicate run id raises :class:`DuplicateRun`;
* ``record_step`` is ``INSERT OR REPLACE``: re-recording a step index replaces the row (last write
  wins, new row id);
* JSON goes through default ``json.dumps`` (unsorted keys, ``", "``/``": "``, ASCII escapes);
  ``outcome_data`` is NULL when empty; timestamps are ``datetime.isoformat()`` in UTC;
* foreign keys stay off, so deleting a run leaves its steps orphaned.

Upstream's store is async; this one is synchronous (a caller can wrap it in a thread), and takes a
``clock`` so generated databases are reproducible.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from drivers.sqlite_schema import UPSTREAM_DDL, trace_steps, traces

__all__ = ["DuplicateRun", "SQLiteTraceWriter", "StepInput", "utc_now"]


class DuplicateRun(Exception):
    """``start_trace`` for a run id that exists (upstream lets sqlite3.IntegrityError escape)."""


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _status_value(status: Any) -> Any:
    # Upstream passes a TraceStatus enum and stores ``.value``; anything else is stored as given.
    return getattr(status, "value", status)


@dataclass(frozen=True, slots=True)
class StepInput:
    """The arguments of one ``record_step`` call, for batch writes."""

    run_id: str
    step_index: int
    skill_name: str
    params: Mapping[str, Any]
    status: Any
    outcome_category: str
    outcome_code: str | None
    outcome_data: Mapping[str, Any] | None
    cost_cents: float
    duration_ms: float
    retry_count: int = 0


class SQLiteTraceWriter:
    """Writes ``traces`` and ``trace_steps`` exactly as upstream's ``SQLiteTraceStore`` does."""

    def __init__(
        self,
        db_path: str | os.PathLike[str],
        *,
        clock: Callable[[], datetime] = utc_now,
        wal: bool = False,
        synchronous: str | None = None,
    ) -> None:
        self.db_path = Path(db_path)
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._clock = clock
        # URL.create, not an f-string URL: a '?', '#' or '%' in the path must stay part of the file name.
        url = sa.engine.URL.create("sqlite+pysqlite", database=str(self.db_path))
        self.engine: Engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        raw = self.engine.raw_connection()
        try:
            cur = raw.cursor()
            if wal:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.executescript(UPSTREAM_DDL)
            raw.commit()
        finally:
            raw.close()
        self._synchronous = synchronous
        self._conn: sa.Connection | None = None

    # -- connection handling -------------------------------------------------------------------

    @contextmanager
    def _begin(self):
        if self._conn is not None:  # inside bulk(): one transaction for many calls
            yield self._conn
            return
        with self.engine.begin() as conn:
            if self._synchronous:
                conn.exec_driver_sql(f"PRAGMA synchronous={self._synchronous}")
            yield conn

    @contextmanager
    def bulk(self):
        """Group many calls into one transaction (upstream commits each call; the data written is
        the same, only faster). Used by the generators."""
        with self.engine.begin() as conn:
            if self._synchronous:
                conn.exec_driver_sql(f"PRAGMA synchronous={self._synchronous}")
            self._conn = conn
            try:
                yield self
            finally:
                self._conn = None

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> SQLiteTraceWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _now(self) -> str:
        return self._clock().isoformat()

    # -- upstream API --------------------------------------------------------------------------

    def start_trace(
        self,
        run_id: str,
        correlation_id: str,
        tenant_id: str,
        agent_id: str | None,
        plan: Sequence[Mapping[str, Any]],
    ) -> None:
        stmt = sa.insert(traces).values(
            run_id=run_id,
            correlation_id=correlation_id,
            tenant_id=tenant_id,
            agent_id=agent_id,
            plan=json.dumps(plan),
            started_at=self._now(),
            status="running",
        )
        try:
            with self._begin() as conn:
                conn.execute(stmt)
        except sa.exc.IntegrityError as exc:
            # Only the primary key is a duplicate; NOT NULL failures escape as upstream's do.
            if "UNIQUE constraint failed" not in str(exc.orig):
                raise
            raise DuplicateRun(f"run {run_id!r} already exists in {self.db_path}") from exc

    def _step_values(self, s: StepInput) -> dict[str, Any]:
        return {
            "run_id": s.run_id,
            "step_index": s.step_index,
            "skill_name": s.skill_name,
            "params": json.dumps(s.params),
            "status": _status_value(s.status),
            "outcome_category": s.outcome_category,
            "outcome_code": s.outcome_code,
            "outcome_data": json.dumps(s.outcome_data) if s.outcome_data else None,
            "cost_cents": s.cost_cents,
            "duration_ms": s.duration_ms,
            "retry_count": s.retry_count,
            "timestamp": self._now(),
        }

    def record_step(
        self,
        run_id: str,
        step_index: int,
        skill_name: str,
        params: Mapping[str, Any],
        status: Any,
        outcome_category: str,
        outcome_code: str | None,
        outcome_data: Mapping[str, Any] | None,
        cost_cents: float,
        duration_ms: float,
        retry_count: int,
    ) -> None:
        self.record_steps(
            [
                StepInput(run_id, step_index, skill_name, params, status, outcome_category, outcome_code,
                          outcome_data, cost_cents, duration_ms, retry_count)
            ]
        )

    def record_steps(self, steps: Iterable[StepInput]) -> None:
        """Many ``record_step`` calls in one statement (executemany), same semantics."""
        rows = [self._step_values(s) for s in steps]
        if not rows:
            return
        stmt = sa.insert(trace_steps).prefix_with("OR REPLACE")
        with self._begin() as conn:
            conn.execute(stmt, rows)

    def complete_trace(self, run_id: str, status: str, metadata: Mapping[str, Any] | None = None) -> None:
        stmt = (
            sa.update(traces)
            .where(traces.c.run_id == run_id)
            .values(completed_at=self._now(), status=status, metadata=json.dumps(metadata or {}))
        )
        with self._begin() as conn:
            conn.execute(stmt)

    def delete_trace(self, run_id: str) -> bool:
        """Upstream's ``delete_trace``: foreign keys are off, so the steps stay behind (orphans)."""
        with self._begin() as conn:
            return conn.execute(sa.delete(traces).where(traces.c.run_id == run_id)).rowcount > 0

    def update_trace_determinism(
        self,
        run_id: str,
        seed: int | None = None,
        frozen_timestamp: str | None = None,
        root_hash: str | None = None,
        plan_hash: str | None = None,
    ) -> None:
        stmt = (
            sa.update(traces)
            .where(traces.c.run_id == run_id)
            .values(seed=seed, frozen_timestamp=frozen_timestamp, root_hash=root_hash, plan_hash=plan_hash)
        )
        with self._begin() as conn:
            conn.execute(stmt)

    def cleanup_old_traces(self, days: int = 30) -> int:
        # Upstream compares ISO text with a 'T' against SQLite's space-separated datetime() (§1.5).
        with self._begin() as conn:
            result = conn.execute(
                sa.text("DELETE FROM traces WHERE started_at < datetime('now', :ago)"), {"ago": f"-{days} days"}
            )
            return result.rowcount

    # -- raw access for tests and generators (foreign data upstream would never write) -----------

    def execute_raw(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> None:
        with self._begin() as conn:
            conn.exec_driver_sql(sql, params)
