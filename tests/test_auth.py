"""The optional API token: every path but the plugin files and /docs wants `Authorization: Bearer <token>`."""

from __future__ import annotations

import logging

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from support import MCP_INITIALIZE

import plugin.middleware
from plugin.app import PUBLIC_PATHS, create_app
from plugin.manifest_rules import VERIFICATION_TOKEN_PLACEHOLDER
from plugin.service import create_service
from plugin.settings import Settings

TOKEN = "s3cr3t-token-Zq9"
WRONG = "guessed-token-Xy7"
SETTINGS = Settings(source="sample", api_token=TOKEN, verification_tokens={"openai": "issued-by-openai"})
MCP_HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}

#: method, path, keyword arguments: one request to each protected operation.
OPERATIONS = [
    ("GET", "/get_prices", {"params": {"tickers": "AAPL"}}),
    ("POST", "/get_prices", {"json": {"tickers": ["AAPL"]}}),
    ("GET", "/get_fundamentals", {"params": {"tickers": "AAPL"}}),
    ("POST", "/mcp", {"json": MCP_INITIALIZE, "headers": MCP_HEADERS}),
]
PUBLIC = ["/.well-known/ai-plugin.json", "/openapi.yaml", "/openapi.json", "/logo.png", "/legal", "/docs"]


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_service(SETTINGS)  # the whole service: the REST API and /mcp, behind one token


@pytest.fixture
def client(app: FastAPI):  # noqa: ANN201 - a TestClient running the app's lifespan (MCP needs it)
    with TestClient(app, base_url="http://localhost") as client:
        yield client


def send(client: TestClient, method: str, path: str, options: dict, authorization: str | None) -> object:
    headers = dict(options.get("headers", {}))
    if authorization is not None:
        headers["Authorization"] = authorization
    return client.request(method, path, **{**options, "headers": headers})


def assert_refused(answer, challenge: str) -> dict:  # noqa: ANN001 - an httpx response
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"] == challenge
    assert answer.headers["content-type"] == "application/json"
    error = answer.json()["error"]
    assert error["code"] == "unauthorized"
    assert "Authorization: Bearer <token>" in error["message"] or "not valid" in error["message"]
    for secret in (TOKEN, WRONG):
        assert secret not in answer.text and secret not in str(answer.headers)
    return error


@pytest.mark.parametrize(("method", "path", "options"), OPERATIONS, ids=lambda v: str(v)[:20])
def test_without_a_token_every_operation_is_a_401_with_a_bearer_challenge(
    client: TestClient, method: str, path: str, options: dict
) -> None:
    error = assert_refused(send(client, method, path, options, None), 'Bearer realm="api"')
    assert error["message"] == "This operation needs the API token: send Authorization: Bearer <token>."


@pytest.mark.parametrize(("method", "path", "options"), OPERATIONS, ids=lambda v: str(v)[:20])
def test_a_wrong_token_is_a_401_that_never_echoes_it(
    client: TestClient, method: str, path: str, options: dict
) -> None:
    answer = send(client, method, path, options, f"Bearer {WRONG}")
    error = assert_refused(answer, 'Bearer realm="api", error="invalid_token"')
    assert error["message"] == "The bearer token is not valid for this service."


@pytest.mark.parametrize(
    "authorization",
    [
        f"Basic {TOKEN}",
        TOKEN,
        f"Token {TOKEN}",
        "Bearer",
        "Bearer ",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
    ],
)
def test_anything_but_the_exact_bearer_token_is_refused(client: TestClient, authorization: str) -> None:
    answer = send(client, "GET", "/get_prices", {"params": {"tickers": "AAPL"}}, authorization)
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer realm=")


def test_two_authorization_headers_are_refused(client: TestClient) -> None:
    answer = client.get(
        "/get_prices",
        params={"tickers": "AAPL"},
        headers=[("Authorization", f"Bearer {TOKEN}"), ("Authorization", f"Bearer {WRONG}")],
    )
    assert_refused(answer, 'Bearer realm="api", error="invalid_request"')


@pytest.mark.parametrize(("method", "path", "options"), OPERATIONS, ids=lambda v: str(v)[:20])
def test_the_right_token_is_let_through(client: TestClient, method: str, path: str, options: dict) -> None:
    answer = send(client, method, path, options, f"Bearer {TOKEN}")
    assert answer.status_code == 200, answer.text


def test_the_scheme_is_case_insensitive(client: TestClient) -> None:
    answer = send(client, "GET", "/get_prices", {"params": {"tickers": "AAPL"}}, f"bearer {TOKEN}")
    assert answer.json()["quotes"][0]["symbol"] == "AAPL"


@pytest.mark.parametrize("path", ["/get_prices/x", "/mcp/anything"])
def test_paths_below_a_protected_one_are_protected_too(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 401


@pytest.mark.parametrize("path", ["/get_prices/", "/mcp/"])
def test_a_trailing_slash_is_a_404_before_the_token_is_asked(client: TestClient, path: str) -> None:
    assert client.get(path, follow_redirects=False).status_code == 404


@pytest.mark.parametrize("path", PUBLIC)
def test_the_files_chatgpt_reads_before_it_has_a_key_stay_public(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200


def test_the_token_is_compared_in_constant_time(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = plugin.middleware.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(plugin.middleware.hmac, "compare_digest", spy)
    send(client, "GET", "/get_prices", {"params": {"tickers": "AAPL"}}, f"Bearer {WRONG}")
    assert compared == [(WRONG.encode(), TOKEN.encode())]


def test_the_token_is_never_logged(app: FastAPI, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with TestClient(app, base_url="http://localhost") as client:
        for authorization in (f"Bearer {TOKEN}", f"Bearer {WRONG}", None):
            for method, path, options in OPERATIONS:
                send(client, method, path, options, authorization)
    assert caplog.records, "the requests did log something"
    assert TOKEN not in caplog.text and WRONG not in caplog.text


def test_a_browser_preflight_needs_no_token_and_a_401_is_readable_cross_origin(client: TestClient) -> None:
    preflight = client.options(
        "/get_prices",
        headers={
            "Origin": "https://chatgpt.com",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert preflight.status_code == 200
    assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
    refused = client.get("/get_prices?tickers=AAPL", headers={"Origin": "https://chatgpt.com"})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == "https://chatgpt.com"


def test_the_manifest_declares_service_http_bearer_with_the_verification_token(client: TestClient) -> None:
    manifest = client.get("/.well-known/ai-plugin.json").json()
    assert manifest["auth"] == {
        "type": "service_http",
        "authorization_type": "bearer",
        "verification_tokens": {"openai": "issued-by-openai"},
    }
    assert TOKEN not in client.get("/.well-known/ai-plugin.json").text


def test_the_spec_declares_the_bearer_scheme_on_every_operation(client: TestClient) -> None:
    spec = yaml.safe_load(client.get("/openapi.yaml").text)
    assert spec["components"]["securitySchemes"] == {
        "bearerAuth": {"type": "http", "scheme": "bearer", "description": "The plugin's API token."}
    }
    for item in spec["paths"].values():
        for operation in item.values():
            assert operation["security"] == [{"bearerAuth": []}]
            assert operation["responses"]["401"]["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorResponse"
            }
    assert spec == client.get("/openapi.json").json()
    assert TOKEN not in client.get("/openapi.yaml").text


def test_without_a_token_nothing_is_asked_and_the_plugin_says_auth_none() -> None:
    client = TestClient(create_app(Settings(source="sample")))
    assert client.get("/get_prices", params={"tickers": "AAPL"}).status_code == 200
    assert client.get("/.well-known/ai-plugin.json").json()["auth"] == {"type": "none"}
    spec = client.get("/openapi.json").json()
    assert "securitySchemes" not in spec.get("components", {})
    assert all("401" not in op["responses"] for item in spec["paths"].values() for op in item.values())


def test_the_token_is_read_from_the_environment() -> None:
    settings = Settings.from_env(
        {"PRICE_SOURCE": "sample", "PLUGIN_API_TOKEN": TOKEN, "PLUGIN_VERIFICATION_TOKENS": '{"openai": "v"}'}
    )
    client = TestClient(create_app(settings))
    assert client.get("/get_prices", params={"tickers": "AAPL"}).status_code == 401
    ok = client.get("/get_prices", params={"tickers": "AAPL"}, headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200


def test_every_public_path_is_a_route_the_app_serves(app: FastAPI) -> None:
    paths = {getattr(route, "path", None) for route in app.router.routes}
    assert {path for path in PUBLIC_PATHS if not path.endswith("/")} <= paths
    assert "/get_prices" not in PUBLIC_PATHS and "/get_fundamentals" not in PUBLIC_PATHS


def test_an_endpoint_mounted_later_is_protected_without_being_listed() -> None:
    """What `plugin.service` does with /mcp: a route added after `create_app` needs the token all the same."""

    async def endpoint(request: Request) -> Response:
        return JSONResponse({"mounted": True})

    app = create_app(SETTINGS)
    app.router.routes.append(Route("/mcp", endpoint, methods=["POST"]))
    client = TestClient(app)
    assert_refused(client.post("/mcp", json=MCP_INITIALIZE, headers=MCP_HEADERS), 'Bearer realm="api"')
    allowed = client.post(
        "/mcp", json=MCP_INITIALIZE, headers={**MCP_HEADERS, "Authorization": f"Bearer {TOKEN}"}
    )
    assert allowed.json() == {"mounted": True}


def test_a_token_without_a_verification_token_guards_the_api_and_serves_the_placeholder() -> None:
    """OpenAI issued the verification token only after the API token was registered: until then the service runs,
    behind its token, and its manifest carries the placeholder that says where to get the real one."""
    with TestClient(
        create_service(Settings(source="sample", api_token=TOKEN)), base_url="http://localhost"
    ) as client:
        assert client.get("/.well-known/ai-plugin.json").json()["auth"] == {
            "type": "service_http",
            "authorization_type": "bearer",
            "verification_tokens": {"openai": VERIFICATION_TOKEN_PLACEHOLDER},
        }
        assert_refused(client.get("/get_prices", params={"tickers": "AAPL"}), 'Bearer realm="api"')
        authorized = {"Authorization": f"Bearer {TOKEN}"}
        answer = client.get("/get_prices", params={"tickers": "AAPL"}, headers=authorized)
        assert answer.json()["quotes"][0]["price"] == 169.595
