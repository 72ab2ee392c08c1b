"""The hotspots list: where the time went, at the user's own lines, biggest first."""
from __future__ import annotations

import pandas as pd

from .advise.checklist import where
from .catalog import CATEGORIES
from .classify import counted_functions
from .table import Measurement

TOP = 15


def hotspots(measurement: Measurement, sites: pd.DataFrame, top: int = TOP) -> list[dict]:
    """Call sites in user code (the call, its file:line, dominant category, seconds, calls).

    Falls back to the busiest functions when no user code was seen (e.g. ``-m`` of a
    library module).
    """
    if sites is not None and len(sites):
        frame = sites.assign(
            function=sites["callee"].where(sites["callee"] != "(own code)", sites["user_function"]),
            location=[where(f, line) for f, line in zip(sites["file"], sites["line"])])
        grouped = frame.groupby(["function", "location"], sort=False).agg(
            {**{c: "sum" for c in CATEGORIES}, "calls": "sum",
             "user_function": "first", "thread": "nunique", "calls_at_least": "any"}).reset_index()
    else:
        rows = counted_functions(measurement)
        if rows.empty:
            return []
        frame = rows.assign(location=[where(f, line) if f != "~" else "(native)"
                                      for f, line in zip(rows["file"], rows["line"])])
        grouped = frame.groupby(["function", "location"], sort=False).agg(
            {**{c: "sum" for c in CATEGORIES}, "calls": "sum",
             "thread": "nunique"}).reset_index()
        grouped["user_function"] = grouped["function"]
        grouped["calls_at_least"] = False
    # A call's seconds are its categories' sum, which leaves out the user's code it calls
    # back into (a ``bytes.join`` over a generator, ``asyncio.run``): those lines have rows
    # of their own, and the call's inclusive figure would count them twice in one table.
    grouped["seconds"] = grouped[list(CATEGORIES)].sum(axis=1)
    grouped["category"] = grouped[list(CATEGORIES)].idxmax(axis=1)
    grouped = grouped.sort_values("seconds", ascending=False).head(top)
    return [{"function": r.function, "location": r.location, "category": r.category,
             "seconds": round(float(r.seconds), 4), "calls": int(r.calls),
             "caller": r.user_function, "threads": int(r.thread),
             "split": {c: round(float(getattr(r, c)), 4) for c in CATEGORIES},
             **({"calls_at_least": True} if r.calls_at_least else {})}
            for r in grouped.itertuples()]
