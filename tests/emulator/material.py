"""Request material shared by the emulator tests: documents, long prompts, a question."""

from __future__ import annotations

from typing import Any

MODEL = "claude-sonnet-5-5"  # minimum cacheable prefix: 512 tokens

LIST_FACTS = [
    "Python lists can be reversed in place with the reverse method.",
    "The reversed function returns an iterator over a sequence in reverse order.",
]
TUPLE_FACTS = ["Tuples are immutable, so they cannot be reversed in place."]


def search_result(
    source: str, title: str, texts: list[str], *, citations: bool = True
) -> dict[str, Any]:
    return {
        "type": "search_result",
        "source": source,
        "title": title,
        "content": [{"type": "text", "text": t} for t in texts],
        "citations": {"enabled": citations},
    }


def long_text(words: int, seed_word: str = "context") -> str:
    """A text of `words` words (about two tokens each) that does not match the test questions."""
    return " ".join(f"{seed_word}{i % 97}" for i in range(words))


def question_turn(question: str, *documents: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": [*documents, {"type": "text", "text": question}]}
