"""Dry runs: what an ask would send and cost, priced before anything is generated.

The prompt is assembled exactly as Answerer.ask would assemble it now (same retrieval, same
cache marks, same format and thinking options) but without counting as traffic, and its
tokens are counted by Claude's count endpoint (one `count` ledger row, zero tokens billed).
The cost is predicted with and without caching, from the price table.

Which layers would be read from the prompt cache is a prediction: ASSUMPTION says how it is
made. Output is unknown before generation, so the predicted totals price max_tokens of output
(an upper bound) and the input figures are given apart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal

from rag.answer_cache import answer_key
from rag.answering import Answerer, AskOptions, variant_of
from rag.llm import ClaudeRequest
from rag.models import ModelInfo
from rag.prompt import PROMPT_VERSION, LayeredPrompt, planned_layers
from rag.recorded_call import recorded_call
from rag.storage.conversations import Conversation
from rag.types import CacheLayer, Feature, Usage

ASSUMPTION = (
    "A marked layer is predicted to be read from the prompt cache when this process sent the "
    "same content, marked, within the TTL of that mark (5 minutes or 1 hour). A follow-up is "
    "predicted to read through its documents layer and to write its conversation layer anew. "
    "Marked layers not predicted read are written at their mark's rate (5 minutes or 1 hour). "
    "Layer sizes are Strata's estimates scaled to the counted total. Another process, another "
    "model or an evicted entry can make the prediction wrong; output is priced at max_tokens, "
    "an upper bound."
)
_LAYERS = (CacheLayer.SYSTEM, CacheLayer.DOCUMENTS, CacheLayer.CONVERSATION)


@dataclass(frozen=True, slots=True)
class LayerEstimate:
    """One prompt layer: its own tokens, whether it carries a cache mark, whether it is read."""

    layer: CacheLayer
    tokens: int
    marked: bool
    cached: bool


@dataclass(frozen=True, slots=True)
class DryRunEstimate:
    """The predicted tokens and cost of an ask."""

    model: str
    input_tokens: int
    max_output_tokens: int
    layers: tuple[LayerEstimate, ...]
    answer_cached: bool
    cost_usd: Decimal | None
    cost_without_cache_usd: Decimal | None
    input_cost_usd: Decimal | None
    input_cost_without_cache_usd: Decimal | None
    assumption: str = ASSUMPTION


async def price_ask(
    answerer: Answerer,
    question: str,
    options: AskOptions,
    info: ModelInfo,
    http_request_id: str | None = None,
) -> DryRunEstimate:
    """Count and price the ask of question with options on info's model, generating nothing."""
    model = info.model_id
    shape = options.shape
    conversation = Conversation("")
    if options.conversation_id is not None:
        conversation = await answerer.conversations.load(options.conversation_id, options.owner)
    corpus_version = await asyncio.to_thread(answerer.corpus_version)
    answer_cached = False
    if answerer.planner.policy != "off" and not conversation.turns and shape.answer_cacheable:
        key_options = answerer.answer_key_options(options.top_k, shape, model)
        key = answer_key(question, corpus_version, PROMPT_VERSION, model, key_options)
        answer_cached = await answerer.answer_cache.get(key) is not None

    variant = variant_of(shape)
    context = await answerer.context_for(
        question, options.top_k, conversation, corpus_version, model, variant
    )
    max_tokens = shape.max_tokens(answerer.max_answer_tokens, info.max_output_tokens)
    # The same max_tokens as the ask: the context-window guard keeps the same turns.
    prompt = await answerer.layered_prompt(
        context.chunks,
        conversation,
        question,
        model,
        observe=False,
        fresh=context.fresh,
        variant=variant,
        max_tokens=max_tokens,
    )
    request = ClaudeRequest(
        model=model,
        max_tokens=max_tokens,
        prompt=shape.request_params(prompt.request_params(), info),
    )
    input_tokens = await _count(answerer, request, conversation, http_request_id)

    planned = planned_layers(prompt, model, variant, conversation.conversation_id)
    warm = await answerer.planner.live_keys(p.key for p in planned)
    live = {p.layer: p.key in warm for p in planned}
    layers = _layers(prompt, live, input_tokens)
    read = _prefix_end(layers, lambda layer: layer.cached)
    written = max(_prefix_end(layers, lambda layer: layer.marked) - read, 0)
    # A 1-hour mark never follows a 5-minute one: what is written up to the last 1-hour mark
    # is written for an hour, the rest for five minutes.
    hour_marks = {layer for layer, ttl in prompt.mark_ttls.items() if ttl == "1h"}
    written_1h = max(_prefix_end(layers, lambda layer: layer.layer in hour_marks) - read, 0)
    predicted = Usage(
        input_tokens=input_tokens - read - written,
        cache_creation_5m_input_tokens=written - written_1h,
        cache_creation_1h_input_tokens=written_1h,
        cache_read_input_tokens=read,
    )
    with_output = replace(predicted, output_tokens=request.max_tokens)
    total = answerer.prices.cost_of(model, with_output)
    inputs = answerer.prices.cost_of(model, predicted)
    return DryRunEstimate(
        model=model,
        input_tokens=input_tokens,
        max_output_tokens=request.max_tokens,
        layers=layers,
        answer_cached=answer_cached,
        cost_usd=Decimal(0) if answer_cached else total.cost_usd,
        cost_without_cache_usd=total.cost_without_cache_usd,
        input_cost_usd=Decimal(0) if answer_cached else inputs.cost_usd,
        input_cost_without_cache_usd=inputs.cost_without_cache_usd,
    )


async def _count(
    answerer: Answerer,
    request: ClaudeRequest,
    conversation: Conversation,
    http_request_id: str | None,
) -> int:
    """The count endpoint's answer, with its own ledger row (counting bills no tokens)."""
    recording = recorded_call(
        answerer.ledger,
        answerer.tracing,
        Feature.COUNT,
        request.model,
        conversation_id=conversation.conversation_id or None,
        http_request_id=http_request_id,
    )
    with recording as call:
        return await answerer.claude.count_tokens(request, call.meter)


def _layers(
    prompt: LayeredPrompt, live: dict[CacheLayer, bool], input_tokens: int
) -> tuple[LayerEstimate, ...]:
    """Each present layer's share of the counted tokens, its mark and its predicted read.

    live says which layers' entries a mark sent within its TTL should still hold; a
    conversation's live entry holds the turns before the last, so its layer counts as written.
    """
    prefixes = prompt.layer_prefix_tokens
    estimated_total = prompt.prompt_tokens
    scale = input_tokens / estimated_total if estimated_total else 0.0
    read = {**live, CacheLayer.CONVERSATION: False}
    present = [layer for layer in _LAYERS if layer in prefixes]
    read_through = max(
        (
            i
            for i, layer in enumerate(present)
            if layer in prompt.marked_layers and read.get(layer, False)
        ),
        default=-1,
    )
    layers: list[LayerEstimate] = []
    start = 0
    for index, layer in enumerate(present):
        end = max(min(round(prefixes[layer] * scale), input_tokens), start)
        marked = layer in prompt.marked_layers
        layers.append(LayerEstimate(layer, end - start, marked, index <= read_through))
        start = end
    return tuple(layers)


def _prefix_end(layers: tuple[LayerEstimate, ...], chosen: Callable[[LayerEstimate], bool]) -> int:
    """Tokens from the start of the prompt through the last layer chosen() picks."""
    end = 0
    running = 0
    for layer in layers:
        running += layer.tokens
        if chosen(layer):
            end = running
    return end
