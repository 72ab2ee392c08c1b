"""Processes variant of sample_apps/libraries/pillow_noise.py.

Same 24 jobs, same ``grain(job)``; a ProcessPoolExecutor with 2 workers runs
them in chunks of 3 jobs (a job number in, three numbers out).
"""

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "sample_apps", "libraries"))

from pillow_noise import N_JOBS, grain, summarize  # noqa: E402


def main():
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(grain, range(N_JOBS), chunksize=3))
    elapsed = time.perf_counter() - start
    print(f"pillow_noise: {summarize(results)}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
