"""Processes variant of sample_apps/libraries/requests_fetch.py.

Same server (in the parent), same 40 pages, same ``fetch_page``; a
multiprocessing Pool of 2 workers, each with its own requests.Session, fetches
the pages in chunks of 4.
"""

import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "sample_apps", "libraries"))

import requests  # noqa: E402
from requests_fetch import fetch_page, page_urls, start_server, stop_server, summarize  # noqa: E402

session = None


def init_worker():
    global session
    session = requests.Session()


def fetch(url):
    return fetch_page(session, url)


def main():
    server, base_url = start_server()
    try:
        start = time.perf_counter()
        with multiprocessing.Pool(2, initializer=init_worker) as pool:
            results = pool.map(fetch, page_urls(base_url), chunksize=4)
        elapsed = time.perf_counter() - start
    finally:
        stop_server(server)
    print(f"requests_fetch: {summarize(results)}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
