"""Screenshots of the step table (README): the largest run of a database (the demo's has 100,000
steps) shown at its middle step, after a jump to the next failure, in the light palette and
(``--dark``) a dark one.

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python benchmarks/shoot_steps.py DB OUT_DIR [--dark]
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from paintwatch import wait  # noqa: E402
from shoot_charts import shooting  # noqa: E402


def main() -> int:
    args, app, w, suffix, big = shooting(__doc__)
    from inspector.source import StepSeek
    from ui.qt.session.session import Worker

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
