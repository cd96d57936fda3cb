"""The inspector's own panels as slots (spec §5's shape), and the rules that check them against
each other: ``trace-inspector check``, the Consistency dock and the bundles all check here.

Each panel that shows a run emits its signals, named ``panel.signal``:

- ``runs_list``: the row of the runs list (status, counters, times);
- ``step_tree``: what the step tree counts over the run's rows (rows, failures, cost and duration
  sums, first and last step times);
- ``evidence``: classes present, provider evidence tokens;
- ``integrity``: grade, score, whether a required class is missing, the stored verdict's grade;
- ``llm_record`` and ``audit`` (sources with the logs tables): tokens, cost, status; event count.

A panel that has nothing to show emits nothing, and a rule naming its signals does not apply.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from inspector.consistency import CheckResult, ConsistencyRule, PanelSlot, Violation, check
from inspector.evidence import EvidenceReader, RunEvidence
from inspector.integrity import REQUIRED_EVIDENCE, EvidenceClass, evaluate
from inspector.logs import LogsSource
from inspector.model import RunFilter, RunRecord, RunSort, StepRow, StepStatus, to_float, to_int
from inspector.errors import QueryCancelled
from inspector.source import StreamsRuns, TraceSource, step_pages

__all__ = ["INSPECTOR_RULES", "RunCheck", "check_run", "filter_keys", "run_slots", "step_of"]

#: A step-tree signal, and the signal naming the step it comes from.
_STEP_SIGNALS = {"step_tree.first_step_at": "step_tree.first_step_index",
                 "step_tree.last_step_at": "step_tree.last_step_index",
                 "step_tree.failures": "step_tree.first_failure_index"}

_PAGE = 5000


def _r(rid: str, name: str, description: str, a: str, b: str, condition: str) -> ConsistencyRule:
    return ConsistencyRule(rid, name, description, a, b, condition)


#: The inspector's default rules over its own panels (stable ids; a rule file replaces them).
INSPECTOR_RULES = (
    _r("INS-001", "step_count_matches_tree", "The runs list's step count equals the rows of the step tree",
       "runs_list.total_steps", "step_tree.rows", "signal_a == signal_b"),
    _r("INS-002", "failure_count_matches_tree", "The runs list's failures equal the failed rows of the step tree",
       "runs_list.failure_count", "step_tree.failures", "signal_a == signal_b"),
    _r("INS-003", "run_cost_is_sum_of_steps", "The run's cost equals the sum of its steps' costs (to 0.0001 cent)",
       "runs_list.total_cost_cents", "step_tree.cost_sum", "signal_a == signal_b within 0.0001"),
    _r("INS-004", "run_duration_is_sum_of_steps",
       "The run's duration equals the sum of its steps' durations (to 0.001 ms)",
       "runs_list.total_duration_ms", "step_tree.duration_sum", "signal_a == signal_b within 0.001"),
    _r("INS-005", "completed_run_has_completed_at", "A completed run has a completion time",
       "runs_list.status", "runs_list.completed_at", "signal_a == 'completed' implies exists(signal_b)"),
    _r("INS-006", "steps_start_after_the_run", "No step is stamped before the run started",
       "step_tree.first_step_at", "runs_list.started_at", "signal_a >= signal_b"),
    _r("INS-007", "steps_end_before_completion", "No step is stamped after the run completed",
       "step_tree.last_step_at", "runs_list.completed_at", "signal_a <= signal_b"),
    _r("INS-008", "fail_grade_means_required_missing",
       "An integrity grade of FAIL means a required evidence class is missing",
       "integrity.grade", "integrity.required_missing", "signal_a == 'FAIL' implies signal_b"),
    _r("INS-009", "stored_verdict_agrees", "The verdict upstream stored equals the grade computed now",
       "integrity.stored_grade", "integrity.grade", "signal_a == signal_b"),
    _r("INS-010", "llm_tokens_match_provider_evidence",
       "The LLM run record's tokens equal the provider evidence's tokens",
       "llm_record.tokens", "evidence.provider_tokens", "signal_a == signal_b"),
    _r("INS-011", "llm_cost_matches_run_cost", "The LLM run record's cost (whole cents) matches the run's cost",
       "llm_record.cost_cents", "runs_list.total_cost_cents", "signal_a == signal_b within 1"),
)


def run_slots(source: TraceSource, key: str, *, evidence: EvidenceReader | None = None,
              logs: LogsSource | None = None, cancelled: Callable[[], bool] | None = None,
              record: RunRecord | None = None, rows: Iterable[StepRow] | None = None,
              run_evidence: RunEvidence | None = None) -> list[PanelSlot]:
    """What each panel shows of one run, as slots of signals (worker side: reads the run's rows
    and evidence, unless the caller read them already: ``record``, ``rows``, ``run_evidence``)."""
    record = record if record is not None else source.get_run(key)
    s = record.summary
    slots = [PanelSlot("runs_list", {
        "runs_list.run_id": s.run_id, "runs_list.status": s.status, "runs_list.total_steps": s.total_steps,
        "runs_list.success_count": s.success_count, "runs_list.failure_count": s.failure_count,
        "runs_list.total_cost_cents": s.total_cost_cents, "runs_list.total_duration_ms": s.total_duration_ms,
        "runs_list.started_at": s.started_at, "runs_list.completed_at": s.completed_at})]
    count = failures = 0
    cost = duration = 0.0
    first = last = None
    first_at = last_at = first_failed = None  # the step_index of each (what a finding points at)
    for r in rows if rows is not None else _all_rows(source, s.key, cancelled):
        count += 1
        if r.status is StepStatus.FAILURE:
            failures += 1
            first_failed = r.step_index if first_failed is None else first_failed
        cost += to_float(r.cost_cents)
        duration += to_float(r.duration_ms)
        if isinstance(r.timestamp, str):
            if first is None or r.timestamp < first:
                first, first_at = r.timestamp, r.step_index
            if last is None or r.timestamp > last:
                last, last_at = r.timestamp, r.step_index
    slots.append(PanelSlot("step_tree", {"step_tree.rows": count, "step_tree.failures": failures,
                                         "step_tree.cost_sum": cost, "step_tree.duration_sum": duration,
                                         "step_tree.first_step_at": first, "step_tree.last_step_at": last,
                                         "step_tree.first_step_index": first_at, "step_tree.last_step_index": last_at,
                                         "step_tree.first_failure_index": first_failed}))
    if run_evidence is not None or (evidence is not None and evidence.has_store):
        ev = run_evidence if run_evidence is not None else evidence.run_evidence(s.run_id)
        provider = ev.rows.get(EvidenceClass.G_PROVIDER, ())
        tokens = sum(to_int(to_float(p.get("total_tokens")) or to_float(p.get("input_tokens")) + to_float(p.get("output_tokens")))
                     for p in provider)
        slots.append(PanelSlot("evidence", {
            "evidence.classes_present": [c.value for c in ev.facts.observed],
            "evidence.provider_rows": len(provider),
            "evidence.provider_tokens": tokens if provider else None}))
        result = evaluate(ev.facts)
        slots.append(PanelSlot("integrity", {
            "integrity.grade": result.grade.value, "integrity.score": result.score,
            "integrity.required_missing": any(c in REQUIRED_EVIDENCE for c in ev.facts.missing),
            "integrity.stored_grade": ev.stored.grade.value if ev.stored is not None and ev.stored.grade else None}))
    if logs is not None:
        records = logs.llm_records(s.run_id)
        if records:
            slots.append(PanelSlot("llm_record", {
                "llm_record.count": len(records),
                "llm_record.tokens": sum(r.input_tokens + r.output_tokens for r in records),
                "llm_record.cost_cents": sum(r.cost_cents for r in records),
                "llm_record.status": records[0].execution_status}))
        slots.append(PanelSlot("audit", {"audit.events": len(logs.audit_for_run(s.run_id, s.tenant_id))}))
    return slots


def filter_keys(source: TraceSource, flt: RunFilter, cancelled: Callable[[], bool] | None = None) -> list[str]:
    """The keys of a filter's runs (``RunSummary.key``: on Postgres each trace's), what checking
    every run of a filter checks; orphan run ids are not in it (no filter but the empty one
    lists them)."""
    if isinstance(source, StreamsRuns):
        return [r.key for r in source.iter_runs(flt, RunSort.RUN_ID, False) if not r.orphan]
    keys: list[str] = []
    while True:
        if cancelled is not None and cancelled():
            raise QueryCancelled("Listing the runs to check was cancelled")
        page = source.list_runs(flt, RunSort.RUN_ID, False, len(keys), _PAGE, with_aggregates=False)
        keys.extend(r.key for r in page if not r.orphan)
        if len(page) < _PAGE:
            return list(dict.fromkeys(keys))


def step_of(violation: Violation, slots: Sequence[PanelSlot]) -> int | None:
    """The step a finding points at (the step_index of the step a compared signal comes from:
    the earliest or latest stamped step, the first failed one), or None."""
    signals: dict[str, Any] = {}
    for slot in slots:
        signals.update(slot.output_signals)
    for name in violation.signals:
        index = signals.get(_STEP_SIGNALS.get(name, ""))
        if isinstance(index, int):
            return index
    return None


def _all_rows(source: TraceSource, key: str, cancelled: Callable[[], bool] | None) -> Iterator[StepRow]:
    for page in step_pages(source, key, _PAGE):
        yield from page
        if cancelled is not None and cancelled():
            return


@dataclass(frozen=True, slots=True)
class RunCheck:
    """One run checked: its key, its slots, the result (violations named by panel.signal)."""

    key: str
    run_id: str
    slots: tuple[PanelSlot, ...]
    result: CheckResult

    def as_json(self) -> dict[str, Any]:
        out = self.result.as_json()
        out["run_id"] = self.run_id
        out["signals"] = {k: v for slot in self.slots for k, v in slot.output_signals.items()}
        return out


def check_run(source: TraceSource, key: str, rules: Sequence[ConsistencyRule] | None = None, *,
              evidence: EvidenceReader | None = None, logs: LogsSource | None = None,
              record: RunRecord | None = None, rows: Iterable[StepRow] | None = None,
              run_evidence: RunEvidence | None = None) -> RunCheck:
    """Check one run's panels against each other (the inspector's rules unless ``rules``)."""
    slots = run_slots(source, key, evidence=evidence, logs=logs, record=record, rows=rows, run_evidence=run_evidence)
    run_id = str(slots[0].output_signals.get("runs_list.run_id") or key)
    return RunCheck(key, run_id, tuple(slots), check(run_id, slots, tuple(rules) if rules else INSPECTOR_RULES,
                                                     compare_upstream=False))
