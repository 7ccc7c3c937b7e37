"""Question workloads over an ingested corpus, shared by the cost and latency benchmarks."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

from rag.types import Chunk


@dataclass(frozen=True, slots=True)
class Ask:
    """One question of a workload; follow_up continues the session's conversation."""

    session: int
    question: str
    follow_up: bool


def topic_of(chunk: Chunk) -> str:
    """A short phrase naming what a chunk is about: its heading, else its opening words."""
    if chunk.heading_path:
        return chunk.heading_path[-1]
    words = re.findall(r"[A-Za-z][A-Za-z'-]+", chunk.text)
    return " ".join(words[:6])


def question_pool(chunks: list[Chunk]) -> dict[str, list[str]]:
    """Distinct questions per document, as a reader of that document might ask them."""
    pool: dict[str, list[str]] = {}
    templates = (
        "What does {title} say about {topic}?",
        "Explain {topic} as described in {title}.",
        "How does {title} describe {topic}?",
    )
    for index, chunk in enumerate(sorted(chunks, key=lambda c: (c.document_id, c.position))):
        topic = topic_of(chunk)
        question = templates[index % len(templates)].format(title=chunk.title, topic=topic)
        questions = pool.setdefault(chunk.document_id, [])
        if question not in questions:
            questions.append(question)
    return pool


def realistic(chunks: list[Chunk], sessions: int = 24, seed: int = 7) -> list[Ask]:
    """Several users over a shared corpus: popular questions repeat, sessions have follow-ups.

    A session opens with a question drawn by popularity (Zipf-like, so a few questions are
    asked by many users); half the sessions follow up on the same document, a quarter twice.
    """
    rng = random.Random(seed)
    pool = question_pool(chunks)
    documents = sorted(pool)
    openers = [(doc, q) for doc in documents for q in pool[doc][:2]]
    rng.shuffle(openers)
    weights = [1 / (rank**1.1) for rank in range(1, len(openers) + 1)]
    asks: list[Ask] = []
    for session in range(sessions):
        document, opener = rng.choices(openers, weights)[0]
        asks.append(Ask(session, opener, follow_up=False))
        others = [q for q in pool[document] if q != opener]
        for _ in range(2 if rng.random() < 0.25 else 1 if rng.random() < 0.5 else 0):
            if others:
                asks.append(Ask(session, rng.choice(others), follow_up=True))
    return asks


def no_repeat(chunks: list[Chunk], limit: int = 40) -> list[Ask]:
    """Every question different and in its own conversation: nothing is asked twice."""
    questions = [q for qs in question_pool(chunks).values() for q in qs]
    random.Random(11).shuffle(questions)
    return [Ask(session, q, follow_up=False) for session, q in enumerate(questions[:limit])]
