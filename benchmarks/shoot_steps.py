"""Screenshots of the step table (README): the largest run of a database (the demo's has 100,000
steps) shown at its middle step, after a jump to the next failure, in the light palette and
(``--dark``) a dark one.

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python benchmarks/shoot_steps.py DB OUT_DIR [--dark]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from paintwatch import wait  # noqa: E402
from shoot_charts import dark_palette  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("db")
    ap.add_argument("out", type=Path)
    ap.add_argument("--dark", action="store_true", help="a dark palette (file names end in -dark)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    big = con.execute("SELECT run_id FROM trace_steps GROUP BY run_id ORDER BY COUNT(*) DESC LIMIT 1").fetchone()[0]
    con.close()
    from PySide6.QtCore import QSettings

    from inspector.source import StepSeek
    from ui.qt.app import create_window, make_application
    from ui.qt.session.session import Worker

    app = make_application()
    suffix = ""
    if args.dark:
        app.setStyle("Fusion")
        app.setPalette(dark_palette())
        suffix = "-dark"
    w = create_window(QSettings(str(args.out / "shoot-settings.ini"), QSettings.Format.IniFormat))
    w.resize(1280, 800)
    w.show()
    w.open_location(args.db)
    wait(app, lambda: w.runs_model.rowCount() > 0)
    w.filters.search.setText(big)
    w.filters.search.editingFinished.emit()
    wait(app, lambda: w.runs_model.row_of(big) is not None)
    w.select_run(big)
    model, view = w.steps_model, w.steps_view
    wait(app, lambda: model.row_map is not None)
    view.select_step(model.step_index_at(model.rowCount() // 2))
    w.steps_panel.seek(StepSeek.FAILURE)
    wait(app, lambda: w.session.pending(Worker.INTERACTIVE) == 0 and not w.steps_panel.note.text().startswith("Look"),
         timeout=120)
    wait(app, lambda: model.step_at(view.rowAt(2)) is not None and w.detail.kind == "step")
    wait(app, lambda: True)
    w.grab().save(str(args.out / f"screenshot-steps{suffix}.png"))
    w.shutdown()
    print(f"wrote the step table of {big} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
