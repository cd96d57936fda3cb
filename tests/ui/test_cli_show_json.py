"""``show --json`` through orjson writes the same keys and values as through the standard library,
on a run of hostile cells (NaN, infinities, 1e400, huge integers, lone surrogates, deep nesting,
duplicate keys, BLOBs, text that is not UTF-8, numbers in text columns), and to a real stdout."""

from __future__ import annotations

import io
import json
import sqlite3
import subprocess
import sys

import pytest

from drivers.sqlite_writer import UPSTREAM_DDL
from inspector import fastjson
from tests.jsonvalues import same
from ui.cli import main

# (params, outcome_data, cost_cents, duration_ms, status)
HOSTILE = [
    ('{"a": NaN}', "[Infinity]", 1.0, 2.0, "success"),
    ("[1e400]", '{"n": 123456789012345678901234567890}', 1.0, 2.0, "failed"),
    ('"\\ud800"', '{"\\udc00": 1}', 1.0, 2.0, "ok"),
    ("[" * 5000 + "]" * 5000, "[" * 800 + "]" * 800, 1.0, 2.0, "success"),
    ('{"a": 1, "a": 2}', '{"broken": tru', 1.0, 2.0, "success"),
    ('{"x": "ü😀"}', None, "nan", "1e999", "success"),
    (42, 3.5, float("inf"), -float("inf"), b"\x00\xff"),
    ('{"big": -9223372036854775809, "u": 18446744073709551615}', '"' + "9" * 5000 + '"', 1.0, 2.0, 7.5),
    (b'{"a": 2}', b"\xff\xfe", 0.5, 3.0, "success"),
    ('{"q": "SELECT 1", "n": [1, 2.5, -0.0, true, null]}', '{"rows": []}', 0.01, 6.5, "success"),
]
PLAIN_STEP = len(HOSTILE) - 1


@pytest.fixture
def hostile_db(tmp_path):
    path = tmp_path / "hostile.db"
    con = sqlite3.connect(path, isolation_level=None)
    con.executescript(UPSTREAM_DDL)
    con.execute("INSERT INTO traces (run_id, correlation_id, tenant_id, plan, started_at, status, metadata) "
                "VALUES ('h', 'c', 't', '[NaN]', '2026-01-01T00:00:00+00:00', 'completed', '{\"m\": \"\\ud800\"}')")
    for i, (params, data, cost, duration, status) in enumerate(HOSTILE):
        con.execute("INSERT INTO trace_steps (run_id, step_index, skill_name, params, status, outcome_category, "
                    "outcome_data, cost_cents, duration_ms, retry_count, timestamp) "
                    "VALUES ('h', ?, 's', ?, ?, 'SUCCESS', ?, ?, ?, 0, 't')", (i, params, status, data, cost, duration))
    # TEXT that is not UTF-8: sqlite3 cannot read the batch it is in (the careful read takes over).
    con.execute("INSERT INTO trace_steps (run_id, step_index, skill_name, params, status, outcome_category, "
                "outcome_data, cost_cents, duration_ms, retry_count, timestamp) VALUES ('h', 99, 's', "
                "CAST(x'7b22ff223a20317d' AS TEXT), 'success', 'SUCCESS', '{}', 1, 2, 0, 't')")
    con.close()
    return path


def show_json(db) -> str:
    out = io.StringIO()
    assert main(["show", str(db), "h", "--json"], out=out) == 0
    return out.getvalue()


def test_fast_and_standard_paths_write_the_same_values(hostile_db, monkeypatch):
    fast = show_json(hostile_db)
    monkeypatch.setattr(fastjson, "orjson", None)  # the standard library only: what show wrote before
    slow = show_json(hostile_db)
    assert fast != slow  # the fast path did write something (compact spacing)
    a, b = json.loads(fast), json.loads(slow)
    assert same(a, b)
    assert len(a["steps"]) == len(HOSTILE) + 1
    steps = a["steps"]
    assert steps[1]["outcome_data"] == {"n": 123456789012345678901234567890}
    assert steps[2]["params"] == "\ud800" and steps[7]["params"]["big"] == -9223372036854775809
    assert steps[3]["params"] == "[" * 5000 + "]" * 5000 and "nested too deeply" in steps[3]["warnings"][0]
    assert steps[4]["params"] == {"a": 2} and steps[5]["outcome_data"] is None
    assert "not UTF-8" in steps[-1]["warnings"][0] and "not UTF-8" in steps[8]["warnings"][0]


def test_a_plain_step_goes_through_orjson(hostile_db):
    line = show_json(hostile_db).splitlines()[1 + PLAIN_STEP]
    assert line.startswith('  {"step_index":9,') and '"params":{"q":"SELECT 1","n":[1,2.5,-0.0,true,null]}' in line


def test_hostile_cells_reach_a_real_stdout(hostile_db):
    # A lone surrogate cannot be UTF-8: it is written as its \u escape, not a traceback.
    done = subprocess.run([sys.executable, "-m", "ui.cli", "show", str(hostile_db), "h", "--json"],
                          capture_output=True, timeout=120)
    assert done.returncode == 0 and b"Traceback" not in done.stderr
    assert same(json.loads(done.stdout.decode("utf-8")), json.loads(show_json(hostile_db)))
