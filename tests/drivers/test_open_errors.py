"""Opening what a user typed or dropped: every failure is a SourceError subclass naming the file
(STYLE §4, §18: table-driven error mapping)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sqlite3
from pathlib import Path

import pytest

from drivers import open_source
from drivers.sqlite_reader import SQLiteTraceReader
from drivers.sqlite_writer import SQLiteTraceWriter, StepInput
from inspector.errors import CorruptSource, NotATraceSource, SourceError, SourceLocked, SourceNotFound, SourceUnavailable
from inspector.model import RunFilter

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489") + b"\x00" * 64


def build_trace_db(path: Path, runs: int = 40, steps: int = 20) -> Path:
    """A real trace DB of several hundred KB (many pages), the kind a runtime leaves."""
    with SQLiteTraceWriter(path, synchronous="OFF") as w, w.bulk():
        for r in range(runs):
            w.start_trace(f"run-{r:03}", "c", "t", "a", [{"skill": "x", "params": {"text": "p" * 200}}])
            w.record_steps(StepInput(f"run-{r:03}", i, "s", {"blob": "x" * 300, "i": i}, "success", "SUCCESS", None,
                                     {"out": "y" * 200}, 1.0, 2.0) for i in range(steps))
            w.complete_trace(f"run-{r:03}", "completed")
    return path


def sqlite_db(path: Path, script: str) -> Path:
    conn = sqlite3.connect(path)
    try:
        conn.executescript(script)
    finally:
        conn.close()
    return path


def missing(tmp: Path) -> Path:
    return tmp / "nope.db"


def folder(tmp: Path) -> Path:
    (tmp / "runs").mkdir()
    return tmp / "runs"


def empty(tmp: Path) -> Path:
    (tmp / "empty.db").write_bytes(b"")
    return tmp / "empty.db"


def text_file(tmp: Path) -> Path:
    (tmp / "notes.txt").write_text("these are my notes\nnot a database\n")
    return tmp / "notes.txt"


def png(tmp: Path) -> Path:
    (tmp / "picture.png").write_bytes(PNG)
    return tmp / "picture.png"


def foreign_sqlite(tmp: Path) -> Path:
    return sqlite_db(tmp / "shop.db", "CREATE TABLE users(id); CREATE TABLE orders(id);")


def half_aos(tmp: Path) -> Path:
    return sqlite_db(tmp / "half.db", "CREATE TABLE traces(run_id TEXT PRIMARY KEY); CREATE TABLE notes(x);")


def aos_without_run_id(tmp: Path) -> Path:
    return sqlite_db(tmp / "odd.db", "CREATE TABLE traces(id TEXT); CREATE TABLE trace_steps(run_id, step_index);")


def truncated(tmp: Path) -> Path:
    real = build_trace_db(tmp / "real.db")
    cut = tmp / "truncated.db"
    shutil.copyfile(real, cut)
    with cut.open("r+b") as fh:
        fh.truncate(real.stat().st_size // 2)
    return cut


def truncated_header(tmp: Path) -> Path:
    real = build_trace_db(tmp / "real.db", runs=1, steps=1)
    (tmp / "stub.db").write_bytes(real.read_bytes()[:60])
    return tmp / "stub.db"


def garbage_after_header(tmp: Path) -> Path:
    (tmp / "garbage.db").write_bytes(b"SQLite format 3\x00" + bytes(range(256)) * 40)
    return tmp / "garbage.db"


def damaged_pages(tmp: Path) -> Path:
    # A real header and schema page, then pages overwritten with noise: readable until data is read.
    path = build_trace_db(tmp / "damaged.db")
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for offset in range(2 * page, len(data), page):
        data[offset : offset + page] = bytes((offset + i * 7) % 251 for i in range(page))
    path.write_bytes(bytes(data))
    return path


def invalid_json(tmp: Path) -> Path:
    (tmp / "trace.json").write_text('{"run_id": "r1", "steps": [')
    return tmp / "trace.json"


def other_json(tmp: Path) -> Path:
    (tmp / "package.json").write_text(json.dumps({"name": "x", "version": "1.0.0", "dependencies": {}}))
    return tmp / "package.json"


def json_list(tmp: Path) -> Path:
    (tmp / "list.json").write_text("[1, 2, 3]")
    return tmp / "list.json"


def json_huge_number(tmp: Path) -> Path:
    (tmp / "huge.json").write_text('{"seed": ' + "9" * 5000 + "}")
    return tmp / "huge.json"


def json_not_utf8(tmp: Path) -> Path:
    (tmp / "latin1.json").write_bytes('{"run_id": "caf\u00e9"}'.encode("latin-1"))
    return tmp / "latin1.json"


def trace_record_missing_keys(tmp: Path) -> Path:
    (tmp / "partial.json").write_text(json.dumps({"run_id": "r", "steps": []}))
    return tmp / "partial.json"


CASES = [
    (missing, SourceNotFound, "no such file"),
    (folder, SourceNotFound, "folder"),
    (empty, NotATraceSource, "empty"),
    (text_file, NotATraceSource, "not a SQLite database"),
    (png, NotATraceSource, "not a SQLite database"),
    (foreign_sqlite, NotATraceSource, "found orders, users"),
    (half_aos, NotATraceSource, "missing trace_steps; found notes, traces"),
    (aos_without_run_id, NotATraceSource, "no column run_id"),
    (truncated, CorruptSource, "truncated"),
    (truncated_header, CorruptSource, "truncated"),
    (garbage_after_header, CorruptSource, "damaged"),
    (damaged_pages, CorruptSource, "damaged"),
    (invalid_json, NotATraceSource, "not valid JSON"),
    (other_json, NotATraceSource, "not an AOS trace"),
    (json_list, NotATraceSource, "not an AOS trace"),
    (json_huge_number, NotATraceSource, "cannot be read"),
    (json_not_utf8, NotATraceSource, "not UTF-8"),
    (trace_record_missing_keys, NotATraceSource, "not an AOS trace"),
]


def open_and_read(location, **kwargs) -> None:
    """Open and read a little of everything: some damage only shows when a page is read."""
    source = open_source(location, **kwargs)
    try:
        source.count_runs(RunFilter())
        for run in source.list_runs(RunFilter(), limit=1000):
            list(source.iter_steps(run.run_id))
        source.totals()
    finally:
        source.close()


@pytest.mark.parametrize(("make", "error", "words"), CASES, ids=[c[0].__name__ for c in CASES])
def test_open_error_mapping(tmp_path, make, error, words):
    path = make(tmp_path)
    with pytest.raises(SourceError) as info:
        open_and_read(path)
    assert type(info.value) is error, info.value
    message = str(info.value)
    assert words in message
    assert path.name in message
    assert info.value.location is not None and info.value.location.endswith(path.name)


def test_unknown_url_scheme_is_not_supported():
    url = "mysql://inspector@db.example:3306/nova_aos"
    with pytest.raises(NotATraceSource) as info:
        open_source(url)
    assert "not supported" in str(info.value)
    assert info.value.location == url


def test_postgres_host_that_does_not_resolve():
    url = "postgresql://inspector:secret@db.invalid:5432/nova_aos"
    with pytest.raises(SourceUnavailable) as info:
        open_source(url)
    assert "db.invalid" in str(info.value)
    assert info.value.location == "postgresql://inspector@db.invalid:5432/nova_aos"
    assert "secret" not in str(info.value)


def test_folder_with_traces_db_opens_it(tmp_path):
    build_trace_db(tmp_path / "traces.db", runs=2, steps=1)
    source = open_source(tmp_path)
    try:
        assert source.count_runs(RunFilter()) == 2
        assert source.info.location == str((tmp_path / "traces.db").resolve())
    finally:
        source.close()


def test_every_error_is_a_source_error():
    for _make, error, _words in CASES:
        assert issubclass(error, SourceError)


@pytest.fixture
def locked_db(tmp_path):
    """A trace DB in rollback-journal mode with another connection holding BEGIN EXCLUSIVE."""
    path = build_trace_db(tmp_path / "traces.db", runs=3, steps=2)
    holder = sqlite3.connect(path, isolation_level=None)
    assert holder.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    holder.execute("BEGIN EXCLUSIVE")
    yield path, holder
    holder.close()


def test_locked_database_raises_source_locked(locked_db):
    path, holder = locked_db
    with pytest.raises(SourceLocked) as info:
        open_and_read(path, busy_timeout=0.2)
    assert "locked" in str(info.value)
    assert path.name in str(info.value)
    # "Retrying may work": once the lock is gone, the same file opens and reads.
    holder.execute("ROLLBACK")
    source = open_source(path, busy_timeout=0.2)
    try:
        assert source.count_runs(RunFilter()) == 3
    finally:
        source.close()


def test_lock_taken_after_open_bites_on_read(tmp_path):
    path = build_trace_db(tmp_path / "traces.db", runs=3, steps=2)
    source = open_source(path, busy_timeout=0.2)
    holder = sqlite3.connect(path, isolation_level=None)
    try:
        assert source.count_runs(RunFilter()) == 3
        holder.execute("BEGIN EXCLUSIVE")
        with pytest.raises(SourceLocked, match="traces.db"):
            source.list_runs(RunFilter())
        holder.execute("ROLLBACK")
        assert len(source.list_runs(RunFilter())) == 3
    finally:
        holder.close()
        source.close()


def _open_fds(path: Path) -> list[str]:
    out = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target == str(path.resolve()):
            out.append(target)
    return out


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc")
@pytest.mark.parametrize("make", [foreign_sqlite, half_aos, garbage_after_header])
def test_failed_open_keeps_no_file_handle(tmp_path, make):
    path = make(tmp_path)
    try:
        SQLiteTraceReader(path)
    except SourceError as exc:
        error = exc  # the UI keeps the error (and so its traceback) to show it
    else:
        pytest.fail("opened a file that is not a trace DB")
    assert _open_fds(path) == []
    assert error.location == str(path.resolve())


HOT_JOURNAL_WRITER = """
import os, sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA cache_size = 2")  # spill to the file before commit
conn.execute("BEGIN")
conn.execute("UPDATE trace_steps SET params = params || params")
os._exit(0)  # the runtime dies mid-transaction
"""


def test_hot_journal_says_what_happened(tmp_path):
    path = build_trace_db(tmp_path / "traces.db")
    subprocess.run([sys.executable, "-c", HOT_JOURNAL_WRITER, str(path)], check=True, timeout=60)
    journal = tmp_path / "traces.db-journal"
    assert journal.exists() and journal.stat().st_size > 0
    with pytest.raises(CorruptSource) as info:
        open_and_read(path)
    assert "unfinished transaction" in str(info.value) and "traces.db-journal" in str(info.value)
    # Read-write recovery (what the runtime does on its next start) makes it readable again.
    recovering = sqlite3.connect(path)
    try:
        recovering.execute("SELECT COUNT(*) FROM traces").fetchall()
    finally:
        recovering.close()
    assert not journal.exists()
    open_and_read(path)


def test_unsupported_url_message_never_shows_a_password():
    from drivers import open_source
    from inspector.errors import NotATraceSource

    with pytest.raises(NotATraceSource) as info:
        open_source("mysql://ana:s3cret@db.example:5432/aos")
    assert "s3cret" not in str(info.value)
    assert "mysql://ana:***@db.example:5432/aos" in str(info.value)


def test_json_trace_with_much_leading_whitespace_opens_as_json(tmp_path, fixtures_dir):
    from drivers import open_source

    target = tmp_path / "golden.json"
    target.write_text("\n" * 200 + " " * 300 + (fixtures_dir / "golden_trace.json").read_text())
    source = open_source(target)
    try:
        assert source.info.kind == "trace record JSON"
    finally:
        source.close()


def test_a_schema_byte_that_is_not_utf8_is_damage_not_a_traceback(tmp_path, schema_template):
    """SQLite quotes a damaged schema in its error, which Python cannot decode when the damage
    is a byte that is not UTF-8: each such mutant opens to a SourceError, never another exception."""
    import re

    data = schema_template.read_bytes()
    words = []
    for needle in (b"trace_steps", b"traces", b"step_index"):
        for m in re.finditer(re.escape(needle), data[:8192]):
            mutant = bytearray(data)
            mutant[m.start() + 1] = 0xFF
            path = tmp_path / f"m{m.start()}.db"
            path.write_bytes(bytes(mutant))
            try:
                open_source(path).close()
            except SourceError as exc:
                assert "\n" not in str(exc)
                words.append(exc.detail)
    assert any("its schema is not valid UTF-8 text" in w for w in words)
