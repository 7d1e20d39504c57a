"""make_source picks a price source by name; "auto" falls back to sample data only when Yahoo is unreachable."""

from __future__ import annotations

import ast
import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from fakeyahoo import FakeYahoo
from support import Clock

import plugin
from plugin.quotes import Quote
from plugin.source_choice import FallbackSource, make_source
from plugin.sources import SampleSource
from plugin.yahoo import YahooSource, default_cache_dir


@pytest.fixture
def yahoo() -> FakeYahoo:
    return FakeYahoo()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def auto(yahoo: FakeYahoo, tmp_path: Path, clock: Clock) -> Iterator[FallbackSource]:
    primary = YahooSource(session=yahoo.session(), cache_dir=tmp_path)
    yield FallbackSource(primary, SampleSource(), retry_after=300, clock=clock)
    primary.close()


def test_auto_answers_from_yahoo_when_yahoo_answers(auto: FallbackSource) -> None:
    answers = asyncio.run(auto.get_quotes(["AAPL", "NOPE"]))
    assert answers["AAPL"].source == "yahoo"
    assert answers["NOPE"].code == "unknown_symbol", "an unknown symbol is an answer, not an outage"
    assert not auto.using_fallback


def test_auto_falls_back_to_sample_data_with_one_notice_when_yahoo_is_unreachable(
    auto: FallbackSource, yahoo: FakeYahoo, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    yahoo.down = True
    with caplog.at_level(logging.WARNING, logger="plugin.source_choice"):
        first = asyncio.run(auto.get_quotes(["AAPL", "BTC-USD"]))
        asked = len(yahoo.requests)
        clock.now += 60
        second = asyncio.run(auto.get_quotes(["MSFT"]))
    assert isinstance(first["AAPL"], Quote) and first["AAPL"].source == "sample"
    assert first["AAPL"].price == 169.595
    assert second["MSFT"].source == "sample"
    assert len(yahoo.requests) == asked, "while Yahoo is down, it is not asked on every request"
    notices = [r.getMessage() for r in caplog.records if r.name == "plugin.source_choice"]
    assert len(notices) == 1 and "yahoo cannot be reached" in notices[0] and "sample" in notices[0]


def test_auto_tries_yahoo_again_after_the_retry_window(
    auto: FallbackSource, yahoo: FakeYahoo, clock: Clock
) -> None:
    yahoo.down = True
    asyncio.run(auto.get_quotes(["AAPL"]))
    yahoo.down = False
    clock.now += 301
    assert asyncio.run(auto.get_quotes(["AAPL"]))["AAPL"].source == "yahoo"
    assert not auto.using_fallback


def test_auto_does_not_fall_back_when_only_some_symbols_fail(auto: FallbackSource, yahoo: FakeYahoo) -> None:
    yahoo.behave("SPY", "dns")
    answers = asyncio.run(auto.get_quotes(["AAPL", "SPY"]))
    assert answers["AAPL"].source == "yahoo"
    assert answers["SPY"].code == "upstream_unavailable"
    assert not auto.using_fallback


def test_auto_falls_back_for_fundamentals_too(auto: FallbackSource, yahoo: FakeYahoo) -> None:
    yahoo.down = True
    figures = asyncio.run(auto.get_fundamentals(["AAPL"]))["AAPL"]
    assert figures.source == "sample" and figures.dividend_yield == 0.0055


def test_make_source_builds_each_kind(tmp_path: Path) -> None:
    assert isinstance(make_source("sample"), SampleSource)
    yahoo = make_source("yahoo", cache_dir=tmp_path)
    assert isinstance(yahoo, YahooSource) and yahoo.cache_dir == tmp_path
    auto = make_source("auto", cache_dir=tmp_path)
    assert isinstance(auto, FallbackSource) and auto.name == "auto"
    assert isinstance(auto.primary, YahooSource) and isinstance(auto.fallback, SampleSource)


def test_make_source_refuses_an_unknown_name() -> None:
    with pytest.raises(ValueError, match="'yahoo', 'sample' or 'auto'"):
        make_source("bloomberg")  # type: ignore[arg-type]


def test_the_default_cache_folder_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "stock-price-plugin"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "stock-price-plugin"


def test_the_sources_sit_below_the_choice_of_source_with_no_cycle() -> None:
    # sources <- yahoo <- source_choice: each module imports only downward, at its top, never inside a function.
    imported = {name: _plugin_imports(name) for name in ("sources", "yahoo", "source_choice")}
    assert imported["sources"] == {"quotes"}
    assert imported["yahoo"] == {"quotes"}
    assert imported["source_choice"] == {"quotes", "settings", "sources", "yahoo"}


def _plugin_imports(module: str) -> set[str]:
    """The plugin modules `module` imports anywhere in its text, functions included."""
    tree = ast.parse((Path(plugin.__file__).parent / f"{module}.py").read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("plugin."):
            found.add(node.module.removeprefix("plugin."))
        elif isinstance(node, ast.Import):
            found.update(a.name.removeprefix("plugin.") for a in node.names if a.name.startswith("plugin."))
    return found
