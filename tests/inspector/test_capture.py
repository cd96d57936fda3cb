"""The pure part of evidence capture: the context guards, the cursor's 1-based evidence step
indexes, failure reasons and their default resolution, and the content fingerprint."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inspector.capture import (
    DEFAULT_RESOLUTION,
    CaptureFailureReason,
    EvidenceContextError,
    EvidenceSource,
    ExecutionContext,
    ExecutionCursor,
    hash_prompt,
    require_context,
    resolution_for,
)
from inspector.integrity import FailureResolution


def test_no_context_is_a_hard_error_with_upstreams_message():
    with pytest.raises(EvidenceContextError) as err:
        require_context(None, "environment_evidence")
    assert err.value.evidence_type == "environment_evidence"
    assert str(err.value) == ("Evidence capture (environment_evidence) blocked: ExecutionContext is None. "
                              "No context → No evidence. This is a hard failure, not best-effort.")
    assert EvidenceContextError("x").message == "Evidence capture (x) requires ExecutionContext"


@pytest.mark.parametrize(
    ("ctx", "words"),
    [
        (ExecutionContext("", 1, EvidenceSource.WORKER), "without run_id"),
        (ExecutionContext(None, 1, EvidenceSource.WORKER), "without run_id"),  # type: ignore[arg-type]
        (ExecutionContext("run-1", -1, EvidenceSource.WORKER), "must not be negative, got -1"),
        (ExecutionContext("run-1", 1.0, EvidenceSource.WORKER), "must be an int, got float"),  # type: ignore[arg-type]
        (ExecutionContext("run-1", "2", EvidenceSource.WORKER), "must be an int, got str"),  # type: ignore[arg-type]
        (ExecutionContext("run-1", True, EvidenceSource.WORKER), "must be an int, got bool"),
        (ExecutionContext("run-1", 1, "worker"), "source must be an EvidenceSource"),  # type: ignore[arg-type]
        (ExecutionContext("run-1", 1, EvidenceSource.SDK, is_synthetic=True), "missing synthetic_scenario_id"),
    ],
)
def test_invalid_contexts_are_refused(ctx, words):
    with pytest.raises(EvidenceContextError) as err:
        require_context(ctx, "activity_evidence")
    assert words in str(err.value) and "activity_evidence" in str(err.value)
    assert err.value.evidence_type == "activity_evidence"


def test_valid_contexts_pass():
    ctx = ExecutionContext("run-1", 0, EvidenceSource.SDK)
    assert require_context(ctx, "environment_evidence") is ctx
    synthetic = ExecutionContext("run-1", 3, EvidenceSource.RECONCILER, is_synthetic=True,
                                 synthetic_scenario_id="sdsr-7")
    synthetic.assert_valid_for_evidence()
    assert [s.value for s in EvidenceSource] == ["sdk", "worker", "provider", "reconciler"]


def test_cursor_counts_every_attempt_from_one():
    cursor = ExecutionCursor(ExecutionContext("run-1", 0, EvidenceSource.WORKER))
    assert cursor.context.step_index == 0
    seen = [cursor.advance().step_index for _ in range(3)]
    assert seen == [1, 2, 3] and cursor.context.step_index == 3
    with pytest.raises(AttributeError):
        cursor.context.step_index = 9  # type: ignore[misc]  # frozen: writers cannot advance


@pytest.mark.parametrize(
    ("reason", "resolution"),
    [
        (CaptureFailureReason.CAPTURE_FAILED, FailureResolution.TRANSIENT),
        (CaptureFailureReason.PROVIDER_TIMEOUT, FailureResolution.TRANSIENT),
        (CaptureFailureReason.PRE_ATTACH, FailureResolution.PERMANENT),
        (CaptureFailureReason.NETWORK_PARTITION, FailureResolution.TRANSIENT),
        (CaptureFailureReason.DATABASE_ERROR, FailureResolution.TRANSIENT),
        (CaptureFailureReason.CONTEXT_INVALID, FailureResolution.PERMANENT),
        ("something_new", FailureResolution.TRANSIENT),
    ],
)
def test_default_resolution_by_reason(reason, resolution):
    assert resolution_for(reason) is resolution


def test_reason_values_are_upstreams():
    assert sorted(DEFAULT_RESOLUTION) == sorted(["capture_failed", "provider_timeout", "pre_attach",
                                                 "network_partition", "database_error", "context_invalid"])


@given(st.text())
def test_hash_prompt_is_sha256_of_utf8(text):
    assert hash_prompt(text) == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_hash_prompt_vector():
    assert hash_prompt("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert hash_prompt("注文") == hashlib.sha256("注文".encode()).hexdigest() and len(hash_prompt("x")) == 64
