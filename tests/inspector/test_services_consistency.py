"""The inspector's panels checked against each other on real SQLite files (and one Postgres
database with logs)."""

from __future__ import annotations

import io
import json

import pytest

from drivers import open_source
from inspector.consistency import ConsistencyRule
from inspector.services.consistency import INSPECTOR_RULES, check_run, run_slots
from tests.ui.evidence_dbs import build_evidence_db
from ui.cli import main


@pytest.fixture(scope="module")
def evidence_db(tmp_path_factory):
    return build_evidence_db(tmp_path_factory.mktemp("cons") / "traces.db")


@pytest.fixture
def odd_db(tmp_path):
    """Runs whose panels disagree: a completed run without a completion time, a step stamped
    before its run started, and one that agrees."""
    from drivers.sqlite_writer import SQLiteTraceWriter, StepInput

    db = tmp_path / "traces.db"
    with SQLiteTraceWriter(db, clock=lambda: __import__("datetime").datetime(2026, 11, 1, 12, 0)) as w:
        for rid in ("no-end", "early-step", "fine"):
            w.start_trace(rid, "c", "t", "a", [{"skill": "x"}])
            w.record_steps([StepInput(rid, i, "x", {}, "success", "SUCCESS", None, None, 0.5, 10.0) for i in range(3)])
            w.complete_trace(rid, "completed")
        w.execute_raw("UPDATE traces SET completed_at = NULL WHERE run_id = 'no-end'", ())
        w.execute_raw("UPDATE trace_steps SET timestamp = '2026-10-01T00:00:00+00:00' "
                      "WHERE run_id = 'early-step' AND step_index = 0", ())
    return db


def test_panels_that_disagree_are_named_by_rule(odd_db):
    src = open_source(odd_db)
    try:
        results = {rid: check_run(src, rid) for rid in ("no-end", "early-step", "fine")}
    finally:
        src.close()
    assert [v.rule_id for v in results["no-end"].result.violations] == ["INS-005"]
    v = results["early-step"].result.violations[0]
    assert v.rule_id == "INS-006" and v.slots_involved == ("step_tree", "runs_list")
    assert v.actual.startswith("step_tree.first_step_at=2026-10-01T00:00:00+00:00, runs_list.started_at=")
    assert results["fine"].result.is_consistent
    signals = results["fine"].as_json()["signals"]
    assert signals["step_tree.rows"] == signals["runs_list.total_steps"] == 3
    assert signals["step_tree.cost_sum"] == pytest.approx(1.5)


def test_evidence_and_integrity_slots(evidence_db):
    src = open_source(evidence_db)
    try:
        ev = src.evidence()
        warn = check_run(src, "ev-warn", evidence=ev)
        slots = {s.slot_id for s in run_slots(src, "ev-pass", evidence=ev)}
    finally:
        src.close()
    assert slots == {"runs_list", "step_tree", "evidence", "integrity"}
    found = {v.rule_id: v for v in warn.result.violations}
    # Upstream sealed VALID; the grade now is WARN.
    assert found["INS-009"].actual == "integrity.stored_grade=PASS, integrity.grade=WARN"
    # The test database moves started_at after its steps were stamped: the step tree says so.
    assert set(found) == {"INS-006", "INS-009"}


def test_a_rule_file_replaces_the_inspectors_rules(odd_db):
    src = open_source(odd_db)
    try:
        rule = ConsistencyRule("MY-1", "few steps", "at most 2 steps", "step_tree.rows", "runs_list.total_steps",
                               "signal_a <= 2 and signal_a == signal_b")
        result = check_run(src, "fine", [rule]).result
    finally:
        src.close()
    assert [v.rule_id for v in result.violations] == ["MY-1"]
    assert len({r.id for r in INSPECTOR_RULES}) == len(INSPECTOR_RULES)


def test_check_on_the_command_line(odd_db, capsys):
    out = io.StringIO()
    assert main(["check", str(odd_db)], out=out) == 1
    text = out.getvalue()
    assert "no-end  INS-005 completed_run_has_completed_at" in text and "3 runs checked, 2 with violations" in text
    out = io.StringIO()
    assert main(["check", str(odd_db), "fine", "--json"], out=out) == 0
    doc = json.loads(out.getvalue())
    assert doc["inconsistent_runs"] == 0 and doc["runs"][0]["is_consistent"] is True
