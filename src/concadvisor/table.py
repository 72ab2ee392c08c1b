"""The one table every backend produces, and the measurement that carries it.

``functions``: one row per function per thread. ``func_id`` is ``file:line:name``;
natives have file ``~`` and their normalised name (see ``catalog``). Seconds are wall
seconds as the backend saw them: ``self_seconds`` in the function itself, ``total_seconds``
with its callees. ``calls`` counts every call, ``primitive_calls`` leaves out recursion.

``edges``: caller -> callee per thread, with the calls and seconds spent in the callee
when called from that caller (what lets the report point at the user's own call sites).

``threads``: each thread's wall and CPU seconds, as its own clocks said, and the seconds
it was runnable but waiting for a CPU (``run_queue_seconds``, already taken out of its
wall time and rows; absent or NaN where not measured).

Classification adds one seconds column per category and a ``category`` column.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

FUNCTION_COLUMNS = ["thread", "func_id", "function", "file", "line", "native", "calls",
                    "primitive_calls", "self_seconds", "total_seconds"]
EDGE_COLUMNS = ["thread", "caller_id", "callee_id", "calls", "seconds", "line"]
THREAD_COLUMNS = ["thread", "wall_seconds", "cpu_seconds", "merged", "main", "run_queue_seconds"]


@dataclass
class Measurement:
    """What one backend measured of one run, in common form."""

    backend: str
    functions: pd.DataFrame
    edges: pd.DataFrame
    threads: pd.DataFrame
    wall_seconds: float
    target: dict = field(default_factory=dict)
    library_paths: list[str] = field(default_factory=list)
    runner_file: str = ""
    children_cpu_seconds: float = 0.0
    process_cpu_seconds: float = 0.0  # the whole process (every thread), from rusage
    notes: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return self.functions.empty


def functions_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=FUNCTION_COLUMNS)
    return frame.astype({"line": "int64", "calls": "int64", "primitive_calls": "int64",
                         "self_seconds": "float64", "total_seconds": "float64",
                         "native": "bool"})


def edges_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=EDGE_COLUMNS)
    return frame.astype({"calls": "int64", "seconds": "float64", "line": "int64"})


def threads_frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=THREAD_COLUMNS)
