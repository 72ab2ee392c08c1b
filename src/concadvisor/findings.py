"""Findings: concrete problems at the user's lines, each with the measured cost and a fix.

``blocking_in_event_loop``: a call made from a coroutine (or from code a running event
loop called) that waited, or computed for long, without yielding to the loop: every
other task stalled meanwhile. ``gil_contention``: threads that wanted the GIL more than
they got it, so adding threads added waiting, not speed.
"""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import asdict, dataclass

from .advise.checklist import where
from .advise.facts import Facts
from .catalog import CPU_GIL, CPU_NOGIL, IO_WAIT
from .sourcelines import step_bounds

IMPORT_MACHINERY = frozenset({"_find_and_load", "_handle_fromlist", "_call_with_frames_removed",
                              "_gcd_import", "builtins.__import__", "importlib.import_module"})
# Calls that run an event loop (the loop's own time is in them): they don't block it.
LOOP_RUNNERS = frozenset({"asyncio.runners.run", "asyncio.runners.Runner.run", "asyncio.run",
                          "asyncio.base_events.run_until_complete", "asyncio.base_events.run_forever",
                          "asyncio.base_events.BaseEventLoop.run_until_complete",
                          "asyncio.base_events.BaseEventLoop.run_forever"})
BLOCKING_MIN_SECONDS = 0.05
BLOCKING_MIN_SHARE = 0.02
CPU_IN_COROUTINE_MIN_PER_CALL = 0.02
GIL_WAIT_MIN_SHARE = 0.2

FIXES = {
    "sleep": "use `await asyncio.sleep(...)`",
    "socket": "use an async client (asyncio streams, aiohttp, httpx.AsyncClient) or `await asyncio.to_thread(...)`",
    "subprocess": "use `await asyncio.create_subprocess_exec(...)` or `await asyncio.to_thread(...)`",
    "file": "use `await asyncio.to_thread(...)` for the file work",
    "lock": "use asyncio.Lock/asyncio.Queue, or `await asyncio.to_thread(...)`",
    "database": "use an async driver or `await asyncio.to_thread(...)`",
}
DEFAULT_FIX = "run it off the loop: `await asyncio.to_thread(...)` or `loop.run_in_executor(...)`"
CPU_FIX = "move the CPU work off the loop: `await loop.run_in_executor(process_pool, ...)`"


@dataclass
class Finding:
    kind: str
    function: str
    location: str
    seconds: float
    detail: str
    fix: str = ""
    cause: str = ""  # "wait" or "cpu" for blocking_in_event_loop: what kept the loop busy

    def to_dict(self) -> dict:
        data = asdict(self)
        data["seconds"] = round(self.seconds, 4)
        return data


def find_all(facts: Facts) -> list[Finding]:
    return blocking_in_event_loop(facts) + gil_contention(facts)


def blocking_in_event_loop(facts: Facts) -> list[Finding]:
    if not facts.uses_asyncio or facts.sites.empty:
        return []
    sites = facts.sites
    # An import inside the loop (a library importing a module on its first use) runs once:
    # moving it is not a fix. A call that runs a loop holds that loop's own time.
    imports = sites["callee"].isin(IMPORT_MACHINERY | LOOP_RUNNERS) | (sites["user_function"] == "<module>")
    inside = (sites["in_coroutine"] | sites["under_event_loop"]) & ~sites["awaited"] & ~imports
    threshold = max(BLOCKING_MIN_SECONDS, BLOCKING_MIN_SHARE * facts.total_seconds)
    found = []
    waits = sites[inside & (sites["callee"] != "(own code)") & (sites[IO_WAIT] >= threshold)]
    for site in waits.sort_values(IO_WAIT, ascending=False).to_dict("records"):
        if site["family"] == "select":
            continue
        fix = FIXES.get(site["family"], DEFAULT_FIX)
        found.append(Finding(
            "blocking_in_event_loop", site["callee"], where(site["file"], site["line"]),
            float(site[IO_WAIT]),
            f"{site['callee']} blocked the event loop for {site[IO_WAIT]:.2f} s over {site['calls']} "
            f"call(s) in {site['user_function']}(); no other task ran meanwhile.", fix, "wait"))
    found += _cpu_in_steps(sites[inside], threshold)
    return found


def _cpu_in_steps(sites, threshold: float) -> list[Finding]:
    """Long CPU inside the loop. The loop is blocked by a coroutine's *step* (what it runs
    between two awaits), not by one callee: ``json.dumps(json.loads(doc))`` is two calls of
    16 ms each but one 33 ms step, and a generator expression's CPU comes in many short
    resumptions, all inside the step of the coroutine that consumes it. A line is reported
    when one of its calls, or all its calls together, take the bar per call; a step (at its
    heaviest line) when the CPU of the lines between two of the coroutine's awaits takes it
    per run, or all its CPU does over the steps it took."""
    cpu = sites.assign(cpu=sites[CPU_GIL] + sites[CPU_NOGIL])
    cpu = cpu[cpu["cpu"] > 0]
    if cpu.empty:
        return []
    lines: dict = {}
    for site in cpu.sort_values("cpu", ascending=False).to_dict("records"):
        key = (site["thread"], site["step_id"], site["file"], site["line"])
        group = lines.setdefault(key, {"site": site, "cpu": 0.0, "calls": 0, "one": False})
        group["cpu"] += site["cpu"]
        group["calls"] = max(group["calls"], int(site["calls"]))
        group["one"] |= site["cpu"] / max(int(site["calls"]), 1) >= CPU_IN_COROUTINE_MIN_PER_CALL
    chosen = []
    for group in lines.values():
        per_call = group["cpu"] / max(group["calls"], 1)
        if group["cpu"] >= threshold and (group["one"] or per_call >= CPU_IN_COROUTINE_MIN_PER_CALL):
            chosen.append((group["cpu"], group, per_call))
    steps: dict = {}
    for (thread, step_id, file, line), group in lines.items():
        site = group["site"]
        whole = steps.setdefault((thread, step_id, None), {"cpu": 0.0, "groups": [], "per": int(site["steps"])})
        parts = [whole]
        awaits, first, last = step_bounds(str(site["step_file"]), int(site["step_line"]))
        if first and file == site["step_file"] and first <= line <= last:
            parts.append(steps.setdefault((thread, step_id, bisect_left(awaits, line)),
                                          {"cpu": 0.0, "groups": [], "per": int(site["step_runs"])}))
        for part in parts:
            part["cpu"] += group["cpu"]
            part["groups"].append(group)
    for step in steps.values():
        step["per_step"] = step["cpu"] / step["per"] if step["per"] > 0 else 0.0
    for step in sorted(steps.values(), key=lambda p: (p["cpu"], p["per_step"]), reverse=True):
        per_step = step["per_step"]
        group = max(step["groups"], key=lambda g: g["cpu"])
        if step["cpu"] >= threshold and per_step >= CPU_IN_COROUTINE_MIN_PER_CALL \
                and all(g is not group for _, g, _ in chosen):
            chosen.append((step["cpu"], group, per_step))
    found = []
    for seconds, group, per_step in sorted(chosen, key=lambda c: c[0], reverse=True)[:3]:
        site = group["site"]
        name = site["callee"] if site["callee"] != "(own code)" else f"{site['user_function']}()"
        found.append(Finding(
            "blocking_in_event_loop", name, where(site["file"], site["line"]), float(seconds),
            f"{name} computed for {seconds:.2f} s inside the event loop "
            f"({per_step * 1000:.0f} ms per step); other tasks waited.", CPU_FIX, "cpu"))
    return found


def gil_contention(facts: Facts) -> list[Finding]:
    wait = facts.seconds.get("gil_wait", 0.0)
    python = facts.seconds[CPU_GIL]
    if facts.threads_counted < 2 or python <= 0 or not facts.gil_enabled:
        return []
    share = wait / python
    if share < GIL_WAIT_MIN_SHARE or wait < 0.1:
        return []
    sites = facts.cpu_sites()
    if not len(sites):
        # Only library threads contend (a process pool's feeder and result threads): no
        # line of the program's to change, and its advice is about the pool itself.
        return []
    workers = sites[sites["thread"] != _main_thread(facts)]
    site = (workers if len(workers) else sites).iloc[0]
    location = where(site["file"], site["line"])
    function = f"{site['user_function']}()"
    return [Finding(
        "gil_contention", function, location, wait,
        f"{facts.threads_counted} threads ran Python for {python:.2f} s of thread time but got only "
        f"{python - wait:.2f} s of CPU: {share * 100:.0f}% of it was spent waiting for the GIL.",
        "use processes (ProcessPoolExecutor) for pure-Python CPU work; threads only take turns")]


def _main_thread(facts: Facts) -> str:
    threads = facts.sites["thread"]
    return threads.iloc[0] if len(threads) else ""

