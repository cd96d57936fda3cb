"""The step table's reads on real databases (``StepKeysSource``): a run's count and extent by
index lookups, its keys, a page anywhere by keyset, and the next/previous failed or retried step,
on upstream's schema and on foreign ones (gaps, repeated, NULL and text step_index values)."""

from __future__ import annotations

import sqlite3

import pytest

from drivers.sqlite_schema import UPSTREAM_DDL
from inspector.services.steps import read_page, read_row_map, seek_step
from inspector.source import StepKeysSource, StepSeek
from inspector.step_rows import StepExtent

_STEP = ("INSERT INTO trace_steps (run_id, step_index, skill_name, params, status, outcome_category, cost_cents, "
         "duration_ms, retry_count, timestamp) VALUES (?, ?, 'skill', '{}', ?, 'SUCCESS', 1.0, 1.0, ?, "
         "'2026-01-01T00:00:00+00:00')")


def _db(path, steps, *, unique=True):
    """A trace DB with run 'r' and ``steps``: (step_index, status, retry_count) in insert order."""
    ddl = UPSTREAM_DDL
    if not unique:
        ddl = ddl.replace(",\n                    UNIQUE(run_id, step_index)", "").replace(
            "step_index INTEGER NOT NULL", "step_index INTEGER")
    conn = sqlite3.connect(path)
    conn.executescript(ddl)
    conn.execute("INSERT INTO traces (run_id, correlation_id, tenant_id, plan, started_at) "
                 "VALUES ('r', 'c', 't', '[]', '2026-01-01T00:00:00+00:00')")
    conn.executemany(_STEP, [("r", i, s, n) for i, s, n in steps])
    conn.commit()
    conn.close()
    return path


@pytest.fixture
def reader(open_reader, tmp_path):
    made = []

    def make(steps, **kw):
        made.append(None)
        return open_reader(_db(tmp_path / ("t.db" if len(made) == 1 else f"t{len(made)}.db"), steps, **kw))

    return make


def test_upstream_run_is_dense_and_paged_anywhere(reader):
    src = reader([(i, "success", 0) for i in range(2500)])
    assert isinstance(src, StepKeysSource)
    assert src.step_extent("r") == StepExtent(2500, 0, 2499)
    assert src.step_extent("nope") == StepExtent(0, None, None)
    m = read_row_map(src, "r")
    assert m.is_dense and m.count == 2500
    assert [r.step_index for r in read_page(src, "r", m, 2450, 100).rows] == list(range(2450, 2500))
    assert [r.step_index for r in read_page(src, "r", m, 1234, 3).rows] == [1234, 1235, 1236]


def test_gaps_are_read_as_keys(reader):
    keys = [0, 1, 2, 10, 11, 50, 51, 52]
    src = reader([(i, "success", 0) for i in reversed(keys)])
    m = read_row_map(src, "r")
    assert not m.is_dense and m.count == len(keys)
    assert list(src.step_keys("r")) == keys
    assert [r.step_index for r in read_page(src, "r", m, 3, 3).rows] == [10, 11, 50]
    assert m.row_of(50) == 5 and m.row_of(3) is None


def test_foreign_repeats_nulls_and_text_keep_every_row(reader):
    # No UNIQUE(run_id, step_index): a foreign writer repeated 1, left a NULL, stored text.
    src = reader([(0, "success", 0), (1, "success", 0), (1, "failed", 0), (3, "success", 0)], unique=False)
    m = read_row_map(src, "r")  # looks dense: 4 steps from 0 to 3
    assert m.is_dense
    page = read_page(src, "r", m, 0, 10)
    assert not page.row_map.is_dense  # the first page proved it wrong
    assert [r.step_index for r in page.rows] == [0, 1, 1, 3]
    assert [r.step_index for r in read_page(src, "r", page.row_map, 2, 2).rows] == [1, 3]
    src2 = reader([(None, "success", 0), (0, "success", 0), (1, "success", 0), ("x", "failed", 0)], unique=False)
    m2 = read_row_map(src2, "r")
    assert m2.count == 4
    assert [r.status_raw for r in read_page(src2, "r", m2, 1, 3).rows] == ["success", "success", "failed"]
    assert [r.status_raw for r in read_page(src2, "r", m2, 3, 1).rows] == ["failed"]


def test_seek_failures_and_retries_in_sql(reader):
    src = reader([(0, "success", 0), (1, "FAILED", 0), (2, "success", 0), (3, "success", 2), (4, " error\n", 0),
                  (5, "retrying", 0), (6, "weird", 0)])
    assert seek_step(src, "r", None, StepSeek.FAILURE) == 1
    assert seek_step(src, "r", 1, StepSeek.FAILURE) == 4
    assert seek_step(src, "r", 4, StepSeek.FAILURE) is None
    assert seek_step(src, "r", 4, StepSeek.FAILURE, backward=True) == 1
    assert seek_step(src, "r", None, StepSeek.FAILURE, backward=True) == 4
    assert seek_step(src, "r", 0, StepSeek.RETRY) == 3
    assert seek_step(src, "r", 3, StepSeek.RETRY) == 5
    assert seek_step(src, "r", 5, StepSeek.RETRY, backward=True) == 3


def test_seek_ignores_odd_stored_values(reader, tmp_path):
    src = reader([(0, "success", 0), (1, "success", 0)])
    conn = sqlite3.connect(tmp_path / "t.db")
    conn.execute("UPDATE trace_steps SET status = CAST('failed' AS BLOB), retry_count = 'many' WHERE step_index = 0")
    conn.execute("UPDATE trace_steps SET retry_count = 1 WHERE step_index = 1")
    conn.commit()
    conn.close()
    # A BLOB status is not a text status; text in retry_count is not a number of retries.
    assert seek_step(src, "r", None, StepSeek.FAILURE) is None
    assert seek_step(src, "r", None, StepSeek.RETRY) == 1


def test_postgres_extent_keys_pages_and_seek(pg_url):
    from drivers.pg_reader import PostgresTraceReader
    from tests.pgutil import TraceBuilder

    builder = TraceBuilder(pg_url)
    try:
        statuses = ["succeeded"] * 300
        statuses[7] = " FAILED "
        statuses[250] = "error"
        statuses[100] = "retry"
        builder.trace("big", statuses=tuple(statuses))
        reader = PostgresTraceReader(pg_url)
        try:
            assert isinstance(reader, StepKeysSource)
            assert reader.step_extent("big") == StepExtent(300, 0, 299)
            assert list(reader.step_keys("big")) == list(range(300))
            m = read_row_map(reader, "big")
            assert m.is_dense
            assert [r.step_index for r in read_page(reader, "big", m, 295, 10).rows] == list(range(295, 300))
            assert seek_step(reader, "big", None, StepSeek.FAILURE) == 7
            assert seek_step(reader, "big", 7, StepSeek.FAILURE) == 250
            assert seek_step(reader, "big", 250, StepSeek.FAILURE) is None
            assert seek_step(reader, "big", None, StepSeek.FAILURE, backward=True) == 250
            assert seek_step(reader, "big", 0, StepSeek.RETRY) == 100
        finally:
            reader.close()
    finally:
        builder.close()


def test_real_blob_and_huge_step_index_values_keep_every_row(reader):
    odd = [0, 1.5, 2**62, b"\xff", "text"]
    src = reader([(v, "success", 0) for v in odd], unique=False)
    m = read_row_map(src, "r")
    assert m.count == 5 and not m.is_dense
    rows = [r for first in range(5) for r in read_page(src, "r", m, first, 1).rows]
    assert len(rows) == 5  # one row each, in SQLite's order: numbers, text, then BLOBs
    assert m.row_of(2**62) == 2 and m.row_of(0) == 0
