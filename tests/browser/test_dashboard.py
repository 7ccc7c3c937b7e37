"""The dashboard in headless Chromium, after real asks: its figures are the API's figures."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, expect

from api.app import create_app
from api.serving import serve_in_thread
from api.usage_report import money
from rag.ledger import Ledger, database_url
from rag.settings import Settings
from rag.types import CallRecord, Feature, Usage
from tests.browser.conftest import WAIT_MS
from tests.ledger.test_usage_http import run_asks

pytestmark = pytest.mark.browser

HOSTILE = '<img src=x onerror="window.pwned=1">'


def open_dashboard(browser: Browser, url: str, **context: object) -> tuple[Page, list[str]]:
    page = browser.new_context(**context).new_page()  # type: ignore[arg-type]
    page.set_default_timeout(WAIT_MS)
    problems: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            problems.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "response",
        lambda response: (
            problems.append(f"{response.status} {response.url}") if response.status >= 400 else None
        ),
    )
    page.goto(f"{url}/dashboard")
    return page, problems


def test_dashboard_shows_the_savings_the_summary_reports(
    browser: Browser, client: httpx.Client, strata_url: str, tmp_path: Path
) -> None:
    run_asks(client)
    summary = client.get("/v1/usage/summary").json()

    page, problems = open_dashboard(browser, strata_url, viewport={"width": 1366, "height": 900})
    expect(page.locator("body[data-loaded=true]")).to_have_count(1)

    saved = page.locator("#saved-usd")
    assert float(saved.get_attribute("data-usd") or "nan") == summary["saved_usd"]
    assert saved.inner_text() == money(summary["saved_usd"]).replace("-", "−")
    expect(page.locator("#calls")).to_have_text(str(summary["calls"]))
    expect(page.locator("#offline-banner")).to_contain_text("Offline mode")
    expect(page.locator("#layers .bar-row")).to_have_count(5)
    expect(page.locator("#by-feature tr")).to_have_count(len(summary["by_feature"]))
    expect(page.locator("#recent tr")).to_have_count(summary["calls"])
    assert page.evaluate("typeof window.Chart") == "function"
    assert page.evaluate("Chart.getChart('timeline-chart').data.labels.length") >= 1
    page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
    assert problems == []


def test_dashboard_fits_a_phone_screen(
    browser: Browser, client: httpx.Client, strata_url: str, tmp_path: Path
) -> None:
    run_asks(client)

    page, problems = open_dashboard(
        browser, strata_url, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    expect(page.locator("body[data-loaded=true]")).to_have_count(1)

    # Wide tables scroll inside their panels; the page itself never scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(tmp_path / "dashboard-phone.png"), full_page=True)
    assert problems == []


@pytest.fixture
def hostile_row(strata_settings: Settings) -> None:
    """A ledger row whose strings are markup, written before the app starts."""
    ledger = Ledger.open(database_url(strata_settings.home, None))
    ledger.record(
        CallRecord(
            feature=Feature.ASK,
            model=HOSTILE,
            usage=Usage(input_tokens=10, output_tokens=5),
            started_at=datetime.now(UTC),
            latency_ms=10.0,
            conversation_id=HOSTILE,
            request_id="<script>window.pwned=2</script>",
            cache_miss_reason="<b>bold</b>",
        )
    )
    ledger.close()


def test_every_stored_string_is_shown_as_text(
    browser: Browser, hostile_row: None, strata_url: str
) -> None:
    page, problems = open_dashboard(browser, strata_url)
    expect(page.locator("body[data-loaded=true]")).to_have_count(1)

    expect(page.locator("#by-model")).to_contain_text(HOSTILE)
    expect(page.locator("#recent")).to_contain_text("<script>window.pwned=2</script>")
    expect(page.locator("#recent")).to_contain_text("<b>bold</b>")
    assert page.locator("main img, main script, main b").count() == 0
    assert page.evaluate("window.pwned") is None
    assert problems == []


@pytest.fixture
def semantic_settings(strata_settings: Settings) -> Settings:
    return strata_settings.model_copy(update={"semantic_cache": "on"})


def test_dashboard_shows_semantic_hits_apart_from_exact_ones(
    browser: Browser, semantic_settings: Settings
) -> None:
    with (
        serve_in_thread(create_app(semantic_settings)) as url,
        httpx.Client(base_url=url, timeout=60) as client,
    ):
        for question in (
            "How do bees make honey?",
            "How do bees make honey?",
            "How is honey made by bees?",
        ):
            response = client.post("/v1/ask", json={"question": question, "stream": False})
            assert response.status_code == 200, response.text
        summary = client.get("/v1/usage/summary").json()
        page, problems = open_dashboard(browser, url)
        expect(page.locator("body[data-loaded=true]")).to_have_count(1)

        expect(page.locator("#answer-hits")).to_have_text("1")
        expect(page.locator("#semantic-hits")).to_have_text("1")
        expect(page.locator("#semantic-avoided")).to_contain_text(
            money(summary["semantic_avoided_cost_usd"])
        )
        expect(page.locator("#recent")).to_contain_text("semantic: “How do bees make honey?”")
        expect(page.locator("#layers")).to_contain_text("semantic")
        expect(page.locator("#semantic-method")).to_contain_text("paraphrases")
        assert problems == []
