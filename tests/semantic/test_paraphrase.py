"""The word guards on their own: what makes two questions unable to share an answer."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from rag.paraphrase import are_opposites, lexical_difference, question_terms, swapped

PAIRS = Path(__file__).with_name("pairs.jsonl")


def exact_words(first: list[str], second: list[str]) -> list[list[float]]:
    """Word similarity that knows only identity: every other word is far."""
    return [[1.0 if a == b else 0.0 for b in second] for a in first]


def difference(a: str, b: str) -> str | None:
    return lexical_difference(a, b, exact_words, 0.6)


def test_the_adversarial_set_has_two_hundred_pairs_of_each_near_miss_kind():
    pairs = [json.loads(line) for line in PAIRS.read_text().splitlines()]
    kinds = Counter(p["kind"] for p in pairs if p["expect"] == "miss")
    assert len(pairs) >= 200
    assert {p["corpus"] for p in pairs} == {"sample", "debian-faq"}
    assert sum(p["expect"] == "hit" for p in pairs) >= 100
    assert set(kinds) >= {"negation", "number", "swap", "opposite", "neighbour", "qualifier"}
    assert len({(p["cached"], p["asked"]) for p in pairs}) == len(pairs)


def test_numbers_written_as_words_or_digits_are_the_same_number():
    assert question_terms("What does [[]] * three give?").numbers == ("3",)
    assert difference("What does [[]] * 3 produce?", "What does [[]] * three produce?") is None
    assert difference("What does [[]] * 3 produce?", "What does [[]] * 2 produce?") == "numbers"
    assert difference(
        "What does the Second Amendment say?", "What does the Third Amendment say?"
    ) == ("numbers")


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Does list.sort return the sorted list?", "Why doesn't list.sort return the sorted list?"),
        ("Can a warrant issue upon probable cause?", "Can a warrant issue without probable cause?"),
        ("Which packages are installed?", "Which packages are not installed?"),
    ],
)
def test_a_negation_in_one_question_only_is_a_miss(a: str, b: str):
    assert difference(a, b) == "negation"


@pytest.mark.parametrize(
    ("a", "b"),
    [("enable", "disable"), ("mutable", "immutable"), ("minimum", "maximum"), ("add", "removed")],
)
def test_opposites_are_recognised_by_list_and_by_prefix(a: str, b: str):
    assert are_opposites(a, b)


def test_an_opposite_is_a_miss_even_when_the_embeddings_call_it_close():
    def everything_close(first: list[str], second: list[str]) -> list[list[float]]:
        return [[0.99 for _ in second] for _ in first]

    verdict = lexical_difference(
        "How do I enable the unstable repository?",
        "How do I disable the unstable repository?",
        everything_close,
        0.6,
    )
    assert verdict == "opposite"


def test_terms_swapped_across_a_relation_are_a_miss():
    assert swapped("Is flat better than nested?", "Is nested better than flat?")
    assert swapped(
        "How do I migrate from Ubuntu to Debian?", "How do I migrate from Debian to Ubuntu?"
    )
    assert not swapped("Is flat better than nested?", "Is a flat structure better than nesting?")
    assert difference("Is explicit better than implicit?", "Is implicit better than explicit?") == (
        "swapped"
    )


def test_a_name_or_qualifier_added_is_a_miss():
    assert difference("How do I install a program?", "How do I install a program on macOS?") == (
        "names"
    )
    assert difference("How do I copy a list?", "How do I deep copy a list?") == "unmatched word"


def test_a_content_word_needs_a_close_counterpart():
    def close(first: list[str], second: list[str]) -> list[list[float]]:
        table = {("remove", "delete"): 0.7, ("delete", "remove"): 0.7}
        return [[table.get((a, b), 1.0 if a == b else 0.0) for b in second] for a in first]

    same = lexical_difference("How do I remove an item?", "How do I delete an item?", close, 0.6)
    other = lexical_difference("How do I remove an item?", "How do I hide an item?", close, 0.6)
    assert (same, other) == (None, "unmatched word")


def test_scaffolding_words_do_not_make_questions_differ():
    assert difference("What is tasksel?", "What does tasksel do?") is None
    assert difference("How can I empty a list?", "How do I empty a list?") is None
