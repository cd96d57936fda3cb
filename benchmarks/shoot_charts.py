"""Screenshots of the charts (README): the step timeline of a small run and of the 100,000-step
run, and the runs over time with a span chosen and *With findings* ticked, each in the light
palette and (``--dark``) a dark one.

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python benchmarks/shoot_charts.py DEMO.db OUT_DIR [--dark]

(``make screenshot`` writes the README's into resources/.) DEMO.db is the demo database: its
largest run is the 100k-step one; the small run is the first of four to eight steps with a retry.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from paintwatch import wait  # noqa: E402


def shooting(doc: str):
    """The arguments (DB, OUT_DIR, --dark), the application, a 1280×800 main window opening DB
    in the palette asked for, the file-name suffix and the DB's largest run."""
    ap = argparse.ArgumentParser(description=doc)
    ap.add_argument("db")
    ap.add_argument("out", type=Path)
    ap.add_argument("--dark", action="store_true", help="the dark scheme (file names end in -dark)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    big = con.execute("SELECT run_id FROM trace_steps GROUP BY run_id ORDER BY COUNT(*) DESC LIMIT 1").fetchone()[0]
    con.close()
    from PySide6.QtCore import QSettings

    from ui.qt.app import create_window, make_application
    from ui.qt.theme import apply_theme

    app = make_application()
    apply_theme(app, "dark" if args.dark else "light")  # the app's own schemes (ui.qt.theme)
    suffix = "-dark" if args.dark else ""
    w = create_window(QSettings(str(args.out / "shoot-settings.ini"), QSettings.Format.IniFormat))
    w.resize(1280, 800)
    w.show()
    w.open_location(args.db)
    return args, app, w, suffix, big


def main() -> int:
    args, app, w, suffix, big = shooting(__doc__)
    con = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    small = con.execute("SELECT run_id FROM trace_steps GROUP BY run_id HAVING COUNT(*) BETWEEN 4 AND 8 "
                        "AND SUM(retry_count) > 0 ORDER BY run_id LIMIT 1").fetchone()[0]
    con.close()
    wait(app, lambda: w.runs_model.rowCount() > 0 and w.activity.activity is not None and not w.activity.pending)

    # The timeline of a small run, then of the big one (its whole read, after the overview).
    w.timeline_dock.show()
    w.timeline_dock.raise_()
    for run_id, name in ((small, "timeline"), (big, "timeline-100k")):
        w.filters.search.setText(run_id)
        w.filters.search.editingFinished.emit()
        wait(app, lambda run_id=run_id: w.runs_model.row_of(run_id) is not None)
        w.select_run(run_id)
        panel = w.timeline_panel
        wait(app, lambda run_id=run_id: panel.key == w.current_run().key and not panel.pending
             and panel.chart.cols is not None and panel.chart.stride == 1)
        if name == "timeline-100k":
            # Zoomed in on a few hundred steps in the middle: the level of detail at work.
            n = len(panel.chart.cols)
            panel.chart.getViewBox().setRange(yRange=(n // 2, n // 2 + 300), padding=0)
            first = float(panel.chart.cols.start[n // 2])
            last = float(panel.chart.cols.end[n // 2 + 300])
            panel.chart.getViewBox().setRange(xRange=(first, last), padding=0.02)
            w.grab().save(str(args.out / f"screenshot-{name}-zoomed{suffix}.png"))
            panel.fit()
        wait(app, lambda: True)
        w.grab().save(str(args.out / f"screenshot-{name}{suffix}.png"))
    w.filters.search.setText("")
    w.filters.search.editingFinished.emit()

    # Runs over time: with findings, a span of days chosen on the chart.
    w.timeline_dock.hide()
    w.filters.with_findings.setChecked(True)
    wait(app, lambda: w.runs_model.run_filter.keys is not None and not w.runs_model.findings.pending
         and not w.activity.pending and w.activity.activity is not None, timeout=180)
    w.filters.with_findings.setChecked(False)
    wait(app, lambda: w.runs_model.run_filter.keys is None and not w.activity.pending)
    act = w.activity.activity
    w.activity.chart.drag(act.start + act.width * len(act) * 0.3, act.start + act.width * len(act) * 0.45,
                          finished=True)
    wait(app, lambda: w.runs_model.run_filter.since is not None and not w.runs_model.loading
         and not w.runs_model.findings.pending)
    model = w.runs_model
    with_findings = [r for r in range(model.rowCount())
                     if (run := model.run_at(r, request=False)) is not None
                     and (found := model.findings.of(run.key)) is not None and found.count]
    w.runs_view.selectRow(with_findings[0] if with_findings else 0)
    w.consistency_dock.show()
    w.consistency_dock.raise_()
    wait(app, lambda: not w.consistency_panel.pending and w.consistency_panel.current is not None)
    w.grab().save(str(args.out / f"screenshot-activity{suffix}.png"))
    w.shutdown()
    print(f"wrote the screenshots of {small} and {big} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
