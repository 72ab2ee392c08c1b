"""Sequential ("none") variant of sample_apps/libraries/aiohttp_blocking.py.

Same server, same 30 orders, same ``price_order`` (blocking lookup included);
the coroutines are awaited one after another instead of under asyncio.gather:
the program without concurrency.
"""

import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "sample_apps", "libraries"))

import aiohttp  # noqa: E402
from aiohttp_blocking import CONNECTIONS, N_ORDERS, price_order, start_server, stop_server, summarize  # noqa: E402


async def price_each(base_url, orders):
    connector = aiohttp.TCPConnector(limit=CONNECTIONS)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        return [await price_order(session, base_url, n) for n in orders]


def main():
    server, base_url = start_server()
    try:
        start = time.perf_counter()
        results = asyncio.run(price_each(base_url, range(N_ORDERS)))
        elapsed = time.perf_counter() - start
    finally:
        stop_server(server)
    print(f"aiohttp_blocking: {summarize(results)}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
