"""Prices against the reference table (USD per million tokens), worked out by hand."""

from __future__ import annotations

from decimal import Decimal

from rag.pricing import ModelRates, PriceSource, PriceTable, cost_of
from rag.types import Usage

MIXED = Usage(
    input_tokens=1_000,
    cache_creation_5m_input_tokens=2_000,
    cache_creation_1h_input_tokens=500,
    cache_read_input_tokens=10_000,
    output_tokens=300,
)


def test_sonnet_4_6_prices_every_kind_of_token() -> None:
    # $3 in, $3.75 5m write, $6 1h write, $0.30 read, $15 out.
    cost = cost_of("claude-sonnet-4-6", MIXED)
    assert cost.source is PriceSource.LIBRARY
    assert cost.cost_usd == Decimal("0.021")  # 3000 + 7500 + 3000 + 3000 + 4500 micro-dollars
    assert cost.cost_without_cache_usd == Decimal("0.045")  # 13,500 * 3 + 300 * 15
    assert cost.saved_usd == Decimal("0.024")


def test_haiku_4_5_write_never_read_is_a_negative_saving() -> None:
    usage = Usage(input_tokens=2_000, cache_creation_5m_input_tokens=4_096, output_tokens=500)
    cost = cost_of("claude-haiku-4-5", usage)
    assert cost.cost_usd == Decimal("0.00962")  # 2000 * 1 + 4096 * 1.25 + 500 * 5
    assert cost.cost_without_cache_usd == Decimal("0.008596")
    assert cost.saved_usd == Decimal("-0.001024")  # the 0.25x write premium on 4,096 tokens


def test_dated_snapshot_id_has_the_alias_price() -> None:
    usage = Usage(input_tokens=2_000, cache_creation_5m_input_tokens=4_096, output_tokens=500)
    assert cost_of("claude-haiku-4-5-20251001", usage).cost_usd == Decimal("0.00962")


def test_sonnet_5_5_reads_at_five_percent_of_input() -> None:
    usage = Usage(input_tokens=50, cache_read_input_tokens=100_000, output_tokens=1_000)
    cost = cost_of("claude-sonnet-5-5", usage)
    assert cost.cost_usd == Decimal("0.0201")  # 50 * 2 + 100,000 * 0.10 + 1000 * 10
    assert cost.cost_without_cache_usd == Decimal("0.2101")  # 100,050 * 2 + 1000 * 10


def test_batch_halves_every_price_cache_included() -> None:
    cost = cost_of("claude-sonnet-4-6", MIXED, batch=True)
    assert cost.cost_usd == Decimal("0.0105")
    assert cost.cost_without_cache_usd == Decimal("0.0225")


def test_haiku_5_5_prompt_above_100k_pays_the_higher_tier_for_every_token() -> None:
    small = cost_of("claude-haiku-5-5", Usage(input_tokens=50_000, output_tokens=1_000))
    large = cost_of("claude-haiku-5-5", Usage(input_tokens=150_000, output_tokens=1_000))
    assert small.cost_usd == Decimal("0.0055")  # 50,000 * 0.10 + 1000 * 0.50
    assert large.cost_usd == Decimal("0.0775")  # 150,000 * 0.50 + 1000 * 2.50


def test_unknown_model_is_unpriced_not_free() -> None:
    for model in ("claude-mythos-5", "gpt-4o", "claude-next-9"):
        cost = cost_of(model, MIXED)
        assert cost.source is PriceSource.UNPRICED
        assert not cost.priced
        assert cost.cost_usd is None
        assert cost.cost_without_cache_usd is None
        assert cost.saved_usd is None


def test_override_prices_a_model_the_library_lacks_with_documented_multipliers() -> None:
    table = PriceTable({"claude-mythos-5": ModelRates.from_input_output(Decimal(10), Decimal(50))})
    usage = Usage(
        input_tokens=100,
        cache_creation_1h_input_tokens=1_000,
        cache_creation_5m_input_tokens=1_000,
        cache_read_input_tokens=1_000,
        output_tokens=10,
    )
    cost = table.cost_of("claude-mythos-5", usage)
    assert cost.source is PriceSource.OVERRIDE
    # 100 * 10 + 1000 * 20 (1h, 2x) + 1000 * 12.5 (5m, 1.25x) + 1000 * 1 (read, 0.1x) + 10 * 50
    assert cost.cost_usd == Decimal("0.035")
    assert table.cost_of("claude-sonnet-4-6", MIXED) == cost_of("claude-sonnet-4-6", MIXED)
