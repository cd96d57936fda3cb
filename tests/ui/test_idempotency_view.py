"""The Idempotency inspector (ui.qt.windows.idempotency) on a real Postgres run and the real Redis,
whose ``idem:{tenant}:{key}`` hashes are written with redis-py as upstream's store leaves them:
verdicts as upstream's Lua check gives them, nothing written, and the no-Redis and unreachable
cases."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from drivers import open_source
from drivers.redis_store import RedisIdempotencyStore
from inspector.hashing import hash_request
from inspector.idempotency import IdempotencyResult
from inspector.services.idempotency import load_run_keys, read_key_states
from tests.ui.replay_dbs import insert_run, new_tenant, redis_client, tenant_keys
from ui.qt.app import redis_connector
from ui.qt.session.redis import RedisSettings
from ui.qt.theme import colours
from ui.qt.windows.idempotency import (
    IDEMPOTENCY_COLUMNS,
    NO_REDIS_TEXT,
    IdempotencyView,
    fmt_ttl,
)

pytestmark = pytest.mark.gui
WAIT = 20000
UNREACHABLE = "redis://127.0.0.1:1/0"
TRACE = "trace_idem-run"

STEPS = [("execute", "a", {}, {"q": 1}),  # stored with our hash by this run: duplicate
         ("execute", "b", {}, {"q": 2}),  # stored with another request's hash, then failed: conflict
         ("execute", None, {}, {"q": 0}),
         ("execute", "c", {}, {"q": 3}),  # absent: new
         ("execute", "d", {}, {"q": 4}),  # marked completed without a check: no 'hash' field, conflict
         ("execute", None, {}, {"q": 0})]


@pytest.fixture
def tenant():
    return new_tenant()


@pytest.fixture
def source(pg_url, tenant):
    insert_run(pg_url, "idem-run", tenant, STEPS)
    insert_run(pg_url, "no-keys", tenant, [("execute", None, {}), ("execute", None, {})])
    src = open_source(pg_url)
    yield src
    src.close()


@pytest.fixture
def redis(redis_url, tenant):
    """The real Redis, holding upstream-layout keys for steps a, b and d of the tenant."""
    with redis_client(redis_url, tenant) as client:
        client.hset(f"idem:{tenant}:a", mapping={"hash": hash_request({"q": 1}), "tenant_id": tenant,
                                                 "trace_id": TRACE, "created_at": "1767225600",
                                                 "status": "completed", "response_hash": hash_request({"ok": 1})})
        client.expire(f"idem:{tenant}:a", 3600)
        client.hset(f"idem:{tenant}:b", mapping={"hash": hash_request({"q": "other"}), "tenant_id": tenant,
                                                 "trace_id": "trace_other", "created_at": "1767225600",
                                                 "status": "failed", "error": "boom"})
        client.expire(f"idem:{tenant}:b", 300)
        client.hset(f"idem:{tenant}:d", mapping={"status": "completed", "trace_id": "trace_other",
                                                 "response_hash": ""})
        yield client


@pytest.fixture
def make_view(qtbot, source, make_session, redis_settings):
    made = []

    def make(run_ref="idem-run", *, session=None, redis=redis_settings):
        session = session or make_session(source)
        view = IdempotencyView(session, run_ref, redis=redis)
        qtbot.addWidget(view)
        made.append(view)
        return view

    yield make
    for v in made:
        v.shutdown()


def cell(view, row, header, role=Qt.ItemDataRole.DisplayRole):
    col = [c.header for c in IDEMPOTENCY_COLUMNS].index(header)
    return view.model.data(view.model.index(row, col), role)


def snapshot(client, tenant):
    return {k: (client.hgetall(k), client.ttl(k) > 0) for k in sorted(tenant_keys(client, tenant))}


def test_without_redis_it_says_so_and_nothing_else(make_view):
    view = make_view()  # a synchronous session: a read would have happened inside start()
    view.start()
    assert view.state == "no-redis"
    assert view.pages.currentWidget() is view.message_page
    assert view.message.text() == NO_REDIS_TEXT == "No Redis configured — set one in Settings."
    assert not view.retry_button.isVisibleTo(view) and view.keys is None  # the run is not even read


def test_each_keyed_step_with_its_redis_state_and_upstreams_verdict(make_view, redis_settings, redis, redis_url,
                                                                     tenant, qtmodeltester):
    before = snapshot(redis, tenant)
    redis_settings.set_url(redis_url)
    view = make_view()
    view.start()
    assert view.state == "done" and view.pages.currentWidget() is view.content_page
    rows = view.model.records
    assert [(r.step.step_index, r.step.idempotency_key, r.verdict) for r in rows] == [
        (0, "a", IdempotencyResult.DUPLICATE), (1, "b", IdempotencyResult.CONFLICT),
        (3, "c", IdempotencyResult.NEW), (4, "d", IdempotencyResult.CONFLICT)]
    assert [cell(view, i, "Status") for i in range(4)] == ["completed", "failed", "—", "completed"]
    assert cell(view, 0, "Stored trace id") == f"{TRACE} (this run)" and cell(view, 1, "Stored trace id") == "trace_other"
    assert cell(view, 0, "Our hash") == hash_request({"q": 1})[:16] + "…" == cell(view, 0, "Stored hash")
    assert cell(view, 2, "Stored hash") == "—" and cell(view, 3, "Stored hash") == "(no hash)"
    assert 3500 < rows[0].state.ttl <= 3600 and cell(view, 0, "TTL") == fmt_ttl(rows[0].state.ttl)
    assert 0 < rows[1].state.ttl <= 300 and rows[3].state.ttl is None and cell(view, 3, "TTL") == "no expiry"
    assert cell(view, 1, "Error") == "boom" and cell(view, 0, "Created (UTC)") == "2026-01-01 00:00:00"
    assert cell(view, 1, "Verdict", Qt.ItemDataRole.ForegroundRole) == colours().failure
    assert cell(view, 1, "Skill", Qt.ItemDataRole.BackgroundRole).color() == colours().error_bg
    assert cell(view, 0, "Our hash", Qt.ItemDataRole.ToolTipRole) == hash_request({"q": 1})
    assert view.unkeyed.text() == "2 of 6 steps have no idempotency key (not looked up)."
    assert view.summary.text() == "2 conflict · 1 duplicate · 1 new"
    assert f"{redis_url} · keys idem:{tenant}:{{key}} · read at " in view.subtitle.text()
    assert "hash_request(params)" in view.convention.text() and "64 hex" in view.convention.text()
    # the selected row's details, in full
    view.table.selectRow(1)
    assert hash_request({"q": "other"}) in view.detail.text() and hash_request({"q": 2}) in view.detail.text()
    assert f"idem:{tenant}:b" in view.detail.text()
    qtmodeltester.check(view.model)
    # read only: Redis holds exactly what it held
    assert snapshot(redis, tenant) == before
    # and the verdicts are the ones upstream's Lua check gives these requests
    store = RedisIdempotencyStore(redis_url)
    try:
        answers = store.check_many([(r.step.idempotency_key, r.step.request_hash, tenant) for r in rows])
    finally:
        store.close()
    assert [a.result for a in answers] == [r.verdict for r in rows]


def test_unreachable_redis_says_so_with_retry_and_recovers_on_a_new_setting(make_view, redis_settings, redis,
                                                                              redis_url):
    redis_settings.set_url(UNREACHABLE)
    view = make_view()
    failures = []
    view.failed.connect(failures.append)
    view.start()
    assert view.state == "error" and view.pages.currentWidget() is view.message_page
    text = view.message.text()
    assert text.startswith("Could not read the idempotency keys: redis://127.0.0.1:1/0: cannot reach Redis")
    assert view.retry_button.isVisibleTo(view) and failures == [text]
    view.retry_button.click()
    assert view.state == "error"
    redis_settings.set_url(redis_url)  # the view reads again by itself
    assert view.state == "done" and view.model.rowCount() == 4
    redis_settings.set_url(None)
    assert view.state == "no-redis" and view.message.text() == NO_REDIS_TEXT


def test_a_run_without_keys_is_summarised(make_view, redis_settings, redis_url):
    redis_settings.set_url(UNREACHABLE)  # nothing to look up: Redis is not even asked
    view = make_view("no-keys")
    view.start()
    assert view.state == "done" and view.model.rowCount() == 0
    assert view.empty.text() == "None of the run's 2 steps has an idempotency key: nothing to look up in Redis."
    assert view.unkeyed.text() == "2 of 2 steps have no idempotency key (not looked up)."


def test_another_prefix(make_view, redis_settings, redis, redis_url, tenant):
    redis.hset(f"idemx:{tenant}:c", mapping={"hash": hash_request({"q": 3}), "status": "pending"})
    redis_settings.set_url(redis_url)
    redis_settings.set_prefix("idemx")
    view = make_view()
    view.start()
    assert [r.verdict for r in view.model.records] == [IdempotencyResult.NEW, IdempotencyResult.NEW,
                                                       IdempotencyResult.DUPLICATE, IdempotencyResult.NEW]


class Collect:
    cancelled = False

    def __init__(self):
        self.calls = []

    def __call__(self, done, total):
        self.calls.append((done, total))


def test_states_are_read_a_chunk_per_round_trip(source, redis, redis_url):
    keys = load_run_keys(source, "idem-run")
    assert keys.total_steps == 6 and keys.unkeyed == 2 and keys.trace_id == TRACE
    progress = Collect()
    store = redis_connector().idempotency_store(redis_url, "idem")
    try:
        chunked = read_key_states(keys, store, progress=progress, chunk=3)
        assert progress.calls == [(3, 4), (4, 4)]
        whole = read_key_states(keys, store)
    finally:
        store.close()
    assert [(r.step, r.verdict, r.state.fields if r.state else None) for r in chunked.rows] == [
        (r.step, r.verdict, r.state.fields if r.state else None) for r in whole.rows]


def test_real_workers(qtbot, make_view, make_session, source, settings, redis, redis_url):
    rs = RedisSettings(settings, redis_connector())
    rs.set_url(redis_url)
    try:
        view = make_view(session=make_session(source, sync=False), redis=rs)
        with qtbot.waitSignal(view.loaded, timeout=WAIT) as blocker:
            view.start()
            assert view.state == "loading"
        assert blocker.args == [4] and view.state == "done"
    finally:
        rs.shutdown()
