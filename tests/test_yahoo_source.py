"""YahooSource runs the real yfinance code against a fake Yahoo at the HTTP boundary, and never raises."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import requests
from fakeyahoo import CHART_METAS, CLOSES, FakeYahoo

from plugin.quotes import Fundamentals, Quote, QuoteError
from plugin.sources import PriceSource
from plugin.yahoo import YahooSource, error_for, fundamentals_from_info, quote_from_chart


@pytest.fixture
def yahoo() -> FakeYahoo:
    return FakeYahoo()


@pytest.fixture
def source(yahoo: FakeYahoo, tmp_path: Path) -> Iterator[YahooSource]:
    source = YahooSource(session=yahoo.session(), cache_dir=tmp_path / "yf")
    yield source
    source.close()


def quotes(source: YahooSource, symbols: list[str]) -> dict[str, Quote | QuoteError]:
    return asyncio.run(source.get_quotes(symbols))


@pytest.mark.parametrize(
    ("symbol", "kind", "name", "exchange"),
    [
        ("AAPL", "equity", "Apple Inc.", "NasdaqGS"),
        ("GOOGL", "equity", "Alphabet Inc.", "NasdaqGS"),
        ("SPY", "etf", "SPDR S&P 500 ETF Trust", "NYSEArca"),
        ("BTC-USD", "crypto", "Bitcoin USD", "CCC"),
        ("EURUSD=X", "currency", "EUR/USD", "CCY"),
        ("^GSPC", "index", "S&P 500", "SNP"),
    ],
)
def test_each_kind_of_instrument_becomes_a_quote(
    source: YahooSource, symbol: str, kind: str, name: str, exchange: str
) -> None:
    quote = quotes(source, [symbol])[symbol]
    assert isinstance(quote, Quote), quote
    meta = CHART_METAS[symbol]
    assert (quote.symbol, quote.kind, quote.name, quote.exchange) == (symbol, kind, name, exchange)
    assert quote.price == meta["regularMarketPrice"]
    assert quote.currency == "USD"
    assert quote.previous_close == CLOSES[symbol][-2]
    assert quote.change == round(quote.price - quote.previous_close, 6)
    assert quote.as_of == datetime.fromtimestamp(meta["regularMarketTime"], UTC)
    assert (quote.source, quote.stale) == ("yahoo", False)


def test_a_quote_costs_one_chart_request(source: YahooSource, yahoo: FakeYahoo) -> None:
    quotes(source, ["AAPL", "BTC-USD", "^GSPC"])
    assert yahoo.chart_requests == {"AAPL": 1, "BTC-USD": 1, "^GSPC": 1}


def test_a_batch_answers_one_entry_per_symbol_in_order(source: YahooSource, yahoo: FakeYahoo) -> None:
    answers = quotes(source, ["SPY", "NOPE", "AAPL", "SPY"])
    assert list(answers) == ["SPY", "NOPE", "AAPL"]
    assert yahoo.chart_requests["SPY"] == 1


def test_unknown_symbol_is_reported_not_raised(source: YahooSource) -> None:
    # Three of them: yfinance looks the first two up a second way (Ticker.info) before it gives up.
    answers = quotes(source, ["NOPE", "NOPE2", "NOPE3", "AAPL"])
    for symbol in ("NOPE", "NOPE2", "NOPE3"):
        error = answers[symbol]
        assert isinstance(error, QuoteError) and error.code == "unknown_symbol", error
        assert symbol in error.message and "BTC-USD" in error.message
    assert isinstance(answers["AAPL"], Quote)


def test_a_chart_without_bars_is_an_unknown_symbol(source: YahooSource, yahoo: FakeYahoo) -> None:
    yahoo.behave("AAPL", "empty")
    assert quotes(source, ["AAPL"])["AAPL"].code == "unknown_symbol"


def test_http_429_is_rate_limited(source: YahooSource, yahoo: FakeYahoo) -> None:
    yahoo.behave("AAPL", "rate_limited")
    answers = quotes(source, ["AAPL", "SPY"])
    assert answers["AAPL"].code == "rate_limited"
    assert "429" in answers["AAPL"].message
    assert isinstance(answers["SPY"], Quote)


@pytest.mark.parametrize(
    ("behaviour", "said"),
    [
        ("dns", "could not be reached (ConnectionError)"),
        ("timeout", "could not be reached (ConnectTimeout)"),
        ("malformed", "could not read"),
        ("server_error", "could not read"),
        ("odd_shape", "did not expect"),
    ],
)
def test_failures_are_upstream_unavailable_with_what_happened(
    source: YahooSource, yahoo: FakeYahoo, behaviour: str, said: str
) -> None:
    yahoo.behave("AAPL", behaviour)  # type: ignore[arg-type]
    answers = quotes(source, ["AAPL", "SPY"])
    error = answers["AAPL"]
    assert isinstance(error, QuoteError) and error.code == "upstream_unavailable"
    assert said in error.message and "try again" in error.message
    assert isinstance(answers["SPY"], Quote), "one symbol's failure never spoils the others"


@pytest.mark.parametrize("behaviour", ["malformed", "server_error", "odd_shape", "wrong_types", "dns"])
def test_a_bad_first_answer_does_not_break_the_symbol_once_yahoo_recovers(
    source: YahooSource, yahoo: FakeYahoo, behaviour: str
) -> None:
    symbol = (
        f"FRESH{behaviour.upper().replace('_', '')}"  # one yfinance has never seen: its first contact fails
    )
    yahoo.behave(symbol, behaviour)  # type: ignore[arg-type]
    assert quotes(source, [symbol])[symbol].code == "upstream_unavailable"
    yahoo.behave(symbol, "ok")
    recovered = quotes(source, [symbol])[symbol]
    assert isinstance(recovered, Quote), recovered
    assert recovered.name == f"{symbol} Corp."


def test_with_the_network_down_every_symbol_is_unavailable_and_nothing_raises(
    source: YahooSource, yahoo: FakeYahoo
) -> None:
    yahoo.down = True
    answers = quotes(source, ["AAPL", "BTC-USD", "NOPE"])
    assert {a.code for a in answers.values()} == {"upstream_unavailable"}


def test_the_symbols_of_a_request_are_fetched_concurrently(tmp_path: Path) -> None:
    yahoo = FakeYahoo(latency=0.05)
    source = YahooSource(session=yahoo.session(), cache_dir=tmp_path)
    symbols = [f"S{i}" for i in range(8)]
    for symbol in symbols:
        yahoo.behave(symbol, "ok")
    answers = quotes(source, symbols)
    source.close()
    assert all(isinstance(a, Quote) for a in answers.values())
    assert yahoo.max_concurrent >= 4


def test_the_pool_is_bounded(tmp_path: Path) -> None:
    yahoo = FakeYahoo(latency=0.02)
    source = YahooSource(session=yahoo.session(), cache_dir=tmp_path, max_workers=2)
    quotes(source, ["AAPL", "GOOGL", "SPY", "BTC-USD", "EURUSD=X", "^GSPC"])
    source.close()
    assert 1 <= yahoo.max_concurrent <= 2


def test_the_event_loop_keeps_running_while_yahoo_answers(tmp_path: Path) -> None:
    yahoo = FakeYahoo(latency=0.05)
    source = YahooSource(session=yahoo.session(), cache_dir=tmp_path)
    ticks = 0

    async def main() -> None:
        nonlocal ticks
        fetch = asyncio.ensure_future(source.get_quotes(["AAPL", "SPY"]))
        while not fetch.done():
            ticks += 1
            await asyncio.sleep(0.005)
        await fetch

    asyncio.run(main())
    source.close()
    assert ticks >= 3


def test_fundamentals_come_from_ticker_info_with_the_dividend_yield_as_a_fraction(
    source: YahooSource,
) -> None:
    answers = asyncio.run(source.get_fundamentals(["AAPL", "BTC-USD", "NOPE"]))
    aapl = answers["AAPL"]
    assert isinstance(aapl, Fundamentals)
    assert (aapl.pe_ratio, aapl.forward_pe, aapl.market_cap) == (28.74, 26.43, 2667910000000)
    assert (aapl.fifty_two_week_low, aapl.fifty_two_week_high) == (124.17, 176.15)
    assert aapl.dividend_yield == 0.0055  # yfinance says 0.55 (percent)
    assert (aapl.name, aapl.currency, aapl.source) == ("Apple Inc.", "USD", "yahoo")
    btc = answers["BTC-USD"]
    assert btc.pe_ratio is None, "Yahoo's 'Infinity' is not a number"
    assert btc.dividend_yield is None
    assert answers["NOPE"].code == "unknown_symbol"


def test_fundamentals_failures_are_coded_too(source: YahooSource, yahoo: FakeYahoo) -> None:
    yahoo.behave("AAPL", "rate_limited").behave("BTC-USD", "dns")
    answers = asyncio.run(source.get_fundamentals(["AAPL", "BTC-USD"]))
    assert (answers["AAPL"].code, answers["BTC-USD"].code) == ("rate_limited", "upstream_unavailable")


def test_yfinance_keeps_its_caches_in_the_given_folder(tmp_path: Path) -> None:
    # In a fresh process: yfinance opens its cache once, so the first source used decides where it lives.
    code = (
        "import asyncio, sys; from pathlib import Path; sys.path.insert(0, sys.argv[1])\n"
        "from fakeyahoo import FakeYahoo; from plugin.yahoo import YahooSource\n"
        "source = YahooSource(session=FakeYahoo().session(), cache_dir=Path(sys.argv[2]))\n"
        "print(asyncio.run(source.get_quotes(['AAPL']))['AAPL'].price)\n"
    )
    folder = tmp_path / "cache"
    result = subprocess.run(
        [sys.executable, "-c", code, str(Path(__file__).parent), str(folder)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == str(CHART_METAS["AAPL"]["regularMarketPrice"])
    assert (folder / "tkr-tz.db").exists()


def test_yfinance_warnings_do_not_reach_the_caller(source: YahooSource) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        quotes(source, ["AAPL", "SPY", "BTC-USD"])
    assert [str(w.message) for w in caught if "yfinance" in w.filename] == []


def test_importing_the_plugin_does_not_import_yfinance() -> None:
    modules = "plugin.yahoo, plugin.sources, plugin.source_choice, plugin.cache"
    code = f"import sys, {modules}; sys.modules['plugin.yahoo'].error_for('X', OSError()); print('yfinance' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_it_is_a_price_source_and_closing_twice_is_harmless(source: YahooSource) -> None:
    assert isinstance(source, PriceSource) and source.name == "yahoo"
    quotes(source, ["AAPL"])
    source.close()
    source.close()
    assert isinstance(quotes(source, ["SPY"])["SPY"], Quote), "a closed source starts a new pool when used"


# The pure mapping functions, on recorded-shape data.


def test_quote_from_chart_prefers_previous_close_then_the_second_to_last_bar() -> None:
    meta = dict(CHART_METAS["BTC-USD"], previousClose=86513.38)
    assert quote_from_chart("BTC-USD", meta, [1.0, 2.0]).previous_close == 86513.38
    meta.pop("previousClose")
    assert quote_from_chart("BTC-USD", meta, [1.0, 2.0]).previous_close == 1.0
    assert quote_from_chart("BTC-USD", meta, []).previous_close == meta["chartPreviousClose"]


def test_quote_from_chart_reads_formatted_times_and_unknown_types() -> None:
    meta = dict(
        CHART_METAS["AAPL"],
        instrumentType="WARRANT",
        regularMarketTime=pd.Timestamp(1683049512, unit="s", tz="America/New_York"),
    )
    quote = quote_from_chart("AAPL", meta, [])
    assert quote.kind == "other"
    assert quote.as_of == datetime(2023, 5, 2, 17, 45, 12, tzinfo=UTC)


def test_quote_from_chart_without_any_price_is_none() -> None:
    meta = {k: v for k, v in CHART_METAS["AAPL"].items() if k != "regularMarketPrice"}
    assert quote_from_chart("AAPL", meta, []) is None
    assert quote_from_chart("AAPL", meta, [float("nan"), 5.0]).price == 5.0


def test_fundamentals_from_an_empty_info_is_none() -> None:
    assert fundamentals_from_info("AAPL", {}, datetime(2024, 1, 1, tzinfo=UTC)) is None
    assert (
        fundamentals_from_info("AAPL", {"trailingPegRatio": None}, datetime(2024, 1, 1, tzinfo=UTC)) is None
    )


@pytest.mark.parametrize(
    ("status", "code"), [(404, "unknown_symbol"), (429, "rate_limited"), (503, "upstream_unavailable")]
)
def test_http_errors_map_by_status(status: int, code: str) -> None:
    response = requests.Response()
    response.status_code = status
    error = error_for("AAPL", requests.HTTPError(response=response))
    assert error.code == code
    if status == 503:
        assert "HTTP 503" in error.message


def test_an_unexpected_exception_is_upstream_unavailable_naming_it() -> None:
    error = error_for("AAPL", KeyError("instrumentType"))
    assert error.code == "upstream_unavailable" and "KeyError" in error.message
