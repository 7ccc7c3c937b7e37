"""The one owner of every cache_control decision: answers, follow-ups, the agent, batches, routing.

Prices are the model's own, from the price table: w5 and w1h the 5-minute and 1-hour write
prices and r the read price, each as a multiple of the input price. A layer is a prefix of the
prompt with a key naming its cached bytes (model, request options and content). Rules, in order:

1. Below the model's minimum cacheable length a mark caches nothing: never sent.
2. Warm: a layer whose key was marked and sent within its TTL is marked again with that TTL.
   Its entry is live, so the mark reads it (r instead of 1.0) and refreshes it; only the
   tokens added since (a conversation's new turns) are written. This is what makes the last
   use of a run, the second turn of a conversation and the last call of an agent loop pay.
3. Cold: a layer nobody wrote is marked only if the expected saving is positive. A 5-minute
   write serves the key's chain (uses each within five minutes of the one before): it pays
   when  F * (1 - r) > w5 - 1,  F the expected further uses of the chain (ReuseTracker), so a
   session's follow-ups a minute apart pay for it. A 1-hour write serves the chains that
   return within the hour too, R of them expected (ReturnTracker); it is chosen when
   (F + R) * (1 - r) - (w1h - 1) beats the 5-minute write (or none) plus the value of waiting
   for the first return and deciding then: a key that came back once is likelier to come
   back again, and waiting costs one use, while a 1-hour write on a key that never returns
   is lost. Gaps of 10 to 50 minutes give F = 0 and a 1-hour write once recent keys show
   returns; a popular key moves to a 1-hour entry on its own returns, and starts its next
   run on one when its last run came back. Only the tokens the mark would add past the
   layer before are weighed: a conversation mark is priced by its new turns alone.
4. The system layer (tools and system prompt, the same bytes for every request) is marked
   whenever it reaches the minimum: it is read back whenever there is traffic.
5. A batch knows its reuse: n requests sharing a prefix write it once and read it n - 1 times.
   They run concurrently, so only a 1-hour entry is reliably readable in time: a shared prefix
   is marked 1h when (n - 1) * (1 - r) > w1h - 1.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from rag.models import model_info
from rag.pricing import PriceTable
from rag.settings import CachePolicyName
from rag.storage.cache_traffic import CacheTraffic, TrafficSession
from rag.types import CacheLayer

Ttl = Literal["5m", "1h"]
TTL_SECONDS: dict[Ttl, float] = {"5m": 300.0, "1h": 3600.0}
# How far below the real count a prefix's estimate may fall (rag/tokens.py: entity-heavy text
# and tools read up to about 15% low).
SIZE_ESTIMATE_ERROR = 0.15
# A warm block is offered only while its entry will outlive the request's way to the API.
WARM_BLOCK_MARGIN_S = 15.0
# The most recently refreshed warm blocks a question weighs.
WARM_BLOCK_CANDIDATES = 32


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
class BlockOffer:
    """A documents block that other questions may send again while its cache entry lives.

    scope names what else the block's bytes depend on (model, request variant, corpus
    version); chunk_ids are its chunks' ids one per line, chunks the chunks as JSON, tokens
    their estimated size.
    """

    scope: str
    chunk_ids: str
    chunks: str
    tokens: int


@dataclass(frozen=True, slots=True)
class Multipliers:
    """A model's cache prices as multiples of its input price."""

    write_5m: float
    write_1h: float
    read: float

    @classmethod
    def of(cls, prices: PriceTable, model: str) -> Multipliers:
        """The model's write and read prices over its input price, from the price table."""
        rates = prices.rates_for(model)
        if rates is None or rates.input_per_mtok <= 0:
            # An unpriced model: the documented ratios, so marks still follow the same rule.
            return cls(1.25, 2.0, 0.1)
        return cls(
            float(rates.cache_write_5m_per_mtok / rates.input_per_mtok),
            float(rates.cache_write_1h_per_mtok / rates.input_per_mtok),
            float(rates.cache_read_per_mtok / rates.input_per_mtok),
        )

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
    """Learns how many more times a key comes back, each time within five minutes of the last.

    Uses of a key each within five minutes (a 5-minute entry's life) of the one before form a
    run: what one 5-minute write serves. For a key at its n-th use of a run
    the estimate is the mean number of further uses of recent runs that reached n + 1 uses:
    finished runs count exactly, runs still going by what they have reached so far (one
    still at exactly n + 1 uses counts as no further use until it comes back, however fast
    the traffic: a burst of keys that never return must not look undecided). A prior (one
    pseudo-run with one further use, two with none) starts it off: a new database writes a
    new key once, and traffic in which nothing repeats stops it at the next call.

    Past its second use the prior's returning pseudo-run goes on as long again as the key's
    own run so far: the key's own evidence, as few other runs reach a popular key's count.
    ReturnTracker learns what comes back later.

    The runs (the last thousand of each kind) live in the shared database
    (rag/storage/cache_traffic.py), so every replica learns from all the traffic.
    """

    def __init__(
        self,
        session: TrafficSession,
        kind: str,
        prior_repeats: float = 1.0,
        prior_fresh: float = 2.0,
    ) -> None:
        self._session = session
        self._kind = kind
        self._prior = (prior_repeats, prior_fresh)

    def uses(self, key: str, now: float) -> int:
        """Uses of key in its current run (0 when its last use is over five minutes old)."""
        return self._session.run_uses(self._kind, key, self._since(now))

    def further_uses(self, key: str, now: float) -> float:
        """Expected further uses of key in its current run, after the use about to be made."""
        reached = self.uses(key, now) + 1
        runs, beyond = self._session.runs_reaching(self._kind, reached, key, self._since(now))
        prior_repeats, prior_fresh = self._prior
        going_on = prior_repeats * max(1, reached - 1)
        return (going_on + beyond) / (prior_repeats + prior_fresh + runs)

    def observe(self, key: str, now: float) -> None:
        """Record a use of key at now."""
        self._session.record_use(self._kind, key, now, self._since(now))

    def _since(self, now: float) -> float:
        """The earliest last use of a run still going at now."""
        return now - TTL_SECONDS["5m"]


@dataclass(frozen=True, slots=True)
class ReturnOutlook:
    """What a key's run of chains is expected to do after the chain a use is in.

    expected: further chains (returns) of the run. waiting: the expected saving per token of
    writing no 1-hour entry now and deciding again at the first return, as a multiple of the
    input price.
    """

    expected: float
    waiting: float


class ReturnTracker:
    """Learns whether a key comes back within the hour once its chain of uses has ended.

    A chain is uses of a key each within five minutes of the one before: what one 5-minute
    entry serves. A run is a key's chains, each starting within the hour of the run's last
    use: what one 1-hour entry serves. The tracker counts each run's chains (the last thousand
    runs of each kind, in the shared database, next to ReuseTracker's).

    Beyond what a 5-minute write serves, a 1-hour write pays only through returns. Their
    mean is a poor guide: one popular key's run of thirty returns outweighs twenty keys that
    never come back, and a 1-hour write on each of those twenty is lost. Writing can also
    wait: a key that does come back is cold again at its return and can be written then, with
    the evidence that it came back, at the cost of that one use. So outlook weighs, from the
    share of runs at each count of chains that went on to another, writing now against
    waiting for the first return.

    A prior starts it off, as in ReuseTracker: two runs stop at the key's count, and as many
    runs as the key has returned (at least one) go on as long again as it has.

    A key starting a new run after one that came back is judged by that run instead: it is
    expected to come back as often again, and waiting is worth nothing, as the first return
    would be the 5-minute write its last run shows to be wasted. A popular chunk set stays
    popular; the pool, mostly sets asked once, cannot tell it from the others.
    """

    def __init__(
        self,
        session: TrafficSession,
        kind: str,
        prior_repeats: float = 1.0,
        prior_fresh: float = 2.0,
    ) -> None:
        self._session = session
        self._kind = f"{kind}:returns"
        self._prior = (prior_repeats, prior_fresh)

    def chains(self, key: str, now: float, starts_chain: bool) -> int:
        """The chains of key's current run, counting the one this use is in."""
        going = self._session.run_uses(self._kind, key, self._since(now))
        return going + 1 if starts_chain or going == 0 else going

    def outlook(
        self, key: str, now: float, starts_chain: bool, read: float, premium: float
    ) -> ReturnOutlook:
        """The expected returns of key's run and the value of waiting for the first of them.

        read is the read price and premium what a 1-hour write costs beyond what a chain pays
        without one, both as multiples of the input price.
        """
        chains = self.chains(key, now, starts_chain)
        if chains == 1:
            last = self._session.last_run_uses(self._kind, key, self._since(now))
            if last > 1:
                return ReturnOutlook(float(last - 1), 0.0)
        lengths = self._session.run_lengths(self._kind, chains, key, self._since(now))
        prior_repeats, prior_fresh = self._prior
        own = max(1, chains - 1)
        top = max([chains + own, *lengths])

        def reaching(count: int) -> float:
            pool = sum(runs for length, runs in lengths.items() if length >= count)
            going_on = prior_repeats * own if count <= chains + own else 0.0
            return pool + going_on + (prior_fresh if count == chains else 0.0)

        # Backwards from the longest run: `expected` further returns and `value`, the best
        # saving for a key cold at the start of chain `count` (write then, wait, or never).
        expected = value = waiting = 0.0
        for count in range(top, chains - 1, -1):
            share = reaching(count + 1) / reaching(count)
            waiting = share * value
            expected = share * (1.0 + expected)
            value = max(0.0, expected * (1.0 - read) - premium, waiting)
        return ReturnOutlook(expected, waiting)

    def observe(self, key: str, now: float, starts_chain: bool) -> None:
        """Record a use of key at now; starts_chain when it is the first of a chain."""
        self._session.record_use(self._kind, key, now, self._since(now), counted=starts_chain)

    def _since(self, now: float) -> float:
        return now - TTL_SECONDS["1h"]


class CachePlanner:
    """Decides every cache mark from the price table, the traffic seen and the marks sent.

    The traffic and the marks live in the shared database (rag/storage/cache_traffic.py):
    one process or many replicas make the same decisions from the same traffic. The clock
    is wall-clock time, which replicas share; the benchmarks pass a simulated one.
    """

    def __init__(
        self,
        policy: CachePolicyName,
        prices: PriceTable,
        traffic: CacheTraffic,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy
        self._prices = prices
        self._traffic = traffic
        self._clock = clock

    async def plan(
        self,
        model: str,
        layers: Sequence[PlannedLayer],
        observe: bool = True,
        unsent: Sequence[PlannedLayer] = (),
        offer: BlockOffer | None = None,
    ) -> dict[CacheLayer, CacheMark]:
        """The marks for a request's layers (given top to bottom) on model.

        observe=True counts the request as traffic and remembers its marks as sent, in the
        same transaction as the decision; a dry run passes False and changes nothing.

        unsent are layers to count as used now, before the decision, though the request does
        not send them: a follow-up whose documents block was never cached gets a block of its
        own, and without this a block nobody marked would never be seen coming back, and would
        never be marked. They are counted in the plan's transaction (observe=True only).

        offer is the request's documents block, kept for warm_blocks when it is marked.
        """
        if self.policy == "off":
            return {}
        return await asyncio.to_thread(self._plan, model, layers, observe, unsent, offer)

    def plan_batch(self, model: str, prefix_tokens: int, copies: int) -> CacheMark | None:
        """The mark for a prefix that copies requests of one batch share (rule 5)."""
        if self.policy == "off" or prefix_tokens < markable_minimum(model):
            return None
        if self.policy == "always":
            return CacheMark("1h")
        pays = Multipliers.of(self._prices, model).saving_per_token(copies - 1, "1h") > 0
        return CacheMark("1h") if pays else None

    async def warm_blocks(self, scope: str) -> list[tuple[str, str, int]]:
        """Chunk ids, chunks (JSON) and tokens of the live blocks offered under scope.

        Only entries that will still be live when a request sent now reaches the API.
        """
        if self.policy == "off":
            return []
        return await asyncio.to_thread(self._warm_blocks, scope)

    def read_multiplier(self, model: str) -> float:
        """What a cached token costs on model, as a share of an uncached one."""
        return Multipliers.of(self._prices, model).read

    async def live(self, key: str) -> bool:
        """True when a mark on key was sent within its TTL: its entry should be readable."""
        return key in await self.live_keys([key])

    async def live_keys(self, keys: Iterable[str]) -> set[str]:
        """Those of keys whose entries should be readable (see live), in one read."""
        return await asyncio.to_thread(self._live_keys, list(keys))

    def _plan(
        self,
        model: str,
        layers: Sequence[PlannedLayer],
        observe: bool,
        unsent: Sequence[PlannedLayer],
        offer: BlockOffer | None,
    ) -> dict[CacheLayer, CacheMark]:
        minimum = markable_minimum(model)
        prices = Multipliers.of(self._prices, model)
        marks: dict[CacheLayer, CacheMark] = {}
        covered = 0  # prefix tokens an earlier mark of this request already holds
        with self._traffic.planning() if observe else self._traffic.reading() as session:
            # Read once the lock is held: a plan that waited must not write an older time.
            now = self._clock()
            warm = {planned.key: _live_ttl(session, planned.key, now) for planned in layers}
            if observe:
                # A block sent again (the same chunks found anew) is one use, counted below.
                sent = {planned.key for planned in layers}
                _observe(session, now, [p for p in unsent if p.key not in sent], {}, {})
            for planned in layers:
                added = planned.prefix_tokens - covered
                mark = self._decide(
                    session, now, planned, minimum, prices, added, warm[planned.key]
                )
                if mark is not None:
                    marks[planned.layer] = mark
                    covered = planned.prefix_tokens
            marks = _ordered_ttls(marks, [planned.layer for planned in layers])
            if observe:
                _observe(session, now, layers, marks, warm)
                block = next((p for p in layers if p.layer is CacheLayer.DOCUMENTS), None)
                # Only a block the API surely caches: one short of the minimum is marked too.
                if (
                    offer is not None
                    and block is not None
                    and block.layer in marks
                    and block.prefix_tokens >= model_info(model).min_cacheable_tokens
                ):
                    session.keep_block(
                        block.key, offer.scope, offer.chunk_ids, offer.chunks, offer.tokens
                    )
        return marks

    def _warm_blocks(self, scope: str) -> list[tuple[str, str, int]]:
        with self._traffic.reading() as session:
            after = self._clock() + WARM_BLOCK_MARGIN_S
            return session.live_blocks(scope, after, WARM_BLOCK_CANDIDATES)

    def _live_keys(self, keys: list[str]) -> set[str]:
        with self._traffic.reading() as session:
            now = self._clock()
            return {key for key in keys if _live_ttl(session, key, now) is not None}

    def _decide(
        self,
        session: TrafficSession,
        now: float,
        planned: PlannedLayer,
        minimum: int,
        prices: Multipliers,
        added_tokens: int,
        warm: Ttl | None,
    ) -> CacheMark | None:
        if self.policy == "always":
            return CacheMark()
        if planned.prefix_tokens < minimum:
            return None
        if warm is not None:
            return CacheMark(warm)
        if planned.layer is CacheLayer.SYSTEM:
            return CacheMark()
        if added_tokens <= 0:
            return None
        kind = _kind(planned)
        chain = ReuseTracker(session, kind)
        starts_chain = chain.uses(planned.key, now) == 0
        follow_ups = chain.further_uses(planned.key, now)
        short = max(0.0, prices.saving_per_token(follow_ups, "5m"))
        # What a 1-hour write costs beyond what this chain pays anyway: a 5-minute write when
        # its follow-ups make one pay, else the tokens sent unmarked.
        premium = prices.write_1h - (prices.write_5m if short > 0 else 1.0)
        tracker = ReturnTracker(session, kind)
        returns = tracker.outlook(planned.key, now, starts_chain, prices.read, premium)
        long = prices.saving_per_token(follow_ups + returns.expected, "1h")
        if long > 0 and long - short > returns.waiting:
            return CacheMark("1h")
        return CacheMark("5m") if short > 0 else None


def _observe(
    session: TrafficSession,
    now: float,
    layers: Iterable[PlannedLayer],
    marks: dict[CacheLayer, CacheMark],
    warm: dict[str, Ttl | None],
) -> None:
    layers = list(layers)
    # The request reads up to its deepest live marked layer, and billing writes only past the
    # highest hit: a mark above it on an expired entry is not written, so it is not recorded.
    read_through = max(
        (
            index
            for index, planned in enumerate(layers)
            if planned.layer in marks and warm.get(planned.key) is not None
        ),
        default=-1,
    )
    for index, planned in enumerate(layers):
        if planned.layer is not CacheLayer.SYSTEM:
            chain = ReuseTracker(session, _kind(planned))
            starts_chain = chain.uses(planned.key, now) == 0
            chain.observe(planned.key, now)
            ReturnTracker(session, _kind(planned)).observe(planned.key, now, starts_chain)
        mark = marks.get(planned.layer)
        if mark is not None and (index >= read_through or warm.get(planned.key) is not None):
            # A mark on a live entry reads it, and a read refreshes the entry at its own TTL:
            # billing writes for an hour only past the highest hit, so a 5-minute entry marked
            # 1h (to sit above a 1-hour write) stays a 5-minute one.
            ttl = warm.get(planned.key) or mark.ttl
            session.record_mark(planned.key, ttl, now, now + TTL_SECONDS[ttl])


def _live_ttl(session: TrafficSession, key: str, now: float) -> Ttl | None:
    sent = session.mark(key)
    if sent is None:
        return None
    stored, at = sent
    for ttl, seconds in TTL_SECONDS.items():
        if ttl == stored and now - at <= seconds:
            return ttl
    return None


def _kind(planned: PlannedLayer) -> str:
    # Statistics are kept per kind of key: documents, conversation, agent loop.
    return planned.kind or str(planned.layer)


def _ordered_ttls(
    marks: dict[CacheLayer, CacheMark], order: Sequence[CacheLayer]
) -> dict[CacheLayer, CacheMark]:
    """The API refuses a 1-hour mark after a 5-minute one: a mark above a 1-hour one is 1h too.

    Lengthening the upper mark costs only when it writes (a live entry it reads keeps its own
    TTL: see _observe), and the upper layers are the short, widely shared ones; shortening the
    lower one would lose the entry the 1-hour write is for.
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
