"""Screenshots and timings of the logs panels on a real Postgres: RunLogsPanel (every tab) and the
tenant-wide LedgerWindow over an audit ledger of ``--rows`` extra events (default one million).

    source /tmp/devenv.sh   # or any TRACE_INSPECTOR_PG_URL naming a superuser URL
    xvfb-run -a -s "-screen 0 1500x900x24" .venv/bin/python benchmarks/shoot_logs_panels.py --out /tmp/shots

Makes a fresh database (the AOS schema, ``tests/ui/logs_dbs.fill_logs``, then the bulk rows via
``generate_series``), shows the panels with a real worker thread, saves one PNG per view, prints
how long the ledger takes to show its first page and each further page while scrolling, and the
longest the GUI thread went without processing events (a 5 ms timer's largest gap). Drops the
database afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa

BULK_SQL = """
INSERT INTO audit_ledger (id, tenant_id, event_type, entity_type, entity_id, actor_type, actor_id,
                          action_reason, before_state, after_state, created_at, correlation_id)
SELECT 'bulk-' || lpad(g::text, 8, '0'),
       (ARRAY['t-acme', 't-globex'])[1 + g % 2],
       (ARRAY['LimitUpdated', 'PolicyRuleModified', 'SignalAcknowledged', 'LimitBreached', 'IncidentResolved'])[1 + g % 5],
       (ARRAY['LIMIT', 'POLICY_RULE', 'SIGNAL', 'LIMIT', 'INCIDENT'])[1 + g % 5],
       'entity-' || (g % 997),
       (ARRAY['SYSTEM', 'HUMAN', 'AGENT'])[1 + g % 3],
       CASE WHEN g % 3 = 1 THEN 'user-' || (g % 41) END,
       CASE WHEN g % 7 = 0 THEN 'Scheduled adjustment #' || g END,
       jsonb_build_object('value', g, 'window', '1h', 'tags', jsonb_build_array('a', 'b')),
       jsonb_build_object('value', g + 1, 'window', CASE WHEN g % 4 = 0 THEN '24h' ELSE '1h' END,
                          'tags', jsonb_build_array('a', 'b', 'c')),
       TIMESTAMPTZ '2026-11-20 09:00:00+00' - make_interval(secs => g * 3),
       'corr-' || (g % 100003)
FROM generate_series(1, :n) AS g
"""


def build(url: str, rows: int) -> tuple[str, str]:
    from drivers.pg_schema import create_schema
    from tests.pgutil import PgServer, sa_url, with_database
    from tests.ui.logs_dbs import fill_logs

    server = PgServer(url)
    name = server.new_name("shots")
    with server.admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    db_url = with_database(url, name)
    engine = sa.create_engine(sa_url(db_url), poolclass=sa.pool.NullPool)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        create_schema(conn)
        fill_logs(conn)
        if rows:
            conn.execute(sa.text(BULK_SQL), {"n": rows})
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("ANALYZE")
    engine.dispose()
    server.admin.dispose()
    print(f"built {name}: {rows:,} bulk ledger rows in {time.perf_counter() - t0:.1f} s")
    return name, db_url


def drop(url: str, name: str) -> None:
    from tests.pgutil import PgServer

    server = PgServer(url)
    server.drop(name)
    server.admin.dispose()


class StallMeter:
    """The longest gap between ticks of a 5 ms timer: how long the GUI thread was busy."""

    def __init__(self) -> None:
        from PySide6.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(5)
        self.timer.timeout.connect(self._tick)
        self.last = time.perf_counter()
        self.worst = 0.0

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self.last)
        self.last = now

    def start(self) -> None:
        self.last = time.perf_counter()
        self.worst = 0.0
        self.timer.start()

    def stop(self) -> float:
        self.timer.stop()
        return self.worst * 1000


def wait_until(app, cond, timeout: float = 60.0) -> float:
    t0 = time.perf_counter()
    while not cond():
        app.processEvents()
        time.sleep(0.001)
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError("the panel did not finish in time")
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=os.environ.get("TRACE_INSPECTOR_PG_URL"), help="superuser Postgres URL")
    parser.add_argument("--rows", type=int, default=1_000_000, help="bulk ledger rows to add")
    parser.add_argument("--out", default="/tmp/logs_shots", help="folder for the PNGs")
    parser.add_argument("--pages", type=int, default=10, help="ledger pages to scroll through")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    parser.add_argument("--reuse", metavar="DB_URL", help="a database this script built and kept (skips building)")
    args = parser.parse_args()
    if not args.url and not args.reuse:
        sys.exit("no Postgres: pass --url or set TRACE_INSPECTOR_PG_URL (source /tmp/devenv.sh)")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    name, db_url = (None, args.reuse) if args.reuse else build(args.url, args.rows)
    from drivers import open_source
    from drivers.pg_logs import PostgresLogsReader
    from tests.pgutil import sa_url
    from tests.ui.logs_dbs import (
        CORR,
        MODIFIED_EVENT,
        OTHER_RUN,
        OTHER_TENANT,
        RUN,
        TENANT,
        TRACE,
    )
    from ui.qt.app import make_application, new_session
    from ui.qt.panels.logs import RunLogsPanel
    from ui.qt.windows.ledger import LedgerWindow

    app = make_application()
    engine = sa.create_engine(sa_url(db_url), pool_size=2)
    source = open_source(db_url)
    errors: list[tuple[str, BaseException]] = []

    def report(doing: str, exc: BaseException) -> None:
        errors.append((doing, exc))
        print(f"error while trying to {doing}: {exc}")

    session = new_session("shots")
    no_logs = new_session("shots-without-logs")
    for s in (session, no_logs):
        s.error_reported.connect(report)
    try:
        reader = PostgresLogsReader(engine, db_url)
        session.adopt(source, logs=reader, owned=False)
        no_logs.adopt(source, owned=False)
        panel = RunLogsPanel(session)
        panel.resize(1400, 760)
        panel.show()
        t = time.perf_counter()
        panel.show_run(RUN, TRACE, TENANT, CORR)
        wait_until(app, lambda: panel.pending == 0)
        print(f"run panel: every tab read in {(time.perf_counter() - t) * 1000:.0f} ms")
        row = [e.id for e in panel.audit.model.records].index(MODIFIED_EVENT)
        panel.audit.view.selectRow(row)
        for key in panel.tabs:
            panel.setCurrentIndex(panel.tab_index(key))
            if key == "system":
                panel.system.view.selectRow(0)
            app.processEvents()
            panel.grab().save(str(out / f"run_{key}.png"))
        panel.show_run(OTHER_RUN, f"trace_{OTHER_RUN}", OTHER_TENANT, "corr-0002")
        wait_until(app, lambda: panel.pending == 0)
        panel.setCurrentIndex(panel.tab_index("llm"))
        app.processEvents()
        panel.grab().save(str(out / "run_llm_several.png"))
        panel.close()

        empty = RunLogsPanel(no_logs)
        empty.resize(900, 400)
        empty.show()
        empty.show_run(RUN)
        app.processEvents()
        empty.grab().save(str(out / "run_no_logs.png"))
        empty.close()

        meter = StallMeter()
        t = time.perf_counter()
        window = LedgerWindow(session)
        window.resize(1400, 860)
        window.show()
        first = wait_until(app, lambda: window.model.rowCount() > 0 and not window.model.loading)
        app.processEvents()
        print(f"ledger: first page painted {(time.perf_counter() - t) * 1000:.0f} ms after the window was made "
              f"({first * 1000:.0f} ms waiting for the worker)")
        wait_until(app, lambda: session.pending() == 0)
        print(f"ledger: filter choices read {(time.perf_counter() - t) * 1000:.0f} ms after the window was made")
        window.view.selectRow(0)
        app.processEvents()
        window.grab().save(str(out / "ledger_top.png"))
        page_times = []
        meter.start()
        for _ in range(args.pages):
            rows = window.model.rowCount()
            t = time.perf_counter()
            window.view.scrollToBottom()  # lays out the rows that just arrived first, as a user's End key
            wait_until(app, lambda rows=rows: window.model.rowCount() > rows and not window.model.loading)
            page_times.append((time.perf_counter() - t) * 1000)
        stall = meter.stop()
        print(f"ledger: {args.pages} more pages while scrolling: median {statistics.median(page_times):.0f} ms, "
              f"worst {max(page_times):.0f} ms; {window.model.rowCount():,} rows held")
        print(f"ledger: the GUI thread was never busy longer than {stall:.0f} ms")
        window.view.selectRow(window.model.rowCount() - 1)
        app.processEvents()
        window.grab().save(str(out / "ledger_scrolled.png"))

        meter.start()
        t = time.perf_counter()
        window.filters.combos["event_type"].setCurrentText("PolicyRuleModified")
        wait_until(app, lambda: window.model.rowCount() > 0 and not window.model.loading)
        print(f"ledger: a new filter's first page in {(time.perf_counter() - t) * 1000:.0f} ms "
              f"(GUI busy at most {meter.stop():.0f} ms)")
        window.filters.since.setText("2026-11-19")
        window.filters.since.editingFinished.emit()
        wait_until(app, lambda: not window.model.loading)
        app.processEvents()
        window.view.selectRow(0)
        app.processEvents()
        window.grab().save(str(out / "ledger_filtered.png"))
        window.filters.since.setText("yesterday-ish")
        window.filters.since.editingFinished.emit()
        app.processEvents()
        window.grab().save(str(out / "ledger_bad_date.png"))
        window.close()
        print(f"screenshots in {out}; errors reported: {len(errors)}")
    finally:
        session.shutdown()
        no_logs.shutdown()
        source.close()
        engine.dispose()
        if name is not None and not args.keep:
            drop(args.url, name)
        elif name is not None:
            print(f"kept: --reuse {db_url}")


if __name__ == "__main__":
    main()
