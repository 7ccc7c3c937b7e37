"""Whole answers kept for identical questions: the cheapest cache layer (zero tokens).

The key is the normalised question with everything that could change the answer: the corpus
version (any ingest or delete moves it), the prompt version, the model and the options that
shape retrieval, the context and the request (rag/answering.py names them). An answer keeps
the documents block it was given over, so a conversation that opens with a hit goes on over
the same documents, in the same bytes, as one that opened with the call. Stored in the shared
database by rag/storage/answers.py.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from rag.types import Chunk, Citation, Source, Usage


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """An answer as it was first given, with the usage a repeat of it avoids.

    chunks is the documents block it was answered over: a hit's turn keeps it, so follow-ups
    are grounded in it and resend its bytes (a cache read).
    """

    text: str
    sources: tuple[Source, ...]
    citations: tuple[Citation, ...]
    usage: Usage
    chunks: tuple[Chunk, ...] = ()


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
