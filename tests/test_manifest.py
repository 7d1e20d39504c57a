"""The manifest: every rule OpenAI set for `ai-plugin.json` (`plugin/manifest_rules.py`), at its boundary and one past
it, and the manifest built from one `Settings` (`plugin/manifest.py`)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from plugin.manifest import (
    CONTACT_EMAIL,
    DESCRIPTION_FOR_HUMAN,
    NAME_FOR_HUMAN,
    NAME_FOR_MODEL,
    auth_for,
    build_manifest,
    description_for_model,
    manifest_json,
)
from plugin.manifest_rules import (
    LIMITS,
    VERIFICATION_TOKEN_PLACEHOLDER,
    ApiSpec,
    NoAuth,
    OAuthAuth,
    PluginManifest,
    ServiceHttpAuth,
    UserHttpAuth,
    deployment_problems,
)
from plugin.settings import Settings

#: The description as served with the default settings.
DESCRIPTION_FOR_MODEL = description_for_model(Settings().max_symbols)

SERVICE_AUTH = {
    "type": "service_http",
    "authorization_type": "bearer",
    "verification_tokens": {"openai": "f3a9c1"},
}
OAUTH = {
    "type": "oauth",
    "client_url": "https://prices.example.com/oauth/authorize",
    "scope": "prices:read",
    "authorization_url": "https://prices.example.com/oauth/token",
    "authorization_content_type": "application/json",
    "verification_tokens": {"openai": "f3a9c1"},
}


def manifest_data(**changes: Any) -> dict[str, Any]:
    """A valid ai-plugin.json as a public plugin would serve it, with `changes` applied."""
    data = {
        "schema_version": "v1",
        "name_for_human": "Stock Prices",
        "name_for_model": "stock_prices",
        "description_for_human": "Live prices for stocks and crypto.",
        "description_for_model": "Plugin for looking up the latest price of stocks and crypto.",
        "auth": {"type": "none"},
        "api": {"type": "openapi", "url": "https://prices.example.com/openapi.yaml"},
        "logo_url": "https://prices.example.com/logo.png",
        "contact_email": "support@example.com",
        "legal_info_url": "https://prices.example.com/legal",
    }
    data.update(changes)
    return data


def errors_for(data: dict[str, Any]) -> list[dict[str, Any]]:
    with pytest.raises(ValidationError) as caught:
        PluginManifest.model_validate(data)
    return caught.value.errors()


def the_error(data: dict[str, Any]) -> dict[str, Any]:
    errors = errors_for(data)
    assert len(errors) == 1, errors
    return errors[0]


# --- the whole manifest -------------------------------------------------------------------------------------------


def test_a_complete_manifest_validates_and_serializes_back_to_the_same_json() -> None:
    data = manifest_data()
    manifest = PluginManifest.model_validate(data)
    assert manifest_json(manifest) == data
    assert list(manifest_json(manifest)) == list(data), "fields keep the order of OpenAI's examples"


def test_manifest_json_is_model_dump_without_unset_optional_fields() -> None:
    manifest = PluginManifest.model_validate(manifest_data())
    assert manifest.api.is_user_authenticated is None
    assert "is_user_authenticated" not in manifest_json(manifest)["api"]
    assert manifest_json(manifest) == manifest.model_dump(mode="json", exclude_none=True)
    json.dumps(manifest_json(manifest))


@pytest.mark.parametrize("field", list(manifest_data()))
def test_every_field_is_required(field: str) -> None:
    data = manifest_data()
    del data[field]
    error = the_error(data)
    assert error["type"] == "missing" and error["loc"] == (field,)


@pytest.mark.parametrize("version", ["v2", "1", "V1", ""])
def test_schema_version_must_be_v1(version: str) -> None:
    error = the_error(manifest_data(schema_version=version))
    assert error["loc"] == ("schema_version",) and "'v1'" in error["msg"]


def test_unknown_top_level_fields_are_refused() -> None:
    error = the_error(manifest_data(legal_info="https://prices.example.com/legal"))
    assert error["type"] == "extra_forbidden" and error["loc"] == ("legal_info",)


def test_unknown_fields_inside_api_and_auth_are_refused() -> None:
    api = {"type": "openapi", "url": "https://prices.example.com/openapi.yaml", "version": "1"}
    assert the_error(manifest_data(api=api))["loc"] == ("api", "version")
    auth = {**SERVICE_AUTH, "verification_token": "f3a9c1"}
    assert the_error(manifest_data(auth=auth))["loc"] == ("auth", "service_http", "verification_token")


def test_a_manifest_cannot_be_changed_after_validation() -> None:
    manifest = PluginManifest.model_validate(manifest_data())
    with pytest.raises(ValidationError):
        manifest.name_for_human = "Something Else"  # type: ignore[misc]


# --- length limits ------------------------------------------------------------------------------------------------


def test_the_limits_are_openais() -> None:
    assert dict(LIMITS) == {
        "name_for_model": 50,
        "name_for_human": 20,
        "description_for_model": 8000,
        "description_for_human": 100,
    }


@pytest.mark.parametrize("field", sorted(LIMITS))
def test_a_text_field_at_exactly_its_limit_is_accepted(field: str) -> None:
    value = "a" * LIMITS[field]
    manifest = PluginManifest.model_validate(manifest_data(**{field: value}))
    assert getattr(manifest, field) == value


@pytest.mark.parametrize("field", sorted(LIMITS))
def test_a_text_field_one_past_its_limit_names_the_field_and_the_limit(field: str) -> None:
    limit = LIMITS[field]
    error = the_error(manifest_data(**{field: "a" * (limit + 1)}))
    assert error["loc"] == (field,)
    assert error["type"] == "too_long"
    assert error["msg"] == f"{field} is {limit + 1} characters; at most {limit} are allowed"


def test_length_is_counted_in_characters_not_bytes() -> None:
    name = "Börsenkurse für alle"  # 20 characters, 22 bytes in UTF-8
    assert len(name) == 20 and len(name.encode()) > 20
    assert PluginManifest.model_validate(manifest_data(name_for_human=name)).name_for_human == name


@pytest.mark.parametrize("field", sorted(LIMITS))
@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_or_blank_text_field_is_refused(field: str, value: str) -> None:
    error = the_error(manifest_data(**{field: value}))
    assert error["type"] == "empty" and error["msg"].startswith(f"{field} is empty")


# --- name_for_model -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["stock_prices", "StockPrices2", "_prices", "x", "a" * 50])
def test_name_for_model_accepts_letters_digits_and_underscores(name: str) -> None:
    assert PluginManifest.model_validate(manifest_data(name_for_model=name)).name_for_model == name


@pytest.mark.parametrize(
    ("name", "culprits"),
    [
        ("stock prices", "' '"),
        ("stock-prices", "'-'"),
        ("stock.prices", "'.'"),
        ("cotações", "'ç' 'õ'"),
        ("prices!?", "'!' '?'"),
    ],
)
def test_name_for_model_refuses_other_characters_and_names_them(name: str, culprits: str) -> None:
    error = the_error(manifest_data(name_for_model=name))
    assert error["type"] == "name_for_model_characters"
    assert error["msg"].startswith("name_for_model may contain only letters, digits and _")
    assert error["msg"].endswith(f"it contains {culprits}")


# --- auth ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auth", "model"),
    [
        ({"type": "none"}, NoAuth),
        ({"type": "user_http", "authorization_type": "bearer"}, UserHttpAuth),
        ({"type": "user_http", "authorization_type": "basic"}, UserHttpAuth),
        (SERVICE_AUTH, ServiceHttpAuth),
        ({**SERVICE_AUTH, "authorization_type": "basic"}, ServiceHttpAuth),
        (OAUTH, OAuthAuth),
        (
            {**OAUTH, "scope": "", "authorization_content_type": "application/x-www-form-urlencoded"},
            OAuthAuth,
        ),
    ],
)
def test_each_auth_variant_is_accepted_as_its_own_model(auth: dict[str, Any], model: type) -> None:
    manifest = PluginManifest.model_validate(manifest_data(auth=auth))
    assert type(manifest.auth) is model
    assert manifest_json(manifest)["auth"] == auth


def test_an_unknown_auth_type_lists_the_ones_that_exist() -> None:
    error = the_error(manifest_data(auth={"type": "api_key"}))
    assert error["type"] == "union_tag_invalid" and error["loc"] == ("auth",)
    for tag in ("none", "user_http", "service_http", "oauth"):
        assert f"'{tag}'" in error["msg"]


def test_auth_without_a_type_is_refused() -> None:
    assert the_error(manifest_data(auth={"authorization_type": "bearer"}))["type"] == "union_tag_not_found"


def test_no_auth_takes_no_other_fields() -> None:
    assert (
        the_error(manifest_data(auth={"type": "none", "authorization_type": "bearer"}))["type"]
        == "extra_forbidden"
    )


@pytest.mark.parametrize("variant", ["user_http", "service_http"])
@pytest.mark.parametrize("authorization_type", ["digest", "Bearer", None])
def test_http_auth_needs_bearer_or_basic(variant: str, authorization_type: str | None) -> None:
    auth = {**SERVICE_AUTH, "type": variant, "authorization_type": authorization_type}
    if variant == "user_http":
        del auth["verification_tokens"]
    if authorization_type is None:
        del auth["authorization_type"]
    error = the_error(manifest_data(auth=auth))
    assert error["loc"] == ("auth", variant, "authorization_type")


@pytest.mark.parametrize("variant", [SERVICE_AUTH, OAUTH])
@pytest.mark.parametrize("tokens", [{}, {"openai": ""}, {"openai": "  "}, {"": "f3a9c1"}])
def test_verification_tokens_need_a_non_empty_token(variant: dict[str, Any], tokens: dict[str, str]) -> None:
    error = the_error(manifest_data(auth={**variant, "verification_tokens": tokens}))
    assert error["loc"] == ("auth", variant["type"], "verification_tokens")
    assert error["msg"].startswith("verification_tokens needs at least one non-empty token")


@pytest.mark.parametrize("variant", [SERVICE_AUTH, OAUTH])
def test_verification_tokens_are_required(variant: dict[str, Any]) -> None:
    auth = {k: v for k, v in variant.items() if k != "verification_tokens"}
    error = the_error(manifest_data(auth=auth))
    assert error["type"] == "missing" and error["loc"][-1] == "verification_tokens"


@pytest.mark.parametrize("field", ["client_url", "scope", "authorization_url", "authorization_content_type"])
def test_oauth_needs_each_of_its_fields(field: str) -> None:
    auth = {k: v for k, v in OAUTH.items() if k != field}
    assert the_error(manifest_data(auth=auth))["loc"] == ("auth", "oauth", field)


@pytest.mark.parametrize("field", ["client_url", "authorization_url"])
@pytest.mark.parametrize("url", ["/oauth/authorize", "ftp://prices.example.com/oauth", "oauth@example.com"])
def test_oauth_urls_must_be_http_urls(field: str, url: str) -> None:
    error = the_error(manifest_data(auth={**OAUTH, field: url}))
    assert error["loc"] == ("auth", "oauth", field) and error["msg"].startswith(field)


def test_oauth_content_type_is_json_or_form() -> None:
    error = the_error(manifest_data(auth={**OAUTH, "authorization_content_type": "text/plain"}))
    assert error["loc"] == ("auth", "oauth", "authorization_content_type")


# --- api, logo and legal URLs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://prices.example.com/openapi.yaml",
        "http://localhost:8000/openapi.yml",
        "https://prices.example.com/v1/openapi.json",
        "https://prices.example.com/openapi.yaml?version=2",
    ],
)
def test_api_url_may_point_at_a_yaml_or_json_spec(url: str) -> None:
    assert PluginManifest.model_validate(manifest_data(api={"type": "openapi", "url": url})).api.url == url


def test_api_may_carry_the_older_is_user_authenticated_flag() -> None:
    api = {
        "type": "openapi",
        "url": "https://prices.example.com/openapi.yaml",
        "is_user_authenticated": False,
    }
    assert manifest_json(PluginManifest.model_validate(manifest_data(api=api)))["api"] == api


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("https://prices.example.com/docs", "url_suffix"),
        ("https://prices.example.com/", "url_suffix"),
        ("/openapi.yaml", "url"),
        ("prices.example.com/openapi.yaml", "url"),
        ("ftp://prices.example.com/openapi.yaml", "url"),
    ],
)
def test_api_url_must_be_an_http_url_of_the_spec(url: str, code: str) -> None:
    error = the_error(manifest_data(api={"type": "openapi", "url": url}))
    assert (
        error["loc"] == ("api", "url") and error["type"] == code and error["msg"].startswith("api.url must")
    )


def test_api_type_must_be_openapi() -> None:
    error = the_error(
        manifest_data(api={"type": "graphql", "url": "https://prices.example.com/openapi.yaml"})
    )
    assert error["loc"] == ("api", "type")


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("https://prices.example.com/logo.jpg", "url_suffix"),
        ("https://prices.example.com/logo", "url_suffix"),
        ("/logo.png", "url"),
        ("data:image/png;base64,iVBORw0KGgo=", "url"),
    ],
)
def test_logo_url_must_be_an_http_url_of_a_png(url: str, code: str) -> None:
    error = the_error(manifest_data(logo_url=url))
    assert error["loc"] == ("logo_url",) and error["type"] == code


def test_a_png_logo_url_is_accepted_in_any_case() -> None:
    url = "https://cdn.example.com/brand/Logo.PNG"
    assert PluginManifest.model_validate(manifest_data(logo_url=url)).logo_url == url


@pytest.mark.parametrize(
    "email", ["legal@example.com", "mailto:legal@example.com", "MAILTO:legal@example.com"]
)
def test_legal_info_url_that_is_an_email_address_is_refused_with_a_hint(email: str) -> None:
    error = the_error(manifest_data(legal_info_url=email))
    assert error["type"] == "url_is_email"
    assert error["msg"] == (
        "legal_info_url must be a web address such as https://example.com/legal, "
        "not an email address (that goes in contact_email)"
    )


@pytest.mark.parametrize(
    "url",
    [
        "/legal",
        "example.com/legal",
        "javascript:alert(1)",
        "http://",
        "https:///legal",
        "https://example.com/terms of use",
        " https://example.com/legal",
        "https://example.com:99999/legal",
        "https://example.com:port/legal",
    ],
)
def test_legal_info_url_must_be_an_absolute_http_url(url: str) -> None:
    error = the_error(manifest_data(legal_info_url=url))
    assert error["type"] == "url"
    assert (
        error["msg"]
        == "legal_info_url must be an absolute http or https URL such as https://example.com/legal"
    )


@pytest.mark.parametrize(
    "url", ["https://example.com/legal", "http://localhost:8000/legal", "https://example.com/legal#privacy"]
)
def test_legal_info_url_accepts_web_pages(url: str) -> None:
    assert PluginManifest.model_validate(manifest_data(legal_info_url=url)).legal_info_url == url


# --- contact_email ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "email",
    [
        "support@example.com",
        "first.last+plugins@mail.example.co.uk",
        "o'brien@example.ie",
        "x@a-b.io",
        ("a" * 64) + "@example.com",
    ],
)
def test_contact_email_accepts_real_addresses(email: str) -> None:
    assert PluginManifest.model_validate(manifest_data(contact_email=email)).contact_email == email


@pytest.mark.parametrize(
    "email",
    [
        "support",
        "support@",
        "@example.com",
        "support@localhost",
        "support@example",
        "support@example.c",
        "first..last@example.com",
        ".first@example.com",
        "support@example..com",
        "support@-example.com",
        "support@example-.com",
        "sup port@example.com",
        "support@example.com ",
        "support@@example.com",
        "mailto:support@example.com",
        "https://example.com/contact",
        ("a" * 65) + "@example.com",
        "a@" + ("b" * 60 + ".") * 5 + "com",
    ],
)
def test_contact_email_refuses_what_is_not_an_address(email: str) -> None:
    error = the_error(manifest_data(contact_email=email))
    assert error["loc"] == ("contact_email",) and error["type"] == "email"
    assert error["msg"].startswith("contact_email must be an email address such as support@example.com")


# --- build_manifest -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base_url", "root"),
    [
        ("http://localhost:8000", "http://localhost:8000"),
        ("http://localhost:8000/", "http://localhost:8000"),
        ("http://127.0.0.1:49152//", "http://127.0.0.1:49152"),
        ("https://prices.example.com", "https://prices.example.com"),
        ("https://prices.example.com/", "https://prices.example.com"),
        ("https://example.org/tools/stock-plugin/", "https://example.org/tools/stock-plugin"),
    ],
)
def test_build_manifest_derives_every_url_from_the_base_url(base_url: str, root: str) -> None:
    served = manifest_json(build_manifest(Settings(), base_url))
    assert served["api"] == {"type": "openapi", "url": f"{root}/openapi.yaml"}
    assert served["logo_url"] == f"{root}/logo.png"
    assert served["legal_info_url"] == f"{root}/legal"


@pytest.mark.parametrize(
    ("settings", "root"),
    [
        (Settings(), "http://localhost:8000"),
        (Settings(port=8001), "http://localhost:8001"),
        (Settings(base_url="https://prices.example.com/plugin/"), "https://prices.example.com/plugin"),
    ],
)
def test_without_a_base_url_the_settings_public_base_url_is_used(settings: Settings, root: str) -> None:
    served = manifest_json(build_manifest(settings))
    assert (served["api"]["url"], served["logo_url"], served["legal_info_url"]) == (
        f"{root}/openapi.yaml",
        f"{root}/logo.png",
        f"{root}/legal",
    )


def test_build_manifest_hard_codes_no_host() -> None:
    text = json.dumps(manifest_json(build_manifest(Settings(base_url="https://quotes.example.net"))))
    assert "localhost" not in text and "8000" not in text
    assert text.count("https://quotes.example.net/") == 3


@pytest.mark.parametrize("base_url", ["localhost:8000", "prices.example.com", "ftp://prices.example.com"])
def test_a_base_url_that_is_not_http_gives_a_manifest_that_breaks_the_rules(base_url: str) -> None:
    with pytest.raises(ValidationError, match="must be an absolute http or https URL"):
        build_manifest(Settings(), base_url)


def test_build_manifest_without_a_token_serves_auth_none() -> None:
    assert auth_for(Settings()) == NoAuth()
    assert manifest_json(build_manifest(Settings()))["auth"] == {"type": "none"}


def test_with_an_api_token_the_manifest_asks_for_it_as_a_service_bearer_token() -> None:
    settings = Settings(api_token="s3cret", verification_tokens={"openai": "f3a9c1"})
    assert manifest_json(build_manifest(settings))["auth"] == SERVICE_AUTH
    assert "s3cret" not in json.dumps(manifest_json(build_manifest(settings))), (
        "the API token itself is never served"
    )


def test_an_api_token_without_a_verification_token_serves_the_placeholder() -> None:
    """OpenAI issued the verification token after the API token was registered: until then, a placeholder."""
    auth = manifest_json(build_manifest(Settings(api_token="s3cret")))["auth"]
    assert auth == {
        "type": "service_http",
        "authorization_type": "bearer",
        "verification_tokens": {"openai": VERIFICATION_TOKEN_PLACEHOLDER},
    }
    assert "s3cret" not in json.dumps(auth)


def test_the_placeholder_says_what_it_is_and_where_the_real_token_comes_from() -> None:
    assert VERIFICATION_TOKEN_PLACEHOLDER.startswith("REPLACE-ME: ")
    assert "verification token" in VERIFICATION_TOKEN_PLACEHOLDER
    assert "registered with OpenAI" in VERIFICATION_TOKEN_PLACEHOLDER


@pytest.mark.parametrize("variant", [SERVICE_AUTH, OAUTH], ids=["service_http", "oauth"])
def test_the_rules_accept_the_placeholder(variant: dict[str, Any]) -> None:
    auth = {**variant, "verification_tokens": {"openai": VERIFICATION_TOKEN_PLACEHOLDER}}
    manifest = PluginManifest.model_validate(manifest_data(auth=auth))
    assert isinstance(manifest.auth, ServiceHttpAuth | OAuthAuth)
    assert manifest.auth.verification_tokens == {"openai": VERIFICATION_TOKEN_PLACEHOLDER}


def test_build_manifest_fills_every_field_within_the_rules() -> None:
    manifest = build_manifest(Settings())
    assert manifest.schema_version == "v1"
    assert manifest.name_for_model == NAME_FOR_MODEL and manifest.name_for_human == NAME_FOR_HUMAN
    assert manifest.description_for_model == DESCRIPTION_FOR_MODEL
    assert manifest.description_for_human == DESCRIPTION_FOR_HUMAN
    assert manifest.contact_email == CONTACT_EMAIL
    assert PluginManifest.model_validate(manifest_json(manifest)) == manifest


def test_api_spec_and_auth_models_can_be_built_directly() -> None:
    assert ApiSpec(url="https://prices.example.com/openapi.yaml").type == "openapi"
    assert NoAuth().type == "none"
    with pytest.raises(ValidationError, match="api.url must point at a file ending in .yaml, .yml or .json"):
        ApiSpec(url="https://prices.example.com/spec")


# --- description_for_model ----------------------------------------------------------------------------------------


def test_description_for_model_follows_openais_advice_and_limits() -> None:
    assert DESCRIPTION_FOR_MODEL.startswith("Plugin for ")
    assert len(DESCRIPTION_FOR_MODEL) <= LIMITS["description_for_model"]
    assert len(DESCRIPTION_FOR_HUMAN) <= LIMITS["description_for_human"]


def test_description_for_model_says_what_it_returns() -> None:
    for term in (
        "latest",
        "price",
        "change",
        "currency",
        "as_of",
        "stocks",
        "ETFs",
        "indices",
        "currency pairs",
        "crypto",
        "P/E",
        "get_fundamentals",
    ):
        assert term in DESCRIPTION_FOR_MODEL, term


def test_description_for_model_says_what_it_does_not_do() -> None:
    assert "does NOT" in DESCRIPTION_FOR_MODEL
    for term in ("trades", "portfolios", "news", "advice", "historical", "charts"):
        assert term in DESCRIPTION_FOR_MODEL, term


def test_description_for_model_shows_each_symbol_format() -> None:
    for symbol in ("AAPL", "BRK-B", "BTC-USD", "^GSPC", "EURUSD=X"):
        assert symbol in DESCRIPTION_FOR_MODEL, symbol
    assert "convert names to symbols" in DESCRIPTION_FOR_MODEL


def test_description_for_model_asks_for_one_batched_call() -> None:
    assert "several symbols in ONE call" in DESCRIPTION_FOR_MODEL
    assert "at most 25 per call" in DESCRIPTION_FOR_MODEL


def test_the_batch_limit_in_the_description_is_the_settings() -> None:
    assert f"at most {Settings().max_symbols} per call" in DESCRIPTION_FOR_MODEL
    assert "at most 7 per call" in description_for_model(7)


def test_plugin_max_symbols_40_makes_the_served_description_say_40() -> None:
    settings = Settings.from_env({"PLUGIN_MAX_SYMBOLS": "40"})
    description = manifest_json(build_manifest(settings))["description_for_model"]
    assert "at most 40 per call" in description
    assert "25" not in description


# --- deployment_problems ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("base_url", ["http://localhost:8000", "http://127.0.0.1:8000", "http://[::1]:8000"])
def test_an_open_plugin_on_localhost_has_no_deployment_problems(base_url: str) -> None:
    assert deployment_problems(build_manifest(Settings(), base_url)) == []


def test_auth_on_localhost_is_a_deployment_problem() -> None:
    settings = Settings(api_token="s3cret", verification_tokens={"openai": "f3a9c1"})
    assert deployment_problems(build_manifest(settings)) == [
        "auth type 'service_http' needs a public HTTPS host; on localhost ChatGPT accepted 'none' only"
    ]


PLACEHOLDER_PROBLEM = (
    "auth.verification_tokens.openai is still the placeholder: replace it with the token OpenAI issues "
    "once this plugin's API token is registered"
)


def test_the_placeholder_is_a_deployment_problem_on_localhost_too() -> None:
    assert deployment_problems(build_manifest(Settings(api_token="s3cret"))) == [
        PLACEHOLDER_PROBLEM,
        "auth type 'service_http' needs a public HTTPS host; on localhost ChatGPT accepted 'none' only",
    ]


@pytest.mark.parametrize("variant", [SERVICE_AUTH, OAUTH], ids=["service_http", "oauth"])
def test_the_placeholder_is_the_only_problem_of_a_public_plugin_done_right(variant: dict[str, Any]) -> None:
    auth = {**variant, "verification_tokens": {"openai": VERIFICATION_TOKEN_PLACEHOLDER, "other": "real"}}
    assert deployment_problems(PluginManifest.model_validate(manifest_data(auth=auth))) == [
        PLACEHOLDER_PROBLEM
    ]


def test_a_public_plugin_with_its_real_verification_token_has_no_deployment_problems() -> None:
    settings = Settings(
        base_url="https://example.com", api_token="s3cret", verification_tokens={"openai": "f3a9c1"}
    )
    assert deployment_problems(build_manifest(settings)) == []


def test_a_public_https_plugin_on_one_root_domain_has_no_deployment_problems() -> None:
    manifest = PluginManifest.model_validate(
        manifest_data(
            legal_info_url="https://www.example.com/legal",
            contact_email="help@mail.example.com",
            api={"type": "openapi", "url": "https://prices.example.com:443/openapi.yaml"},
            auth=OAUTH,
        )
    )
    assert deployment_problems(manifest) == []


def test_a_public_plugin_over_http_or_another_port_is_a_deployment_problem() -> None:
    assert deployment_problems(build_manifest(Settings(base_url="http://example.com"))) == [
        "api.url uses http; a public plugin must be served over HTTPS",
        "logo_url uses http; a public plugin must be served over HTTPS",
        "legal_info_url uses http; a public plugin must be served over HTTPS",
    ]
    problems = deployment_problems(build_manifest(Settings(base_url="https://example.com:8443")))
    assert problems[0] == "api.url is on port 8443; a public plugin must be served on 443"
    assert len(problems) == 3


def test_oauth_urls_of_a_public_plugin_must_be_https() -> None:
    auth = {**OAUTH, "authorization_url": "http://prices.example.com/oauth/token"}
    manifest = PluginManifest.model_validate(manifest_data(auth=auth))
    assert deployment_problems(manifest) == [
        "auth.authorization_url uses http; a public plugin must be served over HTTPS"
    ]


def test_legal_page_and_contact_on_another_root_domain_are_deployment_problems() -> None:
    manifest = PluginManifest.model_validate(
        manifest_data(legal_info_url="https://legal.example.org/terms", contact_email="me@gmail.com")
    )
    assert deployment_problems(manifest) == [
        "legal_info_url is on legal.example.org, but api.url is on prices.example.com: "
        "they must share the root domain example.com",
        "contact_email is on gmail.com, but api.url is on prices.example.com: "
        "they must share the root domain example.com",
    ]
