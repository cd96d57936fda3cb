"""Upstream's SQLite trace schema (spec §1.1–1.2): its DDL, and SQLAlchemy Core tables over it.

The database is created from ``UPSTREAM_DDL``, upstream ``SQLiteTraceStore._init_db``'s script
as it is, so that ``sqlite_master`` and ``PRAGMA table_info`` match a real ``traces.db`` to the
byte (SQLAlchemy's own DDL would add ``NOT NULL`` to the primary keys, which upstream's lack).
The Core tables below describe the same columns for the statements we build;
``tests/drivers/test_sqlite_schema.py`` checks both against the spec's column tables.
"""

from __future__ import annotations

from sqlalchemy import (
    INTEGER,
    REAL,
    TEXT,
    Column,
    ForeignKey,
    Index,
    MetaData,
    Table,
    UniqueConstraint,
    text,
)

__all__ = ["metadata", "traces", "trace_steps", "AOS_TABLES", "UPSTREAM_DDL"]

UPSTREAM_DDL = """
                CREATE TABLE IF NOT EXISTS traces (
                    run_id TEXT PRIMARY KEY,
                    correlation_id TEXT NOT NULL,
                    tenant_id TEXT NOT NULL,
                    agent_id TEXT,
                    plan TEXT NOT NULL,
                    plan_hash TEXT,
                    started_at TEXT NOT NULL,
                    completed_at TEXT,
                    status TEXT NOT NULL DEFAULT 'running',
                    metadata TEXT DEFAULT '{}',
                    created_at TEXT DEFAULT CURRENT_TIMESTAMP,
                    -- v1.1 determinism fields
                    seed INTEGER DEFAULT 42,
                    frozen_timestamp TEXT,
                    root_hash TEXT
                );

                CREATE TABLE IF NOT EXISTS trace_steps (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    run_id TEXT NOT NULL,
                    step_index INTEGER NOT NULL,
                    skill_name TEXT NOT NULL,
                    params TEXT NOT NULL,
                    status TEXT NOT NULL,
                    outcome_category TEXT NOT NULL,
                    outcome_code TEXT,
                    outcome_data TEXT,
                    cost_cents REAL NOT NULL,
                    duration_ms REAL NOT NULL,
                    retry_count INTEGER NOT NULL DEFAULT 0,
                    timestamp TEXT NOT NULL,
                    -- v1.1 idempotency fields
                    idempotency_key TEXT,
                    replay_behavior TEXT DEFAULT 'execute',
                    input_hash TEXT,
                    output_hash TEXT,
                    rng_state_before TEXT,
                    FOREIGN KEY (run_id) REFERENCES traces(run_id) ON DELETE CASCADE,
                    UNIQUE(run_id, step_index)
                );

                -- Existing indexes
                CREATE INDEX IF NOT EXISTS idx_traces_tenant ON traces(tenant_id);
                CREATE INDEX IF NOT EXISTS idx_traces_correlation ON traces(correlation_id);
                CREATE INDEX IF NOT EXISTS idx_traces_started ON traces(started_at DESC);
                CREATE INDEX IF NOT EXISTS idx_steps_run ON trace_steps(run_id);

                -- v1.1 indexes for query API
                CREATE INDEX IF NOT EXISTS idx_traces_plan_hash ON traces(plan_hash);
                CREATE INDEX IF NOT EXISTS idx_traces_root_hash ON traces(root_hash);
                CREATE INDEX IF NOT EXISTS idx_traces_seed ON traces(seed);
                CREATE INDEX IF NOT EXISTS idx_traces_agent ON traces(agent_id);
                CREATE INDEX IF NOT EXISTS idx_traces_status ON traces(status);
                CREATE INDEX IF NOT EXISTS idx_steps_idempotency ON trace_steps(idempotency_key);
            """

metadata = MetaData()

traces = Table(
    "traces",
    metadata,
    Column("run_id", TEXT, primary_key=True),
    Column("correlation_id", TEXT, nullable=False),
    Column("tenant_id", TEXT, nullable=False),
    Column("agent_id", TEXT),
    Column("plan", TEXT, nullable=False),
    Column("plan_hash", TEXT),
    Column("started_at", TEXT, nullable=False),
    Column("completed_at", TEXT),
    Column("status", TEXT, nullable=False, server_default=text("'running'")),
    Column("metadata", TEXT, server_default=text("'{}'")),
    Column("created_at", TEXT, server_default=text("CURRENT_TIMESTAMP")),
    Column("seed", INTEGER, server_default=text("42")),
    Column("frozen_timestamp", TEXT),
    Column("root_hash", TEXT),
)

trace_steps = Table(
    "trace_steps",
    metadata,
    Column("id", INTEGER, primary_key=True, autoincrement=True),
    Column("run_id", TEXT, ForeignKey("traces.run_id", ondelete="CASCADE"), nullable=False),
    Column("step_index", INTEGER, nullable=False),
    Column("skill_name", TEXT, nullable=False),
    Column("params", TEXT, nullable=False),
    Column("status", TEXT, nullable=False),
    Column("outcome_category", TEXT, nullable=False),
    Column("outcome_code", TEXT),
    Column("outcome_data", TEXT),
    Column("cost_cents", REAL, nullable=False),
    Column("duration_ms", REAL, nullable=False),
    Column("retry_count", INTEGER, nullable=False, server_default=text("0")),
    Column("timestamp", TEXT, nullable=False),
    Column("idempotency_key", TEXT),
    Column("replay_behavior", TEXT, server_default=text("'execute'")),
    Column("input_hash", TEXT),
    Column("output_hash", TEXT),
    Column("rng_state_before", TEXT),
    UniqueConstraint("run_id", "step_index"),
    sqlite_autoincrement=True,
)

# The same indexes, so that the Core metadata is a complete description (never used to create).
Index("idx_traces_tenant", traces.c.tenant_id)
Index("idx_traces_correlation", traces.c.correlation_id)
Index("idx_traces_started", traces.c.started_at.desc())
Index("idx_steps_run", trace_steps.c.run_id)
Index("idx_traces_plan_hash", traces.c.plan_hash)
Index("idx_traces_root_hash", traces.c.root_hash)
Index("idx_traces_seed", traces.c.seed)
Index("idx_traces_agent", traces.c.agent_id)
Index("idx_traces_status", traces.c.status)
Index("idx_steps_idempotency", trace_steps.c.idempotency_key)

AOS_TABLES = ("traces", "trace_steps")
