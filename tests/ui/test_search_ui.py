"""The Find in Run dock: hits stream in from a worker, choosing one selects its step, Cancel and
another run stop the search and drop what it still finds, the whole-database mode builds and uses
the index."""

from __future__ import annotations

from datetime import datetime

import pytest

import inspector.services.search as search_service
from tests.ui.test_main_window import WAIT, open_and_wait, select_run
from ui.qt.panels.search import SearchPanel
from ui.qt.session.session import Worker

pytestmark = pytest.mark.gui

NEEDLES = list(range(5, 3000, 100))


@pytest.fixture
def db(tmp_path):
    from drivers.sqlite_writer import SQLiteTraceWriter, StepInput

    path = tmp_path / "src" / "traces.db"
    path.parent.mkdir()
    with SQLiteTraceWriter(path, clock=lambda: datetime(2026, 11, 1, 12, 0)) as w:
        for rid, n in (("run-a", 3000), ("run-b", 10)):
            w.start_trace(rid, "c", "t", "a", [{"skill": "x"}])
            w.record_steps([StepInput(rid, i, "x", {"note": "a Needle here" if i % 100 == 5 else "hay"}, "success",
                                      "SUCCESS", None, None, 0.5, 10.0) for i in range(n)])
            w.complete_trace(rid, "completed")
    return path


@pytest.fixture
def small_pages(monkeypatch):
    monkeypatch.setattr(search_service, "SCAN_PAGE", 250)


def _panel(qtbot, w, run_id) -> SearchPanel:
    select_run(qtbot, w, run_id)
    w.find_in_run()
    panel = w.run_docks.search_panel
    panel.show_run(w.current_run())  # what the dock does while shown (the test window is not)
    return panel


def _hits(panel):
    return [(h.run_id, h.step_index, h.field) for h in panel.model.records]


def test_hits_stream_in_and_choosing_one_selects_its_step(qtbot, make_window, db, small_pages, monkeypatch):
    w = make_window()
    open_and_wait(qtbot, w, db)
    panel = _panel(qtbot, w, "run-a")
    assert w.actions_by_name["find_in_run"].shortcut().toString() == "Ctrl+Shift+F"
    batches = []
    panel.model.rowsInserted.connect(lambda _p, first, last: batches.append(last - first + 1))
    panel.query.setText("needle")
    with qtbot.waitSignal(panel.finished, timeout=WAIT) as sig:
        panel.start()
    assert sig.args == [len(NEEDLES)]
    assert _hits(panel) == [("run-a", i, "params") for i in NEEDLES]
    assert len(batches) > 1 and sum(batches) == len(NEEDLES)  # streamed, a page at a time
    assert "30 hit(s)" in panel.status.text() and not panel.searching
    hit = panel.model.records[12]
    assert hit.excerpt[hit.start:hit.end] == "Needle"

    chosen = []
    original = w.run_docks._timeline_step
    monkeypatch.setattr(w.run_docks, "_timeline_step", lambda i: (chosen.append(i), original(i)))
    panel._chosen(panel.model.index(12, 3))
    assert chosen == [NEEDLES[12]]
    assert w.steps_model.step_index_at(w.steps_view.currentIndex().row()) == NEEDLES[12]  # selected in the table


def test_cancel_and_another_run_stop_the_search_and_drop_its_hits(qtbot, make_window, db, monkeypatch):
    monkeypatch.setattr(search_service, "SCAN_PAGE", 10)
    w = make_window()
    open_and_wait(qtbot, w, db)
    panel = _panel(qtbot, w, "run-a")
    panel.query.setText("needle")
    with qtbot.waitSignal(panel.finished, timeout=WAIT):
        panel.start()
        assert panel.searching and panel.cancel_button.isEnabled()
        panel.cancel()
    assert not panel.searching and not panel.cancel_button.isEnabled()
    assert "Cancelled" in panel.status.text()
    kept = panel.model.rowCount()
    qtbot.waitUntil(lambda: w.session.pending(Worker.CHECKING) == 0, timeout=WAIT)
    qtbot.wait(50)
    assert panel.model.rowCount() == kept < len(NEEDLES)  # nothing arrives after Cancel

    panel.start()
    assert panel.searching
    select_run(qtbot, w, "run-b")
    w.run_docks.show_run(w.current_run())
    assert not panel.searching and panel.model.rowCount() == 0
    qtbot.waitUntil(lambda: w.session.pending(Worker.CHECKING) == 0, timeout=WAIT)
    qtbot.wait(50)
    assert panel.model.rowCount() == 0  # the replaced search's hits were dropped
    with qtbot.waitSignal(panel.finished, timeout=WAIT):
        panel.start()
    assert _hits(panel) == [("run-b", 5, "params")]


def test_whole_database_through_the_index(qtbot, make_window, db, tmp_path):
    w = make_window()
    open_and_wait(qtbot, w, db)
    panel = _panel(qtbot, w, "run-b")
    panel._cache_dir = str(tmp_path / "cache")
    panel.whole.setChecked(True)
    qtbot.waitUntil(lambda: panel.build_button.isEnabled(), timeout=WAIT)
    assert "not built" in panel.index_label.text() and "about" in panel.index_label.text()
    assert not panel.delete_button.isEnabled()
    panel.query.setText("needle")
    panel.start()
    assert "Build the index first" in panel.status.text()
    panel.build_index()
    qtbot.waitUntil(lambda: panel.index_status is not None and panel.index_status.ready, timeout=WAIT)
    assert "3,010 steps" in panel.index_label.text() and panel.delete_button.isEnabled()
    with qtbot.waitSignal(panel.finished, timeout=WAIT) as sig:
        panel.start()
    assert sig.args == [len(NEEDLES) + 1]
    assert sorted(_hits(panel)) == sorted([("run-a", i, "params") for i in NEEDLES] + [("run-b", 5, "params")])
    panel.delete_index()
    qtbot.waitUntil(lambda: panel.index_status is not None and panel.index_status.state == "none", timeout=WAIT)
    assert not list((tmp_path / "cache").iterdir())
