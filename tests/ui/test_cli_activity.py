"""``trace-inspector activity``: runs and failed runs per interval, as text and JSON."""

from __future__ import annotations

import io
import json

from ui.cli import main


def cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(args), out=out), out.getvalue()


def test_activity_counts_the_runs_of_the_filters(small_db):
    code, text = cli("activity", str(small_db), "--json", "--intervals", "4")
    doc = json.loads(text)
    # 30 runs written, one deleted (its steps are orphans: no start time, not counted), plus the big run
    assert code == 0 and doc["runs"] == 30 and doc["undated"] == 0
    assert doc["failures"] == 6  # every fifth run failed
    assert len(doc["intervals"]) <= 5 and sum(i["runs"] for i in doc["intervals"]) == 30
    assert doc["intervals"][0]["until"] == doc["intervals"][1]["since"]
    code, text = cli("activity", str(small_db), "--status", "failed", "--intervals", "2")
    first = text.splitlines()[0]
    assert code == 0 and first.startswith("6 runs (6 failed) from 2026-10-01T00:0") and "in intervals of" in first


def test_activity_with_nothing_dated_and_bad_options(small_db, capsys):
    code, text = cli("activity", str(small_db), "--tenant", "nobody")
    assert code == 0 and text == "No run of the filters has a start time\n"
    assert cli("activity", str(small_db), "--intervals", "0")[0] == 2
    assert "--intervals must be between 1 and 10000" in capsys.readouterr().err
    assert cli("activity", str(small_db), "--since", "yesterday-ish")[0] == 2
