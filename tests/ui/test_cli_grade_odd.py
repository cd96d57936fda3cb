"""``grade`` on SQLite files a foreign or damaged writer left odd: a trace without a run id (SQLite
lets a TEXT PRIMARY KEY be NULL), a run id stored as a BLOB, and an integrity record whose score or
artifact lists are not what upstream writes. Each is graded or said in words, never a traceback."""

from __future__ import annotations

import io
import json
import sqlite3

import sqlalchemy as sa

from drivers.evidence_schema import (
    create_evidence_tables,
    environment_evidence,
    integrity_evidence,
    runs,
)
from drivers.sqlite_writer import SQLiteTraceWriter
from ui.cli import main


def run_cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(args), out=out)
    return code, out.getvalue()


def _db(path):
    with SQLiteTraceWriter(path) as w:
        for rid in ("r-a", "r-b"):
            w.start_trace(rid, f"corr-{rid}", "tenant-a", "agent-1", [])
            w.record_step(rid, 0, "skill", {}, "success", "SUCCESS", None, None, 1.0, 5.0, 0)
            w.complete_trace(rid, "completed")
    engine = sa.create_engine(f"sqlite:///{path}", poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        create_evidence_tables(conn)
        conn.execute(runs.insert(), [{"id": r} for r in ("r-a", "r-b")])
        conn.execute(environment_evidence.insert(), [{"id": f"ee-{r}", "run_id": r, "sdk_mode": "inline"}
                                                     for r in ("r-a", "r-b")])
        conn.execute(integrity_evidence.insert(), [
            {"id": f"ie-{r}", "run_id": r, "expected_artifacts": [], "integrity_score": 4 / 6,
             "integrity_status": "DEGRADED",
             "observed_artifacts": ["environment_evidence", "aos_traces", "aos_trace_steps", "policy_decisions"]}
            for r in ("r-a", "r-b")])
    engine.dispose()
    return path


def _copy_trace(conn: sqlite3.Connection, run_id) -> None:
    cols = [r[1] for r in conn.execute("PRAGMA table_info(traces)")]
    row = dict(zip(cols, conn.execute("SELECT * FROM traces WHERE run_id = 'r-a'").fetchone(), strict=True))
    row["run_id"] = run_id
    conn.execute(f"INSERT INTO traces ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})", list(row.values()))


def test_traces_without_a_text_run_id_are_graded_as_the_runs_list_names_them(tmp_path):
    path = _db(tmp_path / "traces.db")
    with sqlite3.connect(path) as conn:
        _copy_trace(conn, None)  # SQLite lets a TEXT PRIMARY KEY be NULL
        _copy_trace(conn, b"\xff\xfe")
    code, text = run_cli("grade", str(path), "--json")
    doc = json.loads(text)
    assert code == 1 and doc["count"] == 4
    by_id = {r["run_id"]: r for r in doc["runs"]}
    # As `runs` lists them: a NULL run id as "", a BLOB decoded with replacements.
    assert set(by_id) == {"", "\ufffd\ufffd", "r-a", "r-b"}
    assert by_id[""]["integrity_grade"] == "FAIL" and by_id["r-a"]["integrity_grade"] == "WARN"
    code, text = run_cli("grade", str(path))
    assert code == 1 and text.splitlines()[-1].startswith("4 runs: 0 PASS, 2 WARN, 2 FAIL")


def test_an_integrity_record_that_is_not_upstreams_shape_is_said_not_a_traceback(tmp_path, capsys):
    path = _db(tmp_path / "traces.db")
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE integrity_evidence SET integrity_score = 'high', observed_artifacts = '{oops' "
                     "WHERE run_id = 'r-a'")
        conn.execute("UPDATE integrity_evidence SET observed_artifacts = '5', missing_artifacts = '{\"a\": 1}' "
                     "WHERE run_id = 'r-b'")
    for args in (("grade", str(path)), ("grade", str(path), "r-a", "--json"), ("grade", str(path), "r-b")):
        code, _ = run_cli(*args)
        assert code == 0, (args, capsys.readouterr().err)
    code, text = run_cli("grade", str(path), "r-a", "--json")
    report = json.loads(text)
    stored = report["stored"]
    assert stored["integrity_score"] is None and stored["observed_artifacts"] is None
    assert report["stored_agrees"] is False
    (differs,) = [r for r in report["reasons"] if r["code"] == "STORED_VERDICT_DIFFERS"]
    # Not "no longer observed: {, o, p, s" from the characters of the broken text.
    assert "observed_artifacts unreadable" in differs["message"] and "no longer observed" not in differs["message"]
    code, text = run_cli("grade", str(path), "r-b", "--json")
    stored = json.loads(text)["stored"]
    assert stored["observed_artifacts"] is None and stored["missing_artifacts"] is None
    assert stored["integrity_score"] == 4 / 6
