"""The test run builds its ONNX exports in a folder of its own, never in the user's cache."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rag.embeddings import Embedder
from rag.settings import Settings
from tests.processes import environment_without_settings


def test_the_run_keeps_its_exports_in_a_temporary_folder(
    embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # The settings a test's app or command reads, in this process and in one it starts.
    folder = Settings(_env_file=None).model_cache_dir  # type: ignore[call-arg]
    assert folder is not None
    assert folder.is_relative_to(tmp_path_factory.getbasetemp())
    assert embedder.onnx_dir == folder
    assert embedder.onnx_path("fp32").is_file()
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "from rag.settings import Settings; print(Settings(_env_file=None).model_cache_dir)",
        ],
        env=environment_without_settings("ANTHROPIC_API_KEY"),
        capture_output=True,
        text=True,
        check=True,
    )
    assert child.stdout.strip() == str(folder)
