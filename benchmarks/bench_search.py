"""Search in step payloads on a large run, against a floor measured in the same run. Prints
figures; asserts nothing.

    python benchmarks/bench_search.py --db SCALE.db [--run RUN_ID] [--streamed]
                                      [--index-db SMALLER.db | --index-db SCALE.db]

For the run (default: the source's longest): the time to the first hit and to the end of a full
scan for a string that is absent, one that occurs once (a trace id taken from an error near the
end of the run) and a common word; the floor is sqlite3 reading the same columns of the same
run in step order into Python (what any scan in Python must at least do), and a bare SQL
``LIKE`` count (what the database alone takes). ``--streamed`` also times the path of a source
that cannot match in SQL (``iter_steps``, every step made into a ``Step``).

``--index-db``: build the full-text index of that file in a temporary cache folder (size
estimated first, then measured, with the build time) and time queries through it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drivers.search_index import SQLitePayloadIndex  # noqa: E402
from drivers.sqlite_reader import SQLiteTraceReader  # noqa: E402
from inspector.services.search import SEARCH_FIELDS, SearchQuery, search_index, search_run  # noqa: E402


def ro(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True)


def floor_read(db: Path, run_id: str) -> tuple[float, int]:
    conn = ro(db)
    t0 = time.perf_counter()
    n = 0
    for _row in conn.execute(f"SELECT step_index, run_id, {', '.join(SEARCH_FIELDS)} FROM trace_steps "
                             "WHERE run_id = ? ORDER BY step_index", (run_id,)):
        n += 1
    dt = time.perf_counter() - t0
    conn.close()
    return dt, n


def floor_like(db: Path, run_id: str, text: str) -> float:
    conn = ro(db)
    q = SearchQuery(text)
    cond = " OR ".join(f"{c} LIKE ?" for c in SEARCH_FIELDS for _ in q.like_patterns)
    t0 = time.perf_counter()
    conn.execute(f"SELECT COUNT(*) FROM trace_steps WHERE run_id = ? AND ({cond})",
                 (run_id, *[p for _c in SEARCH_FIELDS for p in q.like_patterns])).fetchone()
    dt = time.perf_counter() - t0
    conn.close()
    return dt


def timed(hits) -> tuple[float | None, float, int]:
    t0 = time.perf_counter()
    first = None
    n = 0
    for _h in hits:
        if first is None:
            first = time.perf_counter() - t0
        n += 1
    return first, time.perf_counter() - t0, n


class Streamed:
    """The source seen without its SQL scan: ``search_run`` reads it with ``iter_steps``."""

    def __init__(self, reader: SQLiteTraceReader) -> None:
        self._r = reader

    def count_steps(self, key):
        return self._r.count_steps(key)

    def iter_steps(self, key):
        return self._r.iter_steps(key)


def rare_text(db: Path, run_id: str, total: int) -> str:
    conn = ro(db)
    row = conn.execute("SELECT outcome_data FROM trace_steps WHERE run_id = ? AND step_index >= ? "
                       "AND outcome_data LIKE '%\"trace_id\"%' ORDER BY step_index LIMIT 1",
                       (run_id, int(total * 0.9))).fetchone()
    if row is None:  # a short run: any error's trace id
        row = conn.execute("SELECT outcome_data FROM trace_steps WHERE outcome_data LIKE '%\"trace_id\"%' "
                           "ORDER BY rowid DESC LIMIT 1").fetchone()
    conn.close()
    m = re.search(r'"trace_id": "([0-9a-f]{16,})"', row[0] if row else "")
    return m.group(1) if m else "a-needle-that-is-not-there"


def fmt(x: float | None) -> str:
    return "—" if x is None else f"{x * 1000:,.0f} ms"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", required=True, type=Path)
    p.add_argument("--run", help="the run searched (default: the longest)")
    p.add_argument("--common", default="request", help="a word most steps hold (default 'request')")
    p.add_argument("--streamed", action="store_true", help="also time the iter_steps path")
    p.add_argument("--index-db", type=Path, help="build and query the full-text index of this file")
    args = p.parse_args()

    run_id = args.run or ro(args.db).execute(
        "SELECT run_id FROM trace_steps GROUP BY run_id ORDER BY COUNT(*) DESC LIMIT 1").fetchone()[0]
    reader = SQLiteTraceReader(args.db)
    total = reader.count_steps(run_id)
    print(f"run {run_id}: {total:,} steps; fields searched: {', '.join(SEARCH_FIELDS)}")
    floor, n = floor_read(args.db, run_id)
    print(f"floor: sqlite3 reads the run's {len(SEARCH_FIELDS)} fields into Python in step order: {fmt(floor)} "
          f"({n:,} rows)")
    rare = rare_text(args.db, run_id, total)
    for label, text in (("absent", "zq-absent-zq"), ("rare", rare), ("common", args.common)):
        like = floor_like(args.db, run_id, text)
        first, full, hits = timed(search_run(reader, run_id, text))
        print(f"{label:7} {text!r}: {hits:,} hits; first hit {fmt(first)}, full scan {fmt(full)} "
              f"= {full / floor:.2f}× the floor read (bare SQL LIKE count: {fmt(like)}, {full / like:.1f}×)")
        if args.streamed and label != "common":
            first, full, hits = timed(search_run(Streamed(reader), run_id, text))
            print(f"        streamed (iter_steps): {hits:,} hits; first hit {fmt(first)}, full scan {fmt(full)} "
                  f"= {full / floor:.2f}× the floor read")
    reader.close()

    if args.index_db is not None:
        with tempfile.TemporaryDirectory(prefix="bench-search-") as cache:
            index = SQLitePayloadIndex(args.index_db, cache)
            conn = ro(args.index_db)
            steps = conn.execute("SELECT COUNT(*) FROM trace_steps").fetchone()[0]
            conn.close()
            t0 = time.perf_counter()
            estimate = index.estimate()
            t_est = time.perf_counter() - t0
            print(f"index of {args.index_db.name} ({os.path.getsize(args.index_db) / 1e6:,.0f} MB, {steps:,} steps): "
                  f"estimate {estimate / 1e6:,.0f} MB (in {fmt(t_est)})")
            t0 = time.perf_counter()
            status = index.build()
            t_build = time.perf_counter() - t0
            print(f"  built in {t_build:,.1f} s: {status.size_bytes / 1e6:,.0f} MB "
                  f"({status.size_bytes / max(estimate, 1):.2f}× the estimate), {steps / t_build:,.0f} steps/s")
            conn = ro(args.index_db)
            big = conn.execute("SELECT run_id FROM trace_steps GROUP BY run_id ORDER BY COUNT(*) DESC LIMIT 1").fetchone()[0]
            conn.close()
            rare = rare_text(args.index_db, big, 1)
            for label, text in (("absent", "zq-absent-zq"), ("rare", rare), ("error code", "ERR_TIMEOUT"),
                                ("common", args.common)):
                first, full, hits = timed(search_index(index, text, limit=1000))
                print(f"  query {label:10} {text!r}: first hit {fmt(first)}, first 1,000 hits {fmt(full)} ({hits:,})")
            print(json.dumps({"index_mb": round(status.size_bytes / 1e6, 1), "build_s": round(t_build, 1)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
