"""The source session (ui.qt.session) on real SQLite files and real worker threads: stale results
never reach their callbacks, a closed source is closed on a worker once its workers are idle, what
the GUI thread made dies on the GUI thread, and cycles are collected there too."""

from __future__ import annotations

import gc
import os
import threading
from pathlib import Path

import pytest

from drivers import open_source
from drivers.sqlite_reader import SQLiteTraceReader
from tests.ui.dbs import ORIGINAL_RUN
from ui.qt.session.session import EvidenceState, Scope, Worker
from ui.qt.session.tasks import TaskRunner

pytestmark = pytest.mark.gui
WAIT = 15000


class ClosingReader(SQLiteTraceReader):
    """The real reader, noting the thread that closes it."""

    closed_on: int | None = None

    def close(self) -> None:
        self.closed_on = threading.get_ident()
        super().close()


def test_a_result_whose_stream_was_renewed_is_dropped_even_after_it_started(qtbot, make_session, small_db):
    source = open_source(small_db)
    session = make_session(source, sync=False)
    try:
        scope = session.scope("test")
        started, release = threading.Event(), threading.Event()
        delivered, discarded = [], []

        def slow() -> str:
            started.set()
            release.wait(WAIT / 1000)
            return "old"

        scope.submit(slow, delivered.append, on_discard=discarded.append, worker=Worker.BACKGROUND)
        queued = scope.submit(lambda: "never runs", delivered.append, worker=Worker.BACKGROUND)
        assert started.wait(WAIT / 1000) and scope.pending
        scope.renew()  # a newer request: the running one finishes for nothing, the queued one never runs
        assert queued.cancelled and not scope.pending
        scope.submit(lambda: "new", delivered.append, worker=Worker.BACKGROUND)
        release.set()
        qtbot.waitUntil(lambda: delivered == ["new"], timeout=WAIT)
        qtbot.waitUntil(lambda: discarded == ["old"], timeout=WAIT)
        assert delivered == ["new"]
    finally:
        release.set()
        source.close()


def test_closing_the_source_drops_its_results_and_closes_it_on_a_worker_once_idle(qtbot, make_session, small_db):
    source = ClosingReader(small_db)
    session = make_session(source, sync=False, owned=True)
    started, release = threading.Event(), threading.Event()
    delivered, closed = [], []
    session.closed.connect(lambda: closed.append(session.source))

    def read() -> str:
        started.set()
        release.wait(WAIT / 1000)
        return source.get_run(ORIGINAL_RUN).summary.run_id

    session.submit(read, delivered.append, worker=Worker.BACKGROUND)
    assert started.wait(WAIT / 1000)
    session.close()
    assert closed == [None] and session.source is None and session.runner(Worker.INTERACTIVE) is None
    assert session.submit(lambda: 1, delivered.append) is None  # nothing to read any more
    assert source.closed_on is None  # a read is still running on it
    release.set()
    qtbot.waitUntil(lambda: source.closed_on is not None, timeout=WAIT)
    assert source.closed_on != threading.get_ident()  # never on the GUI thread
    qtbot.waitUntil(lambda: session.idle, timeout=WAIT)
    assert delivered == []  # the read finished after its source was closed: dropped


def test_a_source_the_caller_keeps_is_not_closed(make_session, small_db):
    source = ClosingReader(small_db)
    session = make_session(source, owned=False)
    session.close()
    assert source.closed_on is None
    assert source.get_run(ORIGINAL_RUN).summary.run_id == ORIGINAL_RUN
    source.close()


def test_workers_by_purpose_and_the_evidence_found(make_session, small_db, tmp_path):
    from tests.ui.evidence_dbs import build_evidence_db

    states = []
    plain = open_source(small_db)
    graded = open_source(build_evidence_db(tmp_path / "graded" / "traces.db"))
    try:
        session = make_session(plain)
        session.evidence_changed.connect(lambda previous: states.append((previous, session.evidence_state)))
        # A traces.db holds no logs tables: no logs worker; one worker per other purpose.
        assert {w for w in Worker if session.runner(w) is not None} == set(Worker) - {Worker.LOGS}
        session.discover()
        assert session.evidence is None and session.logs is None
        session.adopt(graded, owned=False)
        session.discover()
        assert session.evidence is not None and session.evidence.has_store
        assert states == [("unknown", EvidenceState.NONE), ("unknown", EvidenceState.STORE)]
    finally:
        plain.close()
        graded.close()


def test_a_scope_without_a_session_guards_work_on_any_worker(qtbot):
    runner = TaskRunner("compute")
    try:
        scope = Scope(None, "compute")
        got = []
        scope.run_on(runner, lambda: "first", got.append)
        scope.renew()
        scope.run_on(runner, lambda: "second", got.append)
        qtbot.waitUntil(lambda: runner.pending == 0, timeout=WAIT)
        assert got == ["second"]
    finally:
        runner.shutdown()


class Witness:
    """Notes the thread it dies on."""

    def __init__(self, died: list[int]) -> None:
        self._died = died

    def __del__(self) -> None:
        self._died.append(threading.get_ident())


def test_the_work_and_its_result_die_on_the_gui_thread(qtbot):
    """A worker never holds the last reference to what the GUI thread made: a closure over a
    widget would otherwise be destroyed on the worker (undefined behaviour in Qt)."""
    runner = TaskRunner("witness")
    died: list[int] = []
    got: list[bool] = []
    try:
        def work_holding_a_witness():
            held = Witness(died)
            return lambda: (held, Witness(died))[1]

        runner.submit(work_holding_a_witness(), lambda result: got.append(isinstance(result, Witness)))
        qtbot.waitUntil(lambda: got == [True] and len(died) == 2, timeout=WAIT)
        assert died == [threading.get_ident()] * 2
    finally:
        runner.shutdown()


def test_cycles_are_collected_on_the_gui_thread(qtbot, qapp):
    from ui.qt.app import collector

    assert not gc.isenabled()  # the application collects, from its GUI thread
    died: list[int] = []
    made = threading.Event()

    def make_garbage() -> None:
        for _ in range(1000):  # cycles only the collector frees: far over the first threshold
            a, b = [Witness(died)], []
            a.append(b)
            b.append(a)
        made.set()

    thread = threading.Thread(target=make_garbage)
    thread.start()
    thread.join(WAIT / 1000)
    assert made.is_set() and died == []  # the worker allocated plenty and collected nothing
    qtbot.waitUntil(lambda: len(died) == 1000, timeout=WAIT)  # the app's timer collected them
    assert set(died) == {threading.get_ident()}
    assert collector(qapp).collections > 0


def test_readers_given_with_a_source_reach_what_shows_it(make_session, tmp_path):
    """An evidence reader built already (tests, benchmarks) is announced after the source: the
    list, which starts each source afresh, keeps it and grades with it."""
    from tests.ui.evidence_dbs import GRADES, build_evidence_db
    from ui.qt.models.runs import RunsModel, column_of

    source = open_source(build_evidence_db(tmp_path / "traces.db"))
    try:
        session = make_session()
        model = RunsModel(session)
        session.adopt(source, evidence=source.evidence(), owned=False)
        assert model.evidence_state == "store" and session.evidence_state is EvidenceState.STORE
        col = column_of("grade")
        assert {model.data(model.index(model.row_of(r), col)) for r in GRADES} == {"PASS", "WARN", "FAIL"}
    finally:
        source.close()


def test_a_runner_is_idle_only_once_its_result_is_posted():
    """wait() returning means the callback is queued: one turn of the event loop delivers it. (A
    runner that counted as idle before posting was deleted while its thread still ran.) In a
    process of its own, switching threads as often as the interpreter can: under pytest's own
    overhead the window is too narrow to hit."""
    import subprocess
    import sys
    import textwrap

    script = textwrap.dedent("""
        import os, sys
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        from PySide6.QtWidgets import QApplication
        app = QApplication([])
        from ui.qt.session.tasks import TaskRunner
        sys.setswitchinterval(1e-6)
        runner = TaskRunner("posting")
        misses = 0
        for i in range(3000):
            got = []
            runner.submit(lambda i=i: i, got.append)
            assert runner.wait(15000)
            app.processEvents()
            misses += got != [i]
        runner.shutdown()
        print(misses, runner.stopped)
    """)
    root = str(Path(__file__).resolve().parents[2])
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=root,
                          env={**os.environ, "PYTHONPATH": root})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["0", "True"]


def test_a_finaliser_given_after_a_shutdown_still_runs(qtbot):
    runner = TaskRunner("finaliser")
    ran: list[int] = []
    runner.submit(lambda: None)
    runner.shutdown()
    runner.shutdown_async(lambda: ran.append(threading.get_ident()))
    runner.shutdown_async(lambda: ran.append(threading.get_ident()))  # twice: both run, in order
    runner.shutdown()
    assert len(ran) == 2 and threading.get_ident() not in ran and runner.stopped



def test_a_task_given_first_runs_before_those_waiting(qtbot):
    """A page of the step table on screen goes ahead of reads queued before it (a step's
    payloads), never ahead of the one already running."""
    runner = TaskRunner("order")
    try:
        started, release = threading.Event(), threading.Event()
        ran: list[str] = []

        def running() -> None:
            started.set()
            release.wait(WAIT / 1000)
            ran.append("running")

        runner.submit(running)
        assert started.wait(WAIT / 1000)
        for name in ("payloads", "more payloads"):
            runner.submit(lambda name=name: ran.append(name))
        runner.submit(lambda: ran.append("page"), first=True)
        release.set()
        qtbot.waitUntil(lambda: runner.pending == 0, timeout=WAIT)
        assert ran == ["running", "page", "payloads", "more payloads"]
    finally:
        release.set()
        runner.shutdown()


def test_full_collections_wait_until_the_old_generation_grew_by_a_quarter(qapp):
    """The interpreter's rule, kept by the GUI-thread collector: a full collection (tens of ms over
    the app's objects) only once a quarter more objects reached the old generation."""
    from ui.qt.session.collector import GuiThreadCollector

    col = GuiThreadCollector(interval_ms=60_000)
    try:
        col.threshold = (1, 1, 1)  # every generation's count threshold crossed at every other check
        kept = []

        def ticks(n: int) -> None:
            for _ in range(n):
                kept.append([[] for _ in range(3)])  # objects that live on: tracked, counted
                col.check()

        ticks(10)
        full = col.full_collections
        ticks(10)
        assert col.full_collections == full  # middle collections only: the old generation barely grew
        kept.append([[] for _ in range(len(gc.get_objects(2)))])  # as many again as it holds
        ticks(10)
        assert col.full_collections > full
    finally:
        col.stop()
        col.deleteLater()
        gc.disable()  # the application's own collector still runs


def test_freezing_the_startup_objects_once(qapp):
    from ui.qt.session.collector import GuiThreadCollector

    col = GuiThreadCollector(interval_ms=60_000)
    try:
        before = gc.get_freeze_count()
        col.freeze_startup()
        frozen = gc.get_freeze_count()
        assert col.frozen and frozen > before  # out of every later full collection's walk
        col.freeze_startup()
        assert gc.get_freeze_count() == frozen  # once
    finally:
        col.stop()
        col.deleteLater()
        gc.disable()
    assert gc.get_freeze_count() == 0  # stop() gives them back
