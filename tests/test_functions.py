"""plugin.lab.functions: OpenAPI operations become the function definitions a model receives (refs resolved, arguments
merged, names safe)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema_rs import meta

from plugin.lab.functions import (
    MAX_DESCRIPTION_LENGTH,
    Argument,
    operations_from_openapi,
    server_url,
    tools_from_openapi,
)
from plugin.lab.prompt import render_namespace
from plugin.spec_refs import HTTP_METHODS, SpecError, resolve_refs

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def bookshop() -> dict[str, Any]:
    return yaml.safe_load((FIXTURES / "specs_bookshop.yaml").read_text())


def _tools(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {tool["function"]["name"]: tool["function"] for tool in tools_from_openapi(spec)}


def _has_ref(node: Any) -> bool:
    if isinstance(node, dict):
        return "$ref" in node or any(_has_ref(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_ref(v) for v in node)
    return False


def test_every_operation_becomes_one_tool_in_openai_function_format(bookshop: dict) -> None:
    tools = tools_from_openapi(bookshop)
    assert [t["function"]["name"] for t in tools] == [
        "searchBooks",
        "addBook",
        "books_tags_replace",
        "get_categories",
    ]
    for tool in tools:
        assert tool["type"] == "function"
        assert set(tool["function"]) == {"name", "description", "parameters"}
        meta.validate(tool["function"]["parameters"])
        assert not _has_ref(tool), f"{tool['function']['name']} still has a $ref"


def test_nested_refs_are_inlined_all_the_way_down(bookshop: dict) -> None:
    add = _tools(bookshop)["addBook"]["parameters"]["properties"]
    assert add["author"]["required"] == ["name"]
    assert add["author"]["properties"]["address"]["properties"]["country"] == {
        "type": "string",
        "enum": ["FR", "GB", "US"],
    }
    assert add["genre"]["enum"] == ["fiction", "history", "science", "poetry"]


def test_refs_to_parameters_and_request_bodies_are_resolved_too(bookshop: dict) -> None:
    search = _tools(bookshop)["searchBooks"]["parameters"]
    assert search["properties"]["q"] == {
        "type": "string",
        "minLength": 2,
        "description": "Words to look for in titles.",
    }
    assert search["required"] == ["q"]
    assert set(_tools(bookshop)["addBook"]["parameters"]["required"]) == {"title", "author"}


def test_a_cycle_is_cut_at_its_second_appearance_keeping_its_type(bookshop: dict) -> None:
    root = _tools(bookshop)["get_categories"]["parameters"]["properties"]["root"]
    assert root["description"] == "A category and the categories inside it."
    child = root["properties"]["children"]["items"]
    assert child["type"] == "object"
    assert "recursive" in child["description"] and "Category" in child["description"]
    assert "properties" not in child


def test_a_self_reference_resolves_without_recursing_forever() -> None:
    spec = {
        "components": {
            "schemas": {
                "Node": {"type": "object", "properties": {"next": {"$ref": "#/components/schemas/Node"}}}
            }
        }
    }
    resolved = resolve_refs({"$ref": "#/components/schemas/Node"}, spec)
    assert resolved["properties"]["next"]["type"] == "object"
    assert "properties" not in resolved["properties"]["next"]


def test_two_sibling_uses_of_one_schema_are_both_expanded() -> None:
    spec = {"components": {"schemas": {"Money": {"type": "number", "minimum": 0}}}}
    resolved = resolve_refs(
        {
            "properties": {
                "low": {"$ref": "#/components/schemas/Money"},
                "high": {"$ref": "#/components/schemas/Money"},
            }
        },
        spec,
    )
    assert resolved["properties"]["low"] == resolved["properties"]["high"] == {"type": "number", "minimum": 0}


def test_keys_beside_a_ref_override_the_target() -> None:
    spec = {"components": {"schemas": {"Sym": {"type": "string", "description": "A symbol."}}}}
    resolved = resolve_refs({"$ref": "#/components/schemas/Sym", "description": "The symbol to price."}, spec)
    assert resolved == {"type": "string", "description": "The symbol to price."}


def test_json_pointer_escapes_are_honoured() -> None:
    spec = {"paths": {"/a/b": {"x": 1}}, "defs": {"a~b": {"y": 2}}}
    assert resolve_refs({"$ref": "#/paths/~1a~1b"}, spec) == {"x": 1}
    assert resolve_refs({"$ref": "#/defs/a~0b"}, spec) == {"y": 2}


def test_a_dangling_ref_is_a_spec_error_naming_the_missing_part() -> None:
    with pytest.raises(SpecError, match=r"#/components/schemas/Gone points at nothing.*'Gone'"):
        resolve_refs({"$ref": "#/components/schemas/Gone"}, {"components": {"schemas": {}}})


def test_a_ref_to_another_document_is_a_clear_spec_error() -> None:
    with pytest.raises(SpecError, match="only local references"):
        resolve_refs({"$ref": "common.yaml#/Book"}, {})


def test_query_path_header_and_body_arguments_merge_into_one_object(bookshop: dict) -> None:
    ops = {op.name: op for op in operations_from_openapi(bookshop)}
    assert ops["addBook"].arguments == {
        "title": Argument("title", "body"),
        "author": Argument("author", "body"),
        "genre": Argument("genre", "body"),
        "price": Argument("price", "body"),
        "X-Request-Id": Argument("X-Request-Id", "header", "simple", False),
    }
    assert ops["books_tags_replace"].arguments["isbn"] == Argument("isbn", "path", "simple", False)
    assert ops["searchBooks"].arguments["genres"] == Argument("genres", "query", "form", False)
    assert ops["searchBooks"].arguments["limit"] == Argument("limit", "query", "form", True)


def test_a_query_parameter_repeating_a_body_field_is_left_out(bookshop: dict) -> None:
    add = _tools(bookshop)["addBook"]["parameters"]["properties"]
    assert add["title"]["description"] == "The book's title."  # the body's field, not the query parameter


def test_a_body_that_is_not_an_object_becomes_one_argument_called_body(bookshop: dict) -> None:
    (op,) = [op for op in operations_from_openapi(bookshop) if op.name == "books_tags_replace"]
    assert not op.body_is_object
    assert op.parameters["properties"]["body"] == {"type": "array", "items": {"type": "string"}}
    assert op.parameters["required"] == ["isbn", "body"]


def test_arrays_and_enums_stay_as_the_spec_says(bookshop: dict) -> None:
    genres = _tools(bookshop)["searchBooks"]["parameters"]["properties"]["genres"]
    assert genres == {
        "type": "array",
        "maxItems": 3,
        "items": {"type": "string", "enum": ["fiction", "history", "science", "poetry"]},
        "description": "Genres to keep; books of any genre when left out.",
    }


def test_titles_are_dropped_but_a_property_called_title_is_kept(bookshop: dict) -> None:
    add = _tools(bookshop)["addBook"]["parameters"]
    assert "title" in add["properties"]
    assert "title" not in add["properties"]["title"]
    assert "title" not in add["properties"]["author"]


def test_openapi_30_nullable_and_example_become_json_schema(bookshop: dict) -> None:
    price = _tools(bookshop)["addBook"]["parameters"]["properties"]["price"]
    assert price == {"type": ["number", "null"], "examples": [12.5]}


def test_unknown_arguments_are_forbidden_so_typos_are_caught(bookshop: dict) -> None:
    for tool in _tools(bookshop).values():
        assert tool["parameters"]["additionalProperties"] is False


def test_names_come_from_operation_ids_made_safe_for_openai(bookshop: dict) -> None:
    names = list(_tools(bookshop))
    assert "books_tags_replace" in names  # from "books.tags:replace"
    assert "get_categories" in names  # no operationId: method and path
    assert all(len(n) <= 64 and n.replace("_", "").replace("-", "").isalnum() for n in names)


def test_two_operations_with_one_name_are_a_spec_error(bookshop: dict) -> None:
    spec = copy.deepcopy(bookshop)
    spec["paths"]["/categories"]["get"]["operationId"] = "searchBooks"
    with pytest.raises(SpecError, match=r"GET /categories and GET /books would both be called 'searchBooks'"):
        operations_from_openapi(spec)


def test_summary_and_description_are_joined_once(bookshop: dict) -> None:
    tools = _tools(bookshop)
    assert tools["searchBooks"]["description"] == (
        "Search the catalogue by words in the title, optionally narrowed to some genres."
    )
    assert tools["addBook"]["description"] == "Add a book"


def test_a_long_description_is_cut_to_openais_limit_on_a_word(bookshop: dict) -> None:
    spec = copy.deepcopy(bookshop)
    spec["paths"]["/books"]["post"]["description"] = "word " * 400
    description = _tools(spec)["addBook"]["description"]
    assert len(description) <= MAX_DESCRIPTION_LENGTH
    assert description.endswith("word…")


def test_a_form_body_is_refused_with_a_clear_error(bookshop: dict) -> None:
    spec = copy.deepcopy(bookshop)
    spec["components"]["requestBodies"]["NewBook"]["content"] = {
        "multipart/form-data": {"schema": {"type": "object"}}
    }
    with pytest.raises(SpecError, match=r"POST /books: only JSON request bodies"):
        tools_from_openapi(spec)


def test_a_spec_without_paths_is_a_clear_error() -> None:
    with pytest.raises(SpecError, match="no 'paths'"):
        tools_from_openapi({"openapi": "3.1.0"})


def test_the_conversion_leaves_the_spec_untouched(bookshop: dict) -> None:
    before = json.dumps(bookshop, sort_keys=True)
    tools_from_openapi(bookshop)
    assert json.dumps(bookshop, sort_keys=True) == before


@pytest.mark.parametrize(
    ("servers", "spec_url", "expected"),
    [
        ([{"url": "https://books.example/api/"}], None, "https://books.example/api"),
        ([{"url": "/v2"}], "http://localhost:8123/openapi.yaml", "http://localhost:8123/v2"),
        ([], "http://localhost:8123/openapi.yaml", "http://localhost:8123"),
        ([], None, None),
    ],
)
def test_the_server_url_comes_from_servers_or_the_host_that_served_the_spec(
    servers: list, spec_url: str | None, expected: str | None
) -> None:
    assert server_url({"servers": servers}, spec_url) == expected


# --- our own API ---------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def our_spec() -> dict[str, Any]:
    from plugin.app import create_app
    from plugin.settings import Settings

    return create_app(Settings(source="sample")).openapi()


def test_our_api_becomes_three_tools_named_by_operation_id(our_spec: dict) -> None:
    tools = _tools(our_spec)
    assert list(tools) == ["getPrices", "postPrices", "getFundamentals"]
    for tool in tools.values():
        meta.validate(tool["parameters"])
        assert not _has_ref(tool)
        assert len(tool["description"]) <= MAX_DESCRIPTION_LENGTH


def test_get_prices_mirrors_the_spec_a_comma_separated_string(our_spec: dict) -> None:
    parameters = _tools(our_spec)["getPrices"]["parameters"]
    assert parameters["required"] == ["tickers"]
    assert parameters["properties"]["tickers"]["type"] == "string"
    assert "Comma-separated" in parameters["properties"]["tickers"]["description"]


def test_post_prices_takes_the_body_array_and_not_the_deprecated_query_form(our_spec: dict) -> None:
    (op,) = [op for op in operations_from_openapi(our_spec) if op.name == "postPrices"]
    assert op.arguments == {"tickers": Argument("tickers", "body")}
    tickers = op.parameters["properties"]["tickers"]
    assert (tickers["type"], tickers["items"]["type"], tickers["minItems"], tickers["maxItems"]) == (
        "array",
        "string",
        1,
        25,
    )
    assert "anyOf" not in tickers


def test_the_served_openapi_yaml_gives_the_same_tools(our_spec: dict) -> None:
    from fastapi.testclient import TestClient

    from plugin.app import create_app
    from plugin.settings import Settings

    with TestClient(create_app(Settings(source="sample"))) as client:
        served = yaml.safe_load(client.get("/openapi.yaml").text)
    assert tools_from_openapi(served) == tools_from_openapi(our_spec)


def test_the_namespace_rendering_shows_names_types_and_comments(our_spec: dict) -> None:
    text = render_namespace("stock_prices", tools_from_openapi(our_spec), description="Plugin for prices.")
    assert text.startswith("// Plugin for prices.\nnamespace stock_prices {\n")
    assert "type getPrices = (_: {\n// Comma-separated Yahoo Finance symbols" in text
    assert "\ntickers: string,\n" in text and "\ntickers: string[],\n" in text  # postPrices requires its body
    assert text.endswith("} // namespace stock_prices")


def test_the_namespace_rendering_writes_enums_optionals_defaults_and_objects(bookshop: dict) -> None:
    text = render_namespace("bookshop", tools_from_openapi(bookshop))
    assert 'genres?: ("fiction" | "history" | "science" | "poetry")[],' in text
    assert "limit?: number, // default: 10" in text
    assert 'author: { name: string, address?: { city?: string, country?: "FR" | "GB" | "US" } },' in text
    assert '"X-Request-Id"?: string,' in text
    assert "price?: number | null," in text


def test_operations_are_read_in_the_order_of_http_methods() -> None:
    item = {method: {"operationId": f"op_{method}", "responses": {}} for method in reversed(HTTP_METHODS)}
    names = [op.name for op in operations_from_openapi({"paths": {"/things": item}})]
    assert names == [f"op_{method}" for method in HTTP_METHODS]
