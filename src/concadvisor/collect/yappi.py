"""yappi's per-thread statistics (the runner writes them as cProfile rows) as the common table.

yappi's wall clock is coroutine aware: the time a coroutine spends suspended in ``await``
counts as the coroutine's own time (``asyncio.sleep`` "takes" its full delay, ``main``
"takes" the time it waits on ``gather``). That is the right answer to "how long did
this coroutine take", but in a split of the thread's wall time it counts the waiting
twice: once in the coroutine, once in the event loop's ``select``/``epoll`` wait where
the thread really spent it. So the own time of a thread's coroutines is reduced by the
thread's excess (own time over wall time), in proportion to each coroutine's own time,
and their totals by the same amount. What was removed is kept in ``awaited_seconds``.
"""
from __future__ import annotations

import pandas as pd

from ..sourcelines import is_coroutine
from ..table import Measurement
from .cprofile import measurement_from_raw as _rows_to_table


def measurement_from_raw(raw: dict, run_queue: dict | None = None) -> Measurement:
    measurement = _rows_to_table(raw, backend="yappi", run_queue=run_queue)
    awaited = _take_out_suspended_time(measurement)
    if awaited > 0:
        measurement.extra["awaited_seconds"] = round(awaited, 4)
        measurement.notes.append(
            f"yappi counts a coroutine's time suspended in await as its own: {awaited:.2f} s of "
            "it was taken out (the event loop's wait already holds that time)")
    return measurement


def _take_out_suspended_time(measurement: Measurement) -> float:
    functions = measurement.functions
    if functions.empty:
        return 0.0
    coroutine = pd.Series(
        [not native and _is_coroutine(file, line)
         for native, file, line in zip(functions["native"], functions["file"], functions["line"])],
        index=functions.index)
    wall = dict(zip(measurement.threads["thread"], measurement.threads["wall_seconds"]))
    removed_total = 0.0
    for thread, rows in functions.groupby("thread", sort=False):
        excess = float(rows["self_seconds"].sum()) - float(wall.get(thread) or 0.0)
        mine = rows.index[coroutine[rows.index]]
        own = float(functions.loc[mine, "self_seconds"].sum())
        if excess <= 0 or own <= 0:
            continue
        share = min(excess, own) / own
        removed = functions.loc[mine, "self_seconds"] * share
        functions.loc[mine, "self_seconds"] -= removed
        functions.loc[mine, "total_seconds"] = (functions.loc[mine, "total_seconds"] - removed).clip(lower=0.0)
        removed_total += float(removed.sum())
    if removed_total > 0:
        _cap_edges(measurement)
    return removed_total


def _cap_edges(measurement: Measurement) -> None:
    """An edge never carries more than its callee's (corrected) total."""
    totals = measurement.functions.groupby(["thread", "func_id"])["total_seconds"].max()
    edges = measurement.edges
    if edges.empty:
        return
    keys = pd.MultiIndex.from_arrays([edges["thread"], edges["callee_id"]])
    cap = totals.reindex(keys).to_numpy()
    edges["seconds"] = edges["seconds"].where(pd.isna(cap) | (edges["seconds"] <= cap), cap)


_COROUTINES: dict[tuple[str, int], bool] = {}


def _is_coroutine(file: str, line: int) -> bool:
    key = (file, int(line))
    if key not in _COROUTINES:
        _COROUTINES[key] = bool(file) and not file.startswith("<") and is_coroutine(file, int(line))
    return _COROUTINES[key]
