"""asyncio + multiprocessing variant of sample_apps/libraries/download_then_numpy.py.

Same server, same 20 dumps, same ``analyse``; the downloads go through an
aiohttp ClientSession (at most 20 connections) under asyncio.gather, and each
body is handed to a ProcessPoolExecutor with 2 workers
(``loop.run_in_executor``) as soon as it arrives: the waits overlap in the
loop, the numpy parts run in two processes (each 4 MB body is pickled to a
worker).
"""

import asyncio
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "sample_apps", "libraries"))

import aiohttp  # noqa: E402
from download_then_numpy import analyse, dump_urls, start_server, stop_server, summarize  # noqa: E402


async def job(session, pool, url):
    async with session.get(url) as response:
        response.raise_for_status()
        body = await response.read()
    return await asyncio.get_running_loop().run_in_executor(pool, analyse, body)


async def run_all(urls):
    with ProcessPoolExecutor(max_workers=2) as pool:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=20),
                                         timeout=aiohttp.ClientTimeout(total=30)) as session:
            return await asyncio.gather(*(job(session, pool, url) for url in urls))


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
