"""Export runs as a signed bundle (the format of ``inspector/bundle.py``): the use case the CLI's
``export`` and the window's File → Export… both call.

It runs as a job with spec §9's semantics: progress with a percentage and an ETA, retries with
upstream's strategies when the source drops its connection (the run being read is read again;
runs already written are kept), and the job's audit events, hash-chained, written into the bundle
as its custody log. The same request made twice returns the bundle already written (the request
hash is the idempotency key, through the idempotency store given). Cancel at any time: the target
is left as it was (the writer works on a temporary file and renames it at the end).

Byte-reproducible: the same runs, options and key give the same bytes. Nothing here reads the
wall clock into the bundle: the export time is an option, by default the newest time found in the
exported runs (their last change), and the custody log carries that time.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from inspector.aos_bundles import envelope, evidence_bundle, executive_bundle, json_datetime, soc2_bundle
from inspector.bundle import CUSTODY, FORMAT_NAME, FORMAT_VERSION, MANIFEST, SIGNATURE, SigningKey, canonical_bytes, compact_bytes
from inspector.bundle_codec import evidence_to_doc, jsonable, logs_to_doc, run_to_doc, step_to_doc
from inspector.errors import InspectorError, RunNotFound, SourceUnavailable, UsageError
from inspector.evidence import EvidenceReader
from inspector.hashing import hash_request
from inspector.idempotency import IdempotencyStore
from inspector.integrity import EvidenceClass
from inspector.jobs import (
    JobAuditEventType,
    JobAuditLog,
    JobProgress,
    RetryConfig,
    RetryStrategy,
    retry_delay,
    should_retry,
)
from inspector.logs import RunLogs
from inspector.model import Payload, RunFilter, RunRecord, RunSummary, Step, StepRow, parse_timestamp
from inspector.redact import EXPORT_RULES, redact_export
from inspector.services.consistency import INSPECTOR_RULES, check_run
from inspector.services.grading import grade_run
from inspector.source import HasLogs, TraceSource

__all__ = [
    "BUNDLE_KINDS",
    "EXPORT_RETRY",
    "KEEP_KEYS",
    "BundleSink",
    "BundleTarget",
    "EntryWriter",
    "ExportCancelled",
    "ExportOptions",
    "ExportResult",
    "ReportInput",
    "RunSelection",
    "export_bundle",
    "request_hash",
]

BUNDLE_KINDS = ("evidence", "soc2", "executive")
#: Retries of an interactive export: Fibonacci from 0.5 s, at most 5 tries, 30 s cap.
EXPORT_RETRY = RetryConfig(max_retries=5, strategy=RetryStrategy.FIBONACCI, base_delay=0.5, max_delay=30.0,
                           jitter_factor=0.2)
_CHECK_EVERY = 1000
_TENANT = "trace-inspector"


class ExportCancelled(InspectorError):
    """The user cancelled; nothing was written."""


@dataclass(frozen=True, slots=True)
class RunSelection:
    """What to export: these run keys (run ids, or Postgres trace ids), or the runs of a filter."""

    run_ids: tuple[str, ...] = ()
    flt: RunFilter | None = None

    def describe(self) -> dict[str, Any]:
        return {"run_ids": list(self.run_ids), "filter": jsonable(self.flt) if self.flt is not None else None}


@dataclass(frozen=True, slots=True)
class ExportOptions:
    kind: str = "evidence"
    reason: str | None = None
    redact: bool = True
    exported_by: str = "unknown"
    #: ISO instant recorded as the export time; None: the newest time found in the exported runs.
    exported_at: str | None = None
    producer: str = "aos-trace-inspector"
    producer_version: str = "0"
    include_report: bool = True

    def check(self) -> None:
        if self.kind not in BUNDLE_KINDS:
            raise UsageError(f"unknown bundle kind {self.kind!r} (use {', '.join(BUNDLE_KINDS)})")
        if self.exported_at is not None and parse_timestamp(self.exported_at) is None:
            raise UsageError(f"export time is not a date and time: {self.exported_at!r}")


class EntryWriter(Protocol):
    def write(self, data: bytes) -> None: ...


class BundleSink(Protocol):
    """Where a bundle is being written (``drivers/bundle.py``): entries are staged and only become
    part of the bundle when committed; ``finish`` makes the bundle appear at its final path in one
    rename, ``abort`` leaves nothing behind."""

    def begin(self, name: str) -> EntryWriter: ...

    def commit(self, writer: EntryWriter) -> None: ...

    def drop(self, writer: EntryWriter) -> None: ...

    def finish(self) -> None: ...

    def abort(self) -> None: ...


class BundleTarget(Protocol):
    location: str

    def existing_request_hash(self) -> str | None:
        """The request hash recorded in a bundle already at the target, if it holds one."""
        ...

    def open(self) -> BundleSink: ...


@dataclass(frozen=True, slots=True)
class ReportInput:
    """What the PDF report shows (``drivers/report.py`` renders it)."""

    manifest: dict[str, Any]
    runs: tuple[dict[str, Any], ...]


@dataclass(frozen=True, slots=True)
class ExportResult:
    location: str
    request_hash: str
    reused: bool
    manifest: dict[str, Any] = field(default_factory=dict)
    retries: int = 0

    @property
    def files(self) -> int:
        return len(self.manifest.get("files", ()))


def request_hash(source: TraceSource, selection: RunSelection, options: ExportOptions, key: SigningKey,
                 state: str = "") -> str:
    """The export request's identity (upstream's ``hash_request``: compact JSON, SHA-256): what
    was asked, of which source, with which options and key, and how the selected runs stood
    (``state``: their ids, statuses, times and step counts)."""
    return hash_request({"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "source": source.info.location,
                         "selection": selection.describe(), "kind": options.kind, "reason": options.reason,
                         "redact": options.redact, "exported_by": options.exported_by,
                         "exported_at": options.exported_at, "signer": key.public.fingerprint,
                         "report": options.include_report, "state": state})


class _Hashing:
    """An entry being written, with its size and SHA-256."""

    def __init__(self, name: str, writer: EntryWriter) -> None:
        self.name = name
        self.writer = writer
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.sha.update(data)
        self.size += len(data)
        self.writer.write(data)


@dataclass(frozen=True, slots=True)
class _Plan:
    keys: list[str]
    missing: list[str]
    steps: int
    state: str


@dataclass
class _RunOut:
    record: RunRecord
    dir: str
    steps_written: int = 0
    steps_expected: int = 0
    grade: dict[str, Any] | None = None
    evidence_counts: dict[str, list[int]] = field(default_factory=dict)
    audit_events: int = 0
    llm_records: int = 0
    timeline: list[dict[str, Any]] = field(default_factory=list)
    aos_hash: str | None = None
    newest: str | None = None
    findings: int = 0


class _Job:
    def __init__(self, source: TraceSource, selection: RunSelection, target: BundleTarget, key: SigningKey,
                 options: ExportOptions, req_hash: str, *, retry: RetryConfig, sleep: Callable[[float], None],
                 clock: Callable[[], float], random: Callable[[], float],
                 progress: Callable[[JobProgress], None] | None, cancelled: Callable[[], bool] | None,
                 on_retry: Callable[[int, float, str], None] | None,
                 render_report: Callable[[ReportInput], bytes] | None) -> None:
        self.source = source
        self.selection = selection
        self.target = target
        self.sink: BundleSink | None = None
        self.key = key
        self.options = options
        self.req_hash = req_hash
        self.retry = retry
        self.sleep = sleep
        self.clock = clock
        self.random = random
        self.progress_cb = progress
        self.cancelled = cancelled or (lambda: False)
        self.on_retry = on_retry
        self.render_report = render_report
        self.files: list[dict[str, Any]] = []
        self.read_digest = hashlib.sha256()
        self.retries = 0
        self.custody = JobAuditLog("export", _TENANT, id_prefix="")
        self.retry_notes: list[tuple[int, float, str]] = []
        self.progress = JobProgress("export")
        self._last_report = -1.0

    def set_request(self, req_hash: str) -> None:
        """The request is known once the runs are planned: the job and its custody log take its id."""
        self.req_hash = req_hash
        self.custody = JobAuditLog(f"export-{req_hash[:16]}", _TENANT, id_prefix=req_hash[:12])

    # -- entries ----------------------------------------------------------------------------

    @contextmanager
    def entry(self, name: str, pending: list[tuple[_Hashing, str]] | None = None) -> Iterator[_Hashing]:
        w = _Hashing(name, self.sink.begin(name))
        try:
            yield w
        except BaseException:
            self.sink.drop(w.writer)
            raise
        if pending is not None:
            pending.append((w, name))
        else:
            self._commit(w)

    def _commit(self, w: _Hashing) -> None:
        self.sink.commit(w.writer)
        self.files.append({"name": w.name, "size": w.size, "sha256": w.sha.hexdigest()})

    def put(self, name: str, data: bytes, pending: list | None = None) -> None:
        with self.entry(name, pending) as w:
            w.write(data)

    def check_cancel(self) -> None:
        if self.cancelled():
            raise ExportCancelled("export cancelled", location=self.source.info.location)

    def report(self, done: int, total: int, message: str, *, force: bool = False) -> None:
        now = self.clock()
        if self.progress.started_at is None:
            self.progress = self.progress.start(now, total)
        self.progress = self.progress.update(now, current_step=done, total_steps=total, message=message)
        if self.progress_cb is not None and (force or now - self._last_report >= 0.1):
            self._last_report = now
            self.progress_cb(self.progress)

    # -- runs -------------------------------------------------------------------------------

    def plan(self) -> _Plan:
        """The runs to export (one summary per run, in order), the ids not found, and how the
        selected runs stand now (their state digest: part of the request's identity, so that an
        export asked again after the runs changed is a new export)."""
        summaries: dict[str, RunSummary] = {}
        missing: list[str] = []
        if self.selection.run_ids:
            for rid in dict.fromkeys(self.selection.run_ids):
                try:
                    s = self.source.get_run(rid).summary
                except RunNotFound:
                    missing.append(rid)
                    continue
                summaries.setdefault(s.key, s)
        else:
            flt = self.selection.flt or RunFilter()
            offset = 0
            while True:
                page = self.source.list_runs(flt, offset=offset, limit=500)
                for s in page:
                    summaries.setdefault(s.key, s)
                offset += len(page)
                if len(page) < 500:
                    break
                self.check_cancel()
        state = hashlib.sha256()
        for s in summaries.values():
            state.update(canonical_bytes([s.key, s.run_id, s.status, s.started_at, s.completed_at, s.total_steps,
                                          s.failure_count, jsonable(s.total_cost_cents)]) + b"\n")
        return _Plan(list(summaries), missing, sum(s.total_steps or 0 for s in summaries.values()),
                     state.hexdigest())

    def export_run(self, n: int, key: str, done_before: int, total: int) -> _RunOut:
        pending: list[tuple[_Hashing, str]] = []
        try:
            out = self._export_run(n, key, done_before, total, pending)
        except BaseException:
            for w, _ in pending:
                self.sink.drop(w.writer)
            raise
        for w, _ in pending:
            self._commit(w)
        return out

    def _redact_payload(self, p: Payload) -> Payload:
        if not self.options.redact or p.raw is None:
            return p
        if p.error is not None:
            return Payload("<REDACTED_UNPARSED>", "<REDACTED_UNPARSED>", None)
        return Payload.from_value(redact_export(p.value)) if p.value is not None else p

    def _export_run(self, n: int, key: str, done_before: int, total: int, pending: list) -> _RunOut:
        record = self.source.get_run(key)
        d = f"runs/{n:04d}"
        out = _RunOut(record, d, steps_expected=record.summary.total_steps or 0)
        rows: list[StepRow] = []
        newest = [record.summary.completed_at, record.summary.started_at, record.created_at]
        digest = hashlib.sha256()
        redact = self.options.redact
        with self.entry(f"{d}/steps.jsonl", pending) as w:
            buf: list[bytes] = []
            for i, step in enumerate(self.source.iter_steps(key)):
                _digest_step(digest, step)
                doc = step_to_doc(step)
                if redact:
                    _redact_doc(doc, ("params", "outcome_data"))
                    if "extra" in doc:
                        doc["extra"] = redact_export(doc["extra"], keep=KEEP_KEYS)
                buf.append(compact_bytes(doc) + b"\n")
                rows.append(step.row)
                if len(buf) >= 256:
                    w.write(b"".join(buf))
                    buf.clear()
                if i % _CHECK_EVERY == _CHECK_EVERY - 1:
                    self.check_cancel()
                    self.report(done_before + i + 1, total, f"run {record.summary.run_id}: {i + 1} steps")
            w.write(b"".join(buf))
        out.steps_written = len(rows)
        newest.append(rows[-1].timestamp if rows else None)
        out.timeline = [{"step_index": r.step_index, "skill_name": r.skill_name, "status": r.status.value,
                         "cost_cents": r.cost_cents, "duration_ms": r.duration_ms, "timestamp": r.timestamp}
                        for r in rows[:200]]
        source_record = record
        run_doc = run_to_doc(record)
        digest.update(canonical_bytes(run_doc))
        if redact:
            record = replace(record, plan=self._redact_payload(record.plan),
                             metadata=self._redact_payload(record.metadata),
                             extra={k: self._redact_payload(v) if isinstance(v, Payload)
                                    else redact_export(v, keep=KEEP_KEYS) for k, v in (record.extra or {}).items()})
            run_doc = run_to_doc(record)
        self.put(f"{d}/run.json", canonical_bytes(run_doc), pending)
        reader = self.source.evidence()
        run_evidence = None
        if isinstance(reader, EvidenceReader) and reader.has_store:
            graded = grade_run(reader, record.summary.run_id)
            ev = run_evidence = graded.evidence
            ev_doc = evidence_to_doc(ev)
            digest.update(canonical_bytes(ev_doc))
            out.grade = graded.report()
            if redact:
                ev_doc = _redact_evidence(ev_doc)
                out.grade = redact_export(out.grade, keep=KEEP_KEYS)
            self.put(f"{d}/evidence.json", canonical_bytes(ev_doc), pending)
            self.put(f"{d}/integrity.json", canonical_bytes(out.grade), pending)
            for cls in sorted(set(ev.rows) - {EvidenceClass.TRACE, EvidenceClass.TRACE_STEPS}, key=lambda c: c.value):
                found = int(ev.facts.counts.get(cls, len(ev.rows.get(cls, ()))))
                written = len(ev.rows.get(cls, ()))
                out.evidence_counts[cls.value] = [found, written]
        if isinstance(self.source, HasLogs):
            logs: RunLogs = self.source.logs().run_logs(record.summary.run_id, record.summary.trace_id)
            logs_doc = logs_to_doc(logs)
            digest.update(canonical_bytes(logs_doc))
            if redact:
                logs_doc = _redact_logs(logs_doc)
            self.put(f"{d}/logs.json", canonical_bytes(logs_doc), pending)
            out.audit_events = len(logs.audit)
            out.llm_records = len(logs.llm_records)
        # The panels checked against each other (issue 13's rules), from what was just read.
        checked = check_run(self.source, key, logs=self.source.logs() if isinstance(self.source, HasLogs) else None,
                            record=source_record, rows=rows, run_evidence=run_evidence)
        findings = checked.result.as_json()
        if redact:
            findings = redact_export(findings, keep=KEEP_KEYS)
        self.put(f"{d}/consistency.json", canonical_bytes(findings), pending)
        out.findings = len(checked.result.violations)
        self.read_digest.update(digest.digest())
        out.newest = max((t for t in newest if isinstance(t, str) and parse_timestamp(t)),
                         key=lambda t: parse_timestamp(t), default=None)
        out.record = record
        out.rows = rows  # type: ignore[attr-defined]
        return out

    def write_aos(self, out: _RunOut, created: datetime, pending: list | None = None) -> None:
        d = out.dir
        rows = out.rows  # type: ignore[attr-defined]
        bid = hashlib.sha256(f"{self.req_hash}|{out.record.summary.key}".encode()).hexdigest()[:12]
        base = evidence_bundle(out.record, rows, bundle_id=f"EVD-{bid}", created_at=created,
                               exported_by=self.options.exported_by, export_reason=self.options.reason)
        out.aos_hash = base["content_hash"]
        request_id = f"req-{bid}"
        if self.options.kind == "evidence":
            doc, name = base, "evidence_bundle.json"
        elif self.options.kind == "soc2":
            doc, name = soc2_bundle(base, created_at=created), "soc2_bundle.json"
        else:
            doc, name = executive_bundle(base, bundle_id=f"EXEC-{bid}", created_at=created,
                                         prepared_by=self.options.exported_by), "executive_debrief_bundle.json"
        self.put(f"{d}/aos/{name}", canonical_bytes(envelope(doc, timestamp=created, request_id=request_id)), pending)
        del out.rows  # type: ignore[attr-defined]


#: Identifiers a bundle links its records by: kept as they are when the rest is redacted.
KEEP_KEYS = frozenset({"run_id", "trace_id", "id", "key", "step_index", "tenant_id", "agent_id", "correlation_id",
                       "entity_id", "entity_type", "event_type", "policy_id", "loop_trace_id", "evidence_type",
                       "failure_reason", "code", "severity", "table"})


def _redact_evidence(doc: dict[str, Any]) -> dict[str, Any]:
    """Evidence rows are ``[column, value]`` pairs: their values are redacted, identifiers kept;
    capture failures' messages and the stored verdict's reasons too."""
    out = dict(doc)
    out["rows"] = {cls: [{**r, "fields": [[k, v if k in KEEP_KEYS else redact_export(v, keep=KEEP_KEYS)]
                                          for k, v in r.get("fields", [])]} for r in rows]
                   for cls, rows in doc.get("rows", {}).items()}
    facts = dict(doc.get("facts") or {})
    facts["failures"] = [redact_export(f, keep=KEEP_KEYS) for f in facts.get("failures", [])]
    out["facts"] = facts
    if doc.get("stored") is not None:
        out["stored"] = redact_export(doc["stored"], keep=KEEP_KEYS)
    return out


def _redact_logs(doc: dict[str, Any]) -> dict[str, Any]:
    """Every value of the logs document (states, details, reasons, actors, notes), identifiers
    kept."""
    return redact_export(doc, keep=KEEP_KEYS)


def _digest_step(digest: Any, step: Step) -> None:
    """What was read of a step, into the source digest: its row and its payloads' stored text."""
    digest.update(repr(step.row).encode("utf-8", "surrogatepass"))
    for p in (step.params, step.outcome_data):
        digest.update(b"\0" + (p.raw.encode("utf-8", "surrogatepass") if p.raw is not None else b"\1"))


def _redact_doc(doc: dict[str, Any], names: Sequence[str]) -> None:
    """Redact payloads already in a document: parsed ones by the export rules, unparsed ones whole
    (their text cannot be scanned by key)."""
    for name in names:
        if name in doc:
            doc[name] = redact_export(doc[name])
        if name + "_raw" in doc:
            doc[name + "_raw"] = "<REDACTED_UNPARSED>"


def _export_time(options: ExportOptions, outs: Sequence[_RunOut]) -> datetime:
    if options.exported_at:
        dt = parse_timestamp(options.exported_at)
        assert dt is not None  # checked by ExportOptions.check
        return dt.astimezone(UTC)
    times = [parse_timestamp(o.newest) for o in outs if o.newest]
    times = [t for t in times if t is not None]
    return max(times).astimezone(UTC) if times else datetime(1970, 1, 1, tzinfo=UTC)


def export_bundle(source: TraceSource, selection: RunSelection, target: BundleTarget, key: SigningKey,
                  options: ExportOptions = ExportOptions(), *,
                  idempotency: IdempotencyStore | None = None,
                  render_report: Callable[[ReportInput], bytes] | None = None,
                  retry: RetryConfig = EXPORT_RETRY, sleep: Callable[[float], None] = time.sleep,
                  clock: Callable[[], float] = time.monotonic, random: Callable[[], float] | None = None,
                  progress: Callable[[JobProgress], None] | None = None,
                  cancelled: Callable[[], bool] | None = None,
                  on_retry: Callable[[int, float, str], None] | None = None) -> ExportResult:
    """Export the selected runs of ``source`` to ``target``, signed with ``key``.

    Raises :class:`ExportCancelled` when ``cancelled()`` turns true (nothing is written),
    :class:`inspector.errors.UsageError` for bad options or an empty selection, and the source's
    errors once retries are exhausted (``on_retry(attempt, delay, error)`` is called before each
    retry). ``random`` feeds the retry jitter (default: none, for reproducible waits)."""
    options.check()
    if not selection.run_ids and selection.flt is None:
        raise UsageError("nothing to export: give run ids or a filter")
    job = _Job(source, selection, target, key, options, "", retry=retry, sleep=sleep, clock=clock,
               random=random or (lambda: 0.0), progress=progress, cancelled=cancelled, on_retry=on_retry,
               render_report=render_report)
    job.report(0, 1, "Planning", force=True)
    plan = _with_retries(job, job.plan, "listing the runs")
    if not plan.keys:
        raise UsageError("no runs to export: " + (f"not found: {', '.join(plan.missing)}" if plan.missing
                                                  else "the filter matches none"))
    req = request_hash(source, selection, options, key, plan.state)
    job.set_request(req)
    if idempotency is not None:
        resp = idempotency.check(req, req, _TENANT, trace_id=target.location)
        if (resp.is_duplicate and resp.stored_trace_id == target.location
                and target.existing_request_hash() == req):
            return ExportResult(target.location, req, reused=True)
    job.sink = target.open()
    try:
        manifest = _run(job, plan)
    except BaseException as exc:
        job.sink.abort()
        if idempotency is not None:
            idempotency.delete(req, _TENANT)  # upstream's mark_failed would block a retry (§11.23)
        if isinstance(exc, KeyboardInterrupt):
            raise ExportCancelled("export interrupted", location=target.location) from None
        raise
    if idempotency is not None:
        idempotency.mark_completed(req, _TENANT, trace_id=target.location, response={"manifest": manifest["content_digest"]})
    return ExportResult(target.location, req, reused=False, manifest=manifest, retries=job.retries)


def _with_retries(job: _Job, what: Callable[[], Any], label: str) -> Any:
    attempt = 0
    while True:
        try:
            return what()
        except SourceUnavailable as exc:
            attempt += 1
            error = str(exc)
            if not should_retry(job.retry, attempt - 1, error):
                raise
            delay = retry_delay(job.retry, attempt, random=job.random)
            job.retries += 1
            job.retry_notes.append((attempt, delay, f"{label}: {error}"))
            if job.on_retry is not None:
                job.on_retry(attempt, delay, f"{label}: {error}")
            job.check_cancel()
            job.sleep(delay)
            job.check_cancel()
            job.source.refresh()


def _run(job: _Job, plan: _Plan) -> dict[str, Any]:
    keys, missing = plan.keys, plan.missing
    total = max(plan.steps, 1) + len(keys)
    outs: list[_RunOut] = []
    done = 0
    for n, key in enumerate(keys, start=1):
        job.check_cancel()
        out = _with_retries(job, lambda n=n, key=key, done=done: job.export_run(n, key, done, total), f"run {key}")
        outs.append(out)
        done += out.steps_written + 1
        job.report(done, total, f"{n} of {len(keys)} runs")
    created = _export_time(job.options, outs)
    stamp = created.isoformat()
    for out in outs:
        job.write_aos(out, created)
    # The custody log: what this job did, chained (§9). Its times are the recorded export time so
    # that a re-export with the same options gives the same bytes.
    c = job.custody
    c.emit(JobAuditEventType.CREATED, stamp, request_hash=job.req_hash, kind=job.options.kind,
           runs_asked=len(job.selection.run_ids) or None, filter=job.selection.describe()["filter"])
    c.emit(JobAuditEventType.STARTED, stamp, source=job.source.info.location, runs=len(keys))
    step = max(1, len(outs) // 100)
    for i, out in enumerate(outs, start=1):
        if i % step == 0 or i == len(outs):
            c.emit(JobAuditEventType.PROGRESS, stamp, run_id=out.record.summary.run_id, runs_done=i,
                   steps=out.steps_written)
    for attempt, delay, error in job.retry_notes:
        c.emit(JobAuditEventType.RETRIED, stamp, attempt=attempt, delay_seconds=delay, error=error)
    data_files = sorted(job.files, key=lambda f: f["name"])
    content_digest = hashlib.sha256(b"".join(f"{f['name']}\0{f['sha256']}\n".encode() for f in data_files)).hexdigest()
    c.emit(JobAuditEventType.COMPLETED, stamp, files=len(data_files), content_digest=content_digest)
    job.put(CUSTODY, b"".join(canonical_bytes(e.as_json()) + b"\n" for e in c.events))
    manifest = _manifest(job, outs, keys, missing, stamp, content_digest)
    if job.options.include_report and job.render_report is not None:
        job.put("report.pdf", job.render_report(ReportInput(dict(manifest), tuple(_report_run(o) for o in outs))))
    manifest["files"] = sorted(job.files, key=lambda f: f["name"])
    data = canonical_bytes(manifest) + b"\n"
    job.check_cancel()
    job.put(MANIFEST, data)
    job.put(SIGNATURE, job.key.sign(data))
    job.files = [f for f in job.files if f["name"] not in (MANIFEST, SIGNATURE)]
    job.report(total, total, "Writing the bundle", force=True)
    job.sink.finish()
    job.progress = job.progress.complete(job.clock())
    if job.progress_cb is not None:
        job.progress_cb(job.progress)
    return manifest


def _report_run(o: _RunOut) -> dict[str, Any]:
    s = o.record.summary
    return {"run_id": s.run_id, "trace_id": s.trace_id, "tenant_id": s.tenant_id, "agent_id": s.agent_id,
            "status": s.status, "started_at": s.started_at, "completed_at": s.completed_at,
            "total_steps": o.steps_written, "total_cost_cents": s.total_cost_cents,
            "total_duration_ms": s.total_duration_ms, "failure_count": s.failure_count,
            "grade": o.grade, "timeline": o.timeline, "aos_content_hash": o.aos_hash,
            "audit_events": o.audit_events, "llm_records": o.llm_records}


def _manifest(job: _Job, outs: Sequence[_RunOut], keys: Sequence[str], missing: Sequence[str], stamp: str,
              content_digest: str) -> dict[str, Any]:
    o = job.options
    # Ids given twice, or a run id and one of its trace ids, name one run: asked = found + missing.
    asked = len(outs) + len(missing)
    steps_expected = sum(x.steps_expected for x in outs)
    steps_written = sum(x.steps_written for x in outs)
    ev_found: dict[str, int] = {}
    ev_written: dict[str, int] = {}
    for x in outs:
        for cls, (found, written) in x.evidence_counts.items():
            ev_found[cls] = ev_found.get(cls, 0) + found
            ev_written[cls] = ev_written.get(cls, 0) + written
    completeness = {
        "runs": {"asked": asked, "found": len(outs), "missing": len(missing), "missing_ids": list(missing)},
        "steps": {"asked": steps_expected, "found": steps_written, "missing": max(0, steps_expected - steps_written)},
        "evidence_rows": {cls: {"asked": ev_found[cls], "found": ev_written[cls],
                                "missing": max(0, ev_found[cls] - ev_written[cls])} for cls in sorted(ev_found)},
        "audit_events": {"found": sum(x.audit_events for x in outs)},
        "llm_records": {"found": sum(x.llm_records for x in outs)},
    }
    return {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "producer": {"name": o.producer, "version": o.producer_version},
        "kind": o.kind,
        "exported_at": json_datetime(parse_timestamp(stamp)),
        "exported_at_source": "option" if o.exported_at else "newest time in the exported runs",
        "exported_by": o.exported_by,
        "export_reason": o.reason,
        "request_hash": job.req_hash,
        "selection": job.selection.describe(),
        "source": {"location": job.source.info.location, "kind": job.source.info.kind,
                   "read_digest": job.read_digest.hexdigest()},
        "runs": [{"run_id": x.record.summary.run_id, "key": x.record.summary.key, "dir": x.dir,
                  "steps": x.steps_written, "grade": (x.grade or {}).get("integrity_grade"),
                  "consistency_violations": x.findings} for x in outs],
        "consistency_rules": [r.as_dict() for r in INSPECTOR_RULES],
        "completeness": completeness,
        "redaction": {"applied": o.redact, "rules": list(EXPORT_RULES) if o.redact else []},
        "signer": {"algorithm": "Ed25519", "public_key": job.key.public.b64, "fingerprint": job.key.public.fingerprint},
        "content_digest": content_digest,
        "retries": job.retries,
    }
