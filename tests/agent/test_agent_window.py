"""The context-window guard on agentic answering: a loop whose tool results would outgrow the
window is cut to what fits and ends with an answer from it, never a refused request."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from api.app import create_app
from api.emulator import EmulatorConfig
from api.emulator import create_app as create_emulator
from api.serving import serve_in_thread
from rag.settings import Settings
from tests.agent.conftest import (
    CURRENT_MODEL,
    MODELS,
    Events,
    ask_agent,
    ledger_rows,
    named,
    sent_bodies,
)
from tests.answering.conftest import UpstreamMonitor, _monitored

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


def _agent_calls(
    settings: Settings, window: int | None
) -> tuple[Events, UpstreamMonitor, list[dict[str, Any]]]:
    """An agentic ask on a fresh emulator (window caps its context) and app; events, monitor,
    and the ledger rows of its calls."""
    monitor = UpstreamMonitor()
    emulator = _monitored(create_emulator(EmulatorConfig(context_window_tokens=window)), monitor)
    with serve_in_thread(emulator) as emulator_url:
        served = settings.model_copy(update={"anthropic_base_url": emulator_url})
        with (
            serve_in_thread(create_app(served)) as url,
            httpx.Client(base_url=url, timeout=60) as c,
        ):
            events = ask_agent(c, QUESTION, model=CURRENT_MODEL, top_k=40)
            return events, monitor, ledger_rows(c, feature="agent")


def test_a_reply_that_leaves_no_room_for_its_results_ends_the_loop_on_the_request_before(
    strata_settings: Settings,
):
    # The first call, measured on a roomy emulator, then a window that fits it and its
    # max_tokens but not its reply and a note per tool call: the loop cannot go on.
    _events, _monitor, rows = _agent_calls(strata_settings, None)
    first = min(rows, key=lambda row: row["input_tokens"] + row["cache_read_input_tokens"])
    prompt = (
        first["input_tokens"]
        + first["cache_read_input_tokens"]
        + first["cache_creation_input_tokens"]
    )
    window = prompt + first["output_tokens"] + MAX_TOKENS + 10
    tight = strata_settings.model_copy(update={"agent_context_token_budget": window})

    events, monitor, _rows = _agent_calls(tight, window)

    assert "error" not in [name for name, _ in events]
    assert set(monitor.outcomes) == {"completed"}
    [result] = named(events, "tool_result")
    assert result["is_error"] is True
    assert "context window is full" in result["summary"]
    first_body, last_body = sent_bodies(monitor)
    assert last_body["tool_choice"] == {"type": "none"}
    assert last_body["messages"] == first_body["messages"]
    assert named(events, "done")
