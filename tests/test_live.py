"""Smoke tests against the real Yahoo Finance: skipped unless asked for (`make test-live`, i.e. --run-live)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from plugin.cache import CachedSource
from plugin.quotes import Fundamentals, Quote, QuoteError
from plugin.yahoo import YahooSource

pytestmark = pytest.mark.live

EXPECTED_KINDS = {
    "AAPL": "equity",
    "SPY": "etf",
    "BTC-USD": "crypto",
    "EURUSD=X": "currency",
    "^GSPC": "index",
}


def _skip_if_rate_limited(answers: dict[str, object]) -> None:
    if any(isinstance(a, QuoteError) and a.code == "rate_limited" for a in answers.values()):
        pytest.skip("Yahoo Finance rate-limited this machine; try again later")


def test_live_quotes_for_each_kind_of_symbol(tmp_path: Path) -> None:
    source = YahooSource(cache_dir=tmp_path)
    answers = asyncio.run(source.get_quotes([*EXPECTED_KINDS, "ZZZZZZ9Q"]))
    source.close()
    _skip_if_rate_limited(answers)
    for symbol, kind in EXPECTED_KINDS.items():
        quote = answers[symbol]
        assert isinstance(quote, Quote), quote
        assert quote.price > 0 and quote.kind == kind and quote.source == "yahoo"
        assert quote.currency and quote.previous_close and quote.as_of.tzinfo is not None
    assert answers["ZZZZZZ9Q"].code == "unknown_symbol"


def test_live_fundamentals_report_the_dividend_yield_as_a_fraction(tmp_path: Path) -> None:
    source = YahooSource(cache_dir=tmp_path)
    answers = asyncio.run(source.get_fundamentals(["AAPL"]))
    source.close()
    _skip_if_rate_limited(answers)
    aapl = answers["AAPL"]
    assert isinstance(aapl, Fundamentals), aapl
    assert aapl.market_cap and aapl.market_cap > 1e11
    assert aapl.dividend_yield is not None and 0 < aapl.dividend_yield < 0.05, "a fraction, not percent"
    assert aapl.fifty_two_week_low < aapl.fifty_two_week_high


def test_live_cache_asks_yahoo_once_per_symbol(tmp_path: Path) -> None:
    source = YahooSource(cache_dir=tmp_path)
    cached = CachedSource(source)

    async def main() -> list[dict[str, Quote | QuoteError]]:
        return await asyncio.gather(*(cached.get_quotes(["AAPL", "BTC-USD"]) for _ in range(20)))

    results = asyncio.run(main())
    source.close()
    _skip_if_rate_limited(results[0])
    assert cached.upstream_calls == 2
