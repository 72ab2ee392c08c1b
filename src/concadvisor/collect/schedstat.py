"""Time the target's threads spent runnable but waiting for a CPU (Linux schedstat).

``/proc/PID/task/TID/schedstat`` holds three numbers per thread: nanoseconds on a CPU,
nanoseconds waiting on a run queue (runnable, not running: another program, or another
of the target's own threads, had the core), and time slices. While a thread waits there
every profiler counts it as working: py-spy sees a runnable thread as active (and still
holding the GIL, if it was preempted holding it), cProfile's wall clock runs on inside
the function. On a busy machine the split tilts towards CPU by that much; the backends
take it back out per thread (``samples``, ``cprofile``).

Three sources, merged per thread: the runner reads every thread of the target when the
target's first line runs and again at its save (and a thread's own reading when it ends,
under cProfile and yappi: where its profile ends); the tool polls ``/proc/PID/task/*``
from outside meanwhile, for threads the runner's readings miss (ended before the save
unprofiled, or the runner was killed) and the target's child processes (found by their
parent pid).
"""
from __future__ import annotations

import os
import threading

# CONCADVISOR_RUN_QUEUE=measure: measure and report the wait, take nothing out (what the
# calibration benchmark compares the correction with).
CORRECT = os.environ.get("CONCADVISOR_RUN_QUEUE", "") != "measure"
POLL_SECONDS = 0.1
CHILDREN_EVERY = 5  # polls between two looks for child processes (a walk over /proc)
NS = 1e-9


def read(path: str) -> tuple[int, int, int] | None:
    """(ns on CPU, ns waiting on a run queue, slices) of one schedstat file, or None."""
    try:
        with open(path, "rb") as handle:
            fields = handle.read().split()
        return int(fields[0]), int(fields[1]), int(fields[2])
    except (OSError, ValueError, IndexError):
        return None


def process_threads(pid: int | str) -> dict[int, tuple[int, int, int]]:
    """Every thread of one process: tid -> schedstat (empty when unreadable)."""
    folder = f"/proc/{pid}/task"
    try:
        tids = os.listdir(folder)
    except OSError:
        return {}
    found = {}
    for tid in tids:
        reading = read(f"{folder}/{tid}/schedstat")
        if reading is not None:
            found[int(tid)] = reading
    return found


def available() -> bool:
    """Whether this system reports run-queue waits (Linux with schedstat in /proc)."""
    return read(f"/proc/{os.getpid()}/task/{threading.get_native_id()}/schedstat") is not None


def children_of(pids: set[int]) -> set[int]:
    """Processes whose parent is one of ``pids``, and theirs (one walk over /proc)."""
    parents = {}
    try:
        names = os.listdir("/proc")
    except OSError:
        return set()
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read()
            parents[int(name)] = int(stat.rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found, frontier = set(), set(pids)
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found - pids
        found |= frontier
    return found


class Poller:
    """Reads the target's threads (and its child processes') every ``interval`` seconds
    on a daemon thread; ``stop()`` ends it and returns what it saw."""

    def __init__(self, pid: int, interval: float = POLL_SECONDS):
        self.pid, self.interval = pid, interval
        self.first: dict[int, tuple[int, int, int]] = {}  # the target's threads, first seen
        self.last: dict[int, tuple[int, int, int]] = {}   # ...and last seen
        self.children: dict[tuple[int, int], tuple[int, int, int]] = {}  # (pid, tid) -> last
        self.child_pids: set[int] = set()
        self.polls = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="concadvisor-schedstat", daemon=True)

    def start(self) -> "Poller":
        self._thread.start()
        return self

    def _loop(self) -> None:
        while True:
            self.poll()
            if self._done.wait(self.interval):
                return

    def poll(self) -> None:
        for tid, reading in process_threads(self.pid).items():
            self.first.setdefault(tid, reading)
            self.last[tid] = reading
        if self.polls % CHILDREN_EVERY == 0:
            self.child_pids |= children_of({self.pid})
        for child in list(self.child_pids):
            readings = process_threads(child)
            if not readings:
                self.child_pids.discard(child)
            for tid, reading in readings.items():
                self.children[(child, tid)] = reading
        self.polls += 1

    def stop(self) -> "Poller":
        self._done.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)
        return self


def run_queue(raw: dict | None, poller: Poller | None) -> dict:
    """Seconds each thread of the target waited on a run queue while the target ran.

    ``raw["schedstat"]`` is the runner's: ``start`` (every thread when the target's first
    line ran), ``end`` (every thread at the save, and threads' own readings when they
    ended). A thread not there at the start began during the run: all its wait counts.
    Returns {"available", "threads": {tid: seconds} (what the backends take out; empty
    when CONCADVISOR_RUN_QUEUE=measure), "measured_threads", "on_cpu": {tid: seconds},
    "children_seconds", "seconds"} (seconds: the whole tree, the target's threads and its
    child processes).
    """
    runner = (raw or {}).get("schedstat") or {}
    start = {int(t): tuple(v) for t, v in (runner.get("start") or {}).items()}
    end = {int(t): tuple(v) for t, v in (runner.get("end") or {}).items()}
    polled_first = poller.first if poller else {}
    polled_last = poller.last if poller else {}
    if not start and not end and not polled_last:
        return {"available": False, "threads": {}, "on_cpu": {}, "children_seconds": 0.0, "seconds": 0.0}
    if not start:  # the runner saved nothing (killed): the first poll is the best start
        start = dict(polled_first)
    threads, on_cpu = {}, {}
    for tid in set(end) | set(polled_last):
        # The runner's reading ends where the thread's profile ends; a later poll would add
        # the save and the interpreter's exit. Polls stand in for threads it missed.
        last = end.get(tid) or polled_last[tid]
        first = start.get(tid, (0, 0, 0))
        threads[tid] = max(last[1] - first[1], 0) * NS
        on_cpu[tid] = max(last[0] - first[0], 0) * NS
    children = sum(v[1] for v in (poller.children.values() if poller else ())) * NS
    return {"available": True, "threads": threads if CORRECT else {}, "measured_threads": threads,
            "on_cpu": on_cpu, "children_seconds": children, "seconds": sum(threads.values()) + children}


def start_poller(pid: int) -> Poller | None:
    """A running Poller for ``pid``, or None where schedstat cannot be read."""
    if not available():
        return None
    return Poller(pid).start()


# Threads of the target that Python doesn't run, with less CPU than this, are idle helpers.
NATIVE_THREAD_MIN_SECONDS = 0.01


def native_threads(run_queue: dict | None, python_tids) -> dict:
    """CPU of the target's threads that run no Python: a native library's own pool (BLAS,
    OpenMP, a Rust pool) working inside the calls of the Python threads, already in
    parallel with them. {"cpu_seconds", "threads"} (zeros where schedstat can't be read)."""
    on_cpu = (run_queue or {}).get("on_cpu") or {}
    known = {int(tid) for tid in python_tids or () if tid}
    busy = [seconds for tid, seconds in on_cpu.items()
            if int(tid) not in known and seconds >= NATIVE_THREAD_MIN_SECONDS]
    return {"cpu_seconds": round(float(sum(busy)), 4), "threads": len(busy)}
