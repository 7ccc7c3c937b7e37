"""BM25 sees the same words whichever threads stem at once: queries and index builds overlap."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from rag.retrieval import _words

TEXTS = [
    "Installing packages, configuring repositories and upgrading distributions quickly",
    "The maintainers' keyrings are verified before any downloaded archive is unpacked",
    "Generating localisations requires the locales package and its configuration",
] * 200


def test_words_stemmed_in_parallel_threads_match_those_stemmed_alone():
    alone = _words(TEXTS)
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(lambda _: _words(TEXTS), range(16)))
    assert all(words == alone for words in together)
