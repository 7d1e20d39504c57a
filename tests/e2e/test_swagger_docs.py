"""The plugin's /docs page works offline: Swagger UI loads from the server itself and can call /get_prices."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import Artifacts
from .processes import Service

pytestmark = pytest.mark.e2e

QUOTE = "169.595"  # AAPL in the embedded sample data


def test_docs_page_lists_get_prices_with_no_outside_request(
    plugin_server: Service, page, artifacts: Artifacts, offsite_requests: list[str]
) -> None:
    page.goto(f"{plugin_server.url}/docs")
    get_prices = page.locator(".opblock-get").filter(
        has=page.locator(".opblock-summary-path[data-path='/get_prices']")
    )
    expect(get_prices).to_be_visible()

    artifacts.screenshot(page, "swagger-docs", full_page=True)
    assert offsite_requests == [], "Swagger UI fetched assets from outside the machine"


def test_docs_page_try_it_out_returns_the_sample_quote(
    plugin_server: Service, page, artifacts: Artifacts, offsite_requests: list[str]
) -> None:
    page.goto(f"{plugin_server.url}/docs")
    get_prices = page.locator(".opblock-get").filter(
        has=page.locator(".opblock-summary-path[data-path='/get_prices']")
    )
    get_prices.locator(".opblock-summary").click()
    get_prices.get_by_role("button", name="Try it out").click()
    get_prices.locator("input[placeholder='tickers'], textarea").first.fill("AAPL")
    get_prices.get_by_role("button", name="Execute").click()

    body = get_prices.locator(".responses-wrapper .live-responses-table .response-col_description pre").first
    expect(body).to_contain_text(QUOTE)
    get_prices.scroll_into_view_if_needed()
    artifacts.screenshot(page, "swagger-docs-try-it-out", full_page=True)
    assert offsite_requests == []
