"""The JSON forms of values kept in text columns: chunks and stored answers.

One owner, so the conversations, the answer cache and the semantic cache read back exactly what
any of them wrote.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

from rag.answer_cache import StoredAnswer
from rag.types import Chunk, Citation, Source, Usage


def dump_chunks(chunks: Iterable[Chunk]) -> str:
    """The chunks as a JSON array."""
    return json.dumps([asdict(c) for c in chunks])


def load_chunks(text: str) -> tuple[Chunk, ...]:
    """The chunks dump_chunks wrote."""
    return tuple(
        Chunk(**{**data, "heading_path": tuple(data["heading_path"])}) for data in json.loads(text)
    )


def answer_columns(answer: StoredAnswer) -> dict[str, str]:
    """The text columns of a stored answer: text, sources, citations, usage and chunks."""
    return {
        "text": answer.text,
        "sources": json.dumps([asdict(s) for s in answer.sources]),
        "citations": json.dumps([asdict(c) for c in answer.citations]),
        "usage": json.dumps(asdict(answer.usage)),
        "chunks": dump_chunks(answer.chunks),
    }


def load_answer(columns: Mapping[Any, Any]) -> StoredAnswer:
    """The stored answer answer_columns wrote (a row without chunks has none)."""
    chunks = columns.get("chunks")
    return StoredAnswer(
        text=columns["text"],
        sources=tuple(Source(**s) for s in json.loads(columns["sources"])),
        citations=tuple(Citation(**c) for c in json.loads(columns["citations"])),
        usage=Usage(**json.loads(columns["usage"])),
        chunks=load_chunks(chunks) if chunks else (),
    )
