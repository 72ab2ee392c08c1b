"""Threads variant of sample_apps/libraries/download_then_numpy.py.

Same server, same 20 dumps, same ``download`` and ``analyse``; each job
(download then analyse) runs in a ThreadPoolExecutor with 8 workers, each
thread with its own requests.Session.
"""

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "sample_apps", "libraries"))

import requests  # noqa: E402
from download_then_numpy import analyse, download, dump_urls, start_server, stop_server, summarize  # noqa: E402

local = threading.local()


def job(url):
    if not hasattr(local, "session"):
        local.session = requests.Session()
    return analyse(download(local.session, url))


def main():
    server, base_url = start_server()
    try:
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(job, dump_urls(base_url)))
        elapsed = time.perf_counter() - start
    finally:
        stop_server(server)
    print(f"download_then_numpy: {summarize(results)}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
