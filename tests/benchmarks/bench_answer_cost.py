"""Cost per answer against the stock LangChain and LlamaIndex RAG chains, grounding alongside.

Strata (its defaults) and four peer arms (LangChain's RAG tutorial chain with the
history-aware retriever for conversations; LlamaIndex's `as_query_engine` and
`as_chat_engine(chat_mode="condense_plus_context")`; each with and without the prompt caching
its documentation describes for Claude) answer the same labelled workloads over the Debian FAQ
(tests/benchmarks/faq_sets.py and faq_workloads.py), all through one recording proxy in front
of one emulator. Strata ingests the set's HTML chapters; the peers read the same chapters as
plain text, as their loaders would.
Every call is priced by Strata's price table at the model it named (the peers ask for
claude-sonnet-5-5, Strata's default). Grounding is the share of answers whose final request
held part of the answering section (FaqSet.answers; for an answer-cache hit: the chunks its
stored answer came from).

The peers are not Strata dependencies: they are installed into `.bench/peers-venv` (git-ignored)
from tests/benchmarks/peers/requirements.txt, reusing this environment's torch and
sentence-transformers for the bundled all-MiniLM-L6-v2, so every arm retrieves with the same
embedding model. The figure of merit is Strata's cost over the cheaper arm of each library,
per workload (target <= 0.5), with grounding at least theirs.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections import defaultdict
from contextlib import aclosing
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import httpx

from api.emulator.app import create_app as create_emulator
from api.serving import serve_in_thread
from api.wiring import open_services
from rag.answering import AskOptions, Done, Retrieved
from rag.context_sizing import sized_context
from rag.pricing import default_price_table
from rag.settings import Settings
from rag.tokens import estimate_text_tokens
from tests.benchmarks.faq_sets import FaqSet, debian_faq
from tests.benchmarks.faq_workloads import LabelledAsk, mix, two_turn
from tests.benchmarks.recording_proxy import Recorder, recording_proxy, request_text

ROOT = Path(__file__).resolve().parents[2]
PEERS = Path(__file__).resolve().parent / "peers"
PEERS_VENV = ROOT / ".bench" / "peers-venv"
TARGET = 0.5


def peers_python() -> Path:
    """The peers' interpreter, installing (or refreshing) their venv when requirements change."""
    requirements = PEERS / "requirements.txt"
    stamp = PEERS_VENV / ".requirements-sha256"
    wanted = hashlib.sha256(requirements.read_bytes()).hexdigest()
    python = PEERS_VENV / "bin" / "python"
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(PEERS_VENV)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "-r", str(requirements)], check=True
    )
    # torch, sentence-transformers and the bundled model come from this environment, after
    # the peers' own packages: one copy of the embedding stack, the same model for every arm.
    peer_site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    Path(peer_site, "strata-embedding-stack.pth").write_text(sysconfig.get_paths()["purelib"])
    stamp.write_text(wanted)
    return python


def _settings(home: Path, proxy_url: str | None, api_key: str | None) -> Settings:
    return Settings(  # type: ignore[call-arg]
        home=home,
        anthropic_api_key=api_key,
        anthropic_base_url=proxy_url,
        _env_file=None,
    )


async def _ingest(home: Path, corpus: Path) -> None:
    async with open_services(_settings(home, None, None)) as services:
        await asyncio.to_thread(services.pipeline.ingest_files, [corpus])


SIZING_MARGINS = (0.0, 0.02, 0.05, 0.08, 0.12, 0.2, 2.0)


async def sizing_curve(home: Path, faq: FaqSet) -> dict[str, object]:
    """Grounding against context tokens as the score margin grows (2.0 keeps all of top_k).

    Every FAQ question is retrieved once (no Claude call); each margin's context is cut from
    the same top_k candidates. The default margin should sit at the knee of this curve.
    """
    questions = faq.labels
    curve: dict[str, object] = {}
    async with open_services(_settings(home, None, None)) as services:
        found = [
            await services.retriever.retrieve(label.question, services.settings.top_k)
            for label in questions
        ]
        for margin in SIZING_MARGINS:
            sizing = replace(services.answerer.context_sizing, score_margin=margin)
            held = tokens = 0
            for label, results in zip(questions, found, strict=True):
                context = sized_context(results, sizing)
                held += faq.answers(label, "\n".join(r.chunk.text for r in context))
                tokens += sum(estimate_text_tokens(r.chunk.text) for r in context)
            curve[f"margin_{margin}"] = {
                "grounding": round(held / len(questions), 3),
                "context_tokens": round(tokens / len(questions)),
            }
    return curve


async def _run_strata(
    home: Path, proxy_url: str, api_key: str, asks: list[LabelledAsk]
) -> dict[int, str]:
    """Answer asks with Strata; returns, per ask, the text of the chunks its answer came from."""
    contexts: dict[int, str] = {}
    async with (
        open_services(_settings(home, proxy_url, api_key)) as services,
        httpx.AsyncClient(base_url=proxy_url, headers={"x-api-key": api_key}) as control,
    ):
        texts = {c.chunk_id: c.text for c in await asyncio.to_thread(services.store.all_chunks)}
        conversations: dict[int, str] = {}
        for index, ask in enumerate(asks):
            (await control.post("/_bench/ask", json={"ask": index})).raise_for_status()
            options = AskOptions(conversation_id=conversations.get(ask.session), stream=False)
            async with aclosing(services.answerer.ask(ask.question, options)) as events:
                async for event in events:
                    if isinstance(event, Retrieved):
                        contexts[index] = "\n".join(texts[s.chunk_id] for s in event.sources)
                    elif isinstance(event, Done):
                        conversations[ask.session] = event.conversation_id
    return contexts


def _run_peer(python: Path, library: str, corpus: Path, jobs_file: Path, proxy_url: str) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", ""),
        "ANTHROPIC_BASE_URL": proxy_url,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    subprocess.run(
        [str(python), str(PEERS / "run_peer.py"), library, str(corpus), str(jobs_file)],
        check=True,
        env=env,
        cwd=jobs_file.parent,
    )


def figures(
    recorder: Recorder,
    key: str,
    asks: list[LabelledAsk],
    faq: FaqSet,
    fallback: dict[int, str] | None = None,
) -> dict[str, object]:
    """Cost, tokens and grounding of one arm on one workload, overall and per kind of ask."""
    prices = default_price_table()
    calls = recorder.of_key(key)
    failed = [c for c in calls if c.status >= 400]
    if failed:
        raise RuntimeError(f"{key}: {len(failed)} calls failed, first status {failed[0].status}")
    last_call: dict[int, str] = {}
    cost_by_ask: dict[int, Decimal] = defaultdict(Decimal)
    tokens = {"input": 0, "cache_write": 0, "cache_read": 0, "output": 0}
    for call in calls:
        cost = prices.cost_of(call.model, call.usage).cost_usd
        if cost is None:
            raise RuntimeError(f"{call.model} is not priced")
        if call.ask is not None:
            cost_by_ask[call.ask] += cost
            last_call[call.ask] = request_text(call.body)
        tokens["input"] += call.usage.input_tokens
        tokens["cache_write"] += call.usage.cache_creation_input_tokens
        tokens["cache_read"] += call.usage.cache_read_input_tokens
        tokens["output"] += call.usage.output_tokens
    labels = {label.section: label for label in faq.labels}
    held = {
        index: faq.answers(
            labels[ask.section], last_call.get(index) or (fallback or {}).get(index, "")
        )
        for index, ask in enumerate(asks)
    }
    by_kind: dict[str, dict[str, object]] = {}
    for kind in sorted({ask.kind for ask in asks}):
        members = [i for i, ask in enumerate(asks) if ask.kind == kind]
        by_kind[kind] = {
            "asks": len(members),
            "cost_usd": round(float(sum(cost_by_ask[i] for i in members)), 6),
            "grounding": round(sum(held[i] for i in members) / len(members), 3),
        }
    return {
        "cost_usd": round(float(sum(cost_by_ask.values())), 6),
        "calls": len(calls),
        "tokens": tokens,
        "grounding": round(sum(held.values()) / len(asks), 3),
        "by_kind": by_kind,
    }


async def measure() -> dict[str, object]:
    python = peers_python()
    with tempfile.TemporaryDirectory(prefix="strata-bench-answer-cost-") as tmp:
        work = Path(tmp)
        faq = debian_faq(work / "debian-faq")
        workloads = {"mix": mix(faq.labels), "two_turn": two_turn(faq.labels)}
        results: dict[str, object] = {"questions": len(faq.labels)}
        corpus = as_plain_text(faq, work / "debian-faq-text")
        ingested = work / "ingested"
        await _ingest(ingested, faq.folder)
        shutil.copytree(ingested, work / "sizing")
        results["sizing"] = await sizing_curve(work / "sizing", faq)
        with (
            serve_in_thread(create_emulator()) as emulator_url,
            recording_proxy(emulator_url) as (proxy_url, recorder),
        ):
            arms: dict[str, dict[str, dict[str, object]]] = {name: {} for name in workloads}
            for name, asks in workloads.items():
                key = f"sk-bench-strata-{name}"
                home = work / f"strata-{name}"
                shutil.copytree(ingested, home)
                contexts = await _run_strata(home, proxy_url, key, asks)
                arms[name]["strata"] = figures(recorder, key, asks, faq, contexts)
                _progress(f"strata {name}", arms[name]["strata"])
            for library in ("langchain", "llamaindex"):
                jobs = [
                    {
                        "caching": caching,
                        "api_key": f"sk-bench-{library}-{caching}-{name}",
                        "asks": [ask.as_json() for ask in asks],
                    }
                    for name, asks in workloads.items()
                    for caching in ("uncached", "cached")
                ]
                jobs_file = work / f"{library}-jobs.json"
                jobs_file.write_text(json.dumps(jobs))
                await asyncio.to_thread(_run_peer, python, library, corpus, jobs_file, proxy_url)
                for name, asks in workloads.items():
                    for caching in ("uncached", "cached"):
                        key = f"sk-bench-{library}-{caching}-{name}"
                        arms[name][f"{library}_{caching}"] = figures(recorder, key, asks, faq)
                        _progress(f"{library} {caching} {name}", arms[name][f"{library}_{caching}"])
            for name, asks in workloads.items():
                results[name] = {"asks": len(asks), "arms": arms[name], **_ratios(arms[name])}
    results["target"] = f"strata / cheaper arm of each library <= {TARGET}, grounding >= theirs"
    return results


_BLOCK_END = re.compile(r"</(p|h[1-6]|li|dt|dd|pre|div|tr)>|<br\s*/?>", re.I)
_TAG = re.compile(r"<[^>]+>")
_HEAD = re.compile(r"<(head|style|script)\b.*?</\1>", re.I | re.S)


def as_plain_text(faq: FaqSet, folder: Path) -> Path:
    """The set's chapters as plain-text files (paragraphs kept), for the peers' loaders."""
    folder.mkdir(parents=True, exist_ok=True)
    for page in faq.documents():
        marked = _BLOCK_END.sub("\n\n", _HEAD.sub("", page.read_text(encoding="utf-8")))
        text = html.unescape(_TAG.sub(" ", marked))
        paragraphs = (" ".join(p.split()) for p in text.split("\n\n"))
        body = "\n\n".join(p for p in paragraphs if p)
        (folder / f"{page.stem}.txt").write_text(body + "\n", encoding="utf-8")
    return folder


def _progress(arm: str, figures_: dict[str, object]) -> None:
    print(
        f"{arm}: ${figures_['cost_usd']} grounding {figures_['grounding']}",
        file=sys.stderr,
        flush=True,
    )


def _ratios(arms: dict[str, dict[str, object]]) -> dict[str, object]:
    strata = arms["strata"]
    ratios: dict[str, object] = {}
    for library in ("langchain", "llamaindex"):
        cheaper = min(
            (f"{library}_{caching}" for caching in ("cached", "uncached")),
            key=lambda arm: float(arms[arm]["cost_usd"]),  # type: ignore[arg-type]
        )
        ratio = float(strata["cost_usd"]) / float(arms[cheaper]["cost_usd"])  # type: ignore[arg-type]
        ratios[f"vs_{library}"] = round(ratio, 3)
        ratios[f"vs_{library}_arm"] = cheaper
        ratios[f"grounding_vs_{library}"] = f"{strata['grounding']} vs {arms[cheaper]['grounding']}"
    return ratios


def table(results: dict[str, object]) -> str:
    """The README's Markdown table: cost and grounding per arm and workload."""
    lines = [
        "| workload | arm | cost (USD) | input | cache write | cache read | output | grounding |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in ("mix", "two_turn"):
        workload = results[name]
        assert isinstance(workload, dict)
        for arm, figures_ in workload["arms"].items():
            t = figures_["tokens"]
            lines.append(
                f"| {name} | {arm} | {figures_['cost_usd']:.4f} | {t['input']} | "
                f"{t['cache_write']} | {t['cache_read']} | {t['output']} | "
                f"{figures_['grounding']:.2f} |"
            )
    return "\n".join(lines)


def run() -> dict[str, object]:
    """Run every arm on both workloads; the ratios against each library are the figures."""
    results = asyncio.run(measure())
    print(table(results), file=sys.stderr)
    return results
