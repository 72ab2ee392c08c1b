"""Choose one model from the measured work, the checklist answers and the findings.

The speedup model (``speedup.py``) says what each model would gain here. Among the models
that come within 15% of the best gain, the checklist decides the order of preference
(blocking calls in a loop: asyncio; a blocking library: threads; GIL-holding CPU:
processes; a mix: asyncio plus a process pool), except that a bigger change never wins
over a smaller one estimated at least as high; the checklist's first choice also stands
against a better estimate up to 1/0.6x, when it is the smaller change. Below a 1.25x gain
nothing is worth the rewrite: ``none``, or the model the program already uses. A choice
that another run could make differently is reported as a close call, naming both.

A program already concurrent is estimated against what it does today: a pool against a
plain loop (and a process pool against the same pool handing out big chunks), and when
its model already runs as that model would, every model against that model's bound.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field

import pandas as pd

from ..catalog import CPU_GIL, CPU_NOGIL, IO_WAIT, OTHER
from .checklist import Answer, periodic_chore, where
from .facts import Facts
from .gil_queue import gil_handoffs, gil_queue
from .speedup import MODELS, queued_seconds, THREAD_POOL_LANES, Work, estimate, model_seconds, process_start_seconds
from .worker_wait import POOL_LIBRARIES

MIN_GAIN = 1.25
IMPORT_MACHINERY = {"_find_and_load", "_handle_fromlist", "_call_with_frames_removed", "<module>"}
# Below this much measured work a concurrency change can't pay for itself.
MIN_WORK_SECONDS = 0.2
# Models estimated within this share of the best are a close call: the order of
# preference (the smaller change first) chooses among them, and the report names both.
NEAR_BEST = 0.85
# The checklist's first choice stands against a better estimate when it is the smaller
# change and gets at least this share of the best gain (the estimates' measured error).
FIRST_CHOICE_SHARE = 0.6


@dataclass
class Recommendation:
    model: str
    alternatives: list[str]
    estimated_speedup: float
    confidence: float
    checklist: list[Answer]
    estimates: dict[str, float]
    reasons: list[str] = field(default_factory=list)
    changes: list[dict] = field(default_factory=list)
    current_model: str = ""
    work: dict = field(default_factory=dict)
    more_cores: dict = field(default_factory=dict)
    close_call: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "model": self.model, "alternatives": self.alternatives,
            "estimated_speedup": round(self.estimated_speedup, 2),
            "confidence": round(self.confidence, 2),
            "checklist": [a.to_dict() for a in self.checklist],
            "estimates": self.estimates, "reasons": self.reasons, "changes": self.changes,
            "current_model": self.current_model, "work": self.work, "more_cores": self.more_cores,
            **({"close_call": self.close_call} if self.close_call else {}),
        }


def work_from_facts(f: Facts) -> Work:
    """The speedup model's inputs, with waits for the program's own workers left out."""
    waits = f.wait_sites()
    joins = 0.0
    pool_waits = waits[waits["library"].isin(POOL_LIBRARIES)]
    if f.uses_threads or f.uses_processes or f.uses_asyncio:
        own_waits = waits[(waits["runs"] < 2) & ~waits["library"].isin(POOL_LIBRARIES)]
        joins = 0.0 if f.uses_asyncio else float(own_waits[IO_WAIT].sum())
        # Waiting on one's own pool (futures, joins) is the workers' time, not more work.
        joins += float(pool_waits[IO_WAIT].sum())
    io = max(f.program_wait_seconds() - joins, 0.0)
    over = min(f.overlappable_wait_seconds() - float(pool_waits.loc[pool_waits["runs"] >= 2, IO_WAIT].sum()), io)
    over = max(over, 0.0)
    gil_wait = f.seconds.get("gil_wait", 0.0)
    cpu_sites = f.cpu_sites()
    repeats = max(f.io_repeats() if over >= f.cpu_seconds() else f.cpu_repeats(), 1)
    longest = _longest_piece(waits, waits.iloc[:1])  # the unit whose repeats f.io_repeats() gave
    one_computation = False
    if len(cpu_sites) and over < f.cpu_seconds():
        # A unit a pool's threads ran once each ran as many times as the pool had tasks.
        repeats = max(int(cpu_sites.groupby("unit")["repeats"].max().max()), _cpu_pieces(cpu_sites))
        longest = _longest_piece(cpu_sites, cpu_sites[cpu_sites["repeats"] == repeats])
        if repeats < 2 and f.cpu_seconds() > f.seconds[IO_WAIT] and _can_be_cut(cpu_sites):
            # One long computation: its loop can be cut into chunks, one per core.
            repeats, longest, one_computation = max(f.cores, 2), 0.0, True
    one_off = (0.0, 0.0) if one_computation or repeats < 2 else _one_off_cpu(cpu_sites, waits)
    cpu_gil, cpu_nogil = max(f.seconds[CPU_GIL] - gil_wait, 0.0), f.seconds[CPU_NOGIL]
    if f.threads_counted > 1 and f.process_cpu_seconds > 0 and cpu_gil + cpu_nogil > f.process_cpu_seconds:
        # Threads can't have used more CPU than the process did (the rest was GIL queueing).
        scale = f.process_cpu_seconds / (cpu_gil + cpu_nogil)
        cpu_gil, cpu_nogil = cpu_gil * scale, cpu_nogil * scale
    returns, residual = gil_queue(cpu_sites, repeats)
    serial_gil, serial_nogil = min(one_off[0], cpu_gil), min(one_off[1], cpu_nogil)
    cpu_gil, cpu_nogil = cpu_gil - serial_gil, cpu_nogil - serial_nogil
    return Work(overlappable_wait=over, single_wait=io - over,
                cpu_gil=cpu_gil, cpu_nogil=cpu_nogil,
                other=f.seconds[OTHER], repeats=repeats, cores=f.cores, gil_enabled=f.gil_enabled,
                background_cpu=f.background_cpu_seconds(), cpu_pieces=_cpu_pieces(cpu_sites),
                child_cpu=0.0 if f.uses_processes else f.children_cpu_seconds, longest_piece=longest,
                serial_cpu=serial_gil + serial_nogil, unplaced_cpu=f.unplaced_cpu,
                native_cpu=f.native_threads_cpu,
                gil_handoff=min(gil_handoffs(cpu_sites), cpu_nogil),
                gil_returns=returns, gil_residual=residual,
                io_cpu=min(float(f.sites.loc[f.sites[IO_WAIT] > 0, CPU_GIL].sum()), cpu_gil),
                process_start=process_start_seconds(f.python, sys.platform))


def _can_be_cut(cpu_sites) -> bool:
    """Whether the one long computation is a loop the program could cut into chunks: its
    own code, or a call it makes many times. One call of a native function (one
    ``zlib.compress`` of a buffer, one query) is not: it runs whole in one worker."""
    top = cpu_sites.iloc[0]
    return top["callee"] == "(own code)" or int(top["calls"]) >= 2


def _one_off_cpu(cpu_sites, wait_sites) -> tuple[float, float]:
    """(GIL, no-GIL) CPU seconds that ran once, beside a repeated unit of work (of CPU or of
    waits): at sites whose unit ran once, in functions that don't drive a repeated unit
    (``make_volumes`` building the data before the loop over ``fingerprint``, or the
    imports before ``asyncio.gather`` over the pollers; not ``main`` running that loop).
    No model spreads that over workers."""
    drivers = set()
    for sites in (cpu_sites, wait_sites):
        repeated = sites[sites["repeats"] >= 2]
        drivers |= set(repeated["driver"]) | set(repeated["user_function"])
    # A unit that ran once in each of several threads (a pool's tasks) repeated.
    runs = cpu_sites.groupby(["unit", "thread"])["repeats"].max().groupby(level="unit").sum()
    pooled = set(runs[runs >= 2].index)
    once = cpu_sites[(cpu_sites["repeats"] < 2) & ~cpu_sites["user_function"].isin(drivers)
                     & ~cpu_sites["unit"].isin(drivers) & ~cpu_sites["unit"].isin(pooled)]
    return float(once[CPU_GIL].sum()), float(once[CPU_NOGIL].sum())


def _longest_piece(sites, chosen) -> float:
    """The longest single run of the repeated unit of work behind the ``chosen`` rows of
    ``sites`` (0: untimed). A unit that ran in several threads gets none, even if the chosen
    rows are one thread's: one call's wall time then counts the other threads' turns. A
    coroutine gets none either: timed from its first step to its return, it counts the
    turns of every task that ran while it was suspended."""
    from ..sourcelines import is_coroutine

    repeated = chosen[chosen["repeats"] >= 2]
    if not len(repeated):
        return 0.0
    keys = ["unit", "unit_file"]
    unit = sites.merge(repeated[keys].drop_duplicates(), on=keys)
    if unit["thread"].nunique() > 1:
        return 0.0
    if "unit_line" in repeated and any(
            is_coroutine(str(row.unit_file), int(row.unit_line))
            for row in repeated[["unit_file", "unit_line"]].drop_duplicates().itertuples() if row.unit_file):
        return 0.0
    return float(repeated["unit_longest"].max())


def _estimate(work: Work, model: str, f: Facts) -> float:
    """today / after; with several working threads today is the wall clock, since their
    summed seconds already overlap."""
    if f.threads_counted > 1 and f.wall_seconds > 0:
        after = model_seconds(work, model)
        return max(min(f.wall_seconds, work.today) / after, 1.0) if after > 0 else 1.0
    return estimate(work, model)


def _cpu_pieces(cpu_sites) -> int:
    """How many pieces of CPU work a process pool would be handed: the CPU unit's repeats,
    over all the threads that ran it (a thread pool's 4 workers rendering 8 strips: 8)."""
    if cpu_sites is None or not len(cpu_sites):
        return 0
    per_thread = cpu_sites.groupby(["unit", "thread"]).agg(cpu=("cpu", "sum"), repeats=("repeats", "max"))
    by_unit = per_thread.groupby(level="unit").agg(cpu=("cpu", "sum"), repeats=("repeats", "sum"))
    return int(by_unit.sort_values("cpu", ascending=False).iloc[0]["repeats"])


def _as_it_is(today: str, f: Facts, work: Work, findings) -> bool:
    """The model the program uses already runs as the model would: an event loop nothing
    blocks, threads as many as the runs they take (up to a pool's lanes). Its estimate is
    then 1.0 by definition; what the model's bounds would say differs from today's wall
    clock only by what measuring cost (GIL queueing read as waits, a sampler's pauses)."""
    if today == "asyncio":
        return not [x for x in findings if x.kind == "blocking_in_event_loop"]
    if today == "threads":
        lanes = f.widest_pool or f.threads_counted
        return lanes >= min(max(work.repeats, 1), THREAD_POOL_LANES)
    return False


def current_model(f: Facts) -> str:
    if f.uses_asyncio and f.uses_processes:
        return "asyncio+multiprocessing"
    if f.uses_processes:
        return "multiprocessing"
    if f.uses_asyncio:
        return "asyncio"
    if f.uses_threads:
        return "threads"
    if f.parallel_children:
        # Children side by side with no event loop or threads to start them: processes
        # are how this program runs its work at once.
        return "multiprocessing"
    return ""


def _loop_blocked_by_cpu(findings) -> bool:
    """The event loop is blocked more by CPU than by waits."""
    blocking = [x for x in findings if x.kind == "blocking_in_event_loop"]
    cpu = sum(x.seconds for x in blocking if x.cause == "cpu")
    return bool(blocking) and cpu > sum(x.seconds for x in blocking if x.cause != "cpu")


def preference(f: Facts, answers: dict[str, Answer], findings, work: Work | None = None) -> list[str]:
    io, gil, nogil = f.shares[IO_WAIT], f.shares[CPU_GIL], f.shares[CPU_NOGIL]
    blocking = [x for x in findings if x.kind == "blocking_in_event_loop"]
    if blocking:
        if _loop_blocked_by_cpu(findings):
            return ["asyncio+multiprocessing", "asyncio", "multiprocessing", "threads"]
        return ["asyncio", "asyncio+multiprocessing", "threads", "multiprocessing"]
    if io < gil + nogil:
        if gil >= nogil:
            if not f.gil_enabled:
                return ["threads", "multiprocessing", "asyncio+multiprocessing", "asyncio"]
            if answers["mix"].answer == "yes":
                return ["asyncio+multiprocessing", "multiprocessing", "threads", "asyncio"]
            return ["multiprocessing", "asyncio+multiprocessing", "threads", "asyncio"]
        if work is not None and threads_held_back_by_the_gil(work):
            return ["multiprocessing", "threads", "asyncio+multiprocessing", "asyncio"]
        return ["threads", "multiprocessing", "asyncio+multiprocessing", "asyncio"]
    if periodic_chore(f) is not None:
        return ["threads", "asyncio", "multiprocessing", "asyncio+multiprocessing"]
    if answers["mix"].answer == "yes":
        return ["asyncio+multiprocessing", "multiprocessing", "threads", "asyncio"]
    if answers["many_connections"].answer == "yes":
        return ["asyncio", "threads", "asyncio+multiprocessing", "multiprocessing"]
    if answers["blocking_libraries"].answer in ("yes", "partly") and f.blocking_library_share() >= 0.5:
        return ["threads", "asyncio", "multiprocessing", "asyncio+multiprocessing"]
    return ["asyncio", "threads", "asyncio+multiprocessing", "multiprocessing"]


# Threads whose GIL costs (queueing, hand-offs) keep them this much above the cores' bound
# are held back by the GIL, however much of the CPU frees it.
GIL_HELD_BACK = 1.15


def threads_held_back_by_the_gil(work: Work) -> bool:
    """GIL-free CPU that threads can't run side by side after all: its pieces are too short
    to hand the GIL over, or each comes back to queue behind another thread's Python."""
    cores = max(work.cores, 1)
    spread = (work.cpu_gil + work.cpu_nogil + work.background_cpu + work.native_cpu) / cores
    held = max(queued_seconds(work, cores), work.cpu_gil + work.background_cpu + work.gil_handoff)
    return work.gil_enabled and spread > 0 and held > GIL_HELD_BACK * spread


# One py-spy sample at its 250 Hz: the least task CPU a worker is credited with.
TASK_SAMPLE_SECONDS = 0.004


def _pool_lanes(f: Facts) -> int:
    """The pool's workers that can run at once: no more than the cores."""
    return max(min(f.pool.workers, f.cores), 1)


def _pool_today(f: Facts) -> tuple[float, float]:
    """(the pool section's least possible seconds today, the seconds outside it).

    Its measured wall time is not used: under a sampler that follows the children it runs
    several times longer than plain. A process pool's section takes at least its workers'
    CPU (tasks and their dispatch) spread over the workers on the cores, its tasks' waits
    over the workers, or the parent's own dispatch CPU (the main thread in the pool's calls
    and the pool's helper threads, which share its GIL), whichever is longest. A thread
    pool's workers share the program's GIL: its GIL-holding CPU, its dispatch and the main
    thread's in the pool's calls run one after another; only GIL-free task CPU spreads.
    """
    pool, lanes = f.pool, _pool_lanes(f)
    outside = max(f.wall_seconds - pool.section_seconds, 0.0)
    if pool.threads:
        serial = pool.task_cpu - pool.task_nogil + pool.worker_dispatch_cpu + pool.section_cpu
        today = max(serial + pool.task_nogil / lanes, pool.task_wait / max(pool.workers, 1))
        return today, outside
    today = max((pool.task_cpu + pool.worker_dispatch_cpu) / lanes,
                (pool.task_cpu + pool.worker_dispatch_cpu + pool.task_wait) / max(pool.workers, 1),
                pool.section_cpu + pool.helper_cpu)
    return today, outside


def without_the_pool(f: Facts) -> float | None:
    """today / after for running a pool's tasks in a plain loop (None: no pool measured,
    or nothing to gain): the tasks' own CPU and waits run once, in line; what ran outside
    the pool stays as it was."""
    pool = f.pool
    if pool is None or pool.task_cpu + pool.worker_dispatch_cpu <= 0:
        return None
    pool_today, outside = _pool_today(f)
    # Tasks too short for the sampler to see: at least one sample of each worker's.
    after = outside + max(pool.task_cpu, TASK_SAMPLE_SECONDS * pool.workers) + pool.task_wait
    if after <= 0:
        return None
    return (outside + pool_today) / after


def with_bigger_chunks(f: Facts) -> float | None:
    """today / after for keeping the process pool but handing its tasks out in big chunks
    (``chunksize``, or a batch of items per task): the dispatch per task all but goes, and
    the tasks' CPU spreads over the workers on the cores (None: no process pool measured).
    Starting the workers stays (today's least time leaves it out, so this adds it): on
    tasks of a few milliseconds in all, that is what the plain loop saves."""
    pool = f.pool
    if pool is None or pool.threads or pool.task_cpu + pool.worker_dispatch_cpu <= 0:
        return None
    lanes = _pool_lanes(f)
    pool_today, outside = _pool_today(f)
    start = lanes * process_start_seconds(f.python, sys.platform)
    after = outside + start + max(pool.task_cpu / lanes, pool.task_wait / max(pool.workers, 1),
                                  TASK_SAMPLE_SECONDS * pool.workers)
    return (outside + pool_today) / after if after > 0 else None


def _pool_recommendation(f: Facts, today: str, estimates: dict[str, float], answers: list[Answer],
                         work: Work) -> Recommendation | None:
    """When the program's pool's dispatch costs more than its tasks gain from it: a plain
    loop, or the same process pool handing out big chunks, whichever is estimated faster
    (None: no pool measured, or the pool pays). ``estimates`` gains ``none`` (and today's
    model, chunked)."""
    if today not in ("multiprocessing", "asyncio+multiprocessing", "threads"):
        return None
    plain_loop, chunked = without_the_pool(f), with_bigger_chunks(f)
    pool_fix = max(plain_loop or 0.0, chunked or 0.0)
    if plain_loop is None or pool_fix < MIN_GAIN or pool_fix < max(estimates.values()):
        return None
    estimates["none"] = round(plain_loop, 2)
    model, gain = "none", plain_loop
    if chunked is not None and chunked * NEAR_BEST > plain_loop:
        # Keeping the pool pays only clearly: a plain loop is fewer moving parts.
        model, gain = today, chunked
    if chunked is not None:
        estimates[today] = round(max(chunked, estimates.get(today, 1.0)), 2)
    rival = today if model == "none" else "none"
    # Both rest on today's pool put at its least time (the plain loop's estimate runs
    # low, 1.2-1.4x for 2.8x measured): within the estimates' own error they are close.
    near = chunked is not None and min(chunked, plain_loop) >= FIRST_CHOICE_SHARE * max(chunked, plain_loop)
    return Recommendation(
        model=model, alternatives=[rival] if estimates.get(rival, 1.0) >= MIN_GAIN else [],
        estimated_speedup=round(gain, 2),
        confidence=_confidence(f, estimates, model), checklist=answers, estimates=estimates,
        reasons=[_why_drop_the_pool(f, plain_loop) if model == "none" else _why_chunk(f, chunked, plain_loop)],
        changes=_pool_changes(f), current_model=today,
        close_call={"models": [model, rival], "margin": round(1.0 - FIRST_CHOICE_SHARE, 2),
                    "why": (f"a plain loop ({plain_loop:.1f}x) and the pool in big chunks ({chunked:.1f}x) "
                            f"are estimated within {1 / FIRST_CHOICE_SHARE:.2g}x of each other, the "
                            "estimates' own error"),
                    "estimates": {m: estimates.get(m, 1.0) for m in (model, rival)}} if near else {},
        work={k: round(v, 4) if isinstance(v, float) else v for k, v in work.__dict__.items()})


def recommend(f: Facts, answers: list[Answer], findings) -> Recommendation:
    by_key = {a.key: a for a in answers}
    work = work_from_facts(f)
    today = current_model(f)
    raw = {m: _estimate(work, m, f) for m in MODELS}
    if _as_it_is(today, f, work, findings) and raw[today] > 1.0:
        # Today's model already runs as the model would: its bound's distance from the
        # wall clock is what measuring cost, and every model is estimated against it.
        raw = {m: max(v / raw[today], 1.0) for m, v in raw.items()}
        raw[today] = 1.0
    estimates = {m: round(v, 2) for m, v in raw.items()}
    pool_advice = _pool_recommendation(f, today, estimates, answers, work)
    if pool_advice is not None:
        return pool_advice
    order = preference(f, by_key, findings, work)
    checklist_first = order[0]
    if today in order and estimates[today] >= MIN_GAIN and not _loop_blocked_by_cpu(findings):
        # A program that already uses a model that still pays keeps it first; not an event
        # loop blocked mostly by CPU: asyncio alone leaves that CPU on the loop (its gain is
        # the waits'), the fix hands it to a pool.
        order = [today] + [m for m in order if m != today]
    best = max(estimates.values())
    eligible = [m for m in order if estimates[m] >= best * NEAR_BEST and estimates[m] >= MIN_GAIN]
    # The checklist's own first choice, not today's model put first: keeping what the
    # program does gets no second preference against a better estimate.
    first = checklist_first
    passed_over = ""
    blocking_libraries = f.blocking_library_share() >= 0.5
    size = {m: change_size(m, today, blocking_libraries) for m in MODELS}

    if estimates[first] >= max(MIN_GAIN, FIRST_CHOICE_SHARE * best) and first not in eligible[:1]:
        # The checklist's first choice stands against a better estimate only as the smaller
        # change: the estimates run up to ~1.8x high on the sample apps, not enough to make
        # a bigger rewrite pay for itself on paper alone.
        top = max(eligible, key=lambda m: estimates[m]) if eligible else first
        if size[first] < size[top]:
            eligible.insert(0, first)
            passed_over = top
    if eligible:
        # A bigger change never wins over a smaller one estimated at least as high.
        chosen = eligible[0]
        smaller = [m for m in eligible if estimates[m] >= estimates[chosen]
                   and size[m] < size[chosen]]
        if smaller:
            eligible.insert(0, max(smaller, key=lambda m: estimates[m]))
    blocking = [x for x in findings if x.kind == "blocking_in_event_loop"]
    reasons = []
    if f.total_seconds < MIN_WORK_SECONDS:
        eligible = []
    if blocking and not set(eligible) & {"asyncio", "asyncio+multiprocessing"}:
        eligible.insert(0, order[0])
        reasons.append("the event loop is blocked: fixing the blocking calls lets the other tasks run")
    if eligible:
        model = eligible[0]
        speedup = estimates[model]
        reasons.append(_why(model, f, by_key, work))
        if blocking and today == "asyncio" and model in ("asyncio", "asyncio+multiprocessing"):
            first = max(blocking, key=lambda x: x.seconds)
            reasons.append(f"the estimate is what fixing the blocking call{'s' if len(blocking) > 1 else ''} "
                           f"gains: {first.function} at {first.location} held the loop for "
                           f"{sum(x.seconds for x in blocking):.2f} s; awaited (an async client, or "
                           f"`await asyncio.to_thread(...)`) {'they' if len(blocking) > 1 else 'it'} "
                           f"overlap{'' if len(blocking) > 1 else 's'} with the other tasks")
    elif today:
        model, speedup = today, 1.0
        reasons.append(f"already uses {today}; the measured work leaves less than {MIN_GAIN}x to gain")
    else:
        model, speedup = "none", 1.0
        reasons.append(_why_none(f, work))
    alternatives = [m for m in order if m != model and estimates[m] >= MIN_GAIN][:2]
    confidence = _confidence(f, estimates, model)
    return Recommendation(
        model=model, alternatives=alternatives, estimated_speedup=float(speedup),
        confidence=confidence, checklist=answers, estimates=estimates, reasons=reasons,
        changes=changes_for(model, f), current_model=today,
        close_call=close_call(model, estimates, eligible, today, f.total_seconds >= MIN_WORK_SECONDS,
                              passed_over if model != passed_over else ""),
        work={k: round(v, 4) if isinstance(v, float) else v for k, v in work.__dict__.items()},
        more_cores=_more_cores(work, model))


# How big a rewrite each model is, from what the program does today (0: it is that
# already). An executor around the loop, or swapping one executor for another, is small;
# an event loop needs awaitable calls down the stack.
CHANGE_SIZE = {
    "": {"threads": 1, "multiprocessing": 1, "asyncio": 1, "asyncio+multiprocessing": 2},
    "threads": {"threads": 0, "multiprocessing": 1, "asyncio": 2, "asyncio+multiprocessing": 3},
    "multiprocessing": {"multiprocessing": 0, "threads": 1, "asyncio+multiprocessing": 2, "asyncio": 2},
    "asyncio": {"asyncio": 0, "asyncio+multiprocessing": 1, "threads": 2, "multiprocessing": 2},
    "asyncio+multiprocessing": {"asyncio+multiprocessing": 0, "asyncio": 1, "multiprocessing": 1, "threads": 2},
}


def change_size(model: str, today: str, blocking_libraries: bool = False) -> int:
    """CHANGE_SIZE; moving waits that go through blocking libraries (urllib, requests,
    subprocess, files: no awaitable form in the standard library) onto an event loop also
    means a new client library, one step more."""
    size = CHANGE_SIZE.get(today, CHANGE_SIZE[""]).get(model, 3)
    if blocking_libraries and model.startswith("asyncio") and not today.startswith("asyncio"):
        size += 1
    return size


def close_call(model: str, estimates: dict[str, float], eligible: list[str], today: str,
               enough_work: bool = True, passed_over: str = "") -> dict:
    """The runner-up when the choice could go either way on another run ({} when it can't).

    A better estimate passed over for the smaller change, two models within NEAR_BEST of
    each other (the order of preference chose), or a gain within the same margin of the
    MIN_GAIN bar on either side (the model or "nothing to gain": ``today``, or none). A
    few percent of measurement noise moves such a choice, so the report names both
    instead of letting runs disagree in silence.
    """
    if not enough_work:
        return {}
    margin = round(1.0 - NEAR_BEST, 2)
    staying = today or "none"
    others = [m for m in eligible if m != model]
    if passed_over:
        rival = passed_over
        margin = round(1.0 - FIRST_CHOICE_SHARE, 2)
        why = (f"{rival} is estimated higher ({estimates[rival]:.1f}x against {estimates[model]:.1f}x), "
               f"but within {1 / FIRST_CHOICE_SHARE:.2g}x, the estimates' own error, {model} is the smaller change")
    elif others:
        rival = others[0]
        why = f"{model} and {rival} are estimated within {margin:.0%} of each other"
    elif model in MODELS and model != today and estimates.get(model, 1.0) < MIN_GAIN / NEAR_BEST:
        rival = staying
        why = f"the gain of {model} is within {margin:.0%} of the {MIN_GAIN}x a change needs"
    elif model == staying:
        ranked = sorted((m for m in MODELS if m != today), key=lambda m: estimates.get(m, 0.0), reverse=True)
        if not ranked or estimates.get(ranked[0], 0.0) < MIN_GAIN * NEAR_BEST:
            return {}
        rival = ranked[0]
        why = f"the gain of {rival} is within {margin:.0%} of the {MIN_GAIN}x a change needs"
    else:
        return {}
    return {"models": [model, rival], "margin": margin, "why": why,
            "estimates": {m: estimates.get(m, 1.0) for m in (model, rival)}}


def _why(model: str, f: Facts, a: dict[str, Answer], work: Work | None = None) -> str:
    if model == "multiprocessing":
        if f.shares[CPU_NOGIL] > f.shares[CPU_GIL] and work is not None and threads_held_back_by_the_gil(work):
            return ("the CPU mostly frees the GIL, but in pieces threads can't run side by side: each "
                    "comes back to queue for the GIL behind another thread's Python (or is too short "
                    f"to hand it over); separate processes run it on {f.cores} cores at once")
        return ("the time is CPU that holds the GIL: only separate processes run it on "
                f"{f.cores} cores at once")
    if model == "threads":
        if f.shares[CPU_NOGIL] > f.shares[IO_WAIT]:
            return "the CPU time is native code that releases the GIL: threads run it in parallel"
        if periodic_chore(f) is not None:
            return "a periodic chore waits inline: a background thread can carry it"
        if f.blocking_library_share() >= 0.5:
            return "the waits repeat and go through blocking libraries: a thread pool overlaps them with the least change"
        return ("the waits repeat, and threads overlap them while the native CPU work runs beside them; "
                "this measured best on this machine")
    if model == "asyncio":
        if a["many_connections"].answer == "yes":
            return "many connections: one event loop overlaps all their waits cheaply"
        return "the waits repeat and can be awaited: one event loop overlaps them"
    if model == "asyncio+multiprocessing":
        return "real waiting and real GIL-holding CPU: asyncio overlaps the waits, a process pool takes the CPU"
    return ""


def _why_drop_the_pool(f: Facts, gain: float) -> str:
    pool = f.pool
    if pool.threads:
        return (f"the thread pool costs more than the work it hands out: its {pool.workers} threads spent "
                f"{pool.task_cpu:.3f} s of CPU in the tasks and {pool.worker_dispatch_cpu:.2f} s taking them off "
                f"the queue and completing their futures, and the main thread {pool.section_cpu:.2f} s handing "
                f"them out, all under one GIL; calling the task in a plain loop is about {gain:.1f}x faster")
    return (f"the process pool costs more than the work it hands out: its worker processes spent "
            f"{pool.task_cpu:.3f} s of CPU in the tasks and {pool.worker_dispatch_cpu:.2f} s fetching them "
            f"and sending results back, and this process {pool.section_cpu + pool.helper_cpu:.2f} s handing "
            f"them out; calling the task in a plain loop is about {gain:.1f}x faster (or hand them out in "
            f"far bigger chunks: chunksize, or a batch of items per task)")


def _why_chunk(f: Facts, gain: float, plain_loop: float) -> str:
    pool = f.pool
    return (f"the process pool hands its tasks out one by one: its worker processes spent {pool.task_cpu:.2f} s "
            f"of CPU in the tasks and {pool.worker_dispatch_cpu:.2f} s fetching them and sending results back; "
            f"handed out in big chunks (chunksize, or a batch of items per task) the tasks spread over "
            f"{_pool_lanes(f)} cores for about {gain:.1f}x (a plain loop: {plain_loop:.1f}x)")


def _pool_changes(f: Facts) -> list[dict]:
    """The pool call to replace: the main thread's busiest call into the pool."""
    call = f.pool.call if f.pool is not None else {}
    if not call:
        return []
    return [{"call": call["callee"], "location": where(call["file"], call["line"]),
             "function": call["function"], "unit": call["callee"], "repeats": 1, "driver": "",
             "loop_location": "", "seconds": round(call["seconds"], 4), "category": IO_WAIT,
             "family": "pool"}]


def _why_none(f: Facts, work: Work) -> str:
    if f.total_seconds < MIN_WORK_SECONDS:
        return "too little work was measured to be worth a concurrency change"
    if work.single_wait > 0.5 * work.today:
        return "the waiting is one single wait: there is nothing to overlap it with"
    return f"no model gains {MIN_GAIN}x on the measured work"


def _confidence(f: Facts, estimates: dict[str, float], model: str) -> float:
    dominant = max(f.shares[IO_WAIT], f.shares[CPU_GIL], f.shares[CPU_NOGIL])
    length = min(f.total_seconds, 2.0) / 2.0
    value = 0.4 + 0.35 * dominant + 0.15 * length - 0.4 * f.shares[OTHER]
    ranked = sorted(estimates.values(), reverse=True)
    if model != "none" and len(ranked) > 1 and ranked[0] > 0 and ranked[1] / ranked[0] > 0.95:
        value -= 0.05
    return float(min(max(value, 0.2), 0.95))


def _more_cores(work: Work, model: str) -> dict:
    """What the same model would reach with more cores (capped by the repeats seen)."""
    if model in ("none", "asyncio"):
        return {}
    return {str(c): round(estimate(work, model, cores=c), 2) for c in (2, 4, 8, 16, 32)}


def changes_for(model: str, f: Facts) -> list[dict]:
    """Where to make the change: the loop that drives the repeated unit, and the call."""
    if model == "none":
        return []
    if model in ("asyncio", "threads") and f.shares[IO_WAIT] >= f.shares[CPU_NOGIL]:
        sites = f.wait_sites()
    elif model == "threads":
        sites = f.cpu_sites().sort_values(CPU_NOGIL, ascending=False)
    else:
        sites = f.cpu_sites().sort_values(CPU_GIL, ascending=False)
    if model == "asyncio+multiprocessing":
        sites = pd.concat([f.wait_sites().head(1), f.cpu_sites().head(1)])
    out, seen = [], set()
    sites = sites[sites["seconds"] >= 0.05 * max(f.total_seconds, 1e-9)]
    # Import time is real but no concurrency model changes it.
    sites = sites[~sites["callee"].isin(IMPORT_MACHINERY) & ~sites["unit"].isin(IMPORT_MACHINERY)]
    for site in sites.head(6).to_dict("records"):
        key = (site["unit"], site["file"], site["line"])
        if key in seen:
            continue
        seen.add(key)
        loop_at = where(site["driver_file"] or site["file"], site["driver_line"]) if site["driver_line"] else ""
        out.append({
            "call": site["callee"] if site["callee"] != "(own code)" else f"{site['user_function']}()",
            "location": where(site["file"], site["line"]),
            "function": site["user_function"],
            "unit": site["unit"], "repeats": int(site["repeats"]),
            "driver": site["driver"], "loop_location": loop_at,
            "seconds": round(float(site["seconds"]), 4),
            "category": max((IO_WAIT, CPU_GIL, CPU_NOGIL), key=lambda c: site[c]),
            "family": site["family"],
            **({"repeats_at_least": True} if site.get("repeats_at_least") else {}),
        })
        if len(out) >= 3:
            break
    return out
