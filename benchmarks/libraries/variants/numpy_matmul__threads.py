"""Threads variant of sample_apps/libraries/numpy_matmul.py.

Same 12 jobs, same ``multiply(job)``; a ThreadPoolExecutor with 2 workers (one
per core) runs them, results in job order.
OpenBLAS threads are left as they are, as a user would leave them.
"""

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "sample_apps", "libraries"))

from numpy_matmul import N_JOBS, multiply, summarize  # noqa: E402


def main():
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(multiply, range(N_JOBS)))
    elapsed = time.perf_counter() - start
    print(f"numpy_matmul: {summarize(results)}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
