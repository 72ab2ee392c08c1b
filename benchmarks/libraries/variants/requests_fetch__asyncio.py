"""asyncio variant of sample_apps/libraries/requests_fetch.py.

Same server, same 40 pages, same per-page result (bytes, crc32, stock);
requests is replaced by an aiohttp ClientSession and the 40 GETs run
concurrently under asyncio.gather (at most 20 connections).
"""

import asyncio
import json
import os
import sys
import time
import zlib

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "sample_apps", "libraries"))

import aiohttp  # noqa: E402
from requests_fetch import page_urls, start_server, stop_server, summarize  # noqa: E402


async def fetch_page(session, url):
    async with session.get(url) as response:
        response.raise_for_status()
        body = await response.read()
    stock = sum(item["stock"] for item in json.loads(body)["items"])
    return len(body), zlib.crc32(body), stock


async def fetch_all(urls):
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=20),
                                     timeout=aiohttp.ClientTimeout(total=10)) as session:
        return await asyncio.gather(*(fetch_page(session, url) for url in urls))


def main():
    server, base_url = start_server()
    try:
        start = time.perf_counter()
        results = asyncio.run(fetch_all(page_urls(base_url)))
        elapsed = time.perf_counter() - start
    finally:
        stop_server(server)
    print(f"requests_fetch: {summarize(results)}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
