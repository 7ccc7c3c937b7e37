"""Is the int8 embedder worth switching to? Whole `strata ingest` runs and retrieval, per precision.

For each set of faq_sets.py, `strata ingest` runs as its own process into a fresh home with
STRATA_EMBEDDING_PRECISION=fp32, then with int8; then the app, with its default search, asks
every question of each store. The int8 model is exported once beforehand and copied into each
int8 home, so the one-off export (timed apart) is not counted as ingestion. The bar int8 must
clear to be the default: ingestion at least SPEEDUP_TARGET times as fast as fp32 on every set,
with at most R5_LOSS_LIMIT of R@5 lost on every set and split. Figures are from one run.
"""

from __future__ import annotations

import resource
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import httpx

from api.app import create_app
from api.serving import serve_in_thread
from rag.embeddings import Embedder
from rag.settings import Settings
from tests.benchmarks.bench_retrieval import DEPTH, INGEST_TIMEOUT_S, ranks_of, scores
from tests.benchmarks.faq_sets import SPLITS, FaqSet, build_all
from tests.processes import run_strata

Precision = Literal["fp32", "int8"]
PRECISIONS: tuple[Precision, ...] = ("fp32", "int8")
SPEEDUP_TARGET = 1.5
R5_LOSS_LIMIT = 0.01


def _children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(frozen=True, slots=True)
class _Arm:
    """One precision on one set: its whole `strata ingest` run, then scores per split."""

    ingest_s: float
    ingest_cpu_s: float
    splits: dict[str, dict[str, float]]


def _ingest(faq: FaqSet, home: Path, precision: Precision, models: Path) -> tuple[float, float]:
    """Wall and CPU seconds of one `strata ingest` process of the set's folder."""
    cpu_started, started = _children_cpu_seconds(), time.perf_counter()
    done = run_strata(
        "ingest",
        str(faq.folder),
        home=home,
        settings={"STRATA_EMBEDDING_PRECISION": precision, "STRATA_MODEL_CACHE_DIR": str(models)},
        timeout=INGEST_TIMEOUT_S,
    )
    seconds, cpu = time.perf_counter() - started, _children_cpu_seconds() - cpu_started
    if done.returncode != 0:
        raise RuntimeError(f"strata ingest ({precision}) failed: {done.stderr[-2000:]}")
    return round(seconds, 1), round(cpu, 1)


def _searched(
    faq: FaqSet, home: Path, precision: Precision, models: Path
) -> dict[str, dict[str, float]]:
    settings = Settings(  # type: ignore[call-arg]
        home=home,
        anthropic_api_key=None,
        embedding_precision=precision,
        model_cache_dir=models,
        _env_file=None,
    )
    with (
        serve_in_thread(create_app(settings)) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        client.post("/v1/search", json={"query": "warm up", "top_k": DEPTH}).raise_for_status()
        return {split: scores(ranks_of(faq, faq.split(split), client)[0]) for split in SPLITS}


def _verdict(results: dict[str, dict[Precision, _Arm]]) -> dict[str, object]:
    speedups = {
        name: round(arms["fp32"].ingest_s / arms["int8"].ingest_s, 2)
        for name, arms in results.items()
    }
    losses = {
        f"{name} {split}": round(
            arms["fp32"].splits[split]["R@5"] - arms["int8"].splits[split]["R@5"], 3
        )
        for name, arms in results.items()
        for split in SPLITS
    }
    return {
        "ingest_speedup": speedups,
        "r5_lost": losses,
        "int8_clears_the_bar": min(speedups.values()) >= SPEEDUP_TARGET
        and max(losses.values()) <= R5_LOSS_LIMIT,
    }


def table(results: dict[str, dict[Precision, _Arm]]) -> str:
    """A Markdown table: one row per set and precision."""
    rows = [
        "| set | precision | ingest s | ingest CPU s | R@5 tune | R@5 held-out "
        "| MRR@10 tune | MRR@10 held-out |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, arms in results.items():
        for precision, arm in arms.items():
            tune, held = arm.splits["tune"], arm.splits["held-out"]
            rows.append(
                f"| {name} | {precision} | {arm.ingest_s} | {arm.ingest_cpu_s} | "
                f"{tune['R@5']:.3f} | {held['R@5']:.3f} | {tune['MRR@10']:.3f} | "
                f"{held['MRR@10']:.3f} |"
            )
    return "\n".join(rows)


def run() -> dict[str, object]:
    """Ingest every FAQ set once per precision, search each store, and compare."""
    with tempfile.TemporaryDirectory(prefix="strata-bench-precision-") as tmp:
        scratch = Path(tmp)
        models = scratch / "models"
        started = time.perf_counter()
        Embedder(precision="int8", onnx_dir=models).load()
        export_s = round(time.perf_counter() - started, 1)
        Embedder(onnx_dir=models).load()  # fp32's query export, kept out of its ingest time
        results: dict[str, dict[Precision, _Arm]] = {}
        for faq in build_all(scratch / "sets"):
            results[faq.name] = {}
            for precision in PRECISIONS:
                home = scratch / f"{faq.name}-{precision}"
                seconds, cpu = _ingest(faq, home, precision, models)
                arm = _Arm(seconds, cpu, _searched(faq, home, precision, models))
                results[faq.name][precision] = arm
    return {
        "int8_export_s": export_s,
        **{name: {p: asdict(arm) for p, arm in arms.items()} for name, arms in results.items()},
        **_verdict(results),
        "table": table(results),
    }
