"""cProfile's per-thread statistics (from the runner's file) as the common table."""
from __future__ import annotations

from ..catalog import normalise_cprofile_name
from ..table import Measurement, edges_frame, functions_frame, threads_frame


def func_id(filename: str, line: int, name: str) -> str:
    if filename == "~":
        return "~:0:" + normalise_cprofile_name(name)
    return f"{filename}:{line}:{name}"


def measurement_from_raw(raw: dict, backend: str = "cprofile") -> Measurement:
    functions, edges, threads = [], [], []
    seen_names: dict[str, int] = {}
    for index, thread in enumerate(raw.get("threads", [])):
        label = _unique(thread.get("name") or f"thread-{index}", seen_names)
        threads.append({"thread": label, "wall_seconds": float(thread.get("wall_seconds") or 0.0),
                        "cpu_seconds": thread.get("cpu_seconds"),
                        "merged": bool(thread.get("merged")), "main": index == 0})
        for row in thread.get("functions", []):
            callee = func_id(row["file"], row["line"], row["name"])
            native = row["file"] == "~"
            functions.append({
                "thread": label, "func_id": callee,
                "function": callee.split(":", 2)[2] if native else row["name"],
                "file": row["file"], "line": int(row["line"]), "native": native,
                "calls": int(row["calls"]), "primitive_calls": int(row["primitive_calls"]),
                "self_seconds": float(row["self"]), "total_seconds": float(row["total"]),
            })
            for cfile, cline, cname, calls, seconds in row.get("callers", []):
                edges.append({"thread": label, "caller_id": func_id(cfile, cline, cname),
                              "callee_id": callee, "calls": int(calls),
                              "seconds": float(seconds), "line": 0})
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
