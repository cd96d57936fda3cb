"""The replay check (spec §6.1): a recorded replay through upstream's replay enforcer against its
original's outputs, offline. ``trace-inspector replay-check`` and the Replay check window both
read the runs with :func:`load_replay` and check them with :func:`check_replay`; the cache
(memory, or the shared Redis with upstream's layout) is opened by the caller and given here."""

from __future__ import annotations

from dataclasses import dataclass

from inspector.compare import RunSide, load_side, original_of
from inspector.replay import (
    MemoryReplayCache,
    OpenedReplayCache,
    ReplayCheck,
    enforcer_steps,
    replay_check,
)
from inspector.source import TraceSource

__all__ = ["CheckedReplay", "LoadedReplay", "check_replay", "load_replay"]


@dataclass(frozen=True, slots=True)
class LoadedReplay:
    """Both runs, as read from their sources."""

    replay: RunSide
    original: RunSide

    @property
    def tenant_id(self) -> str:
        """The tenant whose keys the check reads and writes (upstream's ``default`` without one)."""
        return self.replay.summary.tenant_id or "default"


@dataclass(frozen=True, slots=True)
class CheckedReplay:
    """One check: the runs, the result, and the cache it ran on."""

    loaded: LoadedReplay
    result: ReplayCheck
    #: Where the cache was, as messages show it: ``memory`` or the Redis URL without its password.
    cache_location: str
    #: Why Redis was not used although asked for (the check then ran in memory).
    fallback_reason: str | None
    #: Whether the original's outputs were cached under their keys first.
    seeded: bool

    @property
    def tenant_id(self) -> str:
        return self.loaded.tenant_id

    @property
    def in_memory(self) -> bool:
        return self.cache_location == "memory"


def load_replay(source: TraceSource, run_ref: str, original_source: TraceSource | None = None,
                original_ref: str | None = None) -> LoadedReplay:
    """Read the replay and its original: ``original_ref`` (from ``original_source``, default the
    replay's source), or the run the replay's ``metadata.replay_of`` names (:class:`UsageError`
    when it names none)."""
    replay = load_side(source, run_ref)
    ref = original_ref or original_of(source, replay.summary)
    return LoadedReplay(replay, load_side(original_source if original_source is not None else source, ref))


def check_replay(loaded: LoadedReplay, cache: OpenedReplayCache, *, seed_shared: bool = False) -> CheckedReplay:
    """``replay_check`` on ``cache``: an in-memory cache is always seeded with the original's
    outputs; a shared one (Redis) only with ``seed_shared``. On Redis the check writes the outputs of
    executed steps that have a key, as upstream's enforcer does (none after its stop)."""
    seed = seed_shared or isinstance(cache, MemoryReplayCache)
    result = replay_check(enforcer_steps(loaded.replay.steps), enforcer_steps(loaded.original.steps),
                          loaded.tenant_id, cache, seed_cache=seed, cache_kind=cache.kind)
    return CheckedReplay(loaded, result, cache.location, cache.fallback_reason, seed)
