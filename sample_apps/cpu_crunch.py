"""Count the primes in eight independent number ranges by trial division.

A classic pure-Python number-crunching job: the range [2, LIMIT) is cut into
8 chunks and ``count_primes(chunk)`` counts the primes in each one by trial
division with odd divisors up to the square root.  Every instruction is
interpreted Python bytecode holding the GIL, and there is no I/O at all.

The chunks are independent, so the work splits cleanly across cores.  Threads
cannot help (the GIL serialises pure-Python code), so the right model is
``multiprocessing`` / ``ProcessPoolExecutor`` over ``count_primes``.

Expected model: multiprocessing
Dominant category: cpu_gil
"""

import time

LIMIT = 600_000
N_CHUNKS = 8


def make_chunks(limit=LIMIT, n=N_CHUNKS):
    """Split [2, limit) into n (start, stop) ranges of similar cost."""
    step = (limit - 2) // n
    bounds = [2 + i * step for i in range(n)] + [limit]
    return list(zip(bounds, bounds[1:]))


def is_prime(n):
    if n < 2:
        return False
    if n % 2 == 0:
        return n == 2
    d = 3
    while d * d <= n:
        if n % d == 0:
            return False
        d += 2
    return True


def count_primes(chunk):
    """Count the primes p with start <= p < stop."""
    start, stop = chunk
    count = 0
    for n in range(start, stop):
        if is_prime(n):
            count += 1
    return count


def main():
    start = time.perf_counter()
    total = 0
    for chunk in make_chunks():
        total += count_primes(chunk)
    elapsed = time.perf_counter() - start
    print(f"cpu_crunch: {total} primes below {LIMIT} in {N_CHUNKS} chunks, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
