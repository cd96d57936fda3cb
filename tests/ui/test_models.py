"""The custom item models on their own: Qt's model tester, and lazy loading tested on the model."""

from __future__ import annotations

import pytest

from drivers import open_source
from inspector.model import RunFilter, RunSort
from tests.ui.dbs import BIG_RUN, BIG_RUN_STEPS, ORIGINAL_RUN, ORPHAN_RUN, REPLAYS
from ui.qt.models.json_tree import PATH_ROLE, JsonTreeModel
from ui.qt.models.runs import PAGE_SIZE, RUN_ROLE, RunsModel, column_of
from ui.qt.models.run_tree import NODE_ROLE, RunTreeModel
from ui.qt.models.steps import PAGE_ROWS, WANTED_PAGES, StepTableModel

pytestmark = pytest.mark.gui


@pytest.fixture
def source(small_db):
    s = open_source(small_db)
    yield s
    s.close()


@pytest.fixture
def shown(make_session):
    """``shown(ModelClass, source, errors)``: a model given a synchronous session that then shows
    ``source`` (as opening it would); the session's reports go to ``errors``."""

    def make(model_cls, source, errors=None):
        session = make_session()
        if errors is not None:
            session.error_reported.connect(lambda doing, exc: errors.append((doing, exc)))
        model = model_cls(session)
        session.adopt(source, owned=False)
        return model

    return make


def test_runs_model_passes_model_tester(qtmodeltester, source, shown):
    errors = []
    model = shown(RunsModel, source, errors)
    qtmodeltester.check(model)
    assert errors == []
    # 30 written, 1 deleted (orphan) + the big run; the orphan is pinned on top.
    assert model.rowCount() == 30 - 1 + 1 + 1
    assert model.data(model.index(0, 0), RUN_ROLE).run_id == ORPHAN_RUN
    assert model.data(model.index(0, 1)) == "orphan steps"


def test_runs_model_counts_use_normalised_statuses(source, shown):
    model = shown(RunsModel, source, None)
    row = model.row_of(BIG_RUN)
    run = model.data(model.index(row, 0), RUN_ROLE)
    # every tenth step is a worker's "failed": counted as a failure (upstream counts none, §11.4)
    assert run.total_steps == BIG_RUN_STEPS
    assert run.failure_count == len(range(0, BIG_RUN_STEPS, 10))
    assert model.data(model.index(row, column_of("total_steps"))) == f"{BIG_RUN_STEPS:,}"


def test_runs_model_pages_lazily(tmp_path, shown):
    from drivers.sqlite_writer import SQLiteTraceWriter
    from tests.ui.dbs import StepClock

    path = tmp_path / "many.db"
    with SQLiteTraceWriter(path, clock=StepClock()) as w, w.bulk():
        for i in range(PAGE_SIZE * 3 + 17):
            w.start_trace(f"run_{i:016x}", "c", "t", None, [])
    src = open_source(path)
    try:
        model = shown(RunsModel, src, None)
        assert model.rowCount() == PAGE_SIZE * 3 + 17
        assert model.loaded_rows == PAGE_SIZE  # only the first page was read
        last = model.index(model.rowCount() - 1, 0)
        assert model.data(last) == "…"  # a placeholder while its page is read
        assert model.loaded_rows == PAGE_SIZE + 17  # that page, and only that page, was read
        assert model.data(last) == "run_0000000000000000"  # oldest last
    finally:
        src.close()


def test_runs_model_filter_and_sort(source, shown):
    model = shown(RunsModel, source, None)
    model.set_filter(RunFilter(status="failed"))
    ids = [model.data(model.index(r, 0), RUN_ROLE).run_id for r in range(model.rowCount())]
    assert ids and all(source.get_run(i).status == "failed" for i in ids)
    assert len(ids) == source.count_runs(RunFilter(status="failed"))  # no orphans under a filter
    from PySide6.QtCore import Qt

    model.sort(column_of("total_steps"), Qt.SortOrder.DescendingOrder)
    assert model.sort_key == (RunSort.TOTAL_STEPS, True)
    counts = [model.data(model.index(r, 0), RUN_ROLE).total_steps for r in range(model.rowCount())]
    assert counts == sorted(counts, reverse=True)


def test_run_tree_passes_model_tester(qtmodeltester, source, shown):
    model = shown(RunTreeModel, source, None)
    model.set_run(source.get_run(ORIGINAL_RUN).summary)
    qtmodeltester.check(model)


def test_run_tree_lists_replays_under_their_original(source, shown):
    model = shown(RunTreeModel, source, None)
    model.set_run(source.get_run(ORIGINAL_RUN).summary)
    top = model.top_index()
    group = model.index(0, 0, top)
    assert model.data(group) == "Replays (2)"
    replays = [model.data(model.index(r, 0, group), NODE_ROLE).run_id for r in range(model.rowCount(group))]
    assert replays == list(REPLAYS)
    assert [r.run_id for r in model.runs()] == [ORIGINAL_RUN, *REPLAYS]
    assert model.index_of(REPLAYS[1]) == model.index(1, 0, group)


def test_run_tree_shows_orphans_as_their_own_node(source, shown):
    model = shown(RunTreeModel, source, None)
    orphan = source.orphan_runs()[0]
    model.set_run(orphan)
    top = model.top_index()
    assert "Orphan steps of " + ORPHAN_RUN in model.data(top)
    assert model.rowCount(top) == 0


def test_step_table_passes_model_tester(qtmodeltester, qapp, source, shown):
    model = shown(StepTableModel, source, None)
    model.set_run(source.get_run(BIG_RUN).summary)
    qtmodeltester.check(model)
    model.set_run(source.get_run(ORIGINAL_RUN).summary)
    qtmodeltester.check(model)


def _drain(qapp) -> None:
    """Run the event loop until the page reads it starts are done (a synchronous session reads
    within the call; each read queues the next)."""
    for _ in range(20):
        qapp.processEvents()


def test_step_table_counts_first_then_reads_the_pages_painted(qapp, source, shown, monkeypatch):
    import ui.qt.models.steps as steps

    model = shown(StepTableModel, source, None)
    model.set_run(source.get_run(BIG_RUN).summary)
    # The first page, then the count: every row from the start, one page read.
    assert model.rowCount() == BIG_RUN_STEPS and model.row_map.is_dense
    assert model.pages_read == 1 and model.step_at(0).step_index == 0 and model.step_at(PAGE_ROWS) is None
    # A row not read yet shows its step number and asks for its page, read after the paint.
    cells = _style_options(model, [model.index(1000, c) for c in range(model.columnCount())])
    assert [opt.text for _ix, opt in cells][:2] == ["1000", "…"]
    assert model.step_at(1000) is None
    _drain(qapp)
    assert model.step_at(1000).step_index == 1000 and model.pages_read == 2
    # Only the latest pages asked for are read, the newest first: rows scrolled past are not.
    for page in range(2, 10):
        _style_options(model, [model.index(page * PAGE_ROWS, 0)])
    _drain(qapp)
    read = [p for p in range(2, 10) if model.step_at(p * PAGE_ROWS) is not None]
    assert read == list(range(10 - WANTED_PAGES, 10))
    # At most KEEP_PAGES pages are kept, the least recently painted dropped.
    monkeypatch.setattr(steps, "KEEP_PAGES", 3)
    for page in range(0, BIG_RUN_STEPS // PAGE_ROWS):
        _style_options(model, [model.index(page * PAGE_ROWS, 0)])
        _drain(qapp)
    assert model.pages_kept == 3
    assert model.step_at(0) is None and model.step_at(BIG_RUN_STEPS // PAGE_ROWS * PAGE_ROWS - 1) is not None


def test_step_table_of_orphans_and_of_nothing(qapp, source, shown):
    model = shown(StepTableModel, source, None)
    orphan = source.orphan_runs()[0]
    model.set_run(orphan)
    assert model.rowCount() == orphan.total_steps > 0
    assert model.step_at(0).run_id == ORPHAN_RUN
    model.set_run(None)
    assert model.rowCount() == 0 and model.run is None and model.row_map is None


def test_json_model_passes_model_tester_and_is_lazy(qtmodeltester):
    model = JsonTreeModel()
    value = {"a": [1, 2, {"b/c": None, "d~": [True, 1.5]}], "s": "日本", "empty": {}}
    model.set_value(value, label="params")
    qtmodeltester.check(model)
    root = model.index(0, 0)
    a = model.index(0, 0, root)
    third = model.index(2, 0, a)
    assert model.data(model.index(0, 0, third), PATH_ROLE) == "/a/2/b~1c"
    assert model.data(model.index(1, 2, third)) == "array · 2 items"


def test_json_model_does_not_build_unopened_nodes():
    model = JsonTreeModel()
    model.set_value({"items": list(range(100_000))})
    root = model.index(0, 0)
    assert model.rowCount(root) == 1
    items = model.index(0, 0, root)
    assert model.rowCount(items) == 100_000
    assert len(model._nodes) < 10  # children are made only when an index under them is asked for


def _style_options(model, indexes):
    """What a view's delegate sees for each cell, asked in painting order through multiData."""
    from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

    delegate = QStyledItemDelegate()
    out = []
    for ix in indexes:
        opt = QStyleOptionViewItem()
        delegate.initStyleOption(opt, ix)
        out.append((ix, opt))
    return out


def _assert_options_match_data(model, indexes):
    from PySide6.QtCore import Qt

    for ix, opt in _style_options(model, indexes):
        display = model.data(ix, Qt.ItemDataRole.DisplayRole)
        assert opt.text == ("" if display is None else str(display)), (ix.row(), ix.column())
        has_icon = model.data(ix, Qt.ItemDataRole.DecorationRole) is not None
        assert (not opt.icon.isNull()) == has_icon, (ix.row(), ix.column())
        font = model.data(ix, Qt.ItemDataRole.FontRole)
        assert opt.font.italic() == bool(font and font.italic()), (ix.row(), ix.column())
        assert opt.font.bold() == bool(font and font.bold()), (ix.row(), ix.column())


def test_runs_model_multidata_matches_data_cell_by_cell(source, shown):
    # The delegate reuses one role span for every cell: a value left from the previous cell
    # (an icon, an italic font) must never leak into the next.
    model = shown(RunsModel, source, None)
    cells = [model.index(r, c) for r in range(min(model.rowCount(), 12)) for c in range(model.columnCount())]
    _assert_options_match_data(model, cells)


def test_step_table_multidata_matches_data_cell_by_cell(qapp, source, shown):
    model = shown(StepTableModel, source, None)
    model.set_run(source.get_run(BIG_RUN).summary)
    # A loaded page and a page not read yet (placeholders), in one painting order.
    rows = list(range(0, 12)) + list(range(700, 705))
    _assert_options_match_data(model, [model.index(r, c) for r in rows for c in range(model.columnCount())])
    _drain(qapp)
    model.set_run(source.get_run(ORIGINAL_RUN).summary)
    _assert_options_match_data(model, [model.index(r, c) for r in range(model.rowCount())
                                       for c in range(model.columnCount())])


def test_runs_model_with_grades_passes_model_tester(qtmodeltester, tmp_path, shown):
    """Grades read per page into the Grade column, on a real SQLite file with evidence."""
    from tests.ui.evidence_dbs import GRADES, build_evidence_db
    from ui.qt.models.runs import GRADE_ROLE

    src = open_source(build_evidence_db(tmp_path / "traces.db"))
    try:
        errors = []
        model = shown(RunsModel, src, errors)
        col = column_of("grade")
        row = model.row_of("ev-warn")
        assert model.evidence_state == "unknown" and model.data(model.index(row, col)) == ""
        model.set_evidence(src.evidence())
        qtmodeltester.check(model)
        assert errors == []
        assert {model.data(model.index(model.row_of(r), col)) for r in GRADES} == {"PASS", "WARN", "FAIL"}
        assert all(model.data(model.index(model.row_of(r), col), GRADE_ROLE) == g for r, g in GRADES.items())
        model.set_evidence(src.evidence())  # found again (a refresh): read again
        assert model.data(model.index(row, col)) == "WARN"
        model.set_evidence(None)  # a source without a store
        assert model.data(model.index(row, col)) == "—"
        assert model.data(model.index(row, col), GRADE_ROLE) is None
    finally:
        src.close()


def test_reasons_model_passes_model_tester(qtmodeltester, tmp_path):
    from tests.ui.evidence_dbs import WARN_RUN, build_evidence_db
    from ui.qt.panels.evidence import REASON_ROLE, ReasonsModel, load_run_evidence

    src = open_source(build_evidence_db(tmp_path / "traces.db"))
    try:
        loaded = load_run_evidence(src.evidence(), WARN_RUN)
    finally:
        src.close()
    model = ReasonsModel()
    model.set_reasons(loaded.reasons)
    qtmodeltester.check(model)
    assert model.rowCount() == len(loaded.reasons) >= 5
    assert model.data(model.index(0, 0), REASON_ROLE).severity.value == "warn"
    assert model.data(model.index(0, 0)) == loaded.reasons[0].message


def test_step_table_reads_the_pages_past_the_view_after_those_in_it(qapp, source, shown):
    model = shown(StepTableModel, source, None)
    model.set_run(source.get_run(BIG_RUN).summary)
    changed: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda top, _bottom: changed.append((top.row() // PAGE_ROWS, model.pages_read)))
    # Rows 530..560 in view: pages 4 and 6 are ahead of and behind the view; page 5 is in it.
    model.prefetch(530, 560)
    _style_options(model, [model.index(545, 0)])
    _drain(qapp)
    assert model.step_at(660).step_index == 660 and model.step_at(430).step_index == 430
    # The page in view was read first (the second page read, after the first page of the run),
    # and only it is repainted: the pages read ahead were never shown as placeholders.
    assert changed == [(5, 2)] and model.pages_read == 4
    before = model.pages_read
    model.prefetch(0, 30)  # at the top: no page above; the rows just below are on page 0, read
    _drain(qapp)
    assert model.pages_read == before
