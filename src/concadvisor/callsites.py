"""Where in the user's own code the time is spent: call sites and units of work.

The classified table says what kind of time each function spent; this module carries it
up the call graph to the user's code. A *call site* is an edge from a user function into
code that isn't the user's (a library, the standard library, a native callable), or the
user function's own bytecode. Each site carries the category seconds of everything under
it, the wait family (socket, sleep, file...) and the top-level library it went through.

A site's *unit of work* is the outermost user function above it that was called more
than once (or the call itself, when the user's loop calls the library directly). Its
call count is how many independent repeats were seen: the most overlap any model can get.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import pandas as pd

from .catalog import CATEGORIES, FAMILIES
from .classify import counted_functions
from .sourcelines import find_call, is_coroutine, suspends_in_loop, suspension_points
from .table import Measurement

FAMILY_NAMES = tuple(FAMILIES)
BUCKETS = (*CATEGORIES, *(f"family:{name}" for name in FAMILY_NAMES))

SITE_COLUMNS = ["thread", "user_id", "user_function", "file", "def_line", "line",
                "callee_id", "callee", "library", "calls", "seconds", *CATEGORIES,
                "family", "in_coroutine", "awaited", "unit", "unit_file", "unit_line",
                "unit_longest", "repeats", "driver", "driver_file", "driver_line", "under_event_loop",
                "calls_at_least", "repeats_at_least", "step_id", "steps", "step_file", "step_line",
                "step_runs"]


# Code of an IPython cell, defined in an earlier cell than the one measured: the user's.
CELL_PREFIX = "<ipython-input-"


@dataclass
class CodeMap:
    """Which files are the user's, from the library paths the target's interpreter gave."""

    library_paths: tuple[str, ...]
    runner_file: str
    _user: dict = field(default_factory=dict, repr=False)  # answers by file name

    def is_user(self, filename: str) -> bool:
        known = self._user.get(filename)
        if known is None:
            known = self._user[filename] = self._is_user(filename)
        return known

    def _is_user(self, filename: str) -> bool:
        if not filename or filename == "~" or (filename.startswith("<") and not filename.startswith(CELL_PREFIX)):
            return False
        path = os.path.realpath(filename)
        if self.runner_file and path == os.path.realpath(self.runner_file):
            return False
        if os.sep + "concadvisor" + os.sep in path:
            return False
        return not any(path == lib or path.startswith(lib + os.sep) for lib in self.library_paths)

    def module_of(self, filename: str) -> str:
        """Dotted module of a library file (``urllib.request`` for urllib/request.py)."""
        path = _realpath(filename)
        for lib in sorted(self.library_paths, key=len, reverse=True):
            if path.startswith(lib + os.sep):
                rest = path[len(lib) + 1:]
                rest = rest[:-3] if rest.endswith(".py") else rest
                parts = [p for p in rest.split(os.sep) if p != "__init__"]
                return ".".join(parts)
        return ""

    def library_of(self, filename: str) -> str:
        """Top-level package of a library file (``urllib`` for urllib/request.py)."""
        path = _realpath(filename)
        for lib in sorted(self.library_paths, key=len, reverse=True):
            if path.startswith(lib + os.sep):
                rest = path[len(lib) + 1:]
                top = rest.split(os.sep, 1)[0]
                return top[:-3] if top.endswith(".py") else top
        return ""


@lru_cache(maxsize=65536)
def _realpath(filename: str) -> str:
    return os.path.realpath(filename)


def code_map(measurement: Measurement) -> CodeMap:
    paths = tuple(os.path.realpath(p) for p in measurement.library_paths)
    return CodeMap(paths, measurement.runner_file)


def call_sites(measurement: Measurement) -> pd.DataFrame:
    """One row per user call site, per working thread, with its category seconds."""
    rows = []
    codes = code_map(measurement)
    functions = counted_functions(measurement)
    if measurement.backend == "cprofile":
        # cProfile's count is a coroutine's steps, exactly: kept before it is made runs.
        functions = _coroutine_runs(functions.assign(steps=functions["calls"]))
    for thread, table in functions.groupby("thread", sort=False):
        edges = measurement.edges[measurement.edges["thread"] == thread]
        rows.extend(_thread_sites(thread, table, edges, codes))
    sites = pd.DataFrame(rows, columns=SITE_COLUMNS)
    # Counts that stopped early (too many calls to count cheaply) are lower bounds.
    lower = set(measurement.extra.get("calls_at_least") or ())
    called = sites["callee"].where(sites["callee"] != "(own code)", sites["user_function"])
    sites["calls_at_least"] = _counted_in_part(called, lower)
    sites["repeats_at_least"] = _counted_in_part(sites["unit"], lower)
    return sites


def _coroutine_runs(functions: pd.DataFrame) -> pd.DataFrame:
    """cProfile counts each step of a coroutine as a call (every resumption after an
    await): ten tasks that each suspend twice read as 29 calls. A run takes at most one
    step more than its suspension points, so calls / (points + 1) runs at least happened;
    that lower bound stands for the count (a loop of awaits makes it lower still)."""
    python = functions[~functions["native"]]
    if python.empty:
        return functions
    functions = functions.copy()
    for index, row in python.iterrows():
        calls = int(row["calls"])
        if calls < 2:
            continue
        points = suspension_points(str(row["file"]), int(row["line"]))
        if points:
            runs = max(-(-calls // (points + 1)), 1)
            functions.at[index, "calls"] = runs
            functions.at[index, "primitive_calls"] = min(int(row["primitive_calls"]), runs)
    return functions


def _counted_in_part(names, lower: set) -> list[bool]:
    """Which of ``names`` (dotted or bare) the call counter stopped counting."""
    return [str(name).rsplit(".", 1)[-1] in lower for name in names]


def _thread_sites(thread, table, edges, codes: CodeMap) -> list[dict]:
    table = table.set_index("func_id", drop=False)
    table = table[~table.index.duplicated()]
    # One dict per function: row lookups by id stay cheap with 100k functions (pandas' .at
    # and .loc cost microseconds each, and a site makes a dozen).
    columns = list(table.columns)
    values = zip(*(table[c].tolist() for c in columns))
    rows = {fid: dict(zip(columns, row)) for fid, row in zip(table.index.tolist(), values)}
    user = {fid: codes.is_user(row["file"]) for fid, row in rows.items()}
    totals = _subtree_buckets(rows, edges, user)
    callers = _callers(edges)
    event_loop_ids = {fid for fid in rows if _is_event_loop_step(fid)}
    owners: dict = {}
    sites = []
    for caller_id, callee_id, calls, seconds, line in _columns(
            edges, "caller_id", "callee_id", "calls", "seconds", "line"):
        if not user.get(caller_id) or user.get(callee_id, False) or callee_id not in rows:
            continue
        callee_total = float(rows[callee_id]["total_seconds"]) or 1e-12
        vector = totals.get(callee_id, np.zeros(len(BUCKETS))) * min(seconds / callee_total, 1.0)
        sites.append(_site(thread, rows, caller_id, callee_id, calls, seconds, vector,
                           callers, user, codes, event_loop_ids, line)
                     | _step_of(caller_id, rows, callers, user, event_loop_ids, owners))
    for fid, row in rows.items():
        if user.get(fid) and row["self_seconds"] > 0:
            vector = np.zeros(len(BUCKETS))
            for i, category in enumerate(CATEGORIES):
                vector[i] = row[category]
            sites.append(_site(thread, rows, fid, fid, int(row["calls"]), float(row["self_seconds"]),
                               vector, callers, user, codes, event_loop_ids, _hot_line(row))
                         | _step_of(fid, rows, callers, user, event_loop_ids, owners))
    return sites


def _qualified(path: str, name: str) -> str:
    """``.../site-packages/requests/api.py`` and ``get`` -> ``requests.api.get``."""
    parts = str(path).replace("\\", "/").split("/")
    for marker in ("site-packages", "dist-packages"):
        if marker in parts:
            parts = parts[len(parts) - parts[::-1].index(marker):]
            break
    else:
        stdlib = [i for i, part in enumerate(parts) if part.startswith("python3")]
        parts = parts[stdlib[-1] + 1:] if stdlib and stdlib[-1] < len(parts) - 1 else parts[-1:]
    if not parts or not parts[-1].endswith(".py"):
        return name
    parts[-1] = parts[-1][:-3]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join([*parts, name]) if parts else name


def _site(thread, rows, caller_id, callee_id, calls, seconds, vector, callers, user, codes,
          event_loop_ids, sampled_line):
    caller = rows[caller_id]
    own = caller_id == callee_id
    callee = rows[callee_id]
    callee_name = callee["function"]
    # A Python callee by its module too: ``requests.get(...)`` over ``session.get(...)``.
    spelled = callee_name if callee["native"] else _qualified(callee["file"], callee_name)
    found = None if own else find_call(caller["file"], int(caller["line"]), spelled,
                                       int(sampled_line or 0), bool(callee["native"]))
    line = int(sampled_line) or (found.line if found else int(caller["line"]))
    in_coroutine = found.in_coroutine if found else is_coroutine(caller["file"], int(caller["line"]))
    unit_id, repeats = _unit_of_work(caller_id, callee_id, calls, own, rows, callers, user)
    driver_id = _strongest_caller(unit_id, callers, user)
    driver_line, driver_file = 0, ""
    unit_name = rows[unit_id]["function"] if unit_id in rows else callee_name
    if driver_id is not None:
        driver = rows[driver_id]
        call = find_call(driver["file"], int(driver["line"]), unit_name)
        driver_line = call.line if call else int(driver["line"])
        driver_file = driver["file"]
    elif unit_id == callee_id and not own:
        driver_id, driver_line, driver_file = caller_id, line, caller["file"]
    family_seconds = vector[len(CATEGORIES):]
    family = FAMILY_NAMES[int(np.argmax(family_seconds))] if family_seconds.max() > 0 else ""
    library = "" if callee["native"] else codes.library_of(callee["file"])
    if not own and not callee["native"]:
        module = codes.module_of(callee["file"])
        callee_name = f"{module}.{callee_name}" if module else callee_name
    return {
        "thread": thread, "user_id": caller_id, "user_function": caller["function"],
        "file": caller["file"], "def_line": int(caller["line"]), "line": line,
        "callee_id": callee_id, "callee": callee_name if not own else "(own code)",
        "library": library, "calls": int(calls), "seconds": float(seconds),
        **{c: float(vector[i]) for i, c in enumerate(CATEGORIES)},
        "family": family, "in_coroutine": bool(in_coroutine),
        "awaited": bool(found.awaited) if found else False,
        "unit": unit_name, "unit_file": rows[unit_id]["file"] if unit_id in rows else "",
        "unit_line": int(rows[unit_id]["line"]) if unit_id in rows else 0,
        "unit_longest": _longest_call(rows.get(unit_id)),
        "repeats": int(repeats),
        "driver": rows[driver_id]["function"] if driver_id in rows else "",
        "driver_file": driver_file, "driver_line": int(driver_line),
        "under_event_loop": _has_ancestor(caller_id, event_loop_ids, callers),
    }


def _step_of(func, rows, callers, user, event_loop_ids, owners) -> dict:
    """The coroutine whose step a user function's work runs in, and how many steps it
    took: a coroutine is its own; a plain function (a helper, a generator expression
    resumed by ``sum``) runs inside the step of the nearest coroutine above it, whatever
    library frames lie between; one the event loop calls directly (a callback) is its own
    step. Steps: cProfile counts them; elsewhere runs x (suspension points + 1), a bound
    that holds only when no await sits in a loop (0: unknown)."""
    found = owners.get(func)
    if found is None:
        owner, current, seen = func, func, {func}
        for _ in range(64):
            row = rows.get(current)
            if row is not None and user.get(current) and is_coroutine(str(row["file"]), int(row["line"])):
                owner = current
                break
            parents = [(seconds, caller) for caller, seconds in callers.get(current, ())
                       if caller not in seen and caller in rows]
            if not parents or any(caller in event_loop_ids for _, caller in parents):
                break
            current = max(parents)[1]
            seen.add(current)
        row = rows[owner]
        file, line = str(row["file"]), int(row["line"])
        steps = row.get("steps")
        if steps is None or steps != steps:  # not counted by step (NaN: not cProfile's row)
            coroutine = is_coroutine(file, line)
            bounded = not coroutine or not suspends_in_loop(file, line)
            steps = int(row["calls"]) * (suspension_points(file, line) + 1) if bounded else 0
        runs = max(int(row["calls"]), 1)
        found = owners[func] = {"step_id": owner, "steps": int(steps), "step_file": file,
                                "step_line": line, "step_runs": runs}
    return found


def _hot_line(row) -> int:
    """Where a function's own time ran most, when a sampler saw its lines (0: not seen;
    its own-code site then stands at its ``def``)."""
    try:
        line = int(row.get("hot_line") or 0)
    except (TypeError, ValueError):
        return 0
    return line if line > 0 else 0


def _longest_call(row) -> float:
    """The longest single call of a function, where the backend timed it (0: not timed)."""
    value = (row or {}).get("longest_call_seconds")
    try:
        value = float(value)
    except (TypeError, ValueError):
        return 0.0
    return value if value > 0 else 0.0  # NaN and missing alike


def _unit_of_work(caller_id, callee_id, calls, own, rows, callers, user):
    """Walk up the user's callers to the outermost function called more than once."""
    if not own and int(rows[caller_id]["primitive_calls"]) <= 1 and calls > 1:
        return callee_id, calls
    current, unit, repeats = caller_id, caller_id, int(rows[caller_id]["primitive_calls"])
    seen = {current}
    while True:
        parent = _strongest_caller(current, callers, user)
        if parent is None or parent in seen:
            break
        seen.add(parent)
        parent_calls = int(rows[parent]["primitive_calls"]) if parent in rows else 1
        if parent_calls <= 1:
            break
        current, unit, repeats = parent, parent, parent_calls
    return unit, max(repeats, 1)


def _strongest_caller(func, callers, user):
    best = None
    best_seconds = -1.0
    for caller_id, seconds in callers.get(func, ()):
        if caller_id != func and user.get(caller_id) and seconds > best_seconds:
            best, best_seconds = caller_id, seconds
    return best


def _callers(edges) -> dict[str, list[tuple[str, float]]]:
    out: dict[str, list[tuple[str, float]]] = {}
    for caller_id, callee_id, seconds in _columns(edges, "caller_id", "callee_id", "seconds"):
        out.setdefault(callee_id, []).append((caller_id, float(seconds)))
    return out


def _columns(frame: pd.DataFrame, *names: str):
    """Rows of ``names`` as plain Python values (iterating pandas' string arrays row by row
    costs microseconds a value)."""
    return zip(*(frame[name].tolist() for name in names))


def _is_event_loop_step(func_id: str) -> bool:
    """asyncio's Handle._run: every callback and task step of a running loop passes here."""
    path, _, name = func_id.rpartition(":")
    return name == "_run" and path.replace("\\", "/").split(":")[0].endswith("asyncio/events.py")


def _has_ancestor(func, targets, callers, limit=200) -> bool:
    if not targets:
        return False
    stack, seen = [func], {func}
    while stack and len(seen) < 10_000:
        current = stack.pop()
        for caller_id, _ in callers.get(current, ()):
            if caller_id in targets:
                return True
            if caller_id not in seen:
                seen.add(caller_id)
                stack.append(caller_id)
    return False


def _subtree_buckets(rows, edges, user=None) -> dict[str, np.ndarray]:
    """Category (and wait family) seconds under each function, self time included.

    A callee's subtree is shared among its callers in proportion to the seconds each
    edge carried; recursion edges back into the current path are ignored. Time that
    re-enters the user's code (``asyncio.run`` running the user's coroutines, a library
    calling back) stays out: it belongs to the user's own call sites further down, and
    counting it twice would make one ``asyncio.run`` look like the program's only wait.
    """
    user = user or {}
    own: dict[str, np.ndarray] = {}
    family_index = {name: len(CATEGORIES) + i for i, name in enumerate(FAMILY_NAMES)}
    cols = list(CATEGORIES)
    for fid, row in rows.items():
        family, values = row["family"], [row[c] for c in cols]
        vector = np.zeros(len(BUCKETS))
        vector[:len(cols)] = values
        if family in family_index:
            vector[family_index[family]] = values[0]  # io_wait seconds of this family
        own[fid] = vector
    children: dict[str, list[tuple[str, float]]] = {}
    for caller_id, callee_id, seconds in _columns(edges, "caller_id", "callee_id", "seconds"):
        if caller_id != callee_id:
            children.setdefault(caller_id, []).append((callee_id, float(seconds)))
    totals: dict[str, np.ndarray] = {}
    state: dict[str, int] = {}
    for root in own:
        if root in totals:
            continue
        stack = [(root, 0)]
        while stack:
            node, phase = stack.pop()
            if phase == 0:
                if state.get(node):
                    continue
                state[node] = 1
                stack.append((node, 1))
                for child, _ in children.get(node, ()):
                    if not state.get(child) and child in own:
                        stack.append((child, 0))
            else:
                vector = own[node].copy()
                for child, seconds in children.get(node, ()):
                    if child in totals and not user.get(child):
                        child_total = float(rows[child]["total_seconds"]) if child in rows else 0.0
                        if child_total > 0:
                            vector += totals[child] * min(seconds / child_total, 1.0)
                totals[node] = vector
                state[node] = 2
    return totals
