"""Conversations by id, stored durably in SQLite under the state directory.

Each turn keeps its question, answer, the chunks it was answered over and the id of Claude's
response, so a follow-up can resend the same documents block (a cache read) and name the
previous response for cache diagnostics.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from rag.errors import NotFound
from rag.types import Chunk, Turn

_SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    number INTEGER NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    chunks TEXT NOT NULL,
    corpus_version TEXT NOT NULL,
    message_id TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (conversation_id, number)
);
"""


@dataclass(frozen=True, slots=True)
class Conversation:
    """A conversation's turns so far and what its last turn was answered over."""

    conversation_id: str
    turns: tuple[Turn, ...] = ()
    last_chunks: tuple[Chunk, ...] = ()
    last_corpus_version: str | None = None
    last_message_id: str | None = None


class ConversationStore:
    """Conversations in SQLite; every call runs off the event loop."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()

    @classmethod
    def open(cls, home: Path) -> ConversationStore:
        """The conversation store under the state directory."""
        return cls(home / "conversations.sqlite3")

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    async def start(self) -> Conversation:
        """A new, empty conversation."""
        conversation_id = "conv_" + uuid.uuid4().hex
        await asyncio.to_thread(self._start, conversation_id)
        return Conversation(conversation_id)

    async def load(self, conversation_id: str) -> Conversation:
        """The conversation with its turns; NotFound if there is none by that id."""
        return await asyncio.to_thread(self._load, conversation_id)

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

    def _start(self, conversation_id: str) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO conversations VALUES (?, ?)",
                (conversation_id, datetime.now(UTC).isoformat()),
            )

    def _load(self, conversation_id: str) -> Conversation:
        with self._lock:
            found = self._db.execute(
                "SELECT 1 FROM conversations WHERE id = ?", (conversation_id,)
            ).fetchone()
            rows = self._db.execute(
                "SELECT question, answer, chunks, corpus_version, message_id FROM turns "
                "WHERE conversation_id = ? ORDER BY number",
                (conversation_id,),
            ).fetchall()
        if found is None:
            raise NotFound(f"no conversation {conversation_id!r}")
        if not rows:
            return Conversation(conversation_id)
        _, _, chunks, corpus_version, message_id = rows[-1]
        return Conversation(
            conversation_id=conversation_id,
            turns=tuple(Turn(question, answer) for question, answer, *_ in rows),
            last_chunks=tuple(_chunk(c) for c in json.loads(chunks)),
            last_corpus_version=corpus_version,
            last_message_id=message_id,
        )

    def _append(
        self,
        conversation_id: str,
        turn: Turn,
        chunks: tuple[Chunk, ...],
        corpus_version: str,
        message_id: str | None,
    ) -> None:
        with self._lock:
            (count,) = self._db.execute(
                "SELECT COUNT(*) FROM turns WHERE conversation_id = ?", (conversation_id,)
            ).fetchone()
            self._db.execute(
                "INSERT INTO turns VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    conversation_id,
                    count,
                    turn.question,
                    turn.answer,
                    json.dumps([asdict(c) for c in chunks]),
                    corpus_version,
                    message_id,
                    datetime.now(UTC).isoformat(),
                ),
            )


def _chunk(data: dict[str, object]) -> Chunk:
    data["heading_path"] = tuple(data["heading_path"])  # type: ignore[arg-type]
    return Chunk(**data)  # type: ignore[arg-type]
