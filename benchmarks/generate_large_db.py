"""Build a large upstream-shaped ``traces.db`` for the performance benchmarks.

Everything goes through :class:`drivers.sqlite_writer.SQLiteTraceWriter` (one transaction per
batch of runs, ``synchronous=OFF``), so the file is what upstream's ``SQLiteTraceStore`` writes,
only bigger. Payloads come from the demo's :class:`drivers.demo.recipe.PayloadFactory`, with skewed sizes
(most small, a long tail): ``params`` about 200 B–2 KB, ``outcome_data`` about 100 B–4 KB, both
times ``--payload-scale``. One run has ``--big-run-steps`` steps (included in ``--steps``).

    python benchmarks/generate_large_db.py --out benchmarks/data/large.db
    python benchmarks/generate_large_db.py --out /tmp/small.db --runs 2000 --steps 40000 --big-run-steps 10000
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from drivers.demo.recipe import (
    AGENT_SKILLS,
    AGENTS,
    BASE_TIME,
    PERMANENT_ERRORS,
    TENANTS,
    TRANSIENT_ERRORS,
    PayloadFactory,
    ScriptedClock,
    correlation_id_from,
    run_id_from,
    skewed_size,
)
from drivers.sqlite_writer import SQLiteTraceWriter, StepInput

_STATUSES = ("completed", "failed", "timeout", "error", "aborted", None)  # None: still running
_STATUS_WEIGHTS = (85, 8, 2, 1, 1, 3)
_DURATION = {"skill.llm_invoke": (7.4, 0.6), "skill.http_call": (5.2, 0.8), "skill.webhook_send": (5.0, 0.7),
             "skill.email_send": (5.8, 0.5), "skill.postgres_query": (3.4, 1.0)}


def step_counts(rng: random.Random, runs: int, steps: int, big: int) -> list[int]:
    """Steps per run, summing to ``steps``: run 0 gets ``big``, the others a skewed share (≥ 1)."""
    if runs < 1 or big > steps:
        raise SystemExit("need at least one run, and --big-run-steps ≤ --steps")
    rest, others = steps - big, runs - 1
    if others == 0:
        return [steps]
    if rest < others:
        raise SystemExit(f"--steps leaves {rest} steps for {others} other runs: each needs at least one")
    weights = [rng.lognormvariate(0, 0.9) for _ in range(others)]
    scale = (rest - others) / sum(weights)
    counts = [1 + int(w * scale) for w in weights]
    short = rest - sum(counts)
    for i in rng.sample(range(others), short) if short <= others else range(others):
        counts[i] += 1
    counts[-1] += rest - sum(counts)  # absorbs anything left when short > others (never in practice)
    return [big, *counts]


class LargeDbBuilder:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.pf = PayloadFactory(self.rng)
        self.clock = ScriptedClock()
        self.scale = args.payload_scale

    def sizes(self) -> tuple[int, int]:
        r, k = self.rng, self.scale
        return int(skewed_size(r, 200, 2000) * k), int(skewed_size(r, 100, 4000) * k)

    def steps_for(self, run_id: str, agent: str | None, first: int, n: int, status: str | None, start: datetime,
                  replay_of: list[StepInput] | None = None) -> tuple[list[StepInput], list[datetime], datetime]:
        """Steps ``first … first+n-1`` of a run; the last one carries the run's fate (``status``)."""
        r, pf = self.rng, self.pf
        skills = AGENT_SKILLS[agent]
        out: list[StepInput] = []
        times: list[datetime] = []
        t = start
        if replay_of is not None:  # ReplayEngine: same indexes, skills and params, mocked outcomes
            for s in replay_of[first:first + n]:
                d = round(r.uniform(0.05, 2.0), 3)
                t += timedelta(milliseconds=d + 0.5)
                out.append(StepInput(run_id, s.step_index, s.skill_name, s.params, "success", "SUCCESS", None,
                                     {"mock": True}, 0.0, d, 0))
                times.append(t)
            return out, times, t
        retrying = False
        for i in range(first, first + n):
            skill = skills[i % len(skills)] if not retrying else out[-1].skill_name
            p_size, o_size = self.sizes()
            params = out[-1].params if retrying else pf.sized_params(skill, p_size)
            mu, sigma = _DURATION.get(skill, (1.5, 0.9))
            d = round(r.lognormvariate(mu, sigma), 3)
            cost = round(d * 0.0004, 4) if skill == "skill.llm_invoke" else 0.01
            last = i == first + n - 1
            if last and status is None:
                st, cat, code, data, d, cost, retry = "running", "PENDING", None, None, 0.0, 0.0, 0
            elif last and status in ("failed", "timeout", "error", "aborted"):
                code, msg = ("ERR_TIMEOUT", "deadline exceeded") if status == "timeout" else r.choice(PERMANENT_ERRORS)
                cat = "TRANSIENT" if status == "timeout" else "PERMANENT"
                st, data, retry = "failure", pf.failure_outcome(code, msg, cat), 0
            elif not last and not retrying and r.random() < 0.03:
                code, msg = r.choice(TRANSIENT_ERRORS)
                st, cat, data, retry = "retry", "TRANSIENT", pf.failure_outcome(code, msg, "TRANSIENT"), 0
            else:
                st, cat, code, data, retry = "success", "SUCCESS", None, pf.sized_outcome(skill, o_size), int(retrying)
            retrying = st == "retry"
            t += timedelta(milliseconds=d + r.uniform(1, 40))
            out.append(StepInput(run_id, i, skill, params, st, cat, code, data, cost, d, retry))
            times.append(t)
        return out, times, t

    def run(self) -> None:
        a = self.args
        out = Path(a.out)
        if out.exists():
            if not a.force:
                raise SystemExit(f"{out} exists (use --force to replace it)")
            out.unlink()
        for suffix in ("-journal", "-wal", "-shm"):
            Path(str(out) + suffix).unlink(missing_ok=True)
        rng = self.rng
        counts = step_counts(rng, a.runs, a.steps, a.big_run_steps)
        big_pos = rng.randrange(a.runs)
        counts[0], counts[big_pos] = counts[big_pos], counts[0]
        total_steps = sum(counts)
        gap = 90 * 86_400 / max(1, a.runs)  # spread over about 90 days
        writer = SQLiteTraceWriter(out, clock=self.clock, synchronous="OFF")
        t0 = time.perf_counter()
        last_print = t0
        done_steps = done_runs = 0
        start = BASE_TIME
        recent: list[tuple[str, str, str | None, list, list[StepInput]]] = []
        orphan_at = set(rng.sample([i for i in range(a.runs) if i != big_pos], min(a.orphans, a.runs - 1)))
        orphans: list[str] = []
        try:
            for b0 in range(0, a.runs, a.batch_runs):
                with writer.bulk():
                    writer.execute_raw(f"PRAGMA cache_size=-{a.cache_mb * 1024}")
                    for i in range(b0, min(a.runs, b0 + a.batch_runs)):
                        start += timedelta(seconds=rng.expovariate(1 / gap))
                        n = counts[i]
                        rid = run_id_from(rng)
                        tenant = rng.choice(TENANTS)
                        replay_src = None
                        pick = rng.choice(recent) if recent and rng.random() < a.replay_rate else None
                        if i != big_pos and pick is not None and len(pick[4]) >= n:
                            # A replay copies its original's first n steps (all of them: completed).
                            orig_id, tenant, agent, plan, replay_src = pick
                            status = "completed" if len(replay_src) == n else "timeout"
                            meta = {"replay_of": orig_id, "dry_run": rng.random() < 0.3,
                                    "verify_parity": rng.random() < 0.7}
                        else:
                            agent = "agent-data-sync" if i == big_pos else rng.choice(AGENTS)
                            status = rng.choices(_STATUSES, weights=_STATUS_WEIGHTS)[0] if i != big_pos else "completed"
                            meta = None
                            plan = [{"step_id": f"s{k + 1}", "skill": s, "params": {},
                                     "depends_on": [f"s{k}"] if k else [], "on_error": "abort"}
                                    for k, s in enumerate(AGENT_SKILLS[agent])]
                        self.clock.feed(start)
                        writer.start_trace(rid, correlation_id_from(rng), tenant, agent, plan)
                        t = start
                        for c0 in range(0, n, a.step_batch):
                            c = min(a.step_batch, n - c0)
                            steps, times, t = self.steps_for(rid, agent, c0, c, status if c0 + c == n else "completed",
                                                             t, replay_src)
                            self.clock.feed_many(times)
                            writer.record_steps(steps)
                            done_steps += len(steps)
                            if replay_src is None and i != big_pos and c0 == 0 and rng.random() < 0.02:
                                recent.append((rid, tenant, agent, plan, steps))
                                if len(recent) > 50:
                                    recent.pop(0)
                        if status is not None:
                            self.clock.feed(t + timedelta(milliseconds=rng.uniform(1, 30)))
                            writer.complete_trace(rid, status, meta)
                        if i in orphan_at:
                            orphans.append(rid)
                        done_runs += 1
                        now = time.perf_counter()
                        if now - last_print >= 2 or (i == big_pos and n > 10_000):
                            last_print = now
                            rate = done_steps / (now - t0)
                            eta = (total_steps - done_steps) / rate if rate else 0
                            print(f"  {done_runs:,}/{a.runs:,} runs, {done_steps:,}/{total_steps:,} steps, "
                                  f"{rate:,.0f} steps/s, ETA {eta:,.0f} s", file=sys.stderr, flush=True)
            with writer.bulk():
                for rid in orphans:  # upstream's delete_trace leaves the steps behind
                    writer.delete_trace(rid)
        finally:
            writer.close()
        elapsed = time.perf_counter() - t0
        size = out.stat().st_size
        print(f"wrote {out}: {a.runs:,} runs ({len(orphans)} deleted, leaving orphan steps), "
              f"{done_steps:,} steps (big run {a.big_run_steps:,}), seed {a.seed}, payload scale {a.payload_scale}")
        print(f"elapsed {elapsed:,.1f} s; {(a.runs + done_steps) / elapsed:,.0f} rows/s "
              f"({done_steps / elapsed:,.0f} steps/s); file {size / 1e6:,.1f} MB "
              f"({size / max(1, done_steps):,.0f} B/step)")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="database file to create")
    p.add_argument("--runs", type=int, default=100_000, help="number of runs (default 100,000)")
    p.add_argument("--steps", type=int, default=2_000_000,
                   help="total steps, the big run's included (default 2,000,000)")
    p.add_argument("--big-run-steps", type=int, default=100_000, help="steps of the one big run (default 100,000)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--payload-scale", type=float, default=1.0, help="multiply payload sizes (default 1.0)")
    p.add_argument("--replay-rate", type=float, default=0.005, help="share of runs that are replays (default 0.005)")
    p.add_argument("--orphans", type=int, default=20, help="runs deleted at the end, leaving orphan steps")
    p.add_argument("--batch-runs", type=int, default=500, help="runs per transaction")
    p.add_argument("--step-batch", type=int, default=10_000, help="steps per record_steps call")
    p.add_argument("--cache-mb", type=int, default=256, help="SQLite page cache while writing")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    main_args = p.parse_args(argv)
    LargeDbBuilder(main_args).run()


if __name__ == "__main__":
    main()
