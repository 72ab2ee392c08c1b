"""How much two threads gain on GIL-free pieces between Python steps, by piece length.

Each unit of work is one ``hashlib.sha256`` of a buffer (GIL-free above 2 KiB: d us) and a
Python loop (the GIL held: g us). One thread runs all units, then two threads share them;
the ratio is the threads' gain. The speedup model's ``HANDOFF_SECONDS`` comes from this
table: a piece shorter than the time a blocked thread takes to wake up is over before the
waiter can take the GIL, so when the Python steps are longer than the pieces nothing
overlaps. ``python -m benchmarks.handoff``.
"""
from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor

LOOP_STEP_SECONDS = 64e-9  # one ``x += i`` iteration here, about


def _unit(buf: bytes, steps: int) -> None:
    hashlib.sha256(buf).digest()
    x = 0
    for i in range(steps):
        x += i


def _run(threads: int, buf: bytes, steps: int, units: int) -> float:
    def share(_):
        for _ in range(units // 2):
            _unit(buf, steps)
    started = time.perf_counter()
    if threads == 1:
        share(0)
        share(0)
    else:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(share, range(threads)))
    return time.perf_counter() - started


def _seconds(fn, repeat: int = 50) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - started) / repeat


def run(sizes=(4096, 32768, 65536, 131072, 262144), ratios=(0.3, 1, 3)) -> str:
    rows = ["| GIL-free piece (us) | Python step (us) | 2 threads / 1 thread | without hand-offs |",
            "|---|---|---|---|"]
    for size in sizes:
        buf = b"x" * size
        piece = _seconds(lambda: hashlib.sha256(buf).digest())
        for ratio in ratios:
            steps = max(int(piece * ratio / LOOP_STEP_SECONDS), 1)
            step = _seconds(lambda: _unit(b"", steps))
            units = max(int(0.4 / (piece + step)), 20)
            one = min(_run(1, buf, steps, units) for _ in range(2))
            two = min(_run(2, buf, steps, units) for _ in range(2))
            ideal = (piece + step) / max(step, (piece + step) / 2)
            rows.append(f"| {piece * 1e6:.1f} | {step * 1e6:.1f} | {one / two:.2f}x | {ideal:.2f}x |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(run())
