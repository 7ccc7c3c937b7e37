"""Labelled question sets built from public FAQs that Debian packages install.

Each FAQ names a question in a heading and answers it in the section beneath, so the heading
is the question and the section is its label. The documents written for ingestion keep every
answer and every chapter heading, but each question heading is replaced by its number (and
tables of contents are dropped): otherwise the question itself would be in the index and a
search would only have to find its own words.

- `debian-faq`: the Debian GNU/Linux FAQ, the HTML of Debian's `debian-faq` package.
- `perlfaq`: perlfaq1-9, the Perl FAQ, from Debian's `perl-doc` package (POD, turned into
  HTML by perl's own `pod2html`). The overview page perlfaq.pod lists every question, so it
  is left out.

Both are used under their licences from the installed files; nothing is downloaded or
committed. `make bench-deps` installs the packages. Every question goes to one of two splits
by a hash of its text: tune on `tune`, report on `held-out`.

A retrieved text answers a question when it shares a run of SHINGLE_WORDS words with the
answering section that no other section of the set contains.
"""

from __future__ import annotations

import hashlib
import html
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Split = Literal["tune", "held-out"]
SPLITS: tuple[Split, ...] = ("tune", "held-out")
SHINGLE_WORDS = 6

DEBIAN_FAQ = Path("/usr/share/doc/debian/FAQ")
PERL_POD = Path("/usr/share/perl")

_HEADING = re.compile(r"<h([1-6])\b[^>]*>(.*?)</h\1>", re.S | re.I)
_TAG = re.compile(r"<[^>]+>")
_WORD = re.compile(r"[a-z0-9]+")
_NUMBER = re.compile(r"^(\d+(?:\.\d+)*)\.?(?:\s+|$)")


class MissingPackage(RuntimeError):
    """The Debian package a set is built from is not installed."""


@dataclass(frozen=True, slots=True)
class Label:
    """A question and the section that answers it."""

    question: str
    section: str  # the number its heading now shows, e.g. "7.3"
    document: str  # the file name the section is in
    split: Split
    answer: str  # the section's text


@dataclass(slots=True)
class FaqSet:
    """Documents to ingest (every file under folder) and the questions they answer."""

    name: str
    folder: Path
    labels: list[Label]
    _signatures: dict[str, frozenset[tuple[str, ...]]] = field(default_factory=dict, repr=False)

    def documents(self) -> list[Path]:
        return sorted(p for p in self.folder.iterdir() if p.is_file())

    def split(self, split: Split) -> list[Label]:
        return [label for label in self.labels if label.split == split]

    def answers(self, label: Label, text: str) -> bool:
        """True when text (a retrieved chunk) holds part of the section answering label."""
        return not self._signatures[label.section].isdisjoint(_shingles(text))

    def rank(self, label: Label, texts: list[str]) -> int | None:
        """The 1-based rank of the first text that answers label, None if none does."""
        for rank, text in enumerate(texts, start=1):
            if self.answers(label, text):
                return rank
        return None


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _shingles(text: str) -> set[tuple[str, ...]]:
    words = _words(text)
    if len(words) < SHINGLE_WORDS:
        return {tuple(words)} if words else set()
    return {tuple(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - SHINGLE_WORDS + 1)}


def _plain(fragment: str) -> str:
    return " ".join(html.unescape(_TAG.sub(" ", fragment)).split())


def split_of(question: str) -> Split:
    """A question's split, fixed by its text alone (about half go to each)."""
    return "tune" if hashlib.sha256(question.encode()).digest()[0] % 2 == 0 else "held-out"


@dataclass(frozen=True, slots=True)
class _Section:
    number: str
    question: str | None  # None for headings that are not questions
    document: str
    text: str


def _sections(
    page: str, document: str, numbered: Callable[[str], str | None]
) -> Iterator[_Section]:
    """Each heading of an HTML page with the text up to the next heading."""
    headings = list(_HEADING.finditer(page))
    for index, match in enumerate(headings):
        end = headings[index + 1].start() if index + 1 < len(headings) else len(page)
        heading = _plain(match.group(2))
        number = numbered(heading) or f"{document}#{index}"
        body = _plain(page[match.end() : end])
        question = _NUMBER.sub("", heading) if heading.endswith("?") else None
        yield _Section(number, question, document, body)


def _labelled(name: str, folder: Path, sections: list[_Section]) -> FaqSet:
    """The set: every question with an answer, and each section's signature shingles."""
    counts: Counter[tuple[str, ...]] = Counter()
    shingles = {s.number: _shingles(s.text) for s in sections}
    for found in shingles.values():
        counts.update(found)
    signatures = {
        number: frozenset(s for s in found if counts[s] == 1) for number, found in shingles.items()
    }
    labels = [
        Label(s.question, s.number, s.document, split_of(s.question), s.text)
        for s in sections
        if s.question is not None and signatures[s.number]
    ]
    return FaqSet(name, folder, labels, signatures)


def _require(path: Path, package: str) -> None:
    if not path.exists():
        raise MissingPackage(
            f"{path} is missing: install Debian's {package} package (make bench-deps)"
        )


def _number_of(heading: str) -> str | None:
    found = _NUMBER.match(heading)
    return found.group(1) if found else None


def debian_faq(folder: Path) -> FaqSet:
    """The Debian FAQ's chapters, question headings replaced by their numbers, in folder."""
    _require(DEBIAN_FAQ / "index.en.html", "debian-faq")
    folder.mkdir(parents=True, exist_ok=True)
    sections: list[_Section] = []
    for source in sorted(DEBIAN_FAQ.glob("*.en.html")):
        if source.name == "index.en.html":
            continue  # the whole table of contents
        page = source.read_text(encoding="utf-8")
        page = re.sub(r'<div class="toc">.*?</dl></div>', "", page, flags=re.S)

        def numbered(match: re.Match[str]) -> str:
            level, heading = match.group(1), _plain(match.group(2))
            number = _number_of(heading)
            if not heading.endswith("?") or number is None:
                return match.group(0)
            return f"<h{level}>{number}.</h{level}>"

        rewritten = _HEADING.sub(numbered, page)
        name = source.name.removesuffix(".en.html") + ".html"
        (folder / name).write_text(rewritten, encoding="utf-8")
        sections.extend(_sections(page, name, _number_of))
    return _labelled("debian-faq", folder, sections)


def _perl_pod_folder() -> Path:
    _require(PERL_POD, "perl-doc")
    found = sorted(PERL_POD.glob("*/pod/perlfaq1.pod"))
    if not found:
        raise MissingPackage("perlfaq1.pod is missing: install Debian's perl-doc package")
    return found[-1].parent


def _numbered_pod(pod: str, chapter: int) -> tuple[str, dict[str, str]]:
    """The POD with each question heading replaced by its number; the questions by number."""
    questions: dict[str, str] = {}

    def numbered(match: re.Match[str]) -> str:
        heading = match.group(1).strip()
        if not heading.endswith("?"):
            return match.group(0)
        number = f"{chapter}.{len(questions) + 1}"
        questions[number] = heading
        return f"=head2 {number}."

    return re.sub(r"^=head2 (.*)$", numbered, pod, flags=re.M), questions


def perl_faq(folder: Path) -> FaqSet:
    """perlfaq1-9 as HTML, question headings replaced by numbers like 4.12, in folder."""
    pods = _perl_pod_folder()
    if shutil.which("pod2html") is None:
        raise MissingPackage("pod2html is missing: install Debian's perl package")
    folder.mkdir(parents=True, exist_ok=True)
    sections: list[_Section] = []
    with tempfile.TemporaryDirectory(prefix="strata-perlfaq-") as scratch:
        for chapter in range(1, 10):
            original = (pods / f"perlfaq{chapter}.pod").read_text(encoding="utf-8")
            numbered, questions = _numbered_pod(original, chapter)
            pod = Path(scratch, f"perlfaq{chapter}.pod")
            pod.write_text(numbered, encoding="utf-8")
            page = subprocess.run(
                ["pod2html", f"--infile={pod}", f"--cachedir={scratch}", "--quiet", "--noindex"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            name = f"perlfaq{chapter}.html"
            (folder / name).write_text(page, encoding="utf-8")
            for section in _sections(page, name, _number_of):
                question = questions.get(section.number)
                sections.append(_Section(section.number, question, section.document, section.text))
    return _labelled("perlfaq", folder, sections)


SETS: dict[str, Callable[[Path], FaqSet]] = {"debian-faq": debian_faq, "perlfaq": perl_faq}


def build(name: str, root: Path) -> FaqSet:
    """The set called name, its documents written under root/name (replacing what was there)."""
    folder = root / name
    if folder.exists():
        shutil.rmtree(folder)
    return SETS[name](folder)


def build_all(root: Path) -> list[FaqSet]:
    """Every set, in a fixed order, each under root/<name>."""
    return [build(name, root) for name in SETS]
