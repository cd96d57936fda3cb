"""Background work for the GUI: immutable request on the GUI thread, work on a worker thread,
result applied on the GUI thread (STYLE §9–10).

Each :class:`TaskRunner` is one serial worker: one Python thread reading a queue, so the reads of
one purpose never run concurrently and never on the GUI thread. Results come back through a
queued Qt signal; a worker never touches a widget. ``sync=True`` runs everything inline, for tests
that check a model's logic without an event loop.

A worker never holds the last reference to anything the GUI thread made or will use: the work
(often a closure over a window) and its result are handed back to the GUI thread, which lets them
go; a Python object that owns a Qt object must die on the GUI thread (see ``collector``). The
worker is a plain ``threading.Thread`` reading a queue: unlike a ``QRunnable``, which the pool
deletes on the worker after ``run()``, nothing of it is released anywhere else.
"""

from __future__ import annotations

import collections
import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

__all__ = ["Progress", "Task", "TaskRunner"]

log = logging.getLogger(__name__)


@dataclass
class Task:
    """A handle on submitted work. ``cancel()`` drops its callbacks (the work itself may still
    finish); long work can poll ``cancelled`` through the :class:`Progress` it is given."""

    id: int
    label: str
    on_done: Callable[[Any], None] | None
    on_error: Callable[[BaseException], None] | None
    on_progress: Callable[[int, int], None] | None = None
    #: Called with the result of work that finished after it was cancelled (e.g. to close a
    #: source opened for a window that has gone): results that own resources are never dropped.
    on_discard: Callable[[Any], None] | None = None
    _cancelled: threading.Event = field(default_factory=threading.Event)
    done: bool = False
    discarded: bool = False
    #: The work itself, held here (on the GUI thread) until its result has been delivered.
    fn: Callable[..., Any] | None = field(default=None, repr=False)

    def discard(self, result: Any) -> None:
        if self.on_discard is not None and not self.discarded:
            self.discarded = True
            try:
                self.on_discard(result)
            except Exception:
                log.exception("discarding the result of %s failed", self.label)

    def cancel(self) -> None:
        self._cancelled.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()


class Progress:
    """Given to work that reports progress: ``progress(done, total)``; raises nothing."""

    def __init__(self, runner: TaskRunner, task: Task) -> None:
        self._runner = runner
        self._task = task

    def __call__(self, done: int, total: int) -> None:
        if self._runner.sync:
            if self._task.on_progress and not self._task.cancelled:
                self._task.on_progress(done, total)
        else:
            self._runner._emit_progress(self._task.id, int(done), int(total))

    @property
    def cancelled(self) -> bool:
        return self._task.cancelled


class _Relay(QObject):
    """Lives on the GUI thread; signals emitted by the worker are queued to its slots."""

    finished = Signal(int)
    progressed = Signal(int, int, int)


@dataclass(eq=False)
class _Job:
    task: Task
    fn: Callable[..., Any]
    progress: Progress | None
    #: A finaliser (``shutdown_async(last=…)``): runs even after a shutdown dropped the queue.
    final: bool = False


class TaskRunner(QObject):
    """One serial worker. ``busy_changed`` tells the status bar when work starts and stops."""

    busy_changed = Signal(bool, str)

    _ids = itertools.count(1)

    def __init__(self, name: str, *, sync: bool = False, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.sync = sync
        self._relay = _Relay(self)
        self._relay.finished.connect(self._on_finished)
        self._relay.progressed.connect(self._on_progress)
        self._tasks: dict[int, Task] = {}
        self._dropped: dict[int, Task] = {}  # cancelled by a shutdown, perhaps still running
        self._closed = False
        # Worker side: the queue, whether a job runs, and the thread (started on first use).
        self._cond = threading.Condition()
        self._queue: collections.deque[_Job | None] = collections.deque()
        self._running = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        #: Outcomes the worker left for the GUI thread: task id -> (ok, result).
        self._outcomes: dict[int, tuple[bool, Any]] = {}

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def submit(
        self,
        fn: Callable[..., Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
        *,
        label: str = "",
        on_progress: Callable[[int, int], None] | None = None,
        on_discard: Callable[[Any], None] | None = None,
        first: bool = False,
    ) -> Task:
        """Run ``fn()`` (or ``fn(progress)`` when ``on_progress`` is given) off the GUI thread.
        ``on_discard(result)`` releases a result that arrives after the task was cancelled.
        ``first``: ahead of the tasks waiting (a short read of what is on screen, which must not
        wait behind a long one queued before it)."""
        task = Task(next(self._ids), label or getattr(fn, "__name__", "task"), on_done, on_error, on_progress,
                    on_discard, fn=fn)
        progress = Progress(self, task) if on_progress is not None else None
        if self._closed:
            task.cancel()
            return task
        if self.sync:
            try:
                result = fn(progress) if progress is not None else fn()
            except BaseException as exc:  # noqa: BLE001
                self._deliver(task, False, exc)
            else:
                self._deliver(task, True, result)
            return task
        self._tasks[task.id] = task
        if len(self._tasks) == 1:
            self.busy_changed.emit(True, task.label)
        self._enqueue(_Job(task, fn, progress), first=first)
        return task

    # -- the worker thread ---------------------------------------------------------------------

    def _enqueue(self, job: _Job | None, *, before_stop: bool = False, first: bool = False) -> None:
        """Queue ``job`` (None: the stop sentinel). ``before_stop`` puts it ahead of a sentinel
        already queued: a finaliser given after a shutdown still runs, on a thread started again
        if the last one has stopped."""
        with self._cond:
            stop = next((i for i, j in enumerate(self._queue) if j is None), None) if before_stop else None
            if first and job is not None and not self._closed:
                self._queue.appendleft(job)
            elif stop is None:
                self._queue.append(job)
            else:
                self._queue.insert(stop, job)
            if job is not None and (self._thread is None or self._stopping):
                if self._closed and None not in self._queue:
                    self._queue.append(None)  # a thread started for a finaliser stops after it
                self._stopping = False
                self._thread = threading.Thread(target=self._work, name=f"worker:{self.name}", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _work(self) -> None:  # worker thread
        while True:
            with self._cond:
                while not self._queue:
                    self._cond.wait()
                job = self._queue.popleft()
                if job is None:
                    self._stopping = True  # under the lock: a job queued from now on gets a new thread
                    self._cond.notify_all()
                    return
                self._running = True
            task_id = job.task.id
            try:
                outcome = self._run(job)
                del job  # its work and its task now live on the GUI side only
                with self._cond:
                    self._outcomes[task_id] = outcome
                del outcome
                try:
                    self._relay.finished.emit(task_id)
                except RuntimeError:
                    pass  # the runner was deleted on the GUI thread: nobody is waiting for this result
            finally:
                # Idle only once the result is posted: a caller of wait() then finds it queued.
                with self._cond:
                    self._running = False
                    self._cond.notify_all()

    @staticmethod
    def _run(job: _Job) -> tuple[bool, Any]:  # worker thread
        task = job.task
        if task.cancelled and not job.final:
            return False, None
        try:
            result = job.fn(job.progress) if job.progress is not None else job.fn()
        except BaseException as exc:  # noqa: BLE001 - every failure is reported, none kills the worker
            if job.final:
                log.error("%s failed", task.label, exc_info=exc)
            return False, exc
        if task.cancelled:
            task.discard(result)  # nobody will take it (the window may be gone): release what it holds here
        return True, result

    def _emit_progress(self, task_id: int, done: int, total: int) -> None:  # worker thread
        try:
            self._relay.progressed.emit(task_id, done, total)
        except RuntimeError:
            pass

    # -- results, on the GUI thread ------------------------------------------------------------

    @Slot(int)
    def _on_finished(self, task_id: int) -> None:
        with self._cond:
            ok, result = self._outcomes.pop(task_id, (False, None))
        task = self._tasks.pop(task_id, None)
        if task is None:
            dropped = self._dropped.pop(task_id, None)
            if dropped is not None:
                dropped.fn = None
                if ok:
                    dropped.discard(result)
            return
        task.fn = None
        self._deliver(task, ok, result)
        if not self._tasks:
            self.busy_changed.emit(False, "")

    @Slot(int, int, int)
    def _on_progress(self, task_id: int, done: int, total: int) -> None:
        task = self._tasks.get(task_id)
        if task is not None and task.on_progress is not None and not task.cancelled:
            task.on_progress(done, total)

    def _deliver(self, task: Task, ok: bool, result: Any) -> None:
        task.done = True
        task.fn = None
        if task.cancelled:
            if ok:
                task.discard(result)
            return
        if ok:
            if task.on_done is not None:
                task.on_done(result)
        elif task.on_error is not None:
            task.on_error(result)  # type: ignore[arg-type]
        elif result is not None:
            log.error("task %s failed", task.label, exc_info=result)  # type: ignore[arg-type]

    # -- lifetime ------------------------------------------------------------------------------

    @property
    def idle(self) -> bool:
        """Nothing queued or running, and every result posted."""
        with self._cond:
            return not self._running and not any(j is not None for j in self._queue)

    @property
    def stopped(self) -> bool:
        """Shut down and its thread gone: nothing of the runner runs any more (it can be deleted)."""
        with self._cond:
            thread = self._thread
            return self._closed and not any(j is not None for j in self._queue) and (
                thread is None or not thread.is_alive())

    def wait(self, msecs: int = 30000) -> bool:
        """Block until queued work is done (for shutdown and tests); ``msecs < 0`` waits for ever."""
        timeout = None if msecs < 0 else msecs / 1000
        with self._cond:
            return self._cond.wait_for(
                lambda: not self._running and not any(j is not None for j in self._queue), timeout)

    def _drop_queued(self) -> None:
        """Cancel every task and take the queued jobs that have not started (finalisers stay)."""
        for task in list(self._tasks.values()):
            task.cancel()
        with self._cond:
            kept = [j for j in self._queue if j is None or j.final]
            self._queue.clear()
            self._queue.extend(kept)
        self._dropped.update(self._tasks)
        self._tasks.clear()

    def shutdown_async(self, last: Callable[[], Any] | None = None) -> None:
        """Drop queued work and every pending callback, run ``last`` (e.g. closing the source) on
        the worker after whatever is running now, and return at once. ``shutdown()`` later
        waits for it (a finaliser is never dropped)."""
        was_closed = self._closed
        self._drop_queued()
        self._closed = True
        if last is not None and not self.sync:
            final = Task(next(self._ids), "closing", None, None, fn=last)
            self._dropped[final.id] = final  # its work is let go on the GUI thread, as every task's
            self._enqueue(_Job(final, last, None, final=True), before_stop=True)
        elif last is not None:
            last()
        if not was_closed and self._thread is not None:
            self._enqueue(None)  # the thread ends once the queue before it is done
        self.busy_changed.emit(False, "")

    def shutdown(self, msecs: int = 30000) -> None:
        """Cancel what has not started and wait for what has (and for finalisers): no thread
        outlives its owner."""
        was_closed = self._closed
        self._closed = True
        self._drop_queued()
        thread = self._thread
        if thread is None:
            return
        if not was_closed:
            self._enqueue(None)
        thread.join(None if msecs < 0 else msecs / 1000)
