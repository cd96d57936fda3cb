"""SQLiteTraceWriter writes exactly what upstream's SQLiteTraceStore writes (spec §1.3, §1.5)."""

from __future__ import annotations

import enum
import re
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from drivers.sqlite_writer import DuplicateRun, SQLiteTraceWriter, StepInput

STEP_ARGS = dict(
    skill_name="json_transform",
    params={"a": 1},
    status="success",
    outcome_category="SUCCESS",
    outcome_code=None,
    outcome_data={"ok": True},
    cost_cents=0.5,
    duration_ms=12.0,
    retry_count=0,
)


def fetch(path, sql, params=()):
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def record(writer, run_id, step_index, **overrides):
    args = {**STEP_ARGS, **overrides}
    writer.record_step(run_id, step_index, **args)


def test_start_trace_row_matches_the_spec_sample(writer, db_path):
    writer.start_trace("run_abc", "corr-1", "t1", None, [{"skill": "x"}])
    writer.complete_trace("run_abc", "completed")
    (row,) = fetch(db_path, "SELECT * FROM traces")
    names = [r[1] for r in fetch(db_path, "PRAGMA table_info(traces)")]
    got = dict(zip(names, row))
    created_at = got.pop("created_at")
    # Spec §1.3's sample row (created_at comes from SQLite's clock, checked separately).
    assert got == {
        "run_id": "run_abc",
        "correlation_id": "corr-1",
        "tenant_id": "t1",
        "agent_id": None,
        "plan": '[{"skill": "x"}]',
        "plan_hash": None,
        "started_at": "2026-11-29T05:53:15.003803+00:00",
        "completed_at": "2026-11-29T05:53:16.003803+00:00",
        "status": "completed",
        "metadata": "{}",
        "seed": 42,
        "frozen_timestamp": None,
        "root_hash": None,
    }
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", created_at)
    # CURRENT_TIMESTAMP is UTC wall time, not the injected clock.
    written = datetime.strptime(created_at, "%Y-%m-%d %H:%M:%S").replace(tzinfo=timezone.utc)
    assert abs(datetime.now(timezone.utc) - written) < timedelta(minutes=5)


def test_start_trace_leaves_running_status_and_default_metadata(writer, db_path):
    writer.start_trace("r1", "c", "t", "agent", [])
    assert fetch(db_path, "SELECT status, metadata, completed_at, seed FROM traces") == [("running", "{}", None, 42)]


def test_duplicate_start_trace_raises_and_keeps_the_first_row(writer, db_path):
    writer.start_trace("r1", "c1", "t1", None, [])
    with pytest.raises(DuplicateRun, match="r1"):
        writer.start_trace("r1", "c2", "t2", None, [])
    assert fetch(db_path, "SELECT correlation_id, tenant_id FROM traces") == [("c1", "t1")]


def test_not_null_violation_is_not_reported_as_duplicate(writer):
    with pytest.raises(sa.exc.IntegrityError, match="NOT NULL"):
        writer.start_trace("r1", "c1", None, None, [])


def test_record_step_replaces_same_index_last_write_wins(writer, db_path):
    writer.start_trace("r1", "c", "t", None, [])
    record(writer, "r1", 0, skill_name="first", status="failure")
    record(writer, "r1", 1)
    (first_id,) = fetch(db_path, "SELECT id FROM trace_steps WHERE step_index = 0")[0]
    record(writer, "r1", 0, skill_name="second", status="success")
    rows = fetch(db_path, "SELECT id, step_index, skill_name, status FROM trace_steps ORDER BY step_index")
    assert [(r[1], r[2], r[3]) for r in rows] == [(0, "second", "success"), (1, "json_transform", "success")]
    assert rows[0][0] > first_id  # the old row was deleted and a new one inserted


def test_record_steps_batch_applies_replace_in_order(writer, db_path):
    writer.start_trace("r1", "c", "t", None, [])
    writer.record_steps(
        [
            StepInput("r1", 0, "a", {}, "success", "SUCCESS", None, None, 1.0, 1.0),
            StepInput("r1", 0, "b", {}, "failure", "PERMANENT", "E1", None, 2.0, 2.0),
        ]
    )
    assert fetch(db_path, "SELECT skill_name, status, outcome_code FROM trace_steps") == [("b", "failure", "E1")]


def test_record_steps_with_nothing_writes_nothing(writer, db_path):
    writer.record_steps([])
    assert fetch(db_path, "SELECT COUNT(*) FROM trace_steps") == [(0,)]


@pytest.mark.parametrize(
    ("outcome_data", "stored"),
    [
        (None, None),
        ({}, None),  # upstream's falsy check: an empty dict is stored as NULL too
        ({"ok": True}, '{"ok": true}'),
        ({"mock": True, "n": 0}, '{"mock": true, "n": 0}'),
    ],
)
def test_outcome_data_null_when_empty(writer, db_path, outcome_data, stored):
    writer.start_trace("r1", "c", "t", None, [])
    record(writer, "r1", 0, outcome_data=outcome_data)
    assert fetch(db_path, "SELECT outcome_data FROM trace_steps") == [(stored,)]


@pytest.mark.parametrize(
    ("params", "stored"),
    [
        ({"a": 1}, '{"a": 1}'),
        ({"b": 1, "a": 2}, '{"b": 1, "a": 2}'),  # keys not sorted
        ({"name": "café ☕"}, '{"name": "caf\\u00e9 \\u2615"}'),  # ensure_ascii
        ({"x": [1, 2.5, None, False]}, '{"x": [1, 2.5, null, false]}'),
        ({}, "{}"),
    ],
)
def test_json_uses_default_json_dumps(writer, db_path, params, stored):
    writer.start_trace("r1", "c", "t", None, [params])
    record(writer, "r1", 0, params=params)
    assert fetch(db_path, "SELECT params FROM trace_steps") == [(stored,)]
    assert fetch(db_path, "SELECT plan FROM traces") == [(f"[{stored}]",)]


def test_timestamps_come_from_the_injected_clock_in_iso_utc(writer, db_path, clock):
    writer.start_trace("r1", "c", "t", None, [])
    record(writer, "r1", 0)
    record(writer, "r1", 1)
    writer.complete_trace("r1", "completed")
    assert clock.calls == 4
    assert fetch(db_path, "SELECT started_at, completed_at FROM traces") == [
        ("2026-11-29T05:53:15.003803+00:00", "2026-11-29T05:53:18.003803+00:00")
    ]
    assert fetch(db_path, "SELECT timestamp FROM trace_steps ORDER BY step_index") == [
        ("2026-11-29T05:53:16.003803+00:00",),
        ("2026-11-29T05:53:17.003803+00:00",),
    ]


def test_whole_second_timestamps_omit_microseconds(tmp_path):
    at = datetime(2026, 11, 29, 5, 53, 15, tzinfo=timezone.utc)
    with SQLiteTraceWriter(tmp_path / "t.db", clock=lambda: at) as w:
        w.start_trace("r1", "c", "t", None, [])
    assert fetch(tmp_path / "t.db", "SELECT started_at FROM traces") == [("2026-11-29T05:53:15+00:00",)]


def test_v11_step_columns_are_never_written(writer, db_path):
    writer.start_trace("r1", "c", "t", None, [])
    record(writer, "r1", 0)
    assert fetch(
        db_path,
        "SELECT idempotency_key, replay_behavior, input_hash, output_hash, rng_state_before FROM trace_steps",
    ) == [(None, "execute", None, None, None)]


def test_step_row_holds_every_argument(writer, db_path):
    writer.start_trace("r1", "c", "t", None, [])
    writer.record_step("r1", 3, "http_call", {"url": "x"}, "retry", "TRANSIENT", "ERR_HTTP_503", {"attempt": 2},
                       1.25, 250.5, 2)
    assert fetch(
        db_path,
        "SELECT run_id, step_index, skill_name, params, status, outcome_category, outcome_code, outcome_data, "
        "cost_cents, duration_ms, retry_count FROM trace_steps",
    ) == [("r1", 3, "http_call", '{"url": "x"}', "retry", "TRANSIENT", "ERR_HTTP_503", '{"attempt": 2}', 1.25, 250.5, 2)]


class TraceStatus(str, enum.Enum):  # upstream's step status enum (spec §1.7)
    SUCCESS = "success"
    FAILURE = "failure"


def test_status_enum_is_stored_as_its_value(writer, db_path):
    writer.start_trace("r1", "c", "t", None, [])
    record(writer, "r1", 0, status=TraceStatus.FAILURE)
    assert fetch(db_path, "SELECT status FROM trace_steps") == [("failure",)]


@pytest.mark.parametrize(("metadata", "stored"), [(None, "{}"), ({}, "{}"), ({"replay_of": "r0", "dry_run": False},
                                                                          '{"replay_of": "r0", "dry_run": false}')])
def test_complete_trace_metadata(writer, db_path, metadata, stored):
    writer.start_trace("r1", "c", "t", None, [])
    writer.complete_trace("r1", "failed", metadata)
    assert fetch(db_path, "SELECT status, metadata FROM traces") == [("failed", stored)]


def test_delete_trace_leaves_orphan_steps(writer, db_path):
    writer.start_trace("r1", "c", "t", None, [])
    record(writer, "r1", 0)
    record(writer, "r1", 1)
    assert writer.delete_trace("r1") is True
    assert writer.delete_trace("r1") is False
    assert fetch(db_path, "SELECT COUNT(*) FROM traces") == [(0,)]
    assert fetch(db_path, "SELECT run_id, step_index FROM trace_steps ORDER BY step_index") == [("r1", 0), ("r1", 1)]


def test_update_trace_determinism_is_a_plain_update(writer, db_path):
    writer.start_trace("r1", "c", "t", None, [])
    writer.update_trace_determinism("r1", seed=7, frozen_timestamp="2025-12-22T00:00:00+00:00", root_hash="ab",
                                    plan_hash="cd")
    assert fetch(db_path, "SELECT seed, frozen_timestamp, root_hash, plan_hash FROM traces") == [
        (7, "2025-12-22T00:00:00+00:00", "ab", "cd")
    ]


def test_cleanup_old_traces_compares_strings(tmp_path):
    now = datetime.now(timezone.utc)
    times = iter([now - timedelta(days=40), now - timedelta(days=1)])
    with SQLiteTraceWriter(tmp_path / "t.db", clock=lambda: next(times)) as w:
        w.start_trace("old", "c", "t", None, [])
        w.start_trace("new", "c", "t", None, [])
        assert w.cleanup_old_traces(30) == 1
    assert fetch(tmp_path / "t.db", "SELECT run_id FROM traces") == [("new",)]


def test_bulk_is_one_transaction(writer, db_path):
    with pytest.raises(RuntimeError):
        with writer.bulk():
            writer.start_trace("r1", "c", "t", None, [])
            record(writer, "r1", 0)
            raise RuntimeError("abort")
    assert fetch(db_path, "SELECT COUNT(*) FROM traces") == [(0,)]
    with writer.bulk():
        writer.start_trace("r1", "c", "t", None, [])
        record(writer, "r1", 0)
    assert fetch(db_path, "SELECT COUNT(*) FROM trace_steps") == [(1,)]


def test_wal_mode_is_persistent(tmp_path):
    SQLiteTraceWriter(tmp_path / "w.db", wal=True).close()
    assert fetch(tmp_path / "w.db", "PRAGMA journal_mode") == [("wal",)]
    SQLiteTraceWriter(tmp_path / "d.db").close()
    assert fetch(tmp_path / "d.db", "PRAGMA journal_mode") == [("delete",)]


@pytest.mark.parametrize("name", ["with space.db", "q?mark.db", "hash#tag.db", "per%41cent.db", "ü.db"])
def test_path_is_used_verbatim(tmp_path, name):
    folder = tmp_path / "a?b#c%20d"
    with SQLiteTraceWriter(folder / name) as w:
        w.start_trace("r1", "c", "t", None, [])
    assert sorted(p.name for p in folder.iterdir()) == [name]
    assert fetch(folder / name, "SELECT run_id FROM traces") == [("r1",)]
