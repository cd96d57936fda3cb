"""Fixtures for core tests: upstream's golden trace and SDK v1.1 traces built per spec §1.8."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest


def canonical(value: Any) -> str:
    """The SDK's compact canonical JSON (spec §1.8)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def hash_data(value: Any) -> str:
    return hashlib.sha256(canonical(value).encode()).hexdigest()[:16]


def sdk_root_hash(seed: int, timestamp: str, tenant_id: str, steps: list[dict]) -> str:
    keys = ("step_index", "skill_id", "input_hash", "output_hash", "rng_state_before", "outcome", "idempotency_key",
            "replay_behavior")
    h = hashlib.sha256(f"{seed}:{timestamp}:{tenant_id}".encode()).hexdigest()
    for step in steps:
        det = hashlib.sha256(canonical({k: step.get(k) for k in keys}).encode()).hexdigest()
        h = hashlib.sha256(f"{h}:{det}".encode()).hexdigest()
    return h


def sdk_step(index: int, skill: str, inp: Any, out: Any, *, outcome: str = "success", rng: str = "abc",
             duration_ms: int = 5, error_code: str | None = None, **extra: Any) -> dict:
    step = {
        "step_index": index,
        "skill_id": skill,
        "input_hash": hash_data(inp),
        "output_hash": hash_data(out),
        "rng_state_before": rng,
        "outcome": outcome,
        "idempotency_key": None,
        "replay_behavior": "execute",
        "duration_ms": duration_ms,
        "error_code": error_code,
        "timestamp": f"2025-12-22T00:00:0{index}+00:00",
    }
    step.update(extra)
    return step


def sdk_trace(steps: list[dict], *, seed: int = 42, timestamp: str = "2025-12-22T00:00:00+00:00",
              tenant_id: str = "default", finalized: bool = True, **extra: Any) -> dict:
    doc = {
        "version": "1.1.0",
        "seed": seed,
        "timestamp": timestamp,
        "tenant_id": tenant_id,
        "plan": [{"skill": s["skill_id"]} for s in steps],
        "steps": steps,
        "root_hash": sdk_root_hash(seed, timestamp, tenant_id, steps) if finalized else None,
        "finalized": finalized,
        "metadata": {},
    }
    doc.update(extra)
    return doc


@pytest.fixture
def golden(fixtures_dir) -> dict:
    return json.loads((fixtures_dir / "golden_trace.json").read_text())


@pytest.fixture
def vector_trace() -> dict:
    """Spec §1.8's verified vector: one json_transform step, input {"a":1}, output {"b":2}, rng abc."""
    return sdk_trace([sdk_step(0, "json_transform", {"a": 1}, {"b": 2})])


@pytest.fixture
def make_sdk_trace():
    return sdk_trace


@pytest.fixture
def make_sdk_step():
    return sdk_step
