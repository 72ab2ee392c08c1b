"""asyncio variant of sample_apps/libraries/download_then_numpy.py.

Same server, same 20 dumps, same ``analyse``; the downloads go through an
aiohttp ClientSession (at most 20 connections) under asyncio.gather, and each
coroutine calls ``analyse`` on its body as soon as it has it, in the event
loop (asyncio alone: the downloads overlap, the numpy parts take turns).
"""

import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "sample_apps", "libraries"))

import aiohttp  # noqa: E402
from download_then_numpy import analyse, dump_urls, start_server, stop_server, summarize  # noqa: E402


async def job(session, url):
    async with session.get(url) as response:
        response.raise_for_status()
        body = await response.read()
    return analyse(body)


async def run_all(urls):
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=20),
                                     timeout=aiohttp.ClientTimeout(total=30)) as session:
        return await asyncio.gather(*(job(session, url) for url in urls))


def main():
    server, base_url = start_server()
    try:
        start = time.perf_counter()
        results = asyncio.run(run_all(dump_urls(base_url)))
        elapsed = time.perf_counter() - start
    finally:
        stop_server(server)
    print(f"download_then_numpy: {summarize(results)}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
