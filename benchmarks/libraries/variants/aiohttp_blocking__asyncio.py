"""asyncio variant of sample_apps/libraries/aiohttp_blocking.py: the blocking call moved to a thread.

Same server, same 30 orders, same quotes through aiohttp, same ``price``; the
one change is ``requests.get`` -> ``await asyncio.to_thread(requests.get, ...)``,
so the rate lookups no longer freeze the event loop (they run in the loop's
default executor, min(32, cores + 4) = 6 threads here).
"""

import asyncio
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "sample_apps", "libraries"))

import aiohttp  # noqa: E402
import requests  # noqa: E402
from aiohttp_blocking import CONNECTIONS, N_ORDERS, price, start_server, stop_server, summarize  # noqa: E402


async def price_order(session, base_url, n):
    async with session.get(f"{base_url}/quote/{n}") as response:
        response.raise_for_status()
        quote = await response.json()
    rate = await asyncio.to_thread(requests.get, f"{base_url}/rate/{n}", timeout=10)
    rate.raise_for_status()
    return price(quote, rate.json())


async def price_all(base_url, orders):
    connector = aiohttp.TCPConnector(limit=CONNECTIONS)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        return await asyncio.gather(*(price_order(session, base_url, n) for n in orders))


def main():
    server, base_url = start_server()
    try:
        start = time.perf_counter()
        results = asyncio.run(price_all(base_url, range(N_ORDERS)))
        elapsed = time.perf_counter() - start
    finally:
        stop_server(server)
    print(f"aiohttp_blocking: {summarize(results)}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
