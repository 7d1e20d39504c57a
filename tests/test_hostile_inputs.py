"""What a model (or anyone) may send, at its worst: each input gets the right 4xx, or a 200 whose errors entry
says why the symbol is not one, always with a message that says what is wrong and what is allowed.

Decisions these cases pin down:

- Duplicate keys in a JSON body are a 422 naming the key: Python's `json` and JavaScript's `JSON.parse` let the
  last one win (RFC 8259 leaves it to the parser), which would hide a client's bug.
- A body that is not JSON (text, a form, multipart, no content type) is a 422 saying to send JSON, like any
  other malformed body; a byte order mark or UTF-16, which `json.loads` reads, is accepted.
- Keys the body does not define are ignored, so a model that adds one still gets its answer.
- A query string over 2 KB is a 414, a body over 16 KB a 413; a request that is well-formed but whose symbols
  are not symbols is a 200 with one `invalid_symbol` entry per input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from plugin.app import create_app
from plugin.settings import Settings

JSON = {"content-type": "application/json"}
NESTED = b'{"tickers": ' + b"[" * 5000 + b"]" * 5000 + b"}"


@dataclass(frozen=True)
class Case:
    """One hostile request and what it must get back."""

    id: str
    method: str
    target: str
    options: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    #: For a 4xx: the error code and a piece of its message. For a 200: the invalid input and a piece of its
    #: message; or, for an input that is fine after all, the symbols quoted.
    code: str = ""
    says: str = ""
    invalid: str | None = None
    quoted: tuple[str, ...] = ()


def get(id: str, tickers: str, **expect: Any) -> Case:
    return Case(id, "GET", "/get_prices", {"params": {"tickers": tickers}}, **expect)


def raw(id: str, query: str, **expect: Any) -> Case:
    return Case(id, "GET", f"/get_prices?{query}", **expect)


def post(id: str, body: bytes, headers: dict[str, str] = JSON, **expect: Any) -> Case:
    return Case(id, "POST", "/get_prices", {"content": body, "headers": headers}, **expect)


A_PATH = "it looks like a file path, and a symbol is never a path"
NON_ASCII = "non-ASCII characters (look-alike or full-width letters)"
ALLOWED = "A symbol is 1 to 15 characters: letters A-Z, digits, and . - = ^"

CASES = [
    # --- symbols that try to be something else, in the query string --------------------------------------------
    get("path traversal", "../../etc/passwd", invalid="../../etc/passwd", says=A_PATH),
    raw("encoded traversal", "tickers=..%2F..%2Fetc%2Fpasswd", invalid="../../etc/passwd", says=A_PATH),
    raw("encoded dots", "tickers=%2e%2e", invalid="..", says=A_PATH),
    get("dots and a suffix", "AAPL..TO", invalid="AAPL..TO", says="more than one '.'"),
    get("URL fragment", "AAPL#x", invalid="AAPL#x", says="it contains '#'"),
    get("URL query", "AAPL?x=1", invalid="AAPL?x=1", says="it contains"),
    raw("encoded NUL", "tickers=AAPL%00", invalid="AAPL\x00", says="it contains '\\x00'"),
    get("control characters", "AA\x07PL\x1b[2J", invalid="AA\x07PL\x1b[2J", says="it contains"),
    get(
        "header injection",
        "AAPL\r\nX-Injected: 1",
        invalid="AAPL\r\nX-Injected: 1",
        says="it contains '\\n', '\\r', ':'",
    ),
    get(
        "HTML",
        "<script>alert(1)</script>",
        invalid="<script>alert(1)</script>",
        says="it contains '(', ')', '<', '>'",
    ),
    get("SQL", "AAPL' OR '1'='1", invalid="AAPL' OR '1'='1", says='it contains "\'"'),
    get("shell", "$(reboot)", invalid="$(reboot)", says="it contains"),
    get("a URL", "https://evil.example/AAPL", invalid="https://evil.example/AAPL", says="it contains ':'"),
    get("fullwidth letters", "ＡＡＰＬ", invalid="ＡＡＰＬ", says=NON_ASCII),
    get("Cyrillic look-alike", "АAPL", invalid="АAPL", says=NON_ASCII),
    get("zero-width space", "AAPL\u200b", invalid="AAPL\u200b", says=NON_ASCII),
    get("emoji", "🍎", invalid="🍎", says=NON_ASCII),
    raw("invalid UTF-8", "tickers=%FF%FE", invalid="\ufffd\ufffd", says=NON_ASCII),
    get("too long", "A" * 40, invalid="A" * 31 + "…", says="longer than 15 characters"),
    get("long but under 2 KB", "B" * 1900, invalid="B" * 31 + "…", says="longer than 15 characters"),
    get("an index done wrong", "^^GSPC", invalid="^^GSPC", says="an index is '^' then letters"),
    get("a rate done wrong", "EUR=USD", invalid="EUR=USD", says="'=' only ends an FX rate"),
    # --- malformed queries --------------------------------------------------------------------------------------
    raw("query over 2 KB", "tickers=" + "A" * 2100, status=414, code="uri_too_long", says="at most 2,048"),
    get(
        "26 symbols",
        ",".join(f"S{i}" for i in range(26)),
        status=422,
        code="invalid_request",
        says="at most 25",
    ),
    get("empty", "", status=422, code="invalid_request", says="at least 1 item"),
    get("only a tab", "\t", status=422, code="invalid_request", says="at least 1 item"),
    get("only commas", ",,,", status=422, code="invalid_request", says="must not be empty"),
    raw(
        "a repeat that is empty",
        "tickers=AAPL&tickers=",
        status=422,
        code="invalid_request",
        says="tickers[1]",
    ),
    raw("no tickers at all", "symbols=AAPL", status=422, code="invalid_request", says="tickers: is required"),
    raw("an empty parameter", "tickers=", status=422, code="invalid_request", says="at least 1 item, got 0"),
    raw(
        "26 in repeated parameters",
        "&".join(f"tickers=S{i}" for i in range(26)),
        status=422,
        code="invalid_request",
        says="tickers: at most 25 items per request, got 26",
    ),
    Case(
        "fundamentals: 26 symbols",
        "GET",
        "/get_fundamentals",
        {"params": {"tickers": ",".join(f"S{i}" for i in range(26))}},
        status=422,
        code="invalid_request",
        says="at most 25",
    ),
    Case(
        "fundamentals: no tickers",
        "GET",
        "/get_fundamentals",
        status=422,
        code="invalid_request",
        says="tickers: is required",
    ),
    Case(
        "POST: an empty query form",
        "POST",
        "/get_prices?tickers=",
        status=422,
        code="invalid_request",
        says="tickers: must have at least 1 item",
    ),
    # --- JSON bodies of the wrong shape -------------------------------------------------------------------------
    post("a number", b"42", status=422, code="invalid_request", says="must be a JSON object, got a number"),
    post(
        "a string", b'"AAPL"', status=422, code="invalid_request", says="must be a JSON object, got a string"
    ),
    post(
        "an array",
        b'["AAPL"]',
        status=422,
        code="invalid_request",
        says="must be a JSON object, got an array",
    ),
    post("null", b"null", status=422, code="invalid_request", says="body: must be a JSON object, got null"),
    post(
        "tickers a string",
        b'{"tickers": "AAPL"}',
        status=422,
        code="invalid_request",
        says="must be an array",
    ),
    post("tickers a number", b'{"tickers": 42}', status=422, code="invalid_request", says="got a number"),
    post(
        "tickers an object",
        b'{"tickers": {"0": "AAPL"}}',
        status=422,
        code="invalid_request",
        says="an object",
    ),
    post("tickers null", b'{"tickers": null}', status=422, code="invalid_request", says="got null"),
    post("nested arrays", b'{"tickers": [["AAPL"]]}', status=422, code="invalid_request", says="tickers[0]"),
    post("mixed types", b'{"tickers": [1, true, null]}', status=422, code="invalid_request", says="2 more"),
    post(
        "no tickers",
        b'{"TICKERS": ["AAPL"]}',
        status=422,
        code="invalid_request",
        says="tickers: is required",
    ),
    post("empty list", b'{"tickers": []}', status=422, code="invalid_request", says="at least 1 item"),
    post(
        "an empty symbol",
        b'{"tickers": ["AAPL", " "]}',
        status=422,
        code="invalid_request",
        says="not be empty",
    ),
    post(
        "26 in a body",
        b'{"tickers": [' + b'"A",' * 25 + b'"A"]}',
        status=422,
        code="invalid_request",
        says="25",
    ),
    post("NaN", b'{"tickers": [NaN]}', status=422, code="invalid_request", says="NaN is not a JSON number"),
    post(
        "NaN ignored", b'{"tickers": ["AAPL"], "x": NaN}', status=422, code="invalid_request", says="no NaN"
    ),
    post(
        "5001 digits ignored",
        b'{"tickers": ["AAPL"], "x": ' + b"9" * 5001 + b"}",
        status=422,
        code="invalid_request",
        says="a number of 5,001 digits; at most 4,300 are accepted",
    ),
    post(
        "unpaired surrogate", b'{"tickers": ["\\ud800"]}', status=422, code="invalid_request", says="Unicode"
    ),
    post("truncated", b'{"tickers": ["AAPL"', status=422, code="invalid_request", says="is not valid JSON"),
    post("nested 5000 deep", NESTED, status=422, code="invalid_request", says="nested too deeply"),
    post("XML", b"<tickers>AAPL</tickers>", status=422, code="invalid_request", says="is not valid JSON"),
    post("empty body", b"", status=422, code="invalid_request", says="tickers: is required"),
    post("over 16 KB", b" " * 17_000, status=413, code="payload_too_large", says="at most 16,384 bytes"),
    # --- JSON bodies that are fine, or whose symbols are not symbols ---------------------------------------------
    post(
        "duplicate keys",
        b'{"tickers": ["ZZZZ"], "tickers": ["AAPL"]}',
        status=422,
        code="invalid_request",
        says="tickers: the key appears twice in the JSON body; send it once",
    ),
    post(
        "a duplicate key inside an extra object",
        b'{"tickers": ["AAPL"], "options": {"a": 1, "a": 2}}',
        status=422,
        code="invalid_request",
        says="a: the key appears twice",
    ),
    post("a boolean", b"true", status=422, code="invalid_request", says="must be a JSON object, got boolean"),
    post("an empty object", b"{}", status=422, code="invalid_request", says="tickers: is required"),
    post(
        "Tickers, capitalized",
        b'{"Tickers": ["AAPL"]}',
        status=422,
        code="invalid_request",
        says="is required",
    ),
    post(
        "numbers",
        b'{"tickers": [1, 2]}',
        status=422,
        code="invalid_request",
        says="tickers[0]: must be a string",
    ),
    post("a boolean symbol", b'{"tickers": [true]}', status=422, code="invalid_request", says="got boolean"),
    post(
        "Infinity",
        b'{"tickers": [Infinity]}',
        status=422,
        code="invalid_request",
        says="Infinity is not a JSON",
    ),
    post(
        "-Infinity",
        b'{"tickers": [-Infinity]}',
        status=422,
        code="invalid_request",
        says="Infinity is not a JSON",
    ),
    post(
        "invalid UTF-8 in the body",
        b'{"tickers": ["\xff\xfe"]}',
        status=422,
        code="invalid_request",
        says="is not valid JSON (it is not UTF-8 text: byte 0xff at position 14)",
    ),
    post(
        "trailing garbage",
        b'{"tickers": ["AAPL"]} x',
        status=422,
        code="invalid_request",
        says="(Extra data)",
    ),
    post(
        "two objects",
        b'{"tickers": ["AAPL"]}{"tickers": ["MSFT"]}',
        status=422,
        code="invalid_request",
        says="(Extra data)",
    ),
    post("only whitespace", b"  \n\t ", status=422, code="invalid_request", says="is not valid JSON"),
    post("single quotes", b"{'tickers': ['AAPL']}", status=422, code="invalid_request", says="double quotes"),
    post(
        "a trailing comma",
        b'{"tickers": ["AAPL",]}',
        status=422,
        code="invalid_request",
        says="not valid JSON",
    ),
    post(
        "a comment",
        b'{"tickers": ["AAPL"] /* x */}',
        status=422,
        code="invalid_request",
        says="not valid JSON",
    ),
    post(
        "a 5000-digit number",
        b'{"tickers": [' + b"9" * 5000 + b"]}",
        status=422,
        code="invalid_request",
        says="is not valid JSON",
    ),
    post("extra keys are ignored", b'{"tickers": ["AAPL"], "format": "xml"}', quoted=("AAPL",)),
    post("a byte order mark", b'\xef\xbb\xbf{"tickers": ["AAPL"]}', quoted=("AAPL",)),
    post("UTF-16", '{"tickers": ["AAPL"]}'.encode("utf-16"), quoted=("AAPL",)),
    post("NUL in JSON", b'{"tickers": ["AAPL\\u0000"]}', invalid="AAPL\x00", says="it contains"),
    post("a long string", b'{"tickers": ["' + b"X" * 10_000 + b'"]}', invalid="X" * 31 + "…", says="longer"),
    post("traversal in JSON", b'{"tickers": ["../../etc/passwd"]}', invalid="../../etc/passwd", says=A_PATH),
    # --- content types ------------------------------------------------------------------------------------------
    post(
        "JSON sent as text",
        b'{"tickers": ["AAPL"]}',
        {"content-type": "text/plain"},
        status=422,
        code="invalid_request",
        says="is not JSON (send a JSON object with Content-Type: application/json)",
    ),
    post(
        "a form",
        b"tickers=AAPL",
        {"content-type": "application/x-www-form-urlencoded"},
        status=422,
        code="invalid_request",
        says="Content-Type: application/json",
    ),
    Case(
        "multipart",
        "POST",
        "/get_prices",
        {"files": {"tickers": ("tickers.json", b'{"tickers": ["AAPL"]}', "application/json")}},
        status=422,
        code="invalid_request",
        says="is not JSON (send a JSON object with Content-Type: application/json)",
    ),
    post(
        "a content type that is not one",
        b'{"tickers": ["AAPL"]}',
        {"content-type": ";;;"},
        status=422,
        code="invalid_request",
        says="Content-Type: application/json",
    ),
    post(
        "no content type",
        b'{"tickers": ["AAPL"]}',
        {},
        status=422,
        code="invalid_request",
        says="is not JSON",
    ),
    Case(
        "query and body both",
        "POST",
        "/get_prices?tickers=AAPL",
        {"json": {"tickers": ["MSFT"]}},
        status=422,
        code="invalid_request",
        says="send it in one of them",
    ),
    # --- paths and methods --------------------------------------------------------------------------------------
    Case(
        "encoded traversal path",
        "GET",
        "/%2e%2e/%2e%2e/etc/passwd",
        status=404,
        code="not_found",
        says="GET /get",
    ),
    Case("NUL in the path", "GET", "/get_prices%00", status=404, code="not_found", says="This API has"),
    Case("a long path", "GET", "/" + "x" * 5000, status=404, code="not_found", says="x…. This API has"),
    Case(
        "TRACE",
        "TRACE",
        "/get_prices",
        status=405,
        code="method_not_allowed",
        says="it answers GET, HEAD, POST",
    ),
    Case("PUT", "PUT", "/get_prices", {"json": {"tickers": ["AAPL"]}}, status=405, code="method_not_allowed"),
    Case(
        "DELETE",
        "DELETE",
        "/get_prices",
        status=405,
        code="method_not_allowed",
        says="it answers GET, HEAD, POST",
    ),
    Case(
        "POST to fundamentals",
        "POST",
        "/get_fundamentals",
        {"json": {"tickers": ["AAPL"]}},
        status=405,
        code="method_not_allowed",
        says="it answers GET, HEAD.",
    ),
]


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app(Settings(source="sample")))


def test_the_table_is_long_enough() -> None:
    assert len({case.id for case in CASES}) == len(CASES)
    assert len([case for case in CASES if 400 <= case.status < 500]) >= 40, "issue #7: at least 40 refusals"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_a_hostile_input_gets_a_clear_answer(client: TestClient, case: Case) -> None:
    answer: httpx.Response = client.request(case.method, case.target, **case.options)
    assert answer.status_code == case.status, answer.text[:500]
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-content-type-options"] == "nosniff"
    body = answer.json()
    assert len(answer.content) < 4_000, "never an echo of a huge input"
    if case.status != 200:
        error = body["error"]
        assert error["code"] == case.code
        assert case.says in error["message"], error["message"]
        return
    if case.quoted:
        assert [quote["symbol"] for quote in body["quotes"]] == list(case.quoted)
        assert body["errors"] == []
        return
    assert body["quotes"] == []
    [entry] = body["errors"]
    assert (entry["symbol"], entry["code"]) == (case.invalid, "invalid_symbol")
    assert case.says in entry["message"], entry["message"]
    assert entry["message"].endswith("(for example AAPL, BRK-B, SHOP.TO, BTC-USD, ^GSPC, EURUSD=X).")
    assert ALLOWED in entry["message"]
