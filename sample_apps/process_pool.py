"""Count primes in eight ranges on a process pool: pure-Python CPU already spread over cores.

The program already uses the model concadvisor recommends for GIL-holding CPU work: a
``ProcessPoolExecutor`` with one worker per core runs ``count_primes`` on each range.
The parent process mostly waits for its workers: that wait is no I/O, so it leaves the
split and the workers' CPU in ``count_primes`` takes its place. The advice recognises the
pool and does not propose threads or asyncio for it.

Expected model: multiprocessing
Dominant category: cpu_gil (the work is in the worker processes; the parent's wait on them is not I/O)
"""
import os
import time
from concurrent.futures import ProcessPoolExecutor

RANGES = [(n * 40_000, (n + 1) * 40_000) for n in range(8)]


def count_primes(bounds):
    """Primes in [low, high) by trial division: plain Python arithmetic, holds the GIL."""
    low, high = bounds
    found = 0
    for candidate in range(max(low, 2), high):
        divisor = 2
        while divisor * divisor <= candidate:
            if candidate % divisor == 0:
                break
            divisor += 1
        else:
            found += 1
    return found


def main():
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        counts = list(pool.map(count_primes, RANGES))
    print(f"process_pool: {sum(counts)} primes below {RANGES[-1][1]}, {time.perf_counter() - start:.2f}s")


if __name__ == "__main__":
    main()
