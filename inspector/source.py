"""The port every trace source implements, and an in-memory source for one-run files and tests."""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from inspector.errors import RunNotFound
from inspector.model import (
    Payload,
    RunFilter,
    RunRecord,
    RunSort,
    RunSummary,
    SourceInfo,
    Step,
    StepRow,
    StepStatus,
)
from inspector.step_rows import StepExtent

if TYPE_CHECKING:  # numpy (0.2 s to import) only where runs are counted over time
    from inspector.activity import RunActivity
    # Named in annotations only: a command that needs none of them does not load them.
    from inspector.bundle import Verification
    from inspector.evidence import EvidenceReader
    from inspector.logs import LogsSource

__all__ = [
    "Attested",
    "Cancellable",
    "Capability",
    "HasLogs",
    "KnowsEvidenceTables",
    "MemorySource",
    "Pingable",
    "RunActivitySource",
    "SourceTotals",
    "StepColumnsSource",
    "StepKeysSource",
    "StepSeek",
    "StreamsRuns",
    "TraceSource",
    "TracesPerRun",
    "run_matches",
    "run_sort_key",
    "step_pages",
    "summarise_steps",
]


class Capability(enum.StrEnum):
    """What a source declares in ``SourceInfo.capabilities``: facts about its data. What it can
    *do* beyond :class:`TraceSource` is answered by the protocols below (``isinstance``)."""

    RUNS = "runs"
    STEPS = "steps"
    ORPHANS = "orphan_steps"
    REFRESH = "refresh"
    #: Soft-archived runs exist and are hidden unless ``RunFilter.include_archived`` (Postgres).
    ARCHIVE = "archive"
    #: A run id may have several traces (Postgres, §11.1): see :class:`TracesPerRun`.
    TRACES_PER_RUN = "traces_per_run"


@dataclass(frozen=True, slots=True)
class SourceTotals:
    runs: int
    steps: int
    orphan_runs: int


@runtime_checkable
class TraceSource(Protocol):
    """What the inspector needs of anything that holds runs and steps.

    Every method may raise :class:`inspector.errors.SourceError` (the source's fault) or
    :class:`inspector.errors.RunNotFound`. Implementations must be safe to call from one worker
    thread at a time (the UI gives each source one serial worker) and never write to the source.
    """

    info: SourceInfo

    def count_runs(self, flt: RunFilter) -> int: ...

    def list_runs(
        self,
        flt: RunFilter,
        sort: RunSort = RunSort.STARTED_AT,
        descending: bool = True,
        offset: int = 0,
        limit: int = 100,
        *,
        with_aggregates: bool = True,
    ) -> list[RunSummary]:
        """Runs in the filter, in order; orphan run ids are not part of this list (see
        :meth:`orphan_runs`). Without aggregates the step counters are None."""
        ...

    def aggregate_runs(self, run_ids: Sequence[str]) -> dict[str, RunSummary]:
        """Step counters for these runs, keyed by run id (runs without steps get zeros)."""
        ...

    def orphan_runs(self) -> list[RunSummary]:
        """Run ids that have steps but no run row (upstream deletes leave them, §1.5)."""
        ...

    def get_run(self, run_id: str, *, with_aggregates: bool = True) -> RunRecord:
        """The run's record; for an orphan run id a record with ``summary.orphan`` and empty plan.
        Without aggregates the step counters may be None (a caller that has them already skips a
        pass over a large run's steps)."""
        ...

    def count_steps(self, run_id: str) -> int: ...

    def list_steps(self, run_id: str, after_index: int | None = None, limit: int = 500) -> list[StepRow]:
        """Steps by ``step_index`` strictly after ``after_index`` (keyset paging), without payloads."""
        ...

    def iter_steps(self, run_id: str) -> Iterator[Step]:
        """Every step of the run with payloads, by ``step_index``, streamed."""
        ...

    def get_step(self, run_id: str, step_index: int) -> Step: ...

    def replays_of(self, run_id: str) -> list[RunSummary]:
        """Runs whose ``metadata.replay_of`` names this run, oldest first."""
        ...

    def distinct_values(self, field: str) -> list[str]:
        """Values present for a filterable field: ``status``, ``tenant_id``, ``agent_id``."""
        ...

    def totals(self) -> SourceTotals: ...

    def run_ids(self, flt: RunFilter) -> list[str]:
        """The distinct run ids in the filter (what grading all runs grades)."""
        ...

    def evidence(self) -> EvidenceReader | None:
        """The source's evidence reader, or None for a source that cannot hold evidence (a trace
        file). Either way without a store (``has_store``) the UI says "no evidence store" instead
        of grading. May read the catalogue: call it on a worker."""
        ...

    def prepare(self) -> None:
        """Build what makes later interactive reads fast (e.g. the replay index); the UI calls it
        in the background after opening. Never required for correctness."""
        ...

    def refresh(self) -> None:
        """Forget anything cached so the next read sees what writers added since."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class Cancellable(Protocol):
    """A source whose running statements can be stopped (Postgres): ``cancel`` may be called from
    any thread, while a worker waits on the statement, and returns how many it asked to stop."""

    def cancel(self) -> int: ...


@runtime_checkable
class Pingable(Protocol):
    """A source that can say cheaply whether its server answers (a reconnect's probe)."""

    def ping(self) -> None: ...


@runtime_checkable
class TracesPerRun(Protocol):
    """A source where a run id may have several traces (Postgres, §11.1)."""

    def traces_of(self, run_id: str) -> list[RunSummary]:
        """Every trace of the run, newest first."""
        ...


@runtime_checkable
class HasLogs(Protocol):
    """A source that may hold the logs tables (audit ledger, LLM and system records, …)."""

    def logs(self) -> LogsSource:
        """The logs reader; it reads the catalogue, so build it on a worker."""
        ...


@runtime_checkable
class Attested(Protocol):
    """A source that was verified when opened (an export bundle): what verification found, whether
    it passed (``trusted``; a failed bundle opened on request is not), and its manifest."""

    verification: Verification
    trusted: bool
    manifest: Mapping[str, Any]


@runtime_checkable
class StepColumnsSource(Protocol):
    """A source that reads a run's step columns in one statement (the step timeline): the
    stored ``step_index``, ``timestamp``, ``duration_ms``, ``status``, ``retry_count`` and
    ``cost_cents``, as six sequences in step_index order. ``every`` > 1: only the steps whose
    step_index is a multiple of it (a quick overview of a long run: an index-only scan);
    ``after``/``limit``: the next ``limit`` steps after that step_index (a long run in chunks)."""

    def step_columns(self, run_id: str, every: int = 1, *, after: Any = None,
                     limit: int | None = None) -> tuple[Sequence[Any], ...]: ...


class StepSeek(enum.StrEnum):
    """What "next"/"previous" looks for among a run's steps."""

    #: A step whose status normalises to failure (§2.4).
    FAILURE = "failure"
    #: A step that was retried: ``retry_count`` > 0, or a status that normalises to retry.
    RETRY = "retry"

    def matches(self, row: StepRow) -> bool:
        if self is StepSeek.FAILURE:
            return row.status is StepStatus.FAILURE
        retries = row.retry_count
        return row.status is StepStatus.RETRY or (type(retries) is int and retries > 0)


@runtime_checkable
class StepKeysSource(Protocol):
    """A source that finds a run's steps by ``step_index`` without reading them (the step table
    of a million-step run): ``step_extent`` counts them and gives the smallest and largest value
    (index lookups); ``step_keys`` lists every value in order (an index-only scan);
    ``seek_step`` gives the step_index of the next (``backward``: previous) step after ``after``
    (None: from the end) that ``what`` matches, or None, in one statement."""

    def step_extent(self, run_id: str) -> StepExtent: ...

    def step_keys(self, run_id: str) -> Sequence[Any]: ...

    def seek_step(self, run_id: str, after: Any, what: StepSeek, *, backward: bool = False) -> Any: ...


@runtime_checkable
class RunActivitySource(Protocol):
    """A source that counts runs and failed runs per interval in its own query (the runs-over-time
    chart); others are counted from their runs' start times (``services.activity``)."""

    def run_activity(self, flt: RunFilter, max_intervals: int = 120) -> RunActivity: ...


@runtime_checkable
class KnowsEvidenceTables(Protocol):
    """A source that can say cheaply whether it has any evidence table (a SQLite file knows from
    reading its catalogue when opened), without loading the evidence modules ``evidence()`` needs:
    False means ``evidence()`` would find no store; True, that it has one."""

    def has_evidence_tables(self) -> bool: ...


@runtime_checkable
class StreamsRuns(Protocol):
    """A source that lists a filter's runs in one sorted, streamed scan (paging would sort the
    table once per page)."""

    def iter_runs(self, flt: RunFilter, sort: RunSort = RunSort.STARTED_AT,
                  descending: bool = True) -> Iterator[RunSummary]: ...


def step_pages(source: TraceSource, run_id: str, page: int = 5000) -> Iterator[list[StepRow]]:
    """A run's step rows a page at a time, in step_index order (keyset on step_index)."""
    after = None
    while True:
        rows = source.list_steps(run_id, after_index=after, limit=page)
        yield rows
        if len(rows) < page:
            return
        after = rows[-1].step_index


def summarise_steps(summary: RunSummary, rows: Sequence[StepRow]) -> RunSummary:
    """The run's counters computed from its steps, with normalised statuses (§11.4)."""
    return replace(
        summary,
        total_steps=len(rows),
        success_count=sum(1 for r in rows if r.status is StepStatus.SUCCESS),
        failure_count=sum(1 for r in rows if r.status is StepStatus.FAILURE),
        total_cost_cents=float(sum(r.cost_cents or 0.0 for r in rows)),
        total_duration_ms=float(sum(r.duration_ms or 0.0 for r in rows)),
    )


def run_matches(summary: RunSummary, flt: RunFilter) -> bool:
    """Whether a run passes a filter, with the same semantics as the SQL drivers (string compare of
    ``started_at`` against the bounds, as upstream's ``search_traces`` does)."""
    if flt.grade is not None:
        return False  # a source without an evidence store has no graded runs
    if flt.status is not None and summary.status != flt.status:
        return False
    if flt.tenant_id is not None and summary.tenant_id != flt.tenant_id:
        return False
    if flt.agent_id is not None and summary.agent_id != flt.agent_id:
        return False
    if flt.run_id_prefix and not summary.run_id.startswith(flt.run_id_prefix):
        return False
    if flt.keys is not None and summary.key not in flt.keys:
        return False
    started = summary.started_at
    # A run without a start time matches no bound, as NULL compares in SQL.
    if flt.since is not None and (started is None or not started >= flt.since):
        return False
    if flt.until is not None and (started is None or not started <= flt.until):
        return False
    return True


def run_sort_key(sort: RunSort):
    def key(s: RunSummary):
        value = getattr(s, sort.value, None)  # a memory source has no grades: run id order
        # None sorts first ascending (as SQLite does), then the run id keeps the order total.
        return (value is not None, value if value is not None else 0, s.run_id)

    return key


class MemorySource:
    """A trace source held in memory: one-run JSON files, and tests that need no database."""

    def __init__(self, info: SourceInfo, runs: Sequence[RunRecord], steps: dict[str, Sequence[Step]]) -> None:
        self.info = info
        self._steps = {rid: sorted(s, key=lambda st: st.row.step_index) for rid, s in steps.items()}
        self._records: dict[str, RunRecord] = {}
        for rec in runs:
            rows = [s.row for s in self._steps.get(rec.summary.run_id, ())]
            self._records[rec.summary.run_id] = replace(rec, summary=summarise_steps(rec.summary, rows))

    def _runs(self, flt: RunFilter) -> list[RunSummary]:
        return [r.summary for r in self._records.values() if run_matches(r.summary, flt)]

    def count_runs(self, flt: RunFilter) -> int:
        return len(self._runs(flt))

    def list_runs(self, flt, sort=RunSort.STARTED_AT, descending=True, offset=0, limit=100, *, with_aggregates=True):
        runs = sorted(self._runs(flt), key=run_sort_key(sort), reverse=descending)
        return runs[offset : offset + limit]

    def aggregate_runs(self, run_ids):
        out = {}
        for rid in run_ids:
            if rid in self._records:
                out[rid] = self._records[rid].summary
        return out

    def orphan_runs(self) -> list[RunSummary]:
        orphans = []
        for rid, steps in self._steps.items():
            if rid not in self._records and steps:
                base = RunSummary(rid, None, None, None, None, None, None, orphan=True)
                orphans.append(summarise_steps(base, [s.row for s in steps]))
        return sorted(orphans, key=lambda s: s.run_id)

    def get_run(self, run_id: str, *, with_aggregates: bool = True) -> RunRecord:
        if run_id in self._records:
            return self._records[run_id]
        for orphan in self.orphan_runs():
            if orphan.run_id == run_id:
                return RunRecord(orphan, Payload(None), Payload(None))
        raise RunNotFound(f"no run {run_id!r}", location=self.info.location)

    def _run_steps(self, run_id: str) -> Sequence[Step]:
        if run_id not in self._steps and run_id not in self._records:
            raise RunNotFound(f"no run {run_id!r}", location=self.info.location)
        return self._steps.get(run_id, ())

    def count_steps(self, run_id: str) -> int:
        return len(self._run_steps(run_id))

    def list_steps(self, run_id, after_index=None, limit=500):
        rows = [s.row for s in self._run_steps(run_id) if after_index is None or s.row.step_index > after_index]
        return rows[:limit]

    def iter_steps(self, run_id):
        return iter(list(self._run_steps(run_id)))

    def get_step(self, run_id, step_index):
        for s in self._run_steps(run_id):
            if s.row.step_index == step_index:
                return s
        raise RunNotFound(f"run {run_id!r} has no step {step_index}", location=self.info.location)

    def replays_of(self, run_id):
        out = [r.summary for r in self._records.values() if r.summary.replay_of == run_id]
        return sorted(out, key=lambda s: (s.started_at or "", s.run_id))

    def distinct_values(self, field):
        if field not in ("status", "tenant_id", "agent_id"):
            raise ValueError(f"not a filterable field: {field}")
        return sorted({getattr(r.summary, field) for r in self._records.values()} - {None})

    def totals(self) -> SourceTotals:
        return SourceTotals(
            runs=len(self._records),
            steps=sum(len(s) for s in self._steps.values()),
            orphan_runs=len(self.orphan_runs()),
        )

    def run_ids(self, flt: RunFilter) -> list[str]:
        return sorted(s.run_id for s in self._runs(flt))

    def evidence(self) -> None:
        return None

    def prepare(self) -> None:
        pass

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass
