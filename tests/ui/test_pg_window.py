"""The desktop app on a real Postgres: connect, several traces per run, archived toggle, password
prompt, a server restart mid-session (reconnect with the user's place kept), cancelling a read."""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
from PySide6.QtWidgets import QTabBar

from tests.pgutil import TraceBuilder
from tests.ui.test_main_window import WAIT, idle, select_run
from ui.qt.models.steps import STEP_ROLE
from ui.qt.session.session import Worker

pytestmark = pytest.mark.gui
T0 = datetime(2026, 11, 29, 5, 0, 0, tzinfo=UTC)


@pytest.fixture
def filled_pg(pg_url):
    b = TraceBuilder(pg_url)
    for i in range(30):
        b.trace(f"run-{i:02d}", started_at=T0 + timedelta(minutes=i), created_at=T0 + timedelta(minutes=i),
                statuses=("succeeded", "failed", "skipped")[: 1 + i % 3])
    b.trace("run-05", trace_id="trace_0123456789abcdef", started_at=T0 + timedelta(hours=2),
            created_at=T0 + timedelta(hours=2), statuses=("succeeded",) * 4)
    b.trace("old-run", archived_at=T0, started_at=T0 - timedelta(days=200))
    b.trace("big", started_at=T0 + timedelta(hours=1), statuses=("succeeded",) * 1200)
    b.close()
    return pg_url


def open_pg(qtbot, window, url, password=None):
    window.open_location(url, password)
    qtbot.waitUntil(lambda: window.source is not None and window.runs_model.rowCount() > 0, timeout=WAIT)
    idle(qtbot, window)


def test_browse_postgres_like_sqlite(qtbot, make_window, filled_pg):
    w = make_window()
    w.show()
    open_pg(qtbot, w, filled_pg)
    assert w.source.info.kind == "postgres"
    assert w.status.source_label.text().startswith("postgres: postgresql://postgres@")
    assert w.runs_model.rowCount() == 32  # 30 + the second trace of run-05 + big; not the archived one
    assert w.filters.archived.isVisibleTo(w)
    qtbot.waitUntil(lambda: "32 runs" in w.status.totals_label.text(), timeout=WAIT)

    # Two traces of one run are two rows, told apart by their trace ids.
    top = select_run(qtbot, w, "trace_0123456789abcdef")
    assert w.detail.kind == "run"
    assert "trace_0123456789abcdef" in w.detail.fields.text()
    assert "not computed" in w.detail.fields.text()  # root_hash 'pending'
    qtbot.waitUntil(lambda: w.run_tree_model.rowCount(top) == 1, timeout=WAIT)  # other traces
    assert w.steps_model.rowCount() == 4
    top = select_run(qtbot, w, "trace_run-05")
    qtbot.waitUntil(lambda: w.run_tree_model.rowCount(top) == 1, timeout=WAIT)  # the group
    tree = w.run_tree_model
    group = tree.index(0, 0, top)
    assert tree.data(group).startswith("Other traces of this run (1)")
    other = tree.index(0, 0, group)
    assert "trace_0123456789abcdef" in tree.data(other)
    model = w.steps_model
    assert model.rowCount() == 3
    assert [model.data(model.index(r, 0), STEP_ROLE)[1].step_index for r in range(3)] == [0, 1, 2]
    assert [model.data(model.index(r, 1)) for r in range(3)] == ["succeeded", "failed", "skipped"]
    ix = model.index(1, 0)
    assert model.data(ix, STEP_ROLE)[0] == "trace_run-05"
    w.steps_view.setCurrentIndex(ix)
    qtbot.waitUntil(lambda: w.detail.kind == "step", timeout=WAIT)
    text = w.detail.fields.text()
    assert "failed → failure" in text and "trace_run-05" in text and "INFO" in text
    # Choosing the other trace in the tree shows its steps and its details.
    w.run_tree_view.setCurrentIndex(other)
    qtbot.waitUntil(lambda: model.run is not None and model.run.key == "trace_0123456789abcdef"
                    and model.rowCount() == 4, timeout=WAIT)
    qtbot.waitUntil(lambda: w.detail.kind == "run" and "trace_0123456789abcdef" in w.detail.fields.text(),
                    timeout=WAIT)

    # The big run has every row from the start and reads only its first page.
    select_run(qtbot, w, "trace_big")
    assert model.rowCount() == 1200 and model.row_map.is_dense and model.pages_read <= 2


def test_archived_toggle(qtbot, make_window, filled_pg):
    w = make_window()
    w.show()
    open_pg(qtbot, w, filled_pg)
    assert w.runs_model.row_of("trace_old-run") is None
    w.filters.archived.setChecked(True)
    qtbot.waitUntil(lambda: w.runs_model.rowCount() == 33, timeout=WAIT)
    idle(qtbot, w)
    # Newest first: the archived run (started long ago) is the last row, on the first page.
    row = w.runs_model.row_of("trace_old-run")
    assert row is not None
    assert "(archived)" in w.runs_model.data(w.runs_model.index(row, 1))
    w.filters.clear()
    qtbot.waitUntil(lambda: w.runs_model.rowCount() == 32, timeout=WAIT)


def test_password_prompt_and_never_stored(qtbot, make_window, settings, filled_pg, pg_server):
    db = filled_pg.rsplit("/", 1)[1]
    with pg_server.admin.connect() as conn:
        conn.exec_driver_sql("DO $$ BEGIN CREATE ROLE ti_password_users NOLOGIN; "
                             "EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        conn.exec_driver_sql("DROP ROLE IF EXISTS ti_ui_reader")
        conn.exec_driver_sql("CREATE ROLE ti_ui_reader LOGIN PASSWORD 'pw-ui' IN ROLE ti_password_users")
    TraceBuilder(filled_pg).execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO ti_ui_reader")
    os.environ.pop("PGPASSWORD", None)
    url = filled_pg.replace("postgres@", "ti_ui_reader@")
    try:
        w = make_window()
        w.show()
        w.open_location(url)
        qtbot.waitUntil(lambda: w.password_prompt is not None and w.password_prompt.isVisible(), timeout=WAIT)
        assert url in w.password_prompt.findChild(type(w.status.source_label)).text()
        w.password_prompt.password.setText("pw-ui")
        w.password_prompt._accept()
        qtbot.waitUntil(lambda: w.source is not None and w.runs_model.rowCount() == 32, timeout=WAIT)
        idle(qtbot, w)
        settings.sync()
        from pathlib import Path

        stored = Path(settings.fileName()).read_text(encoding="utf-8")
        assert url in stored and "pw-ui" not in stored
        assert w.recent_files()[0] == url
        w.shutdown()
    finally:
        pg_server.drop(db)
        with pg_server.admin.connect() as conn:
            conn.exec_driver_sql("DROP ROLE IF EXISTS ti_ui_reader")


def test_connect_dialog_strips_the_password_from_the_url(qtbot, make_window, filled_pg):
    w = make_window()
    w.show()
    w.ask_connect()
    dlg = w.connect_dialog
    qtbot.waitUntil(dlg.isVisible, timeout=WAIT)
    dlg.url.setText("not a url")
    dlg._accept()
    assert dlg.error.isVisibleTo(dlg) and dlg.isVisible()
    dlg.url.setText(filled_pg.replace("postgres@", "postgres:any-secret@"))
    dlg._accept()
    qtbot.waitUntil(lambda: w.source is not None and w.runs_model.rowCount() > 0, timeout=WAIT)
    idle(qtbot, w)
    assert "any-secret" not in w.source.info.location
    assert all("any-secret" not in r for r in w.recent_files())
    assert all("any-secret" not in text for _lvl, text in w.bus.history)


def _pg_ctl(*args):
    data, pg_bin = os.environ.get("TRACE_INSPECTOR_PG_DATA"), os.environ.get("TRACE_INSPECTOR_PG_BIN")
    if not data or not pg_bin:
        from tests.pgutil import restart_server

        restart_server()  # fails (CI) or skips with the reason
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    cwd = os.path.dirname(data)
    cmd = prefix + [os.path.join(pg_bin, "pg_ctl"), "-D", data, *args]
    if args[0] == "start":
        cmd += ["-l", os.path.join(cwd, "server.log")]
    subprocess.run(cmd, check=True, cwd=cwd, capture_output=True)


def test_server_restart_mid_session_reconnects_and_keeps_the_place(qtbot, make_window, filled_pg):
    w = make_window()
    w.session.reconnect.delays = (0.3, 0.3, 0.5)
    w.show()
    open_pg(qtbot, w, filled_pg)
    select_run(qtbot, w, "trace_run-07")
    _pg_ctl("stop", "-m", "fast", "-w")
    try:
        w.refresh()
        qtbot.waitUntil(lambda: w.session.reconnect.active, timeout=WAIT)
        qtbot.waitUntil(lambda: w.banner.isVisible() and "Lost the connection" in w.banner.label.text(), timeout=WAIT)
        assert "Retrying in" in w.banner.label.text()
        assert w.banner.action_button.text() == "Retry now"
        # While the server is down the window answers and keeps what it showed.
        assert w.runs_model.rowCount() == 32
        qtbot.waitUntil(lambda: w.session.reconnect.attempt >= 1, timeout=WAIT)  # at least one failed retry
    finally:
        _pg_ctl("start", "-w")
    w.banner.action_button.click()  # Retry now
    qtbot.waitUntil(lambda: not w.session.reconnect.active, timeout=WAIT)
    qtbot.waitUntil(lambda: w.current_run() is not None and w.current_run().key == "trace_run-07", timeout=WAIT)
    idle(qtbot, w)
    qtbot.waitUntil(lambda: w.steps_model.rowCount() == 2, timeout=WAIT)  # 2 steps; run-07 has one trace
    assert any("Reconnected" in text for _lvl, text in w.bus.history)
    assert not w.banner.isVisible()


def test_cancel_a_slow_read(qtbot, make_window, filled_pg):
    import sqlalchemy as sa

    w = make_window()
    w.show()
    open_pg(qtbot, w, filled_pg)
    source = w.source

    def slow():
        with source._connect("a slow report") as conn:
            conn.execute(sa.text("SELECT pg_sleep(30)"))

    w.session.submit(slow, None, lambda e: w.session.report(e, "run a slow report"), label="Slow report")
    qtbot.waitUntil(lambda: w.status.cancel_button.isVisible(), timeout=WAIT)
    w.status.cancel_button.click()
    qtbot.waitUntil(lambda: w.session.pending(Worker.INTERACTIVE) == 0, timeout=WAIT)
    qtbot.waitUntil(lambda: any("Stopped" in t and "cancelled" in t for _l, t in w.bus.history), timeout=WAIT)
    assert not w.status.cancel_button.isVisible()
    # Still usable.
    select_run(qtbot, w, "trace_run-03")


def test_server_down_at_connect_says_so_and_offers_retry(qtbot, make_window, filled_pg):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    w = make_window()
    w.show()
    url = f"postgresql://postgres@127.0.0.1:{port}/aos"
    w.open_location(url)
    qtbot.waitUntil(lambda: w.banner.isVisible() and w.banner.action_button.isVisible(), timeout=WAIT)
    assert url in w.banner.label.text() and w.banner.action_button.text() == "Retry"
    assert w.source is None
    # The app stays usable: open a working source next.
    open_pg(qtbot, w, filled_pg)
    assert w.source is not None


@pytest.fixture(scope="module")
def demo_pg(pg_server):
    """The Postgres demo with a small big run (read-only tests)."""
    from drivers.demo.postgres import generate_pg_demo
    from tests.pgutil import with_database

    name = pg_server.create()
    url = with_database(pg_server.url, name)
    generate_pg_demo(url, big_run_steps=300)
    yield url
    pg_server.drop(name)


def _breached_run(url):
    import io
    import json

    from ui.cli import main

    out = io.StringIO()
    main(["audit", url, "--event-type", "LimitBreached", "--limit", "1", "--json"], out=out)
    return json.loads(out.getvalue())["events"][0]["after_state"]["run_id"]


def test_run_logs_dock_follows_the_selected_run(qtbot, make_window, demo_pg):
    run_id = _breached_run(demo_pg)
    w = make_window()
    w.show()
    open_pg(qtbot, w, demo_pg)
    qtbot.waitUntil(lambda: w.session.logs is not None and w.logs_dock.isVisible(), timeout=WAIT)
    assert w.actions_by_name["ledger"].isEnabled()
    w.filters.search.setText(run_id)
    w.filters.search.editingFinished.emit()
    qtbot.waitUntil(lambda: w.runs_model.row_of(f"trace_{run_id}") is not None, timeout=WAIT)
    select_run(qtbot, w, f"trace_{run_id}")
    panel = w.logs_panel
    qtbot.waitUntil(lambda: panel.run_id == run_id and panel.pending == 0, timeout=WAIT)
    assert (panel.counts["audit"] or 0) >= 1
    assert (panel.counts["window"] or 0) >= 1
    assert panel.tabText(panel.tab_index("audit")).startswith("Audit")
    # The tenant-wide ledger opens in its own window and pages from the newest event.
    w.show_ledger()
    qtbot.waitUntil(lambda: w.ledger_window.isVisible() and w.ledger_window.model.rowCount() > 0, timeout=WAIT)


def test_sqlite_sources_have_no_logs_dock(qtbot, make_window, small_db):
    w = make_window()
    w.show()
    w.open_location(str(small_db))
    qtbot.waitUntil(lambda: w.source is not None and w.runs_model.rowCount() > 0, timeout=WAIT)
    idle(qtbot, w)
    assert not w.logs_dock.isVisible()
    assert not w.actions_by_name["ledger"].isEnabled()
    w.show_ledger()
    assert any("connect to one first" in t for _l, t in w.bus.history)


def _discovered(qtbot, w):
    """The session knows whether the source has logs tables and an evidence store."""
    from ui.qt.session.session import EvidenceState

    qtbot.waitUntil(lambda: w.session.evidence_state is not EvidenceState.UNKNOWN
                    and w.session.pending(Worker.LOGS, Worker.EVIDENCE) == 0, timeout=WAIT)
    idle(qtbot, w)


def test_docks_closed_while_they_had_nothing_to_show_come_back_with_a_source_that_has(
        qtbot, make_window, small_db, demo_pg):
    w = make_window()
    w.show()
    w.open_location(str(small_db))
    _discovered(qtbot, w)
    for dock in (w.logs_dock, w.evidence_dock):
        dock.toggleViewAction().trigger()  # View → Run logs, View → Evidence: "nothing here"
        qtbot.waitUntil(lambda d=dock: not d.isHidden(), timeout=WAIT)
        dock.close()
        assert not dock.closed_by_user
    open_pg(qtbot, w, demo_pg)
    _discovered(qtbot, w)
    qtbot.waitUntil(lambda: not w.logs_dock.isHidden() and not w.evidence_dock.isHidden(), timeout=WAIT)
    # Closed by the user while it holds something: not shown again for the next source.
    w.evidence_dock.close()
    assert w.evidence_dock.closed_by_user and not w.logs_dock.closed_by_user


def test_run_logs_shown_behind_the_evidence_tab_is_not_taken_for_closed(qtbot, make_window, demo_pg):
    w = make_window()
    w.show()
    open_pg(qtbot, w, demo_pg)
    _discovered(qtbot, w)
    assert not w.logs_dock.isHidden() and not w.evidence_dock.isHidden()
    assert not w.logs_dock.closed_by_user and not w.evidence_dock.closed_by_user


def test_choosing_the_run_logs_tab_again_reads_nothing_again(qtbot, make_window, demo_pg):
    run_id = _breached_run(demo_pg)
    w = make_window()
    w.show()
    open_pg(qtbot, w, demo_pg)
    _discovered(qtbot, w)
    w.filters.search.setText(run_id)
    w.filters.search.editingFinished.emit()
    select_run(qtbot, w, f"trace_{run_id}")
    (tabs,) = [b for b in w.findChildren(QTabBar) if b.count() == 2 and b.tabText(0) == "Run logs"]
    tabs.setCurrentIndex(0)
    panel = w.logs_panel
    qtbot.waitUntil(lambda: panel.run_id == run_id and panel.pending == 0, timeout=WAIT)
    reads, opened = [], []
    panel.loaded.connect(reads.append)
    w.logs_dock.opened.connect(lambda: opened.append(True))
    tabs.setCurrentIndex(1)
    tabs.setCurrentIndex(0)
    qtbot.waitUntil(lambda: bool(opened), timeout=WAIT)
    idle(qtbot, w)
    assert panel.run_id == run_id and panel.pending == 0 and reads == []


def test_a_floating_run_logs_dock_goes_with_the_logs(qtbot, make_window, small_db, demo_pg):
    w = make_window()
    w.show()
    open_pg(qtbot, w, demo_pg)
    _discovered(qtbot, w)
    w.logs_dock.setFloating(True)
    qtbot.waitUntil(w.logs_dock.isVisible, timeout=WAIT)
    w.open_location(str(small_db))
    qtbot.waitUntil(lambda: w.session.logs is None and w.logs_dock.isHidden(), timeout=WAIT)
    assert not w.logs_dock.closed_by_user


@pytest.fixture(scope="module")
def many_pg(pg_server):
    """260 traces: more than one page of the runs list (read-only tests)."""
    import sqlalchemy as sa

    from drivers.pg_schema import aos_trace_steps, aos_traces
    from tests.pgutil import sa_url, with_database

    name = pg_server.create(template=pg_server.template())
    url = with_database(pg_server.url, name)
    engine = sa.create_engine(sa_url(url), poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.execute(aos_traces.insert(), [
            dict(trace_id=f"trace_r{i:03d}", run_id=f"r{i:03d}", correlation_id="c", tenant_id="t",
                 root_hash="pending", schema_version="1.0", plan=[], trace={"steps": []}, status="completed",
                 started_at=T0 + timedelta(minutes=i), created_at=T0 + timedelta(minutes=i))
            for i in range(260)])
        conn.execute(aos_trace_steps.insert(), [
            dict(trace_id="trace_r010", step_index=j, skill_id="s", skill_name="s", params={}, status="succeeded",
                 outcome_category="execution", cost_cents=1, duration_ms=1, retry_count=0, replay_behavior="execute")
            for j in range(3)])
    engine.dispose()
    yield url
    pg_server.drop(name)


def test_refresh_keeps_the_place_beyond_the_first_page(qtbot, make_window, many_pg):
    w = make_window()
    w.show()
    open_pg(qtbot, w, many_pg)
    assert w.runs_model.rowCount() == 260
    # Newest first: r010 is row 249, on the second page.
    w.runs_view.scrollToBottom()
    qtbot.waitUntil(lambda: w.runs_model.row_of("trace_r010") is not None, timeout=WAIT)
    select_run(qtbot, w, "trace_r010")
    assert w.runs_model.row_of("trace_r010") == 249
    scroll = w.runs_view.verticalScrollBar().value()
    assert scroll > 0
    resets = []
    w.runs_model.modelReset.connect(lambda: resets.append(1))
    w.refresh()
    qtbot.waitUntil(lambda: bool(resets), timeout=WAIT)  # the list has been read again
    qtbot.waitUntil(lambda: w.current_run() is not None and w.current_run().key == "trace_r010", timeout=WAIT)
    idle(qtbot, w)
    assert w.runs_view.verticalScrollBar().value() == scroll
    assert w.steps_model.rowCount() == 3
