"""Who holds the GIL in native code the catalog doesn't know, for cProfile and yappi.

A tracing profiler times every call exactly but cannot tell whether the native code it
timed kept the GIL (Pillow's ``effect_noise``, mypyc-compiled black) or let it go
(Pillow's ``resize``, numpy's ``sort``, sqlite3's ``execute``); nor can a name say it. So
while the tracing profiler runs, two py-spy samplers watch the target from outside: one
keeps the active samples, one those whose thread holds the GIL. Where a thread was busy
on a line, the share of those samples that held the GIL is that line's answer.

Answers are kept under two keys, the ones a tracing profiler's rows can be matched on:
- ``(file, method)``: a native call written on a line of ``file`` (``self.im.resize(...)``
  in PIL/Image.py is ``("…/PIL/Image.py", "resize")``), for the native row cProfile names
  ``ImagingCore.resize`` and whose caller is in that file;
- ``(file, def line)``: a Python function's own lines, for native work that a tracing
  profiler cannot see as a call of its own and leaves in the function's own time (numpy's
  ufuncs, a class's constructor, code compiled by mypyc or Cython called through a type).

When py-spy cannot watch the target, nothing is measured and the catalog's answer stands
(natives it doesn't know count as holding the GIL); the run says so.
"""
from __future__ import annotations

import os
from collections import Counter, defaultdict

from .leafcalls import bare_name, calls_at, def_line

# The two samplers kept beside a tracing profiler.
KINDS = {"active": [], "gil": ["--gil"]}
# Fewer active samples than this at a place and its share is not an answer: at 250 Hz it
# is 0.08 s of CPU, and the share moves by about 0.1 from run to run below it.
MIN_SAMPLES = 20
# A thread with this share of the busiest thread's active samples was busy too.
BUSY_SHARE = 0.1


def start(pid: int, folder: str, interpreter=None):
    """Start the two samplers on ``pid`` (None, and why, when py-spy can't watch it)."""
    from .pyspy import PySpyUnavailable, Samplers, nonblocking_for, unavailable_reason

    problem = unavailable_reason(interpreter)
    if problem:
        return None, problem
    samplers = Samplers(pid, folder, nonblocking=nonblocking_for(interpreter), kinds=KINDS)
    try:
        samplers.start()
        problem = samplers.wait_attached()
    except (OSError, PySpyUnavailable) as exc:
        problem = str(exc)
    if problem:
        samplers.stop()
        return None, problem
    return samplers, None


def held_shares(samplers, pid: int) -> dict:
    """What the samplers saw, as {"natives": {(file, method): [active, held]},
    "functions": {(file, def line): [active, held]}}, the held counts put on the active
    sampler's scale (each sampler keeps its own pace: on lines that only run Python,
    running is holding)."""
    from .samples import _calibrate, _leaf_counts, _line_class, frees_the_gil

    seen = samplers.sampling(pid, 0.0)
    active = _leaf_counts(seen.active, pid, bool)
    gil = _leaf_counts(seen.gil, pid, bool)
    _, scale = _calibrate(active, active, gil, busy=0)
    natives: dict = defaultdict(lambda: [0.0, 0.0])
    functions: dict = defaultdict(lambda: [0.0, 0.0])
    per_thread: Counter = Counter()
    lines: Counter = Counter()
    for (tid, leaf), n in active.items():
        lines[leaf] += n
        per_thread[tid] += n
    # With several threads busy, a thread on a line of plain Python that is active without
    # the GIL is handing it over (queueing): only lines with a call can free it then.
    busiest = max(per_thread.values(), default=0)
    alone = sum(1 for n in per_thread.values() if n >= BUSY_SHARE * busiest) <= 1
    held_lines: Counter = Counter()
    for (_, leaf), n in gil.items():
        held_lines[leaf] += n * scale
    for leaf in set(lines) | set(held_lines):
        name, path, line = leaf
        if not path or not os.path.isabs(path):
            continue
        running, held = lines.get(leaf, 0), min(held_lines.get(leaf, 0.0), lines.get(leaf, 0))
        # Alone, a line of plain Python seen busy without the GIL frees it (numpy's a.sort);
        # beside other busy threads that is a thread handing the GIL over.
        python = _line_class(leaf) == "python" and not (alone and frees_the_gil(running, held))
        # A comprehension or lambda (``query.<locals>.<dictcomp>``) has no def: a tracing
        # profiler names it by its first line (a one-line one's: the line sampled).
        inner = name.rsplit(".", 1)[-1]
        first = line if inner.startswith("<") and inner != "<module>" else def_line(path, name, line)
        if first and (alone or not python):
            found = functions[(path, first)]
            found[0] += running
            found[1] += held
        if python:
            continue
        for called, category in calls_at(path, line):
            if category:
                continue
            found = natives[(path, bare_name(called))]
            found[0] += running
            found[1] += held
    return {"natives": dict(natives), "functions": dict(functions), "scale": scale}


def share(*found) -> float | None:
    """The share of busy time that held the GIL over the [active, held] counts ``found``
    (pooled; None when they hold too few samples)."""
    active = sum(f[0] for f in found if f)
    held = sum(f[1] for f in found if f)
    if active < MIN_SAMPLES:
        return None
    return min(max(held / active, 0.0), 1.0)
