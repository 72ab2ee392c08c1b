"""Threads variant of sample_apps/libraries/requests_fetch.py.

Same server, same 40 pages, same ``fetch_page``; the fetches run in a
ThreadPoolExecutor with 16 workers, each thread with its own requests.Session
(a Session is not meant to be shared between threads).
"""

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "sample_apps", "libraries"))

import requests  # noqa: E402
from requests_fetch import fetch_page, page_urls, start_server, stop_server, summarize  # noqa: E402

local = threading.local()


def fetch(url):
    if not hasattr(local, "session"):
        local.session = requests.Session()
    return fetch_page(local.session, url)


def main():
    server, base_url = start_server()
    try:
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=16) as pool:
            results = list(pool.map(fetch, page_urls(base_url)))
        elapsed = time.perf_counter() - start
    finally:
        stop_server(server)
    print(f"requests_fetch: {summarize(results)}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
