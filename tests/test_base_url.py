"""The public base URL in the manifest and the spec: configured and fixed, or, for a request that came through a
loopback host, that request's own origin (scheme, loopback name and port); http://localhost:PORT for any other."""

from __future__ import annotations

import httpx
import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient

import plugin.plugin_files
from plugin.app import create_app
from plugin.base_url import request_base_url
from plugin.lab.server import BackgroundServer
from plugin.settings import Settings

MANIFEST = "/.well-known/ai-plugin.json"


def links(client: TestClient, host: str | None = None) -> dict[str, str]:
    """Every base-URL-bearing link the three documents carry, for a request with this Host header."""
    headers = {"host": host} if host is not None else {}
    manifest = client.get(MANIFEST, headers=headers).json()
    return {
        "manifest api": manifest["api"]["url"],
        "manifest logo": manifest["logo_url"],
        "manifest legal": manifest["legal_info_url"],
        "yaml servers": yaml.safe_load(client.get("/openapi.yaml", headers=headers).text)["servers"][0][
            "url"
        ],
        "json servers": client.get("/openapi.json", headers=headers).json()["servers"][0]["url"],
    }


def expected_links(base: str) -> dict[str, str]:
    """What the manifest, openapi.yaml and the spec /docs reads say: all three start with `base`."""
    return {
        "manifest api": f"{base}/openapi.yaml",
        "manifest logo": f"{base}/logo.png",
        "manifest legal": f"{base}/legal",
        "yaml servers": base,
        "json servers": base,
    }


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(Settings(source="sample", port=8000))


@pytest.mark.parametrize(
    ("host", "base"),
    [
        ("127.0.0.1:8123", "http://127.0.0.1:8123"),
        ("localhost:9000", "http://localhost:9000"),
        ("[::1]:8123", "http://[::1]:8123"),
        ("LocalHost:9000", "http://localhost:9000"),
        ("127.0.0.1", "http://127.0.0.1"),
        ("127.0.0.1:08123", "http://127.0.0.1:8123"),
    ],
)
def test_without_a_base_url_a_loopback_request_gets_its_own_origin_back(
    app: FastAPI, host: str, base: str
) -> None:
    assert links(TestClient(app), host) == expected_links(base)


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:8000",
        "127.0.0.1.evil.example",
        "localhost.evil.example:8000",
        "localhost:",
        "127.0.0.2:8000",
        "0.0.0.0:8000",
        "",
        "testserver",
    ],
)
def test_any_other_host_falls_back_to_the_default_and_is_never_echoed(app: FastAPI, host: str) -> None:
    assert links(TestClient(app), host) == expected_links("http://localhost:8000")


@pytest.mark.parametrize(
    "host",
    [
        "localhost@evil.example",
        "evil.example#localhost",
        "localhost:8000/evil",
        "localhost:8000 evil.example",
        "localhost:99999",
        "localhost:0",
        "[::1",
    ],
)
def test_a_malformed_host_is_a_400_that_echoes_no_link(app: FastAPI, host: str) -> None:
    answer = TestClient(app).get(MANIFEST, headers={"host": host})
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "bad_request"
    assert "api" not in answer.json()


def test_a_configured_base_url_is_fixed_whatever_the_host() -> None:
    client = TestClient(create_app(Settings(source="sample", base_url="https://prices.example.com/")))
    for host in ("127.0.0.1:8123", "localhost", "evil.example"):
        assert links(client, host) == expected_links("https://prices.example.com")


def test_the_docs_spec_keeps_the_scheme_of_the_request() -> None:
    client = TestClient(create_app(Settings(source="sample")), base_url="https://127.0.0.1:8443")
    assert links(client) == expected_links("https://127.0.0.1:8443")


def test_request_base_url_reads_only_the_host_header_and_the_scheme() -> None:
    settings = Settings(port=5003)
    scope = {"type": "http", "scheme": "http", "headers": [(b"host", b"localhost:7000")], "server": ("x", 1)}
    assert request_base_url(settings, scope) == "http://localhost:7000"
    assert request_base_url(settings, {**scope, "headers": []}) == "http://localhost:5003"
    assert request_base_url(settings, {**scope, "scheme": "ws"}) == "http://localhost:5003"
    assert request_base_url(Settings(base_url="https://a.example"), scope) == "https://a.example"
    assert (
        request_base_url(settings, {**scope, "headers": [(b"host", b"127.0.0.1:7000")]})
        == "http://127.0.0.1:7000"
    )


def test_the_documents_are_rendered_once_per_base_url_and_only_a_few_are_kept(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rendered: list[str] = []
    real = plugin.plugin_files.render_yaml
    monkeypatch.setattr(
        plugin.plugin_files,
        "render_yaml",
        lambda spec: rendered.append(spec["servers"][0]["url"]) or real(spec),
    )
    client = TestClient(create_app(Settings(source="sample")))
    for _ in range(3):
        client.get("/openapi.yaml", headers={"host": "127.0.0.1:9001"})
    assert rendered == ["http://127.0.0.1:9001"]
    for port in range(9002, 9042):  # a client trying many ports cannot grow the cache without bound
        client.get("/openapi.yaml", headers={"host": f"127.0.0.1:{port}"})
    client.get("/openapi.yaml", headers={"host": "127.0.0.1:9001"})
    assert len(rendered) == 42 and rendered[-1] == "http://127.0.0.1:9001"  # it had been dropped


def test_a_server_on_port_zero_links_to_the_port_it_got() -> None:
    with BackgroundServer(create_app(Settings(source="sample")), name="test_base_url") as server:
        assert server.url.startswith("http://127.0.0.1:") and not server.url.endswith(":8000")
        localhost = server.url.replace("127.0.0.1", "localhost")
        manifest = httpx.get(f"{server.url}{MANIFEST}").json()
        assert manifest["api"]["url"] == f"{server.url}/openapi.yaml"
        assert httpx.get(manifest["api"]["url"]).status_code == 200  # followed as ChatGPT would
        assert httpx.get(f"{localhost}{MANIFEST}").json()["api"]["url"] == f"{localhost}/openapi.yaml"
        assert httpx.get(f"{localhost}/openapi.json").json()["servers"] == [{"url": localhost}]
