"""A long-running service: each cycle waits for work, then computes on what arrived.

Stands for a polling worker or a small daemon: every cycle it sleeps 0.25 s (waiting
for the next batch), then spends about as long on pure-Python work (scoring the batch),
and loops until it is killed. It prints its process id first, so a profiler can attach
to it: ``concadvisor attach PID --duration 4``. Half of its time is waiting, half is
CPU holding the GIL, so both measure near 0.5.

It is for ``attach``, not ``profile``: it never ends by itself (an optional argument
stops it after that many cycles), so it carries no "Expected model" line for the
profile-every-sample-app test. Attached, its categories are io_wait and cpu_gil near
0.5 each.
"""

import os
import sys
import time

CYCLE_WAIT_S = 0.25
CYCLE_WORK_S = 0.25


def wait_for_batch():
    time.sleep(CYCLE_WAIT_S)


def score_batch(seconds=CYCLE_WORK_S):
    """Pure-Python scoring for about ``seconds`` of CPU."""
    deadline = time.perf_counter() + seconds
    score = 0
    while time.perf_counter() < deadline:
        for i in range(2000):
            score = (score * 31 + i) % 1_000_003
    return score


def main():
    print(os.getpid(), flush=True)
    cycles = 0
    while True:
        wait_for_batch()
        score_batch()
        cycles += 1
        if len(sys.argv) > 1 and cycles >= int(sys.argv[1]):
            break


if __name__ == "__main__":
    main()
