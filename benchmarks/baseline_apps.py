"""The baselines the plugin's HTTP figures are measured against, served with the plugin's uvicorn settings.

- `fastapi`: the least a FastAPI app can do to answer `GET /get_prices?tickers=AAPL,BTC-USD`: one async route
  that validates the query by the plugin's rules, then returns the plugin's own answer for those two symbols,
  serialized once at start-up. No middleware, no cache lookup: the plugin cannot beat it, and the figure says
  how close it comes.
- `raw`: a bare ASGI callable that answers every request with the same fixed bytes. No framework, no routing,
  no validation: the machine's practical ceiling for uvicorn on one core.

Usage::

    python benchmarks/baseline_apps.py fastapi --port 8001
    python benchmarks/baseline_apps.py raw --port 8002
"""

from __future__ import annotations

import argparse
import json
from typing import Annotated, Any

from fastapi import FastAPI, Query
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import Field, StringConstraints, TypeAdapter, ValidationError

__all__ = ["KINDS", "fastapi_baseline", "raw_baseline", "sample_body"]

KINDS = ("fastapi", "raw")
SYMBOLS = ("AAPL", "BTC-USD")


def sample_body(symbols: tuple[str, ...] = SYMBOLS) -> bytes:
    """The plugin's own answer for `symbols` from its sample data, serialized the way the plugin's models do."""
    import asyncio

    from plugin.sources import SampleSource

    results = asyncio.run(SampleSource().get_quotes(list(symbols)))
    quotes = [results[s].model_dump(mode="json") for s in symbols]
    return json.dumps({"quotes": quotes, "errors": []}, separators=(",", ":")).encode()


def fastapi_baseline() -> FastAPI:
    """One async route, validating `tickers` by the plugin's rules, answering with prebuilt bytes of the same shape.

    The validation is the plugin's request model for `?tickers=`: 1 to `Settings.max_symbols` non-empty strings
    (a pydantic `TypeAdapter`), each then normalized by `plugin.symbols.parse_symbols`.
    """
    from plugin.settings import Settings
    from plugin.symbols import parse_symbols

    tickers_adapter = TypeAdapter(
        Annotated[
            list[Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]],
            Field(min_length=1, max_length=Settings().max_symbols),
        ]
    )
    body = sample_body()
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/get_prices")
    async def get_prices(tickers: Annotated[str, Query()]) -> Response:
        try:
            raw = tickers_adapter.validate_python(tickers.split(","))
        except ValidationError as exc:
            raise RequestValidationError(exc.errors(include_url=False)) from None
        symbols, errors = parse_symbols(raw)
        if errors or not symbols:
            return JSONResponse({"detail": [e.model_dump() for e in errors]}, status_code=422)
        return Response(body, media_type="application/json")

    return app


def raw_baseline() -> Any:
    """A bare ASGI app answering every HTTP request with the same fixed bytes."""
    body = sample_body()
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
    }
    end = {"type": "http.response.body", "body": body}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":  # lifespan: accept start-up and shut-down
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": message["type"] + ".complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await send(start)
        await send(end)

    return app


def main(argv: list[str] | None = None) -> int:
    import uvicorn
    from harness import UVICORN_SETTINGS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    app = fastapi_baseline() if args.kind == "fastapi" else raw_baseline()
    uvicorn.run(app, host="127.0.0.1", port=args.port, **UVICORN_SETTINGS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
