"""Does `/v1/search` put the answering section first? R@1, R@5 and MRR@10 on public FAQs.

Each set of faq_sets.py goes through the real path: `strata ingest` as its own process into a
fresh home, then the app served on a loopback port answers `POST /v1/search` for each question.
A question counts as found at the rank of the first result that holds part of the section
answering it. Figures are per set, search arm (dense alone, and hybrid: BM25 re-ranking dense
search's candidates) and split: tune on `tune`, judge on `held-out`.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import httpx

from api.app import create_app
from api.serving import serve_in_thread
from rag.settings import Settings
from tests.benchmarks.faq_sets import SPLITS, FaqSet, Label, build_all
from tests.processes import run_strata

DEPTH = 10
# Generous: seven people may share the two cores the whole FAQ is embedded on.
INGEST_TIMEOUT_S = 3600


def ranks_of(
    faq: FaqSet, labels: list[Label], client: httpx.Client
) -> tuple[list[int | None], list[float]]:
    """Each label's rank in `/v1/search` results (None: not in the top DEPTH), and its time."""
    ranks: list[int | None] = []
    seconds: list[float] = []
    for label in labels:
        started = time.perf_counter()
        response = client.post("/v1/search", json={"query": label.question, "top_k": DEPTH})
        seconds.append(time.perf_counter() - started)
        response.raise_for_status()
        texts = [r["text"] for r in response.json()["results"]]
        ranks.append(faq.rank(label, texts))
    return ranks, seconds


def scores(ranks: list[int | None]) -> dict[str, float]:
    """R@1, R@5 and MRR@10 of best-first ranks (None: not in the results)."""
    count = len(ranks) or 1
    return {
        "R@1": round(sum(r == 1 for r in ranks) / count, 3),
        "R@5": round(sum(r is not None and r <= 5 for r in ranks) / count, 3),
        "MRR@10": round(sum(1 / r for r in ranks if r is not None and r <= DEPTH) / count, 3),
    }


ARMS = {"dense": False, "hybrid": True}


def _measure(faq: FaqSet, scratch: Path) -> dict[str, object]:
    home = scratch / f"{faq.name}-home"
    started = time.perf_counter()
    ingested = run_strata("ingest", str(faq.folder), home=home, timeout=INGEST_TIMEOUT_S)
    ingest_seconds = time.perf_counter() - started
    if ingested.returncode != 0:
        raise RuntimeError(f"strata ingest failed: {ingested.stderr[-2000:]}")
    figures: dict[str, object] = {"ingest_s": round(ingest_seconds, 1)}
    # Both arms search the one store `strata ingest` filled; only STRATA_HYBRID_SEARCH differs.
    for arm, hybrid in ARMS.items():
        settings = Settings(  # type: ignore[call-arg]
            home=home, anthropic_api_key=None, hybrid_search=hybrid, _env_file=None
        )
        with (
            serve_in_thread(create_app(settings)) as url,
            httpx.Client(base_url=url, timeout=60) as client,
        ):
            client.post("/v1/search", json={"query": "warm up", "top_k": DEPTH}).raise_for_status()
            for split in SPLITS:
                labels = faq.split(split)
                ranks, seconds = ranks_of(faq, labels, client)
                figures[f"{arm} {split}"] = {
                    "questions": len(labels),
                    **scores(ranks),
                    "ms_per_query": round(statistics.median(seconds) * 1000, 1),
                }
    figures["summary"] = ingested.stdout.strip().splitlines()[-1:]
    return figures


def table(results: dict[str, dict[str, object]]) -> str:
    """A Markdown table: one row per set, search arm and split."""
    rows = [
        "| set | search | split | questions | R@1 | R@5 | MRR@10 | ms/query |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, figures in results.items():
        for arm in ARMS:
            for split in SPLITS:
                cell = figures[f"{arm} {split}"]
                assert isinstance(cell, dict)
                rows.append(
                    f"| {name} | {arm} | {split} | {cell['questions']} | {cell['R@1']:.3f} | "
                    f"{cell['R@5']:.3f} | {cell['MRR@10']:.3f} | {cell['ms_per_query']} |"
                )
    return "\n".join(rows)


def run() -> dict[str, object]:
    """Build the FAQ sets, ingest each with `strata ingest`, and search every question."""
    with tempfile.TemporaryDirectory(prefix="strata-bench-retrieval-") as tmp:
        scratch = Path(tmp)
        results = {faq.name: _measure(faq, scratch) for faq in build_all(scratch / "sets")}
    return {**results, "table": table(results)}
