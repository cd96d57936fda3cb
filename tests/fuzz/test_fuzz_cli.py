"""The command line on a fixed-seed mutation corpus (tests/fuzz/corpus.py), in-process with a
watchdog: every command exits 0, 1 or 2 without a traceback or a hang, an exit 2 says one line
naming the file, ``--json`` output is one document, and nothing beside the source changes or
appears. ``make fuzz`` runs a longer campaign with a random seed."""

from __future__ import annotations

import pytest

from tests.fuzz.campaign import remove_tree
from tests.fuzz.conftest import SUITE_SEED
from tests.fuzz.corpus import corpus
from tests.fuzz.harness import Report, invoke, problems, run_mutant

pytestmark = pytest.mark.fuzz

#: Seconds before an invocation counts as a hang (they take well under one on these inputs).
TIMEOUT = 30.0
#: Mutants of each family in the suite (about a minute with the window's part).
SIZES = {"sqlite": (25, 45), "json": 35}


@pytest.fixture(scope="module")
def mutants(fuzz_seeds, tmp_path_factory):
    (n_bytes, n_values), n_json = SIZES["sqlite"], SIZES["json"]
    return corpus(fuzz_seeds, SUITE_SEED, n_bytes, n_values, n_json, tmp_path_factory.mktemp("fuzz-scratch"))


def _campaign(mutants, kind, tmp_path) -> Report:
    report = Report()
    for i, m in enumerate(x for x in mutants if x.kind == kind):
        folder = tmp_path / f"m{i}"
        folder.mkdir()
        try:
            run_mutant(m, folder, report, TIMEOUT)
        finally:
            remove_tree(folder)
    return report


@pytest.mark.parametrize("kind", ["sqlite", "json", "path"])
def test_the_cli_on_hostile_sources(mutants, kind, tmp_path):
    report = _campaign(mutants, kind, tmp_path)
    assert report.inputs >= {"sqlite": 65, "json": 30, "path": 25}[kind]
    assert report.failures == [], report.summary() + "\n\n".join(report.failures[:5])
    # The corpus reaches every outcome: results, findings and refusals.
    assert {0, 2} <= set(report.codes), report.codes


def test_the_harness_catches_what_it_looks_for(tmp_path, fuzz_seeds):
    """A judge that cannot fail is no judge: a traceback, a multi-line error, an error without the
    file's name and a file added beside the source are each reported."""
    from tests.fuzz.corpus import Mutant

    inv = invoke(["runs", "--limit", "-1", str(tmp_path / "x.db")], 10)
    assert inv.code == 2 and problems(inv, str(tmp_path / "x.db"))  # "--limit must be 0 or more": no file named
    inv.error, inv.code = "Traceback …", None
    assert problems(inv, "x")[0].startswith("traceback")
    inv.error, inv.code, inv.stderr = None, 2, "trace-inspector: x.db: two\nlines\n"
    assert "not on one line" in problems(inv, "x.db")[0]

    def seed_db(folder):
        p = folder / "traces.db"
        p.write_bytes(fuzz_seeds.db)
        return p

    report = Report()
    folder = tmp_path / "m"
    folder.mkdir()
    run_mutant(Mutant("seed", "sqlite", seed_db, ("ev-pass",)), folder, report, TIMEOUT,
               commands=[["runs", "{path}"], ["show", "{path}", "{run}", "--json"]])
    assert report.failures == [] and report.codes == {0: 2}
    # An index built beside the source (its cache folder given as the source's): a file added.
    folder = tmp_path / "m2"
    folder.mkdir()
    run_mutant(Mutant("seed", "sqlite", seed_db, ("ev-pass",)), folder, report, TIMEOUT,
               commands=[["search", "{path}", "x", "--index", "build", "--cache-dir", str(folder)]])
    assert report.changed and "added" in report.changed[0]
