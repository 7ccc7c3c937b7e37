"""The semantic cache's store: answers a paraphrase may reuse, in the shared database.

Each entry keeps what a later paraphrase is checked against: the bare question and its
embedding, and the chunks the answer was built on. Entries are grouped by scope (corpus
version, prompt version, model and options); one of another corpus version can never be
served again, so adding an entry drops those.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from sqlalchemy import delete, insert, select

from rag.answer_cache import StoredAnswer
from rag.storage.database import Database
from rag.storage.serialised import answer_columns, load_answer
from rag.storage.tables import semantic_answers


@dataclass(frozen=True, slots=True)
class SemanticEntry:
    """A cached answer with what a paraphrase of its question must agree with."""

    question: str
    vector: npt.NDArray[np.float32]
    chunk_ids: tuple[str, ...]
    answer: StoredAnswer


class SemanticStore:
    """Entries by scope; every call runs off the event loop."""

    def __init__(self, database: Database, max_entries_per_scope: int = 5000) -> None:
        self._database = database
        self._max_entries = max_entries_per_scope

    async def entries(self, scope: str) -> list[SemanticEntry]:
        """The newest entries of scope, up to the per-scope limit."""
        return await asyncio.to_thread(self._entries, scope)

    async def add(self, scope: str, corpus_version: str, entry: SemanticEntry) -> None:
        """Store entry under scope; entries of other corpus versions go."""
        await asyncio.to_thread(self._add, scope, corpus_version, entry)

    def _entries(self, scope: str) -> list[SemanticEntry]:
        t = semantic_answers.c
        query = (
            select(
                t.question, t.vector, t.chunk_ids, t.text, t.sources, t.citations, t.usage, t.chunks
            )
            .where(t.scope == scope)
            .order_by(t.id.desc())
            .limit(self._max_entries)
        )
        with self._database.reading() as connection:
            rows = connection.execute(query).all()
        return [
            SemanticEntry(
                question=row.question,
                vector=np.frombuffer(row.vector, dtype=np.float32),
                chunk_ids=tuple(json.loads(row.chunk_ids)),
                answer=load_answer(row._mapping),
            )
            for row in rows
        ]

    def _add(self, scope: str, corpus_version: str, entry: SemanticEntry) -> None:
        answer = entry.answer
        row = {
            "scope": scope,
            "corpus_version": corpus_version,
            "question": entry.question,
            "vector": np.asarray(entry.vector, dtype=np.float32).tobytes(),
            "chunk_ids": json.dumps(list(entry.chunk_ids)),
            **answer_columns(answer),
            "created_epoch_ms": int(time.time() * 1000),
        }
        t = semantic_answers.c
        with self._database.writing() as connection:
            connection.execute(delete(semantic_answers).where(t.corpus_version != corpus_version))
            connection.execute(insert(semantic_answers).values(row))
