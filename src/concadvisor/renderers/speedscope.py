"""A speedscope file (https://www.speedscope.app/file-format-schema.json) of the measurement.

cProfile records no stacks, only who called whom and how long each edge took. So the
flame graph is built from the call graph, honestly: from each root, the time of every
node is passed down its edges in proportion to the seconds each edge carried (recursion
back into the current path is cut), and each node's own time along that path becomes one
weighted stack. Its leaf is a category frame (``[io_wait]``, ``[cpu_gil]``...), so the
split by category shows under every function. One sampled profile per thread, weights in
seconds; a backend that records real stacks could write them here the same way.
"""
from __future__ import annotations

import json

from ..table import Measurement

SCHEMA = "https://www.speedscope.app/file-format-schema.json"
CATEGORIES = ("io_wait", "cpu_gil", "cpu_nogil", "other")
CATEGORY_FRAMES = {"io_wait": "[io_wait] waiting", "cpu_gil": "[cpu_gil] CPU holding the GIL",
                   "cpu_nogil": "[cpu_nogil] CPU releasing the GIL", "other": "[other]"}
MAX_STACKS = 20_000
MAX_VISITS = 200_000
MAX_DEPTH = 200
MIN_SHARE = 1e-5  # flows below this share of a thread's time are dropped (noise, and bounded output)


def speedscope(measurement: Measurement, name: str = "concadvisor") -> dict:
    """The speedscope document for ``measurement`` (classified or not)."""
    frames: list[dict] = []
    index: dict[tuple, int] = {}

    def frame(key: tuple, data: dict) -> int:
        if key not in index:
            index[key] = len(frames)
            frames.append(data)
        return index[key]

    for category, label in CATEGORY_FRAMES.items():
        frame(("category", category), {"name": label})
    profiles = []
    functions = measurement.functions
    threads = measurement.threads
    counted = set(threads.loc[threads["counted"], "thread"]) if "counted" in threads else set(threads["thread"])
    order = [t for t in threads["thread"] if t in counted] + [t for t in threads["thread"] if t not in counted]
    for thread in order:
        rows = functions[functions["thread"] == thread]
        if rows.empty:
            continue
        edges = measurement.edges[measurement.edges["thread"] == thread]
        samples, weights = _thread_stacks(rows, edges, frame)
        if not samples:
            continue
        total = float(sum(weights))
        profiles.append({"type": "sampled", "name": f"{thread} ({total:.2f} s)", "unit": "seconds",
                         "startValue": 0, "endValue": total, "samples": samples, "weights": weights})
    return {"$schema": SCHEMA, "name": name, "exporter": "concadvisor", "activeProfileIndex": 0,
            "shared": {"frames": frames}, "profiles": profiles}


def to_json(measurement: Measurement, name: str = "concadvisor") -> str:
    return json.dumps(speedscope(measurement, name), allow_nan=False) + "\n"


def _thread_stacks(rows, edges, frame) -> tuple[list[list[int]], list[float]]:
    info = {}
    for r in rows.itertuples(index=False):
        split = {c: float(getattr(r, c, 0.0) or 0.0) for c in CATEGORIES} if hasattr(r, "io_wait") else {}
        info[r.func_id] = (r.function, r.file, int(r.line), float(r.self_seconds),
                           float(r.total_seconds), split)
    children: dict[str, list[tuple[str, float]]] = {}
    callers: set = set()
    for caller, callee, seconds in edges[["caller_id", "callee_id", "seconds"]].itertuples(index=False):
        if caller != callee and caller in info and callee in info:
            children.setdefault(caller, []).append((callee, float(seconds)))
            callers.add(callee)
    roots = [f for f in info if f not in callers]
    thread_total = sum(v[3] for v in info.values()) or 1.0
    floor = thread_total * MIN_SHARE
    merged: dict[tuple, float] = {}
    reached = set()
    stack = [((root,), info[root][4] or info[root][3]) for root in sorted(roots, key=lambda f: -info[f][4])]
    visits = 0
    while stack and len(merged) < MAX_STACKS and visits < MAX_VISITS:
        visits += 1
        path, flow = stack.pop()
        node = path[-1]
        reached.add(node)
        _, _, _, own, total, split = info[node]
        total = max(total, own, 1e-12)
        _add_own(merged, path, flow * own / total, own, split)
        if len(path) >= MAX_DEPTH:
            continue
        for child, seconds in children.get(node, ()):
            if child in path:
                continue  # recursion: its time is already inside this path's node
            passed = flow * min(seconds / total, 1.0)
            if passed >= floor:
                stack.append((path + (child,), passed))
    for node in info:  # own time no root reached (e.g. only called from inside a cycle)
        if node not in reached and info[node][3] >= floor:
            _add_own(merged, (node,), info[node][3], info[node][3], info[node][5])
    # The flows follow the edges, which may carry more than the rows' own times (a backend
    # takes its profiler's cost or a run-queue wait out of the rows, not out of the edges):
    # each category's weights are scaled to the thread's measured seconds of it.
    measured = {c: sum(v[5].get(c, 0.0) for v in info.values()) for c in CATEGORIES}
    drawn: dict[str, float] = {}
    for (_, category), weight in merged.items():
        drawn[category] = drawn.get(category, 0.0) + weight
    for key in merged:
        category = key[1]
        if measured.get(category, 0.0) > 0 and drawn.get(category, 0.0) > 0:
            merged[key] *= measured[category] / drawn[category]
    samples, weights = [], []
    for (path, category), weight in merged.items():
        if weight <= 0:
            continue
        ids = [frame(("function", f), _frame_data(info[f])) for f in path]
        ids.append(frame(("category", category), {"name": CATEGORY_FRAMES[category]}))
        samples.append(ids)
        weights.append(round(weight, 9))
    return samples, weights


def _add_own(merged: dict, path: tuple, seconds: float, own: float, split: dict) -> None:
    """This path's share of the node's own time, split by category."""
    if seconds <= 0:
        return
    known = sum(split.values()) if split else 0.0
    if known <= 0:
        merged[(path, "other")] = merged.get((path, "other"), 0.0) + seconds
        return
    for category, value in split.items():
        if value > 0:
            key = (path, category)
            merged[key] = merged.get(key, 0.0) + seconds * value / known


def _frame_data(entry) -> dict:
    name, file, line, *_ = entry
    data = {"name": str(name)}
    if file and file != "~":
        data["file"] = str(file)
        data["line"] = int(line)
    return data
