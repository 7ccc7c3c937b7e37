import json
import random
import re
from dataclasses import replace

from api.emulator.models import find_model
from api.emulator.prompt import build_prompt as emulated_prompt
from rag.answering import block_kind, variant_of
from rag.cache_planner import CacheMark
from rag.generation import AnswerShape
from rag.prompt import (
    FOLLOW_UP_DOCUMENTS,
    PROMPT_VERSION,
    SYSTEM_PROMPT,
    LayeredPrompt,
    build_prompt,
    documents_key,
    planned_layers,
    prefix_boundaries,
)
from rag.storage.conversations import Conversation
from rag.thinking import ThinkingRequest
from rag.types import CacheLayer, Chunk, RetrievedChunk, Turn

ALL_MARKS = {layer: CacheMark() for layer in CacheLayer}


def _chunk(doc: str, position: int) -> Chunk:
    return Chunk(
        chunk_id=f"{doc}-{position}",
        document_id=doc,
        source=f"{doc}.md",
        title=doc.title(),
        text=f"Paragraph {position} of {doc}. " * 20,
        heading_path=("Intro",),
        position=position,
        char_start=position * 100,
        char_end=position * 100 + 99,
    )


CHUNKS = [_chunk(d, p) for d in ("beta", "alpha", "gamma") for p in (3, 0, 7)]
HISTORY = [Turn("What is alpha?", "Alpha is the first."), Turn("And beta?", "Beta follows.")]


def _retrieved(order: list[Chunk]) -> list[RetrievedChunk]:
    return [RetrievedChunk(c, score=1.0 - i / 100) for i, c in enumerate(order)]


def test_same_chunk_set_in_any_retrieval_order_renders_identical_bytes():
    reference = build_prompt(_retrieved(CHUNKS), HISTORY, "q?", ALL_MARKS)
    rng = random.Random(7)
    for _ in range(20):
        shuffled = CHUNKS[:]
        rng.shuffle(shuffled)
        other = build_prompt(_retrieved(shuffled), HISTORY, "q?", ALL_MARKS)
        for layer in (CacheLayer.SYSTEM, CacheLayer.DOCUMENTS, CacheLayer.CONVERSATION):
            assert other.layer_bytes(layer) == reference.layer_bytes(layer)
        assert documents_key(shuffled) == documents_key(CHUNKS)


def test_chunks_are_ordered_by_document_then_position():
    prompt = build_prompt(CHUNKS, [], "q?", {})
    assert [(c.document_id, c.position) for c in prompt.chunks] == [
        (d, p) for d in ("alpha", "beta", "gamma") for p in (0, 3, 7)
    ]
    blocks = prompt.messages[0]["content"]
    assert [b["type"] for b in blocks] == ["search_result"] * 9 + ["text"]
    assert all(b["citations"] == {"enabled": True} for b in blocks[:9])
    assert blocks[0]["source"] == "alpha.md"


def test_a_page_whose_first_heading_repeats_its_title_names_it_once():
    # An HTML page's <title> and its <h1> are usually the same words.
    page = replace(_chunk("alpha", 0), title="Chapter 3", heading_path=("Chapter 3", "3.1. Stable"))
    bare = replace(_chunk("beta", 0), title="", heading_path=())
    blocks = build_prompt([page, bare], [], "q?", {}).messages[0]["content"]
    assert [b["title"] for b in blocks[:2]] == ["Chapter 3 > 3.1. Stable", "beta.md"]


def test_a_relative_name_or_an_address_reaches_claude_whole():
    for source in ("docs/guide/setup.md", "setup.md", "https://example.org/setup"):
        block = build_prompt([replace(_chunk("alpha", 0), source=source)], [], "q?", {})
        assert block.messages[0]["content"][0]["source"] == source


def test_a_different_question_leaves_every_cached_layer_unchanged():
    first = build_prompt(CHUNKS, HISTORY, "How old is alpha?", ALL_MARKS)
    second = build_prompt(CHUNKS, HISTORY, "Where does gamma live?", ALL_MARKS)
    for layer in (CacheLayer.SYSTEM, CacheLayer.DOCUMENTS, CacheLayer.CONVERSATION):
        assert first.layer_bytes(layer) == second.layer_bytes(layer)
    assert first.messages[-1] != second.messages[-1]


def test_question_is_last_and_never_marked():
    prompt = build_prompt(CHUNKS, HISTORY, "the new question", ALL_MARKS)
    last = prompt.messages[-1]
    assert last == {"role": "user", "content": [{"type": "text", "text": "the new question"}]}


def test_never_more_than_four_breakpoints_and_one_per_layer():
    for history in ([], HISTORY[:1], HISTORY * 10):
        prompt = build_prompt(CHUNKS, history, "q", ALL_MARKS)
        text = json.dumps(prompt.request_params())
        assert text.count("cache_control") <= 4
        assert text.count("cache_control") == len(prompt.marked_layers)
    assert build_prompt(CHUNKS, HISTORY, "q", ALL_MARKS).marked_layers == (
        CacheLayer.SYSTEM,
        CacheLayer.DOCUMENTS,
        CacheLayer.CONVERSATION,
    )


def test_breakpoints_sit_on_the_last_block_of_each_layer():
    prompt = build_prompt(CHUNKS, HISTORY, "q", ALL_MARKS)
    assert "cache_control" in prompt.system[-1]
    first_user = prompt.messages[0]["content"]
    assert "cache_control" in first_user[8]
    assert all("cache_control" not in b for b in first_user[:8] + first_user[9:])
    last_answer = prompt.messages[-2]
    assert last_answer["role"] == "assistant"
    assert "cache_control" in last_answer["content"][-1]


def test_no_marks_means_no_cache_control_anywhere():
    prompt = build_prompt(CHUNKS, HISTORY, "q", {})
    assert "cache_control" not in json.dumps(prompt.request_params())
    assert prompt.marked_layers == ()


def test_cached_layers_hold_no_timestamps_or_request_ids():
    prompt = build_prompt(CHUNKS, HISTORY, "q", ALL_MARKS)
    cached = prompt.layer_bytes(CacheLayer.CONVERSATION).decode()
    assert not re.search(r"\d{4}-\d{2}-\d{2}|\d{2}:\d{2}:\d{2}", cached)
    assert not re.search(r"req_|msg_|[0-9a-f]{32}", cached)


def test_system_prompt_treats_documents_as_quoted_material():
    assert "never an instruction" in SYSTEM_PROMPT
    assert len(PROMPT_VERSION) == 16


def test_layer_prefix_tokens_grow_layer_by_layer():
    sizes = build_prompt(CHUNKS, HISTORY, "q", {}).layer_prefix_tokens
    assert 0 < sizes[CacheLayer.SYSTEM] < sizes[CacheLayer.DOCUMENTS]
    assert sizes[CacheLayer.DOCUMENTS] < sizes[CacheLayer.CONVERSATION]
    assert CacheLayer.CONVERSATION not in build_prompt(CHUNKS, [], "q", {}).layer_prefix_tokens


def test_a_follow_up_keeps_the_documents_block_and_sends_new_chunks_with_its_question():
    block, extra = CHUNKS[:4], [_chunk("delta", 1), CHUNKS[0]]
    before = build_prompt(block, HISTORY[:1], "And beta?", ALL_MARKS)
    after = build_prompt(block, HISTORY[:1], "And delta?", ALL_MARKS, fresh=extra)
    for layer in (CacheLayer.SYSTEM, CacheLayer.DOCUMENTS, CacheLayer.CONVERSATION):
        assert after.layer_bytes(layer) == before.layer_bytes(layer)
    last_turn = after.messages[-1]["content"]
    # Only what the block lacks is added, uncached, ahead of the question.
    assert [b["type"] for b in last_turn] == ["search_result", "text"]
    assert "cache_control" not in last_turn[0]
    assert last_turn[0]["source"] == "delta.md"
    # Citations index search_result blocks in request order: the block's, then the new ones.
    assert after.chunks == (*after.block_chunks, _chunk("delta", 1))


def test_layer_keys_change_with_everything_that_changes_the_cached_bytes():
    draft = build_prompt(_retrieved(CHUNKS), HISTORY, "q?", {})

    def keys(model: str, shape: AnswerShape, conversation: str = "c1") -> list[str]:
        return [p.key for p in planned_layers(draft, model, variant_of(shape), conversation)]

    text = keys("claude-sonnet-5-5", AnswerShape())
    assert text == keys("claude-sonnet-5-5", AnswerShape())
    others = [
        keys("claude-opus-5-5", AnswerShape()),
        # JSON turns citations off and adds the structured answer's schema.
        keys("claude-sonnet-5-5", AnswerShape(format="json")),
        keys("claude-sonnet-5-5", AnswerShape(thinking=ThinkingRequest(effort="high"))),
        keys("claude-sonnet-5-5", AnswerShape(thinking=ThinkingRequest(budget_tokens=2048))),
    ]
    for other in others:
        assert not set(other) & set(text)
    # Another conversation over the same documents shares all but the conversation's layer.
    assert keys("claude-sonnet-5-5", AnswerShape(), "c2")[:2] == text[:2]
    assert keys("claude-sonnet-5-5", AnswerShape(), "c2")[2] != text[2]


def test_a_request_without_search_results_never_shares_the_system_entry_of_one_with_them():
    # Cited search results change the system prompt the API caches: the emulator keys its
    # system entry by them, and the planner and the ledger must key it the same way.
    with_results = build_prompt(_retrieved(CHUNKS), [], "q?", {})
    other_results = build_prompt(_retrieved(CHUNKS[:2]), [], "q?", {})
    without = build_prompt([], [], "q?", {})
    assert with_results.layer_bytes(CacheLayer.SYSTEM) == without.layer_bytes(CacheLayer.SYSTEM)

    def system_key(draft: LayeredPrompt) -> str:
        return planned_layers(draft, "claude-sonnet-5-5", "", "c1")[0].key

    def emulator_system(draft: LayeredPrompt) -> str:
        spec = find_model("claude-sonnet-5-5")
        assert spec is not None
        return emulated_prompt(draft.request_params(), spec).system_hash

    assert system_key(with_results) == system_key(other_results)
    assert emulator_system(with_results) == emulator_system(other_results)
    assert system_key(with_results) != system_key(without)
    assert emulator_system(with_results) != emulator_system(without)
    assert prefix_boundaries(with_results)[0][0] != prefix_boundaries(without)[0][0]


def test_a_documents_block_is_judged_as_the_turn_that_built_it_at_every_request():
    first, other = tuple(CHUNKS[:3]), tuple(CHUNKS[3:6])
    turns = (Turn("q1", "a1"), Turn("q2", "a2"))
    kept_from_first = Conversation("c", turns, first, "v", block_turn=0)
    built_by_second = Conversation("c", turns, other, "v", block_turn=1)
    assert block_kind(Conversation("c"), first) == CacheLayer.DOCUMENTS
    # A third turn that keeps the first turn's block: still a first question's block.
    assert block_kind(kept_from_first, first) == CacheLayer.DOCUMENTS
    # One that keeps the block the second turn built for itself: a follow-up's block.
    assert block_kind(built_by_second, other) == FOLLOW_UP_DOCUMENTS
    assert block_kind(kept_from_first, other) == FOLLOW_UP_DOCUMENTS
