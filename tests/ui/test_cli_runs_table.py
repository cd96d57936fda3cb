"""``trace-inspector runs``: the integrity grade of each run listed, as the window's Grade column
reads it (``grades_of``, for the runs printed only), a dash without an evidence store; numbers
right-aligned under their headers."""

from __future__ import annotations

import io
import json

import pytest

from tests.ui.evidence_dbs import GRADES, build_evidence_db
from ui.cli import main

NUMERIC = ("STEPS", "FAIL", "COST", "DURATION")


def run_cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(args), out=out)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def evidence_master(tmp_path_factory):
    return build_evidence_db(tmp_path_factory.mktemp("runs-grades") / "traces.db").read_bytes()


@pytest.fixture
def evidence_db(evidence_master, tmp_path):
    path = tmp_path / "traces.db"
    path.write_bytes(evidence_master)
    return path


def cells(text: str, column: str) -> dict[str, str]:
    """Each run's cell of a left-aligned column of the runs table, by run id: from its header to the
    next one."""
    lines = text.splitlines()
    header, rows = lines[0], lines[1:-1]
    start = header.index(column)
    end = len(header) - len(header[start + len(column):].lstrip())  # where the next header starts
    return {row.split()[0]: row[start:end].strip() for row in rows}


def test_the_grade_column_is_the_grade_of_each_run(evidence_db):
    code, text = run_cli("runs", str(evidence_db))
    assert code == 0
    assert text.splitlines()[0].split()[:3] == ["RUN", "ID", "STATUS"] and "GRADE" in text.splitlines()[0]
    assert cells(text, "GRADE") == GRADES
    code, text = run_cli("runs", str(evidence_db), "--json")
    doc = json.loads(text)
    assert doc["evidence_store"] is True
    assert {r["run_id"]: r["integrity_grade"] for r in doc["runs"]} == GRADES


def test_only_the_runs_printed_are_graded(evidence_db, monkeypatch):
    import inspector.services.grading as grading

    asked: list[list[str]] = []
    real = grading.grades_of

    def spy(reader, run_ids):
        asked.append(list(run_ids))
        return real(reader, run_ids)

    monkeypatch.setattr(grading, "grades_of", spy)
    code, text = run_cli("runs", str(evidence_db), "--limit", "2", "--sort", "run_id", "--asc")
    assert code == 0 and asked == [["ev-fail", "ev-pass"]]
    assert cells(text, "GRADE") == {"ev-fail": "FAIL", "ev-pass": "PASS"}


def test_without_an_evidence_store_the_grade_is_a_dash(small_db):
    code, text = run_cli("runs", str(small_db), "--limit", "5")
    assert code == 0 and set(cells(text, "GRADE").values()) == {"—"}
    doc = json.loads(run_cli("runs", str(small_db), "--limit", "5", "--json")[1])
    assert doc["evidence_store"] is False and {r["integrity_grade"] for r in doc["runs"]} == {None}


def test_numbers_are_right_aligned_under_their_headers(small_db):
    code, text = run_cli("runs", str(small_db))
    assert code == 0
    header, *rows, _count = text.splitlines()
    for name in NUMERIC:
        end = header.index(name) + len(name)
        for row in rows:
            assert row[end - 1] != " " and row[end:end + 2] in ("  ", ""), (name, row)


def test_grading_the_runs_listed_loads_no_qt_charts_or_servers(evidence_db):
    from tests.ui.test_cli_imports import CLI, loaded_by

    assert loaded_by(CLI, "runs", str(evidence_db), "--limit", "5") == ["drivers.evidence_reader",
                                                                        "drivers.evidence_schema",
                                                                        "inspector.evidence", "inspector.integrity"]
