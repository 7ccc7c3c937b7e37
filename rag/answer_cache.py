"""Whole answers kept for identical questions: the cheapest cache layer (zero tokens).

The key is the normalised question with everything that could change the answer: the corpus
version (any ingest or delete moves it), the prompt version, the model and the options.
Stored durably in SQLite under the state directory.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import sqlite3
import threading
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from rag.types import Citation, Source, Usage

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    text TEXT NOT NULL,
    sources TEXT NOT NULL,
    citations TEXT NOT NULL,
    usage TEXT NOT NULL,
    created_at TEXT NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """An answer as it was first given, with the usage a repeat of it avoids."""

    text: str
    sources: tuple[Source, ...]
    citations: tuple[Citation, ...]
    usage: Usage


def normalise_question(question: str) -> str:
    """Case, width, spacing and trailing punctuation do not make a question different."""
    text = unicodedata.normalize("NFKC", question).casefold()
    return re.sub(r"\s+", " ", text).strip().rstrip("?!. ")


def answer_key(
    question: str,
    corpus_version: str,
    prompt_version: str,
    model: str,
    options: Mapping[str, object],
) -> str:
    """The cache key of an answer: nothing it depends on is left out."""
    material = json.dumps(
        [normalise_question(question), corpus_version, prompt_version, model, dict(options)],
        sort_keys=True,
    )
    return hashlib.sha256(material.encode()).hexdigest()


class AnswerCache:
    """Answers by key in SQLite; every call runs off the event loop."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._lock = threading.Lock()

    @classmethod
    def open(cls, home: Path) -> AnswerCache:
        """The answer cache under the state directory."""
        return cls(home / "answers.sqlite3")

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    async def get(self, key: str) -> StoredAnswer | None:
        """The stored answer for key, if any."""
        return await asyncio.to_thread(self._get, key)

    async def put(self, key: str, model: str, answer: StoredAnswer) -> None:
        """Store answer under key (replacing any older one)."""
        await asyncio.to_thread(self._put, key, model, answer)

    def _get(self, key: str) -> StoredAnswer | None:
        with self._lock:
            row = self._db.execute(
                "SELECT text, sources, citations, usage FROM answers WHERE key = ?", (key,)
            ).fetchone()
        if row is None:
            return None
        text, sources, citations, usage = row
        return StoredAnswer(
            text=text,
            sources=tuple(Source(**s) for s in json.loads(sources)),
            citations=tuple(Citation(**c) for c in json.loads(citations)),
            usage=Usage(**json.loads(usage)),
        )

    def _put(self, key: str, model: str, answer: StoredAnswer) -> None:
        row = (
            key,
            model,
            answer.text,
            json.dumps([asdict(s) for s in answer.sources]),
            json.dumps([asdict(c) for c in answer.citations]),
            json.dumps(asdict(answer.usage)),
            datetime.now(UTC).isoformat(),
        )
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO answers VALUES (?, ?, ?, ?, ?, ?, ?)", row)
