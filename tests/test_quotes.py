"""The quote models say what every number means, keep time in UTC, and refuse what they cannot represent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import get_args

import pytest
from pydantic import ValidationError

from plugin.quotes import ErrorCode, Fundamentals, Kind, Quote, QuoteError, price_change

NEW_YORK_SUMMER = timezone(timedelta(hours=-4))


def make_quote(**overrides: object) -> Quote:
    fields = {
        "symbol": "AAPL",
        "name": "Apple Inc.",
        "price": 169.595,
        "currency": "USD",
        "previous_close": 169.59,
        "change": 0.005,
        "change_percent": 0.0029,
        "as_of": datetime(2023, 5, 2, 17, 45, 12, tzinfo=UTC),
        "exchange": "NasdaqGS",
        "kind": "equity",
        "source": "sample",
    }
    return Quote(**{**fields, **overrides})


def test_a_quote_keeps_its_time_in_utc_whatever_zone_it_arrives_in() -> None:
    quote = make_quote(as_of=datetime(2023, 5, 2, 13, 45, 12, tzinfo=NEW_YORK_SUMMER))
    assert quote.as_of == datetime(2023, 5, 2, 17, 45, 12, tzinfo=UTC)
    assert quote.as_of.utcoffset() == timedelta(0)
    assert quote.model_dump(mode="json")["as_of"] == "2023-05-02T17:45:12Z"


def test_a_time_without_a_timezone_is_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        make_quote(as_of=datetime(2023, 5, 2, 17, 45, 12))


def test_a_quote_is_not_stale_unless_marked_and_is_frozen() -> None:
    quote = make_quote()
    assert quote.stale is False
    with pytest.raises(ValidationError):
        quote.price = 1.0  # type: ignore[misc]
    assert quote.model_copy(update={"stale": True}).stale is True


def test_unknown_kinds_sources_and_codes_are_refused() -> None:
    with pytest.raises(ValidationError):
        make_quote(kind="stock")
    with pytest.raises(ValidationError):
        make_quote(source="bloomberg")
    with pytest.raises(ValidationError):
        QuoteError(symbol="X", code="oops", message="")  # type: ignore[arg-type]


def test_the_kinds_and_error_codes_are_the_documented_ones() -> None:
    assert set(get_args(Kind)) == {
        "equity",
        "etf",
        "crypto",
        "currency",
        "index",
        "mutualfund",
        "future",
        "other",
    }
    assert set(get_args(ErrorCode)) == {
        "invalid_symbol",
        "unknown_symbol",
        "rate_limited",
        "upstream_unavailable",
    }


@pytest.mark.parametrize("model", [Quote, Fundamentals, QuoteError])
def test_every_field_is_described_for_the_openapi_spec(model: type) -> None:
    properties = model.model_json_schema()["properties"]
    undescribed = [name for name, schema in properties.items() if not schema.get("description")]
    assert not undescribed


def test_the_dividend_yield_is_documented_as_a_fraction() -> None:
    description = Fundamentals.model_fields["dividend_yield"].description
    assert "fraction" in description and "0.005" in description


def test_a_quote_survives_a_json_round_trip() -> None:
    quote = make_quote(stale=True)
    assert Quote.model_validate_json(quote.model_dump_json()) == quote


def test_fundamentals_need_only_a_symbol_a_time_and_a_source() -> None:
    figures = Fundamentals(symbol="^GSPC", as_of=datetime(2023, 5, 2, tzinfo=UTC), source="sample")
    assert figures.pe_ratio is None and figures.dividend_yield is None and figures.stale is False


def test_price_change_is_rounded_so_it_prints_the_same_everywhere() -> None:
    assert price_change(169.595, 169.59) == (0.005, 0.0029)
    assert price_change(100.0, 80.0) == (20.0, 25.0)
    assert price_change(80.0, 100.0) == (-20.0, -20.0)


def test_price_change_is_unknown_without_a_usable_previous_close() -> None:
    assert price_change(1.0, None) == (None, None)
    assert price_change(1.0, 0.0) == (None, None)
