"""Postgres runs whose steps carry replay behaviours, idempotency keys and params (the v1.1
columns of ``aos_trace_steps``), and a real Redis client that deletes every key of the test's own
tenant afterwards: for the replay check and idempotency inspector tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from tests.pgutil import sa_url


def write_sqlite_pair(path, original: Sequence[tuple], replay: Sequence[tuple], *, tenant: str = "tenant-a",
                      agent: str = "agent-1"):
    """A SQLite traces.db holding ``orig`` and its replay ``rep``; each step ``(behavior, key,
    outcome_data)``, the behaviours and keys set the way AOS v1.1 stores them, beside upstream's
    SQLite writer (which has no columns for them)."""
    from drivers.sqlite_writer import SQLiteTraceWriter, StepInput

    with SQLiteTraceWriter(path) as w:
        for run_id, steps in (("orig", original), ("rep", replay)):
            w.start_trace(run_id, f"corr-{run_id}", tenant, agent, [])
            w.record_steps(StepInput(run_id, i, f"skill_{i}", {"i": i}, "success", "SUCCESS", None, data, 0.1, 5.0)
                           for i, (_b, _k, data) in enumerate(steps))
            w.complete_trace(run_id, "completed", {"replay_of": "orig"} if run_id == "rep" else None)
            for i, (behavior, key, _data) in enumerate(steps):
                w.execute_raw("UPDATE trace_steps SET replay_behavior = ?, idempotency_key = ? "
                              "WHERE run_id = ? AND step_index = ?", (behavior, key, run_id, i))
    return path


def insert_run(pg_url: str, run_id: str, tenant: str, steps: Sequence[tuple], metadata: dict | None = None) -> None:
    """One trace ``trace_{run_id}``; each step ``(behavior, key, outcome_data[, params])``."""
    from drivers.pg_schema import aos_trace_steps, aos_traces

    engine = sa.create_engine(sa_url(pg_url), poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(aos_traces.insert(), [{
                "trace_id": f"trace_{run_id}", "run_id": run_id, "correlation_id": run_id, "tenant_id": tenant,
                "agent_id": "a", "root_hash": "pending", "schema_version": "1.0", "plan": [], "trace": {"steps": []},
                "status": "completed", "metadata": metadata}])
            if steps:
                conn.execute(aos_trace_steps.insert(), [{
                    "trace_id": f"trace_{run_id}", "step_index": i, "skill_id": "s", "skill_name": f"skill_{i}",
                    "params": step[3] if len(step) > 3 else {"i": i}, "status": "succeeded",
                    "outcome_category": "execution", "outcome_code": "ok", "outcome_data": step[2],
                    "cost_cents": 0.0, "duration_ms": 1.0, "retry_count": 0, "replay_behavior": step[0],
                    "idempotency_key": step[1]} for i, step in enumerate(steps)])
    finally:
        engine.dispose()


def new_tenant() -> str:
    return f"t-{uuid.uuid4().hex[:10]}"


@contextmanager
def redis_client(url: str, tenant: str) -> Iterator[Any]:
    """redis-py on the test server; every key naming ``tenant`` (both layouts) is deleted after."""
    import redis as redis_py

    client = redis_py.Redis.from_url(url, decode_responses=True)
    try:
        yield client
    finally:
        doomed = list(client.scan_iter(match=f"*:{tenant}:*"))  # the tenant is the test's own
        if doomed:
            client.delete(*doomed)
        client.close()


def tenant_keys(client: Any, tenant: str) -> set[str]:
    return set(client.scan_iter(match=f"*{tenant}*"))
