"""``trace-inspector search`` on real files: one run, every run (with and without the index), the
index's build/status/delete, JSON, exit codes, one-line errors."""

from __future__ import annotations

import io
import json
import os
from datetime import datetime

import pytest

from drivers.sqlite_writer import SQLiteTraceWriter, StepInput
from ui.cli import main


def run_cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(args), out=out)
    return code, out.getvalue()


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "src" / "traces.db"
    path.parent.mkdir()
    with SQLiteTraceWriter(path, clock=lambda: datetime(2026, 11, 1, 12, 0)) as w:
        for rid in ("run-1", "run-2"):
            w.start_trace(rid, "c", "t", "a", [{"skill": "x"}])
            w.record_steps([StepInput(rid, i, "skill.http", {"url": f"https://x.example/{rid}/{i}"},
                                      "failure" if i == 3 else "success", "TRANSIENT" if i == 3 else "SUCCESS",
                                      "ERR_RATE_LIMIT" if i == 3 else None,
                                      {"error": "429 Too Many Requests"} if i == 3 else {"ok": True}, 1.0, 1.0)
                            for i in range(6)])
            w.complete_trace(rid, "completed")
    return path


def test_one_run_json(db):
    code, text = run_cli("search", str(db), "too many", "--run", "run-2", "--json")
    assert code == 0
    doc = json.loads(text)
    assert doc["query"] == "too many" and doc["run"] == "run-2" and doc["count"] == 1
    (hit,) = doc["hits"]
    assert (hit["run_id"], hit["step_index"], hit["field"]) == ("run-2", 3, "outcome_data")
    start, end = hit["match"]
    assert hit["excerpt"][start:end] == "Too Many"


def test_text_lines_limit_and_nothing_found(db, tmp_path):
    cache = str(tmp_path / "cache")
    code, text = run_cli("search", str(db), "err_rate", "--cache-dir", cache)  # no index: run by run
    assert code == 0
    lines = text.splitlines()
    assert lines[-1] == "2 hit(s)"
    assert [tuple(line.split("\t")[:3]) for line in lines[:-1]] == [("run-1", "3", "outcome_code"),
                                                                     ("run-2", "3", "outcome_code")]
    code, text = run_cli("search", str(db), "example", "--run", "run-1", "--limit", "2")
    assert code == 0 and text.splitlines()[-1] == "2 hit(s)"
    code, text = run_cli("search", str(db), "no such text", "--run", "run-1")
    assert code == 1 and text == "0 hit(s)\n"


def test_index_build_status_search_delete(db, tmp_path):
    cache = tmp_path / "cache"
    before = set(os.listdir(db.parent))
    code, text = run_cli("search", str(db), "--index", "status", "--cache-dir", str(cache), "--json")
    assert code == 0 and json.loads(text)["index"]["state"] == "none"
    code, text = run_cli("search", str(db), "--index", "build", "--cache-dir", str(cache))
    assert code == 0 and "built: 12 steps" in text
    code, text = run_cli("search", str(db), "--index", "status", "--cache-dir", str(cache), "--json")
    status = json.loads(text)["index"]
    assert status["state"] == "ready" and status["steps"] == 12 and os.path.dirname(status["path"]) == str(cache)
    code, text = run_cli("search", str(db), "ERR_RATE", "--cache-dir", str(cache), "--json")
    doc = json.loads(text)
    assert code == 0 and doc["index"] == status["path"]
    assert sorted((h["run_id"], h["field"]) for h in doc["hits"]) == [("run-1", "outcome_code"), ("run-2", "outcome_code")]
    code, text = run_cli("search", str(db), "--index", "delete", "--cache-dir", str(cache))
    assert code == 0 and "deleted" in text and not os.listdir(cache)
    assert set(os.listdir(db.parent)) == before


@pytest.mark.parametrize(("args", "needle"), [
    (("search", "{db}", ""), "nothing to search for"),
    (("search", "{db}"), "give the TEXT"),
    (("search", "{db}", "x", "--run", "nope"), "no run 'nope'"),
    (("search", "{missing}", "x"), "no such file"),
    (("search", "{db}", "x", "--limit", "-1"), "--limit"),
    (("search", "{db}", "x", "--index", "rebuild"), "invalid choice"),
])
def test_errors_exit_2_with_one_line(db, tmp_path, capsys, args, needle):
    argv = [a.format(db=db, missing=tmp_path / "missing.db") for a in args]
    code, text = run_cli(*argv)
    err = capsys.readouterr().err
    assert code == 2 and text == ""
    assert needle in err and "Traceback" not in err
    if "{missing}" in args:
        assert str(tmp_path / "missing.db") in err
