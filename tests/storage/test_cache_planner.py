"""The cache planner over its real store, on SQLite and on a real PostgreSQL.

Replicas are planners whose stores open the same database (open_replica).
"""

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from rag.cache_planner import (
    WARM_BLOCK_MARGIN_S,
    BlockOffer,
    CacheMark,
    CachePlanner,
    Multipliers,
    PlannedLayer,
    ReuseTracker,
)
from rag.pricing import ModelRates, PriceTable
from rag.settings import CachePolicyName
from rag.storage import Database
from rag.storage.cache_traffic import CacheTraffic, TrafficSession
from rag.types import CacheLayer

MIGRATIONS = Path(__file__).resolve().parents[2] / "rag" / "migrations"
MODEL = "claude-sonnet-5-5"  # 512-token minimum; reads at 0.05x in the price table


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def new_planner(
    open_replica: Callable[[], Database],
) -> Callable[..., tuple[CachePlanner, _Clock]]:
    def planner(
        policy: CachePolicyName = "adaptive", prices: PriceTable | None = None
    ) -> tuple[CachePlanner, _Clock]:
        clock = _Clock()
        traffic = CacheTraffic(open_replica())
        return CachePlanner(policy, prices or PriceTable(), traffic, clock), clock

    return planner


def _docs(key: str, tokens: int = 3000) -> list[PlannedLayer]:
    return [
        PlannedLayer(CacheLayer.SYSTEM, "system", 200),
        PlannedLayer(CacheLayer.DOCUMENTS, key, tokens),
    ]


async def _run_sets(
    planner: CachePlanner, clock: _Clock, uses: int, sets: int, gap: float, prefix: str = "set"
) -> list[CacheMark | None]:
    """sets chunk sets, each used `uses` times gap seconds apart; the marks of every call."""
    marks = []
    for index in range(sets):
        for _ in range(uses):
            planned = await planner.plan(MODEL, _docs(f"{prefix}-{index}"))
            marks.append(planned.get(CacheLayer.DOCUMENTS))
            clock.now += gap
        clock.now += 7200
    return marks


def test_multipliers_come_from_the_price_table_per_model():
    assert Multipliers.of(PriceTable(), MODEL).read == 0.05
    assert Multipliers.of(PriceTable(), "claude-haiku-4-5").read == 0.1
    cheap_writes = PriceTable(
        {MODEL: ModelRates.from_input_output(Decimal(2), Decimal(10), Decimal("0.2"))}
    )
    assert Multipliers.of(cheap_writes, MODEL).read == 0.1


async def test_off_never_marks_and_always_marks_every_layer(new_planner):
    layers = [*_docs("a", 10), PlannedLayer(CacheLayer.CONVERSATION, "c", 20)]
    assert await new_planner("off")[0].plan(MODEL, layers) == {}
    assert set(await new_planner("always")[0].plan(MODEL, layers)) == {
        CacheLayer.SYSTEM,
        CacheLayer.DOCUMENTS,
        CacheLayer.CONVERSATION,
    }


async def test_never_marks_clearly_below_the_models_minimum_even_when_warm(new_planner):
    planner, _ = new_planner()
    layers = [PlannedLayer(CacheLayer.SYSTEM, "s", 3000)]
    assert await planner.plan("claude-haiku-4-5", layers) == {}  # minimum 4096
    assert await planner.plan("claude-haiku-4-5", [PlannedLayer(CacheLayer.SYSTEM, "s", 4096)])


async def test_a_prefix_estimated_just_under_the_minimum_is_marked_as_the_estimate_may_be_low(
    new_planner,
):
    # A mark on a prefix that turns out too short is free; one left off a cacheable prefix
    # forfeits its reads.
    planner, _ = new_planner()
    assert await planner.plan("claude-haiku-4-5", [PlannedLayer(CacheLayer.SYSTEM, "s", 3700)])
    assert planner.plan_batch("claude-haiku-4-5", 3700, copies=4) is not None


async def test_a_new_database_writes_a_new_chunk_set_once_before_it_has_learned_anything(
    new_planner,
):
    planner, _ = new_planner()
    assert (await planner.plan(MODEL, _docs("fresh"))).get(CacheLayer.DOCUMENTS) == CacheMark("5m")


async def test_traffic_where_nothing_repeats_stops_paying_for_writes_at_once(new_planner):
    planner, clock = new_planner()
    marks = await _run_sets(planner, clock, uses=1, sets=30, gap=10)
    assert marks[0] is not None
    assert not any(marks[1:])


async def test_a_burst_of_keys_that_never_return_is_written_once(new_planner):
    # Before any run has outlived its TTL.
    planner, clock = new_planner()
    burst = []
    for index in range(30):
        planned = await planner.plan(MODEL, _docs(f"burst-{index}"))
        burst.append(planned.get(CacheLayer.DOCUMENTS))
        clock.now += 0.1
    # The first is written on the prior; the ones after it see that it never came back.
    assert sum(mark is not None for mark in burst) == 1


async def test_a_layer_marked_within_its_ttl_is_marked_again_on_its_last_use(new_planner):
    planner, clock = new_planner()
    # Learn that chunk sets come back exactly twice, a minute apart.
    await _run_sets(planner, clock, uses=2, sets=10, gap=60)
    first = (await planner.plan(MODEL, _docs("pair"))).get(CacheLayer.DOCUMENTS)
    assert first == CacheMark("5m")
    clock.now += 60
    # Nothing suggests a third use, yet the live entry is read: the mark stays.
    assert (await planner.plan(MODEL, _docs("pair"))).get(CacheLayer.DOCUMENTS) == CacheMark("5m")
    assert await planner.live("pair")
    clock.now += 301
    assert not await planner.live("pair")


@pytest.mark.parametrize("uses", [2, 3, 5])
async def test_k_use_sets_are_written_once_and_read_k_minus_one_times(new_planner, uses):
    planner, clock = new_planner()
    await _run_sets(planner, clock, uses=uses, sets=10, gap=60)
    marks = await _run_sets(planner, clock, uses=uses, sets=3, gap=60, prefix="new")
    assert marks == [CacheMark("5m")] * (uses * 3)


async def test_gaps_beyond_five_minutes_choose_the_one_hour_ttl_when_it_pays(new_planner):
    planner, clock = new_planner()
    await _run_sets(planner, clock, uses=4, sets=10, gap=600)
    marks = await _run_sets(planner, clock, uses=4, sets=2, gap=600, prefix="new")
    assert marks == [CacheMark("1h")] * 8


async def test_a_key_that_keeps_coming_back_after_five_minutes_moves_to_a_one_hour_entry(
    new_planner,
):
    # No other traffic to learn from: the key's own run is the evidence.
    planner, clock = new_planner()
    marks = []
    for _ in range(12):
        marks.append((await planner.plan(MODEL, _docs("popular"))).get(CacheLayer.DOCUMENTS))
        clock.now += 600
    assert CacheMark("1h") in marks[:6]
    first = marks.index(CacheMark("1h"))
    assert marks[first:] == [CacheMark("1h")] * (len(marks) - first)


async def test_two_uses_ten_minutes_apart_are_not_worth_a_one_hour_write(new_planner):
    # A 2x write read once at 0.05x costs more than no cache.
    planner, clock = new_planner()
    await _run_sets(planner, clock, uses=2, sets=10, gap=600)
    assert not any(await _run_sets(planner, clock, uses=2, sets=2, gap=600, prefix="new"))


async def test_one_popular_chunk_set_does_not_make_every_new_one_worth_a_one_hour_write(
    new_planner,
):
    # One set comes back every ten minutes for hours; twenty others are asked once with a
    # follow-up a minute later and never again. A new set is likely one of the twenty: its
    # follow-up pays for a 5-minute write, and a 1-hour write would be lost.
    planner, clock = new_planner()
    for index in range(24):
        await planner.plan(MODEL, _docs("popular"))
        if index < 20:
            clock.now += 30
            await planner.plan(MODEL, _docs(f"once-{index}"))
            clock.now += 60
            await planner.plan(MODEL, _docs(f"once-{index}"))
            clock.now -= 90
        clock.now += 600
    assert await planner.live("popular")
    marks = await planner.plan(MODEL, _docs("new"))
    assert marks.get(CacheLayer.DOCUMENTS) == CacheMark("5m")


async def test_a_key_whose_last_run_came_back_starts_its_next_run_on_a_one_hour_entry(
    new_planner,
):
    # Most sets are asked once with a follow-up a minute later; "popular" came back twice
    # within the hour, then went quiet for two hours.
    planner, clock = new_planner()
    for index in range(12):
        await planner.plan(MODEL, _docs(f"once-{index}"))
        clock.now += 60
        await planner.plan(MODEL, _docs(f"once-{index}"))
        clock.now += 600
        if index < 3:
            await planner.plan(MODEL, _docs("popular"))
            clock.now += 60
            await planner.plan(MODEL, _docs("popular"))
            clock.now += 600
    clock.now += 7200
    # The pool says a new set is one of the many: a 5-minute write for its follow-up.
    assert (await planner.plan(MODEL, _docs("new"))).get(CacheLayer.DOCUMENTS) == CacheMark("5m")
    # The popular set's own last run says it comes back: one 1-hour write serves it.
    marks = await planner.plan(MODEL, _docs("popular"))
    assert marks.get(CacheLayer.DOCUMENTS) == CacheMark("1h")


async def test_a_one_hour_mark_never_follows_a_five_minute_one(new_planner):
    # The system layer's 5-minute mark is lengthened to sit above the documents' 1-hour one.
    planner, clock = new_planner()
    await _run_sets(planner, clock, uses=4, sets=10, gap=600)
    layers = [
        PlannedLayer(CacheLayer.SYSTEM, "system", 1000),
        PlannedLayer(CacheLayer.DOCUMENTS, "set-x", 3000),
    ]
    marks = await planner.plan(MODEL, layers)
    assert marks == {CacheLayer.SYSTEM: CacheMark("1h"), CacheLayer.DOCUMENTS: CacheMark("1h")}


async def test_a_live_five_minute_entry_marked_1h_to_sit_above_a_1h_write_stays_five_minutes(
    new_planner,
):
    # The mark on the system layer reads its live 5-minute entry: billing writes for an hour
    # only what follows the highest hit, so that entry keeps its 5-minute life.
    planner, clock = new_planner()
    await _run_sets(planner, clock, uses=4, sets=10, gap=600)
    system = PlannedLayer(CacheLayer.SYSTEM, "system-long", 1000)
    assert await planner.plan(MODEL, [system]) == {CacheLayer.SYSTEM: CacheMark("5m")}
    clock.now += 60
    marks = await planner.plan(MODEL, [system, PlannedLayer(CacheLayer.DOCUMENTS, "set-x", 3000)])
    assert marks == {CacheLayer.SYSTEM: CacheMark("1h"), CacheLayer.DOCUMENTS: CacheMark("1h")}
    clock.now += 299
    assert await planner.live("system-long")
    clock.now += 2
    assert not await planner.live("system-long")
    assert await planner.live("set-x")


async def test_an_expired_layer_above_a_live_one_is_read_past_and_not_remembered_as_written(
    new_planner,
):
    # The request reads up to the documents layer's live 1-hour entry; billing writes only what
    # follows the highest hit, so the system layer's expired 5-minute entry is not re-created.
    planner, clock = new_planner()
    await _run_sets(planner, clock, uses=4, sets=10, gap=600)
    system = PlannedLayer(CacheLayer.SYSTEM, "system-long", 1000)
    documents = PlannedLayer(CacheLayer.DOCUMENTS, "set-x", 3000)
    assert await planner.plan(MODEL, [system]) == {CacheLayer.SYSTEM: CacheMark("5m")}
    clock.now += 60
    assert await planner.plan(MODEL, [system, documents]) == {
        CacheLayer.SYSTEM: CacheMark("1h"),
        CacheLayer.DOCUMENTS: CacheMark("1h"),
    }
    clock.now += 301
    assert await planner.live_keys(["system-long", "set-x"]) == {"set-x"}
    marks = await planner.plan(MODEL, [system, documents])
    assert marks == {CacheLayer.SYSTEM: CacheMark("1h"), CacheLayer.DOCUMENTS: CacheMark("1h")}
    assert await planner.live_keys(["system-long", "set-x"]) == {"set-x"}
    # Alone, the system layer is the request's only mark: it is written, and remembered.
    assert await planner.plan(MODEL, [system]) == {CacheLayer.SYSTEM: CacheMark("5m")}
    assert await planner.live("system-long")


async def test_a_conversation_mark_is_weighed_on_its_new_turns_only(new_planner):
    planner, clock = new_planner()
    # The documents layer, marked a minute ago, covers all but 10 tokens of the conversation
    # layer: a mark that adds nothing the cache does not already hold is never a cold write.
    assert await planner.plan(MODEL, [PlannedLayer(CacheLayer.DOCUMENTS, "docs", 3000)])
    clock.now += 60
    layers = [
        PlannedLayer(CacheLayer.DOCUMENTS, "docs", 3000),
        PlannedLayer(CacheLayer.CONVERSATION, "conv", 3000),
    ]
    assert await planner.plan(MODEL, layers) == {CacheLayer.DOCUMENTS: CacheMark("5m")}


async def test_a_dry_run_changes_nothing(new_planner):
    planner, clock = new_planner()
    await _run_sets(planner, clock, uses=2, sets=10, gap=60)
    first = await planner.plan(MODEL, _docs("probe"), observe=False)
    assert first == await planner.plan(MODEL, _docs("probe"), observe=False)
    assert not await planner.live("probe")
    # The real first use decides as the dry run predicted.
    assert await planner.plan(MODEL, _docs("probe")) == first


class _CountingTraffic(CacheTraffic):
    """CacheTraffic that counts the transactions it opens."""

    def __init__(self, database: Database) -> None:
        super().__init__(database)
        self.transactions = 0

    @contextmanager
    def planning(self) -> Iterator[TrafficSession]:
        self.transactions += 1
        with super().planning() as session:
            yield session


async def test_layers_counted_though_unsent_share_the_plans_transaction(open_replica):
    # A follow-up whose documents block is out of the cache sends a block of its own; the old
    # block still counts as used, in the one transaction that plans the request.
    traffic = _CountingTraffic(open_replica())
    clock = _Clock()
    planner = CachePlanner("adaptive", PriceTable(), traffic, clock)
    await planner.plan(MODEL, _docs("old"))
    clock.now += 400
    before = traffic.transactions
    await planner.plan(MODEL, _docs("new"), unsent=_docs("old")[1:])
    assert traffic.transactions == before + 1
    with traffic.planning() as session:
        # The old block's run is going again, the new block's has begun.
        assert ReuseTracker(session, "documents").uses("old", clock.now) == 1
        assert ReuseTracker(session, "documents").uses("new", clock.now) == 1
    # A dry run counts nothing.
    clock.now += 400
    await planner.plan(MODEL, _docs("new"), observe=False, unsent=_docs("old")[1:])
    with traffic.planning() as session:
        assert ReuseTracker(session, "documents").uses("old", clock.now) == 0


async def test_a_block_sent_again_after_its_entry_is_gone_counts_as_one_use(open_replica):
    # A follow-up whose block is out of the cache may find the same chunks again: its new block
    # is the old one, sent and counted as unsent at once. That is one use, not two.
    traffic = CacheTraffic(open_replica())
    clock = _Clock()
    planner = CachePlanner("adaptive", PriceTable(), traffic, clock)
    await planner.plan(MODEL, _docs("block"))
    clock.now += 400
    await planner.plan(MODEL, _docs("block"), unsent=_docs("block")[1:])
    with traffic.reading() as session:
        assert ReuseTracker(session, "documents").uses("block", clock.now) == 1


async def test_batch_prefixes_use_the_one_hour_ttl_when_enough_requests_share_them(new_planner):
    planner, _ = new_planner()
    assert planner.plan_batch(MODEL, 3000, copies=1) is None
    assert planner.plan_batch(MODEL, 3000, copies=2) is None  # 2x write, one 0.05x read
    assert planner.plan_batch(MODEL, 3000, copies=3) == CacheMark("1h")
    assert planner.plan_batch(MODEL, 100, copies=50) is None


def test_tracker_counts_finished_runs_and_not_the_one_in_progress(
    open_replica: Callable[[], Database],
):
    traffic = CacheTraffic(open_replica())
    now = 0.0
    for index in range(20):
        for _ in range(3):
            with traffic.planning() as session:
                ReuseTracker(session, "documents").observe(f"k{index}", now)
            now += 10
        now += 400
    with traffic.planning() as session:
        tracker = ReuseTracker(session, "documents")
        # The prior is one pseudo-run with one further use and two with none.
        assert tracker.further_uses("new", now) == (1 + 20 * 2) / (3 + 20)
        tracker.observe("new", now)
        assert tracker.further_uses("new", now) == (1 + 20 * 1) / (3 + 20)


def test_the_tracker_keeps_the_most_recent_runs_of_each_kind(open_replica):
    traffic = CacheTraffic(open_replica(), window=5)
    with traffic.planning() as session:
        for index in range(8):
            # Keys that came back twice, then three that never did: only those are kept.
            ReuseTracker(session, "documents").observe(f"k{index}", index * 400.0)
            if index < 5:
                ReuseTracker(session, "documents").observe(f"k{index}", index * 400.0 + 1)
            ReuseTracker(session, "conversation").observe(f"c{index}", index * 400.0)
        documents = ReuseTracker(session, "documents")
        assert documents.further_uses("new", 4000.0) == (1 + 2 * 1) / (3 + 5)
        conversations = ReuseTracker(session, "conversation")
        assert conversations.further_uses("new", 4000.0) == 1 / (3 + 5)


# --- replicas: several planners on one database ----------------------------------------------


async def test_two_replicas_learn_from_all_the_traffic(open_replica):
    clock = _Clock()
    a, b = (
        CachePlanner("adaptive", PriceTable(), CacheTraffic(open_replica()), clock) for _ in "ab"
    )
    marks = []
    for index in range(10):
        # Every set comes back once, on the other replica: neither sees a repeat of its own.
        for replica in (a, b):
            planned = await replica.plan(MODEL, _docs(f"set-{index}"))
            marks.append(planned.get(CacheLayer.DOCUMENTS))
            clock.now += 60
        clock.now += 7200
    # Learned from both: each set is written on its first use and read on its second.
    assert marks == [CacheMark("5m")] * 20


async def test_a_layer_marked_by_one_replica_is_warm_on_the_other(open_replica):
    clock = _Clock()
    a = CachePlanner("adaptive", PriceTable(), CacheTraffic(open_replica()), clock)
    b = CachePlanner("adaptive", PriceTable(), CacheTraffic(open_replica()), clock)
    # Sets are used exactly twice: only the first use of one is worth a cold write.
    await _run_sets(a, clock, uses=2, sets=10, gap=60)
    assert (await a.plan(MODEL, _docs("pair"))).get(CacheLayer.DOCUMENTS) == CacheMark("5m")
    clock.now += 60
    assert await b.live("pair")
    # Its last use is cold on the statistics alone, but b reads the entry a wrote.
    assert (await b.plan(MODEL, _docs("pair"))).get(CacheLayer.DOCUMENTS) == CacheMark("5m")


async def test_replicas_planning_one_key_at_once_count_every_use_in_one_run(open_replica):
    clock = _Clock()
    traffic = [CacheTraffic(open_replica()) for _ in range(2)]
    replicas = [CachePlanner("adaptive", PriceTable(), t, clock) for t in traffic]
    layers = _docs("hot")

    def plan(index: int) -> dict[CacheLayer, CacheMark]:
        return asyncio.run(replicas[index % 2].plan(MODEL, layers))

    with ThreadPoolExecutor(8) as pool:
        marks = list(pool.map(plan, range(24)))
    # The first plan writes it on the prior; every later one finds it marked.
    assert all(m.get(CacheLayer.DOCUMENTS) == CacheMark("5m") for m in marks)
    # No replica read the run between another's decision and its record of the use.
    with traffic[0].planning() as session:
        assert ReuseTracker(session, "documents").uses("hot", clock.now) == 24


def test_the_upgrade_keeps_the_trackers_runs_and_drops_the_one_hour_runs_nobody_read(
    storage_url: str,
):
    engine = create_engine(storage_url)
    try:
        with engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, "0016")
            rows = [
                ("documents", "5m", "chain"),
                ("documents:returns", "1h", "returning"),
                ("documents", "1h", "stray"),
            ]
            for kind, ttl, key in rows:
                connection.execute(
                    text(
                        "INSERT INTO cache_reuse_runs (kind, ttl, key, last_used_at, uses)"
                        " VALUES (:kind, :ttl, :key, 0, 2)"
                    ),
                    {"kind": kind, "ttl": ttl, "key": key},
                )
    finally:
        engine.dispose()
    database = Database.open(storage_url)
    try:
        with database.reading() as connection:
            kept = connection.execute(text("SELECT kind, key FROM cache_reuse_runs")).all()
        assert sorted(tuple(row) for row in kept) == [
            ("documents", "chain"),
            ("documents:returns", "returning"),
        ]
        with CacheTraffic(database).reading() as session:
            assert ReuseTracker(session, "documents").uses("chain", 10.0) == 2
    finally:
        database.close()


async def test_a_marked_documents_block_is_offered_to_its_scope_while_its_entry_lives(
    new_planner: Callable[..., tuple[CachePlanner, _Clock]],
):
    planner, clock = new_planner("always")
    other, _ = new_planner("always")  # another replica on the same database
    offer = BlockOffer("scope-a", "c1", '[{"chunk": 1}]', 2800)
    await planner.plan(MODEL, _docs("block-1"), offer=offer)
    assert await other.warm_blocks("scope-a") == [("c1", '[{"chunk": 1}]', 2800)]
    assert await other.warm_blocks("scope-b") == []
    # Not once the entry will be gone before a request sent now reaches the API.
    clock.now = 300 - WARM_BLOCK_MARGIN_S + 1
    assert await planner.warm_blocks("scope-a") == []


async def test_a_block_that_is_not_marked_or_too_short_to_cache_is_never_offered(
    new_planner: Callable[..., tuple[CachePlanner, _Clock]],
):
    planner, _ = new_planner("always")
    # Within the estimate's error under the 512-token minimum: marked, but maybe not cached.
    await planner.plan(MODEL, _docs("short", 480), offer=BlockOffer("s", "", "[]", 280))
    dry = BlockOffer("s", "d", '["dry"]', 2800)
    await planner.plan(MODEL, _docs("dry-run"), observe=False, offer=dry)
    assert await planner.warm_blocks("s") == []
    off, _ = new_planner("off")
    await off.plan(MODEL, _docs("off"), offer=BlockOffer("s", "o", '["off"]', 2800))
    assert await planner.warm_blocks("s") == []
