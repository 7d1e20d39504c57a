"""What people and models type becomes a Yahoo symbol by documented rules, or is refused with a reason."""

from __future__ import annotations

import re

import pytest

from plugin.settings import Settings
from plugin.symbols import (
    ALLOWED,
    CRYPTO_BASES,
    EXCHANGE_SUFFIXES,
    MAX_SYMBOL_LENGTH,
    InvalidSymbol,
    normalize_symbol,
    parse_symbols,
)

# What a Yahoo URL path may ever contain: the strict, ASCII-only shape of every accepted symbol.
STRICT = re.compile(r"[A-Z0-9.\-=^]{1,15}")

NORMALIZED = [
    ("AAPL", "AAPL"),
    ("aapl", "AAPL"),
    ("  msft\t", "MSFT"),
    ("$TSLA", "TSLA"),
    ("$aapl", "AAPL"),
    ("BRK.B", "BRK-B"),
    ("brk.a", "BRK-A"),
    ("BF.B", "BF-B"),
    ("BRK-B", "BRK-B"),
    ("BTC-USD", "BTC-USD"),
    ("BTC/USD", "BTC-USD"),
    ("btc/usd", "BTC-USD"),
    ("BTC / USD", "BTC-USD"),
    ("btcusd", "BTC-USD"),
    ("BTC USD", "BTC-USD"),
    ("DOGEUSD", "DOGE-USD"),
    ("dogeusd", "DOGE-USD"),
    ("DOGE/EUR", "DOGE-EUR"),
    ("ETHBTC", "ETH-BTC"),
    ("eth/btc", "ETH-BTC"),
    ("btcusdt", "BTC-USDT"),
    ("SHIB-USD", "SHIB-USD"),
    ("LINK USD", "LINK-USD"),
    ("EUR/USD", "EURUSD=X"),
    ("eur usd", "EURUSD=X"),
    ("EURUSD", "EURUSD=X"),
    ("usd/jpy", "USDJPY=X"),
    ("EURUSD=X", "EURUSD=X"),
    ("JPY=X", "JPY=X"),
    ("CL=F", "CL=F"),
    ("^GSPC", "^GSPC"),
    ("^gspc", "^GSPC"),
    ("^N225", "^N225"),
    ("^STOXX50E", "^STOXX50E"),
    ("7203.T", "7203.T"),
    ("SHOP.TO", "SHOP.TO"),
    ("VOD.L", "VOD.L"),
    ("0700.HK", "0700.HK"),
    ("SAP.DE", "SAP.DE"),
    ("MC.PA", "MC.PA"),
    ("ASML.AS", "ASML.AS"),
    ("RCI-B.TO", "RCI-B.TO"),
    ("SPY", "SPY"),
    ("BTC", "BTC"),
    ("A" * MAX_SYMBOL_LENGTH, "A" * MAX_SYMBOL_LENGTH),
]

REJECTED = [
    ("", "empty"),
    ("   ", "empty"),
    ("ＡＡＰＬ", "non-ASCII"),  # full-width letters
    ("AАPL", "non-ASCII"),  # a Cyrillic А among Latin letters
    ("ΑAPL", "non-ASCII"),  # a Greek Alpha
    ("AAPL١", "non-ASCII"),  # an Arabic-Indic digit
    ("BRK․B", "non-ASCII"),  # a one-dot leader, not a full stop
    ("Apple Inc.", "it has a space inside; a symbol is one word"),
    ("AAPL MSFT", "it has a space inside"),
    ("AAPL/MSFT", "'/' only joins two currencies we know"),
    ("../../etc/passwd", "it looks like a file path"),
    ("/etc/passwd", "it looks like a file path"),
    ("..\\..\\win.ini", "it looks like a file path"),
    ("USD/USD", "'/' only joins two currencies we know"),
    ("AAPL; DROP TABLE", "it contains ';'; a symbol has only letters A-Z, digits and . - = ^"),
    ("AAPL\r\nX-Injected: 1", "it contains '\\n', '\\r', ':'"),
    ("<script>alert(1)</script>", "it contains '(', ')', '<', '>'"),
    ("AAPL;DROP", "it contains ';'"),
    ("AAPL?x=1", "it contains"),
    ("AAPL#", "it contains '#'"),
    ("%2E%2E", "it contains '%'"),
    ("A\x00PL", "it contains"),
    ("AAPL'", "it contains"),
    ("A" * (MAX_SYMBOL_LENGTH + 1), f"longer than {MAX_SYMBOL_LENGTH}"),
    ("X" * 500, f"longer than {MAX_SYMBOL_LENGTH}"),
    ("BRK..B", "more than one '.'"),
    ("A.B.C", "more than one '.'"),
    (".B", "before the '.' is not a symbol"),
    ("X.ZZ", "neither a share class"),
    ("AAPL.", "neither a share class"),
    ("^", "an index is '^' then"),
    ("^^GSPC", "an index is '^' then"),
    ("AAPL^", "'^' only starts an index"),
    ("=X", "'=' only ends an FX rate"),
    ("EURUSD=Y", "'=' only ends an FX rate"),
    ("EUR=USD=X", "'=' only ends an FX rate"),
    ("-AAPL", "a '-' only joins"),
    ("AAPL-", "a '-' only joins"),
    ("A--B", "a '-' only joins"),
    ("$$", "it contains '$'"),
    (42, "must be text"),
    (None, "must be text"),
]


@pytest.mark.parametrize(("raw", "expected"), NORMALIZED, ids=[repr(r) for r, _ in NORMALIZED])
def test_accepted_input_becomes_the_yahoo_symbol(raw: str, expected: str) -> None:
    assert normalize_symbol(raw) == expected
    assert STRICT.fullmatch(expected)


@pytest.mark.parametrize(("raw", "reason"), REJECTED, ids=[repr(r)[:24] for r, _ in REJECTED])
def test_rejected_input_says_why(raw: object, reason: str) -> None:
    with pytest.raises(InvalidSymbol) as caught:
        normalize_symbol(raw)  # type: ignore[arg-type]
    assert reason in caught.value.reason
    assert caught.value.reason in str(caught.value)


def test_the_table_covers_at_least_forty_cases() -> None:
    assert len(NORMALIZED) + len(REJECTED) >= 40


def test_every_known_crypto_base_is_recognized_however_it_is_written() -> None:
    for base in sorted(CRYPTO_BASES):
        for written in (f"{base}USD", f"{base}/USD", f"{base} usd", f"{base.lower()}-usd"):
            assert normalize_symbol(written) == f"{base}-USD", written


def test_doge_is_not_split_as_a_three_letter_base() -> None:
    # The tutorial's code (its repository's data/alpaca.py) turned DOGEUSD into DOG/EUSD; the base is found by name, not by length.
    assert normalize_symbol("DOGEUSD") == "DOGE-USD"


def test_a_dot_and_a_known_exchange_suffix_is_kept_and_any_other_letter_is_a_share_class() -> None:
    single_letter_suffixes = {s for s in EXCHANGE_SUFFIXES if len(s) == 1}
    assert single_letter_suffixes == {"F", "L", "T", "V"}
    for letter in "ABCDEGHIJKMNOPQRSUWXYZ":
        assert normalize_symbol(f"XYZ.{letter}") == f"XYZ-{letter}"
    for suffix in sorted(EXCHANGE_SUFFIXES):
        assert normalize_symbol(f"XYZ.{suffix}") == f"XYZ.{suffix}"


def test_no_non_ascii_letter_or_digit_is_ever_accepted() -> None:
    lookalikes = [chr(c) for c in range(0x80, 0x3000) if chr(c).isalnum()] + [chr(0xFF21), chr(0xFF10)]
    for char in lookalikes:
        with pytest.raises(InvalidSymbol, match="non-ASCII"):
            normalize_symbol(f"AA{char}")


def test_a_long_rejected_input_is_shortened_when_echoed_back() -> None:
    with pytest.raises(InvalidSymbol) as caught:
        normalize_symbol("A" * 500)
    assert len(caught.value.symbol) <= 32
    assert caught.value.symbol.endswith("…")


def test_an_invalid_symbol_becomes_an_error_value_saying_what_is_allowed() -> None:
    with pytest.raises(InvalidSymbol) as caught:
        normalize_symbol("AAPL;DROP")
    error = caught.value.to_error()
    assert error.code == "invalid_symbol"
    assert error.symbol == "AAPL;DROP"
    assert "it contains ';'" in error.message and ALLOWED in error.message


def test_parse_symbols_collapses_duplicates_and_keeps_the_order() -> None:
    symbols, errors = parse_symbols(["btc usd", "AAPL", "aapl", "BTC-USD", "brk.b", " AAPL "])
    assert symbols == ["BTC-USD", "AAPL", "BRK-B"]
    assert errors == []


def test_parse_symbols_reports_each_bad_input_and_keeps_the_good_ones() -> None:
    symbols, errors = parse_symbols(["AAPL", "ＡＡＰＬ", "A;B", "MSFT"])
    assert symbols == ["AAPL", "MSFT"]
    assert [(e.symbol, e.code) for e in errors] == [("ＡＡＰＬ", "invalid_symbol"), ("A;B", "invalid_symbol")]


def test_parse_symbols_reads_a_single_string_as_a_comma_separated_list() -> None:
    assert parse_symbols("AAPL,btc/usd, ^GSPC") == (["AAPL", "BTC-USD", "^GSPC"], [])


def test_parse_symbols_leaves_the_size_limit_to_the_caller() -> None:
    limit = Settings().max_symbols
    many = [f"S{i}" for i in range(limit + 5)]
    symbols, errors = parse_symbols(many)
    assert len(symbols) == limit + 5 and not errors


# The three inputs that once all got "'/' and spaces only join a currency pair": each has a reason of its own.
REAL_REASONS = [
    ("Apple Inc.", "it has a space inside; a symbol is one word, such as AAPL, not a company name or a list"),
    ("AAPL; DROP TABLE", "it contains ';'; a symbol has only letters A-Z, digits and . - = ^"),
    ("../../etc/passwd", "it looks like a file path, and a symbol is never a path"),
]


@pytest.mark.parametrize(("raw", "reason"), REAL_REASONS, ids=[r for r, _ in REAL_REASONS])
def test_each_refusal_names_its_real_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidSymbol) as caught:
        normalize_symbol(raw)
    assert caught.value.reason == reason


def test_a_refusal_names_every_character_no_symbol_has_and_the_allowed_ones() -> None:
    with pytest.raises(InvalidSymbol) as caught:
        normalize_symbol("AAPL?x=1&y#")
    assert (
        caught.value.reason == "it contains '#', '&', '?'; a symbol has only letters A-Z, digits and . - = ^"
    )


def test_dots_that_are_not_a_path_step_are_judged_as_dots() -> None:
    with pytest.raises(InvalidSymbol, match="more than one '.'"):
        normalize_symbol("BRK..B")
