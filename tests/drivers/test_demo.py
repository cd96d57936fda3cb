"""The demo database generator: reproducible, and holding every quirk the inspector must show."""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
from datetime import datetime
from pathlib import Path

import pytest

from drivers.demo.recipe import BASE_TIME, INVALID_JSON_TEXT
from drivers.demo import (
    DEMO_RECIPE_VERSION,
    DemoSummary,
    default_demo_path,
    demo_recipe_version,
    ensure_demo,
    generate_demo,
)
from drivers.sqlite_reader import SQLiteTraceReader
from inspector.model import StepStatus, normalise_status

BIG = 2_000
EVIDENCE_TABLES = ("runs", "environment_evidence", "activity_evidence", "provider_evidence", "policy_decisions",
                   "integrity_evidence", "evidence_capture_failures")
RUN_ID = re.compile(r"^run_[0-9a-f]{16}$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


# progress(done, total) calls seen while generating, by fixture (DemoSummary is frozen).
_PROGRESS: dict[str, list[tuple[int, int]]] = {}


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory) -> tuple[DemoSummary, Path]:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    calls: list[tuple[int, int]] = []
    summary = generate_demo(path, 7, big_run_steps=BIG, progress=lambda d, t: calls.append((d, t)))
    _PROGRESS["seed7"] = calls
    return summary, path


@pytest.fixture()
def db(demo_db):
    con = sqlite3.connect(f"file:{demo_db[1]}?mode=ro", uri=True)
    yield con
    con.close()


def table_dump(path: Path) -> dict[str, list[tuple]]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        trace_cols = [r[1] for r in con.execute("PRAGMA table_info(traces)") if r[1] != "created_at"]
        return {
            "schema": con.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall(),
            "traces": con.execute(f"SELECT {', '.join(trace_cols)} FROM traces ORDER BY run_id").fetchall(),
            "trace_steps": con.execute("SELECT * FROM trace_steps ORDER BY id").fetchall(),
            "sqlite_sequence": con.execute("SELECT * FROM sqlite_sequence ORDER BY name").fetchall(),
            **{table: con.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
               for table in EVIDENCE_TABLES},
            "user_version": con.execute("PRAGMA user_version").fetchall(),
        }
    finally:
        con.close()


def json_depth(value) -> int:
    best, stack = 0, [(value, 0)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list)):
            best = max(best, d + 1)
            stack.extend((x, d + 1) for x in (v.values() if isinstance(v, dict) else v))
    return best


def payloads(con: sqlite3.Connection):
    """(table, key, column, raw text) of every JSON column in the database."""
    for rid, plan, meta in con.execute("SELECT run_id, plan, metadata FROM traces"):
        yield "traces", rid, "plan", plan
        yield "traces", rid, "metadata", meta
    for rid, idx, params, out in con.execute("SELECT run_id, step_index, params, outcome_data FROM trace_steps"):
        yield "trace_steps", (rid, idx), "params", params
        yield "trace_steps", (rid, idx), "outcome_data", out


# -- reproducibility -----------------------------------------------------------------------------


def test_same_seed_gives_identical_content_and_another_seed_differs(demo_db, tmp_path):
    summary, path = demo_db
    again = generate_demo(tmp_path / "again.db", 7, big_run_steps=BIG)
    first, second = table_dump(path), table_dump(tmp_path / "again.db")
    assert first == second
    assert dataclasses.replace(again, path=path) == summary

    other = generate_demo(tmp_path / "other.db", 8, big_run_steps=BIG)
    third = table_dump(tmp_path / "other.db")
    assert third["schema"] == first["schema"]
    assert third["traces"] != first["traces"] and third["trace_steps"] != first["trace_steps"]
    assert all(first[t] for t in EVIDENCE_TABLES) and third["runs"] != first["runs"]
    assert {r[0] for r in third["traces"]}.isdisjoint(r[0] for r in first["traces"])
    assert other.runs >= 300


def test_existing_file_is_never_overwritten(demo_db):
    with pytest.raises(FileExistsError):
        generate_demo(demo_db[1], 7, big_run_steps=BIG)


def test_summary_matches_the_database(demo_db, db):
    summary, _ = demo_db
    assert summary.runs == db.execute("SELECT COUNT(*) FROM traces").fetchone()[0]
    assert summary.steps == db.execute("SELECT COUNT(*) FROM trace_steps").fetchone()[0]
    assert sum(summary.run_statuses.values()) == summary.runs
    assert sum(summary.step_statuses.values()) == summary.steps
    # the runs table keeps the runs whose traces were deleted (their steps are the orphans)
    assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == summary.runs + len(summary.orphan_run_ids)
    assert sum(len(v) for v in summary.evidence_scenarios.values()) == summary.runs + len(summary.orphan_run_ids)
    assert summary.integrity_records == db.execute("SELECT COUNT(*) FROM integrity_evidence").fetchone()[0] > 250
    with pytest.raises(dataclasses.FrozenInstanceError):
        summary.runs = 0  # type: ignore[misc]
    calls = _PROGRESS["seed7"]
    assert calls[0] == (0, summary.steps) and calls[-1] == (summary.steps, summary.steps)
    assert all(a[0] <= b[0] for a, b in zip(calls, calls[1:]))


# -- content -------------------------------------------------------------------------------------


def test_size_tenants_agents_and_ids(demo_db, db):
    summary, _ = demo_db
    assert summary.runs >= 300
    tenants = [r[0] for r in db.execute("SELECT DISTINCT tenant_id FROM traces")]
    agents = [r[0] for r in db.execute("SELECT DISTINCT agent_id FROM traces WHERE agent_id IS NOT NULL")]
    assert len(tenants) >= 4 and len(agents) >= 6
    assert db.execute("SELECT COUNT(*) FROM traces WHERE agent_id IS NULL").fetchone()[0] > 0
    for run_id, corr in db.execute("SELECT run_id, correlation_id FROM traces"):
        assert RUN_ID.match(run_id), run_id
        assert UUID.match(corr) or corr == run_id, corr
    # upstream's timestamp shape, from the fixed base date; created_at is SQLite's own
    for started, completed, created in db.execute("SELECT started_at, completed_at, created_at FROM traces"):
        assert datetime.fromisoformat(started) >= BASE_TIME and started.endswith("+00:00")
        assert completed is None or datetime.fromisoformat(completed) >= datetime.fromisoformat(started)
        assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", created)


def test_every_status_upstream_writes_and_unknown_ones(db):
    run_statuses = {r[0] for r in db.execute("SELECT DISTINCT status FROM traces")}
    upstream = {"running", "completed", "failed", "timeout", "error", "aborted"}
    assert upstream <= run_statuses
    assert len(run_statuses - upstream) == 1  # one status no upstream writer uses
    step_statuses = {r[0] for r in db.execute("SELECT DISTINCT status FROM trace_steps")}
    assert {"success", "failure", "retry", "skipped", "succeeded", "failed"} <= step_statuses
    assert any(normalise_status(s) is StepStatus.UNKNOWN for s in step_statuses)


def test_retries_and_failures(db):
    assert db.execute("SELECT COUNT(*) FROM trace_steps WHERE retry_count > 0").fetchone()[0] > 0
    retried = db.execute(
        "SELECT COUNT(*) FROM trace_steps a JOIN trace_steps b ON b.run_id = a.run_id "
        "AND b.step_index = a.step_index + 1 AND b.skill_name = a.skill_name "
        "WHERE a.status = 'retry' AND b.status = 'success' AND b.retry_count > 0"
    ).fetchone()[0]
    assert retried > 0
    # a step index recorded twice keeps its last write under a new id (INSERT OR REPLACE)
    ids, rows = db.execute("SELECT MAX(id), COUNT(*) FROM trace_steps").fetchone()
    assert ids > rows
    cats = {r[0] for r in db.execute(
        "SELECT DISTINCT outcome_category FROM trace_steps WHERE status IN ('failure', 'failed', 'retry')")}
    assert {"TRANSIENT", "PERMANENT"} <= cats
    codes = {r[0] for r in db.execute("SELECT DISTINCT outcome_code FROM trace_steps")}
    assert {"ERR_HTTP_503", "ERR_TIMEOUT", "ERR_RATE_LIMIT"} <= codes


def test_replays_reference_existing_runs(demo_db, db):
    summary, _ = demo_db
    runs = {r[0] for r in db.execute("SELECT run_id FROM traces")}
    found = []
    for rid, meta in db.execute("SELECT run_id, metadata FROM traces WHERE metadata LIKE '%replay_of%'"):
        m = json.loads(meta)
        assert set(m) == {"replay_of", "dry_run", "verify_parity"}
        assert isinstance(m["dry_run"], bool) and isinstance(m["verify_parity"], bool)
        assert m["replay_of"] in runs
        found.append((rid, m["replay_of"]))
        steps = db.execute("SELECT outcome_category, outcome_data FROM trace_steps WHERE run_id = ?", (rid,)).fetchall()
        assert steps and all(cat == "SUCCESS" and json.loads(out) == {"mock": True} for cat, out in steps)
        # steps copied from the original: same indexes, skills and params
        copied = db.execute(
            "SELECT COUNT(*) FROM trace_steps r JOIN trace_steps o ON o.run_id = ? AND o.step_index = r.step_index "
            "AND o.skill_name = r.skill_name AND o.params = r.params WHERE r.run_id = ?", (m["replay_of"], rid)
        ).fetchone()[0]
        assert copied == len(steps)
    assert sorted(found) == sorted(summary.replays) and summary.replay_count == len(found)
    assert 12 <= len(found) <= 20
    per_original = {}
    for _, orig in found:
        per_original[orig] = per_original.get(orig, 0) + 1
    assert max(per_original.values()) == 2


def test_orphans_empty_run_and_big_run(demo_db, db):
    summary, _ = demo_db
    orphans = [r[0] for r in db.execute(
        "SELECT DISTINCT run_id FROM trace_steps s WHERE NOT EXISTS "
        "(SELECT 1 FROM traces t WHERE t.run_id = s.run_id) ORDER BY run_id")]
    assert 3 <= len(orphans) <= 5
    assert tuple(orphans) == summary.orphan_run_ids
    empty = [r[0] for r in db.execute(
        "SELECT run_id FROM traces t WHERE NOT EXISTS (SELECT 1 FROM trace_steps s WHERE s.run_id = t.run_id)")]
    assert empty == [summary.empty_run_id]
    n, lo, hi = db.execute("SELECT COUNT(*), MIN(step_index), MAX(step_index) FROM trace_steps WHERE run_id = ?",
                           (summary.big_run_id,)).fetchone()
    assert (n, lo, hi) == (BIG, 0, BIG - 1) and summary.big_run_steps == BIG
    assert db.execute("SELECT COUNT(*) FROM trace_steps WHERE outcome_data IS NULL").fetchone()[0] > 0


def test_payload_shapes_and_encoding(demo_db, db):
    summary, _ = demo_db
    broken, big, deepest = [], [], 0
    scripts = {"cjk": False, "emoji": False, "rtl": False, "combining": False}
    for table, key, col, raw in payloads(db):
        if raw is None:
            continue
        # upstream stores default json.dumps: ASCII only, non-ASCII as \uXXXX escapes
        assert raw.isascii(), (table, key, col)
        if len(raw) > 1_000_000:
            big.append((key, col))
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            broken.append((table, key, col, raw))
            continue
        assert json.dumps(value) == raw, (table, key, col)  # byte-identical to upstream's encoding
        deepest = max(deepest, json_depth(value))
        if "\\u" in raw:
            text = json.dumps(value, ensure_ascii=False)
            scripts["cjk"] |= bool(re.search("[\u4e00-\u9fff\u3040-\u30ff\uac00-\ud7af]", text))
            scripts["emoji"] |= bool(re.search("[\U0001f300-\U0001faff]", text))
            scripts["rtl"] |= bool(re.search("[\u0590-\u05ff\u0600-\u06ff]", text))
            scripts["combining"] |= bool(re.search("[\u0300-\u036f]", text))
    assert broken == [("trace_steps", summary.invalid_json_step[:2], "params", INVALID_JSON_TEXT)]
    assert summary.invalid_json_step[2] == "params"
    assert len(big) >= 3
    assert {(rid, idx) for rid, idx, _, _ in summary.large_payloads} <= {k for k, _ in big}
    assert deepest >= 30
    assert all(scripts.values()), scripts


# -- through the inspector's reader --------------------------------------------------------------


def test_reader_finds_orphans_replays_and_the_broken_payload(demo_db):
    summary, path = demo_db
    reader = SQLiteTraceReader(path)
    try:
        assert tuple(o.run_id for o in reader.orphan_runs()) == summary.orphan_run_ids
        assert all(o.orphan and o.total_steps > 0 for o in reader.orphan_runs())
        by_original: dict[str, list[str]] = {}
        for replay, orig in summary.replays:
            by_original.setdefault(orig, []).append(replay)
        for orig, replays in by_original.items():
            assert sorted(r.run_id for r in reader.replays_of(orig)) == sorted(replays)
        step = reader.get_step(*summary.invalid_json_step[:2])
        assert step.params.raw == INVALID_JSON_TEXT and not step.params.ok
        assert reader.count_steps(summary.big_run_id) == BIG
        assert reader.totals().orphan_runs == len(summary.orphan_run_ids)
    finally:
        reader.close()


# -- the cached demo -----------------------------------------------------------------------------


def test_ensure_demo_generates_once_and_atomically(tmp_path):
    target = tmp_path / "cache" / "demo.db"
    calls: list[tuple[int, int]] = []
    assert ensure_demo(target, 3, big_run_steps=200, progress=lambda d, t: calls.append((d, t))) == target
    assert calls and calls[-1][0] == calls[-1][1]
    assert sorted(p.name for p in target.parent.iterdir()) == ["demo.db"]  # no temp file left behind
    before = target.stat()
    content = target.read_bytes()
    calls.clear()
    assert ensure_demo(target, 3, big_run_steps=200, progress=lambda d, t: calls.append((d, t))) == target
    assert calls == []
    after = target.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (before.st_ino, before.st_mtime_ns, before.st_size)
    assert target.read_bytes() == content


def test_ensure_demo_regenerates_a_demo_of_another_recipe_version(tmp_path):
    """A demo cached by an older checkout (no or another version marker) is replaced, so the app
    shows what the current recipe makes; a file that is not SQLite at all is replaced too."""
    target = tmp_path / "demo.db"
    ensure_demo(target, 3, big_run_steps=200)
    assert demo_recipe_version(target) == DEMO_RECIPE_VERSION
    con = sqlite3.connect(target)
    con.execute(f"PRAGMA user_version = {DEMO_RECIPE_VERSION - 1}")
    con.commit()
    con.close()
    before = target.stat().st_ino
    calls: list[tuple[int, int]] = []
    assert ensure_demo(target, 3, big_run_steps=200, progress=lambda d, t: calls.append((d, t))) == target
    assert calls and target.stat().st_ino != before and demo_recipe_version(target) == DEMO_RECIPE_VERSION
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo.db"]

    target.write_bytes(b"not a database" * 100)
    assert demo_recipe_version(target) is None
    ensure_demo(target, 3, big_run_steps=200)
    assert demo_recipe_version(target) == DEMO_RECIPE_VERSION


def test_ensure_demo_leaves_nothing_when_generation_fails(tmp_path):
    target = tmp_path / "demo.db"
    with pytest.raises(ValueError):
        ensure_demo(target, 7, big_run_steps=0)
    assert list(tmp_path.iterdir()) == []


def test_default_demo_path_is_in_the_user_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    import platformdirs

    expected = platformdirs.user_data_path("aos-trace-inspector") / "demo-traces-seed7.db"
    assert default_demo_path() == expected
    assert default_demo_path(11).name == "demo-traces-seed11.db"
