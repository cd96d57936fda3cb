"""Make a Postgres database of many runs with evidence (spec §3.7) for the grading benchmark.

    python benchmarks/load_grade_pg.py --url postgresql://postgres@127.0.0.1:PORT/postgres \\
        [--db bench_grade] [--runs 100000] [--force]

Creates the database NAME on the server of URL (``--force`` drops it first), makes the whole AOS
schema with :func:`drivers.pg_schema.create_schema` (traces, steps, ``runs``, the evidence tables,
upstream's indexes and triggers), and fills it on the server with ``INSERT … SELECT`` from a plan
table of one row per run (no rows cross the network), then ``VACUUM (FREEZE, ANALYZE)``. 100k runs
take about 100 s (2 shared cores, shared_buffers 128 MB).

What a run gets is a fixed function of its number (``hashint4extended``), in upstream's shapes:

* a worker trace ``trace_<run_id>`` with 1–9 steps (1 % have none), and for 1 % a second,
  SDK-posted trace ``sdk_<run_id>`` with 0–2 steps (so grading is per run id, not per trace);
* environment evidence (H) for 97 %; activity (B) and provider (G) evidence, one row per step with
  upstream's 1-based cursor indexes (§11.6), for the 85 % / ~81 % of runs that call a model;
  1–2 policy decisions (D) for 90 %;
* capture failures for 3 %: a provider failure where G is missing (WARN), an activity failure
  superseded by later B rows (WARN), an environment failure where H is missing (FAIL);
* an integrity record (J) for 90 %, with the verdict upstream would have stored, except 2 % of
  them sealed ``VALID`` with all six observed (stale: those not 6/6 now disagree with the grade).

At 100k runs: 78,764 PASS, 16,323 WARN, 4,913 FAIL (the loader prints the statuses its plan implies,
and ``trace-inspector grade`` finds the same); 0.5M steps, 0.8M B+G rows, 868 MB.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import psycopg
from load_pg import create_database, db_url, make_schema

#: One row per run: every decision the fills below read. ``h(k)`` is a stable hash of the run
#: number in 0–999 (a different one per k), so the tables agree on what each run has.
PLAN = """
CREATE TEMP TABLE plan AS
WITH base AS (
    SELECT g,
           'run_' || lpad(to_hex(g), 16, '0') AS run_id,
           (abs(hashint4extended(g, 1)) % 1000)::int AS h1, (abs(hashint4extended(g, 2)) % 1000)::int AS h2,
           (abs(hashint4extended(g, 3)) % 1000)::int AS h3, (abs(hashint4extended(g, 4)) % 1000)::int AS h4,
           (abs(hashint4extended(g, 5)) % 1000)::int AS h5, (abs(hashint4extended(g, 6)) % 1000)::int AS h6,
           (abs(hashint4extended(g, 7)) % 1000)::int AS h7
    FROM generate_series(1, {runs}) AS g
), decided AS (
    SELECT g, run_id,
           CASE WHEN h1 < 10 THEN 0 ELSE 1 + h1 % 9 END AS n_steps,
           h2 < 10 AS second_trace,
           h2 % 3 AS sdk_steps,
           CASE WHEN h3 < 10 THEN 1 WHEN h3 < 20 THEN 2 WHEN h3 < 30 THEN 3 ELSE 0 END AS failure,
           h4 < 970 AS env_captured,
           h5 < 850 AS calls_model,
           h5 < 810 AS provider_captured,
           CASE WHEN h6 < 100 THEN 0 ELSE 1 + h6 % 2 END AS n_decisions,
           h7 < 900 AS sealed,
           h7 < 18 AS sealed_stale,
           'tenant-' || (g % 20) AS tenant_id,
           'agent-' || (g % 7) AS agent_id,
           timestamptz '2026-10-01 00:00:00+00' + g * interval '7 seconds' AS started_at
    FROM base
), shaped AS (
    SELECT d.*,
           env_captured AND failure <> 3 AS has_env,
           calls_model AND n_steps > 0 AS has_b,
           provider_captured AND n_steps > 0 AND failure <> 1 AS has_g
    FROM decided d
), counted AS (
    SELECT s.*,
           (has_env::int + has_b::int + has_g::int + (n_decisions > 0)::int + 1
            + (n_steps > 0 OR (second_trace AND sdk_steps > 0))::int) AS observed
    FROM shaped s
)
SELECT c.*,
       array_remove(ARRAY[CASE WHEN has_env THEN 'environment_evidence' END,
                          CASE WHEN has_b THEN 'activity_evidence' END,
                          CASE WHEN has_g THEN 'provider_evidence' END,
                          CASE WHEN n_decisions > 0 THEN 'policy_decisions' END, 'aos_traces',
                          CASE WHEN n_steps > 0 OR (second_trace AND sdk_steps > 0) THEN 'aos_trace_steps' END],
                    NULL) AS observed_now,
       CASE WHEN NOT has_env OR NOT (n_steps > 0 OR (second_trace AND sdk_steps > 0)) THEN 'FAILED'
            WHEN failure IN (1, 2) THEN 'DEGRADED'
            WHEN observed >= 5 THEN 'VALID'
            ELSE 'DEGRADED' END AS status_now
FROM counted c
"""

FILLS = [
    ("runs", """
INSERT INTO runs (id, tenant_id, agent_id, goal, status, started_at, completed_at)
SELECT run_id, tenant_id, agent_id, 'benchmark run ' || g, 'completed', started_at, started_at + interval '5 seconds'
FROM plan"""),
    ("aos_traces", """
INSERT INTO aos_traces (trace_id, run_id, correlation_id, tenant_id, agent_id, seed, root_hash, schema_version,
                        plan, trace, metadata, status, started_at, completed_at, created_at)
SELECT 'trace_' || run_id, run_id, 'corr-' || g, tenant_id, agent_id, g, md5(run_id) || md5('root' || run_id), '1.0',
       '[{"skill": "llm_invoke"}, {"skill": "json_transform"}]'::jsonb, '{"steps": []}'::jsonb, NULL,
       CASE WHEN g % 11 = 0 THEN 'failed' ELSE 'completed' END, started_at, started_at + interval '5 seconds',
       started_at + interval '5 seconds'
FROM plan
UNION ALL
SELECT 'sdk_' || run_id, run_id, 'corr-' || g, tenant_id, agent_id, NULL, 'pending', '1.1',
       '[]'::jsonb, '{"steps": []}'::jsonb, '{"source": "sdk"}'::jsonb, 'completed', started_at,
       started_at + interval '6 seconds', started_at + interval '6 seconds'
FROM plan WHERE second_trace"""),
    ("aos_trace_steps", """
INSERT INTO aos_trace_steps (trace_id, step_index, skill_id, skill_name, params, status, outcome_category,
                             outcome_code, outcome_data, cost_cents, duration_ms, retry_count, replay_behavior,
                             "timestamp", level)
SELECT 'trace_' || p.run_id, i, 'skill.llm_invoke', 'skill.llm_invoke', jsonb_build_object('i', i, 'run', p.g),
       CASE WHEN (p.g + i) % 13 = 0 THEN 'failed' ELSE 'succeeded' END, 'execution', NULL,
       jsonb_build_object('out', i), 1.5, 120.0 + i, 0, 'execute', p.started_at + i * interval '1 second',
       CASE WHEN (p.g + i) % 13 = 0 THEN 'ERROR' ELSE 'INFO' END
FROM plan p CROSS JOIN LATERAL generate_series(0, p.n_steps - 1) AS i
UNION ALL
SELECT 'sdk_' || p.run_id, i, 'sdk.call', 'sdk.call', '{}'::jsonb, 'succeeded', 'execution', NULL, NULL, 0.0, 5.0, 0,
       'execute', p.started_at + i * interval '1 second', 'INFO'
FROM plan p CROSS JOIN LATERAL generate_series(0, p.sdk_steps - 1) AS i WHERE p.second_trace"""),
    ("environment_evidence", """
INSERT INTO environment_evidence (id, run_id, sdk_mode, sdk_version, environment, telemetry_enabled,
                                  telemetry_delivery_status, active_feature_flags, capture_confidence_score, created_at)
SELECT 'env_' || md5(run_id), run_id, 'inline', '1.1.0', CASE WHEN g % 50 = 0 THEN 'staging' ELSE 'production' END,
       true, 'delivered', ARRAY['evidence_v2'], 1.0, started_at
FROM plan WHERE has_env"""),
    ("activity_evidence", """
INSERT INTO activity_evidence (id, run_id, step_index, skill_id, model_name, prompt_fingerprint, prompt_token_length,
                               response_fingerprint, response_token_length, completion_type, sensitivity_class,
                               redaction_status, created_at)
SELECT 'act_' || md5(p.run_id || ':' || i), p.run_id, i, 'skill.llm_invoke', 'claude-sonnet',
       md5('prompt' || p.run_id || i) || md5('p2' || p.run_id || i), 400 + i,
       md5('response' || p.run_id || i) || md5('r2' || p.run_id || i), 200 + i, 'chat', 'internal', 'none',
       p.started_at + i * interval '1 second'
FROM plan p CROSS JOIN LATERAL generate_series(1, p.n_steps) AS i WHERE p.has_b"""),
    ("provider_evidence", """
INSERT INTO provider_evidence (id, run_id, step_index, provider_name, provider_request_id, model_name, model_version,
                               input_tokens, output_tokens, total_tokens, provider_latency_ms, provider_http_status,
                               requested_at, responded_at, created_at)
SELECT 'prov_' || md5(p.run_id || ':' || i), p.run_id, i, 'anthropic', 'req_' || md5(p.run_id || i), 'claude-sonnet',
       '2026-09', 400 + i, 200 + i, 600 + 2 * i, 800, 200, p.started_at + i * interval '1 second',
       p.started_at + i * interval '1 second' + interval '800 milliseconds', p.started_at + i * interval '1 second'
FROM plan p CROSS JOIN LATERAL generate_series(1, p.n_steps) AS i WHERE p.has_g"""),
    ("policy_decisions", """
INSERT INTO policy_decisions (id, run_id, policy_type, policy_rule_id, policy_version, decision, decision_reason,
                              decision_confidence, policies_evaluated, policy_results, evaluated_by, evaluated_at,
                              created_at)
SELECT 'pd_' || md5(p.run_id || ':' || k), p.run_id, CASE WHEN k = 1 THEN 'budget' ELSE 'content' END,
       'rule-' || k, 3, 'GRANTED', 'within limits', 1.0, ARRAY['budget', 'content'], 'PASS', 'policy_engine',
       p.started_at, p.started_at
FROM plan p CROSS JOIN LATERAL generate_series(1, p.n_decisions) AS k"""),
    ("evidence_capture_failures", """
INSERT INTO evidence_capture_failures (id, run_id, evidence_type, failure_reason, error_message, created_at, resolution)
SELECT 'ecf_' || md5(run_id), run_id,
       CASE failure WHEN 1 THEN 'provider_evidence' WHEN 2 THEN 'activity_evidence' ELSE 'environment_evidence' END,
       CASE failure WHEN 1 THEN 'provider_timeout' ELSE 'database_error' END,
       CASE failure WHEN 2 THEN 'deadlock detected; retried' ELSE 'could not write evidence' END,
       started_at + interval '2 seconds', CASE failure WHEN 2 THEN 'superseded' ELSE 'transient' END
FROM plan WHERE failure > 0"""),
    ("integrity_evidence", """
INSERT INTO integrity_evidence (id, run_id, expected_artifacts, observed_artifacts, missing_artifacts,
                                integrity_score, integrity_status, verification_method, verification_timestamp,
                                created_at)
SELECT 'ie_' || md5(run_id), run_id,
       ALL6,
       CASE WHEN sealed_stale THEN ALL6 ELSE observed_now END,
       CASE WHEN sealed_stale THEN ARRAY[]::text[] ELSE ARRAY(SELECT unnest(ALL6) EXCEPT SELECT unnest(observed_now)) END,
       CASE WHEN sealed_stale THEN 1.0 ELSE observed / 6.0 END,
       CASE WHEN sealed_stale THEN 'VALID' ELSE status_now END, 'evidence_count',
       started_at + interval '5 seconds', started_at + interval '5 seconds'
FROM plan WHERE sealed""".replace("ALL6", "ARRAY['activity_evidence', 'policy_decisions', 'provider_evidence', "
                               "'environment_evidence', 'aos_traces', 'aos_trace_steps']")),
]


def load(server_url: str, name: str, runs: int, force: bool) -> str:
    create_database(server_url, name, force)
    url = db_url(server_url, name)
    make_schema(url)
    t_all = time.perf_counter()
    with psycopg.connect(url) as conn:
        conn.execute("SET synchronous_commit = off")
        conn.execute(PLAN.format(runs=int(runs)))
        for table, stmt in FILLS:
            t0 = time.perf_counter()
            n = conn.execute(stmt).rowcount
            print(f"{table:<26} {n:>10,} rows  {time.perf_counter() - t0:6.1f} s", flush=True)
        grades = conn.execute("SELECT status_now, count(*) FROM plan GROUP BY 1 ORDER BY 1").fetchall()
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        t0 = time.perf_counter()
        conn.execute("VACUUM (FREEZE, ANALYZE)")
        size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
        print(f"{'vacuum (freeze, analyze)':<26} {'':>10}       {time.perf_counter() - t0:6.1f} s", flush=True)
    print(f"{runs:,} runs loaded into {name} ({size}) in {time.perf_counter() - t_all:.1f} s; expected "
          + ", ".join(f"{n:,} {s}" for s, n in grades))
    return url


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="postgresql://user@host:port/any_db of the server (may create databases)")
    ap.add_argument("--db", default="bench_grade", help="database to create (default bench_grade)")
    ap.add_argument("--runs", type=int, default=100_000, help="runs to make (default 100000)")
    ap.add_argument("--force", action="store_true", help="drop the database first if it exists")
    args = ap.parse_args(argv)
    load(args.url, args.db, args.runs, args.force)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
