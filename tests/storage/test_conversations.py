"""A conversation lives in the shared database: any replica continues it, none loses a turn."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from rag.errors import NotFound
from rag.owners import LOCAL_OWNER
from rag.storage import Database
from rag.storage.conversations import ConversationStore
from rag.types import Chunk, Turn


def _chunk(position: int) -> Chunk:
    return Chunk(
        chunk_id=f"doc:{position}",
        document_id="doc",
        source="guide.md",
        title="Guide",
        heading_path=("Guide", "Setup"),
        text=f"chunk {position}",
        position=position,
        char_start=0,
        char_end=7,
    )


async def test_a_conversation_started_on_one_replica_continues_on_another(
    open_replica: Callable[[], Database],
) -> None:
    first, second = ConversationStore(open_replica()), ConversationStore(open_replica())
    conversation = await first.start(LOCAL_OWNER)
    await first.append(
        conversation.conversation_id, Turn("q1", "a1"), (_chunk(0), _chunk(1)), "c-1", "msg_1"
    )

    loaded = await second.load(conversation.conversation_id, LOCAL_OWNER)
    assert loaded.turns == (Turn("q1", "a1"),)
    assert loaded.last_chunks == (_chunk(0), _chunk(1))
    assert (loaded.last_corpus_version, loaded.last_message_id) == ("c-1", "msg_1")

    await second.append(conversation.conversation_id, Turn("q2", "a2"), (_chunk(2),), "c-1", None)
    again = await first.load(conversation.conversation_id, LOCAL_OWNER)
    assert again.turns == (Turn("q1", "a1"), Turn("q2", "a2"))
    assert again.last_chunks == (_chunk(2),)


async def test_turns_appended_on_two_replicas_at_once_are_all_kept(
    open_replica: Callable[[], Database],
) -> None:
    stores = [ConversationStore(open_replica()) for _ in range(2)]
    conversation = await stores[0].start(LOCAL_OWNER)
    await asyncio.gather(
        *(
            stores[i % 2].append(
                conversation.conversation_id, Turn(f"q{i}", f"a{i}"), (), "c-1", None
            )
            for i in range(10)
        )
    )
    loaded = await stores[1].load(conversation.conversation_id, LOCAL_OWNER)
    assert sorted(t.question for t in loaded.turns) == sorted(f"q{i}" for i in range(10))


async def test_an_unknown_conversation_is_not_found(
    open_replica: Callable[[], Database],
) -> None:
    with pytest.raises(NotFound):
        await ConversationStore(open_replica()).load("conv_missing", LOCAL_OWNER)


async def test_a_conversation_knows_which_turn_built_the_block_its_last_turn_kept(
    open_replica: Callable[[], Database],
) -> None:
    store = ConversationStore(open_replica())
    conversation = await store.start(LOCAL_OWNER)
    blocks = [(_chunk(0), _chunk(1)), (_chunk(0), _chunk(1)), (_chunk(2),), (_chunk(2),)]
    built_by = []
    for number, block in enumerate(blocks):
        await store.append(
            conversation.conversation_id, Turn(f"q{number}", "a"), block, "c-1", None
        )
        built_by.append((await store.load(conversation.conversation_id, LOCAL_OWNER)).block_turn)
    # The second turn kept the first's block; the third built its own, which the fourth kept.
    assert built_by == [0, 0, 2, 2]
