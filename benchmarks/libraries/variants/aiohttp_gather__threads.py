"""Threads variant of sample_apps/libraries/aiohttp_gather.py.

Same server, same 400 quotes, same per-quote ``digest``; the client is
requests in a ThreadPoolExecutor with 20 workers (as many as the original's
connections), each thread with its own requests.Session.
"""

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "sample_apps", "libraries"))

import requests  # noqa: E402
from aiohttp_gather import CONNECTIONS, digest, quote_urls, start_server, stop_server, summarize  # noqa: E402

local = threading.local()


def fetch_quote(url):
    if not hasattr(local, "session"):
        local.session = requests.Session()
    response = local.session.get(url, timeout=30)
    response.raise_for_status()
    return digest(response.content)


def main():
    server, base_url = start_server()
    try:
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=CONNECTIONS) as pool:
            results = list(pool.map(fetch_quote, quote_urls(base_url)))
        elapsed = time.perf_counter() - start
    finally:
        stop_server(server)
    print(f"aiohttp_gather: {summarize(results)}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
