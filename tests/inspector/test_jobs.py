"""Spec §9: retry delays, progress and the job audit chain, against the spec's formulas and vector."""

from __future__ import annotations

import pytest

from inspector.jobs import (
    FIB,
    AuditChainError,
    JobAuditEventType,
    JobAuditLog,
    JobProgress,
    ProgressStage,
    RetryConfig,
    RetryStrategy,
    audit_event_hash,
    retry_delay,
    should_retry,
    verify_chain,
)


@pytest.mark.parametrize(("strategy", "expected"), [
    (RetryStrategy.FIXED, [60, 60, 60, 60]),
    (RetryStrategy.LINEAR, [60, 120, 180, 240]),
    (RetryStrategy.EXPONENTIAL, [60, 120, 240, 480]),
    (RetryStrategy.FIBONACCI, [60, 60, 120, 180]),
])
def test_retry_delays_follow_upstream_strategies(strategy, expected):
    config = RetryConfig(strategy=strategy, jitter_factor=0.0)
    assert [retry_delay(config, n) for n in (1, 2, 3, 4)] == expected


def test_fibonacci_keeps_its_last_value_and_the_cap_applies():
    config = RetryConfig(strategy=RetryStrategy.FIBONACCI, base_delay=1, max_delay=10_000, jitter_factor=0)
    assert retry_delay(config, 12) == FIB[11] == 144
    assert retry_delay(config, 40) == 144
    assert retry_delay(RetryConfig(base_delay=60, max_delay=3600, jitter_factor=0), 10) == 3600


def test_jitter_is_additive_truncated_then_clamped():
    config = RetryConfig(strategy=RetryStrategy.FIXED, base_delay=60, jitter_factor=0.2)
    assert retry_delay(config, 1, random=lambda: 0.0) == 60
    assert retry_delay(config, 1, random=lambda: 0.999) == int(60 + 60 * 0.2 * 0.999) == 71
    capped = RetryConfig(strategy=RetryStrategy.FIXED, base_delay=60, max_delay=65, jitter_factor=0.2)
    assert retry_delay(capped, 1, random=lambda: 0.999) == 65
    # A fractional base keeps its fraction (the inspector's own short delays).
    half = RetryConfig(strategy=RetryStrategy.FIXED, base_delay=0.5, jitter_factor=0.2)
    assert retry_delay(half, 1, random=lambda: 0.5) == pytest.approx(0.55)


def test_should_retry_stops_at_max_and_honours_patterns():
    config = RetryConfig(max_retries=3)
    assert [should_retry(config, n, "boom") for n in (0, 1, 2, 3, 4)] == [True, True, True, False, False]
    picky = RetryConfig(retryable_errors=("timeout", "connection"))
    assert should_retry(picky, 1, "connection reset by peer")
    assert not should_retry(picky, 1, "syntax error")


def test_progress_follows_upstream_update_rules():
    p = JobProgress("job-1").start(100.0, total_steps=0)
    assert (p.stage, p.percentage, p.current_step) == (ProgressStage.STARTING, 0.0, 0)
    p = p.update(110.0, percentage=150)
    assert p.percentage == 100.0 and p.stage is ProgressStage.RUNNING  # clamped; starting → running
    p = p.update(110.0, percentage=-5)
    assert p.percentage == 0.0 and p.eta_seconds is None  # no ETA at 0 %
    p = p.update(120.0, current_step=30, total_steps=20)
    assert p.percentage == 150.0  # a step count overrides, unclamped
    p = JobProgress("j").start(0.0).update(10.0, current_step=25, total_steps=100)
    assert p.eta_seconds == int((100 - 25) / (25 / 10)) == 30
    p = p.update(20.0, stage=ProgressStage.COMPLETING)
    assert p.stage is ProgressStage.COMPLETING
    done = p.complete(30.0)
    assert (done.percentage, done.stage, done.message, done.eta_seconds) == (100.0, ProgressStage.COMPLETED,
                                                                              "Completed", 0)
    failed = p.fail(30.0)
    assert (failed.stage, failed.message, failed.eta_seconds) == (ProgressStage.FAILED, "Failed", None)
    assert set(done.to_dict()) == {"job_id", "percentage", "stage", "message", "current_step", "total_steps",
                                   "started_at", "updated_at", "eta_seconds", "metadata"}


def test_audit_hash_matches_the_spec_vector():
    assert audit_event_hash("evt-1", "job_created", "job-1", "t1", "2026-01-01T00:00:00+00:00", None) == \
        "65bf2bfdaa9bc326ea461000fc282065"


def _chain() -> JobAuditLog:
    log = JobAuditLog("job-1", "t1", id_prefix="abc")
    log.emit(JobAuditEventType.CREATED, "2026-01-01T00:00:00+00:00")
    log.emit(JobAuditEventType.STARTED, "2026-01-01T00:00:01+00:00")
    log.emit(JobAuditEventType.COMPLETED, "2026-01-01T00:00:02+00:00", files=3)
    return log


def test_a_chain_links_each_event_to_the_one_before():
    events = _chain().events
    assert [e.event_id for e in events] == ["job-audit-abc-1", "job-audit-abc-2", "job-audit-abc-3"]
    assert events[0].previous_event_hash is None
    assert events[1].previous_event_hash == events[0].integrity_hash
    assert verify_chain(events) == 3


def test_a_broken_chain_names_the_first_bad_event():
    from dataclasses import replace

    events = _chain().events
    changed = [events[0], replace(events[1], timestamp="2026-01-01T00:00:09+00:00"), events[2]]
    with pytest.raises(AuditChainError) as err:
        verify_chain(changed)
    assert err.value.index == 2 and "integrity hash" in str(err.value)
    dropped = [events[0], events[2]]
    with pytest.raises(AuditChainError) as err:
        verify_chain(dropped)
    assert err.value.index == 2 and "previous_event_hash" in str(err.value)
    assert verify_chain([]) == 0
