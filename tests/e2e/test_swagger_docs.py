"""The plugin's /docs page works offline: Swagger UI loads from the server itself and can call /get_prices."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Locator, Page, expect
from support import ServeProcess

from .conftest import Artifacts

pytestmark = pytest.mark.e2e

QUOTE = "169.595"  # AAPL in the embedded sample data


def open_docs(page: Page, docs_url: str, offsite_requests: list[str]) -> Locator:
    """Load Swagger UI and return its block for `GET /get_prices`."""
    page.goto(docs_url)  # returns once the page, its scripts and its styles have loaded
    assert offsite_requests == [], "/docs asked for assets from outside the machine (a CDN?)"
    return page.locator(".opblock-get").filter(
        has=page.locator(".opblock-summary-path[data-path='/get_prices']")
    )


def test_docs_page_lists_get_prices_with_no_outside_request(
    plugin_server: ServeProcess, page: Page, artifacts: Artifacts, offsite_requests: list[str]
) -> None:
    get_prices = open_docs(page, plugin_server.link("API docs"), offsite_requests)
    expect(get_prices).to_be_visible()
    artifacts.screenshot(page, "swagger-docs", full_page=True)
    assert offsite_requests == []


@pytest.mark.parametrize("host", ["printed", "127.0.0.1", "localhost"])
def test_docs_page_try_it_out_returns_the_sample_quote(
    host: str, plugin_server: ServeProcess, page: Page, artifacts: Artifacts, offsite_requests: list[str]
) -> None:
    """Try it out works wherever the page is opened on this machine: the spec's server follows the loopback host."""
    docs_url = plugin_server.link("API docs")
    if host != "printed":
        port = urlsplit(docs_url).port
        docs_url = f"http://{host}:{port}/docs"
    get_prices = open_docs(page, docs_url, offsite_requests)
    get_prices.locator(".opblock-summary").click()
    get_prices.get_by_role("button", name="Try it out").click()
    get_prices.locator("tr[data-param-name='tickers'] input").fill("AAPL")
    get_prices.get_by_role("button", name="Execute").click()

    response_body = get_prices.locator(".live-responses-table .response-col_description pre").first
    expect(response_body).to_contain_text(QUOTE)
    artifacts.screenshot(page, f"swagger-docs-try-it-out-{host}", full_page=True)
    assert offsite_requests == []
