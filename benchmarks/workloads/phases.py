"""A workload of phases of known nature and fixed size, for checking the measured split.

    python benchmarks/workloads/phases.py --plan 0.5,0.5,0.5,0.5       # prints counts for those seconds
    python benchmarks/workloads/phases.py --sleep 0.5 --loop 40 --calls 300 --hash 60 --truth out.json

Phases: ``sleep`` seconds of time.sleep (io_wait); ``loop`` blocks of a tight pure-Python
loop (cpu_gil); ``calls`` recursive trees of 2047 small calls each (cpu_gil, the shape a
deterministic profiler inflates most); ``hash`` SHA-256 digests of an 8 MB buffer
(cpu_nogil: hashlib releases the GIL). The work is fixed, so a profiler that slows one
kind of code shows up as a shifted split. ``--truth`` gets each category's seconds as
timed in this run (the plain run's timings are the truth).
"""
import argparse
import hashlib
import json
import time

BUFFER = bytes(range(256)) * (8 * 4096)  # 8 MiB


def sleep_phase(seconds):
    time.sleep(seconds)


def loop_phase(blocks):
    total = 0
    for _ in range(blocks):
        for i in range(20000):
            total += i * i % 7
    return total


def tree(depth):
    return 1 if depth == 0 else tree(depth - 1) + tree(depth - 1)


def calls_phase(trees):
    return sum(tree(10) for _ in range(trees))


def hash_phase(digests):
    for _ in range(digests):
        hashlib.sha256(BUFFER).digest()


PHASES = {"sleep": (sleep_phase, "io_wait"), "loop": (loop_phase, "cpu_gil"),
          "calls": (calls_phase, "cpu_gil"), "hash": (hash_phase, "cpu_nogil")}


def plan(budgets):
    """Counts that take about ``budgets`` seconds each here (sleep is already seconds)."""
    counts = {"sleep": budgets[0]}
    for name, budget in zip(("loop", "calls", "hash"), budgets[1:]):
        phase = PHASES[name][0]
        start = time.perf_counter()
        phase(3)
        unit = (time.perf_counter() - start) / 3
        counts[name] = max(int(round(budget / unit)), 0) if budget > 0 else 0
    return counts


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--sleep", type=float, default=0.0)
    for name in ("loop", "calls", "hash"):
        parser.add_argument(f"--{name}", type=int, default=0)
    parser.add_argument("--truth")
    parser.add_argument("--plan")
    args = parser.parse_args()
    if args.plan:
        print(json.dumps(plan([float(x) for x in args.plan.split(",")])))
        return
    seconds = {"io_wait": 0.0, "cpu_gil": 0.0, "cpu_nogil": 0.0}
    for name, (phase, category) in PHASES.items():
        amount = getattr(args, name)
        if amount > 0:
            start = time.perf_counter()
            phase(amount)
            seconds[category] += time.perf_counter() - start
    if args.truth:
        with open(args.truth, "w") as handle:
            json.dump(seconds, handle)


if __name__ == "__main__":
    main()
