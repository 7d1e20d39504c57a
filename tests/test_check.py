"""`python -m plugin check URL`: our own service passes; each broken fixture fails with the finding that names it.

Every server here runs on loopback, started by the test: our service as users run it (`serve`, a real process) or
in-process (`BackgroundServer`), and small fixture servers that break one rule each. The 2023 tutorial's plugin
(`tests/fixtures/check/plugin-2023/`) is a reconstruction from the documented facts (see the README there), not a
recording of the real thing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi.testclient import TestClient
from pydantic import Field
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send
from support import free_port, serve, static_site

from plugin.check.command import MAX_BYTES, add_arguments, check, guess_kind, run
from plugin.check.findings import Finding, Report, Unreachable
from plugin.check.spec import MAX_NODES, Unreadable, check_spec, read_json, read_spec
from plugin.cli import main
from plugin.lab.server import BackgroundServer
from plugin.service import create_service
from plugin.settings import Settings
from plugin.sources import SampleSource

FIXTURES = Path(__file__).parent / "fixtures" / "check"
SAMPLE = Settings(source="sample")
EVERYTHING = ("manifest", "logo", "legal page", "spec", "CORS", "MCP")


def rules(report: Report) -> list[tuple[str, str, str]]:
    """Each finding as (severity, rule, where), in order: what a test compares first."""
    return [(f.severity, f.rule, f.where) for f in report.findings]


def message(report: Report, rule: str) -> str:
    (found,) = [f.message for f in report.findings if f.rule == rule]
    return found


def command(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m plugin check")
    add_arguments(parser)
    return parser.parse_args(list(argv))


@pytest.fixture(scope="module")
def service() -> Iterator[str]:
    """Our whole service (REST and /mcp) on the sample prices, in-process on a free port."""
    with BackgroundServer(create_service(SAMPLE, source=SampleSource()), name="test-check-service") as server:
        yield server.url


# -- our own service passes --------------------------------------------------------------------------------------


def test_our_served_plugin_passes_every_check_as_users_run_it(capsys: pytest.CaptureFixture[str]) -> None:
    with serve("--source", "sample", "--port", "0") as server:
        status = main(["check", f"{server.url}/"])  # python -m plugin check URL
    out = capsys.readouterr().out
    assert status == 0
    assert out == f"0 errors, 0 warnings (plugin: {', '.join(EVERYTHING)})\n"


def test_our_mcp_endpoint_passes_and_its_tool_is_called_with_its_own_example(service: str) -> None:
    report = check(f"{service}/mcp")
    assert report.kind == "mcp"
    assert report.findings == ()
    assert report.checked == ("initialize", "tools/list (2 tools)", "tools/call get_prices")


def test_our_spec_alone_passes_as_a_gpt_action_on_this_machine(service: str) -> None:
    report = check(f"{service}/openapi.yaml")
    assert (report.kind, report.findings, report.checked) == ("action", (), ("spec",))


def test_with_a_token_our_plugin_passes_with_warnings_only_and_the_token_opens_mcp() -> None:
    with serve("--source", "sample", "--port", "0", "--token", "s3cret") as server:
        without = check(f"{server.url}/")
        with_token = check(f"{server.url}/", token="s3cret")
    expected = [
        ("warning", "deployment", "manifest.auth.verification_tokens.openai"),
        ("warning", "deployment", "manifest.auth"),
    ]
    assert rules(without) == [*expected, ("warning", "mcp-auth", "mcp")]
    assert without.exit_status == 0 and "MCP" not in without.checked
    assert "pass --token" in message(without, "mcp-auth")
    assert rules(with_token) == expected
    assert with_token.checked == EVERYTHING and with_token.exit_status == 0


# -- the 2023 tutorial's plugin ----------------------------------------------------------------------------------


def files_of_2023() -> dict[str, tuple[str, bytes]]:
    """The tutorial repository's three files, each served as text/json, as that repository served them."""
    paths = {
        "/.well-known/ai-plugin.json": "ai-plugin.json",
        "/openapi.json": "openapi.json",
        "/logo.png": "logo.png",
    }
    return {
        path: ("text/json", (FIXTURES / "plugin-2023" / name).read_bytes()) for path, name in paths.items()
    }


@pytest.fixture(scope="module")
def plugin_2023() -> Iterator[str]:
    # It ran on localhost against ChatGPT in 2023, so it allowed CORS from ChatGPT's origin of the time.
    app = static_site(files_of_2023(), cors_origins=["https://chat.openai.com"])
    with BackgroundServer(app, name="test-check-2023") as server:
        yield server.url


def test_the_2023_tutorials_plugin_fails_with_the_documented_findings(plugin_2023: str) -> None:
    report = check(f"{plugin_2023}/")
    assert rules(report) == [
        ("error", "content-type", "manifest"),
        ("error", "manifest-url-is-email", "manifest.legal_info_url"),
        ("error", "content-type", "logo"),
        ("error", "content-type", "spec"),
        ("error", "plugin-servers", "servers"),
        ("error", "plugin-operation-id", "paths./get_prices.post"),
        ("error", "typed-responses", "paths./get_prices.post.responses.200"),
        ("warning", "not-consequential", "paths./get_prices.post"),
        ("warning", "cors", "cors https://chatgpt.com"),
    ]
    assert report.checked == ("manifest", "logo", "spec", "CORS")
    assert report.exit_status == 1
    said = [f.message for f in report.findings]
    assert said[0] == "ai-plugin.json is served as text/json; serve it as application/json"
    assert said[1].startswith(
        "legal_info_url must be a web address such as https://example.com/legal, not an email"
    )
    assert said[3] == "the spec is served as text/json; serve it as application/json"
    assert said[4] == "servers is missing; without it ChatGPT calls whichever host served the spec"
    assert "'get_prices_get_prices_post' is not a short camelCase name" in said[5]
    assert "x-openai-isConsequential: false" in said[7]


def test_the_2023_spec_alone_is_judged_by_the_gpt_action_rules_only(plugin_2023: str) -> None:
    report = check(f"{plugin_2023}/openapi.json")
    assert report.kind == "action"
    assert rules(report) == [
        ("error", "content-type", "spec"),
        ("error", "https-servers", "servers"),
        ("error", "typed-responses", "paths./get_prices.post.responses.200"),
        ("warning", "not-consequential", "paths./get_prices.post"),
    ]


def test_json_output_is_a_list_of_findings_with_four_fields(
    plugin_2023: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(command(f"{plugin_2023}/", "--json")) == 1
    printed = json.loads(capsys.readouterr().out)
    assert [set(finding) for finding in printed] == [{"severity", "rule", "where", "message"}] * 9
    assert printed[1] == {
        "severity": "error",
        "rule": "manifest-url-is-email",
        "where": "manifest.legal_info_url",
        "message": printed[1]["message"],
    }


def test_text_output_lists_errors_first_then_one_summary_line(
    plugin_2023: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(command(f"{plugin_2023}/")) == 1
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[:-1]] == ["error"] * 7 + ["warning"] * 2
    assert lines[0].endswith("[content-type]") and "manifest" in lines[0]
    assert lines[-1] == "7 errors, 2 warnings (plugin: manifest, logo, spec, CORS)"


# -- one broken rule each ----------------------------------------------------------------------------------------


def with_manifest(manifest: bytes) -> ASGIApp:
    """Our whole service, but answering `manifest` at /.well-known/ai-plugin.json, its localhost:8000 made ours."""
    app = create_service(SAMPLE, source=SampleSource())

    async def serving(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/.well-known/ai-plugin.json":
            here = b"http://" + dict(scope["headers"])[b"host"]
            body = manifest.replace(b"http://localhost:8000", here)
            return await Response(body, media_type="application/json")(scope, receive, send)
        await app(scope, receive, send)

    return serving


def test_a_manifest_with_a_trailing_comma_is_invalid_json_with_its_line_and_column() -> None:
    manifest = (FIXTURES / "trailing-comma" / "ai-plugin.json").read_bytes()
    with BackgroundServer(with_manifest(manifest), name="test-check-comma") as server:
        report = check(f"{server.url}/")
    assert report.findings == (
        Finding(
            "error",
            "invalid-json",
            "manifest",
            "ai-plugin.json is not valid JSON: line 16, column 51: a comma before '}' (JSON allows no trailing comma)",
        ),
    )
    assert report.checked == ("manifest", "MCP")


def test_a_description_over_its_limit_names_the_field_and_the_limit() -> None:
    manifest = TestClient(create_service(SAMPLE)).get("/.well-known/ai-plugin.json").json()
    too_long = json.dumps(manifest | {"description_for_model": "x" * 8600}).encode()
    with BackgroundServer(with_manifest(too_long), name="test-check-long") as server:
        report = check(f"{server.url}/")
    assert report.findings == (
        Finding(
            "error",
            "manifest-too-long",
            "manifest.description_for_model",
            "description_for_model is 8,600 characters; at most 8,000 are allowed",
        ),
    )
    assert report.checked == EVERYTHING


def mcp_server_without_output_schema() -> Any:
    """An MCP server as the SDK serves it by default (an event stream, a session), with a tool that returns text."""
    from mcp.server.mcpserver import MCPServer
    from mcp.types import ToolAnnotations

    server = MCPServer("prices-as-text", instructions="Stock prices as text.", log_level="WARNING")
    hints = ToolAnnotations(readOnlyHint=True, destructiveHint=False, openWorldHint=True)

    @server.tool(description="The latest price of a stock.", annotations=hints, structured_output=False)
    def get_prices(tickers: Annotated[list[str], Field(examples=[["AAPL"]])]) -> str:
        return f"{tickers[0]} 169.595 USD"

    return server.streamable_http_app()


def test_an_mcp_server_whose_tool_lacks_an_output_schema_fails() -> None:
    with BackgroundServer(mcp_server_without_output_schema(), name="test-check-mcp") as server:
        report = check(f"{server.url}/mcp")
    assert report.findings == (
        Finding(
            "error",
            "mcp-output-schema",
            "tool get_prices",
            "tool get_prices has no outputSchema: declare the JSON its structuredContent holds, so clients can "
            "check it",
        ),
    )
    assert report.checked == ("initialize", "tools/list (1 tool)", "tools/call get_prices")
    assert report.exit_status == 1


PRICES_TOOL: dict[str, Any] = {
    "name": "get_prices",
    "description": "Latest prices by Yahoo Finance symbol.",
    "inputSchema": {
        "type": "object",
        "properties": {"tickers": {"type": "array", "items": {"type": "string"}, "examples": [["AAPL"]]}},
        "required": ["tickers"],
    },
    "outputSchema": {
        "type": "object",
        "properties": {"quotes": {"type": "array", "items": {"type": "object"}}},
        "required": ["quotes"],
    },
    "annotations": {"readOnlyHint": True, "destructiveHint": False, "openWorldHint": True},
}
ANSWER: dict[str, Any] = {
    "content": [{"type": "text", "text": '{"quotes": [{"symbol": "AAPL"}]}'}],
    "structuredContent": {"quotes": [{"symbol": "AAPL"}]},
}


def hand_made_mcp(tool: dict[str, Any], answer: dict[str, Any], instructions: str = "Prices.") -> ASGIApp:
    """An MCP server written out by hand, in JSON without sessions: it lists `tool` and answers a call with `answer`."""

    async def endpoint(request: Request) -> Response:
        message = await request.json()
        if "id" not in message:
            return Response(status_code=202)
        hello = {"protocolVersion": "2025-06-18", "capabilities": {"tools": {}}, "instructions": instructions}
        results = {"initialize": hello, "tools/list": {"tools": [tool]}, "tools/call": answer}
        return JSONResponse({"jsonrpc": "2.0", "id": message["id"], "result": results[message["method"]]})

    return Starlette(routes=[Route("/mcp", endpoint, methods=["POST"])])


@pytest.mark.parametrize(
    ("tool", "answer", "instructions", "expected"),
    [
        (PRICES_TOOL, ANSWER, "Prices.", []),
        (PRICES_TOOL, ANSWER, "x" * 600, [("warning", "mcp-instructions", "mcp.instructions")]),
        ({**PRICES_TOOL, "description": ""}, ANSWER, "", [("error", "mcp-description", "tool get_prices")]),
        (
            {**PRICES_TOOL, "inputSchema": {"type": "objekt"}},
            ANSWER,
            "",
            [("error", "mcp-input-schema", "tool get_prices")],
        ),
        (
            {**PRICES_TOOL, "outputSchema": {"type": "array"}},
            ANSWER,
            "",
            [("error", "mcp-output-schema", "tool get_prices")],
        ),
        (
            {**PRICES_TOOL, "annotations": {"readOnlyHint": True}},
            ANSWER,
            "",
            [("warning", "mcp-annotations", "tool get_prices")],
        ),
        (PRICES_TOOL, {**ANSWER, "isError": True}, "", [("error", "mcp-call", "tool get_prices")]),
        (
            PRICES_TOOL,
            {**ANSWER, "structuredContent": {"quotes": "AAPL"}},
            "",
            [("error", "mcp-structured-content", "tool get_prices")],
        ),
        (PRICES_TOOL, {**ANSWER, "content": []}, "", [("warning", "mcp-text-content", "tool get_prices")]),
    ],
    ids=[
        "passing",
        "long instructions",
        "no description",
        "input schema not JSON Schema",
        "output not an object",
        "hints missing",
        "tool error",
        "structured content off its schema",
        "no text block",
    ],
)
def test_each_mcp_rule_is_reported_for_the_tool_that_breaks_it(
    tool: dict[str, Any], answer: dict[str, Any], instructions: str, expected: list[tuple[str, str, str]]
) -> None:
    with BackgroundServer(hand_made_mcp(tool, answer, instructions), name="test-check-hand-made") as server:
        report = check(f"{server.url}/mcp")
    assert rules(report) == expected


def test_mcp_messages_name_the_limit_and_what_was_wrong() -> None:
    long_hello = hand_made_mcp(PRICES_TOOL, {**ANSWER, "structuredContent": {"quotes": "AAPL"}}, "x" * 600)
    with BackgroundServer(long_hello, name="test-check-mcp-messages") as server:
        report = check(f"{server.url}/mcp")
    assert message(report, "mcp-instructions") == (
        "instructions are 600 characters; a client may show the model only the first 512: put what matters there"
    )
    assert message(report, "mcp-structured-content") == (
        'tool get_prices\'s structuredContent breaks its outputSchema at /quotes: "AAPL" is not of type "array"'
    )


def test_a_tool_that_is_not_read_only_is_never_called() -> None:
    writes = {
        **PRICES_TOOL,
        "annotations": {"readOnlyHint": False, "destructiveHint": True, "openWorldHint": True},
    }
    with BackgroundServer(hand_made_mcp(writes, {"isError": True}), name="test-check-writes") as server:
        report = check(f"{server.url}/mcp")
    assert report.findings == () and report.checked == ("initialize", "tools/list (1 tool)")


# -- what is fetched, and for how long ---------------------------------------------------------------------------


def test_a_url_that_cannot_be_fetched_exits_2_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    assert main(["check", url, "--json"]) == 2
    printed = capsys.readouterr()
    assert printed.out == ""
    assert printed.err == f"error: cannot check {url}: connection refused\n"


async def _chunks(count: int) -> Any:
    for _ in range(count):
        yield b"x" * 50_000
        await asyncio.sleep(0)  # the server notices a client that has gone


class Counted:
    """A fixture app that counts the requests it gets."""

    def __init__(self, app: ASGIApp) -> None:
        self.app, self.requests = app, 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            self.requests += 1
        await self.app(scope, receive, send)


def test_an_answer_over_the_size_limit_is_refused_without_being_read_whole() -> None:
    endless = StreamingResponse(_chunks(10**9), media_type="application/json")
    announced = StreamingResponse(
        _chunks(MAX_BYTES // 50_000 + 1), media_type="application/json", headers={"Content-Length": "1050000"}
    )
    app = Starlette(
        routes=[Route("/endless.json", lambda r: endless), Route("/announced.json", lambda r: announced)]
    )
    with BackgroundServer(app, name="test-check-size") as server:
        started = time.monotonic()
        with pytest.raises(Unreachable) as refused:
            check(f"{server.url}/endless.json")
        assert time.monotonic() - started < 5, "it read on, past the limit"
        with pytest.raises(Unreachable) as declared:
            check(f"{server.url}/announced.json")
    assert str(refused.value).endswith("the answer is over 1,000,000 bytes; check stopped reading there")
    assert str(declared.value).endswith("the answer is 1,050,000 bytes; check reads at most 1,000,000")


def test_a_redirect_to_another_host_is_not_followed_and_one_on_the_same_host_is() -> None:
    elsewhere = Counted(static_site({"/openapi.json": ("application/json", b"{}")}))
    with BackgroundServer(elsewhere, name="test-check-elsewhere") as other:
        away = other.url.replace("127.0.0.1", "localhost")
        spec = (FIXTURES / "plugin-2023" / "openapi.json").read_bytes()
        app = Starlette(
            routes=[
                Route("/away", lambda r: RedirectResponse(f"{away}/openapi.json")),
                Route("/moved", lambda r: RedirectResponse("/openapi.json", status_code=301)),
                Route("/openapi.json", lambda r: Response(spec, media_type="application/json")),
            ]
        )
        with BackgroundServer(app, name="test-check-redirects") as server:
            url = server.url
            with pytest.raises(Unreachable) as refused:
                check(f"{url}/away", as_="action")
            moved = check(f"{url}/moved", as_="action")
    assert str(refused.value) == (
        f"cannot check {url}/away: it redirects to localhost, another host; check follows no redirect "
        "away from 127.0.0.1"
    )
    assert elsewhere.requests == 0
    assert ("error", "typed-responses", "paths./get_prices.post.responses.200") in rules(moved)


def test_an_answer_that_never_comes_is_given_up_on_within_the_timeout() -> None:
    async def never(request: Request) -> Response:
        await asyncio.sleep(60)
        return Response("{}")

    app = Starlette(routes=[Route("/openapi.json", never)])
    with BackgroundServer(app, name="test-check-slow", shutdown_timeout=0.5) as server:
        started = time.monotonic()
        with pytest.raises(Unreachable, match=r": no complete answer within 0\.5 s$"):
            check(f"{server.url}/openapi.json", timeout=0.5)
        assert time.monotonic() - started < 3


def test_links_to_another_host_are_not_fetched() -> None:
    manifest = (FIXTURES / "plugin-2023" / "ai-plugin.json").read_text()
    moved = manifest.replace("http://localhost:8000/logo.png", "https://cdn.example.com/logo.png")
    with BackgroundServer(with_manifest(moved.encode()), name="test-check-links") as server:
        report = check(f"{server.url}/")
    (logo,) = [f for f in report.findings if f.where == "manifest.logo_url"]
    assert logo == Finding(
        "warning",
        "other-host",
        "manifest.logo_url",
        "the logo is on cdn.example.com, not 127.0.0.1: check fetches from the host it was given only",
    )


# -- reading documents, and the spec's rules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            b'{"a": 1,\n "b": [1, 2,]}',
            "line 2, column 12: a comma before ']' (JSON allows no trailing comma)",
        ),
        (b'{"a": 1,\n}', "line 1, column 8: a comma before '}' (JSON allows no trailing comma)"),
        (b'{"a" 1}', "line 1, column 6: expecting ':' delimiter"),
        (b"", "line 1, column 1: expecting value"),
        (b"\xff{}", "byte 1 is not UTF-8, and JSON is UTF-8 text"),
        (b"[" * 100_000, "it nests too deeply to be read"),
    ],
)
def test_invalid_json_is_reported_with_its_line_and_column(body: bytes, problem: str) -> None:
    with pytest.raises(Unreadable) as unreadable:
        read_json(body, "ai-plugin.json", "manifest")
    assert unreadable.value.finding == Finding(
        "error", "invalid-json", "manifest", f"ai-plugin.json is not valid JSON: {problem}"
    )


def test_yaml_is_read_with_its_line_and_column_and_alias_bombs_are_refused() -> None:
    with pytest.raises(Unreadable, match=r"not valid YAML: line 2, column 1: expected ',' or '}'"):
        read_spec(b"info: {title: x\n", "application/yaml")
    bomb = b"a: &a [x, x, x, x, x, x, x, x, x, x]\n" + b"".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n".encode() for i in range(6)
    )
    with pytest.raises(Unreadable, match=f"expand it to over {MAX_NODES:,} values"):
        read_spec(bomb, "application/yaml")
    assert read_spec(b"paths:\n  /a: {get: {responses: {200: {description: ok}}}}\n", "application/yaml") == {
        "paths": {"/a": {"get": {"responses": {"200": {"description": "ok"}}}}}
    }


def test_a_spec_that_is_not_valid_openapi_gets_only_the_schemas_findings() -> None:
    spec = json.loads((FIXTURES / "plugin-2023" / "openapi.json").read_text())
    spec["paths"]["/get_prices"]["post"]["parameters"][0]["in"] = "body"
    assert check_spec(spec, kind="action", local=True) == [
        Finding(
            "error",
            "openapi-schema",
            "paths./get_prices.post.parameters[0]",
            "not valid OpenAPI 3.0: this value is not valid under any of the schemas listed in the 'oneOf' keyword",
        )
    ]
    assert [f.rule for f in check_spec({"swagger": "2.0"}, kind="action", local=True)] == ["openapi-version"]


def test_a_plugins_servers_must_be_on_the_manifests_origin() -> None:
    spec = read_spec(TestClient(create_service(SAMPLE)).get("/openapi.yaml").content, "application/yaml")
    assert check_spec(spec, kind="plugin", local=True, origin="http://localhost:8000") == []
    (moved,) = check_spec(spec, kind="plugin", local=True, origin="http://127.0.0.1:8000")
    assert (moved.rule, moved.where) == ("servers-origin", "servers[0].url")
    public = {**spec, "servers": [{"url": "http://localhost:8000"}]}
    assert [f.rule for f in check_spec(public, kind="action", local=False)] == ["https-servers"]


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://localhost:8000", "plugin"),
        ("http://localhost:8000/", "plugin"),
        ("http://localhost:8000/.well-known/ai-plugin.json", "plugin"),
        ("http://localhost:8000/mcp", "mcp"),
        ("https://prices.example.com/mcp/", "mcp"),
        ("http://localhost:8000/openapi.yaml", "action"),
        ("https://api.example.com/v1/openapi.json", "action"),
    ],
)
def test_what_a_url_serves_is_guessed_from_its_path(url: str, kind: str) -> None:
    assert guess_kind(url) == kind


def test_a_url_that_is_not_http_is_refused_before_anything_is_fetched() -> None:
    with pytest.raises(
        Unreachable, match=r"cannot check 'ftp://example.com/': give an http:// or https:// URL"
    ):
        check("ftp://example.com/")


@pytest.mark.parametrize("timeout", ["0", "-1", "121", "soon"])
def test_a_timeout_must_be_a_bounded_number_of_seconds(
    timeout: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        command("http://localhost:8000/", "--timeout", timeout)
    assert "is not a timeout" in capsys.readouterr().err
