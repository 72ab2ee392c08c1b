"""cProfile's per-thread statistics (from the runner's file) as the common table."""
from __future__ import annotations

from ..catalog import normalise_cprofile_name
from ..table import Measurement, edges_frame, functions_frame, threads_frame


def func_id(filename: str, line: int, name: str) -> str:
    if filename == "~":
        return "~:0:" + normalise_cprofile_name(name)
    return f"{filename}:{line}:{name}"


def measurement_from_raw(raw: dict, backend: str = "cprofile") -> Measurement:
    """The runner's rows as the common table, with the profiler's own per-call cost
    (measured by the runner in the target's interpreter) taken out of each function's
    own time, and out of its thread's wall and CPU time."""
    functions, edges, threads = [], [], []
    seen_names: dict[str, int] = {}
    overhead = float(raw.get("overhead_per_call") or 0.0)
    for index, thread in enumerate(raw.get("threads", [])):
        label = _unique(thread.get("name") or f"thread-{index}", seen_names)
        removed = 0.0
        for row in thread.get("functions", []):
            callee = func_id(row["file"], row["line"], row["name"])
            native = row["file"] == "~"
            own = float(row["self"])
            # A row's own figure when its calls ran in different modes (3.12+ threads).
            cost = min(own, float(row["overhead"]) if "overhead" in row else overhead * int(row["calls"]))
            removed += cost
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
        cpu = thread.get("cpu_seconds")
        threads.append({"thread": label,
                        "wall_seconds": max(float(thread.get("wall_seconds") or 0.0) - removed, 0.0),
                        "cpu_seconds": None if cpu is None else max(float(cpu) - removed, 0.0),
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


def _unique(name: str, seen: dict[str, int]) -> str:
    count = seen.get(name, 0)
    seen[name] = count + 1
    return name if count == 0 else f"{name}#{count}"
