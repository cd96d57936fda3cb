"""Upstream's integrity grading (spec §4), pure: a table of cases, upstream's quirks pinned, and
hypothesis properties (adding evidence never lowers the score; a missing required class is FAIL)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inspector.integrity import (
    EXPECTED_TABLES,
    REQUIRED_EVIDENCE,
    CaptureFailure,
    EvidenceClass,
    FailureResolution,
    IntegrityFacts,
    IntegrityGrade,
    assemble,
    compute_integrity_v2,
    evaluate,
    run_proof_hash,
)

ALL = {c.value: 1 for c in EXPECTED_TABLES}
H, B, G, D, T, S = (c.value for c in EXPECTED_TABLES)


def counts(*present: str) -> dict[str, int]:
    return {t: (3 if t in present else 0) for t in ALL}


@pytest.mark.parametrize(
    ("present", "failures", "grade", "explanation"),
    [
        ((H, B, G, D, T, S), [], "PASS", "All evidence present (6/6)"),
        # Upstream says "All evidence present" with one class missing too (§11.14).
        ((H, B, G, T, S), [], "PASS", "All evidence present (5/6)"),
        ((H, B, T, S), [], "WARN", "2 evidence types missing"),
        ((H, T, S), [], "WARN", "3 evidence types missing"),
        ((B, G, D, T, S), [], "FAIL", "Critical evidence missing: environment_evidence"),
        ((B, G, D), [], "FAIL", "Critical evidence missing: environment_evidence, aos_traces, aos_trace_steps"),
        ((), [], "FAIL", "Critical evidence missing: environment_evidence, aos_traces, aos_trace_steps"),
        # A failure, even superseded by evidence captured later, forces WARN.
        ((H, B, G, D, T, S), [(B, "database_error")], "WARN", "1 capture failures recorded"),
        ((H, B, G, T, S), [(D, "database_error"), (B, "capture_failed")], "WARN",
         "1 evidence types missing; 2 capture failures recorded"),
        # Required missing wins over failures.
        ((B, G, D, T, S), [(H, "database_error")], "FAIL", "Critical evidence missing: environment_evidence"),
    ],
)
def test_grades_and_explanations(present, failures, grade, explanation):
    facts = assemble("run-1", counts(*present), [CaptureFailure(t, r, "boom") for t, r in failures])
    result = evaluate(facts)
    assert result.grade.value == grade
    assert result.explanation == explanation
    assert result.score == len(present) / 6
    assert result.state.value == "SEALED"
    assert result.status == {"PASS": "VALID", "WARN": "DEGRADED", "FAIL": "FAILED"}[grade]


def test_stored_resolution_is_ignored_and_superseded_is_assigned():
    stored = [CaptureFailure(B, "pre_attach", "x", stored_resolution="permanent"),
              CaptureFailure(D, "database_error", "y", stored_resolution="permanent"),
              CaptureFailure("no_such_table", "capture_failed", "z")]
    facts = assemble("r", counts(H, B, T, S), stored)
    # Upstream ignores the stored column: never permanent, so "permanent → FAIL" is dead (§11.14).
    assert [f.resolution for f in facts.failures] == [FailureResolution.SUPERSEDED, FailureResolution.TRANSIENT,
                                                      FailureResolution.SUPERSEDED]
    assert facts.failures[2].evidence_class is EvidenceClass.B_ACTIVITY  # unknown type → activity
    assert evaluate(facts).grade is IntegrityGrade.WARN


def test_a_permanent_failure_fails_when_one_reaches_the_evaluator():
    facts = IntegrityFacts("r", tuple(EXPECTED_TABLES), (), (CaptureFailure(B, "pre_attach", None,
                                                                            FailureResolution.PERMANENT),))
    assert evaluate(facts).grade is IntegrityGrade.FAIL
    assert evaluate(facts).explanation == "Critical evidence missing: "


def test_compute_integrity_v2_keys_and_values():
    facts = assemble("r", counts(H, B, T, S), [CaptureFailure(G, "provider_timeout", "slow"),
                                               CaptureFailure(B, "database_error", "late")])
    out = compute_integrity_v2(facts)
    assert list(out) == ["expected_artifacts", "observed_artifacts", "missing_artifacts", "missing_reasons",
                         "capture_failures", "integrity_score", "integrity_status", "integrity_state",
                         "integrity_grade", "explanation"]
    assert out["expected_artifacts"] == ["activity_evidence", "policy_decisions", "provider_evidence",
                                         "environment_evidence", "aos_traces", "aos_trace_steps"]
    assert out["observed_artifacts"] == [H, B, T, S]
    assert out["missing_artifacts"] == [G, D]
    assert out["missing_reasons"] == {
        G: "provider_timeout",
        D: "no_records_found",
        "_capture_failures": [{"evidence_type": G, "failure_reason": "provider_timeout", "error_message": "slow",
                               "resolution": "transient"}],
    }
    assert [f["resolution"] for f in out["capture_failures"]] == ["transient", "superseded"]
    assert out["integrity_score"] == 4 / 6
    assert (out["integrity_grade"], out["integrity_status"], out["integrity_state"]) == ("WARN", "DEGRADED", "SEALED")
    assert out["explanation"] == "2 evidence types missing; 2 capture failures recorded"
    json.dumps(out)


def test_run_proof_hash_matches_the_spec_vector(fixtures_dir):
    golden = json.loads((fixtures_dir / "golden_trace.json").read_text())
    steps = [(s["step_index"], s["skill_name"], s["status"]) for s in golden["steps"]]
    assert run_proof_hash(golden["run_id"], steps) == "6a0dfba4204aabc44efab98ae13d0e16fe828ecc5a3b3de2a256acffa0a710f2"


_tables = st.sets(st.sampled_from([c.value for c in EXPECTED_TABLES]))
_failures = st.lists(st.tuples(st.sampled_from([c.value for c in EXPECTED_TABLES] + ["weird"]),
                               st.sampled_from(["database_error", "capture_failed"])), max_size=4)


@settings(max_examples=300, database=None)
@given(_tables, _tables, _failures)
def test_adding_evidence_never_lowers_the_score(present, more, failures):
    fs = [CaptureFailure(t, r, None) for t, r in failures]
    before = evaluate(assemble("r", counts(*present), fs))
    after = evaluate(assemble("r", counts(*(present | more)), fs))
    assert after.score >= before.score


@settings(max_examples=300, database=None)
@given(_tables, _failures)
def test_a_missing_required_class_is_always_fail(present, failures):
    result = evaluate(assemble("r", counts(*present), [CaptureFailure(t, r, None) for t, r in failures]))
    if any(c.value not in present for c in REQUIRED_EVIDENCE):
        assert result.grade is IntegrityGrade.FAIL
        assert result.explanation.startswith("Critical evidence missing: ")
    elif not failures and len(present) >= 5:
        assert result.grade is IntegrityGrade.PASS
