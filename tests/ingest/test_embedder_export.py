"""fp32 runs through its ONNX export: PyTorch's vectors, without loading PyTorch."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from rag.embeddings import Embedder
from tests.ingest.conftest import SAMPLE
from tests.processes import run_strata

# A whole process loads a model and embeds the sample corpus: slow on a loaded CI machine.
CLI_TIMEOUT_S = 1200
PASSAGES = [
    "Bees tell each other where flowers are with a waggle dance on the comb.",
    "x",
    "Quelle est la portée d'un phare ? ¿Y en español?",
    " ".join(["A passage longer than the model's window, cut where PyTorch cuts it."] * 30),
    "Sourdough rises because wild yeast and bacteria ferment the flour. " * 6,
]


def test_fp32_batches_through_the_export_give_pytorchs_vectors(
    tmp_path: Path, embedder: Embedder, caplog: pytest.LogCaptureFixture
) -> None:
    not_a_folder = tmp_path / "models"
    not_a_folder.write_text("a file where the model cache should be")
    with caplog.at_level(logging.WARNING, logger="rag.embeddings"):
        pytorch = Embedder(batch_size=3, onnx_dir=not_a_folder).load()
    assert [r for r in caplog.records if "PyTorch" in r.getMessage()]

    # Batches of other sizes, padded to other lengths: the same vectors either way.
    np.testing.assert_allclose(
        embedder.embed_texts(PASSAGES), pytorch.embed_texts(PASSAGES), atol=1e-5
    )
    # One vector space: an embedding cached by either serves the other.
    assert pytorch.model_id == embedder.model_id


def test_an_ingest_that_finds_the_export_never_loads_pytorch(
    tmp_path: Path, embedder: Embedder
) -> None:
    # The session's embedder built the export into the run's model cache, which every
    # process a test starts is given.
    modules = tmp_path / "modules.txt"
    result = run_strata(
        "ingest", str(SAMPLE), home=tmp_path / "home", modules_file=modules, timeout=CLI_TIMEOUT_S
    )

    assert result.returncode == 0, result.stderr
    assert " 0 failed; " in result.stdout
    loaded = set(modules.read_text().split())
    assert "onnxruntime" in loaded
    assert not {"torch", "sentence_transformers", "transformers"} & loaded
