from rag.cache_policy import CacheMark, LayerStats, ReuseTracker, break_even_reuse, decide
from rag.models import model_info
from rag.types import CacheLayer


def _stats(prefix: int = 5000, reuse: float = 0.5, minimum: int = 1024) -> LayerStats:
    return LayerStats(prefix_tokens=prefix, min_cacheable_tokens=minimum, reuse_probability=reuse)


def test_off_never_marks_and_always_marks_every_layer():
    for layer in (CacheLayer.SYSTEM, CacheLayer.DOCUMENTS, CacheLayer.CONVERSATION):
        assert decide("off", layer, _stats(reuse=1.0)) is None
        assert decide("always", layer, _stats(prefix=1, reuse=0.0)) == CacheMark()


def test_adaptive_never_marks_below_the_models_minimum():
    minimum = model_info("claude-haiku-4-5").min_cacheable_tokens
    assert minimum == 4096
    for layer in (CacheLayer.SYSTEM, CacheLayer.DOCUMENTS):
        assert decide("adaptive", layer, _stats(prefix=4000, reuse=1.0, minimum=minimum)) is None
        assert decide("adaptive", layer, _stats(prefix=4096, reuse=1.0, minimum=minimum))


def test_adaptive_marks_documents_only_above_break_even_reuse():
    assert round(break_even_reuse(1.25, 0.1), 3) == 0.217
    assert decide("adaptive", CacheLayer.DOCUMENTS, _stats(reuse=0.2)) is None
    assert decide("adaptive", CacheLayer.DOCUMENTS, _stats(reuse=0.25)) == CacheMark()
    # A cheaper read (0.05x, as on Sonnet 5.5) lowers the bar a little.
    cheap = LayerStats(5000, 512, 0.21, write_multiplier=1.25, read_multiplier=0.05)
    assert decide("adaptive", CacheLayer.DOCUMENTS, _stats(reuse=0.21)) is None
    assert decide("adaptive", CacheLayer.DOCUMENTS, cheap) == CacheMark()


def test_adaptive_marks_the_system_layer_once_it_reaches_the_minimum():
    assert decide("adaptive", CacheLayer.SYSTEM, _stats(prefix=1024, reuse=0.0)) == CacheMark()


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_tracker_expects_a_recently_seen_chunk_set_back():
    clock = _Clock()
    tracker = ReuseTracker(ttl_seconds=300, clock=clock)
    tracker.observe("a")
    clock.now = 60
    assert tracker.estimate("a") > break_even_reuse(1.25, 0.1)


def test_tracker_stops_expecting_reuse_when_nothing_repeats():
    clock = _Clock()
    tracker = ReuseTracker(ttl_seconds=300, clock=clock)
    threshold = break_even_reuse(1.25, 0.1)
    fresh_estimates = []
    for i in range(10):
        clock.now = i
        fresh_estimates.append(tracker.estimate(f"set-{i}"))
        tracker.observe(f"set-{i}")
    assert fresh_estimates[0] > threshold
    assert all(p < threshold for p in fresh_estimates[2:])


def test_tracker_forgets_what_fell_out_of_the_ttl():
    clock = _Clock()
    tracker = ReuseTracker(ttl_seconds=300, clock=clock)
    for i in range(5):
        tracker.observe(f"other-{i}")
    tracker.observe("a")
    clock.now = 301
    assert tracker.estimate("a") == tracker.estimate("never-seen")
    assert tracker.estimate("a") < break_even_reuse(1.25, 0.1)


def test_tracker_learns_that_second_uses_rarely_come_back():
    clock = _Clock()
    tracker = ReuseTracker(ttl_seconds=300, clock=clock)
    threshold = break_even_reuse(1.25, 0.1)
    # Ten chunk sets, each used exactly twice and never a third time.
    for i in range(10):
        tracker.observe(f"set-{i}")
        tracker.observe(f"set-{i}")
    tracker.observe("b")
    assert tracker.estimate("b") < threshold


def test_tracker_learns_that_sets_come_back_when_they_do():
    clock = _Clock()
    tracker = ReuseTracker(ttl_seconds=300, clock=clock)
    threshold = break_even_reuse(1.25, 0.1)
    for i in range(10):
        for _ in range(3):
            tracker.observe(f"set-{i}")
    assert tracker.estimate("brand-new") > threshold
    tracker.observe("b")
    assert tracker.estimate("b") > threshold
