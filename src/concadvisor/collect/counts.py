"""Exact call counts (from ``call_counter`` in the runner) put into a sampled table.

The runner counted, for the whole process, how often each of the user's functions ran
and how often each of its loops that makes calls went round. The sampled table knows,
per thread, which calls were seen starting. Together:

* a user function's ``calls`` is its count, shared among threads as the samples saw
  its calls start in each;
* a call from a user function at line L ran as often as the innermost counted loop
  around L went round, or else as often as the function ran;
* a user function called from several places shares its count among them in that
  proportion; its ``primitive_calls`` are the calls from other functions;
* a library or native function called from user code was called at least as often as
  those call sites ran.

* a user function's ``longest_call_seconds`` is the wall time of its longest single call,
  where the runner timed it (0.0 where not: generators, other runners' counts...), the
  same in every thread's row.

A call in a comprehension or generator expression ran as often as its counted rounds
(its own frame up to 3.11, the enclosing function's from 3.12). Calls the counters cannot
see (inside libraries, lambdas) keep the samples' lower bound.

A counter that cost the target too much was switched off during the run (a function
called hundreds of thousands of times a second): its count is a lower bound. Then the
larger of it and the samples' count is used, and the function's name goes into
``measurement.extra["calls_at_least"]`` so the report can say "at least".
"""
from __future__ import annotations

import os
from collections import defaultdict

from ..table import Measurement


def merge_counts(measurement: Measurement, counts: list) -> bool:
    """Put the runner's counts into ``measurement`` (in place); False when there were none.

    Each count is ``[kind, file, line, name or end line, count]`` and, from runners that
    switch costly counters off, a sixth item: 1 when the count is a lower bound; from
    runners that time calls, a "def" row's seventh item is its longest call in seconds."""
    if not counts or measurement.functions.empty:
        return False
    defs, lower, loops, longest = {}, set(), defaultdict(list), {}
    for kind, file, line, other, n, *rest in counts:
        real, at_least = _real(file), bool(rest and rest[0])
        if kind == "def":
            defs[(real, int(line), other)] = int(n)
            if at_least:
                lower.add((real, int(line), other))
            if len(rest) > 1:
                longest[(real, int(line), other)] = _seconds(rest[1])
        else:
            loops[real].append((int(line), int(other), int(n), at_least))
    functions, edges = measurement.functions, measurement.edges
    keys = [(_real(f), int(line), name) if not native else None
            for f, line, name, native in zip(functions["file"], functions["line"],
                                             functions["function"], functions["native"])]
    counted = [key in defs for key in keys]
    if not any(counted):
        return False
    functions["longest_call_seconds"] = [longest.get(key, 0.0) for key in keys]
    calls = _share_among_threads(functions, keys, counted, defs, lower)
    spans = _def_spans(functions, keys, counted, lower)
    edge_calls, edge_lower = _edge_calls(functions, edges, calls, loops, spans)
    edges["calls"] = [int(round(max(n, 1))) for n in edge_calls]
    _settle_functions(functions, edges, calls, counted)
    names = dict(zip(functions["func_id"], functions["function"]))
    at_least = {names[fid] for key, fid in zip(keys, functions["func_id"]) if key in lower}
    at_least |= {names[fid] for (thread, fid), flagged in edge_lower.items() if flagged and fid in names}
    if at_least:
        measurement.extra["calls_at_least"] = sorted(at_least)
    return True


def _seconds(value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        return 0.0
    return value if value > 0 else 0.0  # NaN too


def _real(path: str) -> str:
    try:
        return os.path.realpath(path)
    except (OSError, ValueError):
        return path


def _share_among_threads(functions, keys, counted, defs, lower) -> dict:
    """(thread, func_id) -> calls of each counted function in that thread."""
    seen, sampled = defaultdict(int), defaultdict(int)
    for key, is_counted, starts in zip(keys, counted, functions["calls"]):
        if is_counted:
            seen[key] += max(int(starts), 1)
            sampled[key] += int(starts)
    out = {}
    for key, is_counted, thread, fid, starts in zip(keys, counted, functions["thread"],
                                                     functions["func_id"], functions["calls"]):
        if is_counted:
            total = max(defs[key], sampled[key]) if key in lower else defs[key]
            out[(thread, fid)] = total * max(int(starts), 1) / seen[key]
    return out


def _def_spans(functions, keys, counted, lower) -> dict:
    """func_id -> (file, first line, count is a lower bound) of counted functions, for
    finding their loops."""
    return {fid: (key[0], key[1], key in lower)
            for fid, key, is_counted in zip(functions["func_id"], keys, counted) if is_counted}


def _line_runs(thread, caller, line, calls, loops, spans, totals):
    """How often ``line`` of user function ``caller`` ran in ``thread``, and whether that
    is a lower bound ((None, False): unknown)."""
    own = calls.get((thread, caller))
    if own is None:
        return None, False
    file, first, own_lower = spans[caller]
    inner = None
    for body, end, n, at_least in loops.get(file, ()):
        if first <= body <= line <= end and (inner is None or body >= inner[0]):
            inner = (body, end, n, at_least)
    if inner is None:
        return own, own_lower
    total = totals.get(caller) or own
    return inner[2] * own / total, inner[3]  # the loop's count, shared among threads like the function's


COMPREHENSIONS = ("<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>")


def _comprehension_runs(caller: str, line: int, loops):
    """How often ``line`` of a comprehension's own frame (3.8-3.11 run one as a function
    of its own, which the counters don't count) ran: as often as the comprehension's
    counted rounds around it ((None, False): not a comprehension, or not counted)."""
    file, _, name = caller.rpartition(":")
    file = file.rpartition(":")[0]
    if name not in COMPREHENSIONS or not line:
        return None, False
    inner = None
    for body, end, n, at_least in loops.get(_real(file), ()):
        if body <= line <= end and (inner is None or body >= inner[0]):
            inner = (body, end, n, at_least)
    return (inner[2], inner[3]) if inner else (None, False)


def _edge_calls(functions, edges, calls, loops, spans):
    """Calls along each edge, and (thread, callee) -> whether a lower bound went into them."""
    totals = defaultdict(float)
    for (thread, fid), n in calls.items():
        totals[fid] += n
    estimate, lower = [], defaultdict(bool)
    for thread, caller, callee, line, sampled in zip(edges["thread"], edges["caller_id"],
                                                     edges["callee_id"], edges["line"], edges["calls"]):
        if caller in spans:
            runs, at_least = _line_runs(thread, caller, int(line), calls, loops, spans, totals)
        else:
            runs, at_least = _comprehension_runs(caller, int(line), loops)
        if runs is None:
            estimate.append(float(sampled))
        else:
            estimate.append(max(runs, float(sampled)) if at_least else runs)
            lower[(thread, callee)] |= at_least and (thread, callee) not in calls
    # a counted callee's calls are shared among its call sites in proportion
    incoming = defaultdict(list)
    for index, (thread, callee) in enumerate(zip(edges["thread"], edges["callee_id"])):
        if (thread, callee) in calls:
            incoming[(thread, callee)].append(index)
    for key, indexes in incoming.items():
        weight = sum(max(estimate[i], 1e-9) for i in indexes)
        for i in indexes:
            estimate[i] = calls[key] * max(estimate[i], 1e-9) / weight
    return estimate, lower


def _settle_functions(functions, edges, calls, counted) -> None:
    into = defaultdict(float)
    into_from_others = defaultdict(float)
    for thread, caller, callee, n in zip(edges["thread"], edges["caller_id"], edges["callee_id"],
                                         edges["calls"]):
        into[(thread, callee)] += n
        if caller != callee:
            into_from_others[(thread, callee)] += n
    new_calls, new_primitive = [], []
    for thread, fid, is_counted, sampled, primitive in zip(
            functions["thread"], functions["func_id"], counted, functions["calls"],
            functions["primitive_calls"]):
        key = (thread, fid)
        if is_counted:
            total = max(int(round(calls[key])), 1)
            outside = into_from_others.get(key, 0.0)
            recursive = primitive < sampled
            new_calls.append(total)
            new_primitive.append(min(max(int(round(outside)), 1), total) if recursive and outside else total)
        else:
            total = max(int(sampled), int(round(into.get(key, 0.0))))
            new_calls.append(total)
            new_primitive.append(max(int(primitive), int(round(into_from_others.get(key, 0.0)))))
    functions["calls"] = new_calls
    functions["primitive_calls"] = new_primitive
