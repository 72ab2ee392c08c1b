"""Processes variant of sample_apps/libraries/numpy_matmul.py.

Same 12 jobs, same ``multiply(job)``; a ProcessPoolExecutor with 2 workers runs
them (a job is a number in and three numbers out).
Each worker's OpenBLAS still starts its own threads, as a user's code would.
"""

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "sample_apps", "libraries"))

from numpy_matmul import N_JOBS, multiply, summarize  # noqa: E402


def main():
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(multiply, range(N_JOBS)))
    elapsed = time.perf_counter() - start
    print(f"numpy_matmul: {summarize(results)}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
