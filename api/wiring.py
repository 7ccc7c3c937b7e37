"""The one place Strata's long-lived objects are built and closed, for the app and the CLI."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from ingest.jobs import JobRunner
from ingest.pipeline import IngestPipeline
from rag.documents import DocumentRegistry
from rag.embeddings import Embedder
from rag.ledger import Ledger, database_url
from rag.settings import Settings
from rag.store import ChunkStore

log = logging.getLogger("strata")


@dataclass
class Services:
    """Everything a request or a command may use, built once per process."""

    settings: Settings
    embedder: Embedder
    store: ChunkStore
    registry: DocumentRegistry
    ledger: Ledger
    pipeline: IngestPipeline
    jobs: JobRunner

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
        embedder = Embedder(settings.embedding_model_path, settings.embedding_batch_size)
        await asyncio.to_thread(embedder.load)
        store = ChunkStore.open(settings.home, settings.chroma_url)
        stack.callback(store.close)
        registry = DocumentRegistry.open(settings.home)
        stack.callback(registry.close)
        pipeline = IngestPipeline(
            embedder,
            store,
            registry,
            max_file_bytes=settings.max_upload_bytes,
            max_unpacked_bytes=settings.max_unpacked_bytes,
            group_chunks=4 * settings.embedding_batch_size,
        )
        # Heal what a killed process left: half-indexed documents fail, queued purges run.
        await asyncio.to_thread(pipeline.recover)
        jobs = JobRunner(pipeline, settings.home, settings.max_unpacked_bytes)
        await jobs.start()
        stack.push_async_callback(jobs.close)
        ledger = await asyncio.to_thread(
            Ledger.open, database_url(settings.home, settings.database_url)
        )
        # Closing flushes: calls recorded as the process stops are still written.
        stack.push_async_callback(asyncio.to_thread, ledger.close)
        yield Services(
            settings=settings,
            embedder=embedder,
            store=store,
            registry=registry,
            ledger=ledger,
            pipeline=pipeline,
            jobs=jobs,
        )
