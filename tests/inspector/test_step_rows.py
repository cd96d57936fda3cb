"""StepRowMap: which step is in which row of a run's step table, and how to read a page of rows
by keyset (in-memory sources here; SQLite and Postgres in tests/drivers/test_step_keys.py)."""

from __future__ import annotations

from array import array

from hypothesis import given
from hypothesis import strategies as st

from inspector.model import RunSummary, SourceInfo, Step, StepRow
from inspector.services.steps import read_page, read_row_map, seek_step
from inspector.source import MemorySource, StepSeek
from inspector.step_rows import StepExtent, StepRowMap


def _row(i, status="success", retries=0):
    return StepRow(None, "r", i, "skill", status, "SUCCESS", None, 1.0, 1.0, retries, None)


def _source(rows):
    from inspector.model import Payload, RunRecord

    summary = RunSummary("r", "t", "a", "completed", None, None, None)
    steps = [Step(row=r, params=Payload(None), outcome_data=Payload(None)) for r in rows]
    return MemorySource(SourceInfo(location="mem", kind="memory", display_name="mem"), [RunRecord(summary, Payload(None), Payload(None))],
                        {"r": steps})


def test_extent_is_dense_only_for_integers_one_per_value():
    assert StepExtent(3, 0, 2).dense
    assert StepExtent(3, 5, 7).dense
    assert not StepExtent(3, 0, 3).dense  # a gap
    assert not StepExtent(0, None, None).dense
    assert not StepExtent(2, "0", "1").dense  # text
    assert not StepExtent(2, True, 2).dense  # bool is not a step_index


def test_dense_map_places_rows_without_keys():
    m = StepRowMap.dense(StepExtent(1_000_000, 0, 999_999))
    assert m.is_dense and m.count == 1_000_000
    assert m.key_at(0) == 0 and m.key_at(999_999) == 999_999
    assert m.row_of(500_000) == 500_000 and m.row_of(1_000_000) is None and m.row_of(-1) is None
    page = m.page(999_950, 100)
    assert (page.after, page.skip, page.count, page.limit) == (999_949, 0, 50, 50)
    assert m.page(0, 100).after is None


def test_keys_map_packs_integers_and_seeks_by_bisection():
    m = StepRowMap.from_keys([0, 1, 2, 10, 11, 50])
    assert isinstance(m._keys, array)
    assert [m.row_of(k) for k in (0, 10, 50, 3)] == [0, 3, 5, None]
    p = m.page(3, 2)
    assert (p.after, p.skip, p.count) == (2, 0, 2)


def test_keys_map_repeated_nulls_and_text():
    m = StepRowMap.from_keys([None, None, 0, 1, 1, 1, 2, "a"])
    assert not isinstance(m._keys, array)
    assert m.page(1, 3).after is None and m.page(1, 3).skip == 1  # NULLs first: counted from the start
    p = m.page(4, 2)  # the second of three 1s
    assert (p.after, p.skip) == (0, 1)
    assert m.row_of(1) == 3 and m.row_of("a") == 7 and m.row_of(True) is None


@given(st.lists(st.integers(min_value=-5, max_value=40), max_size=60), st.integers(0, 70), st.integers(1, 9))
def test_a_page_of_any_keys_is_the_rows_there(keys, first, count):
    keys = sorted(keys)
    rows = [_row(k) for k in keys]
    src = _source(rows)
    m = read_row_map(src, "r")
    assert m.count == len(keys)
    page = read_page(src, "r", m, first, count)
    assert [r.step_index for r in page.rows] == keys[first:first + count]


def test_dense_looking_run_with_a_repeated_index_is_read_by_keys():
    # 0, 1, 1, 3: four steps from 0 to 3 look dense; the page read proves otherwise.
    rows = [_row(0), _row(1), _row(1), _row(3)]
    m = StepRowMap.dense(StepExtent(4, 0, 3))
    assert not m.fits(0, rows)
    page = read_page(_source(rows), "r", m, 0, 10)
    assert not page.row_map.is_dense
    assert [r.step_index for r in page.rows] == [0, 1, 1, 3]


def test_seek_forward_and_backward_in_memory():
    rows = [_row(0), _row(1, "failed"), _row(2), _row(3, retries=2), _row(4, " Error "), _row(5, "retrying")]
    src = _source(rows)
    assert seek_step(src, "r", None, StepSeek.FAILURE) == 1
    assert seek_step(src, "r", 1, StepSeek.FAILURE) == 4
    assert seek_step(src, "r", 4, StepSeek.FAILURE) is None
    assert seek_step(src, "r", 4, StepSeek.FAILURE, backward=True) == 1
    assert seek_step(src, "r", None, StepSeek.FAILURE, backward=True) == 4
    assert seek_step(src, "r", 0, StepSeek.RETRY) == 3
    assert seek_step(src, "r", 3, StepSeek.RETRY) == 5
    assert seek_step(src, "r", 3, StepSeek.RETRY, backward=True) is None
