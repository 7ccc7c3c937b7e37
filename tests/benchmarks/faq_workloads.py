"""Labelled question workloads over an FAQ set (tests/benchmarks/faq_sets.py) for cost per answer.

Every ask names the section that answers it, so each system's context can be checked for it.
Two shapes:
- mix: popular questions asked again by different users, three-turn conversations (a question,
  a neighbouring question of the same chapter, then "tell me more"), and one-off questions,
  interleaved as users would send them;
- two_turn: conversations of a question and a neighbouring question of the same chapter.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import asdict, dataclass
from typing import Any

from tests.benchmarks.faq_sets import Label

ELABORATE = "Can you explain that in more detail?"


@dataclass(frozen=True, slots=True)
class LabelledAsk:
    """One question; turn > 0 continues the session's conversation."""

    session: int
    turn: int
    question: str
    section: str  # the Label.section that answers it
    kind: str  # popular | conversation | one_off | two_turn

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _neighbours(labels: list[Label]) -> list[tuple[Label, Label]]:
    """Consecutive questions within one chapter: a question and the one after it."""
    return [
        (first, second)
        for first, second in itertools.pairwise(labels)
        if first.document == second.document
    ]


def mix(
    labels: list[Label],
    popular: int = 6,
    popular_asks: int = 30,
    conversations: int = 10,
    one_offs: int = 24,
    seed: int = 16,
) -> list[LabelledAsk]:
    """The realistic mix: 30 popular asks, 10 three-turn conversations, 24 one-off questions."""
    rng = random.Random(seed)
    pairs = _neighbours(labels)
    rng.shuffle(pairs)
    talks = pairs[:conversations]
    used = {label.section for pair in talks for label in pair}
    singles = [label for label in labels if label.section not in used]
    rng.shuffle(singles)
    favourites, once = singles[:popular], singles[popular : popular + one_offs]

    streams: list[list[LabelledAsk]] = []
    session = 0
    weights = [1 / rank for rank in range(1, popular + 1)]
    for section in rng.choices(favourites, weights, k=popular_asks):
        streams.append([LabelledAsk(session, 0, section.question, section.section, "popular")])
        session += 1
    for section in once:
        streams.append([LabelledAsk(session, 0, section.question, section.section, "one_off")])
        session += 1
    for first, second in talks:
        streams.append(
            [
                LabelledAsk(session, 0, first.question, first.section, "conversation"),
                LabelledAsk(session, 1, second.question, second.section, "conversation"),
                LabelledAsk(session, 2, ELABORATE, second.section, "conversation"),
            ]
        )
        session += 1
    return _interleaved(streams, rng)


def two_turn(labels: list[Label], conversations: int = 20, seed: int = 61) -> list[LabelledAsk]:
    """Conversations of two questions on neighbouring sections of one chapter."""
    rng = random.Random(seed)
    pairs = _neighbours(labels)
    rng.shuffle(pairs)
    streams = [
        [
            LabelledAsk(session, 0, first.question, first.section, "two_turn"),
            LabelledAsk(session, 1, second.question, second.section, "two_turn"),
        ]
        for session, (first, second) in enumerate(pairs[:conversations])
    ]
    return _interleaved(streams, rng)


def _interleaved(streams: list[list[LabelledAsk]], rng: random.Random) -> list[LabelledAsk]:
    """The asks of every stream in one sequence, each stream's own order kept."""
    pending = [list(stream) for stream in streams]
    order: list[LabelledAsk] = []
    while pending:
        stream = rng.choice(pending)
        order.append(stream.pop(0))
        if not stream:
            pending.remove(stream)
    return order
