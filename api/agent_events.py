"""The agent loop's own events: SSE payloads, the JSON answer's tool calls, terminal lines."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from api.cli_output import tool_call_line, tool_result_line
from api.schemas import SourceOut, ToolCallOut
from rag.agent import AgentEvent, IterationLimitReached, ToolCalled, ToolReturned

LoopEvent = ToolCalled | ToolReturned | IterationLimitReached
LOOP_EVENTS = (ToolCalled, ToolReturned, IterationLimitReached)


def loop_payload(event: LoopEvent) -> tuple[str, dict[str, Any]]:
    """The SSE event name and data of a loop event."""
    if isinstance(event, ToolCalled):
        return "tool_call", {
            "iteration": event.iteration,
            "id": event.tool_use_id,
            "name": event.name,
            "input": event.input,
        }
    if isinstance(event, ToolReturned):
        return "tool_result", {
            "iteration": event.iteration,
            "id": event.tool_use_id,
            "name": event.name,
            "is_error": event.is_error,
            "summary": event.summary,
            "sources": [asdict(source) for source in event.sources],
        }
    return "iteration_limit", {
        "max_iterations": event.max_iterations,
        "pending_tools": list(event.pending_tools),
        "message": limit_message(event),
    }


def loop_line(event: LoopEvent) -> str:
    """One line for a terminal: a tool called, what it returned, or the cap reached."""
    if isinstance(event, ToolCalled):
        return tool_call_line(event.name, event.input)
    if isinstance(event, ToolReturned):
        return tool_result_line(event.name, event.is_error, event.summary)
    return f"strata: {limit_message(event)}"


def limit_message(event: IterationLimitReached) -> str:
    """What the client is told when the loop hit its cap."""
    wanted = ", ".join(event.pending_tools)
    calls = "call" if event.max_iterations == 1 else "calls"
    return (
        f"stopped at the cap of {event.max_iterations} Claude {calls} with {wanted} still "
        "wanted; the answer is what Claude had written by then. Ask again with a higher "
        "max_iterations or a narrower question."
    )


def tool_calls_out(events: Sequence[AgentEvent]) -> list[ToolCallOut] | None:
    """Each tool call of the loop with what it returned, in order; None if there was none."""
    returned = {e.tool_use_id: e for e in events if isinstance(e, ToolReturned)}
    calls = []
    for event in events:
        if not isinstance(event, ToolCalled) or event.tool_use_id not in returned:
            continue
        result = returned[event.tool_use_id]
        calls.append(
            ToolCallOut(
                iteration=event.iteration,
                id=event.tool_use_id,
                name=event.name,
                input=event.input,
                is_error=result.is_error,
                summary=result.summary,
                sources=[SourceOut(**asdict(source)) for source in result.sources],
            )
        )
    return calls or None


def iteration_limit_of(events: Sequence[AgentEvent]) -> int | None:
    """The cap the loop stopped at, if it did."""
    return next((e.max_iterations for e in events if isinstance(e, IterationLimitReached)), None)
