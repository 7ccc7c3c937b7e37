"""Whether each prompt layer is worth a cache_control mark.

A 5-minute write costs 1.25x the input price and a read 0.1x (less on some newer models): a
mark pays only if the layer is read back within the TTL often enough. If a fraction p of the
calls carrying a layer find it cached, marking costs p*read + (1-p)*write per token against
1.0 unmarked, so it pays when p > (write - 1) / (write - read): about 22% at 1.25x / 0.1x.
Below the model's minimum cacheable length a mark caches nothing, so it is never sent.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from rag.settings import CachePolicyName
from rag.types import CacheLayer

FIVE_MINUTES_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class CacheMark:
    """A cache breakpoint on a layer's last block."""

    ttl: Literal["5m", "1h"] = "5m"

    def as_param(self) -> dict[str, str]:
        """The block's cache_control value."""
        return {"type": "ephemeral", "ttl": self.ttl}


@dataclass(frozen=True, slots=True)
class LayerStats:
    """What decide() weighs for one layer of one request."""

    prefix_tokens: int  # tokens from the start of the prompt through this layer
    min_cacheable_tokens: int
    reuse_probability: float  # chance this layer is read back within the TTL
    write_multiplier: float = 1.25
    read_multiplier: float = 0.1


def break_even_reuse(write_multiplier: float, read_multiplier: float) -> float:
    """The reuse fraction above which a mark saves money."""
    return (write_multiplier - 1.0) / (write_multiplier - read_multiplier)


def decide(policy: CachePolicyName, layer: CacheLayer, stats: LayerStats) -> CacheMark | None:
    """The mark to put on layer under policy, or None to leave it unmarked."""
    if policy == "off":
        return None
    if policy == "always":
        return CacheMark()
    if stats.prefix_tokens < stats.min_cacheable_tokens:
        return None
    if layer is CacheLayer.SYSTEM:
        # The system prompt and tools open every request: they are read back whenever traffic is.
        return CacheMark()
    threshold = break_even_reuse(stats.write_multiplier, stats.read_multiplier)
    return CacheMark() if stats.reuse_probability > threshold else None


class ReuseTracker:
    """Estimates from recent traffic how likely a layer's content is to be read again.

    An observation is a repeat when the same key was seen within the TTL before it. A key seen
    recently is expected back (repeats cluster: follow-ups, popular questions); an unseen key
    gets the recent repeat rate, starting from a cautious prior so that traffic in which nothing
    repeats stops paying for writes after a couple of calls.
    """

    def __init__(
        self,
        ttl_seconds: float = FIVE_MINUTES_SECONDS,
        window: int = 200,
        prior_repeats: float = 1.0,
        prior_fresh: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl_seconds = ttl_seconds
        self._clock = clock
        self._prior = (prior_repeats, prior_fresh)
        self._last_seen: dict[str, float] = {}
        self._repeats_of: dict[str, int] = {}
        self._outcomes: deque[tuple[float, bool]] = deque(maxlen=window)

    def estimate(self, key: str) -> float:
        """The probability that key's content is read again within the TTL."""
        now = self._clock()
        if self._seen_within_ttl(key, now):
            repeats = self._repeats_of.get(key, 0)
            return (1.0 + repeats) / (2.0 + repeats)
        return self.repeat_rate()

    def observe(self, key: str) -> None:
        """Record that a request carried key's content now."""
        now = self._clock()
        repeat = self._seen_within_ttl(key, now)
        self._repeats_of[key] = self._repeats_of.get(key, 0) + 1 if repeat else 0
        self._last_seen[key] = now
        self._outcomes.append((now, repeat))
        self._forget_expired(now)

    def repeat_rate(self) -> float:
        """The share of recent observations that were repeats, smoothed by the prior."""
        prior_repeats, prior_fresh = self._prior
        repeats = sum(1 for _, repeat in self._outcomes if repeat)
        return (prior_repeats + repeats) / (prior_repeats + prior_fresh + len(self._outcomes))

    def _seen_within_ttl(self, key: str, now: float) -> bool:
        seen = self._last_seen.get(key)
        return seen is not None and now - seen <= self._ttl_seconds

    def _forget_expired(self, now: float) -> None:
        if len(self._last_seen) < 4 * (self._outcomes.maxlen or 1):
            return
        expired = [k for k, seen in self._last_seen.items() if now - seen > self._ttl_seconds]
        for key in expired:
            del self._last_seen[key]
            self._repeats_of.pop(key, None)
