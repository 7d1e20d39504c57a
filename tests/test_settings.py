"""Settings are one frozen object, read from the environment only when asked, and checked when made."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from plugin.settings import CHATGPT_ORIGINS, ENV_VARS, Settings, SettingsError


def test_the_defaults_serve_localhost_with_live_prices() -> None:
    settings = Settings()
    assert (settings.source, settings.host, settings.port, settings.max_symbols) == (
        "auto",
        "127.0.0.1",
        8000,
        25,
    )
    assert settings.public_base_url == "http://localhost:8000"
    assert settings.allowed_origins == CHATGPT_ORIGINS == ("https://chat.openai.com", "https://chatgpt.com")


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().port = 9000  # type: ignore[misc]


def test_constructing_settings_does_not_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRICE_SOURCE", "yahoo")
    monkeypatch.setenv("PLUGIN_PORT", "9999")
    assert Settings().source == "auto"
    assert Settings().port == 8000


def test_the_public_base_url_drops_a_trailing_slash_and_keeps_a_path_prefix() -> None:
    assert Settings(base_url="https://example.com/plugin/").public_base_url == "https://example.com/plugin"


def test_from_env_reads_every_setting() -> None:
    settings = Settings.from_env(
        {
            "PRICE_SOURCE": "sample",
            "PLUGIN_BASE_URL": "https://prices.example.com",
            "PLUGIN_HOST": "0.0.0.0",
            "PLUGIN_PORT": "9000",
            "PLUGIN_CACHE_TTL": "12.5",
            "PLUGIN_CORS_ORIGINS": "http://localhost:3000, https://app.example.com/,",
            "PLUGIN_MAX_SYMBOLS": "10",
            "PLUGIN_REQUEST_DEADLINE": "2",
            "PLUGIN_UPSTREAM_BUDGET": "30",
            "PLUGIN_API_TOKEN": "s3cret",
            "PLUGIN_VERIFICATION_TOKENS": '{"openai": "abc=="}',
            "PLUGIN_CACHE_DIR": "/tmp/yf-cache",
        }
    )
    assert settings == Settings(
        source="sample",
        base_url="https://prices.example.com",
        host="0.0.0.0",
        port=9000,
        cache_ttl=12.5,
        cors_origins=("http://localhost:3000", "https://app.example.com/"),
        max_symbols=10,
        request_deadline=2.0,
        upstream_budget=30,
        api_token="s3cret",
        verification_tokens={"openai": "abc=="},
        cache_dir=Path("/tmp/yf-cache"),
    )
    assert settings.allowed_origins == (*CHATGPT_ORIGINS, "http://localhost:3000", "https://app.example.com")


def test_every_setting_has_an_environment_variable() -> None:
    assert set(ENV_VARS) == {f.name for f in dataclasses.fields(Settings)}


def test_unset_or_empty_variables_keep_the_defaults() -> None:
    assert Settings.from_env({"PLUGIN_PORT": "", "UNRELATED": "x"}) == Settings()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"PRICE_SOURCE": "bloomberg"},
            "source (PRICE_SOURCE): expected one of yahoo, sample, auto, got 'bloomberg'",
        ),
        ({"PLUGIN_PORT": "eighty"}, "port (PLUGIN_PORT): expected an integer, got 'eighty'"),
        ({"PLUGIN_PORT": "70000"}, "port (PLUGIN_PORT): expected an integer from 1 to 65535, got 70000"),
        (
            {"PLUGIN_CACHE_TTL": "-1"},
            "cache_ttl (PLUGIN_CACHE_TTL): expected a number of at least 0, got -1.0",
        ),
        (
            {"PLUGIN_CACHE_TTL": "nan"},
            "cache_ttl (PLUGIN_CACHE_TTL): expected a number of at least 0, got nan",
        ),
        (
            {"PLUGIN_MAX_SYMBOLS": "0"},
            "max_symbols (PLUGIN_MAX_SYMBOLS): expected an integer of at least 1, got 0",
        ),
        (
            {"PLUGIN_UPSTREAM_BUDGET": "0"},
            "upstream_budget (PLUGIN_UPSTREAM_BUDGET): expected an integer of at least 1, got 0",
        ),
        (
            {"PLUGIN_BASE_URL": "prices.example.com"},
            "base_url (PLUGIN_BASE_URL): expected an http or https URL such as https://prices.example.com "
            "(no query or fragment), got 'prices.example.com'",
        ),
        (
            {"PLUGIN_CORS_ORIGINS": "https://example.com/app"},
            "cors_origins (PLUGIN_CORS_ORIGINS): expected an http or https URL such as https://example.com "
            "(no path, query or fragment), got 'https://example.com/app'",
        ),
        (
            {"PLUGIN_VERIFICATION_TOKENS": "openai=abc"},
            'verification_tokens (PLUGIN_VERIFICATION_TOKENS): expected a JSON object such as {"openai": "..."}, '
            "got 'openai=abc'",
        ),
    ],
)
def test_a_bad_value_names_the_setting_its_variable_and_what_is_allowed(environ: dict, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(environ)
    assert str(caught.value) == message


def test_values_are_checked_when_built_in_code_too() -> None:
    with pytest.raises(
        SettingsError, match=r"^request_deadline \(PLUGIN_REQUEST_DEADLINE\): expected a number"
    ):
        Settings(request_deadline=0)
    with pytest.raises(SettingsError, match="not one string"):
        Settings(cors_origins="https://example.com")  # type: ignore[arg-type]
    with pytest.raises(SettingsError, match=r"^port .*got True"):
        Settings(port=True)


def test_an_api_token_alone_is_a_valid_setting() -> None:
    """OpenAI issued the verification token only after the API token was registered; GPT Actions and MCP need none."""
    settings = Settings.from_env({"PLUGIN_API_TOKEN": "s3cret"})
    assert settings.api_token == "s3cret"
    assert settings.verification_tokens == {}
    assert Settings(api_token="s3cret").verification_tokens == {}


def test_the_repr_never_shows_the_token() -> None:
    settings = Settings(api_token="s3cret", verification_tokens={"openai": "t0ken"})
    assert "s3cret" not in repr(settings) and "t0ken" not in repr(settings)
