"""Search puts the best chunk of each section before a second chunk of any section, over HTTP.

The app on uvicorn, a Markdown guide uploaded and indexed by the real pipeline into real Chroma:
one long section about watering tomatoes (several chunks, each close to the question) and short
sections beside it. Asked about watering, the long section's chunks no longer fill every place.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.serving import serve_in_thread
from rag.settings import Settings
from tests.jobs import wait_for_job

WATERING = " ".join(
    f"Tip {n}: water tomato plants deeply at the roots in the early morning, "
    f"about {n % 4 + 2} litres a plant when the soil is dry {n % 5 + 2} centimetres down."
    for n in range(24)
)
OTHERS = {
    "Feeding tomatoes": "Feed tomato plants a potash-rich fertiliser every two weeks once the "
    "first flowers open.",
    "Pruning roses": "Prune roses in late winter, cutting just above an outward-facing bud.",
    "Mowing the lawn": "Mow the lawn weekly in summer and never cut more than a third at once.",
}
QUESTION = "How much water do tomato plants need?"


def _guide() -> bytes:
    sections = [f"## Watering tomatoes\n\n{WATERING}"] + [
        f"## {title}\n\n{text}" for title, text in OTHERS.items()
    ]
    return ("# Garden guide\n\n" + "\n\n".join(sections) + "\n").encode()


def _settings(home: Path, hybrid: bool) -> Settings:
    return Settings(home=home, hybrid_search=hybrid, _env_file=None)  # type: ignore[call-arg]


def _search(http: httpx.Client, top_k: int) -> list[str]:
    response = http.post("/v1/search", json={"query": QUESTION, "top_k": top_k})
    assert response.status_code == 200, response.text
    return [r["text"] for r in response.json()["results"]]


@pytest.mark.parametrize("hybrid", [False, True])
def test_a_long_section_gives_its_best_chunk_first_and_the_rest_after_other_sections(
    tmp_path: Path, hybrid: bool
) -> None:
    with (
        serve_in_thread(create_app(_settings(tmp_path / "home", hybrid))) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        files = [("files", ("garden.md", _guide(), "text/markdown"))]
        response = http.post("/v1/documents", files=files)
        assert response.status_code == 202, response.text
        job = wait_for_job(http, response.json()["jobs"][0]["id"])
        assert job["status"] == "done", job

        everything = _search(http, top_k=50)
        watering = [t for t in everything if "water tomato plants deeply" in t]
        assert len(watering) >= 3, everything  # the long section is several chunks

        top = _search(http, top_k=2)
        assert "water tomato plants deeply" in top[0]
        assert "Feed tomato plants" in top[1], top

    # Only the order changes: every chunk is still found, each section's best one first.
    assert len(everything) == len(watering) + len(OTHERS)
    assert everything[0] == top[0]
    assert all(text in everything[len(OTHERS) + 1 :] for text in watering[1:])
