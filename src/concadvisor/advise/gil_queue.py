"""What threads lose getting the GIL back, measured from the lengths of the program's pieces.

The speedup model's GIL bound says threads run GIL-free work beside each other's Python.
Two things take from that, both set by how the work comes in pieces:

- hand-offs (``gil_handoffs``): a GIL-free piece too short for a blocked thread to wake up
  and take the GIL meanwhile overlaps nothing;
- queueing (``gil_queue``): a thread back from a GIL-free call (or a wait) finds another
  thread running Python and waits for it, up to the interpreter's switch interval, while
  its own GIL-free work could have run. How long depends on the Python stretches it lands
  in: long ones (building a document in Python between the queries over it) cost the most.
"""
from __future__ import annotations

from ..catalog import CPU_GIL, CPU_NOGIL, IO_WAIT
from .speedup import HANDOFF_SECONDS, SWITCH_INTERVAL_SECONDS


def gil_handoffs(cpu_sites) -> float:
    """GIL-free CPU that threads cannot overlap, because its pieces are too short.

    A thread that returns from a GIL-free call while another thread runs Python blocks
    until the GIL is free, and then needs ``HANDOFF_SECONDS`` to wake up. A GIL-free piece
    shorter than that is over before the waiter is awake: the thread that let the GIL go
    takes it back, and the waiter gets in at the interpreter's switch interval (5 ms). So
    of each site's pieces (d = seconds per call) the part min(1, h / d) runs as if it held
    the GIL, for as much of it as there are Python steps to overlap it with (the unit's
    GIL-holding CPU, shared among its GIL-free calls): min(N, G) * min(1, h / d)."""
    if cpu_sites.empty:
        return 0.0
    free_sites = cpu_sites[cpu_sites[CPU_NOGIL] > 0]
    gil_by_unit = cpu_sites.groupby("unit")[CPU_GIL].sum()
    calls_by_unit = free_sites.groupby("unit")["calls"].sum()
    lost = 0.0
    for unit, calls, free in zip(free_sites["unit"], free_sites["calls"], free_sites[CPU_NOGIL]):
        calls = max(int(calls), 1)
        steps = float(gil_by_unit.get(unit, 0.0)) * calls / max(int(calls_by_unit.get(unit, 1)), 1)
        lost += min(free, steps) * min(1.0, HANDOFF_SECONDS * calls / free)
    return lost


def gil_queue(cpu_sites, repeats: int) -> tuple[float, float]:
    """(returns per run, residual): how often one run of the CPU unit gives the GIL up and
    takes it back (its calls of GIL-free native code, and its waits, of 50 us or more a
    call), and the mean time left of another thread's Python stretch when it comes back,
    weighted by time: a stretch of b seconds leaves b/2 on average, and never more than
    the switch interval (``residual``). A function of the unit that only runs Python is
    one stretch per run; a function that also calls GIL-free code has its Python spread
    between those calls."""
    if cpu_sites is None or cpu_sites.empty or repeats < 2:
        return 0.0, 0.0
    by_unit = cpu_sites.groupby("unit")["cpu"].sum() if "cpu" in cpu_sites else None
    unit = by_unit.idxmax() if by_unit is not None and len(by_unit) else cpu_sites["unit"].iloc[0]
    rows = cpu_sites[cpu_sites["unit"] == unit]
    # The unit's own runs (a generator's resumptions elsewhere don't make its runs shorter).
    repeats = max(int(rows["repeats"].max()), 1) if "repeats" in rows else repeats
    if repeats < 2:
        return 0.0, 0.0
    # Only a piece long enough for another thread to take the GIL meanwhile hands it over
    # (shorter ones are priced by ``gil_handoffs``): they neither return nor break a stretch.
    freed = rows[CPU_NOGIL] + (rows[IO_WAIT] if IO_WAIT in rows else 0.0)
    frees = freed >= HANDOFF_SECONDS * rows["calls"].clip(lower=1)
    returns = float(rows.loc[frees, "calls"].sum()) / repeats
    if returns <= 0:
        return 0.0, 0.0
    weighted = held = 0.0
    for _, group in rows.groupby("user_function"):
        gil = float(group[CPU_GIL].sum())
        if gil <= 0:
            continue
        releases = float(group.loc[frees[group.index], "calls"].sum())
        stretch = gil / releases if releases > 0 else gil / repeats
        weighted += gil * residual(stretch)
        held += gil
    return returns, (weighted / held if held > 0 else 0.0)


def residual(stretch: float) -> float:
    """Mean time left of a Python stretch of ``stretch`` seconds, met at a random moment,
    when a waiter forces the switch after the switch interval: s - s^2 / 2b above it."""
    s = SWITCH_INTERVAL_SECONDS
    return stretch / 2 if stretch <= s else s - s * s / (2 * stretch)
