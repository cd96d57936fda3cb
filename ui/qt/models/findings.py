"""Consistency findings of many runs, for the runs list's Findings column and its "With findings"
filter: each run's panels checked against each other (``services.consistency.check_run``, the
inspector's rules) on the session's checking worker, a block of runs per task so the runs the
user scrolls to jump the queue.

Two kinds of request: the runs of the pages the list shows (:meth:`request`), and every run of a
filter (:meth:`sweep`), whose end gives the run ids with findings (``swept``), with progress on the
way. Results are kept by run key until the source, its evidence reader or its logs tables change
(a refresh, a reconnect): then what was asked is checked again.

Checks wait for the session to know whether the source has an evidence store: checked before,
a run would miss its evidence and integrity signals and show fewer findings than it has.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable

from PySide6.QtCore import QObject, Signal

from inspector.model import RunFilter, RunSummary
from inspector.errors import SourceUnavailable
from inspector.services.consistency import check_run, filter_keys
from ui.qt.session.session import EvidenceState, SourceSession, Worker

__all__ = ["BLOCK", "Findings", "RunFindings"]

#: Runs checked per worker task: small enough that a page scrolled to waits one block at most.
BLOCK = 16
#: Seconds the checking worker sleeps between runs (a run takes ~2.5 ms to check).
_PAUSE_S = 0.001
#: The source stopped answering: not a run's fault. The checks wait for the reconnect that
#: ``session.report`` starts (a timeout or a Cancel, QueryCancelled, is the one run's).
_SOURCE_GONE = (SourceUnavailable,)
#: Keys of the pages shown that are checked again after a refresh (the latest).
_SHOWN_KEPT = 1000


class Findings:
    """One run's check: the run id, the violated rules' ids (in rule order), or why it failed."""

    __slots__ = ("error", "rule_ids", "run_id")

    def __init__(self, run_id: str, rule_ids: tuple[str, ...] = (), error: str | None = None) -> None:
        self.run_id = run_id
        self.rule_ids = rule_ids
        self.error = error

    @property
    def count(self) -> int:
        return len(self.rule_ids)


class RunFindings(QObject):
    """``changed(keys)`` after each block; ``sweep_progress(done, total)`` while a filter is swept;
    ``swept(filter, keys)`` with the keys of the filter's runs that have findings."""

    changed = Signal(list)
    sweep_progress = Signal(int, int)
    swept = Signal(object, object)
    sweep_failed = Signal(str)

    def __init__(self, session: SourceSession, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._checks = session.scope("findings")
        self._found: dict[str, Findings] = {}
        #: Keys waiting in a queue or in the block being checked.
        self._queued: set[str] = set()
        self._front: deque[str] = deque()  # pages shown: first (a key may also wait in _back)
        self._back: deque[str] = deque()  # a sweep's runs
        self._in_flight: list[str] = []  # the block being checked
        #: The source stopped answering: wait for a reconnect (or a refresh) to go on.
        self._paused = False
        self._sweep: RunFilter | None = None
        #: The sweep's run keys (None until listed) and those not checked yet.
        self._sweep_keys: list[str] | None = None
        self._sweep_left: set[str] = set()
        #: Keys the list asked for, latest last (checked again when what checks read changes).
        self._shown: dict[str, None] = {}
        session.closed.connect(self.reset)
        session.refreshed.connect(self._again)
        session.reconnected.connect(self._again)
        session.evidence_changed.connect(lambda _previous: self._again())
        session.logs_changed.connect(self._again)

    # -- what the list asks ---------------------------------------------------------------------

    def of(self, key: str) -> Findings | None:
        return self._found.get(key)

    def waiting(self, key: str) -> bool:
        return key in self._queued

    @property
    def pending(self) -> bool:
        return bool(self._in_flight or self._front or self._back) or self._sweep is not None

    @property
    def sweeping(self) -> RunFilter | None:
        return self._sweep

    def request(self, runs: Iterable[RunSummary]) -> None:
        """Check these runs (a page shown) before anything a sweep queued (a key the sweep holds
        too is checked once, from whichever queue reaches it first)."""
        keys = [r.key for r in runs]
        for key in keys:
            self._shown.pop(key, None)
            self._shown[key] = None
        while len(self._shown) > _SHOWN_KEPT:
            del self._shown[next(iter(self._shown))]
        front = set(self._front)
        fresh = [k for k in keys if k not in self._found and k not in front and k not in self._in_flight]
        if not fresh:
            return
        self._queued.update(fresh)
        self._front.extend(fresh)
        self._pump()

    def sweep(self, flt: RunFilter) -> None:
        """Check every run of ``flt`` (its keys are listed on the worker first); ``swept`` gives
        those with findings. A sweep of another filter replaces this one."""
        source = self._session.source
        if source is None:
            return
        self.cancel_sweep()
        self._sweep = flt
        self._sweep_keys = None
        self.sweep_progress.emit(0, 0)

        def listed(keys: list[str]) -> None:
            if self._sweep is not flt:
                return
            self._sweep_keys = keys
            self._sweep_left = {k for k in keys if k not in self._found}
            todo = [k for k in keys if k not in self._found and k not in self._queued]
            self._queued.update(todo)
            self._back.extend(todo)
            self._sweep_tick()
            self._pump()

        def failed(exc: BaseException) -> None:
            if self._sweep is flt:
                self._sweep = None
                self.sweep_failed.emit(str(exc))
            self._session.report(exc, "list the runs to check")

        self._checks.submit(lambda: filter_keys(source, flt), listed, failed, worker=Worker.CHECKING,
                            label="Listing the runs to check")

    def cancel_sweep(self) -> None:
        """Stop checking the sweep's runs (those the list shows stay queued)."""
        self._back.clear()
        self._queued = set(self._front) | set(self._in_flight)
        self._sweep = None
        self._sweep_keys = None
        self._sweep_left = set()

    def reset(self) -> None:
        """Forget everything (another source: the runs model says so before its first page, or
        none)."""
        self._checks.renew()
        self._found.clear()
        self._queued.clear()
        self._front.clear()
        self._back.clear()
        self._in_flight = []
        self._paused = False
        self._sweep = None
        self._sweep_keys = None
        self._sweep_left = set()
        self._shown = {}
        self.changed.emit([])

    def _again(self) -> None:
        """What the checks read changed (or the source is back): check again what the list
        showed last, and the sweep under way."""
        asked = list(reversed(self._shown))  # the latest first
        sweep = self._sweep
        self.reset()
        if self._session.source is None:
            return
        self._shown = dict.fromkeys(reversed(asked))
        self._queued.update(asked)
        self._front.extend(asked)
        if sweep is not None:
            self.sweep(sweep)
        self._pump()

    # -- the worker ------------------------------------------------------------------------------

    def _pump(self) -> None:
        source = self._session.source
        if self._in_flight or self._paused or source is None \
                or self._session.evidence_state is EvidenceState.UNKNOWN:
            return
        block: list[str] = []
        for queue in (self._front, self._back):
            while queue and len(block) < BLOCK:
                key = queue.popleft()
                if key not in self._found and key not in block:
                    block.append(key)
        if not block:
            return
        self._in_flight = block
        evidence, logs = self._session.evidence, self._session.logs

        def work() -> dict[str, Findings]:
            out: dict[str, Findings] = {}
            for key in block:
                # A moment off the interpreter between runs: the GUI thread's paint calls into
                # Python cell by cell and would otherwise queue behind this thread for each.
                time.sleep(_PAUSE_S)
                try:
                    rc = check_run(source, key, evidence=evidence, logs=logs)
                except _SOURCE_GONE:
                    raise  # not this run's fault: the whole block waits for the source
                except Exception as exc:  # noqa: BLE001 - one run's bad data must not stop the others
                    out[key] = Findings(key, error=str(exc) or type(exc).__name__)
                else:
                    out[key] = Findings(rc.run_id, tuple(v.rule_id for v in rc.result.violations))
            return out

        def done(found: dict[str, Findings]) -> None:
            self._in_flight = []
            self._found.update(found)
            self._queued.difference_update(found)
            self._sweep_left.difference_update(found)
            self.changed.emit(list(found))
            self._sweep_tick()
            self._pump()

        def failed(exc: BaseException) -> None:
            self._in_flight = []
            self._session.report(exc, "check the runs' panels")
            if isinstance(exc, _SOURCE_GONE) and self._session.reconnect.active:
                # Back at the front, and wait: the reconnect (or a refresh) goes on (``_again``).
                self._front.extendleft(reversed(block))
                self._paused = True
                return
            # Said once, and on each run's cell: a sweep still ends (without these runs).
            done({key: Findings(key, error=str(exc) or type(exc).__name__) for key in block})

        if self._checks.submit(work, done, failed, worker=Worker.CHECKING, label="Checking runs' panels") is None:
            self._in_flight = []

    def _sweep_tick(self) -> None:
        flt, keys = self._sweep, self._sweep_keys
        if flt is None or keys is None:
            return
        self.sweep_progress.emit(len(keys) - len(self._sweep_left), len(keys))
        if not self._sweep_left:
            # Runs that could not be checked are not known to have findings: left out.
            with_findings = frozenset(k for k in keys if (f := self._found[k]).count and f.error is None)
            self._sweep = None
            self._sweep_keys = None
            self.swept.emit(flt, with_findings)
