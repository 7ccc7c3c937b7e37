"""Extractive answers: the sentences of the supplied material most relevant to the question.

Material is all the text a request supplies. Quoted material comes first: every search_result
block (citable as `search_result_location`), every document block with a text or content
source (`char_location` / `content_block_location`) and the text of tool results. Context a
client writes inline comes next: the system prompt and the users' text blocks, including the
part of the question's own block that is not the question (the stock LangChain and LlamaIndex
chains send retrieved passages in either place). It is never cited, as the API cites only
citable blocks, and it answers only when no quoted sentence matches, because an instruction
such as "cite the passages" is not an answer. Images add a sentence saying what each one is.

The question is the last user text block, or, when that block also carries context, the line
after a `Question:` / `Query:` label (or inside `<question>` tags), else its last paragraph.
Sentences are scored by the inverse document frequency of the question's words they contain.
A request to transcribe images or PDFs gets their transcriptions instead
(api/emulator/transcripts.py).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from api.emulator.images import describe_image
from api.emulator.prompt import text_blocks
from api.emulator.transcripts import transcription

MAX_SENTENCES = 3
# A sentence joins the answer only if it scores at least this share of the best one, so one
# shared word ("keep", "order") does not drag an unrelated sentence in.
RELEVANCE_SHARE = 0.5
_WORDS = re.compile(r"[a-z0-9]+")
_SENTENCE = re.compile(r"[^\n.!?]*(?:[.!?]+|\n|$)")
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "me",
        "of",
        "on",
        "or",
        "please",
        "say",
        "show",
        "tell",
        "that",
        "the",
        "this",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)
NO_MATERIAL = "No documents were supplied with this question, so there is nothing to answer from."
NO_MATCH = "The supplied documents do not answer this question."


# Quoted material (documents, search results, tool results) answers before inline context.
QUOTED, INLINE = 0, 1
_LABELLED_QUESTION = re.compile(
    r"<question>\s*(?P<tagged>.+?)\s*</question>"
    r"|^[ \t]*(?:user[ \t]+)?(?:question|query)[ \t]*:[ \t]*(?P<line>\S.*?)[ \t]*$",
    re.IGNORECASE | re.MULTILINE | re.DOTALL,
)
_PARAGRAPH_BREAK = re.compile(r"\n[ \t]*\n")


@dataclass(frozen=True, slots=True)
class Sentence:
    """A sentence of the supplied material and the citation it would carry."""

    text: str
    order: int
    citation: dict[str, Any] | None
    tier: int = QUOTED


@dataclass(frozen=True, slots=True)
class Answer:
    """The chosen sentences, best first; empty when nothing matched."""

    question: str
    sentences: tuple[Sentence, ...]
    had_material: bool

    @property
    def quoted(self) -> bool:
        """Whether the answer comes from documents, search results or tool results."""
        return bool(self.sentences) and self.sentences[0].tier == QUOTED

    @property
    def text(self) -> str:
        if self.sentences:
            return " ".join(s.text for s in self.sentences)
        return NO_MATCH if self.had_material else NO_MATERIAL


def terms(text: str) -> set[str]:
    """The content words of a text, lower-cased, with a plural `s` dropped."""
    words = (w[:-1] if len(w) > 3 and w.endswith("s") else w for w in _WORDS.findall(text.lower()))
    return {w for w in words if w not in _STOPWORDS}


def _spans(text: str) -> Iterator[tuple[int, int]]:
    for match in _SENTENCE.finditer(text):
        start, end = match.start(), match.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            yield start, end


def split_question(text: str) -> tuple[str, str]:
    """A user text block as (question, the context around it)."""
    labelled = list(_LABELLED_QUESTION.finditer(text))
    if labelled:
        found = labelled[-1]
        question = found.group("tagged") or found.group("line")
        return question.strip(), text[: found.start()] + "\n" + text[found.end() :]
    paragraphs = [p for p in _PARAGRAPH_BREAK.split(text) if p.strip()]
    if len(paragraphs) > 1:
        return paragraphs[-1].strip(), "\n\n".join(paragraphs[:-1])
    return text.strip(), ""


def _question_block(messages: list[dict[str, Any]]) -> tuple[int, int] | None:
    """Where the question is: (message, block) of the last user text block."""
    for m in range(len(messages) - 1, -1, -1):
        message = messages[m]
        if message.get("role") != "user":
            continue
        blocks = text_blocks(message.get("content"))
        for j in range(len(blocks) - 1, -1, -1):
            if blocks[j].get("type") == "text":
                return m, j
    return None


def last_question(messages: list[dict[str, Any]]) -> str:
    """The question being answered, taken from the last text a user wrote."""
    where = _question_block(messages)
    if where is None:
        return ""
    block = text_blocks(messages[where[0]].get("content"))[where[1]]
    return split_question(str(block.get("text", "")))[0]


class _Collector:
    def __init__(self) -> None:
        self.sentences: list[Sentence] = []
        self.search_index = 0
        self.document_index = 0

    def add_text(self, text: str, citation_for: Any = None, tier: int = QUOTED) -> None:
        for start, end in _spans(text):
            citation = citation_for(start, end) if citation_for else None
            self.sentences.append(Sentence(text[start:end], len(self.sentences), citation, tier))

    def add_search_result(self, block: dict[str, Any]) -> None:
        index = self.search_index
        self.search_index += 1
        cite = bool((block.get("citations") or {}).get("enabled"))
        for k, part in enumerate(block.get("content") or []):
            text = str(part.get("text", ""))
            location = {
                "type": "search_result_location",
                "cited_text": text,
                "source": block.get("source"),
                "title": block.get("title"),
                "search_result_index": index,
                "start_block_index": k,
                "end_block_index": k + 1,
            }
            self.add_text(text, (lambda s, e, loc=location: loc) if cite else None)

    def add_document(self, block: dict[str, Any]) -> None:
        index = self.document_index
        self.document_index += 1
        cite = bool((block.get("citations") or {}).get("enabled"))
        source = block.get("source") or {}
        title = block.get("title")
        if source.get("type") == "text":
            data = str(source.get("data", ""))

            def char_location(start: int, end: int) -> dict[str, Any]:
                return {
                    "type": "char_location",
                    "cited_text": data[start:end],
                    "document_index": index,
                    "document_title": title,
                    "start_char_index": start,
                    "end_char_index": end,
                    "file_id": None,
                }

            self.add_text(data, char_location if cite else None)
        elif source.get("type") == "content":
            for k, part in enumerate(text_blocks(source.get("content"))):
                if part.get("type") != "text":
                    continue
                text = str(part.get("text", ""))
                location = {
                    "type": "content_block_location",
                    "cited_text": text,
                    "document_index": index,
                    "document_title": title,
                    "start_block_index": k,
                    "end_block_index": k + 1,
                    "file_id": None,
                }
                self.add_text(text, (lambda s, e, loc=location: loc) if cite else None)

    def add_block(self, block: dict[str, Any], role: str) -> None:
        kind = block.get("type")
        if kind == "search_result":
            self.add_search_result(block)
        elif kind == "document":
            self.add_document(block)
        elif kind == "tool_result":
            for part in text_blocks(block.get("content")):
                if part.get("type") == "text":
                    self.add_text(str(part.get("text", "")))
                else:
                    self.add_block(part, role)
        elif kind == "image" and role == "user":
            self.add_text(describe_image(block.get("source") or {}))
        elif kind == "text" and role == "user":
            self.add_text(str(block.get("text", "")), tier=INLINE)


def gather_sentences(
    messages: list[dict[str, Any]], system: Any = None
) -> tuple[str, list[Sentence]]:
    """The question, and every sentence of the material in the request, in request order."""
    collector = _Collector()
    for block in text_blocks(system):
        if block.get("type") == "text":
            collector.add_text(str(block.get("text", "")), tier=INLINE)
    where = _question_block(messages)
    question = ""
    for m, message in enumerate(messages):
        for j, block in enumerate(text_blocks(message.get("content"))):
            if (m, j) == where:
                question, context = split_question(str(block.get("text", "")))
                collector.add_text(context, tier=INLINE)
            else:
                collector.add_block(block, str(message.get("role")))
    return question, collector.sentences


def answer(messages: list[dict[str, Any]], system: Any = None) -> Answer:
    """The extractive answer to the last question over the request's material."""
    transcribed = transcription(messages)
    if transcribed is not None:
        sentences = [Sentence(text, order, None) for order, text in enumerate(transcribed)]
        return Answer(last_question(messages), tuple(sentences), True)
    question, sentences = gather_sentences(messages, system)
    wanted = terms(question)
    if not sentences or not wanted:
        return Answer(question, (), bool(sentences))
    sentence_terms = [terms(s.text) for s in sentences]
    idf = {
        term: math.log(1 + len(sentences) / (1 + sum(term in st for st in sentence_terms)))
        for term in wanted
    }
    scored = [
        (sum(idf[t] for t in wanted & st), s)
        for s, st in zip(sentences, sentence_terms, strict=True)
    ]
    matched = [pair for pair in scored if pair[0] > 0]
    best_tier = min((s.tier for _, s in matched), default=QUOTED)
    best = sorted(
        (pair for pair in matched if pair[1].tier == best_tier),
        key=lambda p: (-p[0], p[1].order),
    )
    unique: list[Sentence] = []
    for score, sentence in best:
        if score < best[0][0] * RELEVANCE_SHARE:
            break
        if all(sentence.text != kept.text for kept in unique):
            unique.append(sentence)
        if len(unique) == MAX_SENTENCES:
            break
    return Answer(question, tuple(unique), True)
