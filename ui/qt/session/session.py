"""One open source in the Qt app, and everything that reads it.

A :class:`SourceSession` opens a location (on its own worker: the window stays responsive and the
source shown stays until the new one is ready), owns the source's serial workers (one per purpose:
a click never queues behind a count), finds its evidence and logs readers, refreshes it,
reconnects to a server that went away, cancels slow statements, and closes it once its workers
are idle. Panels and windows are given the session and read through :meth:`SourceSession.submit`.

Stale results cannot be delivered: every submission carries the session's generation (bumped when
the source closes or is replaced) and, through a :class:`Scope`, the generation of the request
stream it belongs to (the list's pages for one filter, the selected run's evidence, …); a result
whose generation has passed is dropped (and released through ``on_discard``), whichever worker
ran it.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from inspector.errors import (
    InspectorError,
    PasswordRequired,
    QueryCancelled,
    SourceUnavailable,
)
from inspector.evidence import EvidenceReader
from inspector.locations import split_pg_password
from inspector.logs import LogsSource
from inspector.model import RunFilter
from inspector.source import Cancellable, HasLogs, Pingable, TraceSource
from ui.qt.messages import MessageBus
from ui.qt.session.reconnect import ReconnectController
from ui.qt.session.settings import Passwords
from ui.qt.session.tasks import Task, TaskRunner

__all__ = ["EvidenceState", "Scope", "SourceSession", "WAITED_ON", "Worker"]

log = logging.getLogger(__name__)

_OpenSource = Callable[..., TraceSource]


class Worker(enum.StrEnum):
    """The session's serial workers, by purpose."""

    #: What the user waits on: a page of runs, a run, a step, a run's steps.
    INTERACTIVE = "source"
    #: Counters, orphan run ids, totals, filter values, the replay index, other windows' reads.
    BACKGROUND = "background"
    #: The evidence reader, the grades of the pages shown, the selected run's evidence.
    EVIDENCE = "evidence"
    #: Grading a whole filter (the status bar's distribution): long, and never in anyone's way.
    GRADING = "grading"
    #: The logs tables around the selected run, the audit ledger.
    LOGS = "logs"
    #: Checking many runs' panels against each other (the runs list's Findings): never in the way.
    CHECKING = "checking"


#: Workers whose reads the user waits on: the status bar offers Cancel when one runs long.
WAITED_ON = frozenset({Worker.INTERACTIVE, Worker.LOGS, Worker.EVIDENCE})


class EvidenceState(enum.StrEnum):
    UNKNOWN = "unknown"  # not looked for yet
    NONE = "none"  # no evidence store (a plain traces.db, a trace file): never graded FAIL
    STORE = "store"
    ERROR = "error"  # looking for the tables failed: ``evidence_error`` says why


class Scope:
    """A stream of requests of which only the latest matters (the pages of the list for one filter,
    the selected run's evidence): :meth:`renew` drops every result of the stream still on its
    way, and cancels the requests that have not started. A scope without a session guards work
    that reads no source (comparing two runs already read)."""

    def __init__(self, session: SourceSession | None, name: str) -> None:
        self._session = session
        self.name = name
        self.generation = 0
        self._tasks: list[Task] = []

    def renew(self) -> None:
        self.generation += 1
        for task in self._tasks:
            task.cancel()
        self._tasks.clear()

    @property
    def pending(self) -> bool:
        """A request of the current generation has not delivered yet."""
        return any(not t.done and not t.cancelled for t in self._tasks)

    def _track(self, task: Task) -> None:
        self._tasks = [t for t in self._tasks if not t.done]
        self._tasks.append(task)

    def submit(self, fn: Callable[..., Any], on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[BaseException], None] | None = None, *, worker: Worker = Worker.INTERACTIVE,
               label: str = "", on_progress: Callable[[int, int], None] | None = None,
               on_discard: Callable[[Any], None] | None = None, first: bool = False) -> Task | None:
        """:meth:`SourceSession.submit` within this stream."""
        if self._session is None:
            raise RuntimeError(f"scope {self.name!r} has no session to read")
        return self._session.submit(fn, on_done, on_error, worker=worker, label=label, scope=self,
                                    on_progress=on_progress, on_discard=on_discard, first=first)

    def run_on(self, runner: TaskRunner, fn: Callable[..., Any], on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[BaseException], None] | None = None, *, label: str = "",
               on_progress: Callable[[int, int], None] | None = None) -> Task:
        """Work of this stream on a worker that is not the source's (the Redis worker): its result
        is dropped once the stream is renewed or the session's source has changed."""
        session = self._session

        def report(exc: BaseException) -> None:
            if session is not None:
                session.report(exc, label or "work")
            else:
                log.error("%s failed", label or "work", exc_info=exc)

        return _guarded_submit(runner, session, self, fn, on_done, on_error, label=label,
                               on_progress=on_progress, on_discard=None, report=report)


def _guarded_submit(runner: TaskRunner, session: SourceSession | None, scope: Scope | None, fn: Callable[..., Any],
                    on_done: Callable[[Any], None] | None, on_error: Callable[[BaseException], None] | None, *,
                    label: str, on_progress: Callable[[int, int], None] | None,
                    on_discard: Callable[[Any], None] | None, report: Callable[[BaseException], None],
                    first: bool = False) -> Task:
    """Submit ``fn`` to ``runner`` with its callbacks guarded by the generations of ``session``
    and ``scope`` at this moment: the one place that decides whether a result is still wanted."""
    generation = session._generation if session is not None else 0
    scope_generation = scope.generation if scope is not None else 0

    def current() -> bool:
        return ((session is None or generation == session._generation)
                and (scope is None or scope.generation == scope_generation))

    def done(result: Any) -> None:
        if current():
            if on_done is not None:
                on_done(result)
        elif on_discard is not None:
            on_discard(result)

    def failed(exc: BaseException) -> None:
        if not current():
            return  # about a source or a request no longer shown
        if on_error is not None:
            on_error(exc)
        else:
            report(exc)

    def moved(done_: int, total: int) -> None:
        if current() and on_progress is not None:
            on_progress(done_, total)

    task = runner.submit(fn, done, failed, label=label, on_progress=moved if on_progress is not None else None,
                         on_discard=on_discard, first=first)
    if scope is not None and not task.done:
        scope._track(task)
    return task


class SourceSession(QObject):
    """One open source: its workers, its readers and its life (open, refresh, reconnect, cancel,
    close). ``bus`` (optional) is where it tells the user what happened; without one it only
    emits its signals (a Compare window shows its own errors)."""

    #: A source is open and shown: ``(source, what open(prepare=…) read beside it)``.
    opened = Signal(object, object)
    #: The source went (closed, or replaced: ``opened`` follows). ``source`` is None from now on.
    closed = Signal()
    #: Opening failed (the bus has been told): ``(location, exception)``.
    open_failed = Signal(str, object)
    #: The server wants a password: ``(location without password, reason)``; ``open`` it again.
    password_needed = Signal(str, str)
    #: The evidence reader is known (or changed): ``evidence_state`` before this answer.
    evidence_changed = Signal(str)
    #: The logs reader is known (or gone).
    logs_changed = Signal()
    #: A refresh starts (``refreshing``; what is shown should remember where it was) and is done.
    refreshing = Signal()
    refreshed = Signal()
    #: A worker started or stopped: ``(worker, busy, label)``.
    busy_changed = Signal(str, bool, str)
    #: A read failed: ``(what was being done, exception)`` (after the bus was told).
    error_reported = Signal(str, object)
    #: The server went away: what to say while retrying; then it answered again.
    reconnect_status = Signal(str)
    reconnected = Signal()

    def __init__(self, open_source: _OpenSource | None = None, *, bus: MessageBus | None = None,
                 passwords: Passwords | None = None, sync: bool = False, name: str = "session",
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._open_source = open_source
        self.bus = bus
        self.passwords = passwords if passwords is not None else Passwords()
        self.sync = sync
        self.name = name
        self._generation = 0
        self._source: TraceSource | None = None
        self._owned = True
        self._location: str | None = None
        self._runners: dict[Worker, TaskRunner] = {}
        self._retired: list[TaskRunner] = []
        self._opener = TaskRunner(f"open:{name}", sync=sync, parent=self)
        self._opener.busy_changed.connect(lambda busy, label: self.busy_changed.emit("open", busy, label))
        #: Opens asked for and not delivered yet, with their locations (:meth:`cancel_open`).
        self._opens: list[tuple[Task, str]] = []
        self._evidence: EvidenceReader | None = None
        self._evidence_state = EvidenceState.UNKNOWN
        self._evidence_error: str | None = None
        self._evidence_given = False
        self._logs: LogsSource | None = None
        self._logs_given = False
        self.reconnect = ReconnectController(self)
        self.reconnect.probe.connect(self._probe)
        self.reconnect.status_changed.connect(self.reconnect_status)
        self.reconnect.reconnected.connect(self._on_reconnected)

    # -- state -----------------------------------------------------------------------------------

    @property
    def source(self) -> TraceSource | None:
        return self._source

    @property
    def location(self) -> str | None:
        """The location the source was opened from, as shown (never a password)."""
        return self._location

    @property
    def evidence(self) -> EvidenceReader | None:
        """The evidence reader when the source has an evidence store, else None."""
        return self._evidence

    @property
    def evidence_state(self) -> EvidenceState:
        return self._evidence_state

    @property
    def evidence_error(self) -> str | None:
        """Why looking for the evidence tables failed."""
        return self._evidence_error

    @property
    def logs(self) -> LogsSource | None:
        """The logs reader, once built (sources that hold the logs tables: Postgres)."""
        return self._logs

    @property
    def can_cancel(self) -> bool:
        return isinstance(self._source, Cancellable)

    def runner(self, worker: Worker) -> TaskRunner | None:
        """The worker for ``worker`` reads of the source open now (None without one)."""
        return self._runners.get(worker)

    def pending(self, *workers: Worker) -> int:
        """Tasks queued or running on these workers (all of them without arguments)."""
        return sum(r.pending for w, r in self._runners.items() if not workers or w in workers)

    @property
    def opening(self) -> bool:
        """A source is being opened (and the open was not cancelled)."""
        return any(not task.done and not task.cancelled for task, _ in self._opens)

    def cancel_open(self) -> list[str]:
        """Stop waiting for the sources being opened (a slow server): each one's result, when it
        comes, is closed unused and its failure is not reported. The locations given up."""
        given_up = [location for task, location in self._opens if not task.done and not task.cancelled]
        for task, _ in self._opens:
            task.cancel()
        self._opens = []
        if given_up:
            self.busy_changed.emit("open", False, "")  # the attempt may go on; nobody waits for it
            self._info(f"Stopped opening {', '.join(given_up)}")
        return given_up

    @property
    def idle(self) -> bool:
        """No worker of the session is running or has work queued (closed sources' included)."""
        return self._opener.idle and all(r.idle for r in (*self._runners.values(), *self._retired))

    def sibling(self, name: str = "session") -> SourceSession:
        """A new session that opens sources the same way and shares the passwords typed this
        session (without a bus: its owner shows its own errors)."""
        return SourceSession(self._open_source, passwords=self.passwords, sync=self.sync, name=name)

    def scope(self, name: str) -> Scope:
        return Scope(self, name)

    # -- reading -----------------------------------------------------------------------------------

    def submit(self, fn: Callable[..., Any], on_done: Callable[[Any], None] | None = None,
               on_error: Callable[[BaseException], None] | None = None, *, worker: Worker = Worker.INTERACTIVE,
               label: str = "", scope: Scope | None = None, on_progress: Callable[[int, int], None] | None = None,
               on_discard: Callable[[Any], None] | None = None, first: bool = False) -> Task | None:
        """Run ``fn()`` (``fn(progress)`` with ``on_progress``) on the ``worker`` of the source open
        now; its result reaches ``on_done`` only while the source and ``scope`` are still those it
        was asked for (else ``on_discard`` gets it). None when no source is open. ``first``: ahead
        of the worker's queue (see :meth:`TaskRunner.submit`)."""
        runner = self._runners.get(worker)
        if runner is None:
            return None
        doing = label[:1].lower() + label[1:] if label else "read the source"
        return _guarded_submit(runner, self, scope, fn, on_done, on_error, label=label, on_progress=on_progress,
                               on_discard=on_discard, report=lambda exc: self.report(exc, doing), first=first)

    def report(self, exc: BaseException, doing: str) -> None:
        """A read failed: a lost server starts reconnecting (what is shown stays); a cancelled
        read is a warning; anything else goes to the bus in the user's words."""
        source = self._source
        if isinstance(exc, SourceUnavailable) and source is not None and exc.location == source.info.location:
            if not self.reconnect.active:
                self.reconnect.start(source.info.location, exc.detail)
        elif self.bus is not None:
            if isinstance(exc, QueryCancelled):
                self.bus.warning(f"Stopped: {exc.detail}")
            else:
                self.bus.exception(exc, doing)
        self.error_reported.emit(doing, exc)

    def _info(self, text: str) -> None:
        if self.bus is not None:
            self.bus.info(text)

    # -- opening -----------------------------------------------------------------------------------

    def open(self, location: str, password: str | None = None, *,
             prepare: Callable[[TraceSource], Any] | None = None, untrusted: bool = False) -> None:
        """Open ``location`` in the background; the source open now stays until the new one is
        ready. ``prepare(source)`` runs right after opening on the same worker, and what it returns
        comes with ``opened`` (one round trip instead of two before the first paint). A Postgres
        URL's password (given, inside the URL, or typed before this session) is kept in memory
        only; the location is shown, logged and remembered without it. ``untrusted`` opens an
        export bundle that fails verification anyway (the user asked; it is marked so)."""
        if self._open_source is None:
            raise RuntimeError("this session was not given a way to open sources")
        location, inline = split_pg_password(location)
        password = password or inline or self.passwords.get(location)
        if password:
            self.passwords.remember(location, password)
        self._info(f"Opening {location}…")
        open_source = self._open_source

        def open_and_prepare() -> tuple[TraceSource, Any]:
            kwargs: dict[str, Any] = {}
            if password:
                kwargs["password"] = password
            if untrusted:
                kwargs["allow_untrusted"] = True
            source = open_source(location, **kwargs)
            try:
                return source, prepare(source) if prepare is not None else None
            except BaseException:
                source.close()
                raise

        def failed(exc: BaseException) -> None:
            if isinstance(exc, PasswordRequired):
                self.passwords.forget(location)
                self.password_needed.emit(location, exc.detail)
                return
            if self.bus is not None:
                self.bus.exception(exc, f"open {location}")
            self.open_failed.emit(location, exc)

        task = self._opener.submit(
            open_and_prepare,
            lambda result: self._install(result[0], location, result[1]),
            failed,
            label=f"Connecting to {location}" if "://" in location else f"Opening {location.rsplit('/', 1)[-1]}",
            on_discard=lambda result: result[0].close(),  # cancelled, or the session went away
        )
        self._opens = [(t, loc) for t, loc in self._opens if not t.done] + [(task, location)]

    def adopt(self, source: TraceSource, *, location: str | None = None, prepared: Any = None,
              evidence: EvidenceReader | None = None, logs: LogsSource | None = None, owned: bool = True) -> None:
        """Show a source opened elsewhere; the session closes it with its own unless ``owned`` is
        False (the caller keeps it). ``evidence`` and ``logs`` are readers built already; without
        them :meth:`discover` looks for them."""
        self._install(source, location or source.info.location, prepared, evidence=evidence, logs=logs, owned=owned)

    def _install(self, source: TraceSource, location: str, prepared: Any, *,
                 evidence: EvidenceReader | None = None, logs: LogsSource | None = None, owned: bool = True) -> None:
        self.close()
        self._source = source
        self._owned = owned
        self._location = location
        for worker in Worker:
            if worker is Worker.LOGS and logs is None and not isinstance(source, HasLogs):
                continue  # a source without the logs tables has nothing to read there
            runner = TaskRunner(f"{worker.value}:{source.info.display_name}", sync=self.sync, parent=self)
            if worker is not Worker.GRADING:  # grading shows its own progress
                runner.busy_changed.connect(
                    lambda busy, label, w=worker, r=runner: self._runners.get(w) is r
                    and self.busy_changed.emit(w.value, busy, label))
            self._runners[worker] = runner
        self._evidence_given = evidence is not None
        self._logs_given = logs is not None
        self._logs = logs
        self.opened.emit(source, prepared)
        if evidence is not None:
            self._set_evidence(evidence)  # after ``opened``: what is shown starts from the new source
        for note in source.info.notes:
            if self.bus is not None:
                self.bus.warning(f"{source.info.display_name}: {note}")
        self._info(f"Opened {location}")

    def discover(self) -> None:
        """Look for what makes the source more than traces, in the background: the replay index,
        the evidence reader, the logs reader (call it once the first page has painted)."""
        if self._source is None:
            return
        self._index_replays()
        if not self._evidence_given:
            self._discover_evidence()
        if not self._logs_given:
            self._discover_logs()

    def _index_replays(self) -> None:
        """The replay index, so the first click on a run does not wait for it."""
        source = self._source
        if source is not None:
            self.submit(source.prepare, None, lambda e: self.report(e, "index replays"), worker=Worker.BACKGROUND,
                        label="Indexing replays")

    def _set_evidence(self, reader: EvidenceReader | None) -> None:
        previous = self._evidence_state
        has_store = reader is not None and bool(reader.has_store)
        self._evidence = reader if has_store else None
        self._evidence_state = EvidenceState.STORE if has_store else EvidenceState.NONE
        self._evidence_error = None
        self.evidence_changed.emit(previous.value)

    def _discover_evidence(self) -> None:
        source = self._source
        if source is None:
            return

        def failed(exc: BaseException) -> None:
            previous = self._evidence_state
            self._evidence = None
            self._evidence_state = EvidenceState.ERROR
            self._evidence_error = str(exc) if isinstance(exc, InspectorError) else \
                f"internal error ({type(exc).__name__})"
            self.evidence_changed.emit(previous.value)
            self.report(exc, "look for the evidence tables")

        self.submit(source.evidence, self._set_evidence, failed, worker=Worker.EVIDENCE,
                    label="Looking for evidence tables")

    def _discover_logs(self) -> None:
        source = self._source
        self._logs = None
        if not isinstance(source, HasLogs):
            self.logs_changed.emit()
            return

        def ready(logs: LogsSource) -> None:
            self._logs = logs
            self.logs_changed.emit()
            for note in logs.missing_notes:
                self._info(f"{source.info.display_name}: {note}")

        self.submit(source.logs, ready, lambda e: self.report(e, "read the logs tables"), worker=Worker.LOGS,
                    label="Reading the logs tables")

    # -- refreshing, reconnecting, cancelling -------------------------------------------------------

    def refresh(self) -> None:
        """Forget what the source cached and read again: ``refreshing`` now, ``refreshed`` when the
        source has forgotten (everything shown reads again then); the evidence reader is found
        again (even its tables may have been written since)."""
        source = self._source
        if source is None:
            return
        self.refreshing.emit()

        def done(_result: object) -> None:
            self.refreshed.emit()
            self._index_replays()
            if not self._evidence_given:
                self._discover_evidence()
            self._info("Refreshed")

        self.submit(source.refresh, done, lambda e: self.report(e, "refresh"), label="Refreshing")

    def _probe(self) -> None:
        source = self._source
        if source is None:
            self.reconnect.stop()
            return

        def failed(exc: BaseException) -> None:
            if isinstance(exc, PasswordRequired):
                # The server is back but wants a (new) password: retrying will not help.
                self.reconnect.stop()
                if self.bus is not None:
                    self.bus.exception(exc, "reconnect")
                return
            self.reconnect.failed(exc.detail if isinstance(exc, InspectorError) else str(exc))

        ping = source.ping if isinstance(source, Pingable) else (lambda: source.count_runs(RunFilter()))
        self.submit(ping, lambda _n: self.reconnect.succeeded(), failed, label="Reconnecting")

    def _on_reconnected(self) -> None:
        self._info(f"Reconnected to {self.reconnect.target}")
        if self._logs is None and not self._logs_given and isinstance(self._source, HasLogs):
            self._discover_logs()  # it failed while the server was away
        self.reconnected.emit()
        self.refresh()

    def cancel(self) -> None:
        """Ask the server to stop the source's running statements. The request itself is a network
        round trip, so it is sent from a short-lived thread, never the GUI thread."""
        source = self._source
        if not isinstance(source, Cancellable):
            return
        threading.Thread(target=source.cancel, name="cancel-query", daemon=True).start()
        self._info("Cancelling the running query…")

    # -- closing ------------------------------------------------------------------------------------

    def close(self) -> None:
        """Close the source: results on their way are dropped, running statements are asked to stop,
        and the source is closed on a worker once every worker of it is idle (the GUI thread never
        waits for a read)."""
        self.reconnect.stop()
        old, runners, owned = self._source, self._runners, self._owned
        self._generation += 1
        self._source = None
        self._location = None
        self._runners = {}
        self._evidence = None
        self._evidence_state = EvidenceState.UNKNOWN
        self._evidence_error = None
        self._evidence_given = False
        self._logs = None
        self._logs_given = False
        if old is None:
            return
        for worker in runners:
            self.busy_changed.emit(worker.value, False, "")  # a closed source's workers wait on nothing
        self.closed.emit()
        if isinstance(old, Cancellable):
            # Stop a slow statement now rather than wait for it (sent from a short-lived thread).
            threading.Thread(target=old.cancel, name="cancel-on-close", daemon=True).start()
        interactive = runners.pop(Worker.INTERACTIVE)
        others = list(runners.values())
        for runner in others:
            runner.shutdown_async(None)
            self._retired.append(runner)

        def close_when_idle() -> None:  # on the interactive worker, after what it is doing
            for runner in others:
                runner.wait(-1)
            if owned:
                old.close()

        interactive.shutdown_async(close_when_idle)
        self._retired.append(interactive)
        # Workers of sources closed earlier whose threads have ended need no keeping.
        for runner in [r for r in self._retired if r.stopped]:
            self._retired.remove(runner)
            runner.deleteLater()

    @property
    def retired(self) -> list[TaskRunner]:
        """Workers of closed sources still finishing (they close their source when idle)."""
        return list(self._retired)

    def shutdown(self) -> None:
        """Close the source and stop every worker, waiting for them: no thread outlives the session."""
        self.close()
        self._opener.shutdown()
        for runner in self._retired:
            runner.shutdown()
        self._retired.clear()
