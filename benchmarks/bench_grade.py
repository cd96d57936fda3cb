"""Benchmarks of integrity grading on Postgres (issue 4), each beside a floor measured in the same
run: plain psycopg running the very statements the evidence reader sends (caught from its engine).
Prints figures; asserts nothing.

    python benchmarks/load_grade_pg.py --url postgresql://postgres@127.0.0.1:PORT/postgres   # bench_grade
    python benchmarks/bench_grade.py --url postgresql://postgres@127.0.0.1:PORT/bench_grade

Measured (medians; the machine is shared, so read the ratios):

1. grade one run: ``PostgresTraceReader(url).evidence().facts(run_id)`` + ``evaluate``, warm (the
   reader open, a different run each time; median and p95 of ``--one``) and cold (a new reader:
   engine, connection, the catalogue read, then the run); target ≤ 30 ms warm. Beside it, psycopg
   on a connected session running the same statements for that run, ``run_evidence`` (what the
   Evidence panel reads: rows of every class, stored verdict, step-index alignment), and
   ``trace-inspector grade URL RUN --json`` in-process (opens its own source);
2. grade every run: ``grade_runs(all run ids)`` against the floor: the same grouped counts (one
   ``… WHERE run_id = ANY(%(ids)s) GROUP BY run_id`` per table per chunk, plus the failures select)
   sent by psycopg on one connection, same chunks, rows fetched and nothing else; target ≤ 3×.
   Alternated, ``--repeats`` times each. For information: ``source.run_ids(RunFilter())``,
   ``stored_verdicts`` of every run, ``count_runs(RunFilter(grade="FAIL"))`` (the grade as one SQL
   expression) and, once, the whole ``trace-inspector grade URL --json`` in-process.

``--profile`` adds a cProfile of one ``grade_runs`` (top functions by own time).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import psycopg
from bench_pg import Catch, load, ms
from paintwatch import median


def p95(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=20)[-1] if len(xs) >= 2 else xs[0]


def replay(conn: psycopg.Connection, statements: list[tuple[str, dict]], ids: list[str]) -> int:
    """Run each caught statement with ``ids`` as its ``ids`` parameter; fetch every row."""
    n = 0
    for stmt, params in statements:
        n += len(conn.execute(stmt, {**params, "ids": ids} if "ids" in params else params).fetchall())
    return n


def floor_all(url: str, statements: list[tuple[str, dict]], ids: list[str], chunk: int) -> tuple[float, list[float]]:
    """The grouped counts of every chunk through psycopg (connected before the clock starts);
    also the time of each statement summed over the chunks."""
    per = [0.0] * len(statements)
    with psycopg.connect(url) as conn:
        conn.execute("SELECT 1")
        t0 = time.perf_counter()
        for i in range(0, len(ids), chunk):
            part = ids[i:i + chunk]
            for k, (stmt, params) in enumerate(statements):
                t1 = time.perf_counter()
                conn.execute(stmt, {**params, "ids": part}).fetchall()
                per[k] += time.perf_counter() - t1
        total = time.perf_counter() - t0
        conn.rollback()
    return total, per


RESTARTS = [0]


def attempt(fn, *args, **kwargs):
    """``fn(*args)``, again if the shared dev server restarted under it (other sessions' tests
    restart it): the repetition is redone from the start and the restart counted and printed."""
    from inspector.errors import SourceUnavailable

    for tries in range(10):
        try:
            return fn(*args, **kwargs)
        except (SourceUnavailable, psycopg.OperationalError) as exc:
            if tries == 9:
                raise
            RESTARTS[0] += 1
            print(f"   (server went away: {str(exc)[:90]}…; redoing this repetition)", flush=True)
            time.sleep(3)
    return None


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    def once():
        t0 = time.perf_counter()
        value = fn(*args, **kwargs)
        return time.perf_counter() - t0, value

    return attempt(once)


def table_of(stmt: str) -> str:
    words = stmt.split()
    return words[words.index("FROM") + 1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", required=True, help="postgresql://… of the database load_grade_pg.py filled")
    ap.add_argument("--one", type=int, default=60, help="runs graded one at a time, warm (default 60)")
    ap.add_argument("--cold", type=int, default=5, help="runs graded each by a new reader (default 5)")
    ap.add_argument("--repeats", type=int, default=3, help="repetitions of grading every run (default 3)")
    ap.add_argument("--no-cli", action="store_true", help="skip the whole `grade URL --json` run")
    ap.add_argument("--profile", action="store_true", help="cProfile one grade_runs of every run")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    from drivers.evidence_reader import _PG
    from drivers.pg_reader import PostgresTraceReader
    from inspector.integrity import evaluate
    from inspector.model import RunFilter
    from ui import cli

    with psycopg.connect(args.url) as conn:
        counts = conn.execute(
            "SELECT (SELECT count(*) FROM aos_traces), (SELECT count(DISTINCT run_id) FROM aos_traces), "
            "(SELECT count(*) FROM aos_trace_steps), (SELECT count(*) FROM environment_evidence), "
            "(SELECT count(*) FROM activity_evidence), (SELECT count(*) FROM provider_evidence), "
            "(SELECT count(*) FROM policy_decisions), (SELECT count(*) FROM integrity_evidence), "
            "(SELECT count(*) FROM evidence_capture_failures), current_setting('server_version'), "
            "current_setting('shared_buffers'), pg_size_pretty(pg_database_size(current_database()))").fetchone()
    names = ("traces", "run ids", "steps", "H", "B", "G", "D", "J", "failures")
    print(f"{args.url}: PostgreSQL {counts[9]} (shared_buffers {counts[10]}), {counts[11]}; "
          + ", ".join(f"{n:,} {name}" for n, name in zip(counts[:9], names, strict=True))
          + f"; load average {load()}", flush=True)

    source = PostgresTraceReader(args.url)
    ev = source.evidence()
    rows: list[tuple[str, float, float | None, str, str]] = []

    # --- for information: the run ids of a filter, and the grade filter in SQL -----------------
    t_ids, t_fail = [], []
    for _ in range(args.repeats):
        t, ids = timed(source.run_ids, RunFilter())
        t_ids.append(t)
    ids.sort()
    for _ in range(args.repeats):
        t, n_fail = timed(source.count_runs, RunFilter(grade="FAIL"))
        t_fail.append(t)
    print(f"run_ids(RunFilter()): {len(ids):,} run ids in {ms(median(t_ids))}; "
          f"count_runs(grade=FAIL): {n_fail:,} traces in {ms(median(t_fail))}", flush=True)

    # The statements grading sends, caught from the reader's engine.
    catch = Catch(source.engine)
    ev.facts(ids[0])
    one_sql = catch.stop()
    catch = Catch(source.engine)
    ev.grade_runs(ids[:_PG.chunk])
    chunk_sql = catch.stop()
    assert len(chunk_sql) == len(one_sql), (len(chunk_sql), len(one_sql))

    # --- 1. one run -------------------------------------------------------------------------------
    rng = random.Random(args.seed)
    sample = rng.sample(ids, min(len(ids), args.one + args.cold + 5))
    cold_ids, warm_ids = sample[:args.cold], sample[args.cold:args.cold + args.one]
    def cold_one(rid: str) -> None:
        fresh = PostgresTraceReader(args.url)
        try:
            evaluate(fresh.evidence().facts(rid))
        finally:
            fresh.close()

    def floor_one_run(rid: str) -> None:
        with psycopg.connect(args.url) as conn:
            replay(conn, one_sql, [rid])  # connected and warm, like the reader's pooled session
            t0 = time.perf_counter()
            replay(conn, one_sql, [rid])
            floor_one.append(time.perf_counter() - t0)

    cold = [timed(cold_one, rid)[0] for rid in cold_ids]
    warm, floor_one, panel, cli_one = [], [], [], []
    devnull = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    attempt(ev.facts, warm_ids[-1])
    for rid in warm_ids:
        attempt(floor_one_run, rid)
        warm.append(timed(lambda rid=rid: evaluate(ev.facts(rid)))[0])
        panel.append(timed(ev.run_evidence, rid)[0])
    for rid in warm_ids[:10]:
        cli_one.append(timed(cli.main, ["grade", args.url, rid, "--json"], out=devnull)[0])
    print(f"1. one run, facts + evaluate: warm median {ms(median(warm))} (p95 {ms(p95(warm))}, max {ms(max(warm))}, "
          f"{len(one_sql)} statements); cold (new reader) median {ms(median(cold))}, first {ms(cold[0])}; "
          f"floor psycopg same statements {ms(median(floor_one))}", flush=True)
    print(f"   run_evidence (the panel) median {ms(median(panel))} (p95 {ms(p95(panel))}); "
          f"`grade URL RUN --json` in-process {ms(median(cli_one))}", flush=True)
    rows.append(("1. grade one run, warm (facts + evaluate)", median(warm), median(floor_one),
                 f"{median(warm) / median(floor_one):.1f}×", "≤ 30 ms"))
    rows.append(("   p95 warm", p95(warm), None, "", "—"))
    rows.append(("   cold: new reader + catalogue + run", median(cold), None, "", "—"))
    rows.append(("   run_evidence (Evidence panel)", median(panel), None, "", "—"))
    rows.append(("   `grade URL RUN --json` in-process", median(cli_one), None, "", "—"))

    # --- 2. every run -----------------------------------------------------------------------------
    ours, floors, per_sum = [], [], None
    graded: dict = {}
    for _ in range(args.repeats):
        t, per = attempt(floor_all, args.url, chunk_sql, ids, _PG.chunk)
        floors.append(t)
        per_sum = per if per_sum is None else [a + b for a, b in zip(per_sum, per, strict=True)]
        t, graded = timed(ev.grade_runs, ids)
        ours.append(t)
    t_stored, stored = timed(ev.stored_verdicts, ids)
    dist: dict[str, int] = {}
    for r in graded.values():
        dist[r.grade.value] = dist.get(r.grade.value, 0) + 1
    ratio = median(ours) / median(floors)
    print(f"2. grade_runs({len(ids):,} run ids): ours {ms(median(ours))} (min {ms(min(ours))}); floor psycopg "
          f"{len(chunk_sql)} statements × {-(-len(ids) // _PG.chunk)} chunks of {_PG.chunk:,} {ms(median(floors))} "
          f"(min {ms(min(floors))}); ratio {ratio:.2f}×; "
          + ", ".join(f"{n:,} {g}" for g, n in sorted(dist.items())), flush=True)
    print("   floor per statement (median over repeats, summed over chunks): "
          + ", ".join(f"{table_of(s)} {ms(t / args.repeats)}" for (s, _), t in zip(chunk_sql, per_sum, strict=True)),
          flush=True)
    print(f"   stored_verdicts of every run: {len(stored):,} in {ms(t_stored)}", flush=True)
    rows.append((f"2. grade_runs, {len(ids) // 1000}k runs", median(ours), median(floors), f"{ratio:.2f}×",
                 "≤ 3× floor"))
    rows.append(("   stored_verdicts, every run", t_stored, None, "", "—"))
    rows.append(("   run_ids(RunFilter())", median(t_ids), None, "", "—"))
    rows.append(("   count_runs(RunFilter(grade=FAIL))", median(t_fail), None, "", "—"))

    if not args.no_cli:
        for _ in range(3):  # the CLI reports a server that went away as exit 2: redo it
            t0 = time.perf_counter()
            code = cli.main(["grade", args.url, "--json"], out=devnull)
            t_cli = time.perf_counter() - t0
            if code != 2:
                break
            RESTARTS[0] += 1
            time.sleep(3)
        print(f"   `grade URL --json`, every run, in-process: {ms(t_cli)} (exit {code})", flush=True)
        rows.append(("   `grade URL --json`, every run, in-process", t_cli, None, "", "—"))
    devnull.close()

    if args.profile:
        def profiled():
            prof = cProfile.Profile()
            prof.enable()
            ev.grade_runs(ids)
            prof.disable()
            return prof

        prof = attempt(profiled)
        text = io.StringIO()
        pstats.Stats(prof, stream=text).sort_stats("tottime").print_stats(15)
        print("\n".join(line[:160] for line in text.getvalue().splitlines()[:45]))
    source.close()

    print(f"\nload average at the end {load()} ({os.cpu_count()} cores, shared); "
          f"{RESTARTS[0]} repetition(s) redone after the server went away")
    head = f"{'measurement':<46} {'ours':>11} {'floor':>11} {'ratio':>7}  target"
    print(head)
    print("-" * (len(head) + 14))
    for name, ours_v, floor_v, r, target in rows:
        floor_text = ms(floor_v) if floor_v is not None else "—"
        print(f"{name:<46} {ms(ours_v):>11} {floor_text:>11} {r:>7}  {target}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
