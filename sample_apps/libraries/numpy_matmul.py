"""Multiply a batch of large matrices with numpy, one product after another.

Each job builds two 2000 x 2000 float64 matrices and multiplies them
(``a @ b``, OpenBLAS's dgemm), keeping the trace and the Frobenius norm of the
product.  The jobs run in a plain ``for`` loop.

Right model: none.  The matrix product is native code that releases the GIL
(cpu_nogil), but OpenBLAS already splits each product across every core: the
plain run uses ~1.9 of this machine's 2 cores (process CPU / wall, measured
with ``/usr/bin/time``).  Threads or processes on top only oversubscribe the
same two cores.  (A profiler that sees "GIL-free CPU in independent jobs"
without noticing the library's own threads will wrongly promise ~2x.)

Measured on this 2-core machine (``python -m benchmarks libraries``: wall of
the whole ``python`` command, best of 3): as written 2.42 s (CPU/wall 1.99
under ``/usr/bin/time``); threads (2 workers) 3.20 s = 0.76x; processes (2
workers) 2.69 s = 0.90x.
"""

import time

import numpy as np

N_JOBS = 12
SIZE = 2000


def operands(job):
    """The two matrices of a job: a seeded random matrix, scaled and shifted per job."""
    rng = np.random.default_rng(job % 3)
    base = rng.random((SIZE, SIZE))
    return base * (1.0 + job / 10), np.roll(base, job, axis=0)


def multiply(job):
    """One job: (job, trace, Frobenius norm) of the product of the job's two matrices."""
    a, b = operands(job)
    product = a @ b
    return job, round(float(np.trace(product)), 3), round(float(np.linalg.norm(product)), 3)


def summarize(results):
    return (f"{len(results)} products, trace sum {sum(r[1] for r in results):.3f}, "
            f"norm sum {sum(r[2] for r in results):.3f}")


def main():
    start = time.perf_counter()
    results = [multiply(job) for job in range(N_JOBS)]
    elapsed = time.perf_counter() - start
    print(f"numpy_matmul: {summarize(results)}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
