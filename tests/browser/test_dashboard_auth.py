"""The dashboard behind API keys: it asks for one and keeps it in the tab only."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.browser.test_dashboard import open_dashboard

pytestmark = pytest.mark.browser


@pytest.fixture
def api_keys() -> str:
    return "viewer-secret-key:viewer,user-secret-key-01:user"


def test_dashboard_asks_for_a_key_and_keeps_it_in_the_tab_only(
    browser: Browser, strata_url: str
) -> None:
    page, problems = open_dashboard(browser, strata_url)
    expect(page.locator("#key-panel")).to_be_visible()
    expect(page.locator("#content")).to_be_hidden()

    page.fill("#api-key", "not-a-key")
    page.click("#key-form button[type=submit]")
    expect(page.locator("#key-error")).to_contain_text("invalid API key")

    page.fill("#api-key", "viewer-secret-key")
    page.click("#key-form button[type=submit]")
    expect(page.locator("body[data-loaded=true]")).to_have_count(1)
    expect(page.locator("#key-panel")).to_be_hidden()
    assert page.evaluate("sessionStorage.getItem('strata.apiKey')") == "viewer-secret-key"
    assert page.evaluate("localStorage.length") == 0
    assert page.context.cookies() == []

    page.click("#forget-key")
    assert page.evaluate("sessionStorage.getItem('strata.apiKey')") is None
    expect(page.locator("#key-panel")).to_be_visible()
    # The 401s of the refused key are the only errors the console saw.
    assert all("401" in problem for problem in problems)
