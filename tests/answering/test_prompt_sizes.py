"""Strata's own size estimates agree with what the emulator bills for the same request.

The cache planner decides from estimated layer sizes (does a prefix reach the model's minimum
cacheable length?) and the dry run prices from them; the emulator bills the same request with
its calibrated counter. Both are calibrated against recorded real traffic (tests/replay/), so
on Strata's own prompts they must agree: the whole prompt, and each cached layer's prefix as
the cache write reports it.
"""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import pytest

from rag.agent import AGENT_SYSTEM_PROMPT
from rag.agent_tools import tool_definitions
from rag.cache_planner import CacheMark, markable_minimum
from rag.models import model_info
from rag.prompt import LayeredPrompt, build_prompt
from rag.types import CacheLayer, Turn
from tests.answering.conftest import corpus_chunks

MODEL = "claude-sonnet-5-5"
TOLERANCE = 0.10
HISTORY = [
    Turn(
        "What does the retention policy say about backups?",
        "Backups are kept for thirty days and then deleted, except for the monthly snapshot, "
        "which is kept for a year in a separate region.",
    ),
    Turn("And who may restore one?", "Only the on-call operator, after a ticket is approved."),
]


@pytest.fixture
def claude(emulator_url: str) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(base_url=emulator_url, api_key="test-key", max_retries=0) as client:
        yield client


def _prompt(history: list[Turn], tools: bool, marks: dict[CacheLayer, CacheMark]) -> LayeredPrompt:
    if tools:
        return build_prompt(
            corpus_chunks()[:6],
            history,
            "Which region holds the yearly snapshot?",
            marks,
            AGENT_SYSTEM_PROMPT,
            tool_definitions(8),
            model=model_info(MODEL),
        )
    chunks = corpus_chunks()[:6]
    question = "Which region holds the yearly snapshot?"
    return build_prompt(chunks, history, question, marks, model=model_info(MODEL))


def _close(estimated: int, billed: int) -> bool:
    return abs(estimated - billed) <= TOLERANCE * billed


@pytest.mark.parametrize("tools", [False, True], ids=["answering", "agent"])
@pytest.mark.parametrize("turns", [0, 2])
def test_the_estimated_prompt_is_what_count_tokens_bills(
    claude: anthropic.Anthropic, tools: bool, turns: int
) -> None:
    prompt = _prompt(HISTORY[:turns], tools, {})
    counted = claude.messages.count_tokens(model=MODEL, **prompt.request_params()).input_tokens
    assert _close(prompt.prompt_tokens, counted), f"estimated {prompt.prompt_tokens}, {counted}"


LAYERS = [CacheLayer.SYSTEM, CacheLayer.DOCUMENTS, CacheLayer.CONVERSATION]


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("tools", [False, True], ids=["answering", "agent"])
def test_each_layer_is_estimated_as_the_cache_write_bills_it(
    claude: anthropic.Anthropic, layer: CacheLayer, tools: bool
) -> None:
    prompt = _prompt(HISTORY, tools, {layer: CacheMark()})
    reply = claude.messages.create(model=MODEL, max_tokens=16, **prompt.request_params())
    written = reply.usage.cache_creation_input_tokens or 0
    estimated = prompt.layer_prefix_tokens[layer]
    if estimated < markable_minimum(MODEL):
        # Clearly below the minimum the planner expects nothing cached; the emulator agrees.
        assert written == 0
        return
    assert _close(estimated, written), f"estimated {estimated}, written {written}"
