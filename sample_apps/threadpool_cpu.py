"""Pure-Python CPU work fanned out to a thread pool (threads fighting the GIL).

The program estimates the area of the Mandelbrot set's bounding band in 8
horizontal strips.  ``main()`` hands the strips to
``concurrent.futures.ThreadPoolExecutor(max_workers=4)`` and each worker
runs ``render_strip(strip)``, an escape-time loop written in plain Python
that counts how many grid points stay bounded.

This is a common mistake: the author reached for a thread pool to "use all
cores", but ``render_strip`` is interpreted Python bytecode that holds the
GIL, so the 4 threads just take turns and the run is no faster (often a
little slower) than a plain loop.  The strips are independent and their
inputs/outputs are tiny, so the right model is multiprocessing
(``ProcessPoolExecutor`` over ``render_strip``).

Expected model: multiprocessing
Dominant category: cpu_gil
"""

import time
from concurrent.futures import ThreadPoolExecutor

N_STRIPS = 8
WIDTH = 600
HEIGHT = 512
MAX_ITER = 80
X_MIN, X_MAX, Y_MIN, Y_MAX = -2.0, 0.6, -1.2, 1.2


def make_strips(n=N_STRIPS, height=HEIGHT):
    """Split the grid's rows into n (row_start, row_stop) strips."""
    step = height // n
    return [(k * step, height if k == n - 1 else (k + 1) * step) for k in range(n)]


def render_strip(strip):
    """Count the grid points of rows [row_start, row_stop) that stay bounded."""
    row_start, row_stop = strip
    inside = 0
    for row in range(row_start, row_stop):
        ci = Y_MIN + (Y_MAX - Y_MIN) * row / (HEIGHT - 1)
        for col in range(WIDTH):
            cr = X_MIN + (X_MAX - X_MIN) * col / (WIDTH - 1)
            zr = zi = 0.0
            for _ in range(MAX_ITER):
                zr2, zi2 = zr * zr, zi * zi
                if zr2 + zi2 > 4.0:
                    break
                zi = 2.0 * zr * zi + ci
                zr = zr2 - zi2 + cr
            else:
                inside += 1
    return inside


def main():
    strips = make_strips()
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=4) as pool:
        inside = sum(pool.map(render_strip, strips))
    elapsed = time.perf_counter() - start
    area = (X_MAX - X_MIN) * (Y_MAX - Y_MIN) * inside / (WIDTH * HEIGHT)
    print(f"threadpool_cpu: {len(strips)} strips, {inside} points inside, "
          f"area ~{area:.3f}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
