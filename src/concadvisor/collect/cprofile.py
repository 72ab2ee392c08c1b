"""cProfile's per-thread statistics (from the runner's file) as the common table."""
from __future__ import annotations

from ..catalog import normalise_cprofile_name
from ..table import Measurement, edges_frame, functions_frame, threads_frame


def func_id(filename: str, line: int, name: str) -> str:
    if filename == "~":
        return "~:0:" + normalise_cprofile_name(name)
    return f"{filename}:{line}:{name}"


def measurement_from_raw(raw: dict, backend: str = "cprofile") -> Measurement:
    """The runner's rows as the common table, with the profiler's own cost (measured by
    the runner in the target's interpreter: per call, and the slow-down of the Python
    code between calls) taken out of the rows it inflated, and out of their thread's
    wall and CPU time."""
    functions, edges, threads = [], [], []
    seen_names: dict[str, int] = {}
    overhead = float(raw.get("overhead_per_call") or 0.0)
    callee_share = float(raw.get("overhead_callee_share", 1.0))
    slowdown = max(float(raw.get("bytecode_slowdown") or 1.0), 1.0)
    for index, thread in enumerate(raw.get("threads", [])):
        label = _unique(thread.get("name") or f"thread-{index}", seen_names)
        rows = thread.get("functions", [])
        costs = profiler_costs(rows, overhead, callee_share)
        removed = slowed = python_own = 0.0
        for row, cost in zip(rows, costs):
            callee = func_id(row["file"], row["line"], row["name"])
            native = row["file"] == "~"
            own = float(row["self"])
            cost = min(own, cost)
            removed += cost
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
                        "wall_seconds": max(wall - removed - slowed, 0.0),
                        "cpu_seconds": cpu,
                        "merged": bool(thread.get("merged")), "main": index == 0})
    return Measurement(
        backend=backend,
        functions=functions_frame(functions),
        edges=edges_frame(edges),
        threads=threads_frame(threads),
        wall_seconds=float(raw.get("wall_seconds") or 0.0),
        library_paths=list(raw.get("library_paths", [])),
        runner_file=raw.get("runner_file", ""),
        children_cpu_seconds=float(raw.get("children_cpu_seconds") or 0.0),
    )


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
