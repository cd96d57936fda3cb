"""Screenshots of the main window on the demo database (a run and its step selected, the
Evidence dock open, a reason activated), of the Compare window (shoot_compare.py's pair: every row
kind, a rule) and of the Replay check window (a replay whose steps skip, check and mismatch), in the
light scheme or (``--dark``) the dark one: what the colour schemes are checked on by eye.

    xvfb-run -a -s "-screen 0 1280x800x24" .venv/bin/python benchmarks/shoot_windows.py DEMO.db OUT_DIR \
        [--dark] [--run RUN]

Writes ``main[-dark].png``, ``compare[-dark].png`` and ``replay-check[-dark].png`` into OUT_DIR
(and the two small databases the last two read). The run shown is the first of four or more steps
with a reason naming rows (or ``--run``).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from paintwatch import wait  # noqa: E402
from shoot_charts import shooting  # noqa: E402


#: The replay check's runs: (replay_behavior, idempotency_key, outcome_data) per step.
_ORIGINAL = [("execute", "k0", {"v": 0}), ("execute", "k1", {"v": 1}), ("execute", None, {"v": 2}),
             ("execute", "k3", {"v": 3}), ("execute", None, {"v": 4}), ("execute", "k5", {"v": 5})]
_REPLAY = [("skip", "k0", {"v": 0}), ("check", "k1", {"v": 1, "x": 1}), ("check", None, {"v": 2}),
           ("check", "kx", {"v": 33}), ("skip", None, {"v": 4}), ("execute", "k5", {"v": 5})]


def _replay_db(path: Path) -> Path:
    """A SQLite traces.db holding ``orig`` and its replay ``rep`` (behaviours and keys set the way
    AOS v1.1 stores them, beside upstream's SQLite writer)."""
    from tests.ui.replay_dbs import write_sqlite_pair

    path.unlink(missing_ok=True)
    return write_sqlite_pair(path, _ORIGINAL, _REPLAY, tenant="tenant-acme", agent="agent-orders")


def _show_run(app, w, run_id: str) -> None:
    w.filters.search.setText(run_id)
    w.filters.search.editingFinished.emit()
    wait(app, lambda: w.runs_model.row_of(run_id) is not None and not w.runs_model.loading)
    w.runs_view.selectRow(w.runs_model.row_of(run_id))
    wait(app, lambda: w.steps_model.rowCount() > 0 and not w.steps_model.loading)


def _main_window(app, w, run_id: str | None, out: Path) -> None:
    """The run, its step 1, its evidence with a reason that names rows activated."""
    wait(app, lambda: w.runs_model.rowCount() > 0 and not w.runs_model.loading and not w.grading.running)
    w.evidence_dock.show()
    w.evidence_dock.raise_()
    panel = w.evidence_panel
    candidates = [run_id] if run_id else []
    if not candidates:
        model = w.runs_model
        for row in range(min(model.rowCount(), 200)):
            run = model.run_at(row, request=False)
            if run and not run.orphan and (run.total_steps or 0) >= 4 and not run.replay_of:
                candidates.append(run.run_id)
    for candidate in candidates:
        _show_run(app, w, candidate)
        wait(app, lambda: not panel.pending and panel.current is not None)
        reasons = panel.reasons_model
        row = next((r for r in range(reasons.rowCount()) if reasons.reason_at(r).refs), -1)
        if row >= 0 or candidate == candidates[-1]:
            break
    key = w.steps_model.step_index_at(1)
    if key is not None:
        w.steps_view.select_step(key)
    if row >= 0:
        panel.reasons_view.setCurrentIndex(panel.reasons_model.index(row, 0))
    wait(app, lambda: not panel.pending and not w.session.pending())
    w.grab().save(str(out))
    print(out)


def main() -> int:
    import argparse

    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--run")
    known, rest = extra.parse_known_args()
    sys.argv = [sys.argv[0], *rest]
    args, app, w, suffix, _big = shooting(__doc__)
    _main_window(app, w, known.run, args.out / f"main{suffix}.png")

    from PySide6.QtCore import QSettings

    from drivers import open_source
    from shoot_compare import REPLAY, write_demo
    from ui.qt.app import new_session, redis_connector
    from ui.qt.session.redis import RedisSettings
    from ui.qt.windows.compare import open_compare
    from ui.qt.windows.replay_check import ReplayCheckView

    pair = args.out / "compare-demo.db"
    write_demo(pair)
    compare = open_compare(None, new_session, (str(pair), REPLAY), rules=["/outcome_data/request_id"], show=False)
    compare.resize(1280, 800)
    compare.show()
    wait(app, lambda: compare.state in ("shown", "error"))
    compare.jump_to_first_divergence()
    wait(app, lambda: True)
    compare.grab().save(str(args.out / f"compare{suffix}.png"))
    print(args.out / f"compare{suffix}.png")
    compare.shutdown()

    session = new_session("replay-check", sync=True)
    session.adopt(open_source(str(_replay_db(args.out / "replay-check.db"))), owned=True)
    redis = RedisSettings(QSettings(str(args.out / "shoot-settings.ini"), QSettings.Format.IniFormat),
                          redis_connector(), sync=True)
    check = ReplayCheckView(session, "rep", redis=redis)
    check.resize(1280, 760)
    check.show()
    check.start()
    wait(app, lambda: check.state in ("done", "error"))
    check.table.selectRow(1)  # the unverified check (the mismatch below keeps its tint)
    wait(app, lambda: True)
    check.grab().save(str(args.out / f"replay-check{suffix}.png"))
    print(args.out / f"replay-check{suffix}.png")
    check.shutdown()
    redis.shutdown()
    session.shutdown()
    w.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
