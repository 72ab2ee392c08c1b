"""Processes variant of sample_apps/libraries/numpy_sort_fft.py.

Same 8 jobs, same ``analyse(job)``; a ProcessPoolExecutor with 2 workers runs
them (a job is a seed in and four numbers out, so one job per task is cheap).
"""

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "sample_apps", "libraries"))

from numpy_sort_fft import N_JOBS, analyse, summarize  # noqa: E402


def main():
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(analyse, range(N_JOBS)))
    elapsed = time.perf_counter() - start
    print(f"numpy_sort_fft: {summarize(results)}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
