"""The inspector never locks out the runtime writing the file it reads (DESIGN: read-only by
construction): a writer in another process keeps writing while the reader counts."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from drivers import open_source
from drivers.sqlite_reader import SQLiteTraceReader
from drivers.sqlite_writer import SQLiteTraceWriter
from inspector.errors import SourceLocked
from inspector.model import RunFilter, RunSort

WRITER_SCRIPT = textwrap.dedent(
    """
    import sys
    import sqlalchemy as sa
    from drivers.sqlite_writer import SQLiteTraceWriter

    path, count = sys.argv[1], int(sys.argv[2])
    writer = SQLiteTraceWriter(path, wal=True, synchronous="NORMAL")

    @sa.event.listens_for(writer.engine, "connect")
    def _no_waiting(dbapi_connection, _record):
        # No busy wait: a lock held by the reader would fail the write at once, not delay it.
        dbapi_connection.execute("PRAGMA busy_timeout = 0")

    written = 0
    for i in range(count):
        run_id = f"live-{i:04d}"
        # Upstream's call sequence, one commit per call.
        writer.start_trace(run_id, "corr", "tenant", "agent", [{"skill": "s"}])
        writer.record_step(run_id, 0, "s", {"i": i}, "success", "SUCCESS", None, None, 1.0, 2.0, 0)
        writer.record_step(run_id, 1, "s", {"i": i}, "failed", "PERMANENT", "E", {"x": i}, 1.0, 2.0, 0)
        writer.complete_trace(run_id, "completed")
        written += 1
    writer.close()
    print(f"wrote {written}", flush=True)
    """
)

RUNS = 80
DEADLINE_S = 60


def test_reader_never_blocks_a_wal_writer_in_another_process(tmp_path):
    path = tmp_path / "traces.db"
    with SQLiteTraceWriter(path, wal=True) as w:
        w.start_trace("before", "c", "t", None, [])
    reader = SQLiteTraceReader(path, busy_timeout=5.0)
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER_SCRIPT, str(path), str(RUNS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = []
    try:
        start = time.monotonic()
        while proc.poll() is None:
            assert time.monotonic() - start < DEADLINE_S, "the writer did not finish in time"
            seen.append(reader.count_runs(RunFilter()))
            for run in reader.list_runs(RunFilter(), limit=20):
                list(reader.iter_steps(run.run_id, batch=1))
            reader.list_runs(RunFilter(), RunSort.FAILURES)
            reader.refresh()
        out, err = proc.communicate(timeout=DEADLINE_S)
        assert proc.returncode == 0, err
        assert "locked" not in err
        assert out.strip() == f"wrote {RUNS}"
        assert seen == sorted(seen), "a later count saw fewer runs"
        assert len(seen) > 1 and seen[0] < 1 + RUNS, "the reader did not read while the writer wrote"
        reader.refresh()
        assert reader.count_runs(RunFilter()) == 1 + RUNS
        newest = reader.list_runs(RunFilter(), limit=1)[0]
        assert (newest.run_id, newest.total_steps, newest.failure_count) == (f"live-{RUNS - 1:04d}", 2, 1)
        assert reader.totals().steps == 2 * RUNS
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        reader.close()


def test_open_write_transaction_does_not_block_a_wal_reader(tmp_path):
    path = tmp_path / "traces.db"
    with SQLiteTraceWriter(path, wal=True) as w:
        w.start_trace("committed", "c", "t", None, [])
    holder = sqlite3.connect(path, isolation_level=None)
    reader = SQLiteTraceReader(path, busy_timeout=0.2)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute("INSERT INTO traces (run_id, correlation_id, tenant_id, plan, started_at) "
                       "VALUES ('pending', 'c', 't', '[]', 'x')")
        # The reader sees the last committed state, without waiting.
        assert [r.run_id for r in reader.list_runs(RunFilter())] == ["committed"]
        holder.execute("COMMIT")
        assert reader.count_runs(RunFilter()) == 2
    finally:
        holder.close()
        reader.close()


@pytest.mark.parametrize("wal", [False, True], ids=["rollback-journal", "wal"])
def test_reader_holds_no_lock_between_calls(tmp_path, wal):
    """Even mid-way through a streamed step list, a writer that will not wait can take the write lock."""
    path = tmp_path / "traces.db"
    with SQLiteTraceWriter(path, wal=wal) as w, w.bulk():
        w.start_trace("r", "c", "t", None, [])
        for i in range(5):
            w.record_step("r", i, "s", {}, "success", "SUCCESS", None, None, 1.0, 1.0, 0)
    reader = SQLiteTraceReader(path)
    writer = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        steps = reader.iter_steps("r", batch=2)
        assert next(steps).step_index == 0
        reader.list_runs(RunFilter())
        writer.execute("BEGIN EXCLUSIVE")
        writer.execute("UPDATE traces SET status = 'completed'")
        writer.execute("COMMIT")
        assert [s.step_index for s in steps] == [1, 2, 3, 4]
        assert reader.get_run("r").status == "completed"
    finally:
        writer.close()
        reader.close()


def test_writer_lock_in_rollback_mode_is_reported_not_hung(tmp_path):
    path = tmp_path / "traces.db"
    with SQLiteTraceWriter(path) as w:
        w.start_trace("r", "c", "t", None, [])
    reader = SQLiteTraceReader(path, busy_timeout=0.1)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        started = time.monotonic()
        with pytest.raises(SourceLocked):
            reader.count_runs(RunFilter())
        assert time.monotonic() - started < 3
    finally:
        holder.close()
        reader.close()


def test_file_caught_mid_commit_is_locked_not_truncated(tmp_path):
    """A rollback-journal commit writes page 1 (with the new page count) before the pages that
    extend the file. A reader opening at that instant sees a header promising more bytes than the
    file has: that is a writer at work (it holds the lock), not a truncated file."""
    path = tmp_path / "traces.db"
    with SQLiteTraceWriter(path, synchronous="OFF") as w:
        w.start_trace("r", "c", "t", None, [])
    holder = sqlite3.connect(path, isolation_level=None)
    original = path.read_bytes()
    try:
        holder.execute("BEGIN EXCLUSIVE")  # the writer, mid-commit
        page_count = int.from_bytes(original[28:32], "big")
        with path.open("r+b") as fh:  # ... has written its new page 1, not yet the pages after it
            fh.seek(28)
            fh.write((page_count + 40).to_bytes(4, "big"))
        with pytest.raises(SourceLocked):
            reader = SQLiteTraceReader(path, busy_timeout=0.2)
            try:
                reader.count_runs(RunFilter())
            finally:
                reader.close()
    finally:
        path.write_bytes(original)  # the commit "finishes": the file is whole again
        holder.close()
    reader = SQLiteTraceReader(path, busy_timeout=0.2)
    try:
        assert reader.count_runs(RunFilter()) == 1
    finally:
        reader.close()


def _wal_db_without_sidecars(folder):
    """A WAL-mode trace DB whose writer closed cleanly: no -wal, no -shm beside it."""
    path = folder / "traces.db"
    with SQLiteTraceWriter(path) as w:
        w.start_trace("r1", "c", "t", "a", [])
        w.record_step("r1", 0, "skill", {}, "success", "SUCCESS", None, None, 1.0, 5.0, 0)
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode=WAL").fetchone()[0] == "wal"
    conn.close()
    for side in ("-wal", "-shm"):
        assert not Path(f"{path}{side}").exists()
    return path


def test_wal_database_without_sidecars_opens_immutable_and_creates_nothing(tmp_path):
    path = _wal_db_without_sidecars(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    src = open_source(path)
    try:
        assert [r.run_id for r in src.list_runs(RunFilter())] == ["r1"]
        assert src.list_steps("r1")[0].step_index == 0
        assert any("without a -wal file" in n for n in src.info.notes)
    finally:
        src.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no -wal, no -shm left (or made)


def test_wal_database_with_a_live_writer_and_one_in_a_read_only_folder(tmp_path):
    import shutil

    from drivers.sqlite_reader import check_sqlite_file, read_only_uri

    path = _wal_db_without_sidecars(tmp_path)
    writer = sqlite3.connect(path, isolation_level=None)  # a live writer, kept open: -wal and -shm exist
    try:
        writer.execute("INSERT INTO traces (run_id, correlation_id, tenant_id, plan, started_at) "
                       "VALUES ('r2', 'c', 't', '[]', '2026-01-01T00:00:00+00:00')")
        assert Path(f"{path}-wal").exists() and Path(f"{path}-shm").exists()
        header = check_sqlite_file(path)
        assert read_only_uri(path, header)[1] is None  # mode=ro: the -wal's changes are read
        src = open_source(path)
        try:
            assert {r.run_id for r in src.list_runs(RunFilter())} == {"r1", "r2"}
            assert not src.info.notes
        finally:
            src.close()
        # Copied without its -shm into a folder we may not write to (root may write anywhere,
        # so the folder's answer is given): read as it stands, and said so.
        copy = tmp_path / "copy"
        copy.mkdir()
        shutil.copyfile(path, copy / "traces.db")
        shutil.copyfile(f"{path}-wal", copy / "traces.db-wal")
        uri, note = read_only_uri(copy / "traces.db", header, can_write=lambda _folder: False)
        assert "immutable=1" in uri and "read-only folder" in note
        conn = sqlite3.connect(uri, uri=True)
        try:
            assert conn.execute("SELECT run_id FROM traces").fetchall() == [("r1",)]
        finally:
            conn.close()
        assert sorted(p.name for p in copy.iterdir()) == ["traces.db", "traces.db-wal"]
    finally:
        writer.close()
