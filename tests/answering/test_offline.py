import logging
from pathlib import Path

import httpx
import pytest

from api.app import create_app
from api.serving import serve_in_thread
from rag.settings import Settings
from tests.answering.test_ask_http import ask_json


def test_without_a_key_the_bundled_emulator_answers_and_the_log_says_so(
    corpus_home: Path, caplog: pytest.LogCaptureFixture
):
    settings = Settings(  # type: ignore[call-arg]
        home=corpus_home, anthropic_api_key=None, anthropic_base_url=None, _env_file=None
    )
    assert settings.offline
    with (
        caplog.at_level(logging.WARNING, logger="strata"),
        serve_in_thread(create_app(settings)) as url,
        httpx.Client(base_url=url, timeout=60) as http,
    ):
        answer = ask_json(http, "What do lighthouse keepers log?")
    assert answer["answer"].strip()
    assert answer["citations"]
    offline_notes = [r.getMessage() for r in caplog.records if "OFFLINE MODE" in r.getMessage()]
    assert len(offline_notes) == 1
    assert "extractive" in offline_notes[0]
