"""/docs and /redoc render with no internet: every asset they load is served by the plugin itself."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient

from plugin.app import create_app
from plugin.settings import Settings

EXPECTED_TYPES = {".js": "text/javascript", ".css": "text/css", ".png": "image/png"}


class AssetLinks(HTMLParser):
    """The URLs a page loads: script src, link href, img src."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src"}.get(tag)
        for name, value in attrs:
            if name == wanted and value:
                self.urls.append(value)


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app(Settings(source="sample", base_url="https://prices.example.com")))


def assets_of(html: str) -> list[str]:
    parser = AssetLinks()
    parser.feed(html)
    return parser.urls


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_page_references_only_local_assets(client: TestClient, page: str) -> None:
    answer = client.get(page)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    urls = assets_of(answer.text)
    assert urls, "the page loads its scripts and styles"
    assert all(url.startswith("/") and not url.startswith("//") for url in urls), urls
    assert not re.search(r"https?://|//cdn|fonts\.googleapis", answer.text), (
        "no absolute URL anywhere on the page"
    )


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_every_asset_the_docs_page_loads_is_served_with_its_type(client: TestClient, page: str) -> None:
    for url in assets_of(client.get(page).text):
        answer = client.get(url)
        assert answer.status_code == 200, url
        suffix = url[url.rindex(".") :]
        assert answer.headers["content-type"].startswith(EXPECTED_TYPES[suffix]), url
        assert len(answer.content) > 1_000, url


def test_swagger_ui_is_the_real_bundle_and_reads_the_local_spec(client: TestClient) -> None:
    html = client.get("/docs").text
    assert "SwaggerUIBundle(" in html
    assert "url: '/openapi.json'" in html
    assert '"validatorUrl": null' in html, "the online validator badge would call validator.swagger.io"
    bundle = client.get(next(u for u in assets_of(html) if u.endswith("swagger-ui-bundle.js")))
    assert b"SwaggerUIBundle" in bundle.content[:2_000]


def test_the_spec_the_docs_page_reads_is_served(client: TestClient) -> None:
    answer = client.get("/openapi.json")
    assert answer.status_code == 200
    assert answer.json()["info"]["title"] == "Stock and Crypto Prices"
