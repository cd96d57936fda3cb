"""Load an upstream SQLite ``traces.db`` into a new Postgres database with the AOS schema.

    python benchmarks/load_pg.py benchmarks/data/large.db postgresql://postgres@127.0.0.1:5432/postgres \\
        --db aos_bench [--force] [--defer-indexes]

Creates the database NAME on the server of PG_URL (``--force`` drops it first if it exists), makes
the AOS schema with :func:`drivers.pg_schema.create_schema` (tables, indexes, upstream's triggers)
and copies, as upstream's Postgres worker would have written them (spec §2.3):

* ``traces`` → ``aos_traces``: ``trace_id = 'trace_' + run_id``; run/correlation/tenant/agent ids,
  status, started/completed/created times copied (``created_at`` is SQLite's UTC
  ``CURRENT_TIMESTAMP``); ``plan``/``metadata`` JSON text → ``jsonb``; ``root_hash`` from the SQLite
  column, else ``'pending'``; ``seed``, ``plan_hash`` and ``frozen_timestamp`` as stored;
  ``schema_version '1.0'``; ``trace '{"steps": []}'``.
* ``trace_steps`` → ``aos_trace_steps``: ``skill_id = skill_name``, JSON payloads → ``jsonb``,
  ``replay_behavior`` defaults to ``'execute'``, ``level`` from the status like upstream's
  ``_status_to_level`` (failure/error → ERROR, retry/retrying → WARN, else INFO), timestamps parsed
  to ``timestamptz`` (a value without an offset is UTC).

Text that is not valid JSON (for ``jsonb``) is stored as a JSON string holding the raw text and
counted. Steps whose run has no row (orphans: upstream's SQLite ``delete_trace`` leaves them) cannot
be loaded because of the foreign key: they are skipped and counted. A value longer than its
``varchar(n)`` column is cut to fit and counted; a row whose ``trace_id`` would not fit is skipped.
An unreadable timestamp is counted and becomes NULL where the column allows it, else the run's other
time (``started_at`` ↔ ``created_at``) or 1970-01-01.

Speed: both tables are filled with binary ``COPY … FROM STDIN (FORMAT binary, FREEZE)`` (psycopg 3
``cursor.copy`` with a queued writer thread, so formatting and sending overlap), in the transaction
that truncates them: rows are written frozen and all-visible (no hint-bit rewrite on the first read,
as in a long-lived, vacuumed database). jsonb goes in its binary form (a version byte and the JSON
text), so nothing is escaped on either side; text COPY was 2× slower on the client. Then both tables
are VACUUM ANALYZEd. Prints rows/s per phase and the total time.

Indexes: by default every index and key of pg_schema is in place during the copy. ``--defer-indexes``
drops the indexes and the primary/unique/foreign keys of the two tables first and rebuilds them
after the copy (one sort per index, one join for the foreign key). Measured on the 2M-step database
with shared_buffers = 1GB it was not faster (184 s against 181 s, all indexes fitting in memory),
only its indexes came out ~100 MB (3 %) smaller; it may pay with less memory.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg
import sqlalchemy as sa
from psycopg import sql
from psycopg.copy import QueuedLibpqWriter

from drivers.pg_schema import aos_trace_steps, aos_traces, create_schema

TABLES = ("aos_traces", "aos_trace_steps")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

TRACE_COLUMNS = ("trace_id", "run_id", "correlation_id", "tenant_id", "agent_id", "seed", "frozen_timestamp",
                 "root_hash", "plan_hash", "schema_version", "plan", "trace", "metadata", "status", "started_at",
                 "completed_at", "created_at")
TRACE_TYPES = ("text", "text", "text", "text", "text", "int8", "text", "text", "text", "text", "bytea", "bytea",
               "bytea", "text", "timestamptz", "timestamptz", "timestamptz")
STEP_COLUMNS = ("trace_id", "step_index", "skill_id", "skill_name", "params", "status", "outcome_category",
                "outcome_code", "outcome_data", "cost_cents", "duration_ms", "retry_count", "input_hash",
                "output_hash", "rng_state_before", "idempotency_key", "replay_behavior", "timestamp", "level")
#: Binary COPY: jsonb goes as ``bytea`` on the client side, i.e. the raw bytes of jsonb's binary
#: input (version 1 + the JSON text), so nothing is escaped on either side.
STEP_TYPES = ("text", "int4", "text", "text", "bytea", "text", "text", "text", "bytea", "float8", "float8", "int4",
              "text", "text", "text", "text", "text", "timestamptz", "text")
TRACE_JSONB = b'\x01{"steps": []}'


def _limits(table, columns) -> dict[int, int]:
    """Position → varchar length for the columns that have one."""
    out = {}
    for i, name in enumerate(columns):
        length = getattr(table.c[name].type, "length", None)
        if length:
            out[i] = length
    return out


TRACE_LIMITS = _limits(aos_traces, TRACE_COLUMNS)
STEP_LIMITS = _limits(aos_trace_steps, STEP_COLUMNS)
TRACE_ID_MAX = aos_traces.c.trace_id.type.length


class Counters:
    def __init__(self) -> None:
        self.runs = 0
        self.steps = 0
        self.orphan_steps = 0
        self.orphan_run_ids: set[str] = set()
        self.bad_json: dict[str, int] = {}
        self.bad_time: dict[str, int] = {}
        self.truncated: dict[str, int] = {}
        self.skipped_long_ids = 0

    def bump(self, bucket: dict[str, int], key: str) -> None:
        bucket[key] = bucket.get(key, 0) + 1


def _reject_constant(name: str):
    raise ValueError(f"{name} is not JSON")


#: jsonb refuses NaN/Infinity, which json.loads accepts. One decoder: json.loads with an argument
#: builds a new one per call.
_DECODER = json.JSONDecoder(parse_constant=_reject_constant)
_strict_loads = _DECODER.decode


def _jsonb_safe(text: str) -> bool:
    """What jsonb refuses beyond invalid JSON: ``\\u0000`` and unpaired surrogates."""
    try:
        json.dumps(_strict_loads(text), ensure_ascii=False).encode("utf-8")  # lone surrogates do not encode
    except (ValueError, UnicodeEncodeError, RecursionError):
        return False
    return "\\u0000" not in text.replace("\\\\", "")


def as_jsonb(text, column: str, counters: Counters) -> bytes | None:
    """JSON text as binary jsonb input (version byte 1, then the text): valid JSON unchanged,
    anything else as a JSON string holding it."""
    if text is None:
        return None
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    elif not isinstance(text, str):  # SQLite is dynamically typed: a number in a TEXT column
        text = str(text)
    try:
        _strict_loads(text)  # a raw NUL or other control character is invalid JSON already
        if "\\u" not in text or _jsonb_safe(text):
            return b"\x01" + text.encode("utf-8")
    except (ValueError, RecursionError):
        pass
    counters.bump(counters.bad_json, column)
    clean = text.replace("\x00", "\ufffd").encode("utf-8", "replace").decode("utf-8")
    return b"\x01" + json.dumps(clean, ensure_ascii=False).encode("utf-8")


def as_time(value, column: str, counters: Counters) -> datetime | None:
    """A SQLite timestamp (ISO 8601 or ``YYYY-MM-DD HH:MM:SS``, naive = UTC) as an aware datetime."""
    if value is None:
        return None
    try:
        dt = datetime.fromisoformat(value) if isinstance(value, str) else datetime.fromtimestamp(float(value), UTC)
    except (ValueError, TypeError, OverflowError, OSError):
        counters.bump(counters.bad_time, column)
        return None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt


def level_of(status) -> str:
    s = str(status).lower() if status is not None else ""
    if s in ("failure", "error"):
        return "ERROR"
    if s in ("retry", "retrying"):
        return "WARN"
    return "INFO"


def fit(row: list, limits: dict[int, int], names: tuple[str, ...], counters: Counters) -> list:
    for i, n in limits.items():
        v = row[i]
        if v is not None and len(v) > n:
            row[i] = v[:n]
            counters.bump(counters.truncated, names[i])
    return row


def _text(v):
    if v is None or isinstance(v, str):
        return v
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


# -- database setup ----------------------------------------------------------------------------


def db_url(server_url: str, name: str) -> str:
    return urlunsplit(urlsplit(server_url)._replace(path="/" + name))


def sa_url(url: str) -> str:
    return "postgresql+psycopg://" + url.split("://", 1)[1]


def create_database(server_url: str, name: str, force: bool) -> None:
    with psycopg.connect(server_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            if not force:
                raise SystemExit(f"database {name} exists on the server (use --force to drop and recreate it)")
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {} ENCODING 'UTF8' TEMPLATE template0").format(sql.Identifier(name)))


def make_schema(url: str) -> None:
    engine = sa.create_engine(sa_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as conn:
            create_schema(conn)
    finally:
        engine.dispose()


def take_down_indexes(conn: psycopg.Connection) -> list[str]:
    """Drop the keys and indexes of the two tables; return the DDL that recreates them, in order."""
    cons = conn.execute(
        "SELECT conname, conrelid::regclass::text, contype, pg_get_constraintdef(oid), conindid "
        "FROM pg_constraint WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('p', 'u', 'f')",
        (list(TABLES),),
    ).fetchall()
    owned = {c[4] for c in cons if c[2] in ("p", "u")}
    idx = conn.execute(
        "SELECT i.indexrelid, c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = ANY(%s::regclass[]) ORDER BY c.relname",
        (list(TABLES),),
    ).fetchall()
    fks = [c for c in cons if c[2] == "f"]
    keys = [c for c in cons if c[2] in ("p", "u")]
    plain = [i for i in idx if i[0] not in owned]
    for name, table, _, _, _ in fks + keys:
        conn.execute(sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(sql.Identifier(table), sql.Identifier(name)))
    for _, name, _ in plain:
        conn.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(name)))
    # Recreate plain (and unique) indexes first: a foreign key needs the unique index it points at.
    ddl = [d for _, _, d in plain]
    ddl += [f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}' for n, t, _, d, _ in keys]
    ddl += [f'ALTER TABLE {t} ADD CONSTRAINT "{n}" {d}' for n, t, _, d, _ in fks]
    return ddl


# -- copying -----------------------------------------------------------------------------------


class Progress:
    def __init__(self, what: str, total: int) -> None:
        self.what, self.total = what, total
        self.t0 = self.last = time.perf_counter()

    def tick(self, done: int) -> None:
        now = time.perf_counter()
        if now - self.last >= 5:
            self.last = now
            rate = done / (now - self.t0)
            eta = (self.total - done) / rate if rate else 0
            print(f"  {self.what}: {done:,}/{self.total:,} ({rate:,.0f} rows/s, ETA {eta:,.0f} s)",
                  file=sys.stderr, flush=True)


def copy_runs(src: sqlite3.Connection, cur: psycopg.Cursor, counters: Counters) -> set[str]:
    total = src.execute("SELECT count(*) FROM traces").fetchone()[0]
    progress = Progress("runs", total)
    loaded: set[str] = set()
    q = ("SELECT run_id, correlation_id, tenant_id, agent_id, seed, frozen_timestamp, root_hash, plan_hash, plan, "
         "metadata, status, started_at, completed_at, created_at FROM traces")
    copy_sql = sql.SQL("COPY aos_traces ({}) FROM STDIN (FORMAT binary, FREEZE)").format(
        sql.SQL(", ").join(map(sql.Identifier, TRACE_COLUMNS)))
    with cur.copy(copy_sql, writer=QueuedLibpqWriter(cur)) as cp:
        cp.set_types(TRACE_TYPES)
        for (run_id, corr, tenant, agent, seed, frozen, root, plan_hash, plan, meta, status,
             started, completed, created) in src.execute(q):
            run_id = _text(run_id)
            if run_id is None or len("trace_" + run_id) > TRACE_ID_MAX:
                counters.skipped_long_ids += 1
                continue
            started_t = as_time(started, "aos_traces.started_at", counters)
            created_t = as_time(created, "aos_traces.created_at", counters)
            if seed is not None and not isinstance(seed, int):
                try:
                    seed = int(seed)
                except (TypeError, ValueError):
                    seed = None
            row = [
                "trace_" + run_id, run_id, _text(corr) or run_id, _text(tenant) or "", _text(agent), seed,
                _text(frozen), _text(root) or "pending", _text(plan_hash), "1.0",
                as_jsonb(plan if plan is not None else "[]", "aos_traces.plan", counters), TRACE_JSONB,
                as_jsonb(meta, "aos_traces.metadata", counters), _text(status) or "running",
                started_t or created_t or EPOCH,
                as_time(completed, "aos_traces.completed_at", counters),
                created_t or started_t or EPOCH,
            ]
            cp.write_row(fit(row, TRACE_LIMITS, TRACE_COLUMNS, counters))
            loaded.add(run_id)
            counters.runs += 1
            if counters.runs % 10_000 == 0:
                progress.tick(counters.runs)
    return loaded


def copy_steps(src: sqlite3.Connection, cur: psycopg.Cursor, runs: set[str], counters: Counters) -> None:
    total = src.execute("SELECT max(id) FROM trace_steps").fetchone()[0] or 0
    progress = Progress("steps (by row id)", total)
    q = ("SELECT id, run_id, step_index, skill_name, params, status, outcome_category, outcome_code, outcome_data, "
         "cost_cents, duration_ms, retry_count, input_hash, output_hash, rng_state_before, idempotency_key, "
         "replay_behavior, timestamp FROM trace_steps ORDER BY id")
    copy_sql = sql.SQL("COPY aos_trace_steps ({}) FROM STDIN (FORMAT binary, FREEZE)").format(
        sql.SQL(", ").join(map(sql.Identifier, STEP_COLUMNS)))
    n = 0
    with cur.copy(copy_sql, writer=QueuedLibpqWriter(cur)) as cp:
        cp.set_types(STEP_TYPES)
        write = cp.write_row
        for (rid, run_id, idx, skill, params, status, cat, code, data, cost, dur, retry, ih, oh, rng, ikey,
             replay, ts) in src.execute(q):
            n += 1
            if n % 20_000 == 0:
                progress.tick(rid)
            if run_id not in runs:
                counters.orphan_steps += 1
                counters.orphan_run_ids.add(run_id)
                continue
            skill = _text(skill) or ""
            row = [
                "trace_" + run_id, int(idx), skill, skill, as_jsonb(params if params is not None else "{}",
                                                             "aos_trace_steps.params", counters),
                _text(status) or "", _text(cat) or "", _text(code),
                as_jsonb(data, "aos_trace_steps.outcome_data", counters),
                float(cost or 0.0), float(dur or 0.0), int(retry or 0), _text(ih), _text(oh), _text(rng), _text(ikey),
                _text(replay) or "execute",
                as_time(ts, "aos_trace_steps.timestamp", counters) or EPOCH, level_of(status),
            ]
            write(fit(row, STEP_LIMITS, STEP_COLUMNS, counters))
            counters.steps += 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("sqlite_db", type=Path, help="upstream-shaped traces.db to read")
    ap.add_argument("pg_url", help="postgresql://user@host:port/any_db of the server (a superuser, or a role that "
                                   "may create databases)")
    ap.add_argument("--db", default="aos_bench", help="database to create on that server (default aos_bench)")
    ap.add_argument("--force", action="store_true", help="drop the database first if it exists")
    ap.add_argument("--defer-indexes", action="store_true",
                    help="drop the two tables' indexes and keys during the copy and rebuild them after it")
    args = ap.parse_args(argv)
    if not args.sqlite_db.exists():
        raise SystemExit(f"{args.sqlite_db}: no such file")

    try:
        return load(args, lenient=False)
    except sqlite3.OperationalError as exc:
        if "decode" not in str(exc):
            raise
        print(f"the SQLite file holds text that is not UTF-8 ({exc}): loading again, with U+FFFD for bad bytes",
              file=sys.stderr)
        return load(args, lenient=True)


def load(args: argparse.Namespace, *, lenient: bool) -> int:
    t_start = time.perf_counter()
    src = sqlite3.connect(f"file:{args.sqlite_db}?mode=ro", uri=True)
    if lenient:
        src.text_factory = lambda b: b.decode("utf-8", "replace")
    src.execute("PRAGMA cache_size=-262144")
    create_database(args.pg_url, args.db, args.force or lenient)
    url = db_url(args.pg_url, args.db)
    make_schema(url)
    t_schema = time.perf_counter()
    counters = Counters()
    phases: list[tuple[str, float, int]] = []
    with psycopg.connect(url) as conn:
        conn.execute("SET TIME ZONE 'UTC'")
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '512MB'")
        ddl = take_down_indexes(conn) if args.defer_indexes else []
        # FREEZE needs the tables truncated in this very transaction (the triggers fire on UPDATE/DELETE only).
        conn.execute("TRUNCATE aos_trace_steps, aos_traces")
        with conn.cursor() as cur:
            t0 = time.perf_counter()
            runs = copy_runs(src, cur, counters)
            phases.append(("copy runs → aos_traces", time.perf_counter() - t0, counters.runs))
            t0 = time.perf_counter()
            copy_steps(src, cur, runs, counters)
            phases.append(("copy steps → aos_trace_steps", time.perf_counter() - t0, counters.steps))
        t0 = time.perf_counter()
        conn.commit()
        phases.append(("commit", time.perf_counter() - t0, 0))
        if ddl:
            t0 = time.perf_counter()
            for stmt in ddl:
                t1 = time.perf_counter()
                conn.execute(stmt)
                conn.commit()
                print(f"  {time.perf_counter() - t1:6.1f} s  {stmt[:110]}", file=sys.stderr, flush=True)
            phases.append(("recreate indexes and keys", time.perf_counter() - t0, 0))
    t0 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        conn.execute("VACUUM (ANALYZE) aos_traces, aos_trace_steps")
        sizes = conn.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('aos_traces')), "
            "pg_size_pretty(pg_total_relation_size('aos_trace_steps')), "
            "pg_size_pretty(pg_database_size(current_database()))").fetchone()
    phases.append(("VACUUM ANALYZE", time.perf_counter() - t0, 0))
    src.close()
    total = time.perf_counter() - t_start

    print(f"loaded {args.sqlite_db} into {url}  (indexes {'built after the copy' if args.defer_indexes else 'in place during the copy'})")
    print(f"  {'create database + schema':30s} {t_schema - t_start:8.1f} s")
    for name, secs, rows in phases:
        rate = f"  {rows / secs:>10,.0f} rows/s  ({rows:,} rows)" if rows else ""
        print(f"  {name:30s} {secs:8.1f} s{rate}")
    rows = counters.runs + counters.steps
    print(f"  {'total':30s} {total:8.1f} s  {rows / total:>10,.0f} rows/s overall ({rows:,} rows)")
    print(f"  sizes: aos_traces {sizes[0]}, aos_trace_steps {sizes[1]}, database {sizes[2]}")
    print(f"  orphan steps skipped: {counters.orphan_steps:,} (of {len(counters.orphan_run_ids):,} run ids without a run row)")
    if counters.skipped_long_ids:
        print(f"  runs skipped, trace_id longer than {TRACE_ID_MAX}: {counters.skipped_long_ids:,}")
    print("  invalid JSON stored as a JSON string: "
          + (", ".join(f"{k} {v:,}" for k, v in sorted(counters.bad_json.items())) or "none"))
    print("  unreadable timestamps: " + (", ".join(f"{k} {v:,}" for k, v in sorted(counters.bad_time.items())) or "none"))
    if counters.truncated:
        print("  values cut to their varchar length: " + ", ".join(f"{k} {v:,}" for k, v in sorted(counters.truncated.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
