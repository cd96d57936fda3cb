"""``make fuzz``: a longer fuzzing campaign of the command line than the test suite's, with a random
seed (printed: ``--seed N`` replays it).

    python -m tests.fuzz.campaign [--seed N] [--db-bytes N] [--db-values N] [--json N] [--timeout S]

Prints the inputs tried and the tracebacks, hangs, files changed or added beside a source, and
errors not on one line or not naming the file, each with its first examples; exit 1 if any.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import stat
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["main"]


def _fixtures() -> Path:
    here = Path(__file__).resolve()
    for shared in (here.parents[3] / "shared", here.parents[2].parent / "shared"):
        if (shared / "fixtures" / "aos").is_dir():
            return shared / "fixtures" / "aos"
    raise SystemExit("fuzz: the upstream fixtures (shared/fixtures/aos) are not found")


def remove_tree(folder: Path) -> None:
    """Remove a mutant's folder, read-only ones too."""
    for root, dirs, _files in os.walk(folder):
        for d in dirs:
            p = os.path.join(root, d)
            if not os.path.islink(p):
                os.chmod(p, stat.S_IRWXU)
    os.chmod(folder, stat.S_IRWXU)
    shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="make fuzz", description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=None, help="replay this campaign (default: a random seed)")
    ap.add_argument("--db-bytes", type=int, default=250, help="byte-level SQLite mutants")
    ap.add_argument("--db-values", type=int, default=250, help="value-level SQLite mutants")
    ap.add_argument("--json", type=int, default=300, help="trace JSON mutants")
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds before an invocation counts as a hang")
    ap.add_argument("--examples", type=int, default=5, help="examples printed of each kind of failure")
    ap.add_argument("-v", "--verbose", action="store_true", help="print each mutant's name")
    args = ap.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**32)
    print(f"seed: {seed}  (replay: make fuzz FUZZ_ARGS='--seed {seed}')", flush=True)

    home = Path(tempfile.mkdtemp(prefix="inspector-fuzz-"))
    for var, sub in (("XDG_DATA_HOME", "data"), ("XDG_STATE_HOME", "state"), ("XDG_CONFIG_HOME", "config"),
                     ("XDG_CACHE_HOME", "cache")):
        os.environ[var] = str(home / sub)
    from tests.fuzz.corpus import Seeds, corpus
    from tests.fuzz.harness import Report, run_mutant

    t0 = time.perf_counter()
    try:
        seeds = Seeds.build(home / "seed", _fixtures())
        mutants = corpus(seeds, seed, args.db_bytes, args.db_values, args.json, home / "seed")
        report = Report()
        for i, m in enumerate(mutants):
            if args.verbose:
                print(f"[{i + 1}/{len(mutants)}] {m.name[:150]}", flush=True)
            folder = home / f"m{i}"
            folder.mkdir()
            try:
                run_mutant(m, folder, report, args.timeout, verbose=args.verbose)
            finally:
                remove_tree(folder)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(f"seed: {seed}\n" + report.summary() + f"seconds: {time.perf_counter() - t0:.1f}")
    for title, items in (("TRACEBACKS", report.tracebacks), ("HANGS", report.hangs),
                         ("FILES CHANGED OR ADDED", report.changed), ("BAD ERRORS", report.bad_errors),
                         ("BAD JSON", report.bad_json)):
        if items:
            print(f"\n== {title} ({len(items)}); the first {min(len(items), args.examples)}:")
            for text in items[: args.examples]:
                print(text[:3000])
    sys.stdout.flush()
    # A hung invocation's thread is still running: leave without waiting for it.
    os._exit(1 if report.failures else 0)


if __name__ == "__main__":
    main()
