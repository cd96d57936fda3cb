"""The fuzz corpus's seeds, built once per session (tests/fuzz/corpus.py)."""

from __future__ import annotations

import pytest

from tests.fuzz.corpus import Seeds

#: The in-suite campaign's seed: the same mutants on every run (``make fuzz`` draws its own).
SUITE_SEED = 15


@pytest.fixture(scope="session")
def fuzz_seeds(tmp_path_factory, fixtures_dir) -> Seeds:
    return Seeds.build(tmp_path_factory.mktemp("fuzz-seed"), fixtures_dir)
