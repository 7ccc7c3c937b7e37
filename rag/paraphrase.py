"""Lexical guards: whether two questions could share an answer, judged from their words alone.

Embedding similarity cannot tell a paraphrase from its near miss: on the adversarial set in
tests/semantic/pairs.jsonl the near misses ("Is flat better than nested?" / "Is nested better
than flat?") score a higher median cosine on MiniLM than the true paraphrases do. These rules
look at what similarity blurs. Two questions differ when they carry other numbers (digits,
number words and ordinals), another count of negations, an opposite (from a short list, or
the same word with a negating prefix: enable/disable, mutable/immutable), the same terms on
the other side of a relation (A than B, from A to B), or a content word that the other
question has no close counterpart for. Pure functions; the caller supplies word similarity.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import snowballstemmer


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


def _numbered(words: str, start: int = 0) -> dict[str, int]:
    return {word: value for value, word in enumerate(words.split(), start=start)}


# Words that carry no subject of their own in a question: function words and the scaffolding
# people wrap a question in ("how can I", "what is the way to", "tell me").
_SCAFFOLD = _wordset(
    """a an the of to in on at by for from with into onto about as and or but if then so
    that this these those there here it its i me my mine we our us you your he him his she her
    they them their what which who whom whose when where why how whether is are was were be been
    being am do does did doing done have has had having can could may might must shall should
    will would some any all each every such own just also only very too much many
    someone something anything way ways thing things please tell know want need say
    says mean means meant use uses used using get gets got give gives given go goes make
    makes made possible allowed able happen happens happened exactly actually really"""
)
_NEGATIONS = _wordset("not no never without none nor neither nothing nobody nowhere non")
_CARDINALS = _numbered(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty"
) | {
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "thousand": 1000,
    "million": 10**6,
    "billion": 10**9,
    "single": 1,
    "singleton": 1,
    "once": 1,
    "twice": 2,
    "double": 2,
    "triple": 3,
    "dozen": 12,
}
_ORDINALS = _numbered(
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
    "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth",
    start=1,
)
# Opposites that share no prefix. Compared by stem, so inflections count too.
_OPPOSITES = (
    ("add", "remove"),
    ("add", "delete"),
    ("install", "remove"),
    ("install", "uninstall"),
    ("enable", "disable"),
    ("start", "stop"),
    ("start", "end"),
    ("begin", "end"),
    ("first", "last"),
    ("min", "max"),
    ("minimum", "maximum"),
    ("smallest", "largest"),
    ("small", "large"),
    ("more", "less"),
    ("more", "fewer"),
    ("most", "least"),
    ("greater", "less"),
    ("higher", "lower"),
    ("increase", "decrease"),
    ("upgrade", "downgrade"),
    ("newer", "older"),
    ("new", "old"),
    ("newest", "oldest"),
    ("latest", "oldest"),
    ("before", "after"),
    ("positive", "negative"),
    ("true", "false"),
    ("allow", "deny"),
    ("allow", "forbid"),
    ("accept", "reject"),
    ("open", "close"),
    ("show", "hide"),
    ("import", "export"),
    ("upload", "download"),
    ("input", "output"),
    ("public", "private"),
    ("public", "secret"),
    ("peace", "war"),
    ("forward", "backward"),
    ("forward", "reverse"),
    ("ascending", "descending"),
    ("easy", "hard"),
    ("simple", "complex"),
    ("fast", "slow"),
    ("faster", "slower"),
    ("above", "below"),
    ("inside", "outside"),
    ("include", "exclude"),
    ("with", "without"),
    ("lock", "unlock"),
    ("hold", "unhold"),
    ("homogeneous", "heterogeneous"),
    ("always", "never"),
    ("all", "none"),
    ("same", "different"),
    ("encrypt", "decrypt"),
    ("compress", "decompress"),
    ("mount", "unmount"),
    ("connect", "disconnect"),
    ("push", "pull"),
    ("buy", "sell"),
    ("win", "lose"),
    ("left", "right"),
    ("top", "bottom"),
    ("head", "tail"),
    ("early", "late"),
)
_NEGATING_PREFIXES = ("un", "dis", "in", "im", "il", "ir", "non", "de", "anti", "mis")
# Words that order two terms: "A than B", "from A to B", "A over B", "convert A into B".
# "A on B" too: "Debian packages on Red Hat", "aptitude relies on apt".
_RELATIONS = _wordset("than over versus vs to into from on instead rather before after")
_WORD = re.compile(r"[A-Za-z0-9]+")

_stemmer = snowballstemmer.stemmer("english")


@cache
def stem(word: str) -> str:
    """The Snowball (Porter 2) stem of a lower-case word."""
    result: str = _stemmer.stemWord(word)
    return result


_OPPOSITE_STEMS = frozenset(
    pair for a, b in _OPPOSITES for pair in ((stem(a), stem(b)), (stem(b), stem(a)))
)


@dataclass(frozen=True, slots=True)
class QuestionTerms:
    """What a question is about, word by word, for comparing it with another."""

    # Each number as a canonical string, sorted: "three" and "3" are the same number.
    numbers: tuple[str, ...]
    negations: int
    # Content words in order, lower case, with their stems.
    words: tuple[str, ...]
    stems: tuple[str, ...]
    # Words spelled with a capital inside the question, or mixing letters and digits.
    names: frozenset[str]


def _words(question: str) -> list[tuple[str, bool]]:
    """Each word, lower-cased, and whether it was written as a name."""
    text = question.replace("’", "'")
    text = re.sub(r"(?i)n't\b", " not", text)
    text = re.sub(r"(?i)\bcannot\b", "can not", text)
    found = []
    for index, match in enumerate(_WORD.finditer(text)):
        word = match.group()
        # A capital after the first word, or inside a word (macOS), marks a name.
        is_name = (index > 0 and word[0].isupper()) or any(c.isupper() for c in word[1:])
        mixed = any(c.isdigit() for c in word) and any(c.isalpha() for c in word)
        found.append((word.lower(), is_name or mixed))
    return found


def question_terms(question: str) -> QuestionTerms:
    """The numbers, negations, content words and names of question."""
    numbers: list[str] = []
    negations = 0
    words: list[str] = []
    names: set[str] = set()
    for word, is_name in _words(question):
        if word.isdigit():
            numbers.append(str(int(word)))
        elif word in _CARDINALS or word in _ORDINALS:
            numbers.append(str(_CARDINALS.get(word, _ORDINALS.get(word))))
        elif word in _NEGATIONS:
            negations += 1
        elif word not in _SCAFFOLD:
            words.append(word)
            if is_name:
                names.add(word)
    return QuestionTerms(
        numbers=tuple(sorted(numbers)),
        negations=negations,
        words=tuple(words),
        stems=tuple(stem(w) for w in words),
        names=frozenset(names),
    )


def are_opposites(a: str, b: str) -> bool:
    """True when one word negates the other: a listed opposite, or a negating prefix."""
    if (stem(a), stem(b)) in _OPPOSITE_STEMS:
        return True
    shorter, longer = sorted((a, b), key=len)
    return any(longer == prefix + shorter for prefix in _NEGATING_PREFIXES)


def _relation_sides(question: str) -> list[tuple[str, frozenset[str], frozenset[str]]]:
    """For each relation word: the content stems before it and after it."""
    tokens = [w for w, _ in _words(question)]
    sides = []
    for index, token in enumerate(tokens):
        if token in _RELATIONS:
            before = frozenset(stem(t) for t in tokens[:index] if t not in _SCAFFOLD)
            after = frozenset(stem(t) for t in tokens[index + 1 :] if t not in _SCAFFOLD)
            sides.append((token, before, after))
    return sides


def swapped(a: str, b: str) -> bool:
    """True when a term on one side of a relation in a is on the other side of it in b."""
    for relation, before_a, after_a in _relation_sides(a):
        for other, before_b, after_b in _relation_sides(b):
            if relation == other and (before_a & after_b or after_a & before_b):
                return True
    return False


def unmatched(a: QuestionTerms, b: QuestionTerms) -> tuple[list[str], list[str]]:
    """The content words of a whose stem b lacks, and those of b whose stem a lacks."""
    in_a, in_b = set(a.stems), set(b.stems)
    only_a = list(dict.fromkeys(w for w, s in zip(a.words, a.stems, strict=True) if s not in in_b))
    only_b = list(dict.fromkeys(w for w, s in zip(b.words, b.stems, strict=True) if s not in in_a))
    return only_a, only_b


WordSimilarity = Callable[[Sequence[str], Sequence[str]], list[list[float]]]
"""Cosine similarity of every word of the first list with every word of the second."""


def lexical_difference(
    a: str, b: str, similarity: WordSimilarity, min_word_similarity: float
) -> str | None:
    """Why questions a and b may not share an answer, or None when no word tells them apart."""
    terms_a, terms_b = question_terms(a), question_terms(b)
    if terms_a.numbers != terms_b.numbers:
        return "numbers"
    if terms_a.negations != terms_b.negations:
        return "negation"
    if terms_a.names != terms_b.names:
        return "names"
    only_a, only_b = unmatched(terms_a, terms_b)
    if any(are_opposites(x, y) for x in only_a for y in only_b):
        return "opposite"
    if swapped(a, b):
        return "swapped"
    if not only_a and not only_b:
        return None
    if not only_a or not only_b:
        return "unmatched word"
    scores = similarity(only_a, only_b)
    best_for_a = [max(row) for row in scores]
    best_for_b = [max(column) for column in zip(*scores, strict=True)]
    if min(best_for_a + best_for_b) < min_word_similarity:
        return "unmatched word"
    return None
