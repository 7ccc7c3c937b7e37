"""Files in, chunks embedded into the store: hash, skip unchanged, chunk, embed, upsert, commit.

Crash safety comes from the order of writes. A document is registered as `running`, its chunks
are upserted (ids are deterministic, so a retry overwrites rather than duplicates), and only
then is it marked `done` - in the same transaction that retires the older version of its source.
Chunks that must go (retired, deleted, failed) are queued in the registry before they are
deleted from the store. `recover()` turns what a killed process left `running` into `failed`
and finishes queued purges, so each document ends fully indexed or absent.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ingest.chunking import chunk_document
from ingest.files import (
    FileOutcome,
    IngestReport,
    Outcome,
    collect_files,
    document_id_of,
    source_name,
)
from ingest.loaders import load_document
from ingest.sandbox import ParseLimits, load_isolated
from ingest.vision import VisionTranscriber
from rag.embeddings import Embedder, Vectors
from rag.errors import DocumentTooLarge, InvalidInput, UpstreamError
from rag.storage.documents import DocumentRecord, DocumentRegistry
from rag.store import ChunkStore
from rag.types import Chunk, Document

log = logging.getLogger("strata.ingest")

INTERRUPTED = "interrupted: the process ingesting it stopped before it finished"

# A file parsed ahead: its Document, None (indexed already), or why it cannot be read.
_Parsed = Document | None | InvalidInput | UpstreamError | OSError


@dataclass(frozen=True, slots=True)
class _Prepared:
    document: Document
    chunks: list[Chunk]
    outcome: Outcome
    index: int = 0


class IngestPipeline:
    """Load, chunk, embed and store documents; the only writer of the store and the registry."""

    def __init__(
        self,
        embedder: Embedder,
        store: ChunkStore,
        registry: DocumentRegistry,
        *,
        max_file_bytes: int,
        max_unpacked_bytes: int,
        group_chunks: int = 256,
        vision: VisionTranscriber | None = None,
        parse_limits: ParseLimits | None = None,
        parse_workers: int = 1,
    ) -> None:
        self.embedder = embedder
        self.store = store
        self.registry = registry
        self.max_file_bytes = max_file_bytes
        self.max_unpacked_bytes = max_unpacked_bytes
        # Documents are embedded together until this many chunks wait, so small documents
        # still fill the encoder's batches.
        self.group_chunks = group_chunks
        # Transcribes images and text-less PDF pages; without it images are refused.
        self.vision = vision
        # PDF and DOCX are parsed in a child process under these; None: in this process.
        self.parse_limits = parse_limits
        # Files of one ingest_files call parsed at once, ahead of the embedding.
        self.parse_workers = parse_workers
        self._lock = threading.Lock()

    def recover(self, idle_seconds: float = 0) -> None:
        """Finish what a killed process left: unfinished documents fail, queued purges run.

        A document counts as left by a killed process once untouched for idle_seconds.
        """
        with self._lock:
            for document_id in self.registry.unfinished(idle_seconds):
                log.warning("document %s was left unfinished; marking it failed", document_id)
                self.registry.fail(document_id, INTERRUPTED)
            for document_id in self.registry.pending_purges():
                self._purge(document_id)

    def reconcile(self, others: Sequence[ChunkStore]) -> int:
        """Bring the store in line with the registry after a switch of embedder.

        Another embedder's collection (others) holds the chunks of documents indexed while it
        was in use: those missing here are re-embedded with this embedder and written; chunks
        here of documents since removed or failed are deleted. Then the collections of an
        earlier form of embedded text, all migrated, are dropped (so later starts do not read
        every chunk's metadata again), unless a document is being indexed: a process of the
        earlier release may be writing it there. Returns the chunks re-embedded.
        """
        with self._lock:
            records = self.registry.documents()
            done = {r.document_id for r in records if r.status == "done"}
            # Another replica may be writing these right now; recover() deals with abandoned ones.
            indexing = {r.document_id for r in records if r.status in ("queued", "running")}
            present = self.store.document_ids()
            for document_id in present - done - indexing:
                self.store.delete_document(document_id)
            written = 0
            for document_id in sorted(done - present):
                chunks = next((c for o in others if (c := o.chunks_of(document_id))), [])
                if chunks:
                    self.store.upsert(chunks, self._embed(chunks))
                    written += len(chunks)
            if written:
                log.info(
                    "re-embedded %d chunks for the embedder %s", written, self.embedder.model_id
                )
            if not indexing:
                for other in others:
                    if other.obsolete:
                        log.info("dropping %s, vectors of an earlier embedded text", other.name)
                        other.drop()
            return written

    def delete_document(self, document_id: str) -> int:
        """Remove a document and every chunk of it; returns the chunks removed."""
        with self._lock:
            self.registry.remove(document_id)
            return self._purge(document_id)

    def ingest_files(
        self, paths: Sequence[Path], on_file: Callable[[FileOutcome], None] | None = None
    ) -> IngestReport:
        """Ingest files and folders; on_file hears each file's outcome as it is known.

        Files are parsed ahead, parse_workers at a time (PDF and Word files each in a child
        process, so they parse in parallel), while chunking, embedding and writing stay in this
        thread, in order: each document is registered once, as before.
        """
        items = [(path, source_name(path), None) for path in collect_files(paths)]
        pool = ThreadPoolExecutor(self.parse_workers, thread_name_prefix="strata-parse")
        try:
            parsed = _in_order(pool, self._parse_ahead, items, window=2 * self.parse_workers)
            return self._ingest(items, on_file, parsed)
        finally:
            pool.shutdown(cancel_futures=True)

    def ingest_file(self, path: Path, source: str, declared_type: str | None = None) -> FileOutcome:
        """Ingest one file under the given source name (an upload's sanitised file name).

        The file is parsed before the pipeline's lock is taken, so several upload jobs parse
        at once and a file slow to parse holds up no other.
        """
        parsed = self._parse_ahead((path, source, declared_type))
        if isinstance(parsed, Exception):
            return FileOutcome(source, "failed", error=str(parsed))
        return self._ingest([(path, source, declared_type)], None, iter([parsed])).files[0]

    def _parse_ahead(self, item: tuple[Path, str, str | None]) -> _Parsed:
        """The file parsed before the lock is taken, or the error that makes it fail."""
        try:
            return self._parse_new(*item)
        except (InvalidInput, UpstreamError, OSError) as exc:
            return exc

    def _parse_new(self, path: Path, source: str, declared_type: str | None) -> Document | None:
        """The file parsed, unless its bytes are indexed already (None: nothing to parse)."""
        data = self._read(path)
        record = self.registry.get(document_id_of(data))
        if record is not None and record.status == "done":
            return None
        return self._load(data, source, declared_type)

    def _read(self, path: Path) -> bytes:
        size = path.stat().st_size
        if size > self.max_file_bytes:
            raise DocumentTooLarge(
                f"{path.name} is {size:,} bytes, over the {self.max_file_bytes:,}-byte limit"
            )
        return path.read_bytes()

    def _load(self, data: bytes, source: str, declared_type: str | None) -> Document:
        if self.parse_limits is None:
            return load_document(data, source, declared_type, self.max_unpacked_bytes, self.vision)
        return load_isolated(
            data, source, declared_type, self.max_unpacked_bytes, self.vision, self.parse_limits
        )

    def _ingest(
        self,
        items: Iterable[tuple[Path, str, str | None]],
        on_file: Callable[[FileOutcome], None] | None,
        parsed: Iterator[_Parsed],
    ) -> IngestReport:
        """Register, chunk, embed and store items; parsed yields each item's parse, in order."""
        started = time.perf_counter()
        outcomes: list[tuple[int, FileOutcome]] = []

        def note(index: int, outcome: FileOutcome) -> None:
            outcomes.append((index, outcome))
            if on_file is not None:
                on_file(outcome)

        with self._lock:
            group: list[_Prepared] = []
            seen: set[str] = set()
            for index, (path, source, declared_type) in enumerate(items):
                ahead = next(parsed)
                try:
                    if isinstance(ahead, Exception):
                        raise ahead
                    prepared = self._prepare(path, source, declared_type, seen, ahead)
                except (InvalidInput, UpstreamError, OSError) as exc:
                    # A file that cannot be read, or whose transcription Claude refused or
                    # could not give, fails alone; the others go on.
                    note(index, FileOutcome(source, "failed", error=str(exc)))
                    continue
                if isinstance(prepared, FileOutcome):
                    note(index, prepared)
                    continue
                group.append(replace(prepared, index=index))
                if sum(len(p.chunks) for p in group) >= self.group_chunks:
                    self._commit(group, note)
                    group = []
            self._commit(group, note)
        files = [outcome for _, outcome in sorted(outcomes, key=lambda pair: pair[0])]
        return IngestReport(files, time.perf_counter() - started)

    def _prepare(
        self,
        path: Path,
        source: str,
        declared_type: str | None,
        seen: set[str],
        parsed: Document | None = None,
    ) -> _Prepared | FileOutcome:
        """The file's chunks, ready to embed, or its outcome if it is unchanged.

        parsed is the file's Document when it was parsed already (before the lock).
        """
        data = self._read(path)
        size = len(data)
        document_id = document_id_of(data)
        record = self.registry.get(document_id)
        if document_id in seen or (record is not None and record.status == "done"):
            # The same bytes (maybe under another name) are indexed, or are in this run.
            known = record.chunk_count if record is not None else 0
            return FileOutcome(source, "unchanged", document_id, known)
        seen.add(document_id)
        if parsed is not None and parsed.document_id != document_id:
            parsed = None  # the file changed since it was parsed
        document = parsed or self._load(data, source, declared_type)
        chunks = chunk_document(document, self.embedder)
        replaces = any(r.source == source and r.status == "done" for r in self.registry.documents())
        if record is not None:
            self._purge(document.document_id)  # leftovers of an attempt that failed
        self.registry.start(
            document.document_id,
            source=source,
            title=document.title,
            media_type=document.media_type,
            content_hash=document.content_hash,
            size_bytes=size,
        )
        return _Prepared(document, chunks, "updated" if replaces else "added")

    def _commit(self, group: list[_Prepared], note: Callable[[int, FileOutcome], None]) -> None:
        if not group:
            return
        try:
            vectors = self._embed([c for p in group for c in p.chunks])
        except BaseException as exc:
            for prepared in group:
                self._fail(prepared.document.document_id, f"embedding failed: {exc}")
            raise
        offset = 0
        for prepared in group:
            document_id = prepared.document.document_id
            count = len(prepared.chunks)
            try:
                self.store.upsert(prepared.chunks, vectors[offset : offset + count])
                retired = self.registry.finish(document_id, count)
            except BaseException as exc:
                self._fail(document_id, f"storing failed: {exc}")
                raise
            offset += count
            for old in retired:
                self._purge(old)
            outcome = FileOutcome(prepared.document.source, prepared.outcome, document_id, count)
            note(prepared.index, outcome)

    def _embed(self, chunks: Sequence[Chunk]) -> Vectors:
        """Vectors for chunks, from the embedding cache where possible."""
        keys = [self.embedder.cache_key(c.embedding_text) for c in chunks]
        known = self.registry.cached_vectors(keys)
        missing = {k: c.embedding_text for k, c in zip(keys, chunks, strict=True) if k not in known}
        if missing:
            fresh = self.embedder.embed_texts(list(missing.values()))
            computed = dict(zip(missing, fresh, strict=True))
            self.registry.cache_vectors(computed)
            known.update(computed)
        return np.stack([known[k] for k in keys]).astype(np.float32, copy=False)

    def _fail(self, document_id: str, error: str) -> None:
        self.registry.fail(document_id, error)
        self._purge(document_id)

    def _purge(self, document_id: str) -> int:
        removed = self.store.delete_document(document_id)
        self.registry.purged(document_id)
        return removed

    def document(self, document_id: str) -> tuple[DocumentRecord, list[Chunk]]:
        """A registered document's record and its chunks; NotFound if unknown."""
        return self.registry.require(document_id), self.store.chunks_of(document_id)


def _in_order(
    pool: ThreadPoolExecutor,
    work: Callable[[tuple[Path, str, str | None]], _Parsed],
    items: Sequence[tuple[Path, str, str | None]],
    window: int,
) -> Iterator[_Parsed]:
    """work(item) for each item, in order, with up to window items running ahead."""
    pending: deque[Future[_Parsed]] = deque()
    for item in items:
        pending.append(pool.submit(work, item))
        if len(pending) > window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
