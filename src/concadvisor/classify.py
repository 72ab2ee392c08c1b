"""Split every measured second into io_wait, cpu_gil, cpu_nogil or other.

Python functions' own time is bytecode run with the GIL held. Native callables are
looked up in the catalog. What the catalog doesn't know is settled per thread from the
thread's own CPU clock: the CPU that the known parts don't explain went to the unknown
natives (as cpu_gil, the safe assumption for native code), the rest of their time was
waiting. When Python code took more wall time than the thread had CPU while other threads
were busy, the difference is time spent waiting for the GIL: it stays in cpu_gil (it is
demand for the GIL) and is kept apart in ``gil_wait``.

Sampling backends that already know each row's category set the seconds columns
themselves; ``classify`` then only adds what is missing.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from .catalog import CATEGORIES, CPU_GIL, CPU_NOGIL, IN_PROCESS_WAIT_FAMILIES, IO_WAIT, OTHER, SYSCALL, lookup
from .table import Measurement

# A thread counts as one that did work if it used this share of the run's wall time as
# CPU, or is the main thread. Server threads of a sample app idling in select don't.
WORKING_THREAD_CPU_SHARE = 0.03
# ...and this share of its own lifetime: a server thread that accepts connections all run
# long uses some CPU in total, but it mostly sits in select.
WORKING_THREAD_BUSY_SHARE = 0.10
# When the main thread's own life is shorter than this share of the run, the interpreter
# spent the rest joining threads still at work: those that lived through most of the run
# are what the program did, whatever their CPU (a late thread that sleeps, then computes).
MAIN_ENDED_EARLY_SHARE = 0.5


def classify(measurement: Measurement) -> Measurement:
    functions = measurement.functions
    if functions.empty:
        for column in (*CATEGORIES, "gil_wait"):
            functions[column] = pd.Series(dtype="float64")
        functions["category"] = pd.Series(dtype="object")
        functions["family"] = pd.Series(dtype="object")
        measurement.threads["counted"] = measurement.threads.get("main", False)
        return measurement
    if not set(CATEGORIES).issubset(functions.columns):
        _classify_by_catalog(functions)
        _settle_unknowns_per_thread(measurement)
        _split_by_who_held_the_gil(measurement)
        functions = measurement.functions
    if "gil_wait" not in functions.columns:
        functions["gil_wait"] = 0.0
    if "family" not in functions.columns:
        functions["family"] = ""
    functions["category"] = functions[list(CATEGORIES)].idxmax(axis=1)
    _mark_working_threads(measurement)
    return measurement


def _classify_by_catalog(functions: pd.DataFrame) -> None:
    for column in CATEGORIES:
        functions[column] = 0.0
    functions["family"] = ""
    functions["unknown"] = False
    functions["syscall"] = False
    python = ~functions["native"]
    functions.loc[python, CPU_GIL] = functions.loc[python, "self_seconds"]
    natives = functions.loc[functions["native"], ["function", "self_seconds", "calls"]]
    for index, name, seconds, calls in natives.itertuples():
        kind = lookup(name)
        if kind is None:
            functions.at[index, "unknown"] = True
            continue
        functions.at[index, "family"] = kind.family
        if kind.category == SYSCALL:
            functions.at[index, "syscall"] = True
            continue
        category = kind.category
        per_call = seconds / calls if calls else seconds
        if category == CPU_NOGIL and per_call < kind.nogil_min_call_seconds:
            category = CPU_GIL
        functions.at[index, category] = seconds


def _settle_unknowns_per_thread(measurement: Measurement) -> None:
    functions = measurement.functions
    functions["gil_wait"] = 0.0
    cpu_by_thread = dict(zip(measurement.threads["thread"], measurement.threads["cpu_seconds"]))
    busy_threads = _busy_thread_count(measurement)
    for thread, rows in functions.groupby("thread", sort=False):
        cpu = cpu_by_thread.get(thread)
        measured = rows.index[rows["unknown"] | rows["syscall"]]
        measured_seconds = float(functions.loc[measured, "self_seconds"].sum())
        if cpu is None or (isinstance(cpu, float) and np.isnan(cpu)):
            functions.loc[measured, OTHER] = functions.loc[measured, "self_seconds"]
            continue
        known_cpu = float(rows[CPU_GIL].sum() + rows[CPU_NOGIL].sum())
        residual = float(cpu) - known_cpu
        if measured_seconds > 0:
            share = min(max(residual, 0.0), measured_seconds) / measured_seconds
            seconds = functions.loc[measured, "self_seconds"]
            is_syscall = functions.loc[measured, "syscall"]
            functions.loc[measured, CPU_NOGIL] = (seconds * share).where(is_syscall, 0.0)
            functions.loc[measured, CPU_GIL] = (seconds * share).where(~is_syscall, 0.0)
            functions.loc[measured, IO_WAIT] = seconds * (1 - share)
        python_seconds = float(rows.loc[~rows["native"], "self_seconds"].sum())
        if residual < 0 and busy_threads > 1 and python_seconds > 0:
            missing = min(-residual, python_seconds)
            python_rows = rows.index[~rows["native"]]
            functions.loc[python_rows, "gil_wait"] = (
                functions.loc[python_rows, "self_seconds"] * (missing / python_seconds))
    measurement.functions = functions.drop(columns=["unknown", "syscall"])


# A measured held share this close to 1 is 1: with the fewest samples counted (gil_watch)
# a function that only runs Python reads 0.9-1.0.
HELD_NOISE = 0.1


def _split_by_who_held_the_gil(measurement: Measurement) -> None:
    """Where py-spy watched a tracing profiler's run (``gil_watch``), CPU the catalog could
    not place is split by who held the GIL: a native call the catalog doesn't know, by the
    samples on the lines that call it from its callers' files; a Python function's own
    time (which holds native work the profiler never saw as a call, like numpy's ufuncs),
    by the samples on its own lines."""
    watched = measurement.extra.get("gil_watch")
    functions = measurement.functions
    if not watched or functions.empty:
        return
    from .collect.gil_watch import share
    from .collect.leafcalls import bare_name

    files = dict(zip(functions["func_id"], functions["file"]))
    callers: dict = {}
    for caller, callee in zip(measurement.edges["caller_id"], measurement.edges["callee_id"]):
        callers.setdefault(callee, set()).add(files.get(caller, ""))
    measured: dict = {}
    # Python rows, and natives the catalog doesn't know (no family), that computed holding it
    candidates = functions[(functions[CPU_GIL] > 0) & (~functions["native"] | (functions["family"] == ""))]
    for index, row in candidates.iterrows():
        if not row["native"]:
            held = share(watched["functions"].get((row["file"], int(row["line"]))))
            if held is not None and held >= 1 - HELD_NOISE:
                held = None
        else:
            method = bare_name(row["function"])
            held = share(*(watched["natives"].get((file, method)) for file in callers.get(row["func_id"], ())))
        if held is None:
            continue
        freed = float(row[CPU_GIL]) * (1.0 - held)
        functions.at[index, CPU_GIL] = float(row[CPU_GIL]) - freed
        functions.at[index, CPU_NOGIL] = float(row[CPU_NOGIL]) + freed
        seconds = measured.setdefault(row["function"], [held, 0.0])
        seconds[1] += float(row[CPU_GIL])
    if measured:
        ranked = sorted(measured.items(), key=lambda kv: -kv[1][1])
        measurement.extra["gil_measured"] = {name: round(held, 2) for name, (held, _) in ranked}
        shown = ", ".join(f"{name} {held:.0%}" for name, (held, _) in ranked[:4])
        measurement.notes.append(
            f"who holds the GIL was measured beside {measurement.backend} (py-spy): of its CPU, "
            f"{shown}{' and more' if len(ranked) > 4 else ''} held it; the rest ran without it")


def _busy_thread_count(measurement: Measurement) -> int:
    cpu = pd.to_numeric(measurement.threads["cpu_seconds"], errors="coerce").fillna(0.0)
    return int((cpu > WORKING_THREAD_CPU_SHARE * max(measurement.wall_seconds, 1e-9)).sum())


def _mark_working_threads(measurement: Measurement) -> None:
    """Threads that used CPU count. The main thread counts too, unless it only waited
    while other threads did the work (its wait is then theirs, already counted)."""
    threads = measurement.threads
    cpu = pd.to_numeric(threads["cpu_seconds"], errors="coerce").fillna(0.0)
    threshold = WORKING_THREAD_CPU_SHARE * max(measurement.wall_seconds, 1e-9)
    lifetime = pd.to_numeric(threads["wall_seconds"], errors="coerce").fillna(0.0).clip(lower=1e-9)
    working = (cpu >= threshold) & (cpu >= WORKING_THREAD_BUSY_SHARE * lifetime)
    waits = _real_waits(measurement)
    for members in thread_pools(threads["thread"]):
        # A pool's workers share its work however the GIL or the queue dealt it out:
        # 8 workers at 1/8 of the CPU each are one busy pool, not 8 idle threads. A pool
        # whose workers mostly wait on the network, the disk or a timer works too.
        pool_cpu, pool_span = float(cpu[members].sum()), float(lifetime[members].max())
        if pool_cpu >= threshold and pool_cpu >= WORKING_THREAD_BUSY_SHARE * pool_span:
            working[members] = True
        waited = sum(waits.get(name, 0.0) for name in threads.loc[members, "thread"])
        if waited >= WORKING_THREAD_BUSY_SHARE * float(lifetime[members].sum()):
            working[members] = True
    main = threads["main"].astype(bool)
    wall = max(measurement.wall_seconds, 1e-9)
    if main.any() and float(lifetime[main].max()) < MAIN_ENDED_EARLY_SHARE * wall:
        working = working | (~main & (lifetime >= MAIN_ENDED_EARLY_SHARE * wall))
    if not (working & ~main).any() or not _main_waits_for_workers(measurement):
        working = working | main
    else:
        working = working & ~main
    threads["counted"] = working


def _real_waits(measurement: Measurement) -> dict:
    """Seconds each thread waited on something outside the process (socket, sleep, file,
    child process...), not on a lock or queue of its own process."""
    functions = measurement.functions
    if "family" not in functions or functions.empty:
        return {}
    outside = functions[~functions["family"].isin(["", *IN_PROCESS_WAIT_FAMILIES])]
    return outside.groupby("thread")[IO_WAIT].sum().to_dict()


# "ThreadPoolExecutor-0_3" (an executor; asyncio's default one names them "asyncio_3")
# and "Thread-5 (crunch)" (threads started on one function): the pool, or the function.
_POOL_NAME = (re.compile(r"^(ThreadPoolExecutor-\d+|asyncio)_\d+$"),
              re.compile(r"^Thread-\d+ (\(.+\))$"))
# Threads a server starts per connection are the server's, not a pool of the program's.
_SERVER_THREADS = {"(process_request_thread)"}


def pool_key(name: str) -> str | None:
    for pattern in _POOL_NAME:
        found = pattern.match(name)
        if found and found.group(1) not in _SERVER_THREADS:
            return found.group(1)
    return None


def thread_pools(names: pd.Series) -> list[pd.Index]:
    """Threads named as members of one pool (or running one function): two or more each."""
    keys = names.map(lambda n: pool_key(str(n)))
    return [group.index for key, group in names.groupby(keys) if key and len(group) >= 2]


def pool_members(threads: pd.DataFrame) -> set:
    """The names of the threads that belong to a pool (``thread_pools``)."""
    return {name for index in thread_pools(threads["thread"]) for name in threads.loc[index, "thread"]}


def _main_waits_for_workers(measurement: Measurement) -> bool:
    """Most of the main thread's time is lock or queue waits: it is joining its workers."""
    functions = measurement.functions
    main_names = measurement.threads.loc[measurement.threads["main"].astype(bool), "thread"]
    if main_names.empty:
        return False
    rows = functions[functions["thread"] == main_names.iloc[0]]
    span = float(rows["self_seconds"].sum()) or 1e-9
    joining = rows.loc[rows["family"].isin(["lock", "queue"]), IO_WAIT].sum()
    return float(joining) >= 0.5 * span


def counted_functions(measurement: Measurement) -> pd.DataFrame:
    """Rows of the threads that did work."""
    counted = set(measurement.threads.loc[measurement.threads["counted"], "thread"])
    return measurement.functions[measurement.functions["thread"].isin(counted)]


def category_seconds(measurement: Measurement) -> dict[str, float]:
    """Seconds per category over the working threads; gaps in a thread's span are other."""
    rows = counted_functions(measurement)
    seconds = {c: float(rows[c].sum()) for c in CATEGORIES}
    threads = measurement.threads[measurement.threads["counted"]]
    span = float(pd.to_numeric(threads["wall_seconds"], errors="coerce").fillna(0).sum())
    classified = sum(seconds.values())
    if span > classified:
        seconds[OTHER] += span - classified
    seconds["gil_wait"] = float(rows["gil_wait"].sum()) if "gil_wait" in rows else 0.0
    return seconds


def category_shares(seconds: dict[str, float]) -> dict[str, float]:
    """Shares of the four contract categories, summing to 1 (all other when nothing ran)."""
    total = sum(seconds[c] for c in CATEGORIES)
    if total <= 0:
        return {IO_WAIT: 0.0, CPU_GIL: 0.0, CPU_NOGIL: 0.0, OTHER: 1.0}
    shares = {c: round(seconds[c] / total, 4) for c in CATEGORIES}
    drift = round(1.0 - sum(shares.values()), 4)
    biggest = max(shares, key=shares.get)
    shares[biggest] = round(shares[biggest] + drift, 4)
    return shares
