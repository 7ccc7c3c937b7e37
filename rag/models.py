"""The one table of Claude models Strata knows: limits, cache minimums, thinking, JSON output.

Figures come from shared/reference (README.md and api-messages.md §3.4, §7), which cites the
official model, pricing and prompt-caching pages. Where the docs give no context window or
maximum output for a model, the figure of its generation is used and the row says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from rag.errors import InvalidInput


class ThinkingMode(StrEnum):
    """How a model takes extended thinking."""

    BUDGET = "budget"  # thinking: {"type": "enabled", "budget_tokens": N}
    ADAPTIVE = "adaptive"  # thinking: {"type": "adaptive"} with output_config.effort


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """What Strata needs to know about one model to build and price a request for it."""

    model_id: str
    context_window_tokens: int
    max_output_tokens: int
    # Below this many prefix tokens a cache_control mark caches nothing (and costs nothing).
    min_cacheable_tokens: int
    thinking_modes: frozenset[ThinkingMode]
    native_json_output: bool
    status: str = "current"

    @property
    def takes_thinking_budget(self) -> bool:
        """True when the model accepts thinking.type=enabled with budget_tokens."""
        return ThinkingMode.BUDGET in self.thinking_modes

    @property
    def takes_adaptive_thinking(self) -> bool:
        """True when the model accepts thinking.type=adaptive with an effort level."""
        return ThinkingMode.ADAPTIVE in self.thinking_modes


_ADAPTIVE = frozenset({ThinkingMode.ADAPTIVE})
_BUDGET = frozenset({ThinkingMode.BUDGET})
# Opus 4.6 and Sonnet 4.6 still take a budget, deprecated; adaptive is their main mode.
_BOTH = frozenset({ThinkingMode.ADAPTIVE, ThinkingMode.BUDGET})

_1M, _200K, _128K, _64K = 1_000_000, 200_000, 128_000, 64_000


def _model(
    model_id: str,
    context: int,
    max_out: int,
    min_cache: int,
    thinking: frozenset[ThinkingMode],
    status: str = "current",
) -> ModelInfo:
    # Native JSON outputs (output_config.format) are GA on every model in this table.
    return ModelInfo(model_id, context, max_out, min_cache, thinking, True, status)


_TABLE: tuple[ModelInfo, ...] = (
    # Sonnet 5.5 and Haiku 5.5: the docs give no window; the 5.x generation's 1M / 128K is used.
    _model("claude-sonnet-5-5", _1M, _128K, 512, _ADAPTIVE),
    _model("claude-haiku-5-5", _1M, _128K, 512, _ADAPTIVE),
    _model("claude-opus-5-5", _1M, _128K, 512, _ADAPTIVE),
    _model("claude-sonnet-5", _1M, _128K, 1024, _ADAPTIVE),
    _model("claude-opus-5", _1M, _128K, 512, _ADAPTIVE),
    _model("claude-fable-5", _1M, _128K, 512, _ADAPTIVE),
    _model("claude-fable-5-1", _1M, _128K, 512, _ADAPTIVE),
    _model("claude-fable-5-2", _1M, _128K, 512, _ADAPTIVE),
    _model("claude-mythos-5", _1M, _128K, 512, _ADAPTIVE),
    _model("claude-mythos-5-1", _1M, _128K, 512, _ADAPTIVE),
    _model("claude-mythos-5-2", _1M, _128K, 512, _ADAPTIVE),
    _model("claude-opus-4-8", _1M, _128K, 1024, _ADAPTIVE),
    _model("claude-opus-4-7", _1M, _128K, 2048, _ADAPTIVE),
    _model("claude-opus-4-6", _1M, _128K, 4096, _BOTH, "legacy"),
    _model("claude-sonnet-4-6", _1M, _128K, 1024, _BOTH, "legacy"),
    _model("claude-haiku-4-5", _200K, _64K, 4096, _BUDGET, "legacy"),
    _model("claude-opus-4-5", _200K, _64K, 4096, _BUDGET, "legacy"),
)

# Retired models, from the anthropic SDK's deprecation list (anthropic/_data/deprecated_models.py):
# the API answers them with a 404, so Strata refuses them before any call.
RETIRED: dict[str, str] = {"claude-sonnet-4-5": "2026-11-30"}

# Dated snapshots resolve to their alias's row.
_ALIASES = {
    "claude-haiku-4-5-20251001": "claude-haiku-4-5",
    "claude-opus-4-5-20251101": "claude-opus-4-5",
    "claude-sonnet-4-5-20250929": "claude-sonnet-4-5",
}

MODELS: dict[str, ModelInfo] = {info.model_id: info for info in _TABLE}


def model_info(model_id: str) -> ModelInfo:
    """The table row for model_id (an alias or a dated snapshot); InvalidInput if unknown."""
    name = _ALIASES.get(model_id, model_id)
    info = MODELS.get(name)
    if info is None:
        known = ", ".join(sorted(MODELS))
        if name in RETIRED:
            raise InvalidInput(
                f"model {model_id!r} was retired on {RETIRED[name]} and is no longer served; "
                f"choose one of: {known}"
            )
        raise InvalidInput(f"unknown model {model_id!r}; known models: {known}")
    return info
