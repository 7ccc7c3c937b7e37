"""Whole answers kept for identical questions: the cheapest cache layer (zero tokens).

The key is the normalised question with everything that could change the answer: the corpus
version (any ingest or delete moves it), the prompt version, the model and the options.
Stored in the shared database by rag/storage/answers.py.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from rag.types import Citation, Source, Usage


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
