"""A client command finds its server and key as Settings.load would, without building it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from api.client.target import Server, find_server
from rag.settings import Settings

URL = "http://127.0.0.1:8000"
KEY = "a-long-secret-key-0123"


def _environment(monkeypatch: pytest.MonkeyPatch, **variables: str) -> None:
    for name in list(os.environ):
        if name.upper().startswith("STRATA_"):
            monkeypatch.delenv(name)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)


def _from_settings(url: str | None) -> Server | None:
    settings = Settings.load(url=url) if url is not None else Settings.load()
    if settings.url is None:
        return None
    key = settings.api_key.get_secret_value() if settings.api_key else None
    return Server(settings.url, key)


def _cases(home: Path) -> list[tuple[dict[str, str], str | None, str]]:
    """(environment, --url, .env text under home): the ways a server is given, or none."""
    return [
        ({}, None, ""),
        ({}, URL, ""),
        ({"STRATA_URL": URL, "STRATA_API_KEY": KEY}, None, ""),
        ({"strata_url": URL, "STRATA_HOME": str(home)}, None, f"strata_api_key={KEY}\n"),
        ({"STRATA_HOME": str(home)}, None, f"STRATA_URL={URL}\nSTRATA_API_KEY='{KEY}'\n"),
        ({"STRATA_HOME": str(home)}, "https://other:9", f"STRATA_URL={URL}\n"),
        ({"STRATA_HOME": str(home), "STRATA_API_KEY": "from-env"}, URL, f"STRATA_API_KEY={KEY}\n"),
        ({"STRATA_ENV_FILE": str(home / ".env")}, None, f"STRATA_URL={URL}\n"),
        ({"STRATA_URL": URL, "STRATA_API_KEY": ""}, None, ""),
        ({"STRATA_HOME": str(home)}, None, "STRATA_CACHE_POLICY=off\n"),
    ]


def test_the_server_and_key_are_those_settings_load_finds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for number, (variables, url, dotenv) in enumerate(_cases(tmp_path / "home")):
        home = tmp_path / "home"
        home.mkdir(exist_ok=True)
        (home / ".env").write_text(dotenv)
        _environment(monkeypatch, **variables)

        assert find_server(url, os.environ) == _from_settings(url), number


def test_what_the_settings_refuse_is_left_to_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    refused = [
        ({"STRATA_ENV_FILE": str(tmp_path / "missing.env"), "STRATA_URL": URL}, None),
        ({"STRATA_URL": "ftp://127.0.0.1"}, None),
        ({}, "127.0.0.1:8000"),
    ]
    for variables, url in refused:
        _environment(monkeypatch, **variables)
        assert find_server(url, os.environ) is None
        with pytest.raises(ValidationError):
            _from_settings(url)
