"""The logs panels (ui.qt.panels.logs, ui.qt.windows.ledger) on a real Postgres holding the AOS logs
tables, read through the real PostgresLogsReader in a source session: inline workers for the
logic, real worker threads for the timing."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtWidgets import QApplication

from drivers import open_source
from drivers.pg_logs import PostgresLogsReader
from inspector.errors import InspectorError
from inspector.logs import LedgerFilter
from tests.pgutil import sa_url, with_database
from tests.ui.logs_dbs import (
    CORR,
    MODIFIED_EVENT,
    OTHER_RUN,
    OTHER_TENANT,
    RUN,
    T0,
    TENANT,
    TRACE,
    add_ledger_rows,
    fill_logs,
)
from ui.qt.models.logs import LEDGER_COLUMNS, LedgerModel, StateDiffModel
from ui.qt.models.records import RECORD_ROLE, RecordTableModel
from ui.qt.panels.logs import NO_LOGS_TEXT, RunLogsPanel
from ui.qt.session.session import Worker
from ui.qt.windows.ledger import LedgerWindow

pytestmark = pytest.mark.gui
WAIT = 15000


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture
def engine(pg_url):
    eng = sa.create_engine(sa_url(pg_url), poolclass=sa.pool.NullPool)
    yield eng
    eng.dispose()


@pytest.fixture
def filled(engine):
    with engine.begin() as conn:
        fill_logs(conn)
    return engine


@pytest.fixture
def reader(filled, pg_url):
    return PostgresLogsReader(filled, pg_url)


class Errors(list):
    """The ``report`` callback: collects (what we were doing, exception)."""

    def __call__(self, exc: BaseException, doing: str) -> None:
        self.append((doing, exc))


@pytest.fixture
def errors():
    return Errors()


@pytest.fixture
def session_for(make_session, pg_url, errors):
    """A source session on the test database whose logs reader is ``logs`` (None: a source
    without logs); its reports go to ``errors``."""
    opened = []

    def make(logs, *, sync: bool = True):
        source = open_source(pg_url)
        opened.append(source)
        session = make_session(source, logs=logs, sync=sync)
        session.error_reported.connect(lambda doing, exc: errors(exc, doing))
        return session

    yield make
    for source in opened:
        source.close()


def make_panel(qtbot, session) -> RunLogsPanel:
    panel = RunLogsPanel(session)
    qtbot.addWidget(panel)
    return panel


def titles(panel: RunLogsPanel) -> dict[str, str]:
    return {key: panel.tabText(panel.tab_index(key)) for key in panel.tabs}


def column(model, header: str, role=None) -> list:
    c = [col.header for col in model.columns].index(header)
    return [model.data(model.index(r, c)) if role is None else model.data(model.index(r, c), role)
            for r in range(model.rowCount())]


def show_main_run(panel: RunLogsPanel) -> None:
    panel.show_run(RUN, TRACE, TENANT, CORR)


# --- RunLogsPanel -----------------------------------------------------------------------------


def test_every_tab_is_filled_and_titled_with_its_count(qtbot, session_for, reader, errors):
    panel = make_panel(qtbot, session_for(reader))
    with qtbot.waitSignal(panel.loaded, timeout=WAIT) as loaded:
        show_main_run(panel)
    assert loaded.args == [RUN]
    assert errors == []
    assert panel.pending == 0
    assert titles(panel) == {
        "audit": "Audit (4)",
        "policy": "Policy activations (2)",
        "llm": "LLM run (1)",
        "system": "System (2)",
        "exports": "Exports (2)",
        # 4 steps, the tenant's and the system-wide record, the tenant's 4 POLICY_RULE/LIMIT events
        "window": "Replay window (10)",
        "mismatches": "Mismatches (2, 1 open)",
    }
    # audit: governance events naming the run, newest first; others' and other tenants' left out
    assert [e.id for e in panel.audit.model.records] == ["audit-incident", "audit-breach", MODIFIED_EVENT,
                                                         "audit-created"]
    assert column(panel.audit.model, "Actor")[0] == "HUMAN · bob@acme"
    assert column(panel.audit.model, "Entity")[2] == "POLICY_RULE:rule-42"
    # policy activations linked by trace id and by correlation id, not the other tenant's
    assert {p.policy_id for p in panel.policy.model.records} == {"pol-trace", "pol-corr"}
    assert "correlation_id" in panel.policy.note.text() and "trace_id" in panel.policy.note.text()
    # the LLM record: tokens, cost in cents, hashes
    llm = panel.llm.model
    assert column(llm, "Tokens in") == ["1,843"] and column(llm, "Tokens out") == ["512"]
    assert column(llm, "Cost") == ["37.00¢"] and column(llm, "Prompt hash") == ["9f2c1a7be0d34c55"]
    assert panel.llm.note.isHidden()
    # system: the tenant's and the system-wide one, not Globex's
    assert column(panel.system.model, "Tenant") == ["system-wide", TENANT]
    # exports: pending forever, and the panel says why
    assert column(panel.exports.model, "Status") == ["pending", "pending"]
    assert "immutable" in panel.exports.note.text()
    status_tip = panel.exports.model.headerData(3, Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
    assert "never leave 'pending'" in status_tip
    # replay window: time-ordered, three sources, anchor from the LLM record
    entries = panel.replay.model.records
    assert [e.timestamp for e in entries] == sorted(e.timestamp for e in entries)
    assert {e.source for e in entries} == {"llm", "system", "policy"}
    assert "llm_run_record" in panel.replay_header.text() and "09:30:11.000" in panel.replay_header.text()
    assert column(panel.replay.model, "Ref")[0] == "step 0"
    # mismatches: the open one is highlighted, the resolved one is not
    mm = panel.mismatches.model
    states = column(mm, "State")
    assert sorted(states) == ["open", "resolved"]
    backgrounds = column(mm, "Reason", Qt.ItemDataRole.BackgroundRole)
    assert [b is not None for b in backgrounds] == [s == "open" for s in states]


def test_selecting_a_modified_event_shows_its_diff(qtbot, session_for, reader, errors):
    panel = make_panel(qtbot, session_for(reader))
    show_main_run(panel)
    model = panel.audit.model
    row = [e.id for e in model.records].index(MODIFIED_EVENT)
    panel.audit.view.selectRow(row)
    view = panel.audit_detail
    assert view.current_event.id == MODIFIED_EVENT
    diff = view.diff_model
    rows = [(diff.data(diff.index(r, 0)), diff.data(diff.index(r, 1)), diff.data(diff.index(r, 2)),
             diff.data(diff.index(r, 3))) for r in range(diff.rowCount())]
    # (jsonb keeps object keys in its own order, so the rows' order is the stored one)
    assert sorted(rows) == [
        ("/actions/1", "added", "—", '"block"'),
        ("/note", "removed", '"temporary"', "—"),
        ("/threshold", "changed", "10", "20"),
    ]
    assert "3 changes" in view.title.text()
    assert "alice@acme" in view.summary.text() and "Tighten after incident" in view.summary.text()
    assert view.diff_stack.currentWidget() is view.diff_view
    # the raw states beside the diff
    assert view.before.payload.value["threshold"] == 10
    assert view.after.payload.value["threshold"] == 20

    # a creation: everything added, no before state
    panel.audit.view.selectRow([e.id for e in model.records].index("audit-created"))
    assert [diff.data(diff.index(r, 1)) for r in range(diff.rowCount())] == ["added", "added"]
    assert view.before.payload.is_missing
    assert view.states.currentWidget() is view.after


def test_json_null_states_read_as_no_state(qtbot, session_for, filled, pg_url, errors):
    # Upstream's writer stores an unused state as JSON null, not SQL NULL (§3.1).
    with filled.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO audit_ledger (id, tenant_id, event_type, entity_type, entity_id, actor_type, before_state,"
            " after_state, created_at) VALUES (:id, :tenant, 'LimitCreated', 'LIMIT', 'limit-9', 'SYSTEM',"
            " 'null'::jsonb, CAST(:after AS jsonb), :at)"),
            {"id": "audit-json-null", "tenant": TENANT, "after": f'{{"run_id": "{RUN}", "max": 3}}', "at": T0})
    panel = make_panel(qtbot, session_for(PostgresLogsReader(filled, pg_url)))
    show_main_run(panel)
    assert titles(panel)["audit"] == "Audit (5)"
    panel.audit.view.selectRow([e.id for e in panel.audit.model.records].index("audit-json-null"))
    view = panel.audit_detail
    diff = view.diff_model
    assert sorted(diff.data(diff.index(r, 0)) for r in range(diff.rowCount())) == ["/max", "/run_id"]
    assert {diff.data(diff.index(r, 1)) for r in range(diff.rowCount())} == {"added"}
    assert view.states.currentWidget() is view.after
    assert errors == []


def test_system_record_filters_and_whole_tenant_exports(qtbot, session_for, reader, errors):
    panel = make_panel(qtbot, session_for(reader))
    show_main_run(panel)
    panel.system_severity.setCurrentText("WARN")
    assert [r.id for r in panel.system.model.records] == ["sys-tenant"]
    assert panel.tabText(panel.tab_index("system")) == "System (1)"
    panel.system_severity.setCurrentIndex(0)
    panel.system_only.setChecked(True)
    assert [r.id for r in panel.system.model.records] == ["sys-global"]
    panel.system_only.setChecked(False)
    panel.system_component.setCurrentText("worker")
    assert [r.id for r in panel.system.model.records] == ["sys-tenant"]
    panel.system.view.selectRow(0)
    assert panel.system_details.payload.value == {"pid": 4242, "rss_mb": 2048}

    panel.exports_tenant.setChecked(True)
    assert {x.id for x in panel.exports.model.records} == {"exp-1", "exp-2", "exp-3"}
    assert panel.tabText(panel.tab_index("exports")) == "Exports (3)"
    assert errors == []


def test_several_llm_records_are_all_shown_with_a_note(qtbot, session_for, reader, errors):
    panel = make_panel(qtbot, session_for(reader))
    panel.show_run(OTHER_RUN, f"trace_{OTHER_RUN}", OTHER_TENANT, "corr-0002")
    assert panel.tabText(panel.tab_index("llm")) == "LLM run (2)"
    assert panel.llm.note.text().startswith("2 records for this run")
    assert not panel.llm.note.isHidden()
    assert "2 LLM run records" in panel.replay_header.text()
    assert errors == []


def test_missing_tables_disable_their_tabs_with_the_reason(qtbot, session_for, filled, pg_url, errors):
    with filled.begin() as conn:
        conn.exec_driver_sql("DROP TABLE log_exports")
        conn.exec_driver_sql("DROP TABLE aos_trace_mismatches")
    reader = PostgresLogsReader(filled, pg_url)
    panel = make_panel(qtbot, session_for(reader))
    show_main_run(panel)
    for key, table in (("exports", "log_exports"), ("mismatches", "aos_trace_mismatches")):
        i = panel.tab_index(key)
        assert not panel.isTabEnabled(i)
        assert table in panel.tabToolTip(i)
        assert "(" not in panel.tabText(i)
    assert panel.isTabEnabled(panel.tab_index("audit")) and panel.tabToolTip(panel.tab_index("audit")) == ""
    assert panel.tabText(panel.tab_index("audit")) == "Audit (4)"
    assert errors == []


def test_a_trace_only_database_disables_every_logs_tab(qtbot, session_for, pg_server, errors):
    name = pg_server.create(template=pg_server.template(logs_tables=False))
    engine = sa.create_engine(sa_url(with_database(pg_server.url, name)), poolclass=sa.pool.NullPool)
    try:
        reader = PostgresLogsReader(engine, "trace-only")
        panel = make_panel(qtbot, session_for(reader))
        show_main_run(panel)
        disabled = {key for key in panel.tabs if not panel.isTabEnabled(panel.tab_index(key))}
        assert disabled == {"audit", "policy", "llm", "system", "exports", "mismatches"}
        # the replay window still merges what exists (here: nothing, no trace)
        assert panel.isTabEnabled(panel.tab_index("window"))
        assert errors == []
    finally:
        engine.dispose()
        pg_server.drop(name)


def test_a_source_without_logs_shows_one_message(qtbot, session_for, make_session, pg_url, reader, errors):
    source = open_source(pg_url)
    try:
        session = make_session(source)  # its logs reader is not known: no logs
        panel = make_panel(qtbot, session)
        show_main_run(panel)
        assert panel.count() == 1 and not panel.logs_available
        assert panel.currentWidget() is panel.no_logs
        assert panel.no_logs_label.text() == NO_LOGS_TEXT
        assert panel.tabBar().isHidden() or not panel.isVisible()
        assert panel.tabBarAutoHide()
        # the source changes to one with logs: the tabs come back
        session.adopt(source, logs=reader, owned=False)
        show_main_run(panel)
        assert panel.count() == len(panel.tabs) and panel.logs_available
        assert titles(panel)["audit"] == "Audit (4)"
        session.adopt(source, owned=False)
        panel.clear()
        assert panel.count() == 1
    finally:
        source.close()


def test_results_for_a_run_no_longer_shown_are_dropped(qtbot, session_for, reader, errors, monkeypatch):
    """A read of the older run that has started when the newer run is shown finishes late: its
    result is dropped; those that had not started are cancelled."""
    session = session_for(reader, sync=False)
    panel = make_panel(qtbot, session)
    started, release = threading.Event(), threading.Event()
    real = reader.policy_activations
    delivered = []

    def slow_for_the_older_run(link_ids):
        rows = real(link_ids)
        if OTHER_RUN in link_ids:
            started.set()
            release.wait(WAIT / 1000)
        delivered.append(link_ids)
        return rows

    monkeypatch.setattr(reader, "policy_activations", slow_for_the_older_run)
    panel.show_run(OTHER_RUN, f"trace_{OTHER_RUN}", OTHER_TENANT, "corr-0002")  # policy is read first
    assert started.wait(WAIT / 1000)
    llm_calls = []
    real_llm = reader.llm_records
    monkeypatch.setattr(reader, "llm_records", lambda run_id: (llm_calls.append(run_id), real_llm(run_id))[1])
    show_main_run(panel)
    assert panel.pending == 7 and titles(panel)["audit"] == "Audit (…)"
    release.set()
    qtbot.waitUntil(lambda: panel.pending == 0 and session.pending() == 0, timeout=WAIT)
    # the older run's reads that had not started were cancelled; the one that had was dropped
    assert llm_calls == [RUN] and len(delivered) == 2
    assert panel.run_id == RUN
    assert titles(panel)["llm"] == "LLM run (1)"
    assert [r.run_id for r in panel.llm.model.records] == [RUN]
    assert titles(panel)["audit"] == "Audit (4)"
    assert [p.loop_trace_id for p in panel.policy.model.records] == \
        [p.loop_trace_id for p in real(("trace_" + RUN, RUN, CORR))]
    # clear() drops whatever is on its way
    show_main_run(panel)
    panel.clear()
    qtbot.waitUntil(lambda: session.pending() == 0, timeout=WAIT)
    QApplication.processEvents()
    assert panel.run_id is None
    assert all(panel.tabText(panel.tab_index(k)) == spec for k, spec in
               zip(panel.tabs, ("Audit", "Policy activations", "LLM run", "System", "Exports", "Replay window",
                                "Mismatches")))
    assert panel.audit.model.rowCount() == 0
    assert errors == []


class ThreadTracer:
    """The reader's tracer hook: which threads ran statements (``reset`` after the reader's own
    catalogue reads, which its constructor makes on the caller's thread)."""

    def __init__(self) -> None:
        self.threads: set[int] = set()
        self.statements = 0

    def __call__(self, sql, params) -> None:
        self.threads.add(threading.get_ident())
        self.statements += 1

    def reset(self) -> None:
        self.threads.clear()
        self.statements = 0


def test_real_worker_thread_fills_the_tabs_and_drops_the_older_run(qtbot, session_for, filled, pg_url, errors):
    tracer = ThreadTracer()
    reader = PostgresLogsReader(filled, pg_url, tracer=tracer)
    tracer.reset()
    session = session_for(reader, sync=False)
    panel = make_panel(qtbot, session)
    panel.show()
    panel.show_run(OTHER_RUN, f"trace_{OTHER_RUN}", OTHER_TENANT, "corr-0002")
    show_main_run(panel)  # before any of the first run's results can arrive
    assert titles(panel)["audit"] == "Audit (…)"
    qtbot.waitUntil(lambda: panel.pending == 0 and session.pending() == 0, timeout=WAIT)
    assert panel.run_id == RUN
    assert titles(panel)["llm"] == "LLM run (1)"
    assert [r.run_id for r in panel.llm.model.records] == [RUN]
    assert titles(panel)["mismatches"] == "Mismatches (2, 1 open)"
    assert errors == []
    # every statement ran on the worker, none on the GUI thread
    assert tracer.statements > 0 and threading.get_ident() not in tracer.threads


def test_a_failing_read_is_reported_and_shown_in_its_tab(qtbot, session_for, reader, filled, errors):
    with filled.begin() as conn:  # gone after the reader looked
        conn.exec_driver_sql("DROP TABLE system_records")
    panel = make_panel(qtbot, session_for(reader))
    show_main_run(panel)
    assert titles(panel)["system"] == "System (!)"
    assert "Could not read system records" in panel.system.placeholder.text()
    doings = [d for d, _ in errors]
    assert "read system records" in doings
    assert all(isinstance(e, InspectorError) for _, e in errors)
    # the other tabs are unaffected (the replay window reads system records too, and fails)
    assert titles(panel)["audit"] == "Audit (4)"


# --- models -----------------------------------------------------------------------------------


def test_record_and_diff_models_pass_the_model_tester(qtmodeltester, session_for, reader, errors, qtbot):
    panel = make_panel(qtbot, session_for(reader))
    show_main_run(panel)
    for tab in panel.tabs.values():
        assert isinstance(tab.model, RecordTableModel)
        qtmodeltester.check(tab.model)
    panel.audit.view.selectRow([e.id for e in panel.audit.model.records].index(MODIFIED_EVENT))
    assert isinstance(panel.audit_detail.diff_model, StateDiffModel)
    qtmodeltester.check(panel.audit_detail.diff_model)


@pytest.fixture
def ledger_engine(filled):
    with filled.begin() as conn:
        add_ledger_rows(conn, 450)
    return filled


def test_ledger_model_pages_with_fetch_more(qtmodeltester, session_for, ledger_engine, pg_url, errors):
    reader = PostgresLogsReader(ledger_engine, pg_url)
    model = LedgerModel(session_for(reader))
    model.reload()
    assert model.rowCount() == 200 and model.canFetchMore(QModelIndex())
    qtmodeltester.check(model)  # the tester fetches more itself
    while model.canFetchMore(QModelIndex()):
        model.fetchMore(QModelIndex())
    events = model.records
    assert len(events) == 456 and len({e.id for e in events}) == 456
    keys = [(e.created_at, e.id) for e in events]
    assert keys == sorted(keys, reverse=True)
    assert model.data(model.index(0, 0), RECORD_ROLE).id == "audit-incident"
    assert [c.header for c in LEDGER_COLUMNS][:2] == ["Time", "Tenant"]
    assert errors == []


def scroll_to_bottom(qtbot, window: LedgerWindow) -> None:
    bar = window.view.verticalScrollBar()
    bar.setValue(bar.maximum())
    qtbot.wait(10)


def test_ledger_window_reads_more_as_it_scrolls_and_a_filter_starts_again(qtbot, session_for, ledger_engine, pg_url, errors):
    reader = PostgresLogsReader(ledger_engine, pg_url)
    w = LedgerWindow(session_for(reader))
    qtbot.addWidget(w)
    w.resize(1000, 700)
    w.show()
    qtbot.waitExposed(w)
    model = w.model
    assert model.rowCount() == 200 and model.pages_read == 1
    assert "scroll down for more" in w.status.text()
    # the choices come from ledger_values; the actor filter offers types and ids
    tenants = [w.filters.combos["tenant_id"].itemText(i) for i in range(w.filters.combos["tenant_id"].count())]
    assert tenants == ["(any)", TENANT, OTHER_TENANT]
    actors = [w.filters.combos["actor"].itemText(i) for i in range(w.filters.combos["actor"].count())]
    assert {"HUMAN", "SYSTEM", "alice@acme"} <= set(actors)

    scroll_to_bottom(qtbot, w)
    assert model.rowCount() == 400
    scroll_to_bottom(qtbot, w)
    assert model.rowCount() == 456 and not model.canFetchMore(QModelIndex())
    assert model.pages_read == 3
    assert "all that match" in w.status.text()

    # selecting an event shows its diff
    w.view.selectRow(model.rowCount() - 1)
    assert w.detail.current_event is model.records[-1]
    assert w.detail.diff_model.rowCount() == 1

    # a filter starts again from the first page
    w.filters.combos["event_type"].setCurrentText("PolicyRuleModified")
    assert model.ledger_filter.event_type == "PolicyRuleModified"
    assert [e.id for e in model.records] == [MODIFIED_EVENT]
    assert model.pages_read == 1 and not model.canFetchMore(QModelIndex())
    assert w.detail.current_event is None
    w.filters.combos["event_type"].setCurrentIndex(0)
    assert model.rowCount() == 200 and model.pages_read == 1

    # a time range, typed as a date
    w.filters.since.setText(T0.date().isoformat())
    w.filters.since.editingFinished.emit()
    assert model.ledger_filter.since is not None
    assert {e.id for e in model.records} == {"audit-incident", "audit-breach", MODIFIED_EVENT, "audit-created",
                                             "audit-other", "audit-globex"}
    # a malformed date is reported, and the filter stays as it was
    w.filters.until.setText("last tuesday")
    w.filters.until.editingFinished.emit()
    assert errors and errors[-1][0] == "filter the audit ledger"
    assert w.filters.until.property("invalid")
    assert model.rowCount() == 6
    w.filters.clear()
    assert model.ledger_filter == LedgerFilter()
    assert model.rowCount() == 200


def test_ledger_window_on_a_real_worker_thread(qtbot, session_for, ledger_engine, pg_url, errors):
    tracer = ThreadTracer()
    reader = PostgresLogsReader(ledger_engine, pg_url, tracer=tracer)
    tracer.reset()
    session = session_for(reader, sync=False)
    w = LedgerWindow(session)
    qtbot.addWidget(w)
    w.resize(1000, 700)
    w.show()
    qtbot.waitExposed(w)
    model = w.model
    qtbot.waitUntil(lambda: model.rowCount() == 200 and not model.loading, timeout=WAIT)
    qtbot.waitUntil(lambda: w.filters.combos["tenant_id"].count() == 3, timeout=WAIT)
    bar = w.view.verticalScrollBar()
    for expected in (400, 456):
        bar.setValue(bar.maximum())
        qtbot.waitUntil(lambda expected=expected: model.rowCount() == expected and not model.loading, timeout=WAIT)
    assert not model.canFetchMore(QModelIndex())
    # a filter set while a page is on its way: the page for the old filter is dropped
    w.filters.combos["event_type"].setCurrentText("LimitUpdated")
    w.filters.combos["tenant_id"].setCurrentText(OTHER_TENANT)
    qtbot.waitUntil(lambda: not model.loading and session.pending(Worker.LOGS) == 0, timeout=WAIT)
    assert model.rowCount() == 0
    assert "No event matches" in w.status.text()
    assert errors == []
    assert tracer.statements > 0 and threading.get_ident() not in tracer.threads


def test_ledger_window_reports_a_failed_page_and_stops_asking(qtbot, session_for, ledger_engine, pg_url, errors):
    reader = PostgresLogsReader(ledger_engine, pg_url)
    w = LedgerWindow(session_for(reader))
    qtbot.addWidget(w)
    w.resize(1000, 700)
    w.show()
    qtbot.waitExposed(w)
    assert w.model.rowCount() == 200
    with ledger_engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE audit_ledger")
    scroll_to_bottom(qtbot, w)
    assert [d for d, _ in errors] == ["read the audit ledger"]
    assert isinstance(errors[0][1], InspectorError)
    assert w.model.rowCount() == 200 and not w.model.canFetchMore(QModelIndex())
    assert "reading stopped" in w.status.text()
    scroll_to_bottom(qtbot, w)
    assert len(errors) == 1  # no retry loop at the bottom of the view


def test_ledger_window_without_logs_says_so(qtbot, session_for, errors):
    w = LedgerWindow(session_for(None))
    qtbot.addWidget(w)
    assert w.stack.currentWidget() is w.placeholder
    assert w.placeholder.text() == NO_LOGS_TEXT
    assert w.model.rowCount() == 0 and not w.model.canFetchMore(QModelIndex())
