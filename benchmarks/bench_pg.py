"""Benchmarks of the Postgres source on the 2M-step database (``benchmarks/load_pg.py``), each
beside its raw floor measured in the same run: plain psycopg running the very SQL the reader runs
(caught from the reader's engine). Prints figures; asserts nothing.

    python benchmarks/load_pg.py benchmarks/data/large.db postgresql://postgres@127.0.0.1:PORT/postgres --db aos_bench
    python benchmarks/bench_pg.py --url postgresql://postgres@127.0.0.1:PORT/aos_bench

Measured (medians of ``--repeats``; the machine is shared, so read the ratios):

a. open the database to a painted first page of the runs list (offscreen window from
   ``ui.qt.app.create_window``, ``open_location(url)``) vs psycopg connect + the reader's count and
   first-page SQL + an empty window's first paint; target ≤ 2× and < 1 s;
b. click the largest trace to its first painted page of steps vs psycopg reading that page (the
   reader's SQL, on a connected session); target ≤ 150 ms;
c. ``trace-inspector show URL RUN --json`` (``ui.cli.main`` in-process, and once as a subprocess
   for reference) vs psycopg streaming the same rows through a named (server-side) cursor, same
   columns (jsonb as text), each row json-encoded to the same output; target ≤ 1.5×.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import psycopg
import sqlalchemy as sa
from paintwatch import PaintWatch, median


def ms(x: float) -> str:
    return f"{x * 1000:,.1f} ms" if x < 1 else f"{x:,.2f} s"


def load() -> str:
    a, b, c = os.getloadavg()
    return f"{a:.1f}/{b:.1f}/{c:.1f}"


class Catch:
    """Records every statement an engine sends (SQL as psycopg gets it, and its parameters)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine
        self.statements: list[tuple[str, dict]] = []
        sa.event.listen(engine, "before_cursor_execute", self._on)

    def _on(self, conn, cursor, statement, parameters, context, executemany) -> None:
        self.statements.append((statement, dict(parameters or {})))

    def stop(self) -> list[tuple[str, dict]]:
        sa.event.remove(self.engine, "before_cursor_execute", self._on)
        return self.statements


def server_cursor_sql(call) -> tuple[str, dict]:
    """The statement ``call`` runs through a psycopg server-side cursor (whether it gets there
    through SQLAlchemy or not)."""
    seen: list[tuple[str, dict]] = []
    original = psycopg.ServerCursor.execute

    def execute(self, query, params=None, **kw):
        seen.append((str(query), dict(params or {})))
        return original(self, query, params, **kw)

    psycopg.ServerCursor.execute = execute
    try:
        call()
    finally:
        psycopg.ServerCursor.execute = original
    return seen[-1]


def largest_trace(url: str) -> tuple[str, str, int]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT s.trace_id, t.run_id, s.n FROM (SELECT trace_id, count(*) AS n FROM aos_trace_steps "
            "GROUP BY trace_id ORDER BY n DESC LIMIT 1) s JOIN aos_traces t USING (trace_id)").fetchone()


# -- floors ------------------------------------------------------------------------------------


def floor_open(url: str, statements) -> float:
    """Connect, run the reader's count and first-page statements, fetch, close."""
    t0 = time.perf_counter()
    with psycopg.connect(url) as conn:
        for stmt, params in statements:
            conn.execute(stmt, params).fetchall()
    return time.perf_counter() - t0


def floor_rows(conn: psycopg.Connection, stmt: str, params: dict) -> float:
    t0 = time.perf_counter()
    conn.execute(stmt, params).fetchall()
    t = time.perf_counter() - t0
    conn.rollback()
    return t


def floor_stream(url: str, stmt: str, params: dict, out) -> tuple[float, int]:
    """Connect, stream the rows through a named cursor, json-encode each to ``out``."""
    t0 = time.perf_counter()
    n = 0
    with psycopg.connect(url) as conn, conn.cursor(name="bench_floor") as cur:
        cur.itersize = 2000
        cur.execute(stmt, params)
        names = None
        out.write('{"steps": [')
        dumps = json.dumps
        for row in cur:
            if names is None:
                names = [d.name for d in cur.description]
            out.write(("\n  " if n == 0 else ",\n  ") + dumps(dict(zip(names, row)), ensure_ascii=False, default=str))
            n += 1
        out.write("\n]}\n")
    return time.perf_counter() - t0, n


# -- the window ----------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="postgresql://… of the database load_pg.py filled")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--cli-repeats", type=int, default=5, help="repetitions of c (each streams every step)")
    ap.add_argument("--subprocess-repeats", type=int, default=1)
    ap.add_argument("--only", choices=["a", "b", "c"], action="append", help="run only these parts")
    ap.add_argument("--run", help="trace id to click and show (default: the one with the most steps)")
    args = ap.parse_args()
    parts = set(args.only or ["a", "b", "c"])

    from drivers.pg_reader import PostgresTraceReader
    from ui.qt.models.runs import read_first_page

    with psycopg.connect(args.url) as conn:
        n_traces, n_steps, version, size = conn.execute(
            "SELECT (SELECT count(*) FROM aos_traces), (SELECT count(*) FROM aos_trace_steps), "
            "current_setting('server_version'), pg_size_pretty(pg_database_size(current_database()))").fetchone()
    if args.run:
        with psycopg.connect(args.url) as conn:
            trace_id, run_id, count = conn.execute(
                "SELECT t.trace_id, t.run_id, (SELECT count(*) FROM aos_trace_steps s WHERE s.trace_id = t.trace_id) "
                "FROM aos_traces t WHERE t.trace_id = %s OR t.run_id = %s LIMIT 1", (args.run, args.run)).fetchone()
    else:
        trace_id, run_id, count = largest_trace(args.url)
    print(f"{args.url}: PostgreSQL {version}, {n_traces:,} traces, {n_steps:,} steps, {size}; "
          f"largest trace {trace_id} ({count:,} steps); load average {load()}", flush=True)

    # The reader's SQL, caught from its engine (what the floors replay).
    reader = PostgresTraceReader(args.url)
    catch = Catch(reader.engine)
    read_first_page(reader)
    open_sql = catch.stop()
    catch = Catch(reader.engine)
    reader.list_steps(trace_id, None, 100)
    steps_sql = catch.stop()[-1]
    stream_sql = server_cursor_sql(lambda: next(reader.iter_steps(trace_id)))
    reader.close()

    rows: list[tuple[str, float, float, str, str]] = []
    app = w = None
    if parts & {"a", "b"}:
        from PySide6.QtCore import QSettings
        from PySide6.QtWidgets import QLabel, QMainWindow

        from ui.qt.app import create_window, make_application
        from ui.qt.session.session import Worker

        app = make_application()
        settings_dir = tempfile.mkdtemp(prefix="bench-pg-")
        settings = QSettings(str(Path(settings_dir) / "settings.ini"), QSettings.Format.IniFormat)

        def wait_until(cond, timeout=60.0):
            end = time.perf_counter() + timeout
            while not cond():
                app.processEvents()
                if time.perf_counter() > end:
                    raise TimeoutError
                time.sleep(0.0005)

        def idle(win) -> bool:
            return (win.session.source is not None
                    and win.session.pending(Worker.INTERACTIVE, Worker.BACKGROUND) == 0 and not win.runs_model.loading)

        # a. open → painted first page of the runs list
        floors, empties, ours, settle, alone = [], [], [], [], []
        for i in range(args.repeats):
            floors.append(floor_open(args.url, open_sql))
            t0 = time.perf_counter()
            bare = PostgresTraceReader(args.url)
            read_first_page(bare)
            bare.close()
            alone.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            empty = QMainWindow()
            empty.setCentralWidget(QLabel("…"))
            empty.resize(1400, 860)
            watch = PaintWatch(empty.centralWidget())
            empty.show()
            wait_until(lambda watch=watch: watch.times)
            empties.append(watch.times[0] - t0)
            empty.close()
            empty.deleteLater()
            app.processEvents()

            t0 = time.perf_counter()
            w = create_window(settings=settings)
            w.resize(1400, 860)
            watch = PaintWatch(w.runs_view.viewport())
            w.open_location(args.url)  # as ui.qt.app.run_gui does: start reading, then show
            w.show()
            wait_until(lambda w=w: w.runs_model.rowCount() > 0 and w.runs_model.run_at(0, request=False) is not None)
            marker = len(watch.times)
            wait_until(lambda watch=watch, marker=marker: len(watch.times) > marker)
            ours.append(watch.times[-1] - t0)
            # The side reads (filter values, totals, replay index) run after the first page: let
            # them end before the next repetition so they do not load the server under it.
            wait_until(lambda w=w: idle(w), timeout=300)
            settle.append(time.perf_counter() - t0)
            if i < args.repeats - 1 or "b" not in parts:
                w.shutdown()
                w.deleteLater()
                app.processEvents()
        floor = median(floors) + median(empties)
        print(f"a. open to painted first page: ours {ms(median(ours))} (min {ms(min(ours))}, max {ms(max(ours))}); "
              f"floor psycopg connect + {len(open_sql)} statements {ms(median(floors))} + empty window paint "
              f"{ms(median(empties))} = {ms(floor)}; ratio {median(ours) / floor:.2f}×; side reads done after "
              f"{ms(median(settle))}", flush=True)
        print(f"   of which the reader alone (no window): open + count + first page {ms(median(alone))} vs "
              f"psycopg {ms(median(floors))}", flush=True)
        rows.append(("a. open → painted first runs page", median(ours), floor, f"{median(ours) / floor:.2f}×",
                     "≤ 2× floor and < 1 s"))
        rows.append(("   the reader alone: open + count + first page", median(alone), median(floors),
                     f"{median(alone) / median(floors):.2f}×", "—"))

        if "b" in parts:
            # b. click the largest trace → first painted page of steps
            w.filters.search.setText(run_id)
            w.filters.search.editingFinished.emit()
            wait_until(lambda: w.runs_model.row_of(trace_id) is not None and idle(w), timeout=120)
            with psycopg.connect(args.url) as conn:
                floor_rows(conn, *steps_sql)  # connected and warm, like the window's pooled session
                step_floors = [floor_rows(conn, *steps_sql) for _ in range(args.repeats)]
            clicks, sent = [], []
            for _ in range(args.repeats):
                w.steps_model.set_run(None)
                w.runs_view.clearSelection()
                w.runs_view.setCurrentIndex(w.runs_model.index(-1, -1))
                app.processEvents()
                wait_until(lambda: idle(w), timeout=120)
                watch = PaintWatch(w.steps_view.viewport())
                row = w.runs_model.row_of(trace_id)
                catch = Catch(w.source.engine)
                t0 = time.perf_counter()
                w.runs_view.selectRow(row)
                wait_until(lambda: w.steps_model.rowCount() > 0)
                marker = len(watch.times)
                wait_until(lambda watch=watch, marker=marker: len(watch.times) > marker)
                clicks.append(watch.times[-1] - t0)
                wait_until(lambda: idle(w), timeout=120)
                sent.append(len(catch.stop()))
            print(f"b. click {trace_id} ({count:,} steps) to painted first steps: ours {ms(median(clicks))} "
                  f"(min {ms(min(clicks))}, max {ms(max(clicks))}; {median(sent):.0f} statements per click); "
                  f"floor psycopg first 100 steps {ms(median(step_floors))}", flush=True)
            rows.append(("b. click 100k-step trace → painted first steps", median(clicks), median(step_floors),
                         f"{median(clicks) / median(step_floors):.1f}×", "≤ 150 ms"))
            w.shutdown()
            w.deleteLater()
            app.processEvents()

    if "c" in parts:
        from ui import cli

        devnull = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
        floor_t, ours_t = [], []
        n_floor = 0
        for _ in range(args.cli_repeats):
            t, n_floor = floor_stream(args.url, *stream_sql, devnull)
            floor_t.append(t)
            t0 = time.perf_counter()
            code = cli.main(["show", args.url, run_id, "--json"], out=devnull)
            ours_t.append(time.perf_counter() - t0)
            if code != 0:
                print(f"   show exited {code}")
        devnull.close()
        # ``python -m ui.cli`` from this checkout (the ``trace-inspector`` script would import
        # whichever checkout the venv was installed from).
        cmd = [sys.executable, "-m", "ui.cli"]
        sub_t, out_info = [], ""
        for _ in range(args.subprocess_repeats):
            with tempfile.NamedTemporaryFile(suffix=".json") as fh:
                t0 = time.perf_counter()
                subprocess.run([*cmd, "show", args.url, run_id, "--json"], stdout=fh, check=True, cwd=ROOT)
                sub_t.append(time.perf_counter() - t0)
                fh.flush()
                size = os.path.getsize(fh.name)
                fh.seek(0)
                doc = json.load(fh)
                out_info = f"{len(doc['steps']):,} steps, {size / 1e6:,.0f} MB of JSON"
        rate = n_floor / median(ours_t)
        print(f"c. show {run_id} --json ({out_info}): in-process ours {ms(median(ours_t))} "
              f"(min {ms(min(ours_t))}, {rate:,.0f} steps/s); floor psycopg named cursor + json.dumps per row "
              f"{ms(median(floor_t))} ({n_floor / median(floor_t):,.0f} rows/s); ratio {median(ours_t) / median(floor_t):.2f}×; "
              f"subprocess {ms(median(sub_t))}", flush=True)
        rows.append(("c. show RUN --json, in-process (100k steps)", median(ours_t), median(floor_t),
                     f"{median(ours_t) / median(floor_t):.2f}×", "≤ 1.5× floor"))
        rows.append(("   the same as a subprocess (reference)", median(sub_t), median(floor_t),
                     f"{median(sub_t) / median(floor_t):.2f}×", "—"))

    print(f"\nload average at the end {load()} (2 cores, shared)")
    head = f"{'measurement':<48} {'ours':>11} {'floor':>11} {'ratio':>7}  target"
    print(head)
    print("-" * (len(head) + 14))
    for name, ours_v, floor_v, ratio, target in rows:
        print(f"{name:<48} {ms(ours_v):>11} {ms(floor_v):>11} {ratio:>7}  {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
