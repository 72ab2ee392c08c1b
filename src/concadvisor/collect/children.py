"""The target's child processes, each classified as the target is (py-spy only).

With ``--subprocesses`` the three samplers follow every process the target starts (a
``python worker.py`` per job, ``multiprocessing.Process``, a process pool's workers) and
write one speedscope profile per (process, thread). The target's own rows stay the
target's (its ``categories``: its wall time, waiting on its children included); each
child's threads go through the same machinery as a ``Sampling`` of their own
(``samples.measurement_from_samples``): io_wait / cpu_gil / cpu_nogil, its hot functions,
and the CPU it used (its run-queue wait taken out where the schedstat poller read it).

A child's command line is the one py-spy read from ``/proc/PID/cmdline`` (the pseudo
frame ``process PID:"CMDLINE"`` at the root of its stacks); a forked child (a
``multiprocessing.Process`` under the fork start method) has its parent's, so it is
described by what it ran: the innermost of the program's own functions that all its
samples went through. A child py-spy found late (it looks for new processes every so
often) is seen from then on: its seconds are a lower bound; a child that lived less than
a few sampling intervals may be missed altogether (its CPU still counts in the parent's
``children_cpu_seconds``, from rusage, once the parent waited for it).
"""
from __future__ import annotations

import json
import os
import re
from collections import Counter

from ..catalog import CPU_GIL, CPU_NOGIL, IO_WAIT, OTHER

_PROCESS_FRAME = re.compile(r'^process (\d+):"(.*)"$', re.S)
# A child thread counts (its categories, like the target's working threads) when it was
# active at least this share of the child's life; the child's main thread always counts.
BUSY_SHARE = 0.03
TOP_FUNCTIONS = 5
# The function all of a child's samples went through: at least this share of them.
ENTRY_SHARE = 0.8
# A worker's time in its tasks less their CPU, below this share of that time, is the
# samplers disagreeing (each drops samples on its own), not the tasks waiting.
WAIT_NOISE_SHARE = 0.25
# Children with fewer samples than this are left out (py-spy caught them as they ended).
MIN_SAMPLES = 2


def child_pids(sampling) -> list[int]:
    """The processes other than the target that the samplers saw, oldest first (by pid:
    the order the system handed them out in, short of a wrap-around)."""
    seen = {thread.pid for view in (sampling.every, sampling.active, sampling.gil) for thread in view}
    return sorted(seen - {0, sampling.pid})


def commands(paths) -> dict[int, str]:
    """pid -> command line, from the ``process PID:"CMDLINE"`` frames of speedscope files."""
    found: dict[int, str] = {}
    for path in paths:
        try:
            with open(path, encoding="utf-8") as handle:
                frames = json.load(handle).get("shared", {}).get("frames", [])
        except (OSError, ValueError):
            continue
        for frame in frames:
            match = _PROCESS_FRAME.match(str(frame.get("name", "")))
            if match and not frame.get("file"):
                found.setdefault(int(match.group(1)), match.group(2))
    return found


def describe(sampling, interval: float, *, paths=(), library_paths=(), runner_file="",
             poller=None, target_command: str = "") -> list[dict]:
    """One dict per child process the samplers saw (see the module's docstring); the
    target's ``Sampling`` is left as it was."""
    from .samples import Sampling, measurement_from_samples

    pids = child_pids(sampling)
    if not pids:
        return []
    lines = commands(paths)
    parent_line = lines.get(sampling.pid, "")
    parent_roots = _root_files([t for t in sampling.every if t.pid in (0, sampling.pid)])
    out = []
    for pid in pids:
        views = {kind: [t for t in getattr(sampling, kind) if t.pid == pid]
                 for kind in ("every", "active", "gil")}
        main = _main_thread(views["every"], pid)
        if main is None or len(main.stacks) < MIN_SAMPLES:
            continue
        wall = len(main.stacks) * interval
        entry = _entry(main, library_paths, runner_file)
        child = Sampling(every=views["every"], active=views["active"], gil=views["gil"],
                         pid=pid, wall_seconds=wall, rate=sampling.rate)
        measurement = measurement_from_samples(child, library_paths=library_paths, runner_file=runner_file,
                                               run_queue=_run_queue(poller, pid),
                                               lines_free_the_gil_by_samples=False)
        line = lines.get(pid)
        forked = bool(line) and line == parent_line
        if forked and not (_root_files([main]) & parent_roots):
            # py-spy read its command line between fork and exec: it runs other code than
            # the target's, a program of its own whose command line is not known
            forked, line = False, f"(a program the target started: {(entry or {}).get('location') or '?'})"
        summary = _summary(pid, line, forked, target_command, entry, wall, measurement)
        pool_worker = forked or "multiprocessing" in (line or "")
        share = _task_share(views["active"] or views["every"], pool_worker, library_paths, runner_file)
        summary["task_cpu_seconds"] = round(summary["cpu_seconds"] * share, 4)
        summary["task_seconds"] = _task_seconds(views, pool_worker, summary, interval, library_paths, runner_file)
        out.append(summary)
    return out


def _task_seconds(views, pool_worker: bool, summary: dict, interval: float, library_paths,
                  runner_file: str) -> dict:
    """The child's seconds of each category inside the program's own tasks: all of them for
    a child that runs a program of its own; for a pool's worker, its task CPU split by the
    GIL sampler's share, and its waits inside a task (a sample in the tasks while idle), not
    its waits for the next task."""
    if not pool_worker:
        return dict(summary["category_seconds"])
    every = _in_task(views["every"], library_paths, runner_file)
    active = _in_task(views["active"], library_paths, runner_file)
    holding = _in_task(views["gil"], library_paths, runner_file)
    cpu = float(summary["task_cpu_seconds"])
    gil_share = min(holding / active, 1.0) if active else 1.0
    # The samplers run apart (each may drop samples on a busy machine): the time in the
    # tasks is the all-threads sampler's, their CPU the clock's; the rest of it waited,
    # less its share of the worker's time queued for a core.
    samples = sum(len(thread.stacks) for thread in views["every"]) or 1
    queued = float(summary.get("run_queue_seconds") or 0.0) * every / samples
    in_tasks = every * interval
    waited = max(in_tasks - cpu - queued, 0.0)
    if waited < WAIT_NOISE_SHARE * in_tasks:
        waited = 0.0  # within what two samplers disagree by: the tasks computed
    return {IO_WAIT: round(waited, 4), CPU_GIL: round(cpu * gil_share, 4),
            CPU_NOGIL: round(cpu * (1 - gil_share), 4), OTHER: 0.0}


def _in_task(threads, library_paths, runner_file: str) -> int:
    """How many of these samples run the program's own code below a library's frames."""
    return sum(1 for thread in threads for stack in thread.stacks
               if stack and _below_library(stack, library_paths, runner_file))


def _below_library(stack, library_paths, runner_file: str) -> bool:
    started = seen_library = False  # frames above the program's first (a runner's) don't count
    for name, file, _ in stack:
        if not file or str(name).startswith("process "):
            continue
        if _own(file, library_paths, runner_file):
            if seen_library:
                return True
            started = True
        elif started and file != "~":
            seen_library = True
    return False


def _task_share(threads, pool_worker: bool, library_paths, runner_file: str) -> float:
    """The share of a child's on-CPU samples spent in the program's own tasks.

    A pool's worker (a fork of the target, or a ``multiprocessing`` spawn) runs library
    code that fetches a task, unpickles it, calls the program's function and sends back
    the result: only samples where the program's own code runs below the library's (the
    worker calling the task) are the task; the rest is the pool's dispatch. Any other
    child (``python worker.py``) is the program's work throughout.
    """
    stacks = [stack for thread in threads for stack in thread.stacks if stack]
    if not stacks:
        return 1.0 if not pool_worker else 0.0
    if not pool_worker:
        return 1.0
    return sum(1 for stack in stacks if _below_library(stack, library_paths, runner_file)) / len(stacks)


def _root_files(threads) -> set:
    """The files of the outermost Python frames of these threads' samples (a forked child
    keeps its parent's: it runs on from the fork inside the parent's code)."""
    found = set()
    for thread in threads:
        for stack in thread.stacks:
            python = [frame for frame in stack if frame[1] and not str(frame[0]).startswith("process ")]
            if python:
                found.add(python[0][1])
    return found


def _main_thread(threads, pid):
    main = next((t for t in threads if t.tid == pid and t.stacks), None)
    if main is None and threads:
        main = max(threads, key=lambda t: len(t.stacks))
    return main


def _own(file: str, library_paths, runner_file: str) -> bool:
    if not file or file == "~" or file == runner_file or file.startswith("<frozen"):
        return False
    real = os.path.realpath(file) if file.startswith("/") else file
    return not any(real.startswith(path.rstrip("/") + "/") for path in library_paths)


def _entry(thread, library_paths, runner_file: str) -> dict | None:
    """The innermost of the program's own functions that ``ENTRY_SHARE`` of the main
    thread's samples went through: what the child ran (``work`` for a Process, the
    script's ``<module>`` for ``python worker.py``)."""
    through: Counter = Counter()
    depth: dict = {}
    stacks = [s for s in thread.stacks if s]
    for stack in stacks:
        seen = set()
        for index, (name, file, line) in enumerate(stack):
            key = (name, file)
            if key in seen or not _own(file, library_paths, runner_file):
                continue
            seen.add(key)
            through[key] += 1
            depth.setdefault(key, index)
    if not stacks:
        return None
    wanted = [key for key, n in through.items() if n >= ENTRY_SHARE * len(stacks)]
    if not wanted:
        return None
    name, file = max(wanted, key=lambda key: depth[key])
    from .leafcalls import bare_name, def_line

    first_line = next(frame[2] for stack in stacks for frame in stack if frame[:2] == (name, file))
    bare = bare_name(name)
    return {"function": bare, "location": _where(file, def_line(file, bare, first_line) or first_line)}


def _run_queue(poller, pid: int) -> dict | None:
    """The child's threads' run-queue waits and CPU, as the schedstat poller last read
    them (whole lives: the child started during the run); None when not read."""
    if poller is None:
        return None
    readings = {tid: reading for (child, tid), reading in getattr(poller, "children", {}).items() if child == pid}
    if not readings:
        return None
    from .schedstat import CORRECT, NS

    waits = {tid: r[1] * NS for tid, r in readings.items()}
    return {"available": True, "threads": waits if CORRECT else {}, "measured_threads": waits,
            "on_cpu": {tid: r[0] * NS for tid, r in readings.items()},
            "children_seconds": 0.0, "seconds": sum(waits.values())}


def _summary(pid, line, forked, target_command, entry, wall, measurement) -> dict:
    threads = measurement.threads
    functions = measurement.functions
    columns = [c for c in (IO_WAIT, CPU_GIL, CPU_NOGIL, OTHER) if c in functions.columns]
    counted = {row.thread for row in threads.itertuples()
               if row.main or float(row.cpu_seconds or 0) >= BUSY_SHARE * max(wall, 1e-9)}
    rows = functions[functions["thread"].isin(counted)] if not functions.empty else functions
    seconds = {c: float(rows[c].sum()) if not rows.empty else 0.0 for c in (IO_WAIT, CPU_GIL, CPU_NOGIL, OTHER)}
    total = sum(seconds.values())
    shares = ({c: round(v / total, 4) for c, v in seconds.items()} if total > 0
              else {IO_WAIT: 0.0, CPU_GIL: 0.0, CPU_NOGIL: 0.0, OTHER: 1.0})
    cpu = float(threads["cpu_seconds"].fillna(0.0).sum()) if not threads.empty else 0.0
    queued = float(threads["run_queue_seconds"].fillna(0.0).sum()) if "run_queue_seconds" in threads else 0.0
    tops = []
    if not functions.empty and columns:
        own = functions.assign(own=functions[columns].sum(axis=1))
        grouped = own.groupby(["function", "file", "line"], sort=False)[["own", *columns]].sum().reset_index()
        hot_lines = {}
        if "hot_line" in functions.columns:
            for r in functions.itertuples():
                if r.hot_line:
                    hot_lines.setdefault((r.function, r.file, r.line), int(r.hot_line))
        for r in grouped.sort_values("own", ascending=False).head(TOP_FUNCTIONS).itertuples():
            if r.own <= 0:
                continue
            split = {c: float(getattr(r, c)) for c in columns}
            tops.append({"function": r.function,
                         "location": "(native)" if r.file == "~" else _where(r.file, hot_lines.get((r.function, r.file, r.line), r.line)),
                         "category": max(split, key=split.get), "seconds": round(float(r.own), 4)})
    shown = line
    if forked:
        shown = f"(fork of {target_command})" if target_command else "(fork of the target)"
    return {
        "pid": pid,
        "command": shown,
        "forked": forked,
        "entry": entry,
        "wall_seconds": round(wall, 4),
        "cpu_seconds": round(cpu, 4),
        "run_queue_seconds": round(queued, 4),
        "categories": shares,
        "category_seconds": {c: round(v, 4) for c, v in seconds.items()},
        "threads": len(threads),
        "samples": int(measurement.extra.get("samples", 0)),
        "top_functions": tops,
    }


def _where(file: str, line: int) -> str:
    try:
        rel = os.path.relpath(file, os.getcwd())
        shown = file if rel.startswith("..") else rel
    except ValueError:
        shown = file
    return f"{shown}:{line}"


def note(children: list[dict], children_cpu_seconds: float) -> str | None:
    """One line for the report's notes."""
    if not children:
        return None
    cpu = sum(c["cpu_seconds"] for c in children)
    n = len(children)
    return (f"{n} child process{'es' if n != 1 else ''} sampled too (py-spy --subprocesses): "
            f"{cpu:.2f} s of CPU there (rusage of the children waited for: {children_cpu_seconds:.2f} s); "
            "the split above is the target's own, each child's is under \"Child processes\"")
