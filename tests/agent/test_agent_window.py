"""The context-window guard on agentic answering: a loop whose tool results would outgrow the
window is cut to what fits and ends with an answer from it, never a refused request."""

from __future__ import annotations

import httpx
import pytest

from api.emulator import EmulatorConfig
from rag.settings import Settings
from tests.agent.conftest import MODELS, ask_agent, named, sent_bodies
from tests.answering.conftest import UpstreamMonitor

# The first call fits this window with its max_tokens; the passages a search returns do not
# (sent whole, the second request counts about 3,500 tokens and the emulator refuses it).
WINDOW = 2800
MAX_TOKENS = 256
QUESTION = "Use search_documents and then get_document on the lighthouse keepers."


@pytest.fixture
def emulator_config() -> EmulatorConfig:
    return EmulatorConfig(context_window_tokens=WINDOW)


@pytest.fixture
def strata_settings(strata_settings: Settings) -> Settings:
    return strata_settings.model_copy(
        update={"agent_context_token_budget": WINDOW, "max_answer_tokens": MAX_TOKENS}
    )


@pytest.mark.parametrize("model", MODELS)
def test_tool_results_past_the_window_are_cut_and_the_answer_comes_from_what_fits(
    client: httpx.Client, monitor: UpstreamMonitor, model: str
):
    events = ask_agent(client, QUESTION, model=model, top_k=40)

    assert "error" not in [name for name, _ in events]
    assert set(monitor.outcomes) == {"completed"}
    [call] = named(events, "tool_call")
    assert call["name"] == "search_documents"
    [result] = named(events, "tool_result")
    assert result["is_error"] is False
    assert "context window is full" in result["summary"]
    sent_ids = [source["chunk_id"] for source in result["sources"]]
    assert sent_ids

    # The passages that fit went to Claude, with a note on the rest; no tool is left to call,
    # so the call that reads them is the last.
    _first, last = sent_bodies(monitor)
    assert last["tool_choice"] == {"type": "none"}
    [tool_result] = last["messages"][-1]["content"]
    passages = [b for b in tool_result["content"] if b["type"] == "search_result"]
    assert len(passages) == len(sent_ids)
    note = tool_result["content"][-1]
    assert note["type"] == "text"
    assert f"{len(sent_ids)} of " in note["text"]

    answer = "".join(data["text"] for data in named(events, "delta"))
    assert "Lighthouse keepers trimmed wicks" in answer
    citations = named(events, "citation")
    assert citations
    assert {citation["chunk_id"] for citation in citations} <= set(sent_ids)
    [done] = named(events, "done")
    assert {source["chunk_id"] for source in done["sources"]} == set(sent_ids)
