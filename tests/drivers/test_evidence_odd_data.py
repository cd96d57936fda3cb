"""Evidence tables that are there but not readable as upstream's: a role without SELECT on one
(Postgres), a table of another shape, tables with only the columns upstream's gatherer queries.
Upstream's gatherer counts a table its query fails on as empty (§4): so does the grade, the SQL
filter agrees, and the reasons, the Evidence panel's read and the CLI say which table and why,
instead of "no records found" or failing the whole source."""

from __future__ import annotations

import io
import json
import sqlite3
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy as sa

from drivers.evidence_schema import (
    activity_evidence,
    create_evidence_tables,
    environment_evidence,
    policy_decisions,
    provider_evidence,
    runs,
)
from drivers.pg_reader import PostgresTraceReader
from drivers.sqlite_reader import SQLiteTraceReader
from drivers.sqlite_writer import SQLiteTraceWriter
from inspector.evidence import reasons
from inspector.integrity import EvidenceClass, IntegrityGrade, evaluate
from inspector.model import RunFilter
from tests.pgutil import TraceBuilder, sa_url
from ui.cli import main

NOW = datetime(2026, 11, 29, 5, 0, tzinfo=UTC)


def run_cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(args), out=out), out.getvalue()


def _sqlite_traces(path, run_ids=("r1",)):
    with SQLiteTraceWriter(path) as w:
        for rid in run_ids:
            w.start_trace(rid, f"corr-{rid}", "tenant-a", "agent-1", [])
            w.record_step(rid, 0, "skill", {}, "success", "SUCCESS", None, None, 1.0, 5.0, 0)
            w.complete_trace(rid, "completed")


def test_sqlite_evidence_table_of_another_shape_counts_as_empty_and_says_why(tmp_path, capsys):
    path = tmp_path / "traces.db"
    _sqlite_traces(path)
    engine = sa.create_engine(f"sqlite:///{path}", poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        create_evidence_tables(conn)
        conn.execute(runs.insert(), [{"id": "r1"}])
        conn.execute(activity_evidence.insert(), [{"id": "ae-r1-1", "run_id": "r1", "step_index": 1}])
        conn.execute(provider_evidence.insert(), [{"id": "pe-r1-1", "run_id": "r1", "step_index": 1,
                                                   "requested_at": NOW}])
        conn.execute(policy_decisions.insert(), [{"id": "pd-r1", "run_id": "r1", "policy_type": "budget",
                                                  "decision": "GRANTED", "evaluated_at": NOW}])
        conn.exec_driver_sql("DROP TABLE environment_evidence")
        conn.exec_driver_sql("CREATE TABLE environment_evidence (foo TEXT, bar INTEGER)")
        conn.exec_driver_sql("INSERT INTO environment_evidence VALUES ('r1', 1)")
    engine.dispose()
    source = SQLiteTraceReader(path)
    try:
        ev = source.evidence()
        assert ev.has_store and "environment_evidence" not in ev.tables
        assert ev.unusable == {"environment_evidence": "it has no column run_id (not upstream's table)"}
        result = evaluate(ev.facts("r1"))
        assert result.grade is IntegrityGrade.FAIL
        assert result.explanation == "Critical evidence missing: environment_evidence"
        assert source.run_ids(RunFilter(grade="FAIL")) == ["r1"]  # the SQL filter agrees
        got = ev.run_evidence("r1")
        assert got.unusable == ev.unusable and EvidenceClass.H_ENVIRONMENT not in got.rows
        found = {r.code: r for r in reasons(result, unusable=got.unusable)}
        assert found["TABLE_UNREADABLE"].message == (
            "Table environment_evidence exists but cannot be read: it has no column run_id (not upstream's table)")
        assert found["REQUIRED_MISSING"].message.endswith("its table cannot be read, so it counts as empty")
    finally:
        source.close()
    code, text = run_cli("grade", str(path), "r1", "--json")
    assert code == 1
    assert "TABLE_UNREADABLE" in [r["code"] for r in json.loads(text)["reasons"]]
    code, text = run_cli("grade", str(path))
    assert code == 1 and text.splitlines()[-1] == "1 run: 0 PASS, 0 WARN, 1 FAIL"
    assert "note: table environment_evidence exists but cannot be read" in capsys.readouterr().err


def test_tables_with_only_the_columns_upstreams_gatherer_queries(tmp_path):
    """No created_at, no step_index, no resolution or id on a failure (an older or hand-made
    schema): graded as upstream would, and the run's evidence still reads."""
    path = tmp_path / "traces.db"
    _sqlite_traces(path)
    with sqlite3.connect(path) as conn:
        for table in ("environment_evidence", "activity_evidence", "provider_evidence", "policy_decisions"):
            conn.execute(f"CREATE TABLE {table} (run_id TEXT)")
            conn.execute(f"INSERT INTO {table} VALUES ('r1')")
        conn.execute("CREATE TABLE evidence_capture_failures "
                     "(run_id TEXT, evidence_type TEXT, failure_reason TEXT, error_message TEXT)")
        conn.execute("INSERT INTO evidence_capture_failures VALUES ('r1', 'activity_evidence', 'capture_failed', 'x')")
        conn.execute("CREATE TABLE integrity_evidence (run_id TEXT, integrity_status TEXT)")
        conn.execute("INSERT INTO integrity_evidence VALUES ('r1', 'VALID')")
    source = SQLiteTraceReader(path)
    try:
        ev = source.evidence()
        assert ev.unusable == {}
        result = evaluate(ev.facts("r1"))
        assert (result.grade, result.explanation) == (IntegrityGrade.WARN, "1 capture failures recorded")
        assert [(f.failure_reason, f.stored_resolution, f.id) for f in result.facts.failures] == [
            ("capture_failed", None, None)]
        got = ev.run_evidence("r1")
        assert len(got.rows[EvidenceClass.B_ACTIVITY]) == 1 and got.alignment == ()
        assert got.stored is not None and got.stored.integrity_status == "VALID" and got.stored.integrity_score is None
        assert source.run_ids(RunFilter(grade="WARN")) == ["r1"]
    finally:
        source.close()


def _as_role(url: str, role: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port}"))


def test_postgres_table_the_role_may_not_read_counts_as_empty_and_says_why(pg_url, pg_server, capsys):
    TraceBuilder(pg_url).trace("r1", statuses=("succeeded",))
    admin = sa.create_engine(sa_url(pg_url), poolclass=sa.pool.NullPool)
    role = pg_server.new_name("role")
    with admin.begin() as conn:
        create_evidence_tables(conn)
        conn.execute(runs.insert(), [{"id": "r1"}])
        conn.execute(environment_evidence.insert(), [{"id": "ee-r1", "run_id": "r1", "sdk_mode": "inline"}])
        conn.execute(activity_evidence.insert(), [{"id": "ae-r1-1", "run_id": "r1", "step_index": 1}])
        conn.execute(provider_evidence.insert(), [{"id": "pe-r1-1", "run_id": "r1", "step_index": 1,
                                                   "requested_at": NOW}])
        conn.exec_driver_sql(f'CREATE ROLE "{role}" LOGIN')
        conn.exec_driver_sql(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
        conn.exec_driver_sql(f'REVOKE SELECT ON provider_evidence FROM "{role}"')
    url = _as_role(pg_url, role)
    try:
        source = PostgresTraceReader(url)
        try:
            ev = source.evidence()
            assert ev.unusable == {"provider_evidence": "the connecting role has no SELECT privilege on it"}
            result = evaluate(ev.facts("r1"))
            # Upstream's gatherer counts the failing query as 0: 4 of 6, WARN.
            assert (result.grade, result.explanation) == (IntegrityGrade.WARN, "2 evidence types missing")
            assert source.run_ids(RunFilter(grade="WARN")) == ["r1"]
            got = ev.run_evidence("r1")
            found = {r.code: r for r in reasons(result, unusable=got.unusable)}
            assert found["TABLE_UNREADABLE"].message.startswith("Table provider_evidence exists but cannot be read")
            (g_missing,) = [r for r in reasons(result, unusable=got.unusable)
                            if r.code == "EXPECTED_MISSING" and "provider_evidence" in r.message]
            assert "no records found" not in g_missing.message
        finally:
            source.close()
        code, text = run_cli("grade", url, "--json")
        assert code == 0 and json.loads(text)["runs"][0]["integrity_grade"] == "WARN"
        assert "note: table provider_evidence exists but cannot be read" in capsys.readouterr().err
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP OWNED BY "{role}"')
            conn.exec_driver_sql(f'DROP ROLE "{role}"')
        admin.dispose()


def test_text_that_is_not_utf8_spoils_one_field_not_the_grades(tmp_path):
    """A foreign writer's bytes in a TEXT column (a failure's message, an evidence field, a stored
    status) are read with replacement characters, as the trace reader reads them: sqlite3 would
    otherwise fail the statement, and with it the grades of every run in its chunk."""
    path = tmp_path / "traces.db"
    _sqlite_traces(path, ("r1", "r2"))
    engine = sa.create_engine(f"sqlite:///{path}", poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        create_evidence_tables(conn)
        conn.execute(runs.insert(), [{"id": "r1"}, {"id": "r2"}])
        conn.execute(environment_evidence.insert(), [{"id": f"ee-{r}", "run_id": r, "sdk_mode": "inline"}
                                                     for r in ("r1", "r2")])
        conn.execute(activity_evidence.insert(), [{"id": "ae-r1-1", "run_id": "r1", "step_index": 1}])
    engine.dispose()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO evidence_capture_failures (id, run_id, evidence_type, failure_reason, "
                     "error_message, resolution) VALUES ('ecf-1', 'r1', 'provider_evidence', 'database_error', "
                     "CAST(x'6f6b20ff' AS TEXT), 'transient')")
        conn.execute("UPDATE activity_evidence SET skill_id = CAST(x'ff' AS TEXT)")
        conn.execute("INSERT INTO integrity_evidence (id, run_id, expected_artifacts, observed_artifacts, "
                     "integrity_score, integrity_status) VALUES ('ie-r1', 'r1', '[]', '[]', 0.5, CAST(x'ff' AS TEXT))")
    source = SQLiteTraceReader(path)
    try:
        ev = source.evidence()
        graded = ev.grade_runs(["r1", "r2"])
        assert graded["r1"].grade is IntegrityGrade.WARN and graded["r2"].grade is IntegrityGrade.WARN
        (failure,) = graded["r1"].facts.failures
        assert failure.error_message == "ok \ufffd"
        got = ev.run_evidence("r1")
        assert got.rows[EvidenceClass.B_ACTIVITY][0].get("skill_id") == "\ufffd"
        assert got.stored is not None and got.stored.integrity_status == "\ufffd"
    finally:
        source.close()
    code, text = run_cli("grade", str(path), "--json")
    assert code == 0 and json.loads(text)["runs"][0]["capture_failures"][0]["error_message"] == "ok \ufffd"


def test_json_columns_too_deep_or_too_long_to_parse_stay_text():
    from drivers.evidence_reader import _plain

    deep = "[" * 10_000 + "]" * 10_000
    assert _plain("missing_reasons", deep) == deep  # was a RecursionError out of grade --json
    huge = "[" + "9" * 5000 + "]"
    assert _plain("missing_reasons", huge) == huge  # beyond Python's int digits
    assert _plain("missing_reasons", '["B", "G"]') == ["B", "G"]
