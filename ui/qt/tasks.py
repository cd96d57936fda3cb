"""Background work for the GUI: immutable request on the GUI thread, work on a worker thread,
result applied on the GUI thread (STYLE §9–10).

Each :class:`TaskRunner` is one serial worker (a ``QThreadPool`` of one thread): a source gets its
own, so its reads never run concurrently and never on the GUI thread. Results come back through a
queued signal; a worker never touches a widget. ``sync=True`` runs everything inline, for tests
that check a model's logic without an event loop.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal, Slot

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
            self._runner._relay.progressed.emit(self._task.id, int(done), int(total))

    @property
    def cancelled(self) -> bool:
        return self._task.cancelled


class _Relay(QObject):
    """Lives on the GUI thread; signals emitted by workers are queued to its slots."""

    finished = Signal(int, bool, object)
    progressed = Signal(int, int, int)


class _Job(QRunnable):
    def __init__(self, relay: _Relay, task: Task, fn: Callable[..., Any], with_progress: Progress | None) -> None:
        super().__init__()
        self.setAutoDelete(True)
        self._relay = relay
        self._task = task
        self._fn = fn
        self._progress = with_progress

    def run(self) -> None:  # worker thread
        if self._task.cancelled:
            self._relay.finished.emit(self._task.id, False, None)
            return
        try:
            result = self._fn(self._progress) if self._progress is not None else self._fn()
            ok = True
        except BaseException as exc:  # noqa: BLE001 - every failure is reported, none kills the worker
            result, ok = exc, False
        if ok and self._task.cancelled:
            self._task.discard(result)  # nobody will take it: release what it holds, here
        self._relay.finished.emit(self._task.id, ok, result)


class TaskRunner(QObject):
    """One serial worker. ``busy_changed`` tells the status bar when work starts and stops."""

    busy_changed = Signal(bool, str)

    _ids = itertools.count(1)

    def __init__(self, name: str, *, sync: bool = False, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.sync = sync
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._pool.setExpiryTimeout(-1)
        self._relay = _Relay(self)
        self._relay.finished.connect(self._on_finished)
        self._relay.progressed.connect(self._on_progress)
        self._tasks: dict[int, Task] = {}
        self._dropped: dict[int, Task] = {}  # cancelled by a shutdown, perhaps still running
        self._closed = False

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
    ) -> Task:
        """Run ``fn()`` (or ``fn(progress)`` when ``on_progress`` is given) off the GUI thread.
        ``on_discard(result)`` releases a result that arrives after the task was cancelled."""
        task = Task(next(self._ids), label or getattr(fn, "__name__", "task"), on_done, on_error, on_progress,
                    on_discard)
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
        self._pool.start(_Job(self._relay, task, fn, progress))
        return task

    @Slot(int, bool, object)
    def _on_finished(self, task_id: int, ok: bool, result: object) -> None:
        task = self._tasks.pop(task_id, None)
        if task is None:
            dropped = self._dropped.pop(task_id, None)
            if dropped is not None and ok:
                dropped.discard(result)
            return
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

    @property
    def idle(self) -> bool:
        """Nothing queued or running (a retired runner can then be dropped)."""
        return self._pool.activeThreadCount() == 0

    def wait(self, msecs: int = 30000) -> bool:
        """Block until queued work is done (for shutdown and tests)."""
        return self._pool.waitForDone(msecs)

    def shutdown_async(self, last: Callable[[], Any] | None = None) -> None:
        """Drop queued work and every pending callback, run ``last`` (e.g. closing the source) on
        the worker after whatever is running now, and return at once. ``shutdown()`` later
        waits for it."""
        for task in list(self._tasks.values()):
            task.cancel()
        self._pool.clear()
        self._dropped.update(self._tasks)
        self._tasks.clear()
        if last is not None and not self.sync:
            self._pool.start(_Job(self._relay, Task(next(self._ids), "closing", None, None), last, None))
        elif last is not None:
            last()
        self._closed = True
        self.busy_changed.emit(False, "")

    def shutdown(self, msecs: int = 30000) -> None:
        """Cancel what has not started and wait for what has: no thread outlives its owner."""
        self._closed = True
        for task in list(self._tasks.values()):
            task.cancel()
        self._pool.clear()
        self._pool.waitForDone(msecs)
        self._dropped.update(self._tasks)
        self._tasks.clear()
