"""Headless Chromium from Debian (/usr/bin/chromium), driven by playwright; never downloaded."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from tests.ledger.usage_fixtures import (  # noqa: F401 (fixtures)
    api_keys,
    corpus_home,
    emulator_url,
    strata_settings,
    tap,
)

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Conditions, not timings: a loaded CI machine can take far longer than playwright's five-second
# default to render a page, so every wait gets a minute before it counts as a failure.
WAIT_MS = 60_000
expect.set_options(timeout=WAIT_MS)


# Per test: a running sync playwright holds an event loop, which would break async tests after it.
@pytest.fixture
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: run `make system-deps` (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()
