"""The Replay check view (ui.qt.windows.replay_check) on a real Postgres holding a replay and its original,
with the cache in memory, on the real Redis (upstream's ``aos:idempotency`` layout, set up with
redis-py), and on an unreachable Redis (the visible fallback). Its rows must be what
``replay_check`` and ``trace-inspector replay-check --json`` say."""

from __future__ import annotations

import io
import json

import pytest
from PySide6.QtCore import Qt

from drivers import open_source
from inspector.compare import load_side
from inspector.hashing import hash_output
from inspector.replay import (
    CheckOutcome,
    MemoryReplayCache,
    enforcer_steps,
    replay_check,
)
from tests.ui.replay_dbs import insert_run, new_tenant, redis_client
from ui.qt.app import redis_connector
from ui.qt.session.redis import RedisSettings
from ui.qt.session.session import Worker
from ui.qt.theme import colours
from ui.qt.windows.replay_check import REPLAY_COLUMNS, ReplayCheckView

pytestmark = pytest.mark.gui
WAIT = 20000
UNREACHABLE = "redis://127.0.0.1:1/0"

ORIGINAL = [("execute", "k0", {"v": 0}), ("execute", "k1", {"v": 1}), ("execute", None, {"v": 2}),
            ("execute", "k3", {"v": 3}), ("execute", None, {"v": 4})]
REPLAY = [("skip", "k0", {"v": 0}),  # the original's output is cached under k0: skipped
          ("check", "k1", {"v": 1, "x": 1}),  # cached under k1: upstream returns it unverified
          ("check", None, {"v": 2}),  # no key: executed and compared, equal
          ("check", "kx", {"v": 33}),  # nothing under kx (in memory): executed, compared: mismatch
          ("skip", None, {"v": 4}),  # a skip without a key executes
          ("check", None, {"v": 55})]  # no original step 5: nothing to compare with
MEMORY_OUTCOMES = [CheckOutcome.SKIPPED, CheckOutcome.CHECKED_UNVERIFIED, CheckOutcome.CHECKED,
                   CheckOutcome.MISMATCH, CheckOutcome.EXECUTED, CheckOutcome.CHECKED]


@pytest.fixture
def tenant():
    return new_tenant()


@pytest.fixture
def source(pg_url, tenant):
    insert_run(pg_url, "orig", tenant, ORIGINAL)
    insert_run(pg_url, "rep", tenant, REPLAY, metadata={"replay_of": "orig"})
    insert_run(pg_url, "plain", tenant, ORIGINAL[:2])
    src = open_source(pg_url)
    yield src
    src.close()


@pytest.fixture
def make_view(qtbot, source, make_session, redis_settings):
    made = []

    def make(run_ref="rep", *, session=None, redis=redis_settings, **kwargs):
        session = session or make_session(source)
        view = ReplayCheckView(session, run_ref, redis=redis, **kwargs)
        qtbot.addWidget(view)
        made.append(view)
        return view

    yield make
    for v in made:
        v.shutdown()


def outcomes(view):
    return [s.outcome for s in view.model.records]


def cli_steps(pg_url, *args):
    from ui.cli import main

    out = io.StringIO()
    main(["replay-check", pg_url, "rep", "--json", *args], out=out)
    return json.loads(out.getvalue())


def cell(view, row, header, role=Qt.ItemDataRole.DisplayRole):
    col = [c.header for c in REPLAY_COLUMNS].index(header)
    return view.model.data(view.model.index(row, col), role)


def test_in_memory_the_rows_are_replay_check_and_the_cli(make_view, source, pg_url, tenant, qtmodeltester):
    view = make_view()
    view.start()
    assert view.state == "done"
    # what replay_check says on its own, from the same runs
    expected = replay_check(enforcer_steps(load_side(source, "rep").steps), enforcer_steps(load_side(source, "orig").steps),
                            tenant, MemoryReplayCache())
    assert view.model.records == list(expected.steps)
    assert outcomes(view) == MEMORY_OUTCOMES
    doc = cli_steps(pg_url)
    assert [s.as_json() for s in view.model.records] == doc["steps"]
    assert view.current.result.upstream_stop == doc["upstream_stop"] == 3
    # every cell is the column's text of the row's StepCheck
    for row, s in enumerate(view.model.records):
        assert [cell(view, row, c.header) for c in REPLAY_COLUMNS] == [c.text(s) for c in REPLAY_COLUMNS]
    assert cell(view, 4, "After stop") == "after stop" and cell(view, 2, "After stop") == ""
    qtmodeltester.check(view.model)


def test_banners_say_the_cache_and_where_upstream_stops(make_view):
    view = make_view()
    view.start()
    assert view.cache_banner.isVisibleTo(view)
    assert view.cache_banner.text().startswith("Cache: in memory, seeded with the original's outputs")
    verdict = view.verdict.text()
    assert "Replay check FAILED: 1 mismatch." in verdict
    assert "stops at position 3 (step 3, skill_3)" in verdict and "the 2 step(s) after it" in verdict
    assert view.verdict.property("severity") == "error"
    assert "1 mismatch" in view.counts.text() and "1 skipped from cache" in view.counts.text()
    assert not view.notes.isVisibleTo(view)  # the verdict says where upstream stops
    assert view.title.text() == "Replay check: rep against original orig"
    assert not view.seed_box.isVisibleTo(view)  # no Redis configured: nothing to seed
    # the mismatch is what is selected first, and its details are shown
    assert view.selected_check().position == 3
    assert "mismatch" in view.detail_title.text()
    assert hash_output({"v": 3}) in view.detail_fields.text() and hash_output({"v": 33}) in view.detail_fields.text()


def test_outcomes_are_coloured(make_view):
    view = make_view()
    view.start()
    bg = Qt.ItemDataRole.BackgroundRole
    fg = Qt.ItemDataRole.ForegroundRole
    c = colours()
    assert cell(view, 3, "Skill", bg).color() == c.error_bg  # the whole mismatch row
    assert cell(view, 3, "Outcome", fg) == c.failure
    assert cell(view, 1, "Outcome", bg).color() == c.warning_bg  # unverified check: amber
    assert cell(view, 1, "Skill", bg) is None
    assert cell(view, 0, "Outcome", fg) == c.muted  # skipped: grey
    assert cell(view, 2, "Outcome", fg) == c.success  # checked
    assert cell(view, 4, "Skill", Qt.ItemDataRole.FontRole).italic()  # after upstream's stop
    assert cell(view, 2, "Skill", Qt.ItemDataRole.FontRole) is None
    assert "WITHOUT comparing" in cell(view, 1, "Outcome", Qt.ItemDataRole.ToolTipRole)


def test_a_behavior_upstream_rejects_stops_the_check(make_view, pg_url, tenant):
    # upstream's ReplayBehavior("verify") raises ValueError: enforce_trace stops there
    insert_run(pg_url, "odd", tenant, [("execute", None, {"v": 0}), ("verify", "k1", {"v": 1}),
                                       ("execute", None, {"v": 2})], metadata={"replay_of": "orig"})
    view = make_view("odd")
    view.start()
    assert outcomes(view) == [CheckOutcome.EXECUTED, CheckOutcome.INVALID, CheckOutcome.EXECUTED]
    verdict = view.verdict.text()
    assert "Replay check FAILED: 1 replay_behavior upstream rejects." in verdict and "mismatch" not in verdict
    assert "stops at position 1 (step 1, skill_1) with ValueError" in verdict
    assert cell(view, 1, "Skill", Qt.ItemDataRole.BackgroundRole).color() == colours().error_bg
    assert "ValueError" in cell(view, 1, "Outcome", Qt.ItemDataRole.ToolTipRole)
    from ui.cli import main

    out = io.StringIO()
    assert main(["replay-check", pg_url, "odd"], out=out) == 1
    assert "Replay check FAILED: 1 replay_behavior upstream rejects." in out.getvalue()


def test_selecting_an_unverified_check_says_what_comparing_would_have_found(make_view):
    view = make_view()
    view.start()
    view.table.selectRow(1)
    text = view.detail_fields.text()
    assert f"{hash_output({'v': 1, 'x': 1})} — would NOT match the original (upstream never compared it)" in text
    assert view.replay_output.payload.value == {"v": 1, "x": 1}
    assert view.original_output.payload.value == {"v": 1}
    view.table.selectRow(5)
    assert "no original step at this index" in view.detail_fields.text()
    assert view.original_output.payload is None and "has no step 5" in view.original_output.placeholder.text()


def test_on_redis_the_shared_cache_decides(make_view, redis_settings, redis_url, pg_url, tenant):
    """kx holds the original's output on Redis: step 3 becomes an unverified cache hit, while k0
    and k1 (not seeded) are absent, so step 1 executes and mismatches: upstream stops there."""
    kx = {"output_data": {"v": 3}, "output_hash": hash_output({"v": 3}), "step_index": 3}
    with redis_client(redis_url, tenant) as client:
        client.set(f"aos:idempotency:{tenant}:kx", json.dumps(kx), ex=3600)
        redis_settings.set_url(redis_url)
        view = make_view()
        view.start()
        assert view.state == "done"
        assert outcomes(view) == [CheckOutcome.EXECUTED, CheckOutcome.MISMATCH, CheckOutcome.CHECKED,
                                  CheckOutcome.CHECKED_UNVERIFIED, CheckOutcome.EXECUTED, CheckOutcome.CHECKED]
        assert view.current.result.upstream_stop == 1 and view.current.result.cache_kind == "redis"
        banner = view.cache_banner.text()
        assert f"Cache: Redis {redis_url}, keys aos:idempotency:{tenant}:{{key}}, as it is (not seeded" in banner
        assert view.cache_banner.property("severity") == "payload-info"
        assert "checking again finds them there" in view.notes.text()
        # the check wrote what upstream's enforcer writes: the replay's output under k0 and k1
        stored = json.loads(client.get(f"aos:idempotency:{tenant}:k1"))
        assert stored == {"output_data": {"v": 1, "x": 1}, "output_hash": hash_output({"v": 1, "x": 1}),
                          "step_index": 1}
        view_json = [s.as_json() for s in view.model.records]
        # the CLI on the same starting state agrees
        client.delete(f"aos:idempotency:{tenant}:k0", f"aos:idempotency:{tenant}:k1")
        doc = cli_steps(pg_url, "--redis", redis_url)
        assert doc["steps"] == view_json and doc["cache"] == "redis"


def test_on_redis_seeded_the_replay_passes(make_view, redis_settings, redis_url, tenant):
    kx = {"output_data": {"v": 3}, "output_hash": hash_output({"v": 3}), "step_index": 3}
    with redis_client(redis_url, tenant) as client:
        client.set(f"aos:idempotency:{tenant}:kx", json.dumps(kx), ex=3600)
        redis_settings.set_url(redis_url)
        view = make_view()
        assert view.seed_box.isVisibleTo(view)
        view.seed_box.setChecked(True)
        view.start()
        assert view.current.result.ok and view.current.seeded
        assert outcomes(view)[:4] == [CheckOutcome.SKIPPED, CheckOutcome.CHECKED_UNVERIFIED, CheckOutcome.CHECKED,
                                      CheckOutcome.CHECKED_UNVERIFIED]
        assert "seeded with the original's outputs first" in view.cache_banner.text()
        assert view.verdict.text().startswith("✔ Replay check passed: 6 steps, no output mismatch.")
        assert "2 check step(s) were answered from the cache without comparing" in view.verdict.text()
        assert view.verdict.property("severity") == "ok"
        assert json.loads(client.get(f"aos:idempotency:{tenant}:k3"))["output_data"] == {"v": 3}


def test_an_unreachable_redis_falls_back_to_memory_visibly(make_view, redis_settings):
    redis_settings.set_url(UNREACHABLE)
    view = make_view()
    view.start()
    assert view.state == "done"
    assert outcomes(view) == MEMORY_OUTCOMES  # as in memory: seeded with the original's outputs
    banner = view.cache_banner.text()
    assert banner.startswith("⚠ Redis is unreachable, so this check ran on an in-memory cache")
    assert UNREACHABLE in banner and "cannot reach Redis" in banner
    assert view.cache_banner.property("severity") == "payload-warning"
    assert view.current.result.cache_kind.startswith("memory (Redis unreachable: ")


def test_a_run_that_is_no_replay_says_so_and_offers_retry(make_view):
    view = make_view("plain")
    failures = []
    view.failed.connect(failures.append)
    view.start()
    assert view.state == "error" and view.run_button.text() == "Retry" and view.run_button.isEnabled()
    assert "run 'plain' is not a replay" in view.verdict.text() and failures == [view.verdict.text()]
    assert view.model.rowCount() == 0
    named = make_view("plain", original_ref="orig")
    named.start()
    assert named.state == "done" and named.model.rowCount() == 2


def test_redis_setting_changes_apply_on_run_again(make_view, redis_settings):
    view = make_view()
    view.start()
    assert view.current.cache_location == "memory"
    redis_settings.set_url(UNREACHABLE)
    assert view.seed_box.isVisibleTo(view)
    view.run_button.click()
    assert view.current.fallback_reason is not None


def test_real_workers_load_and_check_off_the_gui_thread(qtbot, make_view, make_session, source, settings):
    session = make_session(source, sync=False)
    rs = RedisSettings(settings, redis_connector())
    rs.set_url(UNREACHABLE)
    try:
        view = make_view(session=session, redis=rs)
        checked = []
        view.checked.connect(checked.append)
        view.start()
        assert view.state == "loading" and not view.run_button.isEnabled()
        qtbot.waitUntil(lambda: view.state == "done", timeout=WAIT)
        assert checked == [False] and outcomes(view) == MEMORY_OUTCOMES
        assert view.cache_banner.property("severity") == "payload-warning"
    finally:
        rs.shutdown()


def test_a_closed_view_drops_late_results(qtbot, make_view, make_session, source, settings):
    session = make_session(source, sync=False)
    rs = RedisSettings(settings, redis_connector())
    try:
        view = make_view(session=session, redis=rs)
        view.start()
        view.close()
        # the read finishes on its worker and its result arrives on the GUI thread: dropped
        qtbot.waitUntil(lambda: session.pending(Worker.BACKGROUND) == 0, timeout=WAIT)
        assert rs.runner.pending == 0
        assert view.loaded is None and view.model.rowCount() == 0
    finally:
        rs.shutdown()


def test_the_view_closes_with_the_sessions_source(qtbot, make_view, make_session, source):
    session = make_session(source)
    view = make_view(session=session)
    view.show()
    view.start()
    assert view.state == "done" and view.isVisible()
    session.close()
    assert not view.isVisible()
