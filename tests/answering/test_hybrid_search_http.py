"""Hybrid search over HTTP: BM25 lifts the passage holding a query's exact words, scores unchanged.

The app on uvicorn, a document uploaded and indexed by the real pipeline into real Chroma, then
searched by two apps on the same home: dense alone, and with STRATA_HYBRID_SEARCH on.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from api.app import create_app
from api.serving import serve_in_thread
from rag.settings import Settings
from tests.jobs import wait_for_job

# Error codes dense search tells apart poorly: the numbers carry little meaning to the model.
ERRORS = {
    "4401": ("Disk full", "The disk holding the data directory is full; free some space."),
    "4417": ("Licence expired", "The licence key has expired; ask for a new key."),
    "4420": ("Share unreachable", "The network share cannot be reached; check the cable."),
    "4433": ("Already running", "Another copy of the program is running; close it first."),
    "4452": ("Unreadable settings", "The configuration file could not be read."),
    "4468": ("Old schema", "The database schema is older than the program; run the upgrade."),
    "4471": ("Clock skew", "The clock of this machine is too far from the server's."),
    "4489": ("No permission", "The user may not open the project; ask its owner to share it."),
}
TOP_K = len(ERRORS)


def _settings(home: Path, hybrid: bool) -> Settings:
    return Settings(home=home, hybrid_search=hybrid, _env_file=None)  # type: ignore[call-arg]


def _ranked(home: Path, hybrid: bool) -> dict[str, list[tuple[str, float]]]:
    """For each code, the (text, score) of every result of "What does error CODE mean?"."""
    with (
        serve_in_thread(create_app(_settings(home, hybrid))) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        found = {}
        for code in ERRORS:
            query = {"query": f"What does error {code} mean?", "top_k": TOP_K}
            response = http.post("/v1/search", json=query)
            assert response.status_code == 200, response.text
            found[code] = [(r["text"], r["score"]) for r in response.json()["results"]]
        return found


def _rank(results: list[tuple[str, float]], code: str) -> int:
    return next(i for i, (text, _) in enumerate(results, start=1) if f"Error {code}." in text)


def test_hybrid_search_ranks_the_passage_with_the_exact_code_higher_and_keeps_scores(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    page = "# Error messages\n\n" + "".join(
        f"## {title}\n\nError {code}. {text}\n\n" for code, (title, text) in ERRORS.items()
    )
    with (
        serve_in_thread(create_app(_settings(home, hybrid=False))) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        files = [("files", ("errors.md", page.encode(), "text/markdown"))]
        response = http.post("/v1/documents", files=files)
        assert response.status_code == 202, response.text
        assert wait_for_job(http, response.json()["jobs"][0]["id"])["status"] == "done"

    dense, hybrid = _ranked(home, hybrid=False), _ranked(home, hybrid=True)

    dense_ranks = {code: _rank(dense[code], code) for code in ERRORS}
    hybrid_ranks = {code: _rank(hybrid[code], code) for code in ERRORS}
    assert all(hybrid_ranks[code] <= dense_ranks[code] for code in ERRORS), (dense, hybrid)
    assert sum(hybrid_ranks.values()) < sum(dense_ranks.values()), (dense_ranks, hybrid_ranks)
    # Only the order changes: every passage keeps its cosine similarity as its score.
    for code in ERRORS:
        assert sorted(hybrid[code]) == sorted(dense[code])
