"""The Compare window (ui.qt.windows.compare) on real SQLite files written by ``SQLiteTraceWriter``, the
golden trace JSON and a real Postgres, with real worker threads: the replay's original found
through replay_of, the verdict as ``compare_runs`` and ``trace-inspector diff`` give it, both sides
selected and scrolled together, ignore rules re-run, errors shown in the window, a given source
left open."""

from __future__ import annotations

import io

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from drivers import open_source
from drivers.sqlite_writer import SQLiteTraceWriter, StepInput
from inspector.compare import (
    AlignedRow,
    Comparison,
    RowKind,
    SideHashes,
    StepDoc,
    compare_runs,
    load_side,
)
from inspector.hashing import ParityResult
from tests.pgutil import TraceBuilder
from ui.cli import main as cli_main
from ui.qt.app import new_session
from ui.qt.models.compare import (
    LEFT_COLUMNS,
    MARKER_COLUMN,
    RIGHT_COLUMNS,
    CompareTableModel,
)
from ui.qt.session.session import Worker
from ui.qt.windows.compare import CompareWindow, open_compare, verdict_texts

pytestmark = pytest.mark.gui
WAIT = 20000


def write_run(w: SQLiteTraceWriter, run_id: str, outputs, *, indexes=None, metadata=None, statuses=None):
    w.start_trace(run_id, f"corr-{run_id}", "tenant-a", "agent-1", [{"skill": "s"}])
    indexes = indexes if indexes is not None else list(range(len(outputs)))
    w.record_steps(
        StepInput(run_id=run_id, step_index=idx, skill_name=["json_transform", "http_call", "db_query"][idx % 3],
                  params={"i": idx}, status=(statuses or {}).get(idx, "success"), outcome_category="SUCCESS",
                  outcome_code=None, outcome_data=out, cost_cents=1.0, duration_ms=float(idx))
        for idx, out in zip(indexes, outputs, strict=True))
    w.complete_trace(run_id, "completed", metadata)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("compare") / "traces.db"
    long_orig = [{"v": i} for i in range(300)]
    long_replay = [dict(o) for o in long_orig]
    long_replay[250]["v"] = -1
    long_replay[280]["v"] = -2
    with SQLiteTraceWriter(path) as w:
        write_run(w, "orig", [{"v": 0}, {"v": 1, "request_id": "a"}, {"v": 2}])
        write_run(w, "same", [{"v": 0}, {"v": 1, "request_id": "a"}, {"v": 2}], metadata={"replay_of": "orig"})
        write_run(w, "noisy", [{"v": 0}, {"v": 1, "request_id": "b"}, {"v": 2}], metadata={"replay_of": "orig"})
        write_run(w, "dropped", [{"v": 0}, {"v": 2}], indexes=[0, 2], metadata={"replay_of": "orig"})
        write_run(w, "failed", [{"v": 0}, {"v": 1, "request_id": "a"}, {"v": 2}], statuses={1: "failure"},
                  metadata={"replay_of": "orig"})
        write_run(w, "plain", [{"v": 0}])
        write_run(w, "long", long_orig)
        write_run(w, "long-replay", long_replay, metadata={"replay_of": "long"})
    return path


@pytest.fixture
def opened(qtbot):
    """``open_compare`` without a parent; every window is shut down (workers joined) afterwards."""
    windows = []

    def make(*args, **kwargs) -> CompareWindow:
        w = open_compare(None, new_session, *args, **kwargs)
        qtbot.addWidget(w)
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.shutdown()


def wait_done(qtbot, w: CompareWindow) -> None:
    qtbot.waitUntil(lambda: w.state in ("shown", "error"), timeout=WAIT)


def expected(db_path, left: str, right: str, rules=()) -> Comparison:
    from inspector.compare import IgnoreRule

    src = open_source(db_path)
    try:
        return compare_runs(load_side(src, left).steps, load_side(src, right).steps,
                            rules=[IgnoreRule(r) for r in rules])
    finally:
        src.close()


def cli_text(*args: str) -> str:
    out = io.StringIO()
    cli_main(["diff", *args], out=out)
    return out.getvalue()


# --- opening and the verdict ------------------------------------------------------------------


def test_a_replay_finds_its_original_through_replay_of(opened, qtbot, db):
    w = opened((str(db), "noisy"))
    wait_done(qtbot, w)
    assert w.state == "shown", w.error_text
    assert w.sides["left"].summary.run_id == "orig" and w.sides["right"].summary.run_id == "noisy"
    assert "found through replay_of" in w.side_labels["left"].text()
    assert w.comparison.parity == expected(db, "orig", "noisy").parity
    assert [r.kind for r in w.comparison.rows] == [RowKind.EQUAL, RowKind.CHANGED, RowKind.EQUAL]
    # the first divergence is selected on opening, and its diff is in the detail pane
    assert w.current_row() == 1
    assert "/outcome_data/request_id" in w.detail.toPlainText()


@pytest.mark.parametrize("replay", ["noisy", "dropped", "failed", "same"])
def test_the_verdict_is_compare_runs_and_reads_as_the_cli(opened, qtbot, db, replay):
    w = opened((str(db), "orig"), (str(db), replay))
    wait_done(qtbot, w)
    want = expected(db, "orig", replay)
    assert w.comparison.parity == want.parity
    assert w.comparison.counts() == want.counts() and w.comparison.aligned_by == want.aligned_by
    p = want.parity
    if p.is_parity:
        assert w.upstream_label.text() == "Upstream verdict: parity"
    else:
        assert w.upstream_label.text() == (f"Upstream verdict: NO parity at position {p.divergence_step}: "
                                           f"{p.divergence_reason}")
    assert p.original_signature in w.signatures_label.text() and p.replay_signature in w.signatures_label.text()
    # every verdict line is a line of `trace-inspector diff` (the summary adds our first row)
    text = cli_text(str(db), "orig", replay)
    assert w.upstream_label.text() + "\n" in text
    assert w.summary_label.text().split(" · ")[0] + "\n" in text
    for note in filter(None, w.notes_label.text().split("\n")):
        assert note + "\n" in text
    assert ("Parity holds" in text) == (w.headline.text() == "Parity holds")
    assert w.verdict.property("verdict") == ("holds" if replay == "same" else "broken")


def test_a_dropped_step_is_an_only_left_row_with_its_fields(opened, qtbot, db):
    w = opened((str(db), "orig"), (str(db), "dropped"))
    wait_done(qtbot, w)
    rows = w.comparison.rows
    assert [r.kind for r in rows] == [RowKind.EQUAL, RowKind.ONLY_LEFT, RowKind.EQUAL]
    m = w.model
    assert m.index(1, MARKER_COLUMN).data() == "−"
    assert m.index(1, RIGHT_COLUMNS[1]).data() == "—"  # nothing on the right
    assert m.index(1, LEFT_COLUMNS[0]).data() == "1"
    w.select_row(1)
    detail = w.detail.toPlainText()
    assert "only in the original" in detail and "http_call" in detail and "determinism hash" in detail


# --- both sides together ----------------------------------------------------------------------


def _click(qtbot, view, row: int, column: int) -> None:
    rect = view.visualRect(view.model().index(row, column))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_selecting_a_row_on_one_side_selects_it_on_the_other(opened, qtbot, db):
    w = opened((str(db), "orig"), (str(db), "dropped"))
    wait_done(qtbot, w)
    qtbot.waitExposed(w)
    _click(qtbot, w.left_view, 2, LEFT_COLUMNS[1])
    assert w.right_view.selectionModel().isRowSelected(2)
    assert [i.row() for i in w.right_view.selectionModel().selectedRows(RIGHT_COLUMNS[0])] == [2]
    _click(qtbot, w.right_view, 0, RIGHT_COLUMNS[1])
    assert w.left_view.selectionModel().isRowSelected(0) and not w.left_view.selectionModel().isRowSelected(2)
    assert w.current_row() == 0
    assert "Row 0" in w.detail.toPlainText()
    # the keyboard moves both sides from either one, wherever the shared current index sits
    _click(qtbot, w.left_view, 0, LEFT_COLUMNS[1])
    w.right_view.setFocus()
    qtbot.keyClick(w.right_view, Qt.Key.Key_Down)
    assert w.current_row() == 1 and w.left_view.selectionModel().isRowSelected(1)
    w.left_view.setFocus()
    qtbot.keyClick(w.left_view, Qt.Key.Key_Down)
    assert w.current_row() == 2 and w.right_view.selectionModel().isRowSelected(2)


def _visible(view, row: int, column: int) -> bool:
    return view.viewport().rect().contains(view.visualRect(view.model().index(row, column)).center())


def test_scrolling_one_side_scrolls_the_other(opened, qtbot, db):
    w = opened((str(db), "long-replay"))
    wait_done(qtbot, w)
    qtbot.waitExposed(w)
    lbar, rbar = w.left_view.verticalScrollBar(), w.right_view.verticalScrollBar()
    assert rbar.maximum() > 100
    rbar.setValue(120)
    assert lbar.value() == 120
    lbar.setValue(40)
    assert rbar.value() == 40
    # a wheel turn over the left side (whose scroll bar is hidden) moves both
    before = rbar.value()
    from PySide6.QtCore import QPointF
    from PySide6.QtGui import QWheelEvent

    vp = w.left_view.viewport()
    pos = QPointF(vp.rect().center())
    event = QWheelEvent(pos, QPointF(vp.mapToGlobal(pos.toPoint())), QPoint(0, 0), QPoint(0, -240),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(vp, event)
    assert rbar.value() > before and lbar.value() == rbar.value()
    assert _visible(w.right_view, lbar.value(), RIGHT_COLUMNS[0])


def test_jump_to_first_divergence_and_next_previous(opened, qtbot, db):
    w = opened((str(db), "long-replay"))
    wait_done(qtbot, w)
    qtbot.waitExposed(w)
    assert w.model.differences == [250, 280]
    w.select_row(0)
    w.right_view.scrollToTop()
    assert not _visible(w.left_view, 250, LEFT_COLUMNS[0])
    qtbot.mouseClick(w.first_button, Qt.MouseButton.LeftButton)
    assert w.current_row() == 250 == w.comparison.first_divergence
    assert w.right_view.selectionModel().isRowSelected(250)
    assert _visible(w.left_view, 250, LEFT_COLUMNS[0]) and _visible(w.right_view, 250, RIGHT_COLUMNS[0])
    qtbot.mouseClick(w.next_button, Qt.MouseButton.LeftButton)
    assert w.current_row() == 280 and _visible(w.right_view, 280, RIGHT_COLUMNS[0])
    qtbot.mouseClick(w.next_button, Qt.MouseButton.LeftButton)
    assert w.current_row() == 280  # no further difference
    qtbot.mouseClick(w.prev_button, Qt.MouseButton.LeftButton)
    assert w.current_row() == 250
    assert "difference 1 of 2" in w.position_label.text()


# --- rules ------------------------------------------------------------------------------------


def test_an_ignore_rule_reruns_and_turns_a_changed_row_equal_naming_the_rule(opened, qtbot, db):
    w = opened((str(db), "orig"), (str(db), "noisy"))
    wait_done(qtbot, w)
    assert w.comparison.rows[1].kind is RowKind.CHANGED and w.headline.text() == "Parity broken"
    w.rule_edit.setText("/outcome_data/request_id")
    qtbot.mouseClick(w.findChild(type(w.compare_button), "addRule"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.state == "shown" and bool(w.comparison.rules), timeout=WAIT)
    want = expected(db, "orig", "noisy", rules=["/outcome_data/request_id"])
    row = w.comparison.rows[1]
    assert row.kind is RowKind.EQUAL == want.rows[1].kind
    assert row.equal_by == ("ignored by user rule /outcome_data/request_id",)
    marker = w.model.index(1, MARKER_COLUMN)
    assert marker.data() == "≈"
    assert "ignored by user rule /outcome_data/request_id" in marker.data(Qt.ItemDataRole.ToolTipRole)
    assert w.headline.text() == "Parity holds" and w.verdict.property("verdict") == "holds"
    assert "ignored by user rule: /outcome_data/request_id" in w.rules_label.text()
    assert w.current_row() == 1  # the selection stays on the row
    assert "ignored by user rule /outcome_data/request_id" in w.detail.toPlainText()
    assert w.rules == ["/outcome_data/request_id"] and w.rules_list.count() == 1
    # removing it compares again
    w.rules_list.setCurrentRow(0)
    qtbot.mouseClick(w.findChild(type(w.compare_button), "removeRule"), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.state == "shown" and not w.comparison.rules, timeout=WAIT)
    assert w.comparison.rows[1].kind is RowKind.CHANGED


def test_an_invalid_pointer_is_an_inline_error_and_changes_nothing(opened, qtbot, db):
    w = opened((str(db), "orig"), (str(db), "noisy"))
    wait_done(qtbot, w)
    shown = w.comparison
    w.rule_edit.setText("outcome_data/request_id")
    w.rule_edit.returnPressed.emit()
    assert w.rule_error.isVisible() and "not a JSON pointer" in w.rule_error.text()
    assert w.rule_edit.property("invalid") is True
    assert w.rules == [] and w.comparison is shown and w.state == "shown"
    # Add with an empty edit is not a rule on the whole step (it would make every row equal)
    w.rule_edit.clear()
    w.rule_edit.returnPressed.emit()
    assert w.rules == [] and w.rule_error.isVisible() and w.comparison is shown
    # editing a listed rule into a malformed pointer keeps the old rule
    assert w.add_rule("/outcome_data/request_id")
    qtbot.waitUntil(lambda: bool(w.comparison.rules), timeout=WAIT)
    w.rules_list.item(0).setText("bad")
    assert w.rules == ["/outcome_data/request_id"] and w.rules_list.item(0).text() == "/outcome_data/request_id"
    assert "rule /outcome_data/request_id kept" in w.rule_error.text()


# --- sources ----------------------------------------------------------------------------------


def test_two_sources_a_database_and_the_golden_trace_json(opened, qtbot, tmp_path, fixtures_dir):
    import json

    golden = fixtures_dir / "golden_trace.json"
    doc = json.loads(golden.read_text())
    path = tmp_path / "copy.db"
    with SQLiteTraceWriter(path) as w:
        w.start_trace("golden-copy", "c", "tenant-test", "a", doc["plan"])
        w.record_steps(StepInput(run_id="golden-copy", step_index=s["step_index"], skill_name=s["skill_name"],
                                 params=s["params"], status=s["status"], outcome_category=s["outcome_category"],
                                 outcome_code=s["outcome_code"], outcome_data=s["outcome_data"],
                                 cost_cents=s["cost_cents"], duration_ms=s["duration_ms"],
                                 retry_count=s["retry_count"]) for s in doc["steps"])
        w.complete_trace("golden-copy", "completed", {"replay_of": "frozen-trace-001"})
    win = opened((str(golden), "frozen-trace-001"), (str(path), "golden-copy"))
    wait_done(qtbot, win)
    assert win.state == "shown", win.error_text
    assert win.comparison.parity.original_signature == "f376998a5ed844781b9d85694efee108"
    assert win.comparison.parity.is_parity and win.headline.text() == "Parity holds"
    assert win.sides["left"].location.endswith("golden_trace.json") and win.sides["right"].location == str(path)
    # a second location typed in the form: the replay's original read from the trace file
    win.location_edits["left"].setText(str(golden))
    win.run_edits["left"].clear()
    win.run_edits["right"].setText("golden-copy")
    win.location_edits["right"].setText(str(path))
    qtbot.mouseClick(win.compare_button, Qt.MouseButton.LeftButton)
    wait_done(qtbot, win)
    assert win.state == "shown", win.error_text
    assert win.sides["left"].summary.run_id == "frozen-trace-001"
    assert sorted(win.open_locations()) == sorted([str(golden), str(path)])


def test_a_given_source_is_read_on_its_runner_and_never_closed(opened, qtbot, db, make_session):
    src = open_source(db)
    session = make_session(src, sync=False)  # the main window's
    try:
        w = opened((session, "noisy"))
        wait_done(qtbot, w)
        assert w.state == "shown" and w.sides["left"].summary.run_id == "orig"
        assert w.open_locations() == []  # nothing opened by the window
        w.close()
        w.shutdown()
        # the caller's session and source still work
        got = []
        session.submit(lambda: src.get_run("orig").summary.run_id, got.append, worker=Worker.BACKGROUND)
        qtbot.waitUntil(lambda: got == ["orig"], timeout=WAIT)
        assert src.count_steps("noisy") == 3 and session.source is src
    finally:
        session.shutdown()
        src.close()


def test_a_window_of_its_own_closes_what_it_opened(qtbot, db):
    w = open_compare(None, new_session, (str(db), "noisy"))
    qtbot.addWidget(w)
    wait_done(qtbot, w)
    assert w.open_locations() == [str(db)]
    w.shutdown()
    assert w.open_locations() == []


def test_a_window_opened_from_a_parent_is_deleted_after_closing_once_idle(qtbot, db, tmp_path, make_session):
    import shutil

    from PySide6.QtWidgets import QWidget

    parent = QWidget()
    qtbot.addWidget(parent)
    src = open_source(db)
    session = make_session(src, sync=False)
    other = tmp_path / "other.db"
    shutil.copy(db, other)
    try:
        # the given source's own location is read through it, not opened again
        w = open_compare(parent, new_session, (session, "orig"), (str(db), "noisy"))
        wait_done(qtbot, w)
        assert w.state == "shown" and w.open_locations() == []
        w.close()
        w = open_compare(parent, new_session, (session, "noisy"), (str(other), "orig"))
        assert w.isWindow() and w.parent() is parent
        wait_done(qtbot, w)
        assert w.state == "shown" and w.open_locations() == [str(other)]
        with qtbot.waitSignal(w.destroyed, timeout=WAIT):
            w.close()
        assert src.count_steps("noisy") == 3  # the given source is still open
    finally:
        src.close()


def test_the_given_sources_runner_shut_down_is_an_error_not_a_hang(opened, qtbot, db, make_session):
    import ui.qt.windows.compare as cv

    src = open_source(db)
    session = make_session(src, sync=False)
    w = CompareWindow(new_session, sessions=[session])
    qtbot.addWidget(w)
    try:
        w.set_sides(None, cv.SideSpec(session, session.location, "noisy"))
        session.close()  # the main window closed that source before the window read it
        w.start()
        wait_done(qtbot, w)
        assert w.state == "error" and "was closed in the main window" in w.error_text
        # Compare again: the window opens the location itself
        qtbot.mouseClick(w.compare_button, Qt.MouseButton.LeftButton)
        wait_done(qtbot, w)
        assert w.state == "shown", w.error_text
        assert w.open_locations() == [str(db)]
    finally:
        w.shutdown()
        src.close()


def test_the_given_source_closed_while_the_window_waits_is_an_error_not_a_hang(opened, qtbot, db, make_session):
    import threading

    src = open_source(db)
    session = make_session(src, sync=False)
    gate = threading.Event()
    try:
        # the main window's own read, still running: the window's read waits behind it
        session.submit(lambda: gate.wait(WAIT / 1000), worker=Worker.BACKGROUND)
        w = opened((session, "noisy"))
        assert w.state == "loading"
        session.close()  # the main window closes the source: our queued read is dropped
        gate.set()
        wait_done(qtbot, w)
        assert w.state == "error" and "was closed in the main window" in w.error_text
    finally:
        gate.set()
        src.close()


# --- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "right", "says"),
    [
        (("{db}", "nope"), None, "Could not read run 'nope' from {db}: no run 'nope'"),
        (("{db}", "plain"), None, "Could not find the original: run 'plain' is not a replay"),
        (("{db}", "orig"), ("{db}", "nope"), "no run 'nope'"),
        (("{missing}", "x"), None, "Could not open {missing}: no such file"),
        (("{text}", "x"), None, "Could not open {text}: "),
    ],
)
def test_errors_are_shown_in_the_window_not_raised(opened, qtbot, db, tmp_path, left, right, says):
    text = tmp_path / "notes.txt"
    text.write_text("not a trace source\n" * 10)
    names = {"db": str(db), "missing": str(tmp_path / "missing.db"), "text": str(text)}
    left = (left[0].format(**names), left[1])
    right = (right[0].format(**names), right[1]) if right else None
    w = opened(left, right)
    wait_done(qtbot, w)
    assert w.state == "error"
    assert says.format(**names) in w.error_text
    assert any(e.property("invalid") for e in (*w.location_edits.values(), *w.run_edits.values()))
    assert w.error_label.isVisible() and w.error_label.text() == w.error_text
    assert w.comparison is None and not w.verdict.isVisible()


def test_loading_reports_progress_in_steps(qtbot, db, monkeypatch):
    import ui.qt.windows.compare as cv

    monkeypatch.setattr(cv, "PROGRESS_EVERY", 50)
    w = CompareWindow(new_session)
    qtbot.addWidget(w)
    try:
        w.set_sides(None, cv.SideSpec(None, str(db), "long-replay"))
        texts, values = [], []
        w.progress.valueChanged.connect(lambda v: (values.append(v), texts.append(w.loading_label.text())))
        w.start()
        wait_done(qtbot, w)
        assert w.state == "shown" and not w.loading.isVisible()
        assert any(0 < v < 600 for v in values)  # part of both runs' 300 + 300 steps
        assert any("of 300 steps" in t for t in texts)
    finally:
        w.shutdown()


def test_an_empty_form_names_what_is_missing(qtbot):
    w = CompareWindow(new_session)
    qtbot.addWidget(w)
    try:
        w.start()
        assert w.state == "error" and "Name the replay's source" in w.error_text
        assert w.location_edits["right"].property("invalid") is True
    finally:
        w.shutdown()


def test_cancel_stops_loading_and_shows_nothing_late(opened, qtbot, db):
    w = opened((str(db), "long-replay"))
    assert w.state == "loading" and w.cancel_button.isEnabled() and w.loading.isVisible()
    w.cancel_button.click()  # no event processed in between: nothing has been delivered yet
    assert w.state == "error" and w.error_text == "Comparison cancelled"
    assert not w.cancel_button.isEnabled()
    # whatever the workers were doing ends without reaching the window
    shown = []
    w.comparison_shown.connect(shown.append)
    qtbot.waitUntil(lambda: w.idle, timeout=WAIT)
    QApplication.processEvents()  # a result the workers posted before going idle arrives now
    assert shown == [] and w.comparison is None


def test_cancelling_a_rerun_under_new_rules_keeps_the_rows_and_says_so(opened, qtbot, db):
    w = opened((str(db), "orig"), (str(db), "noisy"))
    wait_done(qtbot, w)
    shown = w.comparison
    assert w.add_rule("/outcome_data/request_id")
    assert w.state == "comparing" and w.cancel_button.isEnabled()
    w.cancel_button.click()
    assert w.state == "shown" and w.comparison is shown and not w.comparison.rules
    assert "cancelled" in w.error_label.text() and w.error_label.isVisible()
    qtbot.waitUntil(lambda: w.idle, timeout=WAIT)
    QApplication.processEvents()  # a result the workers posted before going idle arrives now
    assert w.comparison is shown


# --- Postgres ---------------------------------------------------------------------------------


def test_postgres_replay_against_its_original(opened, qtbot, pg_url):
    b = TraceBuilder(pg_url)
    try:
        b.trace("pg-orig", statuses=("succeeded", "succeeded"))
        b.trace("pg-replay", statuses=("succeeded", "failed"), metadata={"replay_of": "pg-orig"})
    finally:
        b.close()
    w = opened((pg_url, "pg-replay"))
    wait_done(qtbot, w)
    assert w.state == "shown", w.error_text
    assert w.sides["left"].summary.trace_id == "trace_pg-orig"
    assert w.upstream_label.text() == "Upstream verdict: NO parity at position 1: status: succeeded vs failed"
    assert "reads every unknown status as success" in w.notes_label.text() and "§" not in w.notes_label.text()
    assert w.current_row() == 1
    src = open_source(pg_url)
    try:
        assert w.comparison.parity == compare_runs(load_side(src, "pg-orig").steps,
                                                   load_side(src, "pg-replay").steps).parity
    finally:
        src.close()


def test_a_password_typed_at_the_prompt_wins_over_a_wrong_one_in_the_url(opened, qtbot, pg_url, pg_server):
    """A typed URL with a wrong password asks once; the password typed then opens it (it looped
    when the URL's password was given again with every Compare)."""
    b = TraceBuilder(pg_url)
    try:
        b.trace("pw-orig", statuses=("succeeded",))
        b.trace("pw-replay", statuses=("succeeded",), metadata={"replay_of": "pw-orig"})
        with pg_server.admin.connect() as conn:
            conn.exec_driver_sql("DO $$ BEGIN CREATE ROLE ti_password_users NOLOGIN; "
                                 "EXCEPTION WHEN duplicate_object THEN NULL; END $$")
            conn.exec_driver_sql("DROP ROLE IF EXISTS ti_compare_reader")
            conn.exec_driver_sql("CREATE ROLE ti_compare_reader LOGIN PASSWORD 'pw-right' IN ROLE ti_password_users")
        b.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO ti_compare_reader")
    finally:
        b.close()
    url = pg_url.replace("postgres@", "ti_compare_reader@")
    try:
        w = opened((url.replace("ti_compare_reader@", "ti_compare_reader:pw-wrong@"), "pw-replay"))
        w.show()
        qtbot.waitUntil(lambda: w._prompt is not None and w._prompt.isVisible(), timeout=WAIT)
        assert w.state == "error" and "refused the login" in w.error_text
        assert w.location_edits["right"].text() == url  # the URL's password is not left on screen
        w._prompt.password.setText("pw-right")
        w._prompt._accept()
        wait_done(qtbot, w)
        assert w.state == "shown", w.error_text
        assert w.comparison.parity.is_parity
        w.shutdown()
    finally:
        b = TraceBuilder(pg_url)
        try:
            b.execute("DROP OWNED BY ti_compare_reader")  # its grants here, so the role can go
        finally:
            b.close()
        with pg_server.admin.connect() as conn:
            conn.exec_driver_sql("DROP ROLE IF EXISTS ti_compare_reader")


# --- the model --------------------------------------------------------------------------------


def test_the_model_passes_the_model_tester(qtmodeltester, db):
    m = CompareTableModel()
    m.set_comparison(expected(db, "orig", "dropped"))
    qtmodeltester.check(m)
    m.set_comparison(None)
    qtmodeltester.check(m)


def _synthetic(n: int) -> Comparison:
    docs = tuple(StepDoc(i, "json_transform", "success", "SUCCESS", None, 0, {"i": i}, {"v": i}) for i in range(n))
    hashes = tuple(SideHashes(f"{i:016x}", f"{i + 1:016x}") for i in range(n))
    rows = [AlignedRow(RowKind.EQUAL, i, i) for i in range(n - 1)]
    rows.append(AlignedRow(RowKind.CHANGED, n - 1, n - 1))
    return Comparison(docs, docs, ParityResult(True, "0" * 32, "0" * 32), tuple(rows), hashes, hashes)


class CountingModel(CompareTableModel):
    calls = 0

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        CountingModel.calls += 1
        return super().data(index, role)


def test_a_100k_row_comparison_is_read_on_demand(qtbot):
    cmp = _synthetic(100_000)
    w = CompareWindow(new_session)
    qtbot.addWidget(w)
    try:
        w.model.deleteLater()
        w.model = CountingModel(w)
        for view in (w.left_view, w.right_view):
            view.setModel(w.model)
        w.right_view.setSelectionModel(w.left_view.selectionModel())
        CountingModel.calls = 0
        w.model.set_comparison(cmp, [99_999])
        assert CountingModel.calls == 0  # nothing per row when the comparison arrives
        w.show()
        qtbot.waitExposed(w)
        assert w.model.rowCount() == 100_000
        last = w.model.index(99_999, LEFT_COLUMNS[0])
        assert last.data() == "99999" and w.model.index(99_999, MARKER_COLUMN).data() == "≠"
        assert w.model.index(99_999, RIGHT_COLUMNS[4]).data() == f"{99_999:016x}"[:10]
        CountingModel.calls = 0
        w.right_view.scrollToBottom()
        w.grab()  # paints both views as they are now
        assert w.left_view.verticalScrollBar().value() == w.right_view.verticalScrollBar().value() > 99_000
        assert _visible(w.right_view, 99_999, RIGHT_COLUMNS[0])
        assert 0 < CountingModel.calls < 20_000  # a screenful of cells, not 100k rows
    finally:
        w.shutdown()


def test_verdict_texts_word_the_verdict_as_the_cli(db):
    cmp = expected(db, "orig", "failed")
    t = verdict_texts(cmp)
    text = cli_text(str(db), "orig", "failed")
    assert t["upstream"] + "\n" in text and t["headline"] == "Parity broken" and t["state"] == "broken"


# --- streaming ---------------------------------------------------------------------------------


@pytest.fixture
def held(monkeypatch):
    """Re-reading the differing pairs' steps waits until the test lets it go (an Event, never a
    clock): what the window shows meanwhile is what it paints before the stream ends."""
    import threading

    import ui.qt.windows.compare as cv

    gate = threading.Event()
    started = threading.Event()
    real = cv.collect_docs

    def collect(steps, positions, **kw):
        started.set()
        gate.wait(WAIT / 1000)
        return real(steps, positions, **kw)

    monkeypatch.setattr(cv, "collect_docs", collect)
    yield gate, started
    gate.set()


def test_the_verdict_and_rows_are_painted_before_the_differing_steps_are_read(opened, qtbot, db, held,
                                                                             qtmodeltester):
    gate, started = held
    w = opened((str(db), "long-replay"))
    shown = []
    w.comparison_shown.connect(shown.append)
    qtbot.waitUntil(lambda: w.state == "comparing" and w.verdict.isVisible() and started.is_set(), timeout=WAIT)
    want = expected(db, "long", "long-replay")
    plan = w.comparison
    assert plan.parity == want.parity and w.upstream_label.text() == "Upstream verdict: parity"
    assert "Comparing 2 differing step pair(s)" in w.headline.text() and "still being compared" in w.summary_label.text()
    assert w.model.rowCount() == 300 and w.model.index(0, LEFT_COLUMNS[0]).data() == "0"
    assert w.model.index(250, MARKER_COLUMN).data() == "≠"  # pending pairs read as changed meanwhile
    assert w.cancel_button.isEnabled() and w.loading.isVisible() and shown == []
    w.grab()  # paints while the stream is still running
    qtmodeltester.check(w.model)
    gate.set()
    wait_done(qtbot, w)
    qtmodeltester.check(w.model)
    assert w.state == "shown" and shown == [w.comparison]
    assert list(w.comparison.rows) == list(want.rows) and w.headline.text() == "Parity broken"
    assert w.comparison.notes == want.notes


def test_cancel_while_reading_the_differing_steps_keeps_the_verdict(opened, qtbot, db, held):
    gate, started = held
    w = opened((str(db), "long-replay"))
    qtbot.waitUntil(lambda: w.state == "comparing" and started.is_set(), timeout=WAIT)
    plan = w.comparison
    w.cancel_button.click()
    assert w.state == "error" and "2 differing pair(s) were not compared" in w.error_text
    assert w.comparison is plan and w.verdict.isVisible() and not w.cancel_button.isEnabled()
    shown = []
    w.comparison_shown.connect(shown.append)
    gate.set()
    qtbot.waitUntil(lambda: w.idle, timeout=WAIT)
    QApplication.processEvents()
    assert shown == [] and w.comparison is plan and w.state == "error"


def test_a_step_only_in_one_run_is_kept_for_the_detail_pane(opened, qtbot, db):
    w = opened((str(db), "orig"), (str(db), "dropped"))
    wait_done(qtbot, w)
    row = next(i for i, r in enumerate(w.comparison.rows) if r.kind is RowKind.ONLY_LEFT)
    w.select_row(row)
    assert '{"i": 1}' in w.detail.toHtml().replace("&quot;", '"')
    equal = next(i for i, r in enumerate(w.comparison.rows) if r.kind is RowKind.EQUAL and not r.absorbed)
    w.select_row(equal)
    assert "not kept" in w.detail.toHtml()
