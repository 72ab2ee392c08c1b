"""Hand-written multiprocessing variant of sample_apps/threadpool_cpu.py.

Same strips, same ``render_strip(strip)``; the ThreadPoolExecutor(4) is
replaced by a ProcessPoolExecutor with one worker per core (chunksize=1: 8
strips of unequal cost are best handed out one at a time).
"""

import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sample_apps"))

from threadpool_cpu import HEIGHT, WIDTH, X_MAX, X_MIN, Y_MAX, Y_MIN, make_strips, render_strip  # noqa: E402


def main():
    strips = make_strips()
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=os.cpu_count()) as pool:
        inside = sum(pool.map(render_strip, strips, chunksize=1))
    elapsed = time.perf_counter() - start
    area = (X_MAX - X_MIN) * (Y_MAX - Y_MIN) * inside / (WIDTH * HEIGHT)
    print(f"threadpool_cpu[multiprocessing]: {len(strips)} strips, {inside} points inside, "
          f"area ~{area:.3f}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
