"""Threads variant of sample_apps/libraries/aiohttp_blocking.py.

Same server, same 30 orders, same ``price``; no event loop in the client:
each order is priced by a plain function (quote and rate with requests, a
requests.Session per thread) and a ThreadPoolExecutor with 16 workers runs
them.
"""

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "sample_apps", "libraries"))

import requests  # noqa: E402
from aiohttp_blocking import N_ORDERS, price, start_server, stop_server, summarize  # noqa: E402

local = threading.local()


def price_order(base_url, n):
    if not hasattr(local, "session"):
        local.session = requests.Session()
    quote = local.session.get(f"{base_url}/quote/{n}", timeout=10)
    quote.raise_for_status()
    rate = local.session.get(f"{base_url}/rate/{n}", timeout=10)
    rate.raise_for_status()
    return price(quote.json(), rate.json())


def main():
    server, base_url = start_server()
    try:
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(partial(price_order, base_url), range(N_ORDERS)))
        elapsed = time.perf_counter() - start
    finally:
        stop_server(server)
    print(f"aiohttp_blocking: {summarize(results)}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
