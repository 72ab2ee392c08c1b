"""Processes variant of sample_apps/libraries/black_format.py.

Same 10 modules, same ``format_module(job)``; a ProcessPoolExecutor with 2 workers runs
them (a module number in, three numbers out: each worker generates and formats its own modules).
"""

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "sample_apps", "libraries"))

from black_format import N_MODULES, format_module, summarize  # noqa: E402


def main():
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(format_module, range(N_MODULES)))
    elapsed = time.perf_counter() - start
    print(f"black_format: {summarize(results)}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
