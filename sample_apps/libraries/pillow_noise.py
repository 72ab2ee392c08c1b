"""Generate a batch of film-grain textures with Pillow, one after another.

Each job asks Pillow for a 1500 x 1500 Gaussian-noise image
(``Image.effect_noise``), maps it through a contrast curve (``point`` with a
lookup table) and takes its histogram, keeping the mean and spread of the
grain.  The jobs run in a plain ``for`` loop.

Right model: multiprocessing.  ``effect_noise`` is C code, but unlike
Pillow's resize/filter/encode it does not release the GIL (it calls the C
library's ``rand()`` per pixel while holding it), so this is cpu_gil: two
threads take turns and gain nothing, while two processes really run two jobs
at once (a job sends a number and gets a few numbers back).

The noise comes from the C library's unseeded ``rand()``, shared by the whole
process, so the pixels differ between runs; the figures printed (mean and
standard deviation of each texture, rounded) do not.

Measured on this 2-core machine (``python -m benchmarks libraries``: wall of
the whole ``python`` command, best of 3): as written 1.63 s; threads (2
workers) 1.66 s = 0.98x; processes (2 workers) 0.88 s = 1.86x.
"""

import time

from PIL import Image

N_JOBS = 24
SIZE = 1500
CURVE = [min(255, max(0, int((v - 128) * 1.4 + 128))) for v in range(256)]


def grain(job):
    """One job: (job, mean, standard deviation) of a contrast-stretched noise texture."""
    sigma = 20 + job % 4 * 5
    texture = Image.effect_noise((SIZE, SIZE), sigma).point(CURVE)
    histogram = texture.histogram()
    count = sum(histogram)
    mean = sum(v * n for v, n in enumerate(histogram)) / count
    spread = (sum((v - mean) ** 2 * n for v, n in enumerate(histogram)) / count) ** 0.5
    return job, round(mean), round(spread)


def summarize(results):
    return (f"{len(results)} textures, mean of means {sum(r[1] for r in results) / len(results):.1f}, "
            f"spreads {[r[2] for r in results[:4]]}, spread sum {sum(r[2] for r in results)}")


def main():
    start = time.perf_counter()
    results = [grain(job) for job in range(N_JOBS)]
    elapsed = time.perf_counter() - start
    print(f"pillow_noise: {summarize(results)}, {elapsed:.2f}s")


if __name__ == "__main__":
    main()
