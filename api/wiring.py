"""The one place Strata's long-lived objects are built and closed, for the app and the CLI."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from api.emulator import EmulatorConfig
from api.emulator import create_app as create_emulator
from api.keyring import KeyRing
from api.serving import serve_in_thread
from ingest.jobs import JobRunner
from ingest.pipeline import IngestPipeline
from ingest.sandbox import ParseLimits
from ingest.vision import VisionTranscriber
from rag.agent import Agent
from rag.agent_tools import DocumentTools
from rag.answering import Answerer
from rag.asker import Asker
from rag.batches import Batches
from rag.cache_planner import CachePlanner
from rag.context_sizing import ContextSizing
from rag.embeddings import Embedder, usable_cpus
from rag.ledger import Ledger
from rag.llm import Claude
from rag.models import model_info
from rag.pricing import PriceTable
from rag.retrieval import Retriever
from rag.routing import Router
from rag.semantic_cache import SemanticCache
from rag.settings import Settings
from rag.storage import Database, database_url
from rag.storage.answers import AnswerCache
from rag.storage.batches import BatchStore
from rag.storage.cache_traffic import CacheTraffic
from rag.storage.conversations import ConversationStore
from rag.storage.documents import DocumentRegistry
from rag.storage.jobs import JobStore
from rag.storage.rate_buckets import RateBuckets
from rag.storage.semantic_answers import SemanticStore
from rag.store import ChunkStore, collection_for
from rag.tracing import open_tracing

log = logging.getLogger("strata")

# Longer than any one document takes to index: one left running so long was abandoned.
_ABANDONED_AFTER_SECONDS = 900


@dataclass
class Services:
    """Everything a request or a command may use, built once per process."""

    settings: Settings
    keys: KeyRing
    embedder: Embedder
    store: ChunkStore
    registry: DocumentRegistry
    ledger: Ledger
    pipeline: IngestPipeline
    jobs: JobRunner
    claude: Claude
    retriever: Retriever
    answerer: Answerer
    asker: Asker
    agent: Agent
    batches: Batches
    # None when requests per key are not limited (STRATA_RATE_LIMIT_PER_MINUTE=0).
    rate_buckets: RateBuckets | None = None

    def readiness(self) -> dict[str, bool]:
        """Which parts are ready to serve; /readyz answers 503 unless all are."""
        return {
            "settings": True,
            "embedder": self.embedder.ready,
            "store": self.store.ping(),
            "registry": self.registry.ping(),
            "jobs": self.jobs.ready,
            "ledger": self.ledger.healthy,
        }


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """Build the services for settings, yield them, and close them in reverse order."""
    settings.home.mkdir(parents=True, exist_ok=True)
    async with AsyncExitStack() as stack:
        # Loaded before serving, so /readyz turns true only once the model can embed.
        embedder = Embedder(
            settings.embedding_model_path,
            settings.embedding_batch_size,
            precision=settings.embedding_precision,
            onnx_dir=settings.model_cache_dir,
        )
        await asyncio.to_thread(embedder.load)
        database = await asyncio.to_thread(
            Database.open, database_url(settings.home, settings.database_url)
        )
        stack.callback(database.close)
        keys = await asyncio.to_thread(KeyRing.open, database, settings.api_keys)
        collection = collection_for(embedder.vector_space)
        store = ChunkStore.open(settings.home, settings.chroma_url, collection)
        stack.callback(store.close)
        registry = DocumentRegistry(database)
        pipeline = IngestPipeline(
            embedder,
            store,
            registry,
            max_file_bytes=settings.max_upload_bytes,
            max_unpacked_bytes=settings.max_unpacked_bytes,
            group_chunks=4 * settings.embedding_batch_size,
            parse_limits=ParseLimits(settings.parse_memory_bytes, settings.parse_timeout_seconds),
            # `strata ingest` parses a folder's files at once, one per processor it may use.
            parse_workers=usable_cpus(),
        )
        # Heal what a killed process left: half-indexed documents fail, queued purges run.
        # On PostgreSQL other replicas may be indexing right now: only long-idle ones fail.
        idle_seconds = _ABANDONED_AFTER_SECONDS if database.is_postgresql else 0
        await asyncio.to_thread(pipeline.recover, idle_seconds)
        # Another embedder's vectors, or those of an earlier form of embedded text, live in
        # their own collection; after a switch or an upgrade, re-embed.
        others = await asyncio.to_thread(store.others)
        if others:
            await asyncio.to_thread(pipeline.reconcile, others)
        # One table for the ledger and the answers, so both price a call the same way.
        prices = PriceTable.configured(settings.price_overrides)
        ledger = Ledger(database, prices)
        # Closing flushes: calls recorded as the process stops are still written.
        stack.push_async_callback(asyncio.to_thread, ledger.close)
        # Off (a no-op) unless STRATA_OTLP_ENDPOINT is set; shut down last, so it exports all.
        tracing = open_tracing(settings.otlp_endpoint)
        stack.callback(tracing.shutdown)
        claude = _open_claude(settings, stack)
        stack.push_async_callback(claude.aclose)
        # Ingestion (a worker thread) transcribes images through this loop's Claude client.
        pipeline.vision = VisionTranscriber(
            claude,
            ledger,
            settings.vision_model or settings.model,
            asyncio.get_running_loop(),
            settings.max_vision_pages,
            tracing,
        )
        # Started after Claude and the ledger, so stopped before them: upload jobs use both.
        jobs = JobRunner(
            pipeline,
            JobStore(database, settings.job_lease_seconds),
            settings.home,
            settings.max_unpacked_bytes,
            workers=settings.ingest_workers,
            lease_seconds=settings.job_lease_seconds,
            orphan_seconds=settings.upload_orphan_seconds,
        )
        await jobs.start()
        stack.push_async_callback(jobs.close)
        retriever = Retriever(
            embedder,
            store,
            registry.corpus_version,
            hybrid=settings.hybrid_search,
            lexical_weight=settings.hybrid_lexical_weight,
            context_token_budget=settings.context_token_budget,
            tracing=tracing,
            outside_corpus=registry.outside_corpus,
            vector_space=collection,
        )
        conversations = ConversationStore(database)
        answer_cache = AnswerCache(database, max_entries=settings.answer_cache_max_entries)
        planner = CachePlanner(settings.cache_policy, prices, CacheTraffic(database))
        answerer = Answerer(
            retriever=retriever,
            claude=claude,
            conversations=conversations,
            answer_cache=answer_cache,
            ledger=ledger,
            prices=prices,
            corpus_version=registry.corpus_version,
            planner=planner,
            default_model=settings.model,
            default_top_k=settings.top_k,
            max_answer_tokens=settings.max_answer_tokens,
            history_token_budget=settings.history_token_budget,
            context_sizing=ContextSizing(
                settings.context_score_margin, settings.context_token_budget
            ),
            tracing=tracing,
            semantic_cache=(
                SemanticCache(SemanticStore(database), embedder)
                if settings.semantic_cache == "on"
                else None
            ),
            semantic_audit_rate=settings.semantic_cache_audit_rate,
        )
        # Stopped before the ledger closes: an audit's row is written to it.
        stack.push_async_callback(answerer.close_audits)
        router = None
        if settings.routing:
            router = Router(claude, ledger, model_info(settings.fast_model), planner, tracing)
        asker = Asker(answerer, settings.max_answer_tokens_limit, router)
        agent_tools = DocumentTools(
            retriever,
            store.chunks_of,
            default_top_k=settings.top_k,
            max_top_k=settings.max_top_k,
            document_token_budget=settings.context_token_budget,
            tracing=tracing,
        )
        agent = Agent(
            asker,
            agent_tools,
            default_max_iterations=settings.agent_max_iterations,
            max_iterations_limit=settings.agent_max_iterations_limit,
            max_tool_calls=settings.agent_max_tool_calls,
            context_token_budget=settings.agent_context_token_budget,
        )
        batch_store = BatchStore(database)
        batches = Batches(
            retriever=retriever,
            claude=claude,
            store=batch_store,
            ledger=ledger,
            prices=prices,
            planner=planner,
            default_model=settings.model,
            default_top_k=settings.top_k,
            max_answer_tokens=settings.max_answer_tokens,
            max_questions=settings.max_batch_questions,
            max_in_flight_per_key=settings.max_batch_questions_in_flight,
            tracing=tracing,
        )
        # Entered last, so it stops first: no collection runs while the ledger closes.
        await stack.enter_async_context(batches.polling(settings.batch_poll_seconds))
        yield Services(
            settings=settings,
            keys=keys,
            embedder=embedder,
            store=store,
            registry=registry,
            ledger=ledger,
            pipeline=pipeline,
            jobs=jobs,
            claude=claude,
            retriever=retriever,
            answerer=answerer,
            asker=asker,
            agent=agent,
            batches=batches,
            rate_buckets=(
                RateBuckets(database, settings.rate_limit_per_minute)
                if settings.rate_limit_per_minute
                else None
            ),
        )


def _open_claude(settings: Settings, stack: AsyncExitStack) -> Claude:
    """The Claude client; with no key and no base URL, pointed at an in-process emulator."""
    base_url = settings.anthropic_base_url
    if settings.offline and base_url is None:
        base_url = stack.enter_context(serve_in_thread(create_emulator(EmulatorConfig())))
        log.warning(
            "OFFLINE MODE: no ANTHROPIC_API_KEY is set, so answers come from the bundled "
            "Claude emulator at %s. They are extractive (sentences picked from your documents), "
            "not written by Claude. Set ANTHROPIC_API_KEY to use the real API.",
            base_url,
        )
    key = settings.anthropic_api_key
    return Claude(
        key.get_secret_value() if key is not None else "offline-emulator",
        base_url,
        max_attempts=settings.claude_max_attempts,
        max_wait_seconds=settings.claude_max_retry_wait_seconds,
    )
