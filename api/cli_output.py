"""The lines the CLI prints, the same for a command run here and one sent to a server.

Titles, sources, questions and answers come from someone else: every line made here has its
control characters escaped (api/control_chars.py), and so must any other outside text printed.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from api.control_chars import for_terminal


def dollars(value: Decimal | float | None) -> str:
    """A cost to the millionth of a dollar, or `unpriced`."""
    return "unpriced" if value is None else f"${Decimal(str(value)):.6f}"


def source_line(title: str, source: str, chunk_id: str) -> str:
    """One source under an answer."""
    return for_terminal(f"  - {title} ({source}) [{chunk_id}]")


def conversation_line(conversation_id: str, from_answer_cache: bool) -> str:
    """The line that names the conversation to continue."""
    cached = " (from the answer cache)" if from_answer_cache else ""
    return for_terminal(f"Conversation: {conversation_id}{cached}")


def token_counts(input_tokens: int, cache_write: int, cache_read: int, output_tokens: int) -> str:
    """The token counts of one answer's usage line."""
    return (
        f"Usage: {input_tokens} in, {cache_write} cache write, {cache_read} cache read, "
        f"{output_tokens} out"
    )


def usage_line(usage: dict[str, Any]) -> str:
    """The usage line of an answer from its usage (the `usage` of SPEC section 9)."""
    counts = token_counts(
        usage["input_tokens"],
        usage["cache_creation_input_tokens"],
        usage["cache_read_input_tokens"],
        usage["output_tokens"],
    )
    return f"{counts}; cost {dollars(usage['cost_usd'])}, saved {dollars(usage['saved_usd'])}"


def search_lines(rank: int, score: float, source: str, chunk_id: str, text: str) -> list[str]:
    """The two lines of one search hit."""
    preview = " ".join(text.split())[:160]
    return [
        for_terminal(f"{rank:>2}. {score:.4f}  {source} [{chunk_id}]"),
        for_terminal(f"    {preview}"),
    ]


def tool_call_line(name: str, tool_input: Any) -> str:
    """An agent's tool call, on stderr."""
    return for_terminal(f"-> {name} {json.dumps(tool_input, ensure_ascii=False)}")


def tool_result_line(name: str, is_error: bool, summary: str) -> str:
    """What an agent's tool call returned, on stderr."""
    return for_terminal(f"<- {name}: {'error: ' if is_error else ''}{summary}")


def dry_run_lines(estimate: dict[str, Any]) -> list[str]:
    """A dry run's lines from its estimate (the JSON of a `dry_run` ask)."""
    lines = [
        f"Dry run on {estimate['model']}: {estimate['input_tokens']} input tokens, "
        f"at most {estimate['max_output_tokens']} output tokens; nothing was generated.",
    ]
    for layer in estimate["layers"]:
        state = (
            "read from cache" if layer["cached"] else "written" if layer["marked"] else "uncached"
        )
        lines.append(f"  {layer['layer']:<13} {layer['tokens']:>7} tokens  {state}")
    if estimate["answer_cached"]:
        lines.append("An identical answer is stored: asking now costs nothing.")
    lines.append(
        f"Input: {dollars(estimate['predicted_input_cost_usd'])} predicted, "
        f"{dollars(estimate['predicted_input_cost_without_cache_usd'])} without caching"
    )
    lines.append(
        f"With the most output: {dollars(estimate['predicted_cost_usd'])} predicted, "
        f"{dollars(estimate['predicted_cost_without_cache_usd'])} without caching"
    )
    lines.append(f"Assumption: {estimate['assumption']}")
    return lines


def batch_result_lines(result: dict[str, Any]) -> list[str]:
    """One answered (or failed) question of a batch: a result of GET /v1/batches/ID/results."""
    lines = [for_terminal(f"[{result['index'] + 1}] {result['question']}  ({result['model']})")]
    if result["answer"] is None:
        reason = f": {result['error']}" if result["error"] else ""
        return [*lines, for_terminal(f"    {result['status']}{reason}\n")]
    lines.append(for_terminal(result["answer"].strip()))
    lines.extend(source_line(s["title"], s["source"], s["chunk_id"]) for s in result["sources"])
    usage = result["usage"]
    if usage is None:
        return [*lines, "Usage: unpriced\n"]
    counts = token_counts(
        usage["input_tokens"],
        usage["cache_creation_input_tokens"],
        usage["cache_read_input_tokens"],
        usage["output_tokens"],
    )
    price = f"batch price {dollars(usage['cost_usd'])}, saved {dollars(usage['saved_usd'])}"
    return [*lines, f"{counts}; {price}\n"]


def batch_lines(batch: dict[str, Any], submitted: bool) -> list[str]:
    """A batch just submitted, or one that ended (a batch of GET /v1/batches/ID)."""
    if submitted:
        return [f"Batch {batch['id']}: {batch['questions']} question(s) submitted."]
    counts = ", ".join(f"{n} {state}" for state, n in batch["request_counts"].items() if n)
    return [f"Batch {batch['id']} ended: {counts}."]


def results_hint(batch_id: str) -> str:
    """Where a batch's answers will be, for a submit that does not wait."""
    return f"Results: GET /v1/batches/{batch_id}/results once it ended."


NO_CHUNKS = "no chunks found (is anything ingested?)"
