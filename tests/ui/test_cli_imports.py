"""The command line loads only what a command needs: listing runs of a SQLite file imports neither
Qt, numpy nor pyqtgraph (numpy alone is 0.2 s of start-up), nor the Redis, Postgres or signing
libraries."""

from __future__ import annotations

import json
import subprocess
import sys


def test_listing_runs_loads_no_charts_qt_or_servers(small_db):
    code = ("import json, sys; from ui.cli import main; import io; main(['runs', sys.argv[1], '--limit', '5'], "
            "out=io.StringIO()); print(json.dumps(sorted(m for m in ('numpy', 'pyqtgraph', 'PySide6', 'redis', "
            "'psycopg', 'cryptography') if m in sys.modules)))")
    done = subprocess.run([sys.executable, "-c", code, str(small_db)], capture_output=True, text=True, timeout=120,
                          check=True)
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
