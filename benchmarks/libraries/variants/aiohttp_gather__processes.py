"""Processes variant of sample_apps/libraries/aiohttp_gather.py.

Same server (in the parent), same 400 quotes, same ``fetch_all``; a
multiprocessing Pool of 2 workers, each running the original asyncio client
(``asyncio.run(fetch_all(...))``) over half of the URLs with half of the
connections (10 each, 20 in all, as in the original).  This is the
asyncio+multiprocessing shape: an event loop per process.
"""

import asyncio
import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "sample_apps", "libraries"))

from aiohttp_gather import CONNECTIONS, fetch_all, quote_urls, start_server, stop_server, summarize  # noqa: E402

WORKERS = 2


def fetch_chunk(urls):
    return asyncio.run(fetch_all(urls, connections=CONNECTIONS // WORKERS))


def main():
    server, base_url = start_server()
    try:
        start = time.perf_counter()
        urls = quote_urls(base_url)
        half = (len(urls) + 1) // WORKERS
        with multiprocessing.Pool(WORKERS) as pool:
            chunks = pool.map(fetch_chunk, [urls[:half], urls[half:]])
        results = [r for chunk in chunks for r in chunk]
        elapsed = time.perf_counter() - start
    finally:
        stop_server(server)
    print(f"aiohttp_gather: {summarize(results)}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
