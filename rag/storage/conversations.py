"""Conversations by id, in the shared database.

Each turn keeps its question, answer, the chunks it was answered over and the id of Claude's
response, so a follow-up (on this replica or another) can resend the same documents block (a
cache read) and name the previous response for cache diagnostics.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, insert, select

from rag.errors import NotFound
from rag.owners import Owner
from rag.storage.database import Database
from rag.storage.serialised import dump_chunks, load_chunks
from rag.storage.tables import conversation_turns, conversations
from rag.types import Chunk, Turn


@dataclass(frozen=True, slots=True)
class Conversation:
    """A conversation's turns so far and what its last turn was answered over."""

    conversation_id: str
    turns: tuple[Turn, ...] = ()
    last_chunks: tuple[Chunk, ...] = ()
    last_corpus_version: str | None = None
    last_message_id: str | None = None
    # The turn (from 0) that first sent last_chunks as its documents block: the turns after it
    # kept the block.
    block_turn: int = 0


class ConversationStore:
    """Conversations in the database; every call runs off the event loop."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def start(self, owner: Owner) -> Conversation:
        """A new, empty conversation belonging to owner's key."""
        conversation_id = "conv_" + uuid.uuid4().hex
        await asyncio.to_thread(self._start, conversation_id, owner.key_id)
        return Conversation(conversation_id)

    async def load(self, conversation_id: str, owner: Owner) -> Conversation:
        """The conversation with its turns; NotFound if there is none by that id owner may see."""
        return await asyncio.to_thread(self._load, conversation_id, owner)

    async def append(
        self,
        conversation_id: str,
        turn: Turn,
        chunks: tuple[Chunk, ...],
        corpus_version: str,
        message_id: str | None,
    ) -> None:
        """Add a finished turn to the conversation."""
        await asyncio.to_thread(
            self._append, conversation_id, turn, chunks, corpus_version, message_id
        )

    def _start(self, conversation_id: str, owner: str) -> None:
        with self._database.writing() as connection:
            connection.execute(
                insert(conversations).values(id=conversation_id, created_at=_now(), owner_key=owner)
            )

    def _load(self, conversation_id: str, owner: Owner) -> Conversation:
        turns = conversation_turns.c
        with self._database.reading() as connection:
            found = connection.execute(
                select(conversations.c.owner_key).where(conversations.c.id == conversation_id)
            ).first()
            rows = connection.execute(
                select(
                    turns.question,
                    turns.answer,
                    turns.chunks,
                    turns.corpus_version,
                    turns.message_id,
                )
                .where(turns.conversation_id == conversation_id)
                .order_by(turns.number)
            ).all()
        if found is None or not owner.may_see(found.owner_key):
            raise NotFound(f"no conversation {conversation_id!r}")
        if not rows:
            return Conversation(conversation_id)
        last = rows[-1]
        block_turn = len(rows) - 1
        last_ids = _chunk_ids(last.chunks)
        while block_turn > 0 and _chunk_ids(rows[block_turn - 1].chunks) == last_ids:
            block_turn -= 1
        return Conversation(
            conversation_id=conversation_id,
            turns=tuple(Turn(row.question, row.answer) for row in rows),
            last_chunks=load_chunks(last.chunks),
            last_corpus_version=last.corpus_version,
            last_message_id=last.message_id,
            block_turn=block_turn,
        )

    def _append(
        self,
        conversation_id: str,
        turn: Turn,
        chunks: tuple[Chunk, ...],
        corpus_version: str,
        message_id: str | None,
    ) -> None:
        turns = conversation_turns.c
        with self._database.writing() as connection:
            # The conversation's row lock orders two replicas appending at once.
            connection.execute(
                select(conversations.c.id)
                .where(conversations.c.id == conversation_id)
                .with_for_update()
            )
            count = connection.execute(
                select(func.count()).where(turns.conversation_id == conversation_id)
            ).scalar_one()
            connection.execute(
                insert(conversation_turns).values(
                    conversation_id=conversation_id,
                    number=count,
                    question=turn.question,
                    answer=turn.answer,
                    chunks=dump_chunks(chunks),
                    corpus_version=corpus_version,
                    message_id=message_id,
                    created_at=_now(),
                )
            )


def _chunk_ids(chunks: str) -> list[str]:
    return [str(chunk["chunk_id"]) for chunk in json.loads(chunks)]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
