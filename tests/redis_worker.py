"""One worker process of the Redis tests: the service's own serving stack, asked concurrently, its answers printed.

Run by `tests/support.start_worker`, never by hand. It builds `serving_source(settings)` with a Redis URL, as the
service does, over an upstream that is the sample data (offline) but appends each symbol it is asked for to a
file, with this process's pid, so a test counts the upstream calls of every process at once. It prints `ready`,
waits until the go file exists (so that all the workers of a test start together), sends its requests, and prints
one JSON line: each answer (price or error code, stale or not), the observer's counts, and its pid.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from support import Tally  # noqa: E402

from plugin.deadline import serving_source  # noqa: E402
from plugin.quotes import Quote, QuoteError  # noqa: E402
from plugin.settings import Settings  # noqa: E402
from plugin.sources import SampleSource  # noqa: E402


class RecordedUpstream(SampleSource):
    """The sample data after `delay` seconds; each symbol asked is one line `PID SYMBOL` appended to `path`."""

    name = "sample"

    def __init__(self, path: Path, delay: float) -> None:
        super().__init__()
        self.path, self.delay = path, delay

    async def get_quotes(self, symbols: Sequence[str]) -> dict[str, Quote | QuoteError]:
        with self.path.open("a", encoding="utf-8") as asked:
            asked.write("".join(f"{os.getpid()} {symbol}\n" for symbol in symbols))
        await asyncio.sleep(self.delay)
        return await super().get_quotes(symbols)


def describe(answer: Quote | QuoteError) -> dict[str, object]:
    if isinstance(answer, QuoteError):
        return {"symbol": answer.symbol, "code": answer.code, "message": answer.message}
    return {"symbol": answer.symbol, "price": answer.price, "stale": answer.stale}


async def main(args: argparse.Namespace) -> dict[str, object]:
    settings = Settings(
        source="sample",
        redis_url=args.redis_url,
        request_deadline=args.deadline,
        upstream_budget=args.budget,
    )
    tally = Tally()
    source = serving_source(settings, upstream=RecordedUpstream(Path(args.asked), args.delay), observer=tally)
    print("ready", flush=True)
    give_up = time.monotonic() + 30
    while not Path(args.go).exists() and time.monotonic() < give_up:
        await asyncio.sleep(0.005)
    answers = await asyncio.gather(*(source.get_quotes(args.symbols) for _ in range(args.requests)))
    await source.aclose()
    return {
        "pid": os.getpid(),
        "answers": [describe(answer) for each in answers for answer in each.values()],
        "events": dict(tally),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("redis_url")
    parser.add_argument("asked")
    parser.add_argument("go")
    parser.add_argument("symbols", nargs="+")
    parser.add_argument("--requests", type=int, default=1)
    parser.add_argument("--delay", type=float, default=0.0)
    parser.add_argument("--deadline", type=float, default=10.0)
    parser.add_argument("--budget", type=int, default=60)
    print(json.dumps(asyncio.run(main(parser.parse_args()))), flush=True)
