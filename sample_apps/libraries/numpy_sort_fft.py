"""Sort and Fourier-transform a batch of sensor recordings with numpy, one after another.

Each job makes one recording (a seeded normal-noise signal of 2 M samples plus
a sine of a job-specific frequency), sorts it to get the median and the 99th
percentile, and runs ``np.fft.fft`` to find the strongest frequency.  8 jobs
run in a plain ``for`` loop.

Right model: threads.  The time is numpy's native code (random generation,
sort, FFT), which releases the GIL while it works on the arrays (cpu_nogil),
and the jobs are independent: a ThreadPoolExecutor with one worker per core
runs two jobs at once with no copying.  Processes do about as well here (the
jobs only send a seed and get a few numbers back) but start more slowly.
Nothing here is about BLAS threads: sort and FFT are single-threaded.

Measured on this 2-core machine (``python -m benchmarks libraries``: wall of
the whole ``python`` command, best of 3): as written 2.05 s; threads (2
workers) 1.36 s = 1.5x; processes (2 workers) 1.22 s = 1.7x (an earlier run:
threads 1.7x, processes 1.5x: the two are within the noise of each other).
"""

import time

import numpy as np

N_JOBS = 8
N_SAMPLES = 2_000_000


def make_recording(job):
    rng = np.random.default_rng(job)
    t = np.arange(N_SAMPLES) / N_SAMPLES
    return rng.standard_normal(N_SAMPLES) + 3.0 * np.sin(2 * np.pi * (1000 + 37 * job) * t)


def analyse(job):
    """One job: (job, median, p99, strongest frequency bin)."""
    signal = make_recording(job)
    ordered = np.sort(signal)
    median = float(ordered[N_SAMPLES // 2])
    p99 = float(ordered[int(N_SAMPLES * 0.99)])
    spectrum = np.abs(np.fft.fft(signal)[1:N_SAMPLES // 2])
    peak = int(np.argmax(spectrum)) + 1
    return job, round(median, 6), round(p99, 6), peak


def summarize(results):
    peaks = [r[3] for r in results]
    return (f"{len(results)} recordings, peaks {peaks[0]}..{peaks[-1]} (sum {sum(peaks)}), "
            f"median sum {sum(r[1] for r in results):.6f}, p99 sum {sum(r[2] for r in results):.6f}")


def main():
    start = time.perf_counter()
    results = [analyse(job) for job in range(N_JOBS)]
    elapsed = time.perf_counter() - start
    print(f"numpy_sort_fft: {summarize(results)}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
