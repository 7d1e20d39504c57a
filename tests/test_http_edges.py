"""The edges of HTTP below FastAPI, over a real socket to `python -m plugin serve`: Host headers, trailing slashes,
content codings, JSON that is not JSON, and clients that stop sending. Every answer is the API's JSON error."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest
from support import MCP_INITIALIZE, ServeProcess, serve

from plugin.errors import STATUS

DEADLINE = 1.0  # the served request deadline, short so that a test of a slow client is quick
MCP_ACCEPT = "Accept: application/json, text/event-stream\r\n"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float
    closed: bool  # the server closed the connection after answering

    @property
    def error(self) -> dict[str, str]:
        assert self.headers["content-type"] == "application/json", self.headers
        return json.loads(self.body)["error"]


@pytest.fixture(scope="module")
def server() -> Iterator[ServeProcess]:
    with serve("--source", "sample", "--port", "0", PLUGIN_REQUEST_DEADLINE=str(DEADLINE)) as served:
        yield served


def exchange(server: ServeProcess, raw: bytes, *, pause_after: bool = False, timeout: float = 10.0) -> Answer:
    """Send `raw` bytes on a fresh connection, then read one response (and whether the connection then closes)."""
    address = urlsplit(server.url)
    start = time.monotonic()
    with socket.create_connection((address.hostname, address.port), timeout=timeout) as sock:
        sock.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, f"the connection closed with no answer after {data!r}"
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        while len(body) < int(headers.get("content-length", 0)):
            chunk = sock.recv(65536)
            assert chunk
            body += chunk
        seconds = time.monotonic() - start
        sock.settimeout(0.5)
        try:
            closed = sock.recv(1) == b""
        except TimeoutError:
            closed = False
    return Answer(int(lines[0].split()[1]), headers, body, seconds, closed)


def request(
    method: str,
    path: str,
    *,
    host: str | None = "localhost",
    extra: str = "",
    body: bytes = b"",
    version: str = "1.1",
) -> bytes:
    head = f"{method} {path} HTTP/{version}\r\n"
    if host is not None:
        head += f"Host: {host}\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return (head + extra + "Connection: close\r\n\r\n").encode("latin-1") + body


MCP_BODY = json.dumps(MCP_INITIALIZE).encode()


# --- Host (RFC 9112 section 3.2) ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "raw"),
    [
        ("no Host", request("GET", "/get_prices?tickers=AAPL", host=None)),
        ("two Hosts", request("GET", "/get_prices?tickers=AAPL", extra="Host: evil.example\r\n")),
        ("port 99999", request("GET", "/get_prices?tickers=AAPL", host="localhost:99999")),
        ("no Host, /mcp", request("POST", "/mcp", host=None, extra=MCP_ACCEPT, body=MCP_BODY)),
        (
            "two Hosts, /mcp",
            request("POST", "/mcp", extra=MCP_ACCEPT + "Host: evil.example\r\n", body=MCP_BODY),
        ),
        (
            "port 99999, /mcp",
            request("POST", "/mcp", host="localhost:99999", extra=MCP_ACCEPT, body=MCP_BODY),
        ),
    ],
)
def test_a_missing_repeated_or_invalid_host_is_a_400(server: ServeProcess, case: str, raw: bytes) -> None:
    answer = exchange(server, raw)
    assert answer.status == 400, case
    assert answer.error["code"] == "bad_request"
    assert "Host" in answer.error["message"]


def test_http_1_0_may_leave_the_host_out(server: ServeProcess) -> None:
    answer = exchange(server, request("GET", "/get_prices?tickers=AAPL", host=None, version="1.0"))
    assert answer.status == 200
    assert json.loads(answer.body)["quotes"][0]["price"] == 169.595


# --- trailing slashes: no redirect, so none to a host the client chose ----------------------------------------


@pytest.mark.parametrize(
    ("path", "without"), [("/.well-known/ai-plugin.json/", "/.well-known/ai-plugin.json"), ("/mcp/", "/mcp")]
)
def test_a_trailing_slash_is_a_404_naming_the_path_without_it(
    server: ServeProcess, path: str, without: str
) -> None:
    answer = exchange(server, request("GET", path, host="evil.example"))
    assert answer.status == 404
    assert "location" not in answer.headers
    assert answer.error["code"] == "not_found"
    assert f"ask for {without} instead" in answer.error["message"]
    assert "evil.example" not in answer.body.decode()


def test_mcp_with_a_slash_gets_no_further_than_mcp_without_one(server: ServeProcess) -> None:
    answer = exchange(server, request("POST", "/mcp/", host="evil.example", extra=MCP_ACCEPT, body=MCP_BODY))
    assert answer.status == 404
    assert "location" not in answer.headers


# --- content codings and JSON that is not JSON ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "coding"), [("/get_prices", "gzip"), ("/get_prices", "br"), ("/mcp", "gzip")]
)
def test_a_request_body_in_a_content_coding_is_a_415(server: ServeProcess, path: str, coding: str) -> None:
    body = MCP_BODY if path == "/mcp" else b'{"tickers": ["AAPL"]}'  # sent plain, whatever it claims
    extra = f"Content-Encoding: {coding}\r\n" + (MCP_ACCEPT if path == "/mcp" else "")
    answer = exchange(server, request("POST", path, extra=extra, body=body))
    assert answer.status == 415
    assert answer.headers["accept-encoding"] == "identity"
    assert answer.error["code"] == "unsupported_media_type"
    assert f"Content-Encoding '{coding}' is not accepted" in answer.error["message"]


def test_identity_is_the_coding_that_is_accepted(server: ServeProcess) -> None:
    extra = "Content-Encoding: identity\r\n"
    answer = exchange(server, request("POST", "/get_prices", extra=extra, body=b'{"tickers": ["AAPL"]}'))
    assert answer.status == 200


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"tickers": ["AAPL"], "x": NaN}', "NaN is not a JSON number"),
        (b'{"tickers": ["AAPL"], "x": -Infinity}', "-Infinity is not a JSON number"),
        (b'{"tickers": ["AAPL"], "x": ' + b"1" * 5001 + b"}", "a number of 5,001 digits"),
    ],
)
def test_what_is_not_json_is_a_422_that_says_why(server: ServeProcess, body: bytes, says: str) -> None:
    answer = exchange(server, request("POST", "/get_prices", body=body))
    assert answer.status == 422
    assert says in answer.error["message"]
    assert "nested too deeply" not in answer.error["message"]


# --- slow clients ---------------------------------------------------------------------------------------------


def short_body(path: str, extra: str = "") -> bytes:
    """Headers that promise 100 bytes, and 10 of them: the rest never comes, and the socket stays open."""
    head = f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n{extra}"
    return (head + "Content-Length: 100\r\n\r\n").encode() + b'{"tickers"'


@pytest.mark.parametrize(
    "raw",
    [
        short_body("/get_prices"),
        short_body("/mcp", MCP_ACCEPT),
        b'POST /get_prices HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{"tic\r\n',
    ],
    ids=["short body", "short body, /mcp", "chunks that stop"],
)
def test_a_body_that_stops_coming_is_a_408_within_the_deadline(server: ServeProcess, raw: bytes) -> None:
    answer = exchange(server, raw)
    assert answer.status == 408
    assert answer.error["code"] == "request_timeout"
    assert DEADLINE <= answer.seconds < DEADLINE + 2
    assert answer.headers["connection"] == "close"
    assert answer.closed


@pytest.mark.parametrize("path", ["/get_prices", "/mcp"])
def test_a_client_that_leaves_mid_body_is_one_log_line_not_a_traceback(
    server: ServeProcess, path: str
) -> None:
    address = urlsplit(server.url)
    before = server.output
    with socket.create_connection((address.hostname, address.port), timeout=5) as sock:
        sock.sendall(short_body(path, MCP_ACCEPT if path == "/mcp" else ""))
        time.sleep(0.2)  # the service is now waiting for the other 90 bytes
    line = server.wait_for(rf"^.*POST {path}: the client left after 10 body bytes$")[0]
    time.sleep(0.5)  # anything else it logs about this request comes now
    logged = server.output[len(before) :]
    assert logged.strip().splitlines() == [line], logged
    assert "Traceback" not in logged


def test_a_mount_without_its_slash_does_not_redirect_to_the_callers_host(server: ServeProcess) -> None:
    answer = exchange(server, b"GET /static-offline-docs HTTP/1.1\r\nHost: evil.example\r\n\r\n")
    assert "location" not in answer.headers, answer.headers
    assert answer.status == 404


# --- with a token: the edges answer first, before anything asks for credentials -------------------------------


@pytest.fixture(scope="module")
def guarded() -> Iterator[ServeProcess]:
    env = {"PLUGIN_REQUEST_DEADLINE": str(DEADLINE), "PLUGIN_API_TOKEN": "edges-t0ken"}
    with serve("--source", "sample", "--port", "0", **env) as served:
        yield served


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (request("GET", "/get_prices?tickers=AAPL", host=None), 400),
        (request("GET", "/get_prices?tickers=AAPL", host="localhost:99999"), 400),
        (request("GET", "/mcp/", host="evil.example"), 404),
        (request("POST", "/get_prices", extra="Content-Encoding: gzip\r\n", body=b"{}"), 415),
        (short_body("/get_prices"), 408),
        (request("GET", "/get_prices?tickers=AAPL"), 401),
    ],
    ids=["no Host", "port 99999", "slash", "gzip", "short body", "then the token"],
)
def test_with_a_token_the_edges_answer_first(guarded: ServeProcess, raw: bytes, status: int) -> None:
    answer = exchange(guarded, raw)
    assert answer.status == status
    assert STATUS[answer.error["code"]] == status  # the one code of that status
