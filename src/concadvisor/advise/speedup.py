"""The speedup model: how long the measured work would take under each model here.

The work is the measured seconds of the working threads:

    W  waits inside a repeated unit of work (they can overlap), repeated k times
    Ws waits that happen once (nothing to overlap them with)
    S  CPU that runs once, outside the repeated unit and not driving it (building the
       data up front): it stays serial in every model
    G  CPU holding the GIL (true CPU: time spent queueing for the GIL is left out)
    N  CPU in native code that releases the GIL
    O  other (profiler gaps, start-up)
    B  CPU of the process's other threads (an in-process server, helpers): it already
       runs beside the work today, but it needs the GIL and stays in this process
    C  CPU of the child processes it waits for: overlapped, they share the same cores,
       so every model is also bounded by (G + N + B + C + H) / c
    H  CPU of the process's threads that run no Python (a BLAS or OpenMP pool working
       inside the Python threads' native calls): already parallel today, it needs the
       same cores in every model
    c  this machine's cores; L the lanes a model runs side by side
    U  CPU the process used that no sample places (kernel work inside calls sampled as
       waiting, missed samples): already inside today's seconds, assumed to stay serial
    T  the longest single run of the unit of work, when it was timed (0: not timed):
       no model finishes before its longest piece does, so every model's overlapped
       part is at least T (pieces of unequal length don't all divide evenly)

Each model is bounded by its scarcest resource. The lanes bound: (W + G + N) / L, every
lane busy. The GIL bound: one GIL per process, so G is serial inside a process unless
the build is free-threaded. The core bound: (G + N) / c, times how unevenly the unit's p
pieces fill the c cores (``uneven``: ceil(p / c) * c / p, 8/7 for 7 pieces on 2 cores;
the process pool's lanes likewise). What happens once stays serial:

    threads                  Ws + S + U + O + max((W+G+N)/L,  G + B + Nh,  (G+N+B)/c,  T,  Q),  L = min(k, 32)
    asyncio                  Ws + S + U + O + max((W+G+N)/L,  G + N,  G + B,  T),      L = min(k, 1000)
    multiprocessing          Ws + S + U + O + max((W+G+N)/P,  (G+N)/c,  B + u*d,  T) + P*s,  P = min(k, c)
    asyncio+multiprocessing  Ws + S + U + O + max((W+G+N)/L,  (G-Gw+N)/P,  Gw + B + u*d,  T) + P*s,  P = min(k, c)

where Gw is the GIL-holding CPU inside the waiting calls themselves (an HTTP client's
own work around its socket reads): it stays on the event loop with them, not in the
process pool; Nh is the GIL-free CPU whose pieces are too short for another thread to wake up
and take the GIL meanwhile (``gil_queue.gil_handoffs``: of pieces of d seconds, the part
min(1, 50 us / d) of as much as the Python steps between them last runs as if it held
the GIL), Q is the CPU units on min(k, c) threads when each return from a GIL-free call
queues for another thread's Python stretch (``queued_seconds``, ``gil_queue.gil_queue``),
and s is the cost of starting one worker process, by the start method the target's
Python uses by default (``process_start_seconds``): measured here with a pool of 2-4,
fork 0.002-0.005 s, forkserver 0.012-0.016 s, spawn 0.047-0.053 s. Handing the u
CPU pieces to processes costs the parent u*d more: d is about 5 us a piece with a chunked
``pool.map`` and about 120 us with one ``run_in_executor`` per piece (measured here with
ProcessPoolExecutor on 2 workers), so a mix with thousands of tiny CPU pieces gains less
from asyncio plus a process pool than the bounds alone say. On a
free-threaded build the threads' GIL bound drops out. The estimate is today's time
(W + Ws + S + G + N + O) divided by the model's time.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

PROCESS_START_SECONDS = 0.05  # spawn: a fresh interpreter per worker
START_SECONDS = {"fork": 0.005, "forkserver": 0.015, "spawn": PROCESS_START_SECONDS}
DISPATCH_SECONDS = {"multiprocessing": 5e-6, "asyncio+multiprocessing": 120e-6}
THREAD_POOL_LANES = 32
# A thread blocked on the GIL takes about this long to wake up once it is free (fitted
# here on ``benchmarks/handoff.py``: two threads alternating a GIL-free sha256 of d us and
# a Python step of g us; with g > d nothing overlapped below d = 40 us: 0.93-1.21x; at
# d = 74 and 146 us with g three times d, 1.10x and 1.30x; with g below d, 1.8-1.95x
# from d = 18 us up, and anything from 0.9x to 1.8x below it).
HANDOFF_SECONDS = 50e-6
# The interpreter's default ``sys.getswitchinterval()``: a thread waiting for the GIL this
# long makes the holder let it go.
SWITCH_INTERVAL_SECONDS = 0.005
EVENT_LOOP_LANES = 1000

MODELS = ("threads", "asyncio", "multiprocessing", "asyncio+multiprocessing")


@dataclass(frozen=True)
class Work:
    overlappable_wait: float
    single_wait: float
    cpu_gil: float
    cpu_nogil: float
    other: float
    repeats: int
    cores: int
    gil_enabled: bool = True
    background_cpu: float = 0.0
    cpu_pieces: int = 0  # CPU units a process pool would be handed (0: same as repeats)
    child_cpu: float = 0.0  # CPU of the child processes the program waits for
    longest_piece: float = 0.0  # the longest single run of the unit of work (0: not timed)
    serial_cpu: float = 0.0  # CPU that runs once beside the repeated unit (not in cpu_gil/nogil)
    unplaced_cpu: float = 0.0  # process CPU no sample placed (inside today's seconds already)
    native_cpu: float = 0.0  # CPU of native threads working beside the Python ones (BLAS)
    gil_handoff: float = 0.0  # GIL-free CPU in pieces too short for threads to overlap
    gil_returns: float = 0.0  # times one run of the CPU unit gives the GIL up and takes it back
    gil_residual: float = 0.0  # mean time left of another thread's Python stretch then
    io_cpu: float = 0.0  # GIL-holding CPU inside the waiting calls (an HTTP client's own work)
    process_start: float = PROCESS_START_SECONDS  # seconds to start one worker process

    @property
    def today(self) -> float:
        return (self.overlappable_wait + self.single_wait + self.serial_cpu + self.cpu_gil
                + self.cpu_nogil + self.other)


def model_seconds(work: Work, model: str, cores: int | None = None) -> float:
    """Predicted wall seconds of the work under ``model`` on ``cores`` cores."""
    c = max(cores or work.cores, 1)
    k = max(work.repeats, 1)
    W, G, N, B = work.overlappable_wait, work.cpu_gil, work.cpu_nogil, work.background_cpu
    serial = work.single_wait + work.serial_cpu + work.other + min(work.unplaced_cpu, work.today)
    # Child processes' CPU (subprocess.run of real work) needs the same cores once overlapped.
    # Native code that already runs on several cores (BLAS's own threads) needs them too.
    cores_bound = ((G + N) * uneven(work.cpu_pieces, c) + B + work.child_cpu + work.native_cpu) / c
    # The longest piece runs whole in one lane (never longer than all the work together).
    T = min(work.longest_piece, W + G + N) if k > 1 else 0.0
    if model == "threads":
        lanes = min(k, THREAD_POOL_LANES)
        gil_bound = G + B + work.gil_handoff if work.gil_enabled else 0.0
        return serial + max((W + G + N) / lanes, gil_bound, cores_bound, T, queued_seconds(work, c))
    if model == "asyncio":
        lanes = min(k, EVENT_LOOP_LANES)
        return serial + max((W + G + N) / lanes, G + N, G + B, cores_bound, T)
    if model == "multiprocessing":
        procs = min(k, c)
        start = procs * work.process_start if procs > 1 else 0.0
        dispatch = (work.cpu_pieces or k) * DISPATCH_SECONDS[model]
        return serial + max((W + G + N) / procs * uneven(work.cpu_pieces, procs), cores_bound,
                            B + dispatch, T) + start
    if model == "asyncio+multiprocessing":
        lanes = min(k, EVENT_LOOP_LANES)
        procs = min(k, c)
        start = procs * work.process_start if procs > 1 else 0.0
        dispatch = (work.cpu_pieces or k) * DISPATCH_SECONDS[model]
        # The I/O calls' own CPU (a client parsing its responses) stays on the loop with them.
        io = min(work.io_cpu, G)
        return serial + max((W + G + N) / lanes, (G - io + N) / procs, io + B + dispatch, cores_bound, T) + start
    return work.today


def queued_seconds(work: Work, cores: int) -> float:
    """The CPU units on as many threads as cores when each return from a GIL-free call
    waits for the GIL: one run's cycle is g + n + q, with g and n its GIL-holding and
    GIL-free CPU and q its waits. Threads fall into step behind each other (a convoy: the
    one that waited gets the GIL when the other lets it go for its next GIL-free call, and
    that one comes back to find it taken), so each of the r returns a run waits for the
    residual of another thread's Python stretch; never more in all than the others'
    Python itself, (L - 1) g. 0 when nothing comes back for the GIL."""
    k = max(work.repeats, 1)
    lanes = min(k, max(cores, 1))
    G, N = work.cpu_gil, work.cpu_nogil
    if not work.gil_enabled or lanes < 2 or G <= 0 or N <= 0 or work.gil_returns <= 0:
        return 0.0
    g, n = G / k, N / k
    queued = min((lanes - 1) * g, work.gil_returns * work.gil_residual)
    return k * (g + n + queued) / lanes


def process_start_seconds(python_version: str, platform: str) -> float:
    """What starting one worker costs with the default start method of that Python on that
    system: fork on Linux before 3.14, forkserver on Linux from 3.14, spawn elsewhere."""
    if not platform.startswith("linux"):
        return START_SECONDS["spawn"]
    try:
        major, minor = (int(part) for part in python_version.split(".")[:2])
    except ValueError:
        return START_SECONDS["fork"]
    return START_SECONDS["forkserver" if (major, minor) >= (3, 14) else "fork"]


def uneven(pieces: int, lanes: int) -> float:
    """How much longer than an even split the busiest of ``lanes`` runs when the work comes
    in ``pieces`` pieces of one size: 7 log segments on 2 cores take 4 segments' time, not
    3.5 (1.14). 1.0 when the pieces are unknown, or a single piece (a computation that
    can be cut into chunks)."""
    if pieces < 2 or lanes < 2:
        return 1.0
    return math.ceil(pieces / lanes) * lanes / pieces


def estimate(work: Work, model: str, cores: int | None = None) -> float:
    """today / after, at least 1.0 (a model never makes measured work slower here)."""
    after = model_seconds(work, model, cores)
    if after <= 0 or work.today <= 0:
        return 1.0
    return max(work.today / after, 1.0)

