"""Whether each prompt layer is worth a cache_control mark.

A 5-minute write costs 1.25x the input price and a read 0.1x (less on some newer models): a
mark pays only if the layer is read back within the TTL often enough. If a fraction p of the
calls carrying a layer find it cached, marking costs p*read + (1-p)*write per token against
1.0 unmarked, so it pays when p > (write - 1) / (write - read): about 22% at 1.25x / 0.1x.
Below the model's minimum cacheable length a mark caches nothing, so it is never sent.
"""

from __future__ import annotations

import time
from collections import Counter, OrderedDict
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
    """Learns from recent traffic how likely a layer's content is to be carried again.

    Content (a chunk set, a conversation) is tracked by key. Uses of a key within the TTL of
    each other form a run; a key already used n times in its current run comes back with the
    probability observed for recent keys: of those whose run reached n + 1 uses, the share that
    reached n + 2. A cautious prior (1 in 4) starts it off and keeps one lucky repeat from
    convincing it. Traffic in which nothing repeats drives the estimate for a new key below the
    break-even within a couple of calls, and it stops paying for writes.
    """

    def __init__(
        self,
        ttl_seconds: float = FIVE_MINUTES_SECONDS,
        window: int = 1000,
        prior_repeats: float = 1.0,
        prior_fresh: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl_seconds = ttl_seconds
        self._window = window
        self._clock = clock
        self._prior = (prior_repeats, prior_fresh)
        # key -> (last use, uses in the current run), oldest first.
        self._runs: OrderedDict[str, tuple[float, int]] = OrderedDict()
        self._runs_reaching: Counter[int] = Counter()

    def estimate(self, key: str) -> float:
        """The probability that key's content is carried again within the TTL after this use."""
        uses = self._uses_in_run(key, self._clock())
        prior_repeats, prior_fresh = self._prior
        reached_now = self._runs_reaching[uses + 1]
        reached_next = self._runs_reaching[uses + 2]
        return (prior_repeats + reached_next) / (prior_repeats + prior_fresh + reached_now)

    def observe(self, key: str) -> None:
        """Record that a request carried key's content now."""
        now = self._clock()
        uses = self._uses_in_run(key, now)
        if uses == 0 and key in self._runs:
            self._forget(key)
        self._runs[key] = (now, uses + 1)
        self._runs.move_to_end(key)
        self._runs_reaching[uses + 1] += 1
        while len(self._runs) > self._window:
            self._forget(next(iter(self._runs)))

    def carried_recently(self, key: str) -> bool:
        """True when a request carried key's content within the TTL: its cache entry may live."""
        return self._uses_in_run(key, self._clock()) > 0

    def carried_anything_recently(self) -> bool:
        """True when any request was observed within the TTL."""
        if not self._runs:
            return False
        last_use, _ = next(reversed(self._runs.values()))
        return self._clock() - last_use <= self._ttl_seconds

    def _uses_in_run(self, key: str, now: float) -> int:
        run = self._runs.get(key)
        if run is None or now - run[0] > self._ttl_seconds:
            return 0
        return run[1]

    def _forget(self, key: str) -> None:
        _, uses = self._runs.pop(key)
        for count in range(1, uses + 1):
            self._runs_reaching[count] -= 1
