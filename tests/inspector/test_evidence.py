"""Our reason codes and the grade report, without a database: each reason for the case that
causes it, naming its rows; upstream's keys and values untouched in the report."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from inspector.evidence import (
    IndexAlignment,
    Severity,
    StoredVerdict,
    grade_report,
    reasons,
    stored_differences,
)
from inspector.integrity import (
    EXPECTED_TABLES,
    CaptureFailure,
    EvidenceClass,
    IntegrityGrade,
    assemble,
    compute_integrity_v2,
    evaluate,
)

H, B, G, D, T, S = (EvidenceClass.H_ENVIRONMENT, EvidenceClass.B_ACTIVITY, EvidenceClass.G_PROVIDER,
                    EvidenceClass.D_DECISION, EvidenceClass.TRACE, EvidenceClass.TRACE_STEPS)


def graded(present, failures=()):
    return evaluate(assemble("run-1", {c: (2 if c in present else 0) for c in EXPECTED_TABLES}, failures))


def codes(rs):
    return [r.code for r in rs]


def stored(status="VALID", score=1.0, observed=(H, B, G, D, T, S)):
    return StoredVerdict("run-1", status, score, tuple(c.value for c in observed), (), {}, "evidence_table_scan",
                         "2026-11-29T05:00:00+00:00", "ie-run-1")


def test_full_evidence_sealed_and_agreeing_has_no_reasons():
    result = graded({H, B, G, D, T, S})
    assert result.grade is IntegrityGrade.PASS
    assert reasons(result, stored=stored(), has_j=True) == []


def test_missing_environment_is_a_fail_reason_naming_its_failure_row():
    failure = CaptureFailure("environment_evidence", "database_error", "deadlock detected", id="ecf-1")
    result = graded({B, G, D, T, S}, [failure])
    rs = reasons(result, has_j=False)
    assert result.grade is IntegrityGrade.FAIL
    assert rs[0].code == "REQUIRED_MISSING" and rs[0].severity is Severity.FAIL
    assert "capture failed: database_error" in rs[0].message
    assert [r.row_id for r in rs[0].refs] == ["ecf-1"]
    assert "CAPTURE_FAILURE" in codes(rs) and "NO_INTEGRITY_RECORD" in codes(rs)


def test_pass_with_five_of_six_calls_out_upstreams_text():
    result = graded({H, B, G, T, S})
    assert result.explanation == "All evidence present (5/6)"
    rs = reasons(result, stored=stored(observed=(H, B, G, T, S), score=5 / 6), has_j=True)
    assert codes(rs) == ["EXPECTED_MISSING", "PASS_DESPITE_MISSING"]
    assert all(r.severity is Severity.INFO for r in rs)
    assert "policy_decisions" in rs[1].message


def test_superseded_failure_still_warns_and_ignored_stored_resolution_is_named():
    failure = CaptureFailure("activity_evidence", "provider_timeout", None, stored_resolution="permanent", id="ecf-2")
    result = graded({H, B, G, D, T, S}, [failure])
    assert result.grade is IntegrityGrade.WARN
    rs = reasons(result)
    assert codes(rs) == ["FAILURE_SUPERSEDED", "STORED_RESOLUTION_IGNORED"]
    assert "activity_evidence was recorded later (2 rows)" in rs[0].message
    assert "'permanent' ignored" in rs[1].message and "treats it as 'superseded'" in rs[1].message


def test_an_unknown_evidence_type_is_read_as_activity_evidence():
    failure = CaptureFailure("retrieval_evidence", "capture_failed", None, id="ecf-3")
    rs = reasons(graded({H, G, D, T, S}, [failure]))
    assert "UNKNOWN_EVIDENCE_TYPE" in codes(rs)
    missing_b = next(r for r in rs if r.code == "EXPECTED_MISSING")
    assert "capture failed: capture_failed" in missing_b.message and missing_b.refs[0].row_id == "ecf-3"


def test_stored_verdict_that_disagrees_says_how():
    result = graded({H, B, G, D, T, S})
    old = stored(status="DEGRADED", score=4 / 6, observed=(H, B, T, S))
    assert stored_differences(result, old) == [
        "grade WARN stored, PASS now", "score 0.667 stored, 1 now",
        "observed since: policy_decisions, provider_evidence"]
    (r,) = reasons(result, stored=old, has_j=True)
    assert r.code == "STORED_VERDICT_DIFFERS" and r.refs[0].row_id == "ie-run-1"
    assert r.message.startswith("Upstream stored DEGRADED (score 0.667) on 2026-11-29T05:00:00+00:00; computed now: VALID")


def test_a_stored_score_that_is_not_a_number_or_unreadable_artifacts_never_agree():
    result = graded({H, B, G, D, T, S})
    assert stored_differences(result, stored(score=float("nan"))) == ["score nan stored, 1 now"]
    unreadable = StoredVerdict("run-1", "VALID", 1.0, None, None, {}, None, None, "ie-run-1")
    assert stored_differences(result, unreadable) == ["stored observed_artifacts unreadable"]
    assert unreadable.as_json()["observed_artifacts"] is None

def test_step_index_alignment_reason_names_the_unmatched_rows():
    result = graded({H, B, G, D, T, S})
    al = IndexAlignment(B, evidence_count=4, evidence_min=1, evidence_max=4, trace_count=3, trace_min=0,
                        trace_max=2, unmatched=(3, 4), unmatched_count=2)
    aligned = IndexAlignment(G, 2, 0, 1, 3, 0, 2)
    (r,) = reasons(result, stored=stored(), alignment=[al, aligned])
    assert r.code == "STEP_INDEX_MISMATCH" and [x.step_index for x in r.refs] == [3, 4]
    assert r.message == "2 of 4 activity_evidence rows have a step index with no trace step (evidence 1–4, trace steps 0–2)"
    assert r.meaning.startswith("Evidence indexes start one above the trace's.")


def test_grade_report_keeps_upstreams_keys_and_values_then_ours():
    failure = CaptureFailure("provider_evidence", "database_error", "x", id="ecf-4")
    result = graded({H, B, D, T, S}, [failure])
    report = grade_report(result, stored=stored(status="DEGRADED", score=5 / 6, observed=(H, B, D, T, S)),
                          reason_list=reasons(result))
    upstream = compute_integrity_v2(result.facts)
    assert list(report)[:11] == ["run_id", *upstream]
    assert {k: report[k] for k in upstream} == upstream
    assert list(report)[11:] == ["reasons", "stored", "stored_agrees"]
    assert report["stored_agrees"] is True and report["stored"]["integrity_grade"] == "WARN"
    json.dumps(report)  # serialisable as it is


@given(st.sets(st.sampled_from(EXPECTED_TABLES)),
       st.lists(st.sampled_from([c.value for c in EvidenceClass] + ["other"]), max_size=3))
def test_every_reason_is_complete_and_failures_always_explained(present, failure_types):
    failures = [CaptureFailure(t, "database_error", None, id=f"ecf-{i}") for i, t in enumerate(failure_types)]
    result = graded(present, failures)
    rs = reasons(result, has_j=False)
    assert all(r.message and r.meaning for r in rs)
    explained = {ref.row_id for r in rs if r.code in ("CAPTURE_FAILURE", "FAILURE_SUPERSEDED") for ref in r.refs}
    assert explained == {f.id for f in failures}
    fail_reasons = [r for r in rs if r.severity is Severity.FAIL]
    assert bool(fail_reasons) == any(c in result.facts.missing for c in (H, T, S))
    if result.grade is IntegrityGrade.FAIL:
        assert fail_reasons


def test_the_writers_default_resolution_upgraded_to_superseded_is_not_called_ignored():
    stored_default = CaptureFailure("activity_evidence", "database_error", None, stored_resolution="transient", id="e")
    assert codes(reasons(graded({H, B, G, D, T, S}, [stored_default]))) == ["FAILURE_SUPERSEDED"]
    stored_superseded = CaptureFailure("provider_evidence", "database_error", None, stored_resolution="superseded",
                                       id="f")
    rs = reasons(graded({H, B, D, T, S}, [stored_superseded]))
    assert "STORED_RESOLUTION_IGNORED" in codes(rs)  # the table says superseded; no provider rows exist
