"""Processes variant of sample_apps/libraries/download_then_numpy.py.

Same server (in the parent), same 20 dumps, same ``download`` and
``analyse``; a multiprocessing Pool of 2 workers, each with its own
requests.Session, runs whole jobs (download then analyse) in chunks of 2, so
only a URL goes in and three numbers come back.
"""

import multiprocessing
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "sample_apps", "libraries"))

import requests  # noqa: E402
from download_then_numpy import analyse, download, dump_urls, start_server, stop_server, summarize  # noqa: E402

session = None


def init_worker():
    global session
    session = requests.Session()


def job(url):
    return analyse(download(session, url))


def main():
    server, base_url = start_server()
    try:
        start = time.perf_counter()
        with multiprocessing.Pool(2, initializer=init_worker) as pool:
            results = pool.map(job, dump_urls(base_url), chunksize=2)
        elapsed = time.perf_counter() - start
    finally:
        stop_server(server)
    print(f"download_then_numpy: {summarize(results)}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
