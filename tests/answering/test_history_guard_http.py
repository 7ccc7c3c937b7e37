"""The context-window guard over HTTP: a long conversation keeps its history under the budget,
cut at turn boundaries, and reads its cached prefix between cuts."""

import json

import httpx
import pytest

from rag.history import turn_tokens
from rag.settings import Settings
from rag.types import Turn
from tests.answering.conftest import UpstreamMonitor
from tests.answering.test_ask_http import ask_json

BUDGET = 256
TOPICS = ["bees", "honey", "lighthouses", "lenses", "sourdough", "starters", "keepers", "winter"]


@pytest.fixture
def strata_settings(strata_settings: Settings) -> Settings:
    return strata_settings.model_copy(
        update={"history_token_budget": BUDGET, "cache_policy": "always"}
    )


def _carried_turns(body: bytes) -> list[Turn]:
    """The earlier turns a Messages request carries: (question, answer) message pairs."""
    messages = json.loads(body)["messages"]
    texts = [[b["text"] for b in m["content"] if b["type"] == "text"][-1] for m in messages]
    return [Turn(texts[i], texts[i + 1]) for i in range(0, len(texts) - 1, 2)]


def test_a_long_conversation_stays_under_its_history_budget_and_keeps_reading_its_cache(
    client: httpx.Client, monitor: UpstreamMonitor
):
    first = ask_json(client, "What do worker bees do?")
    conversation = first["conversation_id"]
    usages = [first["usage"]]
    for topic in TOPICS:
        answer = ask_json(client, f"And what about {topic}?", conversation_id=conversation)
        usages.append(answer["usage"])

    carried = [_carried_turns(body) for body in monitor.bodies]
    assert [len(turns) for turns in carried][:2] == [0, 1]
    assert all(sum(turn_tokens(t) for t in turns) <= BUDGET for turns in carried)
    # The last request no longer carries the first turn, but always the one just before it.
    assert carried[-1][0].question != "What do worker bees do?"
    assert carried[-1][-1].question == f"And what about {TOPICS[-2]}?"

    oldest = [turns[0].question if turns else None for turns in carried]
    cuts = [i for i in range(2, len(oldest)) if oldest[i] != oldest[i - 1]]
    assert cuts, "the conversation never passed its budget"
    # Cut at turn boundaries, several turns at a time: between cuts the prefix stays the same,
    # and each request reads what the one before it wrote.
    stable = [i for i in range(cuts[0] + 1, len(oldest)) if i not in cuts]
    assert stable
    for i in stable:
        before = usages[i - 1]
        written = before["cache_read_input_tokens"] + before["cache_creation_input_tokens"]
        assert usages[i]["cache_read_input_tokens"] >= written
        assert usages[i]["layer_hit"] == "conversation"
