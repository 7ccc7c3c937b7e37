"""A test's processes use the run's own model cache and none of the caller's settings."""

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
        env=environment_without_settings(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert child.stdout.strip() == str(folder)


def test_a_started_process_sees_none_of_the_callers_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A developer's shell may hold a key and a base URL, in any case pydantic-settings reads.
    monkeypatch.setenv("ANTHROPIC_API_KEY", "the-developers-own-key")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://developers-claude.invalid")
    monkeypatch.setenv("strata_anthropic_base_url", "http://developers-claude.invalid")
    monkeypatch.setenv("Strata_Top_K", "3")
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "from rag.settings import Settings; s = Settings(_env_file=None); "
            "print(s.anthropic_api_key, s.anthropic_base_url, s.top_k)",
        ],
        env=environment_without_settings(),
        capture_output=True,
        text=True,
        check=True,
    )
    fields = Settings.model_fields
    assert child.stdout.split() == [
        "None",
        str(fields["anthropic_base_url"].default),
        str(fields["top_k"].default),
    ]
