"""plugin.lab.router: the stand-in model chooses a plugin from descriptions alone, plans calls, and its answers are checked."""

from __future__ import annotations

import json
from typing import Any

import pytest

from plugin.lab.executor import ToolCall
from plugin.lab.router import STOP_WORDS, numbers_not_in, plan, route, words

TABLES = "Plugin to book a table at a restaurant or steakhouse, and to change the reservation."
TRAVEL = "Plugin for travel: flights, hotels and rental cars; book a flight or a hotel reservation."
PRICES = "Plugin for the latest price of stocks and crypto: what Apple is trading at, and its P/E."


def _tool(name: str, description: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": description, "parameters": {}}}


TOOLS = [
    _tool("getPrices", "Latest prices for stocks, ETFs and crypto"),
    _tool("postPrices", "Latest prices, for symbols sent in a JSON body"),
    _tool("getFundamentals", "Valuation figures: P/E, market cap, dividend yield"),
]


def test_words_are_lower_case_without_stop_words_and_plurals() -> None:
    assert words("Where is Apple trading at?") == {"apple", "trading"}
    assert words("What are the PRICES of Apple's shares?") == {"price", "apple", "share"}
    assert words("P/E, and a glass") == {"p/e", "glass"}  # "ss" is not a plural
    assert not words(" ".join(sorted(STOP_WORDS)))


def test_the_plugin_sharing_the_most_words_is_chosen_and_the_words_are_kept() -> None:
    choice = route(
        "When can I get a table at the steakhouse?", {"prices": PRICES, "tables": TABLES, "travel": TRAVEL}
    )
    assert choice.plugin == "tables" and str(choice) == "tables"
    assert choice.shared == {"prices": (), "tables": ("steakhouse", "table"), "travel": ()}


def test_the_tutorials_hyatt_question_is_a_tie_between_restaurant_and_travel() -> None:
    choice = route("book a reservation at the Hyatt", {"prices": PRICES, "tables": TABLES, "travel": TRAVEL})
    assert choice.plugin is None
    assert choice.leaders == ("tables", "travel")
    assert str(choice) == "tie: tables or travel"


def test_a_question_no_description_shares_a_word_with_goes_to_no_plugin() -> None:
    choice = route("Tell me a joke", {"prices": PRICES, "tables": TABLES})
    assert (choice.plugin, choice.leaders, str(choice)) == (None, (), "none")


def test_changing_only_our_description_changes_the_choice() -> None:
    question = "Where is Apple trading at?"
    tutorial = "Plugin for fetching the latest stock and crypto prices in real time"
    assert route(question, {"prices": tutorial, "tables": TABLES}).plugin is None
    assert route(question, {"prices": PRICES, "tables": TABLES}).plugin == "prices"


def test_the_choice_depends_on_the_descriptions_not_on_the_order_they_are_given() -> None:
    enabled = {"prices": PRICES, "tables": TABLES, "travel": TRAVEL}
    backwards = dict(reversed(list(enabled.items())))
    for question in ("Where is Apple trading at?", "Find a flight to Paris", "Buy me a car"):
        assert route(question, enabled).plugin == route(question, backwards).plugin


def test_a_one_call_plan_misses_the_pe_that_needed_a_second_call() -> None:
    assert plan("What is Apple's price and P/E?", TOOLS, {"tickers": "AAPL"}, max_calls=1) == [
        ToolCall("getPrices", json.dumps({"tickers": "AAPL"}))
    ]


def test_the_full_plan_covers_price_and_pe_with_two_different_tools() -> None:
    calls = plan("What is Apple's price and P/E?", TOOLS, {"tickers": "AAPL"})
    assert [call.name for call in calls] == ["getPrices", "getFundamentals"]
    assert all(json.loads(call.arguments) == {"tickers": "AAPL"} for call in calls)


def test_a_question_no_tool_description_matches_plans_no_call() -> None:
    assert plan("Book a table for two", TOOLS, {}) == []


def test_our_own_spec_plans_prices_then_fundamentals() -> None:
    from plugin.app import create_app
    from plugin.lab.functions import tools_from_openapi
    from plugin.settings import Settings

    tools = tools_from_openapi(create_app(Settings(source="sample")).openapi())
    calls = plan("What is Apple's price and P/E?", tools, {"tickers": "AAPL"})
    assert [call.name for call in calls] == ["getPrices", "getFundamentals"]


@pytest.mark.parametrize(
    ("answer", "made_up"),
    [
        ("Apple trades at 169.595 USD, with a P/E of 28.74.", []),
        ("Apple trades at 169.595 USD, with a P/E of 31.2.", ["31.2"]),
        ("Apple's P/E is about 28.7.", ["28.7"]),  # rounded: the JSON did not say 28.7
        ("Apple trades at 169.59.", ["169.59"]),
        ("As of 2023-05-02, 17:45 UTC.", []),
    ],
)
def test_numbers_in_an_answer_must_come_from_the_tools_json(answer: str, made_up: list[str]) -> None:
    results = [
        json.dumps({"quotes": [{"symbol": "AAPL", "price": 169.595, "as_of": "2023-05-02T17:45:12Z"}]}),
        json.dumps({"fundamentals": [{"symbol": "AAPL", "pe_ratio": 28.74}]}),
    ]
    assert numbers_not_in(answer, results) == made_up
