"""What the fuzzing (tests/fuzz) found, one test each: the command line on real SQLite files and
trace files holding hostile values, with stdout a strict UTF-8 stream as a real terminal's is."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from tests.fuzz.harness import invoke, problems
from tests.ui.evidence_dbs import PASS_RUN, build_evidence_db

TIMEOUT = 60


@pytest.fixture(scope="module")
def evidence_master(tmp_path_factory) -> bytes:
    return build_evidence_db(tmp_path_factory.mktemp("hostile") / "traces.db").read_bytes()


def _db(folder: Path, data: bytes, sql: str = "", params=(), name: str = "traces.db") -> Path:
    path = folder / name
    path.write_bytes(data)
    if sql:
        conn = sqlite3.connect(path)
        try:
            conn.execute(sql, params)
            conn.commit()
        finally:
            conn.close()
    return path


def _run(*argv: str) -> tuple[int, str]:
    inv = invoke(list(argv), TIMEOUT)
    assert problems(inv, argv[1]) == [], inv.stderr
    return inv.code, inv.stdout


def test_a_blob_in_the_evidence_is_written_as_text_by_grade_json(evidence_master, tmp_path):
    db = _db(tmp_path, evidence_master, "UPDATE integrity_evidence SET verification_timestamp = ?, "
             "missing_reasons = ? WHERE run_id = ?", (b"\xff\x00blob", b'["a"]', PASS_RUN))
    for argv in (("grade", str(db), PASS_RUN, "--json"), ("grade", str(db), "--json")):
        code, out = _run(*argv)
        assert code in (0, 1)
        assert '"\\ufffd\\u0000blob"' in json.dumps(json.loads(out))  # the BLOB as its text


def test_a_lone_surrogate_in_metadata_goes_through_every_json_command(evidence_master, tmp_path):
    db = str(_db(tmp_path, evidence_master, "UPDATE traces SET metadata = ?, tenant_id = ? WHERE run_id = ?",
                 ('{"note": "\\ud800", "\\udfff": 1}', "t\ud800".encode("utf-8", "surrogatepass"), PASS_RUN)))
    for argv in (("runs", db, "--json"), ("show", db, PASS_RUN, "--json"), ("grade", db, "--json"),
                 ("grade", db, PASS_RUN, "--json"), ("check", db, "--json"), ("search", db, "llm", "--json"),
                 ("activity", db, "--json"), ("runs", db), ("show", db, PASS_RUN)):
        code, out = _run(*argv)
        assert code in (0, 1), argv
    doc = json.loads(_run("show", db, PASS_RUN, "--json")[1])
    assert doc["run"]["metadata"] == {"note": "\ud800", "\udfff": 1}


def test_a_lone_surrogate_in_a_trace_file_is_printed_as_an_escape(fixtures_dir, tmp_path):
    doc = json.loads((fixtures_dir / "golden_trace.json").read_text())
    doc["steps"][1]["outcome_code"] = "\ud800"
    path = tmp_path / "trace.json"
    path.write_text(json.dumps(doc))  # ASCII: the surrogate as a \ud800 escape
    code, out = _run("show", str(path), doc["run_id"])
    assert code == 0 and "\\ud800" in out


def test_a_file_name_that_is_not_utf8_opens(evidence_master, tmp_path):
    name = os.fsdecode(b"\xff\xfe.db")
    db = _db(tmp_path, evidence_master, name=name)
    code, out = _run("runs", str(db))
    assert code == 0 and PASS_RUN in out
    code, out = _run("activity", str(db), "--json")
    assert code == 0 and json.loads(out)["source"]["location"] == str(db)


def test_a_header_read_version_of_2_alone_makes_nothing_beside_the_file(evidence_master, tmp_path):
    """SQLite goes to WAL mode on header byte 19 (the read version) alone: such a file is opened
    immutable as a WAL database without its -wal is, not mode=ro (which would make -wal and -shm)."""
    data = bytearray(evidence_master)
    data[19] = 2
    db = _db(tmp_path, bytes(data))
    for argv in (("runs", str(db)), ("grade", str(db), "--json")):
        _run(*argv)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["traces.db"]


def test_infinite_token_counts_and_costs_are_checked(evidence_master, tmp_path):
    db = _db(tmp_path, evidence_master, "UPDATE provider_evidence SET total_tokens = ? WHERE run_id = ?",
             (float("inf"), PASS_RUN))
    conn = sqlite3.connect(db)
    conn.execute("UPDATE trace_steps SET cost_cents = ? WHERE run_id = ?", (float("-inf"), PASS_RUN))
    conn.commit()
    conn.close()
    for argv in (("check", str(db), PASS_RUN), ("check", str(db), "--json")):
        code, _out = _run(*argv)
        assert code in (0, 1)


def test_evidence_json_nested_1000_deep_is_written_by_grade_json(evidence_master, tmp_path):
    """Read at 1,000 levels (within the parser's reach), written from inside the report and the
    command's stack: beyond the encoder's recursion, so written without it."""
    db = _db(tmp_path, evidence_master, "UPDATE integrity_evidence SET missing_reasons = ? WHERE run_id = ?",
             ("[" * 1000 + "]" * 1000, PASS_RUN))
    for argv in (("grade", str(db), "--json"), ("grade", str(db), PASS_RUN, "--json")):
        code, out = _run(*argv)
        assert code in (0, 1) and "[" * 1000 + "]" * 1000 in out.replace("\n", "").replace(" ", "")


@pytest.mark.parametrize(("column", "value"), [("retry_count", float("-inf")), ("step_index", "1" * 5000),
                                               ("cost_cents", 10**30), ("duration_ms", "9" * 400)])
def test_step_numbers_beyond_range_are_read(evidence_master, tmp_path, column, value):
    """A step number SQLite hands back as an infinity, or text it reads as one: not a number."""
    db = _db(tmp_path, evidence_master, f"UPDATE trace_steps SET {column} = ? WHERE rowid = (SELECT MIN(rowid) FROM trace_steps WHERE run_id = ?)",
             (str(value) if isinstance(value, int) else value, PASS_RUN))
    for argv in (("check", str(db), "--json"), ("search", str(db), "llm"), ("show", str(db), PASS_RUN, "--json"),
                 ("show", str(db), PASS_RUN)):
        code, _out = _run(*argv)
        assert code in (0, 1), argv


def test_durations_and_costs_that_are_not_finite_are_formatted():
    from ui.format import fmt_cost, fmt_duration

    assert fmt_duration(float("inf")) == "inf ms" and fmt_duration(float("nan")) == "nan ms"
    assert fmt_duration(float("-inf")) == "-inf ms" and fmt_duration(7_200_000) == "2 h 00 min"
    assert fmt_cost(float("inf")) == "inf¢"
