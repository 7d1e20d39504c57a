"""A fake Yahoo Finance at the HTTP boundary, so the real yfinance code runs in tests with no network.

yfinance accepts a `requests.Session`; `FakeYahoo.session()` returns one whose transport adapter answers every
Yahoo URL yfinance calls (the cookie and crumb handshake, `/v8/finance/chart/{symbol}`, `/v10/finance/quoteSummary`,
`/v7/finance/quote`, the fundamentals time series) with bodies shaped like Yahoo's real responses
(see `CHART_METAS`, modelled on recorded v8 chart responses). Each symbol can be told how to fail:

    yahoo = FakeYahoo(latency=0.2)
    yahoo.behave("NOPE", "unknown")         # HTTP 404 with Yahoo's "No data found" body
    yahoo.behave("AAPL", "rate_limited")    # HTTP 429
    source = YahooSource(session=yahoo.session(), cache_dir=tmp_path)

Behaviours: "ok", "unknown", "rate_limited", "dns" (name resolution fails), "timeout", "malformed" (a 200 whose body
is not JSON), "server_error" (HTTP 500 with an HTML page), "empty" (a 200 chart with no bars: Yahoo has no data),
"odd_shape" (a 200 chart whose meta lacks the fields every real one has), "wrong_types" (a 200 chart whose every
part has the wrong JSON type). `down = True` makes every request fail as
if the machine were offline. `chart_requests` counts quote requests (5-day charts) per symbol, `requests` records
every host and path asked for, and `max_concurrent` is the most requests that were in flight at once.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections import Counter
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

import requests
from requests.adapters import BaseAdapter

Behaviour = Literal[
    "ok",
    "unknown",
    "rate_limited",
    "dns",
    "timeout",
    "malformed",
    "server_error",
    "empty",
    "odd_shape",
    "wrong_types",
]

# Meta blocks in the shape of Yahoo's v8 chart responses (fields and types as recorded; values illustrative).
# fmt: off
CHART_METAS: dict[str, dict[str, Any]] = {
    "AAPL": {
        "currency": "USD", "symbol": "AAPL", "exchangeName": "NMS", "fullExchangeName": "NasdaqGS",
        "instrumentType": "EQUITY", "firstTradeDate": 345479400, "regularMarketTime": 1683049512,
        "hasPrePostMarketData": True, "gmtoffset": -14400, "timezone": "EDT",
        "exchangeTimezoneName": "America/New_York", "regularMarketPrice": 169.595, "fiftyTwoWeekHigh": 176.15,
        "fiftyTwoWeekLow": 124.17, "regularMarketDayHigh": 170.35, "regularMarketDayLow": 167.54,
        "regularMarketVolume": 48425696, "longName": "Apple Inc.", "shortName": "Apple Inc.",
        "chartPreviousClose": 165.33, "priceHint": 2,
    },
    "GOOGL": {
        "currency": "USD", "symbol": "GOOGL", "exchangeName": "NMS", "fullExchangeName": "NasdaqGS",
        "instrumentType": "EQUITY", "firstTradeDate": 1092922200, "regularMarketTime": 1787342401,
        "hasPrePostMarketData": True, "gmtoffset": -14400, "timezone": "EDT",
        "exchangeTimezoneName": "America/New_York", "regularMarketPrice": 344.82, "fiftyTwoWeekHigh": 408.61,
        "fiftyTwoWeekLow": 205.28, "regularMarketDayHigh": 346.2, "regularMarketDayLow": 340.4,
        "regularMarketVolume": 20849776, "longName": "Alphabet Inc.", "shortName": "Alphabet Inc.",
        "chartPreviousClose": 340.67, "priceHint": 2,
    },
    "SPY": {
        "currency": "USD", "symbol": "SPY", "exchangeName": "PCX", "fullExchangeName": "NYSEArca",
        "instrumentType": "ETF", "firstTradeDate": 728317800, "regularMarketTime": 1683049512,
        "hasPrePostMarketData": True, "gmtoffset": -14400, "timezone": "EDT",
        "exchangeTimezoneName": "America/New_York", "regularMarketPrice": 411.8, "fiftyTwoWeekHigh": 428.5,
        "fiftyTwoWeekLow": 348.11, "longName": "SPDR S&P 500 ETF Trust", "shortName": "SPDR S&P 500",
        "chartPreviousClose": 412.41, "priceHint": 2,
    },
    "BTC-USD": {
        "currency": "USD", "symbol": "BTC-USD", "exchangeName": "CCC", "fullExchangeName": "CCC",
        "instrumentType": "CRYPTOCURRENCY", "firstTradeDate": 1410912000, "regularMarketTime": 1791208700,
        "hasPrePostMarketData": False, "gmtoffset": 0, "timezone": "UTC", "exchangeTimezoneName": "UTC",
        "regularMarketPrice": 86466.64, "fiftyTwoWeekHigh": 126198.07, "fiftyTwoWeekLow": 57747.766,
        "regularMarketDayHigh": 86929.66, "regularMarketDayLow": 85443.79, "regularMarketVolume": 25263355904,
        "longName": "Bitcoin USD", "shortName": "Bitcoin USD", "chartPreviousClose": 86513.38, "scale": 3,
        "priceHint": 2,
    },
    "EURUSD=X": {
        "currency": "USD", "symbol": "EURUSD=X", "exchangeName": "CCY", "fullExchangeName": "CCY",
        "instrumentType": "CURRENCY", "firstTradeDate": 1070236800, "regularMarketTime": 1778648482,
        "gmtoffset": 3600, "timezone": "BST", "exchangeTimezoneName": "Europe/London",
        "regularMarketPrice": 1.1738, "fiftyTwoWeekHigh": 1.2024, "fiftyTwoWeekLow": 1.1141,
        "regularMarketDayHigh": 1.1745, "regularMarketDayLow": 1.1736, "regularMarketVolume": 0,
        "longName": "EUR/USD", "shortName": "EUR/USD", "chartPreviousClose": 1.1702, "priceHint": 4,
    },
    "^GSPC": {
        "currency": "USD", "symbol": "^GSPC", "exchangeName": "SNP", "fullExchangeName": "SNP",
        "instrumentType": "INDEX", "firstTradeDate": -1325583000, "regularMarketTime": 1683049512,
        "gmtoffset": -14400, "timezone": "EDT", "exchangeTimezoneName": "America/New_York",
        "regularMarketPrice": 5234.18, "longName": "S&P 500", "shortName": "S&P 500",
        "chartPreviousClose": 5212.31, "priceHint": 2,
    },
}

# The last five daily closes; the last one is the live price, the one before it the previous session's close.
CLOSES: dict[str, list[float]] = {
    "AAPL": [163.76, 168.41, 169.68, 169.59, 169.595],
    "GOOGL": [335.1, 338.92, 339.5, 340.67, 344.82],
    "SPY": [405.23, 408.02, 415.93, 415.51, 411.8],
    "BTC-USD": [84120.5, 85233.87, 86001.2, 85233.87, 86466.64],
    "EURUSD=X": [1.1689, 1.1702, 1.171, 1.1723, 1.1738],
    "^GSPC": [5190.04, 5201.77, 5199.5, 5212.31, 5234.18],
}

# What Ticker.info reads: quoteSummary modules (fractions) and the v7 quote (dividendYield in percent).
INFO: dict[str, dict[str, Any]] = {
    "AAPL": {
        "summaryDetail": {"trailingPE": 28.74, "forwardPE": 26.43, "marketCap": 2667910000000,
                          "fiftyTwoWeekLow": 124.17, "fiftyTwoWeekHigh": 176.15, "dividendYield": 0.0055},
        "quote": {"quoteType": "EQUITY", "longName": "Apple Inc.", "shortName": "Apple Inc.", "currency": "USD",
                  "trailingPE": 28.74, "forwardPE": 26.43, "marketCap": 2667910000000, "dividendYield": 0.55,
                  "fiftyTwoWeekLow": 124.17, "fiftyTwoWeekHigh": 176.15, "regularMarketPrice": 169.595},
    },
    "BTC-USD": {
        "summaryDetail": {"marketCap": 1721000000000, "fiftyTwoWeekLow": 57747.766, "fiftyTwoWeekHigh": 126198.07},
        "quote": {"quoteType": "CRYPTOCURRENCY", "longName": "Bitcoin USD", "shortName": "Bitcoin USD",
                  "currency": "USD", "marketCap": 1721000000000, "fiftyTwoWeekLow": 57747.766,
                  "fiftyTwoWeekHigh": 126198.07, "regularMarketPrice": 86466.64, "trailingPE": "Infinity"},
    },
}
# fmt: on

NOT_FOUND_CHART = {
    "chart": {
        "result": None,
        "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"},
    }
}


def chart_response(meta: dict[str, Any], closes: list[float], range_: str = "5d") -> dict[str, Any]:
    """A whole v8 chart response for `meta`, one daily bar per close, shaped like Yahoo's."""
    meta = copy.deepcopy(meta)
    meta.update(
        dataGranularity="1d", range=range_, validRanges=["1d", "5d", "1mo", "3mo", "6mo", "1y", "max"]
    )
    if range_ == "1d":
        closes = closes[-1:]
    end = meta.get("regularMarketTime", 1683049512)
    stamps = [end - 86400 * (len(closes) - 1 - i) for i in range(len(closes))]
    return {
        "chart": {
            "result": [
                {
                    "meta": meta,
                    "timestamp": stamps,
                    "indicators": {
                        "quote": [
                            {
                                "open": closes,
                                "high": closes,
                                "low": closes,
                                "close": closes,
                                "volume": [1000] * len(closes),
                            }
                        ],
                        "adjclose": [{"adjclose": closes}],
                    },
                }
            ],
            "error": None,
        }
    }


class FakeYahoo(BaseAdapter):
    """A transport adapter playing Yahoo Finance: mount it on a `requests.Session` (see `session()`)."""

    def __init__(self, *, latency: float = 0.0) -> None:
        super().__init__()
        self.latency = latency
        self.down = False
        self.behaviours: dict[str, Behaviour] = {}
        self.chart_requests: Counter[str] = Counter()
        self.requests: list[str] = []
        self.max_concurrent = 0
        self._in_flight = 0
        self._lock = threading.Lock()
        self._released = threading.Event()

    def release(self, timeout: float = 5.0) -> None:
        """End the latency of every request in flight, now and from now on, and wait until none is left.

        yfinance keeps one session and its locks per process: a request still sleeping here after a test would
        hold them, and slow down the next test's first request.
        """
        self._released.set()
        deadline = time.monotonic() + timeout
        while self._in_flight and time.monotonic() < deadline:
            time.sleep(0.005)

    def behave(self, symbol: str, behaviour: Behaviour) -> FakeYahoo:
        """Make every request about `symbol` answer the way `behaviour` says (returns self, to chain)."""
        self.behaviours[symbol] = behaviour
        return self

    def behaviour(self, symbol: str) -> Behaviour:
        return self.behaviours.get(symbol, "ok" if symbol in CHART_METAS else "unknown")

    def session(self) -> requests.Session:
        """A `requests.Session` that reaches only this fake, holding the consent cookie Yahoo hands out.

        Without Yahoo's `A3` cookie yfinance repeats its cookie handshake, under a lock, before every request,
        which would serialize the very requests the tests want to see run concurrently.
        """
        session = requests.Session()
        session.mount("https://", self)
        session.mount("http://", self)
        session.cookies.set(
            "A3",
            "d=AQABBFakeYahooCookie&S=AQAAAFake",
            domain=".yahoo.com",
            path="/",
            expires=int(time.time()) + 365 * 86400,
            secure=True,
        )
        return session

    @property
    def total_chart_requests(self) -> int:
        return sum(self.chart_requests.values())

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        with self._lock:
            self._in_flight += 1
            self.max_concurrent = max(self.max_concurrent, self._in_flight)
        try:
            if self.latency:
                self._released.wait(self.latency)
            return self._answer(request)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _answer(self, request: requests.PreparedRequest) -> requests.Response:
        url = urlsplit(request.url)
        path = unquote(url.path)
        with self._lock:
            self.requests.append(f"{url.netloc}{path}")
        if self.down:
            raise requests.exceptions.ConnectionError(
                f"Failed to resolve '{url.netloc}' ([Errno -3] Temporary failure in name resolution)"
            )
        if url.netloc == "fc.yahoo.com":
            return self._respond(request, 404, "<html>Not Found</html>", "text/html")
        if path.endswith("/v1/test/getcrumb"):
            return self._respond(request, 200, "fake-crumb", "text/plain")
        query = parse_qs(url.query)
        if path.startswith("/v8/finance/chart/"):
            symbol = path.rsplit("/", 1)[1]
            range_ = query.get("range", ["1d"])[0]
            if range_ == "5d":
                with self._lock:
                    self.chart_requests[symbol] += 1
            return self._chart(request, symbol, range_)
        if path.startswith("/v10/finance/quoteSummary/"):
            return self._summary(request, path.rsplit("/", 1)[1])
        if path.startswith("/v7/finance/quote"):
            return self._quote(request, query.get("symbols", [""])[0])
        if "/fundamentals-timeseries/" in path:
            return self._json(request, 200, {"timeseries": {"result": [], "error": None}})
        return self._respond(request, 404, "<html>Not Found</html>", "text/html")

    def close(self) -> None:
        pass

    def _failure(self, request: requests.PreparedRequest, symbol: str) -> requests.Response | None:
        behaviour = self.behaviour(symbol)
        if behaviour == "dns":
            raise requests.exceptions.ConnectionError(
                "Failed to resolve 'query2.finance.yahoo.com' ([Errno -3] Temporary failure in name resolution)"
            )
        if behaviour == "timeout":
            raise requests.exceptions.ConnectTimeout("Connection to query2.finance.yahoo.com timed out")
        if behaviour == "rate_limited":
            return self._respond(request, 429, "Too Many Requests\r\n", "text/plain")
        if behaviour == "malformed":
            return self._respond(
                request, 200, '{"chart": {"result": [{"meta": {"currency": "USD", ', "application/json"
            )
        if behaviour == "server_error":
            return self._respond(request, 500, "<html><body>Internal Server Error</body></html>", "text/html")
        return None

    def _chart(self, request: requests.PreparedRequest, symbol: str, range_: str) -> requests.Response:
        if (failed := self._failure(request, symbol)) is not None:
            return failed
        behaviour = self.behaviour(symbol)
        if behaviour == "unknown":
            return self._json(request, 404, NOT_FOUND_CHART)
        if behaviour == "empty":
            body = chart_response(CHART_METAS.get(symbol, CHART_METAS["AAPL"]), [], range_)
            body["chart"]["result"][0]["indicators"]["quote"] = [{}]
            return self._json(request, 200, body)
        if behaviour == "odd_shape":
            body = chart_response({"symbol": symbol}, [1.0, 2.0], range_)
            return self._json(request, 200, body)
        if behaviour == "wrong_types":
            body = {
                "chart": {
                    "result": [{"meta": ["USD"], "timestamp": "yesterday", "indicators": 7}],
                    "error": None,
                }
            }
            return self._json(request, 200, body)
        return self._json(request, 200, chart_response(*self.chart_of(symbol), range_))

    @staticmethod
    def chart_of(symbol: str) -> tuple[dict[str, Any], list[float]]:
        """The meta block and closes for `symbol`: recorded ones, or an equity made up from its name."""
        if symbol in CHART_METAS:
            return CHART_METAS[symbol], CLOSES[symbol]
        price = 100.0 + sum(map(ord, symbol)) % 100
        meta = {
            **CHART_METAS["AAPL"],
            "symbol": symbol,
            "longName": f"{symbol} Corp.",
            "shortName": symbol,
            "regularMarketPrice": price,
        }
        return meta, [price - 2, price - 1.5, price - 1, price - 0.5, price]

    def _summary(self, request: requests.PreparedRequest, symbol: str) -> requests.Response:
        if (failed := self._failure(request, symbol)) is not None:
            return failed
        if self.behaviour(symbol) != "ok" or symbol not in INFO:
            return self._json(
                request,
                404,
                {
                    "quoteSummary": {
                        "result": None,
                        "error": {
                            "code": "Not Found",
                            "description": f"Quote not found for symbol: {symbol}",
                        },
                    }
                },
            )
        modules = {
            "summaryDetail": INFO[symbol]["summaryDetail"],
            "quoteType": {"symbol": symbol, "quoteType": INFO[symbol]["quote"]["quoteType"]},
        }
        return self._json(request, 200, {"quoteSummary": {"result": [modules], "error": None}})

    def _quote(self, request: requests.PreparedRequest, symbol: str) -> requests.Response:
        if (failed := self._failure(request, symbol)) is not None:
            return failed
        result = (
            []
            if self.behaviour(symbol) != "ok" or symbol not in INFO
            else [{"symbol": symbol, **INFO[symbol]["quote"]}]
        )
        return self._json(request, 200, {"quoteResponse": {"result": result, "error": None}})

    def _json(self, request: requests.PreparedRequest, status: int, body: Any) -> requests.Response:
        return self._respond(request, status, json.dumps(body), "application/json")

    @staticmethod
    def _respond(
        request: requests.PreparedRequest, status: int, text: str, content_type: str
    ) -> requests.Response:
        response = requests.Response()
        response.status_code = status
        response._content = text.encode()
        response.headers["Content-Type"] = f"{content_type}; charset=utf-8"
        response.encoding = "utf-8"
        response.url = request.url
        response.request = request
        response.reason = {
            200: "OK",
            404: "Not Found",
            429: "Too Many Requests",
            500: "Internal Server Error",
        }.get(status, "")
        return response
