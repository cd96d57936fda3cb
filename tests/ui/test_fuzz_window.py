"""The desktop app on a subset of the fixed-seed mutation corpus: each mutant opens to a result or
to a banner naming the file, every run can be selected with the Evidence dock open, nothing is
reported as an internal error (and Qt warnings fail the test), nothing appears beside the source,
and the window stays usable: a good database opens afterwards."""

from __future__ import annotations

import pytest

from tests.fuzz.campaign import remove_tree
from tests.fuzz.conftest import SUITE_SEED
from tests.fuzz.corpus import Seeds, corpus
from tests.fuzz.harness import _snapshot
from ui.qt.messages import Level
from ui.qt.models.runs import RUN_ROLE
from ui.qt.session.session import Worker

pytestmark = [pytest.mark.gui, pytest.mark.fuzz]
WAIT = 20000
#: Mutants opened in the window: every unusual path the window can be given, and some of each family.
PER_FAMILY = {"sqlite": 25, "json": 8, "path": 40}


@pytest.fixture(scope="module")
def fuzz_seeds(tmp_path_factory, fixtures_dir) -> Seeds:
    return Seeds.build(tmp_path_factory.mktemp("fuzz-seed"), fixtures_dir)


def _idle(w) -> bool:
    return (w.session.pending(Worker.INTERACTIVE, Worker.BACKGROUND) == 0 and w.disk.pending == 0
            and not w.runs_model.loading)


def _errors(w) -> list[str]:
    return [text for level, text in w.bus.history if level >= Level.ERROR]


def _open(qtbot, w, path: str) -> bool:
    """Open ``path``; True when it opened, False when it was refused with a banner."""
    w.bus.history.clear()
    w.open_location(path)
    qtbot.waitUntil(lambda: (w.session.location == path and w.source is not None and _idle(w)) or bool(_errors(w)),
                    timeout=WAIT)
    return not _errors(w)


def test_the_window_on_hostile_sources(qtbot, make_window, fuzz_seeds, tmp_path):
    from inspector.errors import one_line

    mutants = corpus(fuzz_seeds, SUITE_SEED + 1, 40, 40, 20, tmp_path)
    chosen, counts = [], dict.fromkeys(PER_FAMILY, 0)
    for m in mutants:
        if counts[m.kind] < PER_FAMILY[m.kind]:
            chosen.append(m)
            counts[m.kind] += 1
    w = make_window()
    good = tmp_path / "good" / "traces.db"
    good.parent.mkdir()
    good.write_bytes(fuzz_seeds.db)
    outcomes = {"opened": 0, "refused": 0}
    for i, m in enumerate(chosen):
        folder = tmp_path / f"m{i}"
        folder.mkdir()
        try:
            path = str(m.make(folder))
        except (OSError, ValueError):
            continue
        before = None if m.foreign else _snapshot(folder)
        try:
            if _open(qtbot, w, path):
                outcomes["opened"] += 1
                if not w.evidence_dock.isVisible():
                    w.actions_by_name["evidence"].trigger()
                model = w.runs_model
                for row in range(model.rowCount()):
                    model.run_at(row)  # load its page
                    qtbot.waitUntil(lambda row=row: model.data(model.index(row, 0), RUN_ROLE) is not None, timeout=WAIT)
                    w.runs_view.selectRow(row)
                    qtbot.waitUntil(lambda: _idle(w) and not w.evidence_panel.pending, timeout=WAIT)
                assert not [e for e in _errors(w) if "internal error" in e], (m.name, _errors(w))
            else:
                outcomes["refused"] += 1
                text = w.banner.label.text()
                assert w.banner.isVisibleTo(w), m.name
                assert one_line(path)[:60] in text, (m.name, text)
                assert "internal error" not in text and "Traceback" not in text, (m.name, text)
            if before is not None:
                after = {k: v for k, v in _snapshot(folder).items() if k not in m.may_add or k in before}
                assert after == before, m.name
        finally:
            w.close_source()
            qtbot.waitUntil(lambda: w.session.source is None and _idle(w), timeout=WAIT)
            remove_tree(folder)
    assert outcomes["opened"] >= 5 and outcomes["refused"] >= 5, outcomes
    # Still usable: a good database opens, with its runs.
    assert _open(qtbot, w, str(good))
    qtbot.waitUntil(lambda: w.runs_model.rowCount() >= 10, timeout=WAIT)
