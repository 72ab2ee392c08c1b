"""Threads variant of sample_apps/libraries/pillow_resize.py.

Same 10 jobs, same ``thumbnail(job)``; a ThreadPoolExecutor with 2 workers (one
per core) runs them, results in job order.
"""

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "sample_apps", "libraries"))

from pillow_resize import N_JOBS, thumbnail, summarize  # noqa: E402


def main():
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(thumbnail, range(N_JOBS)))
    elapsed = time.perf_counter() - start
    print(f"pillow_resize: {summarize(results)}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
