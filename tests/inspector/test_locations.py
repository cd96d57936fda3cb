"""Locations as the user typed them (inspector.locations): what kind they are, and how they are shown
without a password. Pure string work."""

from __future__ import annotations

import pytest

from inspector.errors import UsageError
from inspector.locations import (
    check_redis_url,
    is_postgres_url,
    location_key,
    redact_url,
    redis_display_url,
    split_pg_password,
    split_redis_password,
    with_redis_password,
)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("redis://:s3cret@127.0.0.1:6379/2", "redis://:***@127.0.0.1:6379/2"),
        ("rediss://ana:s3cret@cache.example/0", "rediss://ana:***@cache.example/0"),
        ("redis://h:6379/0?password=s3cret&db=1", "redis://h:6379/0?password=***&db=1"),
        ("unix:///run/redis.sock?db=0", "unix:///run/redis.sock?db=0"),
        ("unix:///run/redis.sock?password=s3cret", "unix:///run/redis.sock?password=***"),
    ],
)
def test_display_url_never_carries_the_password(url, shown):
    assert redis_display_url(url) == shown


@pytest.mark.parametrize(("url", "bare", "password"), [
    ("redis://:s3cret@127.0.0.1:6379/0", "redis://127.0.0.1:6379/0", "s3cret"),
    ("redis://alice:s3cret@cache.example:6380/2", "redis://alice@cache.example:6380/2", "s3cret"),
    ("rediss://:p%40ss%3Aw@[::1]:6379/0", "rediss://[::1]:6379/0", "p@ss:w"),
    ("redis://cache.example:6379/0?password=s3cret&socket_timeout=3", "redis://cache.example:6379/0?socket_timeout=3",
     "s3cret"),
    ("unix:///run/redis.sock?db=1&password=s3cret", "unix:///run/redis.sock?db=1", "s3cret"),
    ("redis://alice@cache.example/0", "redis://alice@cache.example/0", None),
    ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0", None),
])
def test_split_and_put_back_the_password(url, bare, password):
    assert split_redis_password(url) == (bare, password)
    if password is not None:
        again = with_redis_password(bare, password)
        assert split_redis_password(again) == (bare, password)


def test_postgres_urls_and_their_passwords():
    assert is_postgres_url("postgresql://h/db") and is_postgres_url("POSTGRES://h/db")
    assert not is_postgres_url("/tmp/traces.db") and not is_postgres_url("redis://h/0")
    assert split_pg_password("postgresql://ana:s3cret@h:5433/aos") == ("postgresql://ana@h:5433/aos", "s3cret")
    assert split_pg_password("/tmp/traces.db") == ("/tmp/traces.db", None)
    shown, password = split_pg_password("postgresql://a:s3cret@h:notaport/db")
    assert "s3cret" not in shown and password is None
    assert redact_url("postgresql://ana:s3cret@h:5433/aos") == "postgresql://ana:***@h:5433/aos"
    assert redact_url("postgresql://ana@h/aos") == "postgresql://ana@h/aos"


def test_a_location_key_names_one_source_however_it_was_typed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert location_key("traces.db") == location_key(f"  {tmp_path}/./traces.db ") == str(tmp_path / "traces.db")
    assert location_key("postgresql://ana:s3cret@h/aos") == location_key("postgresql://ana@h/aos")
    assert "s3cret" not in location_key("postgresql://ana:s3cret@h/aos")


@pytest.mark.parametrize("url", ["http://h/0", "redis://:s3cret@h:notaport/0", "redis:///0"])
def test_what_is_not_a_redis_url_is_named_without_its_password(url):
    with pytest.raises(UsageError) as err:
        check_redis_url(url)
    assert "s3cret" not in str(err.value)
    check_redis_url("unix:///run/redis.sock")
