"""Search in step payloads (inspector.services.search) on real SQLite files and a real Postgres:
hits in step order with excerpts, progress, Cancel, hostile stored values; the full-text index in a
temporary cache folder (rebuilt when the source changes, deleted, never beside the source)."""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from drivers.pg_reader import PostgresTraceReader
from drivers.search_index import SQLitePayloadIndex
from drivers.sqlite_reader import SQLiteTraceReader
from drivers.sqlite_writer import SQLiteTraceWriter, StepInput
from inspector.errors import QueryCancelled, UsageError
from inspector.services.search import (
    IndexedSource,
    ScansStepText,
    SearchQuery,
    excerpt_of,
    search_index,
    search_run,
)
from inspector.source import MemorySource
from tests.pgutil import TraceBuilder


def _write(path: Path, runs: dict[str, list[tuple[dict, dict | None, str | None]]]) -> Path:
    with SQLiteTraceWriter(path, clock=lambda: datetime(2026, 11, 1, 12, 0)) as w:
        for rid, steps in runs.items():
            w.start_trace(rid, "c", "t", "a", [{"skill": "x"}])
            w.record_steps([StepInput(rid, i, f"skill.{i % 3}", params, "failure" if code else "success",
                                      "PERMANENT" if code else "SUCCESS", code, data, 1.0, 10.0)
                            for i, (params, data, code) in enumerate(steps)])
            w.complete_trace(rid, "completed")
    return path


@pytest.fixture
def db(tmp_path) -> Path:
    steps = [({"query": f"SELECT {i}", "note": "plain"}, {"rows": i}, None) for i in range(50)]
    steps[7] = ({"city": "Zürich", "say": 'he said "hi"'}, {"ok": True}, None)
    steps[23] = ({"x": 1}, {"error": {"code": "ERR_TIMEOUT", "message": "no response within the deadline"}},
                 "ERR_TIMEOUT")
    steps[41] = ({"customer_id": "cus_42", "amount": 1999}, None, None)
    (tmp_path / "src").mkdir()
    return _write(tmp_path / "src" / "traces.db", {"run-a": steps, "run-b": [({"customer_id": "cus_42"}, None, None)]})


@pytest.fixture
def reader(db):
    r = SQLiteTraceReader(db)
    yield r
    r.close()


def _hits(source, key, text, **kw):
    return [(h.step_index, h.field) for h in search_run(source, key, text, **kw)]


def test_finds_values_keys_and_error_codes_in_step_order_case_insensitively(reader):
    assert isinstance(reader, ScansStepText)
    assert _hits(reader, "run-a", "err_timeout") == [(23, "outcome_data"), (23, "outcome_code")]
    assert _hits(reader, "run-a", "CUSTOMER_ID") == [(41, "params")]  # a key
    assert _hits(reader, "run-a", "1999") == [(41, "params")]  # a value
    assert _hits(reader, "run-a", "deadline") == [(23, "outcome_data")]  # error text
    assert [i for i, _f in _hits(reader, "run-a", "select")] == sorted(set(range(50)) - {7, 23, 41})
    assert _hits(reader, "run-a", "nowhere to be found") == []
    # Another run's steps are not this run's.
    assert _hits(reader, "run-b", "cus_42") == [(0, "params")]


def test_text_as_json_stores_it_is_found_as_typed(reader):
    # json.dumps stores "Zürich" as "Z\u00fcrich" and quotes as \": what the user sees can be typed.
    raw = reader.get_step("run-a", 7).params.raw
    assert "\\u00fc" in raw and '\\"hi\\"' in raw
    assert _hits(reader, "run-a", "zürich") == [(7, "params")]
    assert _hits(reader, "run-a", "ZÜRICH") == [(7, "params")]
    assert _hits(reader, "run-a", 'said "hi"') == [(7, "params")]
    # A '%' or '_' is plain text, not a LIKE wildcard.
    assert _hits(reader, "run-a", "cus%42") == []
    assert _hits(reader, "run-a", "r_timeout") == [(23, "outcome_data"), (23, "outcome_code")]


def test_the_sql_scan_and_the_streamed_read_find_the_same(reader):
    rows = {}
    for step in reader.iter_steps("run-a"):
        rows[step.row.step_index] = step
    memory = MemorySource(reader.info, [reader.get_run("run-a")], {"run-a": list(rows.values())})
    assert not isinstance(memory, ScansStepText)
    for text in ("err_timeout", "zürich", "select 1", 'said "hi"', "1999", "e"):
        assert _hits(memory, "run-a", text) == _hits(reader, "run-a", text, page=7), text


def test_hits_carry_an_excerpt_around_the_match(reader):
    hit = next(h for h in search_run(reader, "run-a", "no response"))
    assert hit.excerpt[hit.start:hit.end].lower() == "no response"
    assert hit.run_id == "run-a" and hit.key == "run-a" and hit.matches == 1
    text = "x" * 100 + "NEEDLE" + "\n" + "y" * 100
    excerpt, start, end = excerpt_of(text, 100, 106)
    assert excerpt.startswith("…") and excerpt.endswith("…") and excerpt[start:end] == "NEEDLE"
    assert "\n" not in excerpt and len(excerpt) < 100


def test_progress_counts_scanned_steps_to_the_total(reader):
    seen = []
    list(search_run(reader, "run-a", "select", progress=lambda d, t: seen.append((d, t)), page=16))
    assert seen[0] == (0, 50) and seen[-1] == (50, 50)
    assert [d for d, _t in seen] == sorted(d for d, _t in seen) and len(seen) == 5


def test_cancel_stops_between_pages(reader):
    pages = []

    def progress(done, total):
        pages.append(done)

    found = []
    with pytest.raises(QueryCancelled):
        for h in search_run(reader, "run-a", "select", progress=progress, cancelled=lambda: len(pages) >= 2, page=10):
            found.append(h.step_index)
    assert found and max(found) < 10  # the first page only


def test_empty_or_malformed_queries_are_usage_errors():
    for text in ("", "   ", "x" * 5000, "a\ud800b"):
        with pytest.raises(UsageError):
            SearchQuery(text)


def test_hostile_stored_values_do_not_crash(tmp_path, reader, db):
    with contextlib.closing(sqlite3.connect(db)) as conn:
        deep = "[" * 5000 + "]" * 5000
        conn.executemany("UPDATE trace_steps SET params = ?, outcome_data = ? WHERE run_id = 'run-a' AND step_index = ?", [
            (b"\xff\xfe needle \x00 blob", None, 0),  # a BLOB, not UTF-8
            (deep + " needle", "null", 1),  # deep JSON
            (12345, 1e308, 2),  # numbers where text belongs
        ])
        # TEXT that is not UTF-8 (a foreign writer): sqlite3 cannot decode it.
        conn.execute("UPDATE trace_steps SET outcome_data = CAST(X'6e6565646c65eda080' AS TEXT) "
                     "WHERE run_id = 'run-a' AND step_index = 3")
        conn.commit()
    reader.refresh()
    found = list(search_run(reader, "run-a", "needle"))
    assert [(h.step_index, h.field) for h in found] == [(0, "params"), (1, "params"), (3, "outcome_data")]
    for h in found:
        h.excerpt.encode("utf-8")  # printable: no lone surrogates
        json.dumps(h.to_json())
    assert _hits(reader, "run-a", "12345") == [(2, "params")]
    assert _hits(reader, "run-a", "e+308") == [(2, "outcome_data")]  # a REAL, as SQLite writes it


# -- Postgres -----------------------------------------------------------------------------------


def test_postgres_runs_are_searched_by_trace(pg_url):
    from drivers.pg_schema import aos_trace_steps

    b = TraceBuilder(pg_url)
    try:
        tid = b.trace("run-p", statuses=())
        steps = [dict(trace_id=tid, step_index=i, skill_id="s", skill_name="s", params={"i": i}, status="succeeded",
                      outcome_category="execution", outcome_code=None, outcome_data=None, cost_cents=1.0,
                      duration_ms=1.0, retry_count=0, replay_behavior="execute") for i in range(30)]
        steps[17].update(outcome_code="ERR_HTTP_503",
                         outcome_data={"error": {"message": "Upstream returned 503 for Zürich"}})
        steps[4].update(params={"deep": [[[[["needle"]]]]]})
        with b.engine.begin() as conn:
            conn.execute(aos_trace_steps.insert(), steps)
    finally:
        b.close()
    reader = PostgresTraceReader(pg_url)
    try:
        assert not isinstance(reader, IndexedSource)
        seen = []
        hits = list(search_run(reader, tid, "zÜrich", progress=lambda d, t: seen.append((d, t))))
        assert [(h.step_index, h.field, h.run_id, h.key) for h in hits] == [(17, "outcome_data", "run-p", tid)]
        assert seen[-1] == (30, 30)
        assert _hits(reader, tid, "err_http_503") == [(17, "outcome_code")]
        assert _hits(reader, tid, "needle") == [(4, "params")]
    finally:
        reader.close()


# -- the index ----------------------------------------------------------------------------------


def _listing(folder: Path) -> set[str]:
    return set(os.listdir(folder))


def test_index_is_built_in_the_cache_folder_and_finds_what_the_run_search_finds(tmp_path, db, reader):
    cache = tmp_path / "cache"
    before = _listing(db.parent)
    index = reader.payload_index(str(cache))
    assert isinstance(index, SQLitePayloadIndex)
    assert index.status().state == "none"
    with pytest.raises(UsageError):
        list(search_index(index, "x"))
    estimate = index.estimate()
    seen = []
    status = index.build(progress=lambda d, t: seen.append((d, t)))
    assert status.ready and status.steps == 51 and seen[-1] == (51, 51)
    assert Path(status.path).parent == cache and status.size_bytes > 0
    assert 0 < status.size_bytes <= estimate * 2
    assert _listing(db.parent) == before  # nothing beside the source
    for text in ("cus_42", "err_timeout", "zürich", 'said "hi"', "select 4", "4"):
        across = [(h.run_id, h.step_index, h.field) for h in search_index(index, text)]
        per_run = [(h.run_id, h.step_index, h.field) for rid in ("run-a", "run-b") for h in search_run(reader, rid, text)]
        assert sorted(across) == sorted(per_run), text
    assert len(list(search_index(index, "select", limit=3))) == 3


def test_index_goes_stale_when_the_source_changes_and_is_rebuilt(tmp_path, db, reader):
    index = reader.payload_index(str(tmp_path / "cache"))
    index.build()
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("UPDATE trace_steps SET params = '{\"fresh\": 1}' WHERE run_id = 'run-b'")
        conn.commit()
    os.utime(db, ns=(0, os.stat(db).st_mtime_ns + 10_000_000))
    assert index.status().state == "stale"
    with pytest.raises(UsageError, match="out of date"):
        list(search_index(index, "fresh"))
    index.build()
    assert index.status().ready
    assert [(h.run_id, h.field) for h in search_index(index, "fresh")] == [("run-b", "params")]


def test_cancelled_build_leaves_nothing_and_delete_removes_the_index(tmp_path, reader):
    cache = tmp_path / "cache"
    index = reader.payload_index(str(cache))
    with pytest.raises(QueryCancelled):
        index.build(cancelled=lambda: True)
    assert index.status().state == "none" and list(cache.iterdir()) == []
    index.build()
    assert index.delete() is True
    assert index.status().state == "none" and list(cache.iterdir()) == []
    assert index.delete() is False


def test_index_of_hostile_values(tmp_path, db, reader):
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("UPDATE trace_steps SET params = ? WHERE run_id = 'run-a' AND step_index = 0",
                     (b"\xff needle",))
        conn.execute("UPDATE trace_steps SET outcome_data = CAST(X'6e6565646c65eda080' AS TEXT) "
                     "WHERE run_id = 'run-a' AND step_index = 3")
        conn.commit()
    index = reader.payload_index(str(tmp_path / "cache"))
    index.build()
    assert [(h.step_index, h.field) for h in search_index(index, "needle")] == [(0, "params"), (3, "outcome_data")]


def test_default_cache_folder_follows_xdg(tmp_path, monkeypatch, db):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    index = SQLitePayloadIndex(db)
    assert Path(index.path).is_relative_to(tmp_path / "xdg" / "aos-trace-inspector")
