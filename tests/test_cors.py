"""Browsers may call the API from ChatGPT's origins and the configured ones, and from nowhere else."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from plugin.app import create_app
from plugin.settings import Settings


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(Settings(source="sample", cors_origins=("http://localhost:3000",))))


def preflight(client: TestClient, origin: str, method: str = "GET", headers: str = "content-type"):  # noqa: ANN201
    return client.options(
        "/get_prices",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


@pytest.mark.parametrize(
    "origin", ["https://chat.openai.com", "https://chatgpt.com", "http://localhost:3000"]
)
def test_a_preflight_from_an_allowed_origin_is_accepted(client: TestClient, origin: str) -> None:
    answer = preflight(client, origin, "POST", "content-type,authorization,openai-conversation-id")
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == origin
    assert "POST" in answer.headers["access-control-allow-methods"]
    assert "authorization" in answer.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in answer.headers


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "https://chatgpt.com.evil.example", "http://chatgpt.com"]
)
def test_a_preflight_from_a_foreign_origin_is_refused(client: TestClient, origin: str) -> None:
    answer = preflight(client, origin)
    assert answer.status_code == 403
    assert answer.json()["error"]["code"] == "forbidden"
    assert "access-control-allow-origin" not in answer.headers


def test_a_preflight_for_a_method_the_api_does_not_have_is_refused(client: TestClient) -> None:
    answer = preflight(client, "https://chatgpt.com", "DELETE")
    assert answer.status_code == 403


def test_a_simple_request_from_chatgpt_gets_its_origin_back(client: TestClient) -> None:
    answer = client.get("/get_prices?tickers=AAPL", headers={"Origin": "https://chat.openai.com"})
    assert answer.status_code == 200
    assert answer.headers["access-control-allow-origin"] == "https://chat.openai.com"


def test_a_simple_request_from_a_foreign_origin_gets_no_cors_header(client: TestClient) -> None:
    answer = client.get("/get_prices?tickers=AAPL", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in answer.headers


def test_the_default_settings_allow_only_chatgpt() -> None:
    client = TestClient(create_app(Settings(source="sample")))
    assert preflight(client, "https://chatgpt.com").status_code == 200
    assert preflight(client, "http://localhost:3000").status_code == 403


def test_the_manifest_is_readable_cross_origin_too(client: TestClient) -> None:
    answer = client.get("/.well-known/ai-plugin.json", headers={"Origin": "https://chatgpt.com"})
    assert answer.headers["access-control-allow-origin"] == "https://chatgpt.com"


@pytest.mark.parametrize("origin", [None, "https://chatgpt.com", "https://evil.example"])
def test_every_answer_says_it_varies_with_the_origin_once(client: TestClient, origin: str | None) -> None:
    headers = {"Origin": origin} if origin else {}
    answer = client.get("/get_prices?tickers=AAPL", headers=headers)
    assert answer.status_code == 200
    assert answer.headers.get_list("vary") == ["Origin"], (
        "a cache must not hand one origin's answer to another"
    )


def test_a_request_without_an_origin_gets_no_cors_headers(client: TestClient) -> None:
    answer = client.get("/get_prices?tickers=AAPL")
    assert not [name for name in answer.headers if name.startswith("access-control-")]
