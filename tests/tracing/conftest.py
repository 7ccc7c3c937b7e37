"""Tracing runs against the batches suite's corpus, emulator and settings."""

from tests.batches.conftest import (  # noqa: F401
    corpus_home,
    emulator_config,
    emulator_url,
    rejected_requests,
    settings_for,
)
