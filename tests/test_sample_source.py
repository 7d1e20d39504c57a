"""The sample source: embedded, deterministic prices covering every kind of symbol the plugin serves."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

from plugin.quotes import Fundamentals, Quote, QuoteError
from plugin.sources import PriceSource, SampleSource
from plugin.symbols import normalize_symbol

TUTORIAL_SYMBOLS = [
    "AAPL",
    "MSFT",
    "GOOGL",
    "AMZN",
    "NVDA",
    "TSLA",
    "BRK-B",
    "SPY",
    "QQQ",
    "^GSPC",
    "EURUSD=X",
    "BTC-USD",
    "ETH-USD",
    "DOGE-USD",
]


def quotes(symbols: list[str]) -> dict[str, Quote | QuoteError]:
    return asyncio.run(SampleSource().get_quotes(symbols))


def test_it_knows_at_least_the_fourteen_tutorial_symbols() -> None:
    source = SampleSource()
    assert len(source.symbols) >= 14
    assert set(TUTORIAL_SYMBOLS) <= set(source.symbols)


def test_apple_is_at_the_price_in_the_tutorials_own_trace() -> None:
    aapl = quotes(["AAPL"])["AAPL"]
    assert isinstance(aapl, Quote)
    assert aapl.price == 169.595
    assert (aapl.source, aapl.stale, aapl.kind, aapl.currency) == ("sample", False, "equity", "USD")
    assert aapl.as_of == datetime(2023, 5, 2, 17, 45, 12, tzinfo=UTC)


def test_every_kind_of_symbol_is_represented() -> None:
    kinds = {q.kind for q in quotes(SampleSource().symbols).values()}
    assert {"equity", "etf", "index", "currency", "crypto"} <= kinds


def test_every_sample_quote_is_complete_and_consistent() -> None:
    for symbol, quote in quotes(SampleSource().symbols).items():
        assert isinstance(quote, Quote), symbol
        assert normalize_symbol(symbol) == symbol, "sample symbols are already in Yahoo's form"
        assert quote.name and quote.currency and quote.exchange and quote.previous_close, symbol
        assert quote.price > 0 and quote.source == "sample"
        assert quote.change == round(quote.price - quote.previous_close, 6)
        assert quote.as_of.tzinfo is not None


def test_equities_and_etfs_have_fundamentals() -> None:
    source = SampleSource()
    fundamentals = asyncio.run(source.get_fundamentals(source.symbols))
    for symbol, quote in quotes(source.symbols).items():
        figures = fundamentals[symbol]
        assert isinstance(figures, Fundamentals)
        assert figures.fifty_two_week_low is not None and figures.fifty_two_week_high is not None, symbol
        assert figures.fifty_two_week_low <= quote.price <= figures.fifty_two_week_high, symbol
        if quote.kind in ("equity", "etf"):
            assert figures.market_cap, symbol
            assert figures.pe_ratio or figures.forward_pe, symbol
    assert fundamentals["AAPL"].dividend_yield == 0.0055  # a fraction: 0.55 %


def test_an_unknown_symbol_is_a_value_naming_what_the_sample_knows() -> None:
    answers = quotes(["AAPL", "NOPE"])
    error = answers["NOPE"]
    assert isinstance(error, QuoteError) and error.code == "unknown_symbol"
    assert f"only {len(SampleSource().symbols)} symbols" in error.message
    assert "AAPL" in error.message
    assert isinstance(answers["AAPL"], Quote)


def test_it_answers_one_entry_per_requested_symbol_in_order() -> None:
    assert list(quotes(["BTC-USD", "NOPE", "AAPL"])) == ["BTC-USD", "NOPE", "AAPL"]
    assert asyncio.run(SampleSource().get_fundamentals(["ZZZ"]))["ZZZ"].code == "unknown_symbol"


def test_it_is_deterministic() -> None:
    assert quotes(TUTORIAL_SYMBOLS) == quotes(TUTORIAL_SYMBOLS)


def test_the_data_ships_as_package_data() -> None:
    text = resources.files("plugin").joinpath("data", "sample_quotes.json").read_text(encoding="utf-8")
    assert set(json.loads(text)["quotes"]) == set(SampleSource().symbols)


def test_another_data_file_can_be_given(tmp_path: Path) -> None:
    path = tmp_path / "quotes.json"
    path.write_text(
        json.dumps(
            {
                "quotes": {
                    "ABC": {
                        "name": "ABC Corp.",
                        "kind": "equity",
                        "exchange": "NYSE",
                        "currency": "USD",
                        "price": 10.0,
                        "previous_close": 8.0,
                        "as_of": "2024-01-02T15:00:00Z",
                    }
                }
            }
        )
    )
    quote = asyncio.run(SampleSource(path).get_quotes(["ABC"]))["ABC"]
    assert (quote.price, quote.change, quote.change_percent) == (10.0, 2.0, 25.0)


def test_it_is_a_price_source() -> None:
    assert isinstance(SampleSource(), PriceSource)
    assert SampleSource.name == "sample"
