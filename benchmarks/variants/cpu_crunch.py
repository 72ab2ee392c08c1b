"""Hand-written multiprocessing variant of sample_apps/cpu_crunch.py.

Same 8 chunks, same ``count_primes(chunk)``; the chunks go to a
ProcessPoolExecutor with one worker per core (chunksize=1: the chunks are
few and of unequal cost, so handing them out one at a time balances best).
"""

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sample_apps"))

from cpu_crunch import LIMIT, N_CHUNKS, count_primes, make_chunks  # noqa: E402


def main():
    start = time.perf_counter()
    # Largest chunks first so the last one to finish is a small one.
    chunks = sorted(make_chunks(), key=lambda c: c[1], reverse=True)
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        total = sum(pool.map(count_primes, chunks, chunksize=1))
    elapsed = time.perf_counter() - start
    print(f"cpu_crunch[multiprocessing]: {total} primes below {LIMIT} in {N_CHUNKS} chunks, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
