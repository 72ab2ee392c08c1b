"""The measured facts the checklist, the findings and the speedup model all read.

Computed once from the classified table and its call sites, so that every answer in the
report is traceable to the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..catalog import BLOCKING_LIBRARIES, CPU_GIL, CPU_NOGIL, FAMILIES, IO_WAIT, OTHER
from ..callsites import call_sites
from ..sourcelines import find_call
from .worker_wait import WorkerWait, take_out_worker_waits, with_children_work
from ..classify import category_seconds, category_shares, counted_functions, pool_members, thread_pools
from ..table import Measurement

# How many separate connections make "many concurrent connections" asyncio's home ground.
MANY_CONNECTIONS = 50


@dataclass
class Facts:
    wall_seconds: float
    seconds: dict[str, float]
    shares: dict[str, float]
    cores: int
    gil_enabled: bool
    sites: pd.DataFrame
    threads_counted: int
    threads_total: int
    connections: int
    children_cpu_seconds: float
    uses_asyncio: bool
    uses_threads: bool
    uses_processes: bool
    event_loop_wait_seconds: float
    background_cpu: float = 0.0
    process_cpu_seconds: float = 0.0
    unplaced_cpu: float = 0.0
    python: str = ""  # the target's Python version
    pool: "PoolCost | None" = None  # a process pool's cost against its tasks (py-spy only)
    worker_wait: "WorkerWait | None" = None  # waits on the program's own threads, out of the split
    parallel_children: bool = False  # child processes (Popen, subprocess) that ran side by side
    widest_pool: int = 0  # the most working threads of one pool (0: no pool of threads)
    native_threads_cpu: float = 0.0  # CPU of the process's threads that run no Python (BLAS...)
    native_threads: int = 0
    notes: list[str] = field(default_factory=list)

    # --- derived views ----------------------------------------------------------------
    @property
    def total_seconds(self) -> float:
        return sum(self.split_seconds[c] for c in (IO_WAIT, CPU_GIL, CPU_NOGIL, OTHER))

    @property
    def split_seconds(self) -> dict[str, float]:
        """The seconds the split is made of: this process's working threads, and the work
        of the worker processes it waited on in their place (their waits for it are out)."""
        return with_children_work(self.seconds, self.worker_wait)

    def wait_sites(self) -> pd.DataFrame:
        sites = self.sites[self.sites[IO_WAIT] > 0]
        return sites.sort_values(IO_WAIT, ascending=False)

    def cpu_sites(self) -> pd.DataFrame:
        sites = self.sites.assign(cpu=self.sites[CPU_GIL] + self.sites[CPU_NOGIL])
        return sites[sites["cpu"] > 0].sort_values("cpu", ascending=False)

    def program_wait_seconds(self) -> float:
        """Waiting by the program itself: with several working threads, only the waits at
        its own call sites (a pool's idle workers waiting for work are not the program
        waiting: 8 strips on 4 workers leave some idle while the last strips run)."""
        if self.threads_counted > 1:
            return min(float(self.wait_sites()[IO_WAIT].sum()), self.seconds[IO_WAIT])
        return self.seconds[IO_WAIT]

    def overlappable_wait_seconds(self) -> float:
        """Waits at call sites inside a unit of work that repeats (in one thread, or once in
        each of several): those can overlap."""
        sites = self.wait_sites()
        sites = sites[sites["runs"] >= 2]
        return min(float(sites[IO_WAIT].sum()), self.seconds[IO_WAIT])

    def io_repeats(self) -> int:
        sites = self.wait_sites()
        return int(sites.iloc[0]["runs"]) if len(sites) else 1

    def cpu_repeats(self) -> int:
        sites = self.cpu_sites()
        return int(sites.iloc[0]["repeats"]) if len(sites) else 1

    def blocking_library_share(self) -> float:
        """Share of the waits that go through a blocking API (urllib, subprocess, files)."""
        sites = self.wait_sites()
        total = float(sites[IO_WAIT].sum())
        if total <= 0:
            return 0.0
        blocking = sites.apply(_through_blocking_api, axis=1)
        return float(sites.loc[blocking, IO_WAIT].sum()) / total

    def background_cpu_seconds(self) -> float:
        """CPU the process spent outside the working threads (idle-looking servers, helpers)."""
        return self.background_cpu

    def cpu_seconds(self) -> float:
        return max(self.seconds[CPU_GIL] - self.seconds.get("gil_wait", 0.0), 0.0) + self.seconds[CPU_NOGIL]


@dataclass(frozen=True)
class PoolCost:
    """What the program's process or thread pool cost, against the tasks it ran.

    ``task_cpu``: the workers' CPU inside the program's own functions (the tasks), of it
    ``task_nogil`` released the GIL; ``task_wait``: the tasks' own waits;
    ``worker_dispatch_cpu``: the rest of the workers' CPU (fetching, unpickling, sending
    results); ``section_seconds``: the main thread's time in the pool's calls (start,
    map/submit, waiting, shutdown); ``section_cpu``: its CPU there; ``helper_cpu``: the CPU
    of the process's other threads (a process pool's feeder and result threads);
    ``workers``: the worker processes sampled, or the pool's threads; ``threads``: a
    thread pool (its workers share the program's GIL); ``call``: where the program calls
    the pool longest.
    """

    task_cpu: float
    worker_dispatch_cpu: float
    section_seconds: float
    section_cpu: float
    helper_cpu: float
    workers: int
    call: dict = field(default_factory=dict)  # the busiest call into the pool (see _busiest_call)
    task_nogil: float = 0.0
    task_wait: float = 0.0
    threads: bool = False


POOL_FILES = ("multiprocessing/", "concurrent/futures/")


def _pool_cost(measurement: Measurement) -> PoolCost | None:
    """From the workers' samples (``task_cpu_seconds``, see ``collect.children``) and the
    main thread's calls into the pool's libraries; None without per-worker samples."""
    children = [c for c in (measurement.extra.get("children") or []) if "task_cpu_seconds" in c]
    if not children:
        return None
    task = sum(float(c["task_cpu_seconds"]) for c in children)
    dispatch = sum(max(float(c["cpu_seconds"]) - float(c["task_cpu_seconds"]), 0.0) for c in children)
    section, section_cpu, call = _main_thread_in_pool(measurement)
    if section <= 0:
        return None
    waits = sum(float((c.get("task_seconds") or {}).get(IO_WAIT, 0.0)) for c in children)
    return PoolCost(task_cpu=task, worker_dispatch_cpu=dispatch, section_seconds=section,
                    section_cpu=section_cpu, helper_cpu=_thread_cpu(measurement)[1],
                    workers=len(children), call=call, task_wait=waits)


def _thread_pool_cost(measurement: Measurement, sites: pd.DataFrame) -> PoolCost | None:
    """The same for a pool of threads (named as one, see ``classify.thread_pools``): the
    tasks are the program's call sites in its threads, the dispatch the rest of their
    CPU (taking the next task off the queue, completing its future). None without one."""
    members = pool_members(measurement.threads)
    if not members or sites.empty:
        return None
    rows = measurement.functions[measurement.functions["thread"].isin(members)]
    gil_wait = rows["gil_wait"] if "gil_wait" in rows else 0.0
    cpu = float((rows[CPU_GIL] - gil_wait).clip(lower=0).sum() + rows[CPU_NOGIL].sum())
    tasks = sites[sites["thread"].isin(members)]
    task_gil = float(tasks[CPU_GIL].sum()) * _net_of_gil_wait(rows)
    task_nogil = float(tasks[CPU_NOGIL].sum())
    section, section_cpu, call = _main_thread_in_pool(measurement)
    if section <= 0 or cpu <= 0:
        return None
    return PoolCost(task_cpu=task_gil + task_nogil, worker_dispatch_cpu=max(cpu - task_gil - task_nogil, 0.0),
                    section_seconds=section, section_cpu=section_cpu, helper_cpu=0.0,
                    workers=len(members), call=call, task_nogil=task_nogil,
                    task_wait=float(tasks[IO_WAIT].sum()), threads=True)


def _net_of_gil_wait(rows: pd.DataFrame) -> float:
    """The share of the rows' GIL-holding seconds that was CPU, not queueing for the GIL."""
    held = float(rows[CPU_GIL].sum())
    if held <= 0 or "gil_wait" not in rows:
        return 1.0
    return max(held - float(rows["gil_wait"].sum()), 0.0) / held


def _main_thread_in_pool(measurement: Measurement) -> tuple[float, float, dict]:
    """(seconds, CPU seconds, busiest call) of the main thread inside the pool's own code:
    the calls into it from outside it (start, map/submit, waiting, shutdown), and the CPU
    of its frames and of the natives they called."""
    threads, functions, edges = measurement.threads, measurement.functions, measurement.edges
    main = threads.loc[threads["main"].astype(bool), "thread"]
    if main.empty or functions.empty:
        return 0.0, 0.0, {}
    rows = functions[functions["thread"] == main.iloc[0]]
    files = rows["file"].str.replace("\\", "/", regex=False)
    pool_ids = set(rows.loc[files.str.contains("|".join(POOL_FILES), regex=True), "func_id"])
    if not pool_ids:
        return 0.0, 0.0, {}
    calls = edges[(edges["thread"] == main.iloc[0])]
    entering = calls[calls["callee_id"].isin(pool_ids) & ~calls["caller_id"].isin(pool_ids)]
    section = float(entering["seconds"].sum())
    natives_of_pool = set(calls.loc[calls["caller_id"].isin(pool_ids), "callee_id"])
    inside = rows[rows["func_id"].isin(pool_ids) | (rows["native"] & rows["func_id"].isin(natives_of_pool))]
    cpu = float(sum(inside[c].sum() for c in (CPU_GIL, CPU_NOGIL) if c in inside))
    return section, cpu, _busiest_call(rows, entering)


def _busiest_call(rows: pd.DataFrame, entering: pd.DataFrame) -> dict:
    """The call into the pool that took longest: caller's file, line and function, callee."""
    if entering.empty:
        return {}
    top = entering.sort_values("seconds", ascending=False).iloc[0]
    by_id = rows.set_index("func_id")
    if top["caller_id"] not in by_id.index or top["callee_id"] not in by_id.index:
        return {}
    caller, callee = by_id.loc[[top["caller_id"]]].iloc[0], by_id.loc[[top["callee_id"]]].iloc[0]
    line = int(top["line"] or 0)
    if not line:  # a tracing profiler has no call lines: the call as written in the source
        found = find_call(str(caller["file"]), int(caller["line"]), str(callee["function"]))
        line = found.line if found else int(caller["line"])
    return {"file": str(caller["file"]), "line": line,
            "function": str(caller["function"]), "callee": str(callee["function"]),
            "seconds": float(top["seconds"])}


def _through_blocking_api(site) -> bool:
    if site["library"] and site["library"] in BLOCKING_LIBRARIES:
        return True
    return FAMILIES.get(site["family"], {}).get("blocking_library") == "yes"


def _children_run_queue(measurement: Measurement) -> float:
    """Seconds the target's child processes were runnable but waiting for a CPU: demand
    for the cores as much as their CPU time is (overlapping CPU-bound children on c cores
    divides both by c at best, never more)."""
    found = measurement.extra.get("run_queue") or {}
    try:
        return max(float(found.get("children_seconds") or 0.0), 0.0)
    except (TypeError, ValueError):
        return 0.0


def gather_facts(measurement: Measurement) -> Facts:
    seconds = category_seconds(measurement)
    sites = call_sites(measurement)
    worker_wait = take_out_worker_waits(measurement, sites, seconds)
    sites["runs"] = runs_over_threads(sites)
    functions = counted_functions(measurement)
    all_functions = measurement.functions
    names = all_functions["function"]
    files = all_functions["file"].str.replace("\\", "/", regex=False)
    connects = all_functions[names.str.startswith("_socket.socket.connect")]["calls"].sum()
    uses_asyncio = bool(files.str.endswith("asyncio/base_events.py").any())
    uses_processes = bool(files.str.contains("concurrent/futures/process.py|multiprocessing/",
                                             regex=True).any())
    loop_wait = functions[functions["function"].isin(["select.epoll.poll", "select.select",
                                                      "select.kqueue.control", "select.poll.poll"])]
    threads = measurement.threads
    working = int(threads["counted"].sum()) if "counted" in threads else len(threads)
    uses_threads = bool(working > 1 or _main_waits_on_threads(measurement))
    target = measurement.target
    native = measurement.extra.get("native_threads") or {}
    return Facts(
        wall_seconds=measurement.wall_seconds,
        seconds=seconds,
        shares=category_shares(with_children_work(seconds, worker_wait)),
        cores=int(target.get("cpu_count") or 1),
        gil_enabled=bool(target.get("gil_enabled", True)),
        sites=sites,
        threads_counted=working,
        threads_total=len(threads),
        connections=max(int(connects), int(measurement.extra.get("socket_connects") or 0)),
        children_cpu_seconds=measurement.children_cpu_seconds + _children_run_queue(measurement),
        uses_asyncio=uses_asyncio,
        uses_threads=uses_threads,
        uses_processes=uses_processes,
        event_loop_wait_seconds=float(loop_wait[IO_WAIT].sum()) if uses_asyncio else 0.0,
        background_cpu=_background_cpu(measurement),
        process_cpu_seconds=measurement.process_cpu_seconds,
        unplaced_cpu=_unplaced_cpu(measurement),
        python=str(target.get("python") or ""),
        pool=_pool_cost(measurement) if uses_processes else (
            _thread_pool_cost(measurement, sites) if uses_threads else None),
        worker_wait=worker_wait,
        parallel_children=_parallel_children(measurement, sites),
        widest_pool=_widest_pool(measurement),
        native_threads_cpu=float(native.get("cpu_seconds") or 0.0),
        native_threads=int(native.get("threads") or 0),
    )


# Children side by side: what they did (their summed wall time, py-spy; else their CPU,
# rusage) against the time the parent waited on them. One child at a time can't exceed 1
# (it runs inside the wait); two at once on two cores give up to 2, less on a busy
# machine (CPU: 1.13 with another program's load beside four zlib jobs here).
PARALLEL_CHILDREN_RATIO = 1.1


def _parallel_children(measurement: Measurement, sites: pd.DataFrame) -> bool:
    """The program already runs child processes side by side (``Popen`` several, then wait
    for them): they ran for longer, together, than the parent waited on them."""
    waits = sites[(sites["family"] == "subprocess") & (sites[IO_WAIT] > 0)] if not sites.empty else sites
    waited = float(waits[IO_WAIT].sum()) if len(waits) else 0.0
    if waited < 0.05:
        return False
    children = measurement.extra.get("children") or []
    walls = sum(float(c.get("wall_seconds") or 0.0) for c in children)
    # CPU-bound children on a busy machine queue for the cores: that time is theirs too.
    cpu = float(measurement.children_cpu_seconds or 0.0) + _children_run_queue(measurement)
    return max(walls, cpu) >= PARALLEL_CHILDREN_RATIO * waited


def _widest_pool(measurement: Measurement) -> int:
    """The most working threads one pool had: how many runs it took side by side."""
    threads = measurement.threads
    counted = threads["counted"].astype(bool) if "counted" in threads else threads["main"].astype(bool)
    return max((int(counted[index].sum()) for index in thread_pools(threads["thread"])), default=0)


def runs_over_threads(sites: pd.DataFrame) -> pd.Series:
    """Each site's unit runs, over the threads of one pool that ran it: a pool's six
    threads that each ran ``job`` once ran it six times (``repeats`` counts one thread's
    calls). Pools made one after another (a ``with ThreadPoolExecutor()`` per round) ran
    their rounds in turn: the unit's runs are the largest pool's."""
    from ..classify import pool_key

    if sites.empty:
        return pd.Series(dtype="int64")
    keys = ["unit", "unit_file"]
    per_thread = sites.groupby([*keys, "thread"])["repeats"].max().reset_index()
    per_thread["pool"] = [pool_key(str(t)) or str(t) for t in per_thread["thread"]]
    total = (per_thread.groupby([*keys, "pool"])["repeats"].sum().groupby(level=keys).max()
             .rename("total").reset_index())
    merged = sites[keys].merge(total, on=keys, how="left")["total"].fillna(0).to_numpy()
    return pd.Series(merged, index=sites.index).clip(lower=sites["repeats"]).astype("int64")


def _thread_cpu(measurement: Measurement) -> tuple[float, float]:
    """(working threads', other threads') CPU seconds as the profile saw them."""
    threads = measurement.threads
    cpu = pd.to_numeric(threads["cpu_seconds"], errors="coerce").fillna(0.0)
    counted = threads["counted"].astype(bool) if "counted" in threads else threads["main"].astype(bool)
    return float(cpu[counted].sum()), float(cpu[~counted].sum())


def _background_cpu(measurement: Measurement) -> float:
    """CPU of the threads that don't count as working (an in-process server, helpers)."""
    return _thread_cpu(measurement)[1]


def _unplaced_cpu(measurement: Measurement) -> float:
    """CPU the process used (its clock, from the target's first line) that no sample places.

    With a sampler that is mostly kernel work inside calls sampled as waiting (loopback
    TCP's send and connect, page faults) and samples it missed (the first imports). A
    deterministic profiler's own cost would show here too, so only the sampler says.
    """
    if measurement.backend != "pyspy" or measurement.process_cpu_seconds <= 0:
        return 0.0
    native = float((measurement.extra.get("native_threads") or {}).get("cpu_seconds") or 0.0)
    return max(measurement.process_cpu_seconds - sum(_thread_cpu(measurement)) - native, 0.0)


def _main_waits_on_threads(measurement: Measurement) -> bool:
    """The main thread spends its time waiting for futures or joins of its own threads."""
    functions = measurement.functions
    main = measurement.threads.loc[measurement.threads["main"], "thread"]
    if main.empty:
        return False
    rows = functions[functions["thread"] == main.iloc[0]]
    files = rows["file"].str.replace("\\", "/", regex=False)
    waiting = rows[files.str.endswith(("concurrent/futures/_base.py", "threading.py"))
                   & rows["function"].isin(["result", "join", "wait", "as_completed", "map",
                                            "_wait_for_tstate_lock", "result_iterator"])]
    total = float(measurement.wall_seconds or 1e-9)
    return float(waiting["total_seconds"].max() if len(waiting) else 0.0) > 0.3 * total
