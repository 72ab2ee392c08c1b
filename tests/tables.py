"""Hand-built measurements: small call graphs with known seconds, for unit tests."""
from __future__ import annotations

from concadvisor.table import Measurement, edges_frame, functions_frame, threads_frame

USER = "/home/user/app.py"
LIB = "/usr/lib/python3.11"


def py(name, line=1, file=USER):
    return f"{file}:{line}:{name}"


def native(name):
    return f"~:0:{name}"


class Graph:
    """Build one thread's calls: ``call(caller, callee, calls, seconds)`` plus self times."""

    def __init__(self, thread="MainThread", wall=None, cpu=None, main=True):
        self.thread, self.wall, self.cpu, self.main = thread, wall, cpu, main
        self.selfs: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.edges: list[tuple[str, str, int, float]] = []

    def own(self, func, seconds, calls=1):
        self.selfs[func] = self.selfs.get(func, 0.0) + seconds
        self.calls[func] = max(self.calls.get(func, 0), calls)
        return self

    def call(self, caller, callee, calls, seconds):
        self.edges.append((caller, callee, calls, seconds))
        self.calls[callee] = self.calls.get(callee, 0) + calls
        self.calls.setdefault(caller, 1)
        self.selfs.setdefault(callee, 0.0)
        self.selfs.setdefault(caller, 0.0)
        if callee.startswith("~:"):
            self.selfs[callee] += seconds  # natives are leaves: their time is their own
        return self

    def rows(self):
        totals = self._totals()
        functions = []
        for fid, seconds in self.selfs.items():
            path, line, name = fid.rsplit(":", 2)
            functions.append({"thread": self.thread, "func_id": fid, "function": name, "file": path,
                              "line": int(line), "native": path == "~", "calls": self.calls.get(fid, 1),
                              "primitive_calls": self.calls.get(fid, 1), "self_seconds": seconds,
                              "total_seconds": totals[fid]})
        edges = [{"thread": self.thread, "caller_id": a, "callee_id": b, "calls": n, "seconds": s, "line": 0}
                 for a, b, n, s in self.edges]
        return functions, edges

    def _totals(self):
        totals = dict(self.selfs)
        children = {}
        for a, b, _, s in self.edges:
            children.setdefault(a, []).append(s)
        for fid in totals:
            totals[fid] = self.selfs[fid] + sum(children.get(fid, []))
        return totals

    def span(self):
        return self._totals()[next(iter(self.selfs))] if self.selfs else 0.0


def measurement(*graphs: Graph, cores=2, gil_enabled=True) -> Measurement:
    functions, edges, threads = [], [], []
    wall = 0.0
    for g in graphs:
        f, e = g.rows()
        functions += f
        edges += e
        span = g.wall if g.wall is not None else max(r["total_seconds"] for r in f)
        wall = max(wall, span)
        cpu = g.cpu if g.cpu is not None else sum(r["self_seconds"] for r in f if not r["native"])
        threads.append({"thread": g.thread, "wall_seconds": span, "cpu_seconds": cpu,
                        "merged": False, "main": g.main})
    return Measurement(backend="test", functions=functions_frame(functions), edges=edges_frame(edges),
                       threads=threads_frame(threads), wall_seconds=wall,
                       target={"argv": ["app.py"], "exit_code": 0, "timed_out": False, "python": "3.11.7",
                               "gil_enabled": gil_enabled, "cpu_count": cores},
                       library_paths=[LIB], runner_file="")
