"""What the ledger's queries return: small frozen values, ready to turn into JSON."""

from __future__ import annotations

from dataclasses import asdict, astuple, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Totals:
    """Sums over a set of ledger rows. Costs leave out unpriced rows (counted apart)."""

    calls: int = 0
    unpriced_calls: int = 0
    input_tokens: int = 0
    cache_creation_5m_input_tokens: int = 0
    cache_creation_1h_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    cost_without_cache_usd: float = 0.0
    saved_usd: float = 0.0
    answer_cache_hits: int = 0
    avoided_cost_usd: float = 0.0
    routed_calls: int = 0
    routing_saved_usd: float = 0.0
    semantic_cache_hits: int = 0
    semantic_avoided_cost_usd: float = 0.0
    semantic_audits: int = 0
    semantic_audit_disagreements: int = 0

    @property
    def cache_creation_input_tokens(self) -> int:
        return self.cache_creation_5m_input_tokens + self.cache_creation_1h_input_tokens

    def __add__(self, other: Totals) -> Totals:
        return Totals(*(a + b for a, b in zip(astuple(self), astuple(other), strict=True)))

    def as_dict(self) -> dict[str, Any]:
        """The totals with cache_creation_input_tokens, as SPEC section 9 names them."""
        data = asdict(self)
        data["cache_creation_input_tokens"] = self.cache_creation_input_tokens
        return data


@dataclass(frozen=True, slots=True)
class WastedWrites:
    """Cache writes no later call read back before they expired, and what they cost extra."""

    calls: int = 0
    tokens: int = 0
    usd: float = 0.0
    pending_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Summary:
    """The savings summary for a period, with its groupings."""

    since: datetime | None
    until: datetime | None
    totals: Totals
    wasted_writes: WastedWrites
    groups: dict[str, dict[str, Totals]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LayerStats:
    """How often one caching layer served the calls it could have served, and what it saved."""

    layer: str
    eligible_calls: int
    hits: int
    saved_usd: float

    @property
    def hit_rate(self) -> float | None:
        return self.hits / self.eligible_calls if self.eligible_calls else None


@dataclass(frozen=True, slots=True)
class MissReason:
    """One cache-miss reason the API reported: how often, how many tokens, what it cost."""

    reason: str
    calls: int
    missed_tokens: int
    lost_usd: float


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    """Spend and savings in one time bucket."""

    start: datetime
    calls: int
    cost_usd: float
    cost_without_cache_usd: float
    saved_usd: float


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """One recorded call as the requests listing shows it."""

    id: int
    started_at: datetime
    feature: str
    model: str
    conversation_id: str | None
    batch: bool
    input_tokens: int
    cache_creation_5m_input_tokens: int
    cache_creation_1h_input_tokens: int
    cache_read_input_tokens: int
    output_tokens: int
    price_source: str
    cost_usd: float | None
    cost_without_cache_usd: float | None
    saved_usd: float | None
    latency_ms: float
    time_to_first_token_ms: float | None
    request_id: str | None
    http_request_id: str | None
    layer_hit: str
    cache_miss_reason: str | None
    cache_missed_input_tokens: int | None
    avoided_cost_usd: float | None
    cache_write_read_back_tokens: int
    error: str | None
    routed_from_model: str | None
    routing_saved_usd: float | None
    semantic_similarity: float | None
    semantic_question: str | None
    semantic_audit_agreed: bool | None
    output_estimated: bool

    @property
    def cache_creation_input_tokens(self) -> int:
        return self.cache_creation_5m_input_tokens + self.cache_creation_1h_input_tokens

    def as_dict(self) -> dict[str, Any]:
        """The row with cache_creation_input_tokens, for JSON."""
        data = asdict(self)
        data["cache_creation_input_tokens"] = self.cache_creation_input_tokens
        return data


@dataclass(frozen=True, slots=True)
class LatencyHistogram:
    """Cumulative counts of calls at or under each bound, per feature, for Prometheus."""

    bounds_ms: tuple[float, ...]
    # feature -> (cumulative counts per bound, count, sum in ms)
    by_feature: dict[str, tuple[tuple[int, ...], int, float]]
