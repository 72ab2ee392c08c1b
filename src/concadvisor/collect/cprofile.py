"""cProfile's per-thread statistics (from the runner's file) as the common table."""
from __future__ import annotations

from functools import lru_cache

from ..catalog import IO_WAIT, lookup, normalise_cprofile_name
from ..table import Measurement, edges_frame, functions_frame, threads_frame


def func_id(filename: str, line: int, name: str) -> str:
    if filename == "~":
        return "~:0:" + normalise_cprofile_name(name)
    return f"{filename}:{line}:{name}"


def measurement_from_raw(raw: dict, backend: str = "cprofile", run_queue: dict | None = None) -> Measurement:
    """The runner's rows as the common table, with the profiler's own cost (measured by
    the runner in the target's interpreter: per call, and the slow-down of the Python
    code between calls) taken out of the rows it inflated, and out of their thread's
    wall and CPU time.

    ``run_queue`` (``schedstat.run_queue``): seconds each thread (by native id) was
    runnable but waiting for a CPU. cProfile's clock is the wall clock, so that time sits
    in the own time of whatever the thread was running: it is taken out of the rows that
    compute (Python code and natives not known as waits), in proportion to their own time,
    before the slow-down (which applies to the time the code was on a CPU only).
    """
    waits_by_tid = (run_queue or {}).get("threads") or {}
    queued_total = 0.0
    functions, edges, threads = [], [], []
    seen_names: dict[str, int] = {}
    overhead = float(raw.get("overhead_per_call") or 0.0)
    callee_share = float(raw.get("overhead_callee_share", 1.0))
    slowdown = max(float(raw.get("bytecode_slowdown") or 1.0), 1.0)
    for index, thread in enumerate(raw.get("threads", [])):
        label = _unique(thread.get("name") or f"thread-{index}", seen_names)
        rows = thread.get("functions", [])
        costs = profiler_costs(rows, overhead, callee_share)
        waited = float(waits_by_tid.get(thread.get("native_id"), 0.0) or 0.0)
        queued_rows = run_queue_costs(rows, costs, waited)
        queued = sum(queued_rows)
        queued_total += queued
        removed = slowed = python_own = 0.0
        for row, cost, waiting in zip(rows, costs, queued_rows):
            callee = func_id(row["file"], row["line"], row["name"])
            native = row["file"] == "~"
            own = float(row["self"])
            cost = min(own, cost)
            removed += cost
            cost = min(own, cost + waiting)  # waiting for a CPU: neither the profiler nor the code
            if not native:  # the rest of a Python row's own time ran slowed by the hook
                python_own += own - cost
                slow = (own - cost) * (1.0 - 1.0 / slowdown)
                slowed += slow
                cost += slow
            functions.append({
                "thread": label, "func_id": callee,
                "function": callee.split(":", 2)[2] if native else row["name"],
                "file": row["file"], "line": int(row["line"]), "native": native,
                "calls": int(row["calls"]), "primitive_calls": int(row["primitive_calls"]),
                "self_seconds": own - cost, "total_seconds": max(float(row["total"]) - cost, 0.0),
            })
            for cfile, cline, cname, calls, seconds in row.get("callers", []):
                edges.append({"thread": label, "caller_id": func_id(cfile, cline, cname),
                              "callee_id": callee, "calls": int(calls),
                              "seconds": float(seconds), "line": 0})
        cpu, wall = thread.get("cpu_seconds"), float(thread.get("wall_seconds") or 0.0)
        if cpu is not None:
            # Own times are wall clock: a thread queueing for the GIL ran slowed only for
            # the part of its Python time that was on the CPU.
            cpu = float(cpu) - removed
            on_cpu = min(max(cpu, 0.0) / python_own, 1.0) if python_own > 0 else 0.0
            cpu = max(cpu - slowed * on_cpu, 0.0)
        threads.append({"thread": label,
                        "wall_seconds": max(wall - removed - slowed - queued, 0.0),
                        "cpu_seconds": cpu,
                        "merged": bool(thread.get("merged")), "main": index == 0,
                        "run_queue_seconds": queued})
    measurement = Measurement(
        backend=backend,
        functions=functions_frame(functions),
        edges=edges_frame(edges),
        threads=threads_frame(threads),
        wall_seconds=float(raw.get("wall_seconds") or 0.0),
        library_paths=list(raw.get("library_paths", [])),
        runner_file=raw.get("runner_file", ""),
        children_cpu_seconds=float(raw.get("children_cpu_seconds") or 0.0),
    )
    if run_queue is not None:
        measurement.extra["run_queue"] = dict(run_queue, taken_out=queued_total)
    measurement.extra["python_tids"] = [t.get("native_id") for t in raw.get("threads", []) if t.get("native_id")]
    return measurement


# At most this share of a thread's computing rows is taken out as waiting for a CPU
# (beyond it the clocks disagree by noise; nothing runs at 5% of its own speed).
RUN_QUEUE_MAX_SHARE = 0.95


def run_queue_costs(rows: list[dict], costs: list[float], waited: float) -> list[float]:
    """Seconds of ``waited`` (the thread's run-queue wait) in each row's own time: spread
    over the rows that compute, in proportion to their own time net of the profiler's
    cost. Known waits (sleep, select, locks...) keep theirs: a thread blocked there is not
    runnable (waking up from one costs a little, which stays in the wait)."""
    if waited <= 0:
        return [0.0] * len(rows)
    computing = [0.0 if row["file"] == "~" and _waits(row["name"]) else max(float(row["self"]) - cost, 0.0)
                 for row, cost in zip(rows, costs)]
    total = sum(computing)
    if total <= 0:
        return [0.0] * len(rows)
    share = min(waited, RUN_QUEUE_MAX_SHARE * total) / total
    return [seconds * share for seconds in computing]


@lru_cache(maxsize=4096)
def _waits(raw_name: str) -> bool:
    kind = lookup(normalise_cprofile_name(raw_name))
    return kind is not None and kind.category == IO_WAIT


def profiler_costs(rows: list[dict], overhead: float, callee_share: float) -> list[float]:
    """Seconds of profiler cost in each row's own time (before capping at that time).

    Each profiled call costs ``overhead`` (or the runner's per-row figure, when calls ran
    under different hooks); ``callee_share`` of it shows in the called row, the rest in
    its callers', split by how often each called it. A row with no recorded caller keeps
    the whole cost.
    """
    index = {(row["file"], int(row["line"]), row["name"]): i for i, row in enumerate(rows)}
    costs = [0.0] * len(rows)
    for i, row in enumerate(rows):
        total = float(row["overhead"]) if "overhead" in row else overhead * int(row["calls"])
        callers = [(index.get((c[0], int(c[1]), c[2])), int(c[3])) for c in row.get("callers", [])]
        callers = [(j, n) for j, n in callers if j is not None and n > 0]
        made = sum(n for _, n in callers)
        if not made:
            costs[i] += total
            continue
        costs[i] += total * callee_share
        for j, n in callers:
            costs[j] += total * (1 - callee_share) * n / made
    return costs


def _unique(name: str, seen: dict[str, int]) -> str:
    count = seen.get(name, 0)
    seen[name] = count + 1
    return name if count == 0 else f"{name}#{count}"
