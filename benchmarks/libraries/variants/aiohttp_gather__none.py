"""Sequential ("none") variant of sample_apps/libraries/aiohttp_gather.py.

Same server, same 400 quotes, same ``fetch_quote``; the coroutines are awaited
one after another instead of under asyncio.gather, i.e. the program without
concurrency (what the "none" model means for a program that is already
concurrent).
"""

import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "sample_apps", "libraries"))

import aiohttp  # noqa: E402
from aiohttp_gather import CONNECTIONS, fetch_quote, quote_urls, start_server, stop_server, summarize  # noqa: E402


async def fetch_each(urls):
    connector = aiohttp.TCPConnector(limit=CONNECTIONS)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        return [await fetch_quote(session, url) for url in urls]


def main():
    server, base_url = start_server()
    try:
        start = time.perf_counter()
        results = asyncio.run(fetch_each(quote_urls(base_url)))
        elapsed = time.perf_counter() - start
    finally:
        stop_server(server)
    print(f"aiohttp_gather: {summarize(results)}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
