from decimal import Decimal

from rag.cache_planner import CacheMark, CachePlanner, PlannedLayer, ReuseTracker
from rag.pricing import ModelRates, PriceTable
from rag.settings import CachePolicyName
from rag.types import CacheLayer

MODEL = "claude-sonnet-5-5"  # 512-token minimum; reads at 0.05x in the price table


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _planner(policy: CachePolicyName = "adaptive", prices: PriceTable | None = None):
    clock = _Clock()
    return CachePlanner(policy, prices or PriceTable(), clock), clock


def _docs(key: str, tokens: int = 3000) -> list[PlannedLayer]:
    return [
        PlannedLayer(CacheLayer.SYSTEM, "system", 200),
        PlannedLayer(CacheLayer.DOCUMENTS, key, tokens),
    ]


def _run_sets(planner: CachePlanner, clock: _Clock, uses: int, sets: int, gap: float) -> list:
    """sets chunk sets, each used `uses` times gap seconds apart; the marks of every call."""
    marks = []
    for index in range(sets):
        for _ in range(uses):
            marks.append(planner.plan(MODEL, _docs(f"set-{index}")).get(CacheLayer.DOCUMENTS))
            clock.now += gap
        clock.now += 7200
    return marks


def test_multipliers_come_from_the_price_table_per_model():
    planner, _ = _planner()
    assert planner.multipliers(MODEL).read == 0.05
    assert planner.multipliers("claude-haiku-4-5").read == 0.1
    cheap_writes = PriceTable(
        {MODEL: ModelRates.from_input_output(Decimal(2), Decimal(10), Decimal("0.2"))}
    )
    assert CachePlanner("adaptive", cheap_writes).multipliers(MODEL).read == 0.1


def test_off_never_marks_and_always_marks_every_layer():
    layers = [*_docs("a", 10), PlannedLayer(CacheLayer.CONVERSATION, "c", 20)]
    assert _planner("off")[0].plan(MODEL, layers) == {}
    assert set(_planner("always")[0].plan(MODEL, layers)) == {
        CacheLayer.SYSTEM,
        CacheLayer.DOCUMENTS,
        CacheLayer.CONVERSATION,
    }


def test_never_marks_clearly_below_the_models_minimum_even_when_warm():
    planner, _ = _planner()
    layers = [PlannedLayer(CacheLayer.SYSTEM, "s", 3000)]
    assert planner.plan("claude-haiku-4-5", layers) == {}  # minimum 4096
    assert planner.plan("claude-haiku-4-5", [PlannedLayer(CacheLayer.SYSTEM, "s", 4096)])


def test_a_prefix_estimated_just_under_the_minimum_is_marked_as_the_estimate_may_be_low():
    # A mark on a prefix that turns out too short is free; one left off a cacheable prefix
    # forfeits its reads.
    planner, _ = _planner()
    assert planner.plan("claude-haiku-4-5", [PlannedLayer(CacheLayer.SYSTEM, "s", 3700)])
    assert planner.plan_batch("claude-haiku-4-5", 3700, copies=4) is not None


def test_a_fresh_process_writes_a_new_chunk_set_once_before_it_has_learned_anything():
    planner, _ = _planner()
    assert planner.plan(MODEL, _docs("fresh")).get(CacheLayer.DOCUMENTS) == CacheMark("5m")


def test_traffic_where_nothing_repeats_stops_paying_for_writes_at_once():
    planner, clock = _planner()
    marks = _run_sets(planner, clock, uses=1, sets=30, gap=10)
    assert marks[0] is not None
    assert not any(marks[1:])
    # Also in a burst, before any run has outlived its TTL.
    planner, clock = _planner()
    burst = []
    for index in range(30):
        burst.append(planner.plan(MODEL, _docs(f"burst-{index}")).get(CacheLayer.DOCUMENTS))
        clock.now += 0.1
    # The first is written on the prior; the ones after it see that it never came back.
    assert sum(mark is not None for mark in burst) == 1


def test_a_layer_marked_within_its_ttl_is_marked_again_on_its_last_use():
    planner, clock = _planner()
    # Learn that chunk sets come back exactly twice, a minute apart.
    _run_sets(planner, clock, uses=2, sets=10, gap=60)
    first = planner.plan(MODEL, _docs("pair")).get(CacheLayer.DOCUMENTS)
    assert first == CacheMark("5m")
    clock.now += 60
    # Nothing suggests a third use, yet the live entry is read: the mark stays.
    assert planner.plan(MODEL, _docs("pair")).get(CacheLayer.DOCUMENTS) == CacheMark("5m")
    assert planner.live("pair")
    clock.now += 301
    assert not planner.live("pair")


def test_k_use_sets_are_written_once_and_read_k_minus_one_times():
    for uses in (2, 3, 5):
        planner, clock = _planner()
        _run_sets(planner, clock, uses=uses, sets=10, gap=60)
        marks = _run_sets(planner, clock, uses=uses, sets=3, gap=60)
        assert marks == [CacheMark("5m")] * (uses * 3)


def test_gaps_beyond_five_minutes_choose_the_one_hour_ttl_when_it_pays():
    planner, clock = _planner()
    _run_sets(planner, clock, uses=4, sets=10, gap=600)
    assert _run_sets(planner, clock, uses=4, sets=2, gap=600) == [CacheMark("1h")] * 8
    # Two uses ten minutes apart: a 2x write read once at 0.05x costs more than no cache.
    planner, clock = _planner()
    _run_sets(planner, clock, uses=2, sets=10, gap=600)
    assert not any(_run_sets(planner, clock, uses=2, sets=2, gap=600))


def test_a_one_hour_mark_never_follows_a_five_minute_one():
    # The system layer's 5-minute mark is lengthened to sit above the documents' 1-hour one.
    planner, clock = _planner()
    _run_sets(planner, clock, uses=4, sets=10, gap=600)
    layers = [
        PlannedLayer(CacheLayer.SYSTEM, "system", 1000),
        PlannedLayer(CacheLayer.DOCUMENTS, "set-x", 3000),
    ]
    marks = planner.plan(MODEL, layers)
    assert marks == {CacheLayer.SYSTEM: CacheMark("1h"), CacheLayer.DOCUMENTS: CacheMark("1h")}


def test_a_conversation_mark_is_weighed_on_its_new_turns_only():
    planner, _ = _planner("adaptive")
    # The documents layer marked warm covers all but 10 tokens of the conversation layer:
    # a mark that adds nothing the cache does not already hold is never a cold write.
    planner._marks["docs"] = ("5m", 0.0)
    layers = [
        PlannedLayer(CacheLayer.DOCUMENTS, "docs", 3000),
        PlannedLayer(CacheLayer.CONVERSATION, "conv", 3000),
    ]
    assert planner.plan(MODEL, layers) == {CacheLayer.DOCUMENTS: CacheMark("5m")}


def test_a_dry_run_changes_nothing():
    planner, clock = _planner()
    _run_sets(planner, clock, uses=2, sets=10, gap=60)
    planner.plan(MODEL, _docs("probe"), observe=False)
    assert not planner.live("probe")


def test_batch_prefixes_use_the_one_hour_ttl_when_enough_requests_share_them():
    planner, _ = _planner()
    assert planner.plan_batch(MODEL, 3000, copies=1) is None
    assert planner.plan_batch(MODEL, 3000, copies=2) is None  # 2x write, one 0.05x read
    assert planner.plan_batch(MODEL, 3000, copies=3) == CacheMark("1h")
    assert planner.plan_batch(MODEL, 100, copies=50) is None


def test_tracker_counts_finished_runs_and_not_the_one_in_progress():
    clock = _Clock()
    tracker = ReuseTracker(300, clock)
    for index in range(20):
        for _ in range(3):
            tracker.observe(f"k{index}")
            clock.now += 10
        clock.now += 400
    # The prior is one pseudo-run with one further use and two with none.
    assert tracker.further_uses("new") == (1 + 20 * 2) / (3 + 20)
    tracker.observe("new")
    assert tracker.further_uses("new") == (1 + 20 * 1) / (3 + 20)
