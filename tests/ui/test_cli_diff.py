"""``trace-inspector diff`` on real SQLite files, a trace JSON file and Postgres: the three operand
forms, exit codes, upstream's ParityResult keys, ignore rules, and the replay's original found
through ``metadata.replay_of``."""

from __future__ import annotations

import io
import json
import shutil

import pytest

from drivers.sqlite_writer import SQLiteTraceWriter, StepInput
from inspector.hashing import hash_output
from tests.pgutil import TraceBuilder
from tests.ui.replay_dbs import insert_run
from ui.cli import main


def run_cli(*args: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(args), out=out)
    return code, out.getvalue()


def write_run(w: SQLiteTraceWriter, run_id: str, outputs, *, skills=None, metadata=None, params=None):
    w.start_trace(run_id, f"corr-{run_id}", "tenant-a", "agent-1", [{"skill": "s"}])
    skills = skills or ["json_transform"] * len(outputs)
    w.record_steps(StepInput(run_id=run_id, step_index=i, skill_name=skills[i],
                             params=(params[i] if params else {"i": i}), status="success",
                             outcome_category="SUCCESS", outcome_code=None, outcome_data=out, cost_cents=1.0,
                             duration_ms=float(i)) for i, out in enumerate(outputs))
    w.complete_trace(run_id, "completed", metadata)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "traces.db"
    with SQLiteTraceWriter(path) as w:
        write_run(w, "orig", [{"v": 0}, {"v": 1, "request_id": "a"}, {"v": 2}])
        write_run(w, "same", [{"v": 0}, {"v": 1, "request_id": "a"}, {"v": 2}], metadata={"replay_of": "orig"})
        write_run(w, "noisy", [{"v": 0}, {"v": 1, "request_id": "b"}, {"v": 2}], metadata={"replay_of": "orig"})
        write_run(w, "dropped", [{"v": 0}, {"v": 2}], skills=["json_transform", "json_transform"])
    return path


def test_a_replay_found_through_replay_of_with_parity(db):
    code, text = run_cli("diff", str(db), "same")
    assert code == 0
    assert "Original  orig" in text and "Replay    same" in text
    assert "Upstream verdict: parity" in text and "Parity holds" in text


def test_a_changed_output_breaks_parity_unless_ignored(db):
    code, text = run_cli("diff", str(db), "orig", "noisy")
    assert code == 1
    assert "Upstream verdict: parity" in text  # outcome_data is in no upstream signature
    assert "/outcome_data/request_id: 'a' → 'b'" in text and "Parity broken" in text
    code, text = run_cli("diff", str(db), "orig", "noisy", "--ignore", "/outcome_data/request_id", "--json")
    assert code == 0
    doc = json.loads(text)
    assert doc["parity_broken"] is False and doc["counts"]["equal"] == 3
    assert doc["rows"][1]["absorbed"][0] == {"pointer": "/outcome_data/request_id", "op": "changed", "left": "a",
                                             "right": "b", "rule": "ignored by user rule /outcome_data/request_id"}
    assert "ignored by user rule: /outcome_data/request_id" in doc["rules"]


def test_a_rule_that_absorbs_nothing_upstream_counts_does_not_overrule_its_verdict(db):
    # Replays that numbered their steps from 1: upstream's signature differs (step_index is hashed)
    # while the steps align by skill name; "ts" also has a timestamp in its params.
    with SQLiteTraceWriter(db) as w:
        for run, extra in (("shifted", {}), ("shifted-ts", {"ts": 123})):
            w.start_trace(run, f"corr-{run}", "tenant-a", "agent-1", [{"skill": "s"}])
            w.record_steps(StepInput(run_id=run, step_index=i + 1, skill_name="json_transform",
                                     params={"i": i, **extra}, status="success", outcome_category="SUCCESS",
                                     outcome_code=None, outcome_data=out, cost_cents=1.0, duration_ms=0.0)
                           for i, out in enumerate([{"v": 0}, {"v": 1, "request_id": "z"}, {"v": 2}]))
            w.complete_trace(run, "completed", {"replay_of": "orig"})
    code, text = run_cli("diff", str(db), "shifted")
    assert code == 1 and "Upstream verdict: NO parity at position 0" in text
    # a rule about outputs explains none of upstream's verdict: it still stands
    code, text = run_cli("diff", str(db), "shifted", "--ignore", "/outcome_data/request_id")
    assert code == 1 and "Parity broken" in text
    # a rule on a field upstream hashes can explain its verdict: then the aligned steps decide
    code, text = run_cli("diff", str(db), "shifted-ts", "--ignore", "/outcome_data/request_id", "--ignore",
                         "/params/ts", "--json")
    doc = json.loads(text)
    assert doc["is_parity"] is False and doc["counts"]["equal"] == 3
    assert code == 0 and doc["parity_broken"] is False


def test_json_has_upstreams_parity_keys_and_our_alignment(db):
    code, text = run_cli("diff", str(db), "orig", "dropped", "--json")
    assert code == 1
    doc = json.loads(text)
    assert list(doc)[:5] == ["is_parity", "original_signature", "replay_signature", "divergence_step",
                             "divergence_reason"]
    # the first two steps hash alike (outcome_data is not hashed): upstream sees the count differ
    assert (doc["is_parity"], doc["divergence_step"], doc["divergence_reason"]) == (False, 2, "step count: 3 vs 2")
    assert doc["left"]["steps"] == 3 and doc["right"]["steps"] == 2
    assert doc["first_divergence"]["kind"] in ("changed", "only-left")
    assert len(doc["original_signature"]) == 32


def test_two_sources_a_database_and_a_trace_file(db, tmp_path, fixtures_dir):
    golden = fixtures_dir / "golden_trace.json"
    code, text = run_cli("diff", str(golden), "frozen-trace-001", str(golden), "frozen-trace-001", "--json")
    assert code == 0 and json.loads(text)["original_signature"] == "f376998a5ed844781b9d85694efee108"
    other = tmp_path / "copy.db"
    shutil.copy(db, other)
    code, text = run_cli("diff", str(db), "orig", str(other), "same")
    assert code == 0


def test_usage_errors(db, capsys):
    assert run_cli("diff", str(db), "orig")[0] == 2  # not a replay
    assert "is not a replay" in capsys.readouterr().err
    assert run_cli("diff", str(db), "orig", "same", "--ignore", "outcome_data")[0] == 2
    assert run_cli("diff", str(db), "orig", "nope")[0] == 2


def test_an_empty_ignore_pointer_is_refused_not_a_rule_that_ignores_everything(db, capsys):
    # "" points at the whole step: every pair would be equal and a broken replay would pass
    # (an unset shell variable, `--ignore "$RULE"`, writes exactly this).
    capsys.readouterr()
    assert run_cli("diff", str(db), "orig", "dropped", "--ignore", "")[0] == 2
    assert "--ignore" in capsys.readouterr().err


def test_postgres_replay_against_its_original(pg_url):
    b = TraceBuilder(pg_url)
    try:
        b.trace("pg-orig", statuses=("succeeded", "succeeded"))
        b.trace("pg-replay", statuses=("succeeded", "failed"), metadata={"replay_of": "pg-orig"})
    finally:
        b.close()
    code, text = run_cli("diff", pg_url, "pg-replay", "--json")
    assert code == 1
    doc = json.loads(text)
    assert doc["divergence_step"] == 1 and doc["divergence_reason"] == "status: succeeded vs failed"
    assert doc["left"]["trace_id"] == "trace_pg-orig"
    assert any("reads every unknown status as success" in n for n in doc["notes"])
    assert not any("§" in n for n in doc["notes"])


def test_replay_check_in_memory_and_on_redis(pg_url, redis_url):
    import uuid

    import redis as redis_py

    tenant = f"t-{uuid.uuid4().hex[:8]}"
    insert_run(pg_url, "rc-orig", tenant, [("execute", "k0", {"v": 0}), ("execute", "k1", {"v": 1}),
                                        ("execute", None, {"v": 2})])
    insert_run(pg_url, "rc-replay", tenant, [("skip", "k0", {"v": 0}), ("check", None, {"v": 99}),
                                          ("check", None, {"v": 2})], metadata={"replay_of": "rc-orig"})
    code, text = run_cli("replay-check", pg_url, "rc-replay", "--json")
    assert code == 1
    doc = json.loads(text)
    assert [s["outcome"] for s in doc["steps"]] == ["skipped from cache", "mismatch", "checked"]
    assert doc["upstream_stop"] == 1 and doc["cache"] == "memory" and doc["original"]["run_id"] == "rc-orig"
    code, text = run_cli("replay-check", pg_url, "rc-replay", "--redis", redis_url, "--seed-cache")
    assert code == 1
    assert "cache: redis" in text and "Replay check FAILED" in text
    client = redis_py.Redis.from_url(redis_url)
    try:
        stored = json.loads(client.get(f"aos:idempotency:{tenant}:k0"))
        assert stored == {"output_data": {"v": 0}, "output_hash": hash_output({"v": 0}), "step_index": 0}
        assert 0 < client.ttl(f"aos:idempotency:{tenant}:k0") <= 86400
        client.delete(f"aos:idempotency:{tenant}:k0", f"aos:idempotency:{tenant}:k1")
    finally:
        client.close()


def test_replay_check_says_when_redis_is_unreachable(pg_url, capsys):
    insert_run(pg_url, "rc2-orig", "t", [("execute", "k", {"v": 0})])
    insert_run(pg_url, "rc2", "t", [("check", "k", {"v": 0})], metadata={"replay_of": "rc2-orig"})
    code, text = run_cli("replay-check", pg_url, "rc2", "--redis", "redis://127.0.0.1:1/0")
    assert code == 0 and "Redis unreachable" in text and "checked (cache hit, not verified)" in text
    assert "Redis unreachable" in capsys.readouterr().err
    # In a real process (pytest captures logging itself) it is said once, not again by the driver's log.
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "ui.cli", "replay-check", pg_url, "rc2", "--redis",
                           "redis://127.0.0.1:1/0"], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0 and proc.stderr.count("Redis unreachable") == 1, proc.stderr


def test_worker_processes_give_the_same_output_as_one_process(db, monkeypatch):
    import ui.cli

    monkeypatch.setattr(ui.cli, "_DIFF_PARALLEL_MIN_STEPS", 0)
    used = []
    real = ui.cli._diff_digests
    monkeypatch.setattr(ui.cli, "_diff_digests", lambda sides: used.append(real(sides)) or used[-1])
    outputs = {}
    for workers in ("2", "0"):
        monkeypatch.setenv("TRACE_INSPECTOR_DIFF_WORKERS", workers)
        outputs[workers] = [run_cli("diff", str(db), *ops) for ops in (["noisy"], ["orig", "dropped", "--json"])]
    assert used[0] is not None and used[-1] is None  # the first runs did use the workers
    assert outputs["2"] == outputs["0"]
    assert outputs["2"][0][0] == 1 and '"only-left": 1' in outputs["2"][1][1]
