"""The context-window guard: which earlier turns of a conversation a request still carries.

A conversation grows every turn; sent whole, it would sooner or later pass the model's context
window and the API would refuse it (a 400). The turns a request carries are kept under a token
budget: the configured history budget, and never more than what the window leaves after the
rest of the prompt and max_tokens.

Trimming keeps the cached prefix stable. Dropping the oldest turn each time the budget is
passed would change the conversation's prefix on every later turn, so none of them could read
the previous turn's cache entry. Instead, when the turns pass the budget, the oldest go until
what remains fits in half of it (the latest turn stays if it fits the budget alone); the turns
after that are appended to an unchanged prefix (and read it from the cache) until the budget
is passed again. Where the kept turns start is worked
out by replaying the conversation from its first turn, so every replica, on every turn, finds
the same start without storing it.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.models import ModelInfo
from rag.tokens import MESSAGE_FRAMING_TOKENS, estimate_text_tokens
from rag.types import Turn

# The token estimates are within a few percent of the API's count; this much of the window is
# kept free on top of them.
WINDOW_SAFETY = 0.05


def turn_tokens(turn: Turn) -> int:
    """A turn's tokens in a request: its question and its answer, each a message."""
    return (
        estimate_text_tokens(turn.question)
        + estimate_text_tokens(turn.answer)
        + 2 * MESSAGE_FRAMING_TOKENS
    )


def usable_window(model: ModelInfo) -> int:
    """Tokens a request may use, prompt and max_tokens together, with the safety margin kept."""
    return int(model.context_window_tokens * (1 - WINDOW_SAFETY))


def history_budget(
    model: ModelInfo, max_tokens: int, rest_of_prompt_tokens: int, configured: int
) -> int:
    """Tokens the earlier turns may take: the configured budget, within what the window leaves."""
    return max(0, min(configured, usable_window(model) - max_tokens - rest_of_prompt_tokens))


def first_kept_turn(turns: Sequence[Turn], budget_tokens: int) -> int:
    """The index of the oldest turn a request carries, under budget_tokens (see above)."""
    sizes = [turn_tokens(turn) for turn in turns]
    start, total = 0, 0
    for index, size in enumerate(sizes):
        total += size
        if total <= budget_tokens:
            continue
        while start < index and total > budget_tokens // 2:
            total -= sizes[start]
            start += 1
        if total > budget_tokens:  # the latest turn alone is over the budget
            start, total = index + 1, 0
    return start


def kept_turns(
    turns: Sequence[Turn],
    model: ModelInfo,
    rest_of_prompt_tokens: int,
    max_tokens: int | None,
    configured: int,
) -> tuple[Turn, ...]:
    """The turns a request carries, given the rest of its prompt and its max_tokens.

    max_tokens None stands for the model's longest reply.
    """
    reply = max_tokens if max_tokens is not None else model.max_output_tokens
    budget = history_budget(model, reply, rest_of_prompt_tokens, configured)
    return tuple(turns[first_kept_turn(turns, budget) :])
