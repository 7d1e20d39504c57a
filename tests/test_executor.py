"""plugin.lab.executor: the executor checks a model's tool call against the spec, sends it, and answers with data or a recoverable error."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from support import DownSource, free_port

from plugin.lab.executor import ToolCall, ToolExecutor, fetch_plugin
from plugin.spec_refs import SpecError

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"

Handler = Callable[[httpx.Request], httpx.Response]


class Recorder:
    """A fake bookshop server at the HTTP boundary: it records each request and answers with `reply`."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.reply: Handler = lambda request: httpx.Response(200, json={"ok": True})

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.reply(request)


@pytest.fixture
def server() -> Recorder:
    return Recorder()


@pytest.fixture
def executor(server: Recorder) -> Iterator[ToolExecutor]:
    spec = yaml.safe_load((FIXTURES / "specs_bookshop.yaml").read_text())
    with (
        httpx.Client(transport=httpx.MockTransport(server)) as client,
        ToolExecutor(spec, client=client) as ex,
    ):
        yield ex


def _error(result: Any) -> dict[str, Any]:
    assert not result.ok
    return json.loads(result.content)["error"]


# --- valid calls become the request the spec describes -------------------------------------------------------------


def test_a_valid_call_is_sent_to_the_specs_server_and_its_json_returned(
    executor: ToolExecutor, server: Recorder
) -> None:
    server.reply = lambda request: httpx.Response(
        200, json=[{"title": "Dune", "author": {"name": "Herbert"}}]
    )
    result = executor.execute("searchBooks", '{"q": "dune"}')
    assert result.ok and result.status == 200
    assert result.data == [{"title": "Dune", "author": {"name": "Herbert"}}]
    assert json.loads(result.content) == result.data
    (request,) = server.requests
    assert request.method == "GET"
    assert str(request.url) == "https://books.example/api/books?q=dune"


def test_an_array_query_argument_is_written_with_the_specs_style(
    executor: ToolExecutor, server: Recorder
) -> None:
    executor.execute("searchBooks", {"q": "rome", "genres": ["history", "poetry"], "limit": 5})
    (request,) = server.requests
    assert request.url.params.get_list("genres") == ["history,poetry"]  # explode: false
    assert request.url.params["limit"] == "5"


def test_an_exploded_array_repeats_the_parameter_and_an_exploded_object_spreads_its_keys(
    executor: ToolExecutor, server: Recorder
) -> None:
    executor.execute("get_categories", {"fields": ["name", "children"], "root": {"name": "fiction"}})
    (request,) = server.requests
    assert request.url.params.get_list("fields") == ["name", "children"]
    assert request.url.params["name"] == "fiction"


def test_body_fields_travel_as_a_json_object_and_headers_as_headers(
    executor: ToolExecutor, server: Recorder
) -> None:
    arguments = {"title": "Dune", "author": {"name": "Herbert"}, "price": None, "X-Request-Id": "r-1"}
    executor.execute("addBook", json.dumps(arguments))
    (request,) = server.requests
    assert request.method == "POST" and request.url.path == "/api/books"
    assert json.loads(request.content) == {"title": "Dune", "author": {"name": "Herbert"}, "price": None}
    assert request.headers["X-Request-Id"] == "r-1"
    assert request.headers["content-type"] == "application/json"


def test_path_arguments_are_escaped_and_a_non_object_body_is_sent_whole(
    executor: ToolExecutor, server: Recorder
) -> None:
    server.reply = lambda request: httpx.Response(204)
    result = executor.execute("books_tags_replace", {"isbn": "9780441013593", "body": ["sci-fi", "classic"]})
    assert result.ok and result.status == 204
    (request,) = server.requests
    assert request.method == "PUT" and request.url.path == "/api/books/9780441013593/tags"
    assert json.loads(request.content) == ["sci-fi", "classic"]


def test_a_tool_call_from_the_openai_format_is_executed(executor: ToolExecutor, server: Recorder) -> None:
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "searchBooks", "arguments": '{"q": "dune"}'},
    }
    assert ToolCall.from_openai(call) == ToolCall("searchBooks", '{"q": "dune"}', "call_1")
    assert executor.execute_call(call).ok
    assert len(server.requests) == 1


def test_base_url_given_explicitly_wins_over_the_specs_servers(server: Recorder) -> None:
    spec = yaml.safe_load((FIXTURES / "specs_bookshop.yaml").read_text())
    with httpx.Client(transport=httpx.MockTransport(server)) as client:
        ToolExecutor(spec, base_url="http://127.0.0.1:9/", client=client).execute("searchBooks", {"q": "ab"})
    assert str(server.requests[0].url) == "http://127.0.0.1:9/books?q=ab"


# --- bad calls are refused before any request, with what is allowed ------------------------------------------------


def test_an_unknown_operation_is_refused_listing_the_real_ones(
    executor: ToolExecutor, server: Recorder
) -> None:
    error = _error(executor.execute("searchBook", '{"q": "dune"}'))
    assert error["code"] == "unknown_operation"
    assert error["operations"] == ["searchBooks", "addBook", "books_tags_replace", "get_categories"]
    assert "no operation 'searchBook'" in error["message"] and "Did you mean searchBooks?" in error["message"]
    assert server.requests == [] and executor.round_trips == 0


def test_arguments_that_are_not_json_are_refused_saying_where(
    executor: ToolExecutor, server: Recorder
) -> None:
    error = _error(executor.execute("searchBooks", "{'q': 'dune'}"))
    assert error["code"] == "invalid_json"
    assert "line 1, column 2" in error["message"] and "keys: q, genres, limit" in error["message"]
    assert server.requests == []


def test_empty_arguments_mean_no_arguments(executor: ToolExecutor) -> None:
    assert executor.check("get_categories", "")[1] == {}


def test_arguments_that_are_json_but_not_an_object_are_refused(executor: ToolExecutor) -> None:
    error = _error(executor.execute("searchBooks", '["dune"]'))
    assert error["problems"] == [
        {"field": "(arguments)", "rule": "type", "message": 'must be of type object, got array ["dune"]'}
    ]


@pytest.mark.parametrize(
    ("name", "arguments", "problem"),
    [
        ("searchBooks", {}, {"field": "q", "rule": "required", "message": "is required"}),
        (
            "searchBooks",
            {"q": "a"},
            {"field": "q", "rule": "minLength", "message": 'must have at least 2 characters; got 1 ("a")'},
        ),
        (
            "searchBooks",
            {"q": "dune", "limit": "5"},
            {"field": "limit", "rule": "type", "message": 'must be of type integer, got string "5"'},
        ),
        (
            "searchBooks",
            {"q": "dune", "limit": 500},
            {"field": "limit", "rule": "maximum", "message": "must be <= 50; got 500"},
        ),
        (
            "searchBooks",
            {"q": "dune", "genres": "history"},
            {"field": "genres", "rule": "type", "message": 'must be of type array, got string "history"'},
        ),
        (
            "searchBooks",
            {"q": "dune", "genres": ["history", "cookery"]},
            {
                "field": "genres[1]",
                "rule": "enum",
                "message": 'must be one of "fiction", "history", "science", "poetry"; got "cookery"',
            },
        ),
        (
            "searchBooks",
            {"q": "dune", "genres": ["history"] * 4},
            {"field": "genres", "rule": "maxItems", "message": "must have at most 3 items; got 4"},
        ),
        (
            "searchBooks",
            {"q": "dune", "query": "dune"},
            {
                "field": "query",
                "rule": "additionalProperties",
                "message": "is not an argument of searchBooks (its arguments: q, genres, limit)",
            },
        ),
        (
            "addBook",
            {"title": "Dune", "author": {}},
            {"field": "author.name", "rule": "required", "message": "is required"},
        ),
        (
            "books_tags_replace",
            {"isbn": "978-0441013593", "body": []},
            {
                "field": "isbn",
                "rule": "pattern",
                "message": 'must match the pattern ^[0-9]{13}$; got "978-0441013593"',
            },
        ),
    ],
)
def test_arguments_breaking_the_schema_are_refused_naming_field_and_rule(
    executor: ToolExecutor, server: Recorder, name: str, arguments: dict, problem: dict
) -> None:
    error = _error(executor.execute(name, json.dumps(arguments)))
    assert error["code"] == "invalid_arguments"
    assert problem in error["problems"]
    assert f"{problem['field']} {problem['message']}" in error["message"]
    assert server.requests == []


def test_every_missing_and_every_unexpected_argument_is_named_once(executor: ToolExecutor) -> None:
    error = _error(executor.execute("addBook", {"isbn": "1", "pages": 2}))
    assert [(p["field"], p["rule"]) for p in error["problems"]] == [
        ("isbn", "additionalProperties"),
        ("pages", "additionalProperties"),
        ("title", "required"),
        ("author", "required"),
    ]


def test_formats_are_checked_before_sending() -> None:
    spec = {
        "openapi": "3.1.0",
        "servers": [{"url": "https://diary.example.com"}],
        "paths": {
            "/entries": {
                "get": {
                    "operationId": "listEntries",
                    "parameters": [
                        {"name": "since", "in": "query", "schema": {"type": "string", "format": "date"}}
                    ],
                    "responses": {"200": {"description": "OK"}},
                }
            }
        },
    }
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(lambda request: sent.append(request) or httpx.Response(200, json=[]))
    with httpx.Client(transport=transport) as client, ToolExecutor(spec, client=client) as diary:
        error = _error(diary.execute("listEntries", {"since": "last tuesday"}))
        assert diary.execute("listEntries", {"since": "2024-05-02"}).ok
    assert error["problems"] == [
        {"field": "since", "rule": "format", "message": '"last tuesday" is not a "date"'}
    ]
    assert [request.url.params["since"] for request in sent] == ["2024-05-02"]


def test_checking_a_call_does_not_load_the_pure_python_jsonschema() -> None:
    """Its import loads every installed format checker; one that Jupyter brings builds a parser for a second."""
    code = (
        "import sys, yaml; from pathlib import Path; from plugin.lab.executor import ToolExecutor; "
        "spec = yaml.safe_load(Path('tests/fixtures/specs_bookshop.yaml').read_text()); "
        "error = ToolExecutor(spec).check('searchBooks', {'q': 'a'}); "
        "print(error.problems[0].rule, sorted(m for m in ('jsonschema', 'rfc3987_syntax') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "minLength []", done.stderr


def test_a_refusal_quotes_the_parameters_own_description(executor: ToolExecutor) -> None:
    error = _error(executor.execute("searchBooks", {"q": "dune", "genres": "history"}))
    assert "genres: Genres to keep; books of any genre when left out." in error["message"]


# --- the server's errors reach the model as structured errors ------------------------------------------------------


def test_a_server_422_is_surfaced_with_status_and_the_servers_message(
    executor: ToolExecutor, server: Recorder
) -> None:
    body = {"error": {"code": "invalid_request", "message": "q must not be only stop words like 'the'"}}
    server.reply = lambda request: httpx.Response(422, json=body)
    result = executor.execute("searchBooks", {"q": "the"})
    error = _error(result)
    assert result.status == 422
    assert error == {
        "code": "rejected",
        "message": "The plugin answered 422: q must not be only stop words like 'the'",
        "status": 422,
    }
    assert (
        result.error is not None and result.error.body == body
    )  # kept for programs, not repeated to the model


def test_fastapis_own_validation_detail_is_read_too(executor: ToolExecutor, server: Recorder) -> None:
    detail = {"detail": [{"loc": ["query", "q"], "msg": "Field required", "type": "missing"}]}
    server.reply = lambda request: httpx.Response(422, json=detail)
    assert (
        _error(executor.execute("searchBooks", {"q": "dune"}))["message"]
        == "The plugin answered 422: q: Field required"
    )


def test_a_server_503_carries_retry_after_from_the_header(executor: ToolExecutor, server: Recorder) -> None:
    server.reply = lambda request: httpx.Response(
        503, headers={"Retry-After": "30"}, json={"message": "catalogue offline"}
    )
    error = _error(executor.execute("searchBooks", {"q": "dune"}))
    assert (error["code"], error["status"], error["retry_after"]) == ("unavailable", 503, 30.0)
    assert error["message"] == "The plugin answered 503: catalogue offline"


def test_a_429_reads_retry_after_from_the_body_when_there_is_no_header(
    executor: ToolExecutor, server: Recorder
) -> None:
    server.reply = lambda request: httpx.Response(
        429, json={"error": {"message": "slow down", "retry_after": 2.5}}
    )
    error = _error(executor.execute("searchBooks", {"q": "dune"}))
    assert (error["code"], error["retry_after"]) == ("rate_limited", 2.5)


def test_a_404_with_a_plain_text_body_still_gives_a_message(executor: ToolExecutor, server: Recorder) -> None:
    server.reply = lambda request: httpx.Response(404, text="no such shelf")
    error = _error(executor.execute("searchBooks", {"q": "dune"}))
    assert error == {"code": "not_found", "message": "The plugin answered 404: no such shelf", "status": 404}


def test_an_unreachable_server_is_an_error_not_an_exception(executor: ToolExecutor, server: Recorder) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    server.reply = refuse
    error = _error(executor.execute("searchBooks", {"q": "dune"}))
    assert error["code"] == "unreachable" and "ConnectError" in error["message"]
    assert [str(trip) for trip in executor.log] == ["GET /api/books?q=dune -> no answer"]


# --- the log counts what a plan costs ------------------------------------------------------------------------------


def test_the_log_counts_only_requests_actually_sent(executor: ToolExecutor, server: Recorder) -> None:
    executor.execute("searchBooks", {"q": "dune"})
    executor.execute("searchBooks", {"q": "x"})  # refused: no request
    executor.execute("nope", {})  # refused: no request
    executor.execute("searchBooks", {"q": "rome", "genres": ["history", "poetry"]})
    assert executor.round_trips == 2 == len(server.requests)
    assert [str(trip) for trip in executor.log] == [
        "GET /api/books?q=dune -> 200",
        "GET /api/books?q=rome&genres=history,poetry -> 200",
    ]
    assert all(trip.operation == "searchBooks" and trip.elapsed >= 0 for trip in executor.log)


def test_the_executor_closes_only_a_client_it_created(server: Recorder) -> None:
    spec = yaml.safe_load((FIXTURES / "specs_bookshop.yaml").read_text())
    client = httpx.Client(transport=httpx.MockTransport(server))
    with ToolExecutor(spec, client=client):
        pass
    assert not client.is_closed
    client.close()


# --- against our own API, in-process ------------------------------------------------------------------------------


@contextmanager
def _plugin_executor(
    source: Any = None, spec_patch: Callable[[dict], None] | None = None
) -> Iterator[ToolExecutor]:
    """An executor for our app, in-process; `spec_patch` edits the spec the executor works from."""
    from fastapi.testclient import TestClient

    from plugin.app import create_app
    from plugin.settings import Settings

    app = create_app(Settings(source="sample"), source=source)
    spec = app.openapi()
    if spec_patch:
        spec = json.loads(json.dumps(spec))
        spec_patch(spec)
    with TestClient(app) as client, ToolExecutor(spec, base_url="http://testserver", client=client) as ex:
        yield ex


@pytest.fixture
def plugin() -> Iterator[ToolExecutor]:
    with _plugin_executor() as executor:
        yield executor


def test_the_tutorials_call_returns_apples_price(plugin: ToolExecutor) -> None:
    result = plugin.execute("getPrices", '{"tickers": "AAPL"}')
    assert result.ok and result.status == 200
    assert [(q["symbol"], q["price"]) for q in result.data["quotes"]] == [("AAPL", 169.595)]
    assert [str(trip) for trip in plugin.log] == ["GET /get_prices?tickers=AAPL -> 200"]


def test_the_json_body_operation_gives_the_same_answer(plugin: ToolExecutor) -> None:
    by_get = plugin.execute("getPrices", '{"tickers": "AAPL,BTC-USD"}').data
    by_post = plugin.execute("postPrices", '{"tickers": ["AAPL", "BTC-USD"]}').data
    assert by_get == by_post and len(by_get["quotes"]) == 2
    assert [str(trip) for trip in plugin.log][1] == "POST /get_prices -> 200"


def test_an_unknown_operation_lists_our_three(plugin: ToolExecutor) -> None:
    error = _error(plugin.execute("getStockPrice", '{"symbol": "AAPL"}'))
    assert error["operations"] == ["getPrices", "postPrices", "getFundamentals"]
    assert plugin.round_trips == 0


def test_a_company_name_in_the_array_form_is_refused_before_sending(plugin: ToolExecutor) -> None:
    error = _error(plugin.execute("postPrices", '{"tickers": "Apple"}'))
    assert error["problems"] == [
        {"field": "tickers", "rule": "type", "message": 'must be of type array, got string "Apple"'}
    ]
    assert "tickers: 1 to 25 Yahoo Finance symbols" in error["message"]
    assert plugin.round_trips == 0


def test_too_many_symbols_in_the_array_form_are_refused_before_sending(plugin: ToolExecutor) -> None:
    error = _error(plugin.execute("postPrices", {"tickers": [f"S{i}" for i in range(26)]}))
    assert error["problems"] == [
        {"field": "tickers", "rule": "maxItems", "message": "must have at most 25 items; got 26"}
    ]


def test_a_server_422_is_surfaced_with_the_servers_own_problems() -> None:
    def drop_pattern(
        spec: dict,
    ) -> None:  # a spec that says less than the server checks: only it counts symbols
        del spec["paths"]["/get_prices"]["get"]["parameters"][0]["schema"]["pattern"]

    with _plugin_executor(spec_patch=drop_pattern) as executor:
        result = executor.execute("getPrices", {"tickers": ",".join(f"S{i}" for i in range(26))})
    error = _error(result)
    assert (result.status, error["code"], error["status"]) == (422, "rejected", 422)
    assert error["message"] == "The plugin answered 422: tickers: at most 25 items per request, got 26"
    assert error["problems"] == [
        {"field": "tickers", "rule": "max_items", "message": "tickers: at most 25 items per request, got 26"}
    ]
    assert result.error is not None and result.error.body["error"]["code"] == "invalid_request"


def test_a_server_404_from_a_stale_spec_lists_what_exists() -> None:
    def add_removed_operation(spec: dict) -> None:  # a spec cached before an operation was removed
        spec["paths"]["/get_quote"] = {
            "get": {"operationId": "getQuote", "responses": {"200": {"description": "ok"}}}
        }

    with _plugin_executor(spec_patch=add_removed_operation) as executor:
        error = _error(executor.execute("getQuote", "{}"))
    assert (error["code"], error["status"]) == ("not_found", 404)
    assert error["message"].startswith(
        "The plugin answered 404: There is no GET /get_quote. This API has GET /get_prices"
    )
    assert error["operations"] == ["getPrices", "postPrices", "getFundamentals"]


def test_a_server_503_carries_retry_after_when_the_source_is_down() -> None:
    with _plugin_executor(source=DownSource()) as executor:
        result = executor.execute("getPrices", '{"tickers": "AAPL"}')
    error = _error(result)
    assert (result.status, error["code"], error["retry_after"]) == (503, "unavailable", 60.0)
    assert "cannot be reached" in error["message"] and "Retry after 60 s" in error["message"]
    assert error["problems"][0]["field"] == "tickers"


# --- reading a plugin, and one real server ------------------------------------------------------------------------


def test_fetch_plugin_reads_the_manifest_then_the_spec_it_names() -> None:
    seen: list[str] = []

    def plugin_host(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if request.url.path == "/.well-known/ai-plugin.json":
            return httpx.Response(
                200, json={"name_for_model": "bookshop", "api": {"type": "openapi", "url": "/spec/v1.yaml"}}
            )
        return httpx.Response(200, text=(FIXTURES / "specs_bookshop.yaml").read_text())

    with httpx.Client(transport=httpx.MockTransport(plugin_host)) as client:
        plugin = fetch_plugin("http://books.local/", client=client)
    assert seen == ["/.well-known/ai-plugin.json", "/spec/v1.yaml"]
    assert plugin.spec_url == "http://books.local/spec/v1.yaml"
    assert plugin.name_for_model == "bookshop" and plugin.spec["info"]["title"] == "Bookshop"


def test_fetch_plugin_refuses_a_manifest_without_an_openapi_url() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json={"api": {"type": "graphql"}}))
    with httpx.Client(transport=transport) as client, pytest.raises(SpecError, match="no .*openapi"):
        fetch_plugin("http://books.local", client=client)


def test_fetch_plugin_names_the_url_that_failed() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(404))
    with (
        httpx.Client(transport=transport) as client,
        pytest.raises(httpx.HTTPStatusError, match="ai-plugin.json"),
    ):
        fetch_plugin("http://books.local", client=client)


def test_against_a_real_server_the_executor_follows_the_manifest_and_spec() -> None:
    from plugin.app import create_app
    from plugin.lab.server import BackgroundServer
    from plugin.settings import Settings

    port = free_port()  # known before the app is built, so the manifest and spec name the real address
    settings = Settings(source="sample", port=port, base_url=f"http://127.0.0.1:{port}")
    with BackgroundServer(create_app(settings), port=port, name="test_executor") as server:
        plugin = fetch_plugin(server.url)
        with ToolExecutor(plugin.spec, spec_url=plugin.spec_url) as executor:
            assert executor.base_url == server.url
            prices = executor.execute("getPrices", '{"tickers": "AAPL,BTC-USD"}')
            figures = executor.execute("getFundamentals", '{"tickers": "AAPL"}')
            wrong = executor.execute("postPrices", '{"tickers": ["AAPL", "not a symbol!"]}')
    assert [(q["symbol"], q["price"]) for q in prices.data["quotes"]][0] == ("AAPL", 169.595)
    assert figures.data["fundamentals"][0]["pe_ratio"] > 0
    assert [e["code"] for e in wrong.data["errors"]] == ["invalid_symbol"]
    assert [str(trip) for trip in executor.log] == [
        "GET /get_prices?tickers=AAPL,BTC-USD -> 200",
        "GET /get_fundamentals?tickers=AAPL -> 200",
        "POST /get_prices -> 200",
    ]


def test_each_round_trip_is_announced_like_chatgpts_used_box(server: Recorder) -> None:
    spec = yaml.safe_load((FIXTURES / "specs_bookshop.yaml").read_text())
    lines: list[str] = []
    client = httpx.Client(transport=httpx.MockTransport(server))
    with client, ToolExecutor(spec, client=client, name="Bookshop", announce=lines.append) as executor:
        executor.execute("searchBooks", '{"q": "dune"}')
        executor.execute("searchBooks", '{"q": 1}')  # refused before sending: nothing to announce
    assert lines == ["Used Bookshop: GET /api/books?q=dune -> 200"]


def test_a_fetched_plugins_executor_is_named_by_name_for_human() -> None:
    def plugin_host(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/.well-known/ai-plugin.json":
            manifest = {"name_for_human": "Books", "api": {"type": "openapi", "url": "/openapi.yaml"}}
            return httpx.Response(200, json=manifest)
        if request.url.path == "/openapi.yaml":
            return httpx.Response(200, text=(FIXTURES / "specs_bookshop.yaml").read_text())
        return httpx.Response(200, json={"books": []})

    lines: list[str] = []
    with httpx.Client(transport=httpx.MockTransport(plugin_host)) as client:
        plugin = fetch_plugin("http://books.local", client=client)
        with plugin.executor(client=client, announce=lines.append) as executor:
            assert executor.execute("searchBooks", '{"q": "dune"}').data == {"books": []}
    assert lines == ["Used Books: GET /api/books?q=dune -> 200"]
