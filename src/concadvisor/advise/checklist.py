"""The decision checklist: one small function per question, each answered from the facts.

Every question returns an ``Answer``: yes / no / partly, and the evidence (numbers and
the user's call sites) behind it. ``CHECKLIST`` is the order the report shows them in.
The questions come from the usual advice on asyncio, threads and processes, corrected
where measurement disagrees: threads help CPU-bound work only when that CPU is in native
code that releases the GIL (or on a free-threaded build).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache

from ..catalog import CPU_GIL, CPU_NOGIL, FAMILIES, IO_WAIT
from .facts import MANY_CONNECTIONS, Facts

YES, NO, PARTLY = "yes", "no", "partly"
MOSTLY, SOME = 0.5, 0.2


@dataclass
class Answer:
    key: str
    question: str
    answer: str
    evidence: str

    def to_dict(self) -> dict:
        return {"question": self.question, "answer": self.answer, "evidence": self.evidence,
                "key": self.key}


def where(path: str, line: int) -> str:
    """``file:line`` relative to the current folder when the file is below it."""
    return f"{_shown_path(path, os.getcwd())}:{line}"


@lru_cache(maxsize=65536)
def _shown_path(path: str, cwd: str) -> str:
    try:
        rel = os.path.relpath(path, cwd)
        return path if rel.startswith("..") else rel
    except ValueError:
        return path


def times(site) -> str:
    """How often the site's unit of work ran: "at least N" when its count stopped early."""
    n = int(site["repeats"])
    return f"at least {n}" if site.get("repeats_at_least", False) else str(n)


def describe_site(site, category: str | None = None) -> str:
    seconds = site[category] if category else site["seconds"]
    calls = int(site["calls"])
    per_call = seconds / calls if calls else seconds
    what = site["callee"] if site["callee"] != "(own code)" else f"{site['user_function']}() own code"
    if site.get("calls_at_least", False):  # a lower bound: a per-call figure would mislead
        over = f"at least {calls} calls"
    else:
        over = f"{calls} call{'s' if calls != 1 else ''} ({_duration(per_call)} each)"
    return f"{what} in {site['user_function']}() at {where(site['file'], site['line'])}: {seconds:.2f} s over {over}"


def _duration(seconds: float) -> str:
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    if seconds >= 0.001:
        return f"{seconds * 1000:.1f} ms"
    return f"{seconds * 1e6:.1f} µs"


def _level(share: float) -> str:
    return YES if share >= MOSTLY else PARTLY if share >= SOME else NO


def _pct(share: float) -> str:
    return f"{share * 100:.0f}%"


def q_waiting(f: Facts) -> Answer:
    share = f.shares[IO_WAIT]
    sites = f.wait_sites()
    top = f"; the biggest wait is {describe_site(sites.iloc[0], IO_WAIT)}" if len(sites) else ""
    return Answer("waiting", "Does the program spend its time waiting (network, disk, sleep, child processes) rather than computing?",
                  _level(share), f"io_wait is {_pct(share)} of {f.total_seconds:.2f} s measured{top}.")


def q_overlappable(f: Facts) -> Answer:
    waits = f.seconds[IO_WAIT]
    question = "Do the waits repeat inside a loop of independent work, so several could be in flight at once?"
    if waits <= 0.05 * max(f.total_seconds, 1e-9):
        return Answer("overlappable", question, NO, f"only {waits:.2f} s of waiting was measured.")
    over = f.overlappable_wait_seconds()
    share = over / waits if waits else 0.0
    sites = f.wait_sites()
    if sites.empty:
        return Answer("overlappable", question, NO,
                      f"{waits:.2f} s of waiting was measured, none at the program's own call sites.")
    site = sites.iloc[0]
    unit = (f"{site['unit']}() runs {times(site)} times"
            + (f", called from {site['driver']}() at {where(site['file'] if not site['unit_file'] else site['unit_file'], site['driver_line'])}"
               if site["driver"] else ""))
    if share < 0.2:
        return Answer("overlappable", question, NO,
                      f"the waits happen once ({describe_site(site, IO_WAIT)}): there is nothing to overlap them with.")
    return Answer("overlappable", question, YES if share >= 0.6 else PARTLY,
                  f"{over:.2f} s of {waits:.2f} s waiting is in repeated work; {unit}; {describe_site(site, IO_WAIT)}.")


def q_blocking_libraries(f: Facts) -> Answer:
    question = "Do the waits go through blocking libraries with no async API in use (urllib, requests, subprocess, files, DB drivers)?"
    share = f.blocking_library_share()
    sites = f.wait_sites()
    if sites.empty:
        return Answer("blocking_libraries", question, NO, "no waits at the program's call sites.")
    site = sites.iloc[0]
    through = site["library"] or site["family"] or "native call"
    api = FAMILIES.get(site["family"], {}).get("async_api", "")
    hint = f"; async route: {api}" if api else ""
    return Answer("blocking_libraries", question, _level(share),
                  f"{_pct(share)} of the waiting goes through blocking APIs; the biggest goes through {through} "
                  f"at {where(site['file'], site['line'])}{hint}.")


def q_many_connections(f: Facts) -> Answer:
    question = "Does it open many network connections (asyncio's strength: thousands of sockets on one thread)?"
    n = f.connections
    # At once, at most as many as the unit of work that waits runs (a pool made per round
    # of 40 downloads opens 40 at a time, however many rounds the run had).
    runs = f.io_repeats() if f.overlappable_wait_seconds() > 0 else 0
    at_once = min(n, runs) if runs >= 2 else n
    answer = YES if at_once >= MANY_CONNECTIONS else PARTLY if at_once >= 10 else NO
    tail = f"; at most {at_once} at once (the waiting unit runs {runs} times)" if at_once < n else ""
    return Answer("many_connections", question, answer,
                  f"{n} socket connect call{'s' if n != 1 else ''} measured{tail}.")


def q_cpu_gil(f: Facts) -> Answer:
    share = f.shares[CPU_GIL]
    sites = f.cpu_sites()
    sites = sites[sites[CPU_GIL] >= sites[CPU_NOGIL]]
    top = f"; hottest: {describe_site(sites.iloc[0], CPU_GIL)}" if len(sites) else ""
    tail = "" if f.gil_enabled else " This is a free-threaded build: threads can run it in parallel."
    return Answer("cpu_gil", "Is the time CPU work that holds the GIL (pure Python, json, re, pickle), which only processes can spread over cores?",
                  _level(share), f"cpu_gil is {_pct(share)}{top}.{tail}")


def q_cpu_nogil(f: Facts) -> Answer:
    share = f.shares[CPU_NOGIL]
    sites = f.cpu_sites()
    sites = sites[sites[CPU_NOGIL] > sites[CPU_GIL]]
    top = f"; hottest: {describe_site(sites.iloc[0], CPU_NOGIL)}" if len(sites) else ""
    return Answer("cpu_nogil", "Is the CPU time in native code that releases the GIL (hashlib, zlib, numpy), so threads run it in parallel?",
                  _level(share), f"cpu_nogil is {_pct(share)}{top}.")


def q_mix(f: Facts) -> Answer:
    io, cpu = f.program_wait_seconds() / max(f.total_seconds, 1e-9), f.shares[CPU_GIL]
    answer = YES if io >= SOME and cpu >= SOME else NO
    idle = f.shares[IO_WAIT] - io
    aside = f" (and {_pct(idle)} of idle pool threads waiting for work)" if idle >= 0.01 else ""
    own = f.worker_wait.seconds if f.worker_wait is not None else 0.0
    if own >= 0.01:
        aside += f" (and {own:.2f} s waiting on its own threads, not in the split: no I/O)"
    return Answer("mix", "Is it a mix of real waiting and real GIL-holding CPU work (asyncio for the I/O, a process pool for the CPU)?",
                  answer, f"io_wait {_pct(io)}{aside} and cpu_gil {_pct(cpu)}; both need 20% or more.")


def q_already_concurrent(f: Facts) -> Answer:
    kinds = []
    if f.uses_asyncio:
        kinds.append(f"an asyncio event loop ({f.event_loop_wait_seconds:.2f} s idle in the loop's selector, waits already overlapped)")
    if f.uses_threads:
        kinds.append(f"threads ({f.threads_counted} working of {f.threads_total})")
    if f.uses_processes:
        kinds.append(f"child processes ({f.children_cpu_seconds:.2f} s of CPU in children)")
    elif f.parallel_children:
        kinds.append(f"child processes run side by side ({f.children_cpu_seconds:.2f} s of CPU in children)")
    answer = YES if kinds else NO
    return Answer("already_concurrent", "Is it already concurrent (event loop, thread pool, process pool)?",
                  answer, "uses " + "; ".join(kinds) + "." if kinds else "one thread, no event loop, no worker processes.")


def q_blocks_event_loop(f: Facts, findings=None) -> Answer:
    question = "Does anything block a running event loop (a blocking call or long CPU inside a coroutine)?"
    hits = [x for x in (findings or []) if x.kind == "blocking_in_event_loop"]
    if not f.uses_asyncio:
        return Answer("blocks_event_loop", question, NO, "no asyncio event loop ran.")
    if not hits:
        return Answer("blocks_event_loop", question, NO, "the loop's waits were all awaited.")
    total = sum(h.seconds for h in hits)
    first = hits[0]
    return Answer("blocks_event_loop", question, YES,
                  f"{total:.2f} s blocked the loop; {first.function} at {first.location} ({first.seconds:.2f} s).")


def q_gil_contention(f: Facts, findings=None) -> Answer:
    question = "Do threads queue for the GIL (more threads wanting it than getting it)?"
    wait = f.seconds.get("gil_wait", 0.0)
    hits = [x for x in (findings or []) if x.kind == "gil_contention"]
    if hits:
        return Answer("gil_contention", question, YES, hits[0].detail)
    if f.threads_counted < 2:
        return Answer("gil_contention", question, NO, "only one thread did work.")
    return Answer("gil_contention", question, NO, f"{wait:.2f} s of GIL waiting over {f.threads_counted} working threads.")


def q_background(f: Facts) -> Answer:
    question = "Is there periodic or background work done inline (a chore every so often) that a background thread could carry?"
    chore = periodic_chore(f)
    if chore is None:
        return Answer("background", question, NO, "no waiting chore repeats less often than the main work unit.")
    site, work = chore
    return Answer("background", question, YES,
                  f"{site['unit']}() waits {site[IO_WAIT]:.2f} s over {times(site)} runs while the main work "
                  f"{work['unit']}() runs {times(work)} times; {describe_site(site, IO_WAIT)}.")


# The work beside a chore must be measurable: this share of the run, or this much CPU.
CHORE_WORK_SHARE = 0.05
CHORE_WORK_SECONDS = 0.05


def periodic_chore(f: Facts):
    """A waiting unit that runs far less often than the CPU work unit beside it."""
    waits, cpu = f.wait_sites(), f.cpu_sites()
    if waits.empty or cpu.empty or f.uses_asyncio:
        return None
    site, work = waits.iloc[0], cpu.iloc[0]
    # The work unit's CPU over all its call sites: its own code and each native it calls
    # are sites of their own, and the biggest alone may be a small part of it.
    # The bar is low, and absolute once the run is long: a chore on a timer runs more often
    # whenever the work runs slower (a profiler, a busy or slower machine), so its waits grow
    # while the work's CPU stays what it is (a metrics worker's batches measured 15-25% of
    # its run unprofiled, 9.9% under yappi, 7% under cProfile beside other jobs).
    same_unit = (cpu["unit"] == work["unit"]) & (cpu["unit_file"] == work["unit_file"])
    bar = min(CHORE_WORK_SHARE * f.total_seconds, CHORE_WORK_SECONDS)
    if site["unit"] == work["unit"] or float(cpu.loc[same_unit, "cpu"].sum()) < bar:
        return None
    if site["repeats"] >= 2 and work["repeats"] >= 5 * site["repeats"]:
        return site, work
    return None


# Native threads' CPU above this share of the run is native code already running in parallel.
NATIVE_PARALLEL_SHARE = 0.1


def q_cores(f: Facts) -> Answer:
    """Cores left for parallel work: a native library's own threads (BLAS, OpenMP) may
    already use them inside the program's calls."""
    evidence = f"{f.cores} core{'s' if f.cores != 1 else ''}; GIL {'enabled' if f.gil_enabled else 'disabled (free-threaded build)'}."
    busy = already_busy_cores(f)
    if f.native_threads_cpu >= NATIVE_PARALLEL_SHARE * max(f.total_seconds, 1e-9):
        evidence += (f" Native code already runs in parallel: {f.native_threads} thread"
                     f"{'s that run' if f.native_threads != 1 else ' that runs'} no Python (a library's own pool, "
                     f"such as BLAS or OpenMP) used {f.native_threads_cpu:.2f} s of CPU beside the "
                     f"program's threads, {busy:.1f} of the {f.cores} cores busy on average.")
    free = f.cores >= 2 and busy < f.cores - 0.5
    return Answer("cores", "Does this machine have cores for parallel CPU work?", YES if free else NO, evidence)


def already_busy_cores(f: Facts) -> float:
    """Cores the program keeps busy today, on average over the measured time (its working
    threads' CPU and its native threads')."""
    cpu = f.seconds.get(CPU_GIL, 0.0) + f.seconds.get(CPU_NOGIL, 0.0) + f.native_threads_cpu
    return cpu / max(f.total_seconds, 1e-9)


CHECKLIST = (q_waiting, q_overlappable, q_blocking_libraries, q_many_connections, q_cpu_gil,
             q_cpu_nogil, q_mix, q_already_concurrent, q_blocks_event_loop, q_gil_contention,
             q_background, q_cores)


def answer_all(facts: Facts, findings) -> list[Answer]:
    out = []
    for question in CHECKLIST:
        if "findings" in question.__code__.co_varnames:
            out.append(question(facts, findings))
        else:
            out.append(question(facts))
    return out
