"""The prompt cache, per API key, in memory, safe across threads and event loops.

Rules from the prompt-caching documentation:
- an entry is the prefix ending at a breakpoint; a read walks back from each breakpoint over
  at most 20 positions, the breakpoint itself first, looking for entries earlier requests
  wrote;
- a prefix below the model's minimum cacheable length is neither written nor read, silently;
- entries live 5 minutes or 1 hour and every read refreshes them;
- an entry becomes readable only once the response that wrote it has begun (`commit`);
- with mixed TTLs, A = tokens at the highest hit, B = tokens at the last 1h breakpoint after
  A, C = tokens at the last breakpoint: A is read, B - A written for 1h, C - B for 5m.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from api.emulator.clock import ScaledClock
from api.emulator.prompt import TTL_SECONDS, Prompt

LOOKBACK_POSITIONS = 20
_SWEEP_EVERY_COMMITS = 256


@dataclass(frozen=True, slots=True)
class CacheUsage:
    """How a request's input tokens split between cache reads, writes and plain input."""

    input_tokens: int
    cache_read_input_tokens: int
    ephemeral_5m_input_tokens: int
    ephemeral_1h_input_tokens: int

    @property
    def cache_creation_input_tokens(self) -> int:
        return self.ephemeral_5m_input_tokens + self.ephemeral_1h_input_tokens

    def as_usage(self, output_tokens: int, thinking_tokens: int = 0) -> dict[str, Any]:
        """The `usage` object of a Message."""
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.ephemeral_5m_input_tokens,
                "ephemeral_1h_input_tokens": self.ephemeral_1h_input_tokens,
            },
            "output_tokens": output_tokens,
            "output_tokens_details": {"thinking_tokens": thinking_tokens},
            "server_tool_use": None,
            "service_tier": "standard",
            # A string in every recorded response: "global" (2026), "not_available" (2025).
            "inference_geo": "global",
            "speed": None,
        }


@dataclass(slots=True)
class CachePlan:
    """What a request read at arrival and what it will write once its response begins."""

    api_key: str
    usage: CacheUsage
    writes: list[tuple[str, int]] = field(default_factory=list)


@dataclass(slots=True)
class _Entry:
    expires_at: float
    ttl_seconds: int


class PromptCache:
    """Cache entries keyed by (API key, prefix hash)."""

    def __init__(self, clock: ScaledClock) -> None:
        self._clock = clock
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._lock = threading.Lock()
        self._commits = 0

    def _live(self, key: tuple[str, str], now: float) -> _Entry | None:
        entry = self._entries.get(key)
        return entry if entry is not None and entry.expires_at > now else None

    def plan(self, api_key: str, prompt: Prompt, min_cacheable_tokens: int) -> CachePlan:
        """Read what the cache holds for this prompt and work out the usage split."""
        positions = prompt.positions
        with self._lock:
            now = self._clock.now()
            hit = -1
            for point in prompt.breakpoints:
                stop = max(-1, point.index - LOOKBACK_POSITIONS)
                for index in range(point.index, stop, -1):
                    if self._live((api_key, positions[index].prefix_hash), now):
                        hit = max(hit, index)
                        break
            for point in prompt.breakpoints:
                if point.index <= hit:
                    entry = self._live((api_key, positions[point.index].prefix_hash), now)
                    if entry is not None:
                        entry.expires_at = now + entry.ttl_seconds
            if hit >= 0:
                entry = self._entries[(api_key, positions[hit].prefix_hash)]
                entry.expires_at = now + entry.ttl_seconds
        read = positions[hit].prefix_tokens if hit >= 0 else 0
        eligible = [
            p
            for p in prompt.breakpoints
            if p.index > hit and positions[p.index].prefix_tokens >= min_cacheable_tokens
        ]
        last = positions[eligible[-1].index].prefix_tokens if eligible else read
        long_lived = [p for p in eligible if p.ttl_seconds == TTL_SECONDS["1h"]]
        one_hour_end = positions[long_lived[-1].index].prefix_tokens if long_lived else read
        usage = CacheUsage(
            input_tokens=prompt.total_tokens - last,
            cache_read_input_tokens=read,
            ephemeral_5m_input_tokens=last - one_hour_end,
            ephemeral_1h_input_tokens=one_hour_end - read,
        )
        writes = [(positions[p.index].prefix_hash, p.ttl_seconds) for p in eligible]
        return CachePlan(api_key, usage, writes)

    def commit(self, plan: CachePlan) -> None:
        """Make the plan's writes readable: its response has begun."""
        with self._lock:
            now = self._clock.now()
            for prefix_hash, ttl_seconds in plan.writes:
                key = (plan.api_key, prefix_hash)
                entry = self._live(key, now)
                expires_at = now + ttl_seconds
                if entry is None or entry.expires_at < expires_at:
                    self._entries[key] = _Entry(
                        expires_at, max(ttl_seconds, entry.ttl_seconds if entry else 0)
                    )
            self._commits += 1
            if self._commits % _SWEEP_EVERY_COMMITS == 0:
                self._entries = {k: e for k, e in self._entries.items() if e.expires_at > now}
