"""The one owner of every cache_control decision: answers, follow-ups, the agent, batches, routing.

Prices are the model's own, from the price table: w5 and w1h the 5-minute and 1-hour write
prices and r the read price, each as a multiple of the input price. A layer is a prefix of the
prompt with a key naming its cached bytes (model, request options and content). Rules, in order:

1. Below the model's minimum cacheable length a mark caches nothing: never sent.
2. Warm: a layer whose key was marked and sent within its TTL is marked again with that TTL.
   Its entry is live, so the mark reads it (r instead of 1.0) and refreshes it; only the
   tokens added since (a conversation's new turns) are written. This is what makes the last
   use of a run, the second turn of a conversation and the last call of an agent loop pay.
3. Cold: a layer nobody wrote is marked only if the expected saving is positive, for the better
   of the two TTLs:  E_ttl * (1 - r) - (w_ttl - 1) > 0,  where E_ttl is the expected number of
   further uses of the key, each within the TTL of the one before, learned from traffic (see
   ReuseTracker). Gaps of a minute give E_5m = E_1h and the cheaper 5-minute write wins; gaps
   of 10 to 50 minutes give E_5m = 0, and the 1-hour write pays once E_1h > (w1h - 1)/(1 - r),
   about 1.1 further uses at 2x / 0.1x. Only the tokens the mark would add past the layer
   before are weighed: a conversation mark is priced by its new turns alone.
4. The system layer (tools and system prompt, the same bytes for every request) is marked
   whenever it reaches the minimum: it is read back whenever there is traffic.
5. A batch knows its reuse: n requests sharing a prefix write it once and read it n - 1 times.
   They run concurrently, so only a 1-hour entry is reliably readable in time: a shared prefix
   is marked 1h when (n - 1) * (1 - r) > w1h - 1.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from rag.models import model_info
from rag.pricing import PriceTable
from rag.settings import CachePolicyName
from rag.types import CacheLayer

Ttl = Literal["5m", "1h"]
TTL_SECONDS: dict[Ttl, float] = {"5m": 300.0, "1h": 3600.0}
# How far below the real count a prefix's estimate may fall (rag/tokens.py: entity-heavy text
# and tools read up to about 15% low).
SIZE_ESTIMATE_ERROR = 0.15
_REMEMBERED_MARKS = 10_000


def markable_minimum(model: str) -> int:
    """The fewest estimated prefix tokens worth a mark on model.

    A mark on a prefix shorter than the model's minimum cacheable length caches nothing and
    costs nothing, while a mark left off a prefix that does reach it forfeits every read; so
    a prefix within the estimate's error (rag/tokens.py) below the minimum is marked too.
    """
    return math.floor(model_info(model).min_cacheable_tokens * (1 - SIZE_ESTIMATE_ERROR))


@dataclass(frozen=True, slots=True)
class CacheMark:
    """A cache breakpoint on a layer's last block."""

    ttl: Ttl = "5m"

    def as_param(self) -> dict[str, str]:
        """The block's cache_control value."""
        return {"type": "ephemeral", "ttl": self.ttl}


@dataclass(frozen=True, slots=True)
class PlannedLayer:
    """One layer of a request, as the planner weighs it.

    key names the layer's cached bytes (see layer_key); prefix_tokens runs from the start of the
    prompt through the layer.
    """

    layer: CacheLayer
    key: str
    prefix_tokens: int
    # The traffic whose reuse statistics apply (an agent loop's layer is not a conversation's).
    kind: str = ""


@dataclass(frozen=True, slots=True)
class Multipliers:
    """A model's cache prices as multiples of its input price."""

    write_5m: float
    write_1h: float
    read: float

    def write(self, ttl: Ttl) -> float:
        return self.write_5m if ttl == "5m" else self.write_1h

    def saving_per_token(self, further_uses: float, ttl: Ttl) -> float:
        """Expected saving of writing a token now with ttl, against sending it unmarked."""
        return further_uses * (1.0 - self.read) - (self.write(ttl) - 1.0)


def layer_key(model: str, *parts: str) -> str:
    """A short stable name for a layer's cached bytes: model, request options, content."""
    digest = hashlib.sha256("\x1f".join((model, *parts)).encode())
    return digest.hexdigest()[:32]


class ReuseTracker:
    """Learns how many more times a key comes back, each time within ttl of the last.

    Uses of a key within the TTL of each other form a run. For a key at its n-th use of a run
    the estimate is the mean number of further uses of recent runs that reached n + 1 uses:
    finished runs count exactly, runs still going by what they have reached so far (one
    still at exactly n + 1 uses counts as no further use until it comes back, however fast
    the traffic: a burst of keys that never return must not look undecided). A prior (one
    pseudo-run with one further use, two with none) starts it off: a fresh process writes a
    new key once, and traffic in which nothing repeats stops it at the next call.
    """

    def __init__(
        self,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        window: int = 1000,
        prior_repeats: float = 1.0,
        prior_fresh: float = 2.0,
    ) -> None:
        self._ttl_seconds = ttl_seconds
        self._clock = clock
        self._window = window
        self._prior = (prior_repeats, prior_fresh)
        self._open: OrderedDict[str, tuple[float, int]] = OrderedDict()  # key -> (last, uses)
        self._finished: deque[int] = deque(maxlen=window)

    def uses(self, key: str) -> int:
        """Uses of key in its current run (0 when its last use is older than the TTL)."""
        self._close_expired(self._clock())
        run = self._open.get(key)
        return 0 if run is None else run[1]

    def further_uses(self, key: str) -> float:
        """Expected further uses of key in its current run, after the use about to be made."""
        reached = self.uses(key) + 1
        prior_repeats, prior_fresh = self._prior
        total, runs = prior_repeats, prior_repeats + prior_fresh
        going = (length for other, (_, length) in self._open.items() if other != key)
        for length in (*self._finished, *going):
            if length >= reached:
                total += length - reached
                runs += 1
        return total / runs

    def observe(self, key: str) -> None:
        """Record a use of key now."""
        now = self._clock()
        uses = self.uses(key)
        self._open[key] = (now, uses + 1)
        self._open.move_to_end(key)
        while len(self._open) > self._window:
            _, (_, length) = self._open.popitem(last=False)
            self._finished.append(length)

    def _close_expired(self, now: float) -> None:
        while self._open:
            key, (last, length) = next(iter(self._open.items()))
            if now - last <= self._ttl_seconds:
                return
            del self._open[key]
            self._finished.append(length)


class CachePlanner:
    """Decides every cache mark from the price table, the traffic it has seen and its own marks."""

    def __init__(
        self,
        policy: CachePolicyName,
        prices: PriceTable,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self._prices = prices
        self._clock = clock
        self._lock = threading.Lock()
        # Per kind of key (documents, conversation, agent loop), one tracker per TTL.
        self._trackers: dict[tuple[str, Ttl], ReuseTracker] = {}
        self._marks: OrderedDict[str, tuple[Ttl, float]] = OrderedDict()  # key -> (ttl, sent)

    def multipliers(self, model: str) -> Multipliers:
        """The model's write and read prices over its input price, from the price table."""
        rates = self._prices.rates_for(model)
        if rates is None or rates.input_per_mtok <= 0:
            # An unpriced model: the documented ratios, so marks still follow the same rule.
            return Multipliers(1.25, 2.0, 0.1)
        return Multipliers(
            float(rates.cache_write_5m_per_mtok / rates.input_per_mtok),
            float(rates.cache_write_1h_per_mtok / rates.input_per_mtok),
            float(rates.cache_read_per_mtok / rates.input_per_mtok),
        )

    def plan(
        self, model: str, layers: Sequence[PlannedLayer], observe: bool = True
    ) -> dict[CacheLayer, CacheMark]:
        """The marks for a request's layers (given top to bottom) on model.

        observe=True counts the request as traffic and remembers its marks as sent; a dry run
        passes False and changes nothing.
        """
        if self.policy == "off":
            return {}
        minimum = markable_minimum(model)
        prices = self.multipliers(model)
        marks: dict[CacheLayer, CacheMark] = {}
        covered = 0  # prefix tokens an earlier mark of this request already holds
        with self._lock:
            for planned in layers:
                mark = self._decide(planned, minimum, prices, planned.prefix_tokens - covered)
                if mark is not None:
                    marks[planned.layer] = mark
                    covered = planned.prefix_tokens
            marks = _ordered_ttls(marks, [planned.layer for planned in layers])
            if observe:
                self._observe(layers, marks)
        return marks

    def plan_batch(self, model: str, prefix_tokens: int, copies: int) -> CacheMark | None:
        """The mark for a prefix that copies requests of one batch share (rule 5)."""
        if self.policy == "off" or prefix_tokens < markable_minimum(model):
            return None
        if self.policy == "always":
            return CacheMark("1h")
        pays = self.multipliers(model).saving_per_token(copies - 1, "1h") > 0
        return CacheMark("1h") if pays else None

    def live(self, key: str) -> bool:
        """True when a mark on key was sent within its TTL: its entry should be readable."""
        with self._lock:
            return self._live_ttl(key) is not None

    def _decide(
        self, planned: PlannedLayer, minimum: int, prices: Multipliers, added_tokens: int
    ) -> CacheMark | None:
        if self.policy == "always":
            return CacheMark()
        if planned.prefix_tokens < minimum:
            return None
        warm = self._live_ttl(planned.key)
        if warm is not None:
            return CacheMark(warm)
        if planned.layer is CacheLayer.SYSTEM:
            return CacheMark()
        if added_tokens <= 0:
            return None
        saving, ttl = max(
            (prices.saving_per_token(self._further_uses(planned, ttl), ttl), ttl)
            for ttl in TTL_SECONDS
        )
        return CacheMark(ttl) if saving > 0 else None

    def _further_uses(self, planned: PlannedLayer, ttl: Ttl) -> float:
        return self._tracker(planned, ttl).further_uses(planned.key)

    def _observe(self, layers: Iterable[PlannedLayer], marks: dict[CacheLayer, CacheMark]) -> None:
        now = self._clock()
        for planned in layers:
            if planned.layer is not CacheLayer.SYSTEM:
                for ttl in TTL_SECONDS:
                    self._tracker(planned, ttl).observe(planned.key)
            mark = marks.get(planned.layer)
            if mark is not None:
                self._marks[planned.key] = (mark.ttl, now)
                self._marks.move_to_end(planned.key)
        while len(self._marks) > _REMEMBERED_MARKS:
            self._marks.popitem(last=False)

    def _live_ttl(self, key: str) -> Ttl | None:
        sent = self._marks.get(key)
        if sent is None:
            return None
        ttl, at = sent
        return ttl if self._clock() - at <= TTL_SECONDS[ttl] else None

    def _tracker(self, planned: PlannedLayer, ttl: Ttl) -> ReuseTracker:
        kind = (planned.kind or str(planned.layer), ttl)
        tracker = self._trackers.get(kind)
        if tracker is None:
            tracker = ReuseTracker(TTL_SECONDS[ttl], self._clock)
            self._trackers[kind] = tracker
        return tracker


def _ordered_ttls(
    marks: dict[CacheLayer, CacheMark], order: Sequence[CacheLayer]
) -> dict[CacheLayer, CacheMark]:
    """The API refuses a 1-hour mark after a 5-minute one: a mark above a 1-hour one is 1h too.

    Lengthening the upper mark costs only when it writes, and the upper layers are the short,
    widely shared ones; shortening the lower one would lose the entry the 1-hour write is for.
    """
    ordered: dict[CacheLayer, CacheMark] = {}
    long_below = False
    for layer in reversed(order):
        mark = marks.get(layer)
        if mark is None:
            continue
        long_below = long_below or mark.ttl == "1h"
        ordered[layer] = CacheMark("1h") if long_below else mark
    return {layer: ordered[layer] for layer in order if layer in ordered}
