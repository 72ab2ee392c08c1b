"""Waiting on the program's own workers: its own kind of time, never I/O to overlap.

A main thread blocked on futures or joins, a pool thread waiting for its next task, an
event loop idle while its executor threads compute, a process pool's own threads and the
parent waiting on worker processes: the work is where the workers are. ``take_out_worker_waits``
moves that time out of ``io_wait`` (and out of the call sites the speedup model reads);
for worker processes, their own seconds inside the program's tasks take its place in the
split (``with_children_work``).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ..catalog import CATEGORIES, CPU_GIL, IN_PROCESS_WAIT_FAMILIES, IO_WAIT
from ..classify import counted_functions, pool_members
from ..table import Measurement

# The standard library's pools: waiting in them is waiting on the program's own workers.
POOL_LIBRARIES = ("concurrent", "multiprocessing")


@dataclass(frozen=True)
class WorkerWait:
    """Seconds the working threads spent waiting on the program's own worker threads or
    worker processes.

    The work is where the workers are: this time is neither I/O to overlap nor work to
    spread, so it leaves the split (``io_wait``) and the speedup model, and the report
    shows it apart. ``joins``: futures, joins, a thread's start and other lock or queue
    waits at the program's call sites; ``idle_workers``: pool threads waiting for their
    next task; ``event_loop``: an event loop idle while its executor threads ran the work;
    ``processes``: waits on worker processes, whose work in the tasks (``children_work``)
    takes their place in the split.
    """

    joins: float = 0.0
    idle_workers: float = 0.0
    event_loop: float = 0.0
    processes: float = 0.0  # waits on the program's own worker processes
    children_work: dict = field(default_factory=dict)  # their seconds in the tasks, by category
    where: dict = field(default_factory=dict)  # the biggest join site: file, line, callee, seconds

    @property
    def seconds(self) -> float:
        return self.joins + self.idle_workers + self.event_loop + self.processes


def take_out_worker_waits(measurement: Measurement, sites: pd.DataFrame, seconds: dict) -> WorkerWait | None:
    """Move waits on the program's own threads out of ``io_wait`` (in ``seconds`` and in the
    sites' rows, which keep the moved seconds in a ``worker_wait`` column); None when there
    was none."""
    sites["worker_wait"] = 0.0
    if "counted" not in measurement.threads:
        return None
    threads = measurement.threads[measurement.threads["counted"].astype(bool)]
    # The threads that ran the program's own code: the ones a wait can be waiting on.
    workers = set(sites.loc[sites["seconds"] > 0, "thread"]) & set(threads["thread"])
    rows = counted_functions(measurement)
    thread_io = rows.groupby("thread")[IO_WAIT].sum()
    site_io = sites.groupby("thread")[IO_WAIT].sum()
    members = pool_members(measurement.threads)
    # A pool thread's waits outside the program's code: waiting for its next task.
    idle = {t: max(float(thread_io.get(t, 0.0)) - float(site_io.get(t, 0.0)), 0.0)
            for t in threads["thread"] if t in members}

    def others_at_work(thread) -> bool:
        return bool(workers - {thread})

    joins_mask = sites["family"].isin(IN_PROCESS_WAIT_FAMILIES) & (sites[IO_WAIT] > 0) \
        & sites["thread"].map(others_at_work)
    joins = float(sites.loc[joins_mask, IO_WAIT].sum())
    where_ = {}
    if joins_mask.any():
        where_ = _longest(sites[joins_mask])
    sites.loc[joins_mask, "worker_wait"] = sites.loc[joins_mask, IO_WAIT]
    sites.loc[joins_mask, IO_WAIT] = 0.0
    # An event loop idle in its selector while executor threads ran the program's code
    # waited on them, up to the busiest one's working time (the rest: its own I/O). Only a
    # pool's threads are executors: a thread running a server of its own is not the work.
    busy = {t: float(rows.loc[rows["thread"] == t, list(CATEGORIES)].sum().sum()) - idle.get(t, 0.0)
            for t in workers}
    loop = 0.0
    selects = sites[(sites["family"] == "select") & (sites[IO_WAIT] > 0)]
    for thread, group in selects.groupby("thread"):
        others = [busy[t] for t in workers if t != thread and t in members]
        if not others:
            continue
        budget = max(others)
        for index in group.sort_values(IO_WAIT, ascending=False).index:
            moved = min(float(sites.at[index, IO_WAIT]), budget)
            if moved <= 0:
                break
            sites.at[index, IO_WAIT] -= moved
            sites.at[index, "worker_wait"] += moved
            budget -= moved
            loop += moved
    idle_total = sum(idle.values())
    machinery = _pool_machinery_waits(measurement, threads, workers | members)
    processes, children_work, where_processes = _waits_on_worker_processes(measurement, sites, machinery)
    total = joins + loop + idle_total + processes
    if total <= 0:
        return None
    moved = min(total, seconds[IO_WAIT])
    seconds[IO_WAIT] -= moved
    seconds["worker_wait"] = moved
    if where_processes and (not where_ or where_processes["seconds"] > where_["seconds"]):
        where_ = where_processes
    return WorkerWait(joins=joins, idle_workers=idle_total, event_loop=loop, processes=processes,
                      children_work=children_work, where=where_)


def _longest(sites: pd.DataFrame) -> dict:
    """Where the longest of these waits is: file, line, callee, function, seconds."""
    top = sites.sort_values(IO_WAIT, ascending=False).iloc[0]
    return {"file": str(top["file"]), "line": int(top["line"]), "callee": str(top["callee"]),
            "function": str(top["user_function"]), "seconds": float(top[IO_WAIT])}


def _pool_machinery_waits(measurement: Measurement, threads: pd.DataFrame, exclude: set) -> float:
    """Waits of the working threads that run only a process pool's own code (its manager,
    its task and result handlers): they wait on the pool's worker processes."""
    rows = counted_functions(measurement)
    found = 0.0
    for thread in set(threads["thread"]) - exclude:
        if bool(threads.loc[threads["thread"] == thread, "main"].astype(bool).any()):
            continue
        mine = rows[rows["thread"] == thread]
        files = mine.loc[~mine["native"], "file"].str.replace("\\", "/", regex=False)
        if files.str.contains("concurrent/futures/process.py|multiprocessing/", regex=True).any():
            found += float(mine[IO_WAIT].sum())
    return found


def _waits_on_worker_processes(measurement: Measurement, sites: pd.DataFrame,
                               machinery: float = 0.0) -> tuple[float, dict, dict]:
    """(seconds, the workers' work, the longest site) of waits on the program's own worker
    processes: a process pool's futures and map, a ``multiprocessing.Process``'s join, and
    the pool's own threads waiting on the workers (``machinery``).

    With py-spy following the children, each worker's seconds inside the program's tasks
    (``children[].task_seconds``) are the work behind the wait: it joins the split, the
    wait leaves it. With a tracing profiler only the children's CPU is known (rusage):
    the part of the wait it explains on this machine's cores moves, as GIL-holding CPU
    (each worker holds its own GIL); the rest stays a wait (workers that waited)."""
    mask = sites["library"].isin(POOL_LIBRARIES) & (sites[IO_WAIT] > 0)
    if not mask.any() and machinery <= 0:
        return 0.0, {}, {}
    children = [c for c in (measurement.extra.get("children") or []) if "task_seconds" in c]
    work = {c: 0.0 for c in CATEGORIES}
    if children:
        for child in children:
            for c in CATEGORIES:
                work[c] += float(child["task_seconds"].get(c, 0.0))
        budget = float(sites.loc[mask, IO_WAIT].sum()) + machinery
    else:
        cpu = float(measurement.children_cpu_seconds or 0.0)
        cores = int(measurement.target.get("cpu_count") or 1)
        work[CPU_GIL] = cpu
        budget = cpu / max(cores, 1)
    if sum(work.values()) <= 0:
        return 0.0, {}, {}
    where_ = {}
    if mask.any():
        where_ = _longest(sites[mask])
    moved_total = min(machinery, budget)
    for index in sites[mask].sort_values(IO_WAIT, ascending=False).index:
        moved = min(float(sites.at[index, IO_WAIT]), budget - moved_total)
        if moved <= 0:
            break
        sites.at[index, IO_WAIT] -= moved
        sites.at[index, "worker_wait"] += moved
        moved_total += moved
    return moved_total, work, where_


def with_children_work(seconds: dict, worker_wait: WorkerWait | None) -> dict:
    work = worker_wait.children_work if worker_wait is not None else {}
    if not work:
        return seconds
    return {k: v + float(work.get(k, 0.0)) for k, v in seconds.items()}
