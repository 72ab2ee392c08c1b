"""Processes variant of sample_apps/libraries/aiohttp_blocking.py.

Same server (in the parent), same 30 orders, same ``price_all`` (the
blocking ``requests.get`` included); a multiprocessing Pool of 2 workers,
each running the original asyncio client over half of the orders with 10
connections: two event loops, each still blocked by its own lookups.
"""

import asyncio
import multiprocessing
import os
import sys
import time
from functools import partial

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "sample_apps", "libraries"))

from aiohttp_blocking import CONNECTIONS, N_ORDERS, price_all, start_server, stop_server, summarize  # noqa: E402

WORKERS = 2


def price_chunk(base_url, orders):
    return asyncio.run(price_all(base_url, orders, connections=CONNECTIONS // WORKERS))


def main():
    server, base_url = start_server()
    try:
        start = time.perf_counter()
        orders = list(range(N_ORDERS))
        half = (len(orders) + 1) // WORKERS
        with multiprocessing.Pool(WORKERS) as pool:
            chunks = pool.map(partial(price_chunk, base_url), [orders[:half], orders[half:]])
        results = [r for chunk in chunks for r in chunk]
        elapsed = time.perf_counter() - start
    finally:
        stop_server(server)
    print(f"aiohttp_blocking: {summarize(results)}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
