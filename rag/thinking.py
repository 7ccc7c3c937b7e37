"""Extended thinking on request: an effort level or a token budget, as the model takes it.

Which form a model takes comes from the model table (rag/models.py):
- adaptive models get `thinking: {"type": "adaptive"}` and `output_config.effort`
  (low, medium, high or max); they reject a budget;
- older models get `thinking: {"type": "enabled", "budget_tokens": N}`, with N >= 1024 and
  below max_tokens; they reject adaptive thinking and effort.
Asking a model for the form it lacks is FeatureUnsupported (a 400) before any call. The budget
comes on top of the answer's own max_tokens, so thinking never eats the answer's room.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from rag.errors import FeatureUnsupported, InvalidInput
from rag.models import ModelInfo

Effort = Literal["low", "medium", "high", "max"]
EFFORTS: tuple[str, ...] = get_args(Effort)
MIN_BUDGET_TOKENS = 1024
_EFFORT_ROOM_TOKENS = {"low": 1024, "medium": 2048, "high": 4096, "max": 8192}


@dataclass(frozen=True, slots=True)
class ThinkingRequest:
    """What the caller asked for: an effort level or a budget, never both."""

    effort: Effort | None = None
    budget_tokens: int | None = None

    def __post_init__(self) -> None:
        if (self.effort is None) == (self.budget_tokens is None):
            raise InvalidInput("thinking takes an effort level or budget_tokens, not both")
        if self.effort is not None and self.effort not in EFFORTS:
            raise InvalidInput(f"thinking effort must be one of {', '.join(EFFORTS)}")
        if self.budget_tokens is not None and self.budget_tokens < MIN_BUDGET_TOKENS:
            raise InvalidInput(f"thinking budget_tokens must be at least {MIN_BUDGET_TOKENS}")

    @property
    def label(self) -> str:
        """A short stable name: `effort:high` or `budget:2048`."""
        return f"effort:{self.effort}" if self.effort else f"budget:{self.budget_tokens}"


def check_thinking(request: ThinkingRequest, info: ModelInfo, max_budget_tokens: int) -> None:
    """FeatureUnsupported unless info's model takes this form of thinking within the limits.

    max_budget_tokens is what max_tokens leaves beside the answer's own room: the budget must
    stay below max_tokens, which holds both.
    """
    model = info.model_id
    if request.effort is not None and not info.takes_adaptive_thinking:
        raise FeatureUnsupported(
            f"{model} takes a thinking budget, not an effort level: send "
            f'thinking={{"budget_tokens": N}} with N >= {MIN_BUDGET_TOKENS}'
        )
    if request.budget_tokens is not None and not info.takes_thinking_budget:
        raise FeatureUnsupported(
            f"{model} takes an effort level, not a thinking budget: send thinking set to one "
            f"of {', '.join(EFFORTS)}"
        )
    if request.budget_tokens is not None and request.budget_tokens > max_budget_tokens:
        raise FeatureUnsupported(
            "thinking budget_tokens must stay below max_tokens, which also holds the answer: "
            f"at most {max_budget_tokens} for {model} here"
        )


def thinking_params(request: ThinkingRequest) -> dict[str, Any]:
    """The request parameters for request (checked against the model first)."""
    # Summarized: the thinking is streamed to the caller, and some models omit it by default.
    if request.effort is not None:
        return {
            "thinking": {"type": "adaptive", "display": "summarized"},
            "output_config": {"effort": request.effort},
        }
    return {
        "thinking": {
            "type": "enabled",
            "budget_tokens": request.budget_tokens,
            "display": "summarized",
        }
    }


def thinking_max_tokens(request: ThinkingRequest, answer_tokens: int, limit: int) -> int:
    """max_tokens for an answer with thinking: room to think comes on top of the answer's.

    Thinking counts against max_tokens in both forms: a budget is added whole; an effort level
    gets room in proportion, since adaptive thinking decides its own length.
    """
    room = request.budget_tokens or _EFFORT_ROOM_TOKENS[request.effort or "high"]
    return min(room + answer_tokens, limit)
