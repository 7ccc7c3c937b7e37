"""The emulator calls each tool a question names verbatim, once, in order, then answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from api.emulator import EmulatorConfig, create_app
from api.serving import serve_in_thread
from rag.agent_tools import tool_definitions


@pytest.fixture
def sdk() -> Iterator[anthropic.Anthropic]:
    with (
        serve_in_thread(create_app(EmulatorConfig())) as url,
        anthropic.Anthropic(base_url=url, api_key="sk-test-named", max_retries=0) as client,
    ):
        yield client


def test_named_tools_are_called_once_each_in_the_order_named(sdk: anthropic.Anthropic):
    tools: Any = tool_definitions(10)
    messages: list[Any] = [
        {"role": "user", "content": "Use get_document, then search_documents, on the bees."}
    ]
    called = []
    for _ in range(3):
        reply = sdk.messages.create(
            model="claude-sonnet-5-5", max_tokens=500, tools=tools, messages=messages
        )
        uses = [block for block in reply.content if block.type == "tool_use"]
        if reply.stop_reason != "tool_use":
            break
        called.extend(use.name for use in uses)
        results = [
            {"type": "tool_result", "tool_use_id": use.id, "content": "nothing found"}
            for use in uses
        ]
        messages += [reply.to_param(), {"role": "user", "content": results}]

    assert called == ["get_document", "search_documents"]
    assert reply.stop_reason == "end_turn"
