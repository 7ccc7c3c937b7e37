"""The CLI against a running server: the answering suite's corpus, emulator and app."""

from tests.answering.conftest import (  # noqa: F401 (fixtures)
    cache_policy,
    context_score_margin,
    corpus_home,
    emulator_config,
    emulator_url,
    monitor,
    strata_settings,
)
