"""The command line loads only what a command needs: listing runs of a SQLite file imports neither
Qt, numpy nor pyqtgraph (numpy alone is 0.2 s of start-up), nor the Redis, Postgres or signing
libraries, nor the evidence, logs and bundle modules, nor SQLAlchemy (0.4 s: the SQLite reader
lists runs in plain SQL; only a file with evidence tables loads the evidence reader, for the Grade
column); the desktop app paints its first window before numpy is loaded (the
runs-over-time counts load it on their worker)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("numpy", "pyqtgraph", "PySide6", "redis", "psycopg", "cryptography", "reportlab")
#: Modules of this project that a command over runs or steps does not need at start.
OWN = ("drivers.bundle", "drivers.evidence_reader", "drivers.evidence_schema", "inspector.integrity",
       "inspector.logs", "inspector.evidence", "inspector.bundle", "inspector.activity")


def loaded_by(code: str, *argv: str, also: tuple[str, ...] = ()) -> list[str]:
    probe = (f"import json, sys\n{code}\n"
             f"print(json.dumps(sorted(m for m in {HEAVY + OWN + also!r} if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", probe, *argv], capture_output=True, text=True, timeout=120,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


CLI = "import io; from ui.cli import main; assert main(sys.argv[1:], out=io.StringIO()) == 0"


def test_listing_runs_loads_no_charts_qt_or_servers(small_db):
    assert loaded_by(CLI, "runs", str(small_db), "--limit", "5", also=("sqlalchemy",)) == []
    assert loaded_by(CLI, "runs", str(small_db), "--json", "--status", "completed", "--tenant", "tenant-0",
                     "--since", "2026-01-01", "--sort", "run_id", "--asc", also=("sqlalchemy",)) == []
    # Sorting by a step counter is one grouped statement built with SQLAlchemy.
    assert loaded_by(CLI, "runs", str(small_db), "--sort", "total_steps", also=("sqlalchemy",)) == ["sqlalchemy"]


def test_showing_a_run_loads_no_charts_qt_or_servers(small_db):
    from tests.ui.dbs import BIG_RUN

    assert loaded_by(CLI, "show", str(small_db), BIG_RUN, "--json") == []
    assert loaded_by(CLI, "show", str(small_db), BIG_RUN) == []


def test_grading_loads_the_evidence_modules_only(small_db):
    # Not a finding: a plain traces.db has no evidence store (exit 2); the modules it needs load.
    code = "import io; from ui.cli import main; main(sys.argv[1:], out=io.StringIO())"
    assert set(loaded_by(code, "grade", str(small_db))) <= {"drivers.evidence_reader", "drivers.evidence_schema",
                                                             "inspector.integrity", "inspector.evidence",
                                                             "inspector.bundle"}


def test_the_parsers_grades_are_the_integrity_grades():
    from inspector.integrity import IntegrityGrade
    from ui.cli import _GRADES

    assert _GRADES == tuple(g.value for g in IntegrityGrade)


@pytest.mark.gui
def test_the_app_window_module_loads_no_numpy_or_charts():
    loaded = loaded_by("import ui.qt.app, ui.qt.main_window")
    assert "numpy" not in loaded and "pyqtgraph" not in loaded and "inspector.activity" not in loaded
