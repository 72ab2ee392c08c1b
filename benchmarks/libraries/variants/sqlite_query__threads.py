"""Threads variant of sample_apps/libraries/sqlite_query.py.

Same database, built the same way first; same ``report(path, job)``; a
ThreadPoolExecutor with 2 workers (one per core) runs the 24 reports, each
with its own connection as in the original.
"""

import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "sample_apps", "libraries"))

from sqlite_query import N_REPORTS, build_database, report, summarize  # noqa: E402


def main():
    with tempfile.TemporaryDirectory() as folder:
        path = build_database(folder)
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(partial(report, path), range(N_REPORTS)))
        elapsed = time.perf_counter() - start
    print(f"sqlite_query: {summarize(results)}, queries {elapsed:.2f}s")


if __name__ == "__main__":
    main()
