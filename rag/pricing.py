"""What a Claude call cost, and what it would have cost with no caching.

The only module that imports genai_prices. Prices per model come from that maintained table;
a local override table prices models it lacks, and the documented multipliers fill any cache
price it leaves out. A model priced by neither is "unpriced": its cost is None, never zero.

Cost of one call (per-million-token rates, every rate halved for the Batch API, cache prices
included, because the discounts stack):

    cost = input * in + write_5m * w5m + write_1h * w1h + read * r + output * out

The counterfactual "no cache" cost prices the whole prompt (input + writes + reads) at the
plain input rate, with the same output. Both use the rate tier the whole prompt falls in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from functools import cache

from genai_prices import data_snapshot
from genai_prices.types import ModelPrice, TieredPrices

from rag.settings import PriceOverride
from rag.types import CallRecord, Usage

_PER_MILLION = Decimal(1_000_000)
# The Batch API halves every price; cache multipliers apply on top of the halved rates.
BATCH_DISCOUNT = Decimal("0.5")
# Documented multipliers of the input rate, used where the library has no explicit price:
# a 5-minute write costs 1.25x, a 1-hour write 2x, a read 0.1x (less on some newer models,
# which the library lists explicitly).
WRITE_5M_MULTIPLIER = Decimal("1.25")
WRITE_1H_MULTIPLIER = Decimal("2")
READ_MULTIPLIER = Decimal("0.1")


class PriceSource(StrEnum):
    """Where a model's rates came from."""

    LIBRARY = "genai-prices"
    OVERRIDE = "override"
    UNPRICED = "unpriced"


@dataclass(frozen=True, slots=True)
class ModelRates:
    """USD per million tokens for one model, at one rate tier."""

    input_per_mtok: Decimal
    output_per_mtok: Decimal
    cache_write_5m_per_mtok: Decimal
    cache_write_1h_per_mtok: Decimal
    cache_read_per_mtok: Decimal
    source: PriceSource = PriceSource.LIBRARY

    @classmethod
    def from_input_output(
        cls,
        input_per_mtok: Decimal,
        output_per_mtok: Decimal,
        cache_read_per_mtok: Decimal | None = None,
        source: PriceSource = PriceSource.OVERRIDE,
        cache_write_5m_per_mtok: Decimal | None = None,
        cache_write_1h_per_mtok: Decimal | None = None,
    ) -> ModelRates:
        """Rates from input and output prices; cache prices not given by the multipliers."""
        return cls(
            input_per_mtok=input_per_mtok,
            output_per_mtok=output_per_mtok,
            cache_write_5m_per_mtok=(
                input_per_mtok * WRITE_5M_MULTIPLIER
                if cache_write_5m_per_mtok is None
                else cache_write_5m_per_mtok
            ),
            cache_write_1h_per_mtok=(
                input_per_mtok * WRITE_1H_MULTIPLIER
                if cache_write_1h_per_mtok is None
                else cache_write_1h_per_mtok
            ),
            cache_read_per_mtok=(
                input_per_mtok * READ_MULTIPLIER
                if cache_read_per_mtok is None
                else cache_read_per_mtok
            ),
            source=source,
        )

    def scaled(self, factor: Decimal) -> ModelRates:
        """Every rate multiplied by factor (the batch discount)."""
        return ModelRates(
            input_per_mtok=self.input_per_mtok * factor,
            output_per_mtok=self.output_per_mtok * factor,
            cache_write_5m_per_mtok=self.cache_write_5m_per_mtok * factor,
            cache_write_1h_per_mtok=self.cache_write_1h_per_mtok * factor,
            cache_read_per_mtok=self.cache_read_per_mtok * factor,
            source=self.source,
        )

    def cost_usd(self, usage: Usage) -> Decimal:
        """The call's actual cost."""
        total = (
            usage.input_tokens * self.input_per_mtok
            + usage.cache_creation_5m_input_tokens * self.cache_write_5m_per_mtok
            + usage.cache_creation_1h_input_tokens * self.cache_write_1h_per_mtok
            + usage.cache_read_input_tokens * self.cache_read_per_mtok
            + usage.output_tokens * self.output_per_mtok
        )
        return total / _PER_MILLION

    def cost_without_cache_usd(self, usage: Usage) -> Decimal:
        """What the same call would have cost with no caching: the whole prompt at input rate."""
        total = (
            usage.prompt_tokens * self.input_per_mtok + usage.output_tokens * self.output_per_mtok
        )
        return total / _PER_MILLION

    def write_premium_usd(self, usage: Usage) -> Decimal:
        """What this call's cache writes cost above plain input; lost if never read back."""
        total = usage.cache_creation_5m_input_tokens * (
            self.cache_write_5m_per_mtok - self.input_per_mtok
        ) + usage.cache_creation_1h_input_tokens * (
            self.cache_write_1h_per_mtok - self.input_per_mtok
        )
        return total / _PER_MILLION

    def miss_cost_usd(self, missed_tokens: int) -> Decimal:
        """What tokens that missed the cache cost above reading them from it."""
        return missed_tokens * (self.input_per_mtok - self.cache_read_per_mtok) / _PER_MILLION


@dataclass(frozen=True, slots=True)
class Cost:
    """A call's price. cost_usd is None when the model is unpriced: unknown, not free."""

    model: str
    source: PriceSource
    cost_usd: Decimal | None
    cost_without_cache_usd: Decimal | None

    @property
    def priced(self) -> bool:
        return self.source is not PriceSource.UNPRICED

    @property
    def saved_usd(self) -> Decimal | None:
        """Net saving of caching on this call; negative when it paid a write premium."""
        if self.cost_usd is None or self.cost_without_cache_usd is None:
            return None
        return self.cost_without_cache_usd - self.cost_usd


class PriceTable:
    """Rates per model: the local overrides first, then genai-prices' Anthropic table."""

    def __init__(self, overrides: Mapping[str, ModelRates] | None = None) -> None:
        self._overrides = {model.lower(): rates for model, rates in (overrides or {}).items()}

    @classmethod
    def configured(cls, overrides: Mapping[str, PriceOverride]) -> PriceTable:
        """The table with the prices of settings.price_overrides (STRATA_PRICE_OVERRIDES)."""
        return cls(
            {
                model: ModelRates.from_input_output(
                    price.input,
                    price.output,
                    cache_read_per_mtok=price.cache_read,
                    cache_write_5m_per_mtok=price.cache_write_5m,
                    cache_write_1h_per_mtok=price.cache_write_1h,
                )
                for model, price in overrides.items()
            }
        )

    def rates_for(
        self,
        model: str,
        prompt_tokens: int = 0,
        *,
        batch: bool = False,
        at: datetime | None = None,
    ) -> ModelRates | None:
        """The rates for a call on model with a prompt of prompt_tokens; None if unpriced."""
        rates = self._overrides.get(model.lower()) or _library_rates(
            model.lower(), prompt_tokens, at or datetime.now(UTC)
        )
        if rates is None:
            return None
        return rates.scaled(BATCH_DISCOUNT) if batch else rates

    def cost_of(
        self, model: str, usage: Usage, batch: bool = False, at: datetime | None = None
    ) -> Cost:
        """The actual and the no-cache cost of one call."""
        rates = self.rates_for(model, usage.prompt_tokens, batch=batch, at=at)
        if rates is None:
            return Cost(model, PriceSource.UNPRICED, None, None)
        return Cost(model, rates.source, rates.cost_usd(usage), rates.cost_without_cache_usd(usage))

    def cost_of_record(self, record: CallRecord) -> Cost:
        """What a recorded call cost, and what it would have cost with no caching at all.

        An answer-cache hit makes no Claude call, so its own usage costs nothing; with no
        caching the call it replaced (record.avoided_usage) would have been made, whole.
        The ledger row and the ask response both take a hit's figures from here.
        """
        cost = self.cost_of(record.model, record.usage, batch=record.batch, at=record.started_at)
        if record.avoided_usage is None or cost.cost_without_cache_usd is None:
            return cost
        replaced = self.cost_of(
            record.model, record.avoided_usage, batch=record.batch, at=record.started_at
        )
        if replaced.cost_without_cache_usd is None:
            return Cost(record.model, PriceSource.UNPRICED, None, None)
        without_cache = cost.cost_without_cache_usd + replaced.cost_without_cache_usd
        return replace(cost, cost_without_cache_usd=without_cache)


@cache
def default_price_table() -> PriceTable:
    """The price table with no local overrides."""
    return PriceTable()


def cost_of(model: str, usage: Usage, batch: bool = False, at: datetime | None = None) -> Cost:
    """The actual and the no-cache cost of one call, from the default price table."""
    return default_price_table().cost_of(model, usage, batch=batch, at=at)


def _library_rates(model: str, prompt_tokens: int, at: datetime) -> ModelRates | None:
    try:
        _, info = data_snapshot.get_snapshot().find_provider_model(model, None, "anthropic", None)
    except LookupError:
        return None
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    prices: ModelPrice = info.get_prices(at)
    input_rate = _at_tier(prices.input_mtok, prompt_tokens)
    output_rate = _at_tier(prices.output_mtok, prompt_tokens)
    if input_rate is None or output_rate is None:
        return None
    write_5m = _at_tier(prices.cache_write_mtok, prompt_tokens)
    write_1h = _at_tier(prices.cache_write_1h_mtok, prompt_tokens)
    read = _at_tier(prices.cache_read_mtok, prompt_tokens)
    return ModelRates(
        input_per_mtok=input_rate,
        output_per_mtok=output_rate,
        cache_write_5m_per_mtok=input_rate * WRITE_5M_MULTIPLIER if write_5m is None else write_5m,
        cache_write_1h_per_mtok=input_rate * WRITE_1H_MULTIPLIER if write_1h is None else write_1h,
        cache_read_per_mtok=input_rate * READ_MULTIPLIER if read is None else read,
    )


def _at_tier(price: object, prompt_tokens: int) -> Decimal | None:
    """The library's cliff rule: a prompt above a tier's start pays that tier for every token."""
    if isinstance(price, Decimal):
        return price
    if isinstance(price, TieredPrices):
        rate = price.base
        for tier in price.tiers:
            if prompt_tokens > tier.start:
                rate = tier.price
        return rate
    return None
