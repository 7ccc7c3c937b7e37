"""`strata ask` and `strata search` sent to a server: POST /v1/ask and /v1/search."""

from __future__ import annotations

import json
from typing import Any

from api.cli_output import (
    NO_CHUNKS,
    conversation_line,
    dry_run_lines,
    search_lines,
    source_line,
    tool_call_line,
    tool_result_line,
    usage_line,
)
from api.client.http import ServerClient
from api.client.printing import echo
from api.control_chars import for_terminal


def ask_body(
    question: str,
    stream: bool,
    conversation_id: str | None,
    model: str | None,
    answer_format: str,
    effort: str | None,
    budget_tokens: int | None,
) -> dict[str, Any]:
    """The POST /v1/ask body of the command's options (at most one of effort and budget)."""
    body: dict[str, Any] = {"question": question, "stream": stream, "format": answer_format}
    if conversation_id is not None:
        body["conversation_id"] = conversation_id
    if model is not None:
        body["model"] = model
    if budget_tokens is not None:
        body["thinking"] = {"budget_tokens": budget_tokens}
    elif effort is not None:
        body["thinking"] = effort
    return body


def print_answer(client: ServerClient, body: dict[str, Any]) -> int:
    """Answer as the local command does: text, sources, conversation, one usage line."""
    if not body["stream"]:
        answer = client.post("/v1/ask", body)
        if answer.get("thinking"):
            echo(for_terminal(answer["thinking"]), nl=False, err=True, dim=True)
        text = answer["answer"]
        if answer.get("structured") is not None:
            # The local command prints a JSON answer's text as Claude wrote it: the object.
            text = _structured_text(answer["structured"])
        echo(for_terminal(text), nl=False)
        _print_end(answer["sources"], answer["conversation_id"], answer["answer_cached"])
        echo(usage_line(answer["usage"]))
        return 0
    usage: dict[str, Any] | None = None
    with client.events("/v1/ask", body) as events:
        for name, data in events:
            if name == "delta":
                echo(for_terminal(data["text"]), nl=False)
            elif name == "thinking":
                echo(for_terminal(data["text"]), nl=False, err=True, dim=True)
            elif name == "tool_call":
                echo(tool_call_line(data["name"], data["input"]), err=True, dim=True)
            elif name == "tool_result":
                line = tool_result_line(data["name"], data["is_error"], data["summary"])
                echo(line, err=True, dim=True)
            elif name == "iteration_limit":
                echo(for_terminal(f"strata: {data['message']}"), err=True, dim=True)
            elif name == "usage":
                usage = data
            elif name == "done":
                _print_end(data["sources"], data["conversation_id"], data["answer_cached"])
            elif name == "error":
                echo(for_terminal(f"\nstrata: {data['message']}"), err=True)
                return 1
    if usage is not None:
        echo(usage_line(usage))
    return 0


def print_dry_run(client: ServerClient, body: dict[str, Any]) -> int:
    """Count and price the question on the server, without answering it."""
    for line in dry_run_lines(client.post("/v1/ask", {**body, "dry_run": True})):
        echo(line)
    return 0


def print_search(client: ServerClient, query: str, top_k: int) -> int:
    """The chunks the server retrieves for query, best first."""
    found = client.post("/v1/search", {"query": query, "top_k": top_k})["results"]
    if not found:
        echo(NO_CHUNKS)
    for rank, hit in enumerate(found, start=1):
        for line in search_lines(rank, hit["score"], hit["source"], hit["chunk_id"], hit["text"]):
            echo(line)
    return 0


def _print_end(sources: list[dict[str, Any]], conversation_id: str, cached: bool) -> None:
    echo("\n")
    if sources:
        echo("Sources:")
        for source in sources:
            echo(source_line(source["title"], source["source"], source["chunk_id"]))
    echo(conversation_line(conversation_id, cached))


def _structured_text(structured: dict[str, Any]) -> str:
    return json.dumps(structured, ensure_ascii=False)
