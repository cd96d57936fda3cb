"""Idempotency checks per second against a local Redis: one round trip per check vs pipelined.

    source /tmp/pgdev/env.sh   # or any Redis URL in TRACE_INSPECTOR_REDIS_URL
    .venv/bin/python benchmarks/bench_idempotency.py [--keys 10000] [--chunk 1000] [--repeat 3] [--url URL]

Each round makes ``--keys`` checks of fresh keys (each answers ``new``: the script writes the hash
and sets its TTL) and then the same keys again (each answers ``duplicate``: read only), once with
``RedisIdempotencyStore.check`` per key and once with ``check_many`` (``--chunk`` checks per
round trip), then ``states`` of every key. Keys live under a prefix of this run's own and are
deleted afterwards. Prints the best of ``--repeat`` rounds. Target: ≥ 5,000 checks/s pipelined.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivers.redis_store import RedisIdempotencyStore, display_url
from inspector.idempotency import CheckRequest


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def drop(store: RedisIdempotencyStore) -> None:
    keys = list(store.client.scan_iter(match=f"{store.prefix}:*", count=5000))
    for i in range(0, len(keys), 5000):
        store.client.delete(*keys[i:i + 5000])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", default=os.environ.get("TRACE_INSPECTOR_REDIS_URL"))
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not args.url:
        parser.error("no Redis URL: pass --url or set TRACE_INSPECTOR_REDIS_URL")
    n = args.keys
    best: dict[str, float] = {}
    for _ in range(args.repeat):
        for mode in ("one by one", "pipelined"):
            with RedisIdempotencyStore(args.url, f"bench-idem-{uuid.uuid4().hex[:10]}",
                                       chunk_size=args.chunk) as store:
                items = [CheckRequest(f"key-{i}", f"{i:064x}", "bench", f"trace-{i}") for i in range(n)]
                store.client.ping()  # connect outside the timing
                try:
                    if mode == "one by one":
                        def run(items=items, store=store):
                            for r in items:
                                store.check(r.idempotency_key, r.request_hash, r.tenant_id, r.trace_id)
                        states = None
                    else:
                        def run(items=items, store=store):
                            store.check_many(items)
                        keys = [(r.idempotency_key, r.tenant_id) for r in items]
                        states = timed(lambda keys=keys, store=store: store.states(keys))
                    for phase, seconds in (("new", timed(run)), ("duplicate", timed(run))):
                        name = f"{mode}, {phase}"
                        best[name] = max(best.get(name, 0.0), n / seconds)
                    if states is not None:
                        best["pipelined, states"] = max(best.get("pipelined, states", 0.0), n / states)
                    assert all(r.is_duplicate for r in store.check_many(items[:10]))
                finally:
                    drop(store)
    print(f"Redis {display_url(args.url)}, {n:,} keys, chunk {args.chunk}, best of {args.repeat}")
    for name, rate in best.items():
        print(f"  {name:<26} {rate:>10,.0f} checks/s" if "states" not in name
              else f"  {name:<26} {rate:>10,.0f} keys/s")
    pipelined = min(best["pipelined, new"], best["pipelined, duplicate"])
    print(f"  pipelined ÷ one by one: {pipelined / max(best['one by one, new'], best['one by one, duplicate']):.1f}×"
          f"; target ≥ 5,000 checks/s pipelined: {'met' if pipelined >= 5000 else 'NOT met'}")
    return 0 if pipelined >= 5000 else 1


if __name__ == "__main__":
    raise SystemExit(main())
