"""The SQLite schema we create is upstream's, column for column and index for index (spec §1.1, §1.2)."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import INTEGER, REAL, TEXT

from drivers import sqlite_schema
from drivers.sqlite_writer import SQLiteTraceWriter

# Spec §1.1, written out: (name, type, notnull, dflt_value, pk) as PRAGMA table_info reports them.
# Upstream's `run_id TEXT PRIMARY KEY` has no NOT NULL (SQLite allows NULL in a non-INTEGER key).
SPEC_TRACES = [
    ("run_id", "TEXT", 0, None, 1),
    ("correlation_id", "TEXT", 1, None, 0),
    ("tenant_id", "TEXT", 1, None, 0),
    ("agent_id", "TEXT", 0, None, 0),
    ("plan", "TEXT", 1, None, 0),
    ("plan_hash", "TEXT", 0, None, 0),
    ("started_at", "TEXT", 1, None, 0),
    ("completed_at", "TEXT", 0, None, 0),
    ("status", "TEXT", 1, "'running'", 0),
    ("metadata", "TEXT", 0, "'{}'", 0),
    ("created_at", "TEXT", 0, "CURRENT_TIMESTAMP", 0),
    ("seed", "INTEGER", 0, "42", 0),
    ("frozen_timestamp", "TEXT", 0, None, 0),
    ("root_hash", "TEXT", 0, None, 0),
]

# Spec §1.2, written out the same way.
SPEC_TRACE_STEPS = [
    ("id", "INTEGER", 0, None, 1),
    ("run_id", "TEXT", 1, None, 0),
    ("step_index", "INTEGER", 1, None, 0),
    ("skill_name", "TEXT", 1, None, 0),
    ("params", "TEXT", 1, None, 0),
    ("status", "TEXT", 1, None, 0),
    ("outcome_category", "TEXT", 1, None, 0),
    ("outcome_code", "TEXT", 0, None, 0),
    ("outcome_data", "TEXT", 0, None, 0),
    ("cost_cents", "REAL", 1, None, 0),
    ("duration_ms", "REAL", 1, None, 0),
    ("retry_count", "INTEGER", 1, "0", 0),
    ("timestamp", "TEXT", 1, None, 0),
    ("idempotency_key", "TEXT", 0, None, 0),
    ("replay_behavior", "TEXT", 0, "'execute'", 0),
    ("input_hash", "TEXT", 0, None, 0),
    ("output_hash", "TEXT", 0, None, 0),
    ("rng_state_before", "TEXT", 0, None, 0),
]

# Spec §1.1/§1.2 index lists: name -> (unique, [(column, descending)]).
# `sqlite_autoindex_traces_1` backs the TEXT primary key; `sqlite_autoindex_trace_steps_1` is the
# implicit unique index of UNIQUE(run_id, step_index).
SPEC_INDEXES = {
    "traces": {
        "idx_traces_tenant": (0, [("tenant_id", 0)]),
        "idx_traces_correlation": (0, [("correlation_id", 0)]),
        "idx_traces_started": (0, [("started_at", 1)]),
        "idx_traces_plan_hash": (0, [("plan_hash", 0)]),
        "idx_traces_root_hash": (0, [("root_hash", 0)]),
        "idx_traces_seed": (0, [("seed", 0)]),
        "idx_traces_agent": (0, [("agent_id", 0)]),
        "idx_traces_status": (0, [("status", 0)]),
        "sqlite_autoindex_traces_1": (1, [("run_id", 0)]),
    },
    "trace_steps": {
        "idx_steps_run": (0, [("run_id", 0)]),
        "idx_steps_idempotency": (0, [("idempotency_key", 0)]),
        "sqlite_autoindex_trace_steps_1": (1, [("run_id", 0), ("step_index", 0)]),
    },
}

SPEC_COLUMNS = {"traces": SPEC_TRACES, "trace_steps": SPEC_TRACE_STEPS}


@pytest.fixture(scope="module")
def schema_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("schema") / "traces.db"
    SQLiteTraceWriter(path).close()
    conn = sqlite3.connect(path)
    yield conn
    conn.close()


@pytest.mark.parametrize("table", ["traces", "trace_steps"])
def test_table_info_matches_spec(schema_db, table):
    rows = schema_db.execute(f"PRAGMA table_info({table})").fetchall()
    assert [(name, type_, notnull, dflt, pk) for _cid, name, type_, notnull, dflt, pk in rows] == SPEC_COLUMNS[table]


@pytest.mark.parametrize("table", ["traces", "trace_steps"])
def test_indexes_match_spec(schema_db, table):
    found = {}
    for _seq, name, unique, _origin, _partial in schema_db.execute(f"PRAGMA index_list({table})"):
        # index_xinfo: seqno, cid, name, desc, coll, key; key=0 rows are the rowid tail.
        cols = [(col, desc) for _n, _cid, col, desc, _coll, key in schema_db.execute(f"PRAGMA index_xinfo({name})") if key]
        found[name] = (unique, cols)
    assert found == SPEC_INDEXES[table]


def test_started_index_is_descending(schema_db):
    xinfo = schema_db.execute("PRAGMA index_xinfo(idx_traces_started)").fetchall()
    assert xinfo[0][2:4] == ("started_at", 1)


def test_step_foreign_key_is_declared_but_foreign_keys_stay_off(schema_db):
    fks = schema_db.execute("PRAGMA foreign_key_list(trace_steps)").fetchall()
    assert [(table, src, dst, on_delete) for _id, _seq, table, src, dst, _upd, on_delete, _m in fks] == [
        ("traces", "run_id", "run_id", "CASCADE")
    ]
    assert schema_db.execute("PRAGMA foreign_keys").fetchone() == (0,)


def test_schema_creation_is_idempotent(tmp_path):
    # Upstream runs its DDL on every store construction (CREATE ... IF NOT EXISTS).
    path = tmp_path / "traces.db"
    SQLiteTraceWriter(path).close()
    with SQLiteTraceWriter(path) as w:
        w.start_trace("r", "c", "t", None, [])
    SQLiteTraceWriter(path).close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT run_id FROM traces").fetchall() == [("r",)]
    finally:
        conn.close()


_TYPE_NAMES = {TEXT: "TEXT", INTEGER: "INTEGER", REAL: "REAL"}


def _core_columns(table):
    out = []
    for col in table.columns:
        default = col.server_default.arg.text if col.server_default is not None else None
        out.append((col.name, _TYPE_NAMES[type(col.type)], default, int(col.primary_key)))
    return out


@pytest.mark.parametrize("table", ["traces", "trace_steps"])
def test_core_table_lists_spec_columns_in_order(table):
    core = sqlite_schema.metadata.tables[table]
    assert _core_columns(core) == [(name, type_, dflt, pk) for name, type_, _nn, dflt, pk in SPEC_COLUMNS[table]]
    # SQLAlchemy makes primary keys NOT NULL by itself; every other column must match the spec.
    assert [(c.name, int(not c.nullable)) for c in core.columns if not c.primary_key] == [
        (name, nn) for name, _t, nn, _d, pk in SPEC_COLUMNS[table] if not pk
    ]


def test_core_metadata_describes_the_same_indexes():
    for table, indexes in SPEC_INDEXES.items():
        core = sqlite_schema.metadata.tables[table]
        described = {}
        for idx in core.indexes:
            cols = []
            for expr in idx.expressions:
                desc = int(getattr(expr, "modifier", None) is not None and expr.modifier.__name__ == "desc_op")
                cols.append((getattr(expr, "element", expr).name, desc))
            described[idx.name] = (int(bool(idx.unique)), cols)
        expected = {k: v for k, v in indexes.items() if not k.startswith("sqlite_autoindex")}
        assert described == expected
    steps = sqlite_schema.trace_steps
    uniques = [c for c in steps.constraints if c.__class__.__name__ == "UniqueConstraint"]
    assert [[c.name for c in u.columns] for u in uniques] == [["run_id", "step_index"]]
    assert [fk.target_fullname for fk in steps.c.run_id.foreign_keys] == ["traces.run_id"]


def test_upstream_ddl_matches_core_tables_when_executed(tmp_path):
    """The DDL text and the Core tables agree: each set of column names equals the other."""
    conn = sqlite3.connect(tmp_path / "ddl.db")
    try:
        conn.executescript(sqlite_schema.UPSTREAM_DDL)
        for table in sqlite_schema.AOS_TABLES:
            names = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
            assert names == [c.name for c in sqlite_schema.metadata.tables[table].columns]
    finally:
        conn.close()
