"""``trace-inspector diff`` on real SQLite files, a trace JSON file and Postgres: the three operand
forms, exit codes, upstream's ParityResult keys, ignore rules, and the replay's original found
through ``metadata.replay_of``."""

from __future__ import annotations

import io
import json
import shutil

import pytest

from drivers.sqlite_writer import SQLiteTraceWriter, StepInput
from tests.pgutil import TraceBuilder
from ui.cli import main


def run_cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(args), out=out)
    return code, out.getvalue()


def write_run(w: SQLiteTraceWriter, run_id: str, outputs, *, skills=None, metadata=None, params=None):
    w.start_trace(run_id, f"corr-{run_id}", "tenant-a", "agent-1", [{"skill": "s"}])
    skills = skills or ["json_transform"] * len(outputs)
    w.record_steps(StepInput(run_id=run_id, step_index=i, skill_name=skills[i],
                             params=(params[i] if params else {"i": i}), status="success",
                             outcome_category="SUCCESS", outcome_code=None, outcome_data=out, cost_cents=1.0,
                             duration_ms=float(i)) for i, out in enumerate(outputs))
    w.complete_trace(run_id, "completed", metadata)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "traces.db"
    with SQLiteTraceWriter(path) as w:
        write_run(w, "orig", [{"v": 0}, {"v": 1, "request_id": "a"}, {"v": 2}])
        write_run(w, "same", [{"v": 0}, {"v": 1, "request_id": "a"}, {"v": 2}], metadata={"replay_of": "orig"})
        write_run(w, "noisy", [{"v": 0}, {"v": 1, "request_id": "b"}, {"v": 2}], metadata={"replay_of": "orig"})
        write_run(w, "dropped", [{"v": 0}, {"v": 2}], skills=["json_transform", "json_transform"])
    return path


def test_a_replay_found_through_replay_of_with_parity(db):
    code, text = run_cli("diff", str(db), "same")
    assert code == 0
    assert "Original  orig" in text and "Replay    same" in text
    assert "Upstream verdict: parity" in text and "Parity holds" in text


def test_a_changed_output_breaks_parity_unless_ignored(db):
    code, text = run_cli("diff", str(db), "orig", "noisy")
    assert code == 1
    assert "Upstream verdict: parity" in text  # outcome_data is in no upstream signature
    assert "/outcome_data/request_id: 'a' → 'b'" in text and "Parity broken" in text
    code, text = run_cli("diff", str(db), "orig", "noisy", "--ignore", "/outcome_data/request_id", "--json")
    assert code == 0
    doc = json.loads(text)
    assert doc["parity_broken"] is False and doc["counts"]["equal"] == 3
    assert doc["rows"][1]["absorbed"][0] == {"pointer": "/outcome_data/request_id", "op": "changed", "left": "a",
                                             "right": "b", "rule": "ignored by user rule /outcome_data/request_id"}
    assert "ignored by user rule: /outcome_data/request_id" in doc["rules"]


def test_json_has_upstreams_parity_keys_and_our_alignment(db):
    code, text = run_cli("diff", str(db), "orig", "dropped", "--json")
    assert code == 1
    doc = json.loads(text)
    assert list(doc)[:5] == ["is_parity", "original_signature", "replay_signature", "divergence_step",
                             "divergence_reason"]
    # the first two steps hash alike (outcome_data is not hashed): upstream sees the count differ
    assert (doc["is_parity"], doc["divergence_step"], doc["divergence_reason"]) == (False, 2, "step count: 3 vs 2")
    assert doc["left"]["steps"] == 3 and doc["right"]["steps"] == 2
    assert doc["first_divergence"]["kind"] in ("changed", "only-left")
    assert len(doc["original_signature"]) == 32


def test_two_sources_a_database_and_a_trace_file(db, tmp_path, fixtures_dir):
    golden = fixtures_dir / "golden_trace.json"
    code, text = run_cli("diff", str(golden), "frozen-trace-001", str(golden), "frozen-trace-001", "--json")
    assert code == 0 and json.loads(text)["original_signature"] == "f376998a5ed844781b9d85694efee108"
    other = tmp_path / "copy.db"
    shutil.copy(db, other)
    code, text = run_cli("diff", str(db), "orig", str(other), "same")
    assert code == 0


def test_usage_errors(db, capsys):
    assert run_cli("diff", str(db), "orig")[0] == 2  # not a replay
    assert "is not a replay" in capsys.readouterr().err
    assert run_cli("diff", str(db), "orig", "same", "--ignore", "outcome_data")[0] == 2
    assert run_cli("diff", str(db), "orig", "nope")[0] == 2


def test_postgres_replay_against_its_original(pg_url):
    b = TraceBuilder(pg_url)
    try:
        b.trace("pg-orig", statuses=("succeeded", "succeeded"))
        b.trace("pg-replay", statuses=("succeeded", "failed"), metadata={"replay_of": "pg-orig"})
    finally:
        b.close()
    code, text = run_cli("diff", pg_url, "pg-replay", "--json")
    assert code == 1
    doc = json.loads(text)
    assert doc["divergence_step"] == 1 and doc["divergence_reason"] == "status: succeeded vs failed"
    assert doc["left"]["trace_id"] == "trace_pg-orig"
    assert any("§11.4" in n for n in doc["notes"])  # upstream would read 'failed' as success
