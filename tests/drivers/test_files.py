"""One-run JSON files opened through open_source: TraceRecord documents and SDK v1.1 traces."""

from __future__ import annotations

import json
import shutil

import pytest

from drivers import open_source
from drivers.files import open_json_trace
from inspector.model import MISSING, RunFilter, StepStatus
from inspector.source import Capability


def sdk_doc():
    step = {"step_index": 0, "skill_id": "json_transform", "input_hash": "015abd7f5cc57a2d",
            "output_hash": "0ab1a6d394cd3019", "rng_state_before": "abc", "outcome": "failure",
            "idempotency_key": None, "replay_behavior": "execute", "duration_ms": 4, "error_code": "E_X",
            "timestamp": "2025-12-22T00:00:00+00:00"}
    return {"version": "1.1.0", "seed": 42, "timestamp": "2025-12-22T00:00:00+00:00", "tenant_id": "default",
            "plan": [{"skill": "json_transform"}], "steps": [step], "root_hash": None, "finalized": False,
            "metadata": {}}


def test_golden_trace_opens_as_a_one_run_source(tmp_path, fixtures_dir):
    path = tmp_path / "golden_trace.json"
    shutil.copyfile(fixtures_dir / "golden_trace.json", path)
    source = open_source(path)
    try:
        assert source.info.kind == "trace record JSON"
        assert source.info.location == str(path.resolve())
        assert source.info.display_name == "golden_trace.json"
        assert source.info.capabilities == frozenset({Capability.RUNS, Capability.STEPS})
        assert Capability.ORPHANS not in source.info.capabilities
        (run,) = source.list_runs(RunFilter())
        assert (run.run_id, run.total_steps, run.success_count, run.failure_count) == ("frozen-trace-001", 2, 2, 0)
        assert [s.outcome_data.value for s in source.iter_steps(run.run_id)] == [
            {"transformed": True}, {"transformed": True, "sum": 5.85987447}]
        assert source.totals().steps == 2
    finally:
        source.close()


@pytest.mark.parametrize(("name", "run_id"), [("run-77.trace.json", "run-77"), ("nightly.json", "nightly"),
                                              ("odd-name.trace", "odd-name.trace"), (".trace.json", ".trace.json")])
def test_sdk_trace_file_takes_its_run_id_from_the_file_name(tmp_path, name, run_id):
    path = tmp_path / name
    path.write_text(json.dumps(sdk_doc(), sort_keys=True, separators=(",", ":")))
    source = open_json_trace(path)
    (run,) = source.list_runs(RunFilter())
    assert run.run_id == run_id
    assert source.info.kind == "SDK trace v1.1.0"
    assert source.info.notes == ("SDK traces carry hashes, not payloads",)
    step = source.get_step(run_id, 0)
    assert (step.status, step.status_raw, step.outcome_code) == (StepStatus.FAILURE, "failure", "E_X")
    assert step.params.value is MISSING and step.input_hash == "015abd7f5cc57a2d"
    assert (run.failure_count, run.status) == (1, "running")


@pytest.mark.parametrize("prefix", [b"\xef\xbb\xbf", b"\n\n  \t", b"\xef\xbb\xbf\r\n "])
def test_json_with_bom_or_leading_whitespace_is_recognised(tmp_path, fixtures_dir, prefix):
    path = tmp_path / "trace.json"
    path.write_bytes(prefix + (fixtures_dir / "golden_trace.json").read_bytes())
    source = open_source(path)
    assert source.count_runs(RunFilter()) == 1
