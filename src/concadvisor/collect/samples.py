"""Sampled stacks (py-spy) as the common table, with each row's category already known.

Three samplers watch the target at the same rate: one keeps every sample (``--idle``),
one only the active ones (plain), one only those whose thread holds the GIL (``--gil``).
For every leaf (thread, function, line) their counts say which share of the time there
was waiting (idle), CPU holding the GIL, or CPU without it (active, GIL not held: native
code that released it). A thread that is idle on a line with no waiting call while other
threads are busy is queueing for the GIL (py-spy sees a thread blocked on the GIL as
idle): that is ``cpu_gil`` demand, kept apart in ``gil_wait`` as classification does for
cProfile. The samplers keep their own pace, so their counts are first put on one scale
(``_calibrate``).

Seconds are sample counts times the sampling interval, the interval taken from the main
thread (sampled at every tick) against the run's wall time. Functions are named as a
deterministic profiler names them (see ``leafcalls``); when a leaf waited or ran without
the GIL, the native call on its line becomes a row of its own under it, so call sites
look the same as under cProfile.

Samples cannot count calls. ``calls`` is the number of times a frame was seen to start
(a stack that was not there in the previous sample of its thread): a lower bound that
merges back-to-back calls from the same line. Exact counts, where the runner measured
them, replace it (see ``merge_counts``).
"""
from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from ..catalog import CPU_GIL, CPU_NOGIL, IO_WAIT, OTHER, SYSCALL, lookup
from ..table import Measurement, edges_frame, functions_frame, threads_frame
from .leafcalls import bare_name, calls_at, def_line, native_at

Frame = tuple  # (name, file, line) as the sampler reported it
# No source file has more lines: a frame beyond it was read from memory being rewritten.
MAX_LINE = 10_000_000
_PROFILE_NAME = re.compile(r'^(?:Process (\d+) )?Thread (\d+) "(.*)"$')
_THREAD_FRAME = re.compile(r"^thread \((\d+)\)(?:: (.*))?$")


@dataclass
class ThreadSamples:
    """One thread's samples in the order they were taken."""

    pid: int
    tid: int
    name: str
    stacks: list = field(default_factory=list)  # tuples of Frame, root first


def read_speedscope(path: str) -> list[ThreadSamples]:
    """py-spy's ``--format speedscope`` file: one profile per (process, thread)."""
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    frames = [(f.get("name", ""), f.get("file") or "", int(f.get("line") or 0))
              for f in data.get("shared", {}).get("frames", [])]
    out: dict = {}
    for profile in data.get("profiles", []):
        found = _PROFILE_NAME.match(profile.get("name", ""))
        pid, tid, name = (int(found.group(1) or 0), int(found.group(2)), found.group(3)) if found else (0, 0, "")
        # one thread can come as two profiles when its name was read late: one thread here
        thread = out.setdefault((pid, tid), ThreadSamples(pid, tid, name))
        thread.name = thread.name or name
        for sample in profile.get("samples", []):
            stack = [frames[i] for i in sample]
            if any(not 0 <= frame[2] <= MAX_LINE for frame in stack):
                continue  # read mid-change (a thread ending): ``__spec__`` at ``__loader__:4293081040``
            while stack and not stack[0][1] and stack[0][2] == 0:
                pseudo = _THREAD_FRAME.match(stack[0][0])
                if pseudo and pseudo.group(2) and not thread.name:
                    thread.name = pseudo.group(2)
                stack.pop(0)
            thread.stacks.append(tuple(stack))
    return list(out.values())


@dataclass
class Sampling:
    """What the three samplers saw of one process (threads of other processes left out)."""

    every: list[ThreadSamples]
    active: list[ThreadSamples]
    gil: list[ThreadSamples]
    pid: int
    wall_seconds: float
    rate: float


def measurement_from_samples(sampling: Sampling, *, library_paths=(), runner_file="",
                             children_cpu_seconds=0.0, skip=None, run_queue=None,
                             lines_free_the_gil_by_samples: bool = True) -> Measurement:
    """The common table of one sampled process. ``skip(stack)`` drops samples (e.g. the
    runner waiting for the samplers to attach). ``lines_free_the_gil_by_samples``: whether a
    plain-Python line seen busy without the GIL frees it (``frees_the_gil``); off for a
    target's worker processes, where one-line tasks read so by sampling alone.
    ``run_queue`` (``schedstat.run_queue``):
    seconds each thread (by tid) was runnable but waiting for a CPU, which py-spy counts
    as active: taken back out of the thread's active samples (see ``_add_thread``)."""
    waits_by_tid = (run_queue or {}).get("threads") or {}
    on_cpu_by_tid = (run_queue or {}).get("on_cpu") or {}
    queued_total = 0.0
    keep = (lambda stack: bool(stack) and not skip(stack)) if skip else bool
    own = [t for t in sampling.every if t.pid in (0, sampling.pid)]
    for thread in own:
        thread.stacks = [s for s in thread.stacks if keep(s)]
    own = [t for t in own if t.stacks]
    active = _leaf_counts(sampling.active, sampling.pid, keep)
    gil = _leaf_counts(sampling.gil, sampling.pid, keep)
    interval = _interval(own, sampling)
    busy = _busy_threads(active, interval, sampling.wall_seconds)
    every = Counter((thread.tid, stack[-1]) for thread in own for stack in thread.stacks)
    evidence = lines_free_the_gil_by_samples
    scales = _calibrate(every, active, gil, busy, evidence)
    active = Counter({key: n * scales[0] for key, n in active.items()})
    gil = Counter({key: n * scales[1] for key, n in gil.items()})
    held_lines = _lines_holding_the_gil(own, active, gil)
    names = _Names()
    functions: dict = {}
    edges: dict = {}
    threads = []
    labels: Counter = Counter()
    for thread in sorted(own, key=lambda t: (t.tid != sampling.pid, t.tid)):
        label = thread.name or ("MainThread" if thread.tid == sampling.pid else f"Thread-{thread.tid}")
        labels[label] += 1
        if labels[label] > 1:
            label = f"{label}#{labels[label] - 1}"
        shares = _leaf_shares(thread, active, gil, contended=busy > 1, held_lines=held_lines,
                              evidence=evidence)
        waited = float(waits_by_tid.get(thread.tid, 0.0) or 0.0)
        on_cpu = on_cpu_by_tid.get(thread.tid)
        cpu, queued = _add_thread(label, thread, shares, interval, names, functions, edges, waited,
                                  None if on_cpu is None else float(on_cpu))
        queued_total += queued
        main = thread.tid == sampling.pid or (sampling.pid == 0 and not threads)
        wall = sampling.wall_seconds if main else len(thread.stacks) * interval
        threads.append({"thread": label, "wall_seconds": max(wall - queued, 0.0), "cpu_seconds": cpu,
                        "merged": False, "main": main, "run_queue_seconds": queued})
    if not any(t["main"] for t in threads):  # too short to be sampled: the run still was
        threads.insert(0, {"thread": "MainThread", "wall_seconds": sampling.wall_seconds,
                           "cpu_seconds": 0.0, "merged": False, "main": True})
    table = functions_frame(list(functions.values()))
    for column in (IO_WAIT, CPU_GIL, CPU_NOGIL, OTHER, "gil_wait"):
        table[column] = [row[column] for row in functions.values()]
    table["family"] = [row["family"] for row in functions.values()]
    table["hot_line"] = [_hot_line(row) for row in functions.values()]
    extra = {"sample_interval": interval, "samples": sum(len(t.stacks) for t in own)}
    if run_queue is not None:
        extra["run_queue"] = dict(run_queue, taken_out=queued_total)
    extra["python_tids"] = [t.tid for t in sampling.every if t.pid in (0, sampling.pid)]
    return Measurement(
        backend="pyspy", functions=table, edges=edges_frame(list(edges.values())),
        threads=threads_frame(threads), wall_seconds=sampling.wall_seconds,
        library_paths=list(library_paths), runner_file=runner_file,
        children_cpu_seconds=children_cpu_seconds, extra=extra)


def _leaf_counts(threads: list[ThreadSamples], pid: int, keep) -> Counter:
    counts: Counter = Counter()
    for thread in threads:
        if thread.pid in (0, pid):
            for stack in thread.stacks:
                if keep(stack):
                    counts[(thread.tid, stack[-1])] += 1
    return counts


def _interval(own: list[ThreadSamples], sampling: Sampling) -> float:
    """Seconds per sample: the main thread is sampled at every tick of the run."""
    nominal = 1.0 / sampling.rate
    main = next((t for t in own if t.tid == sampling.pid), None)
    if main is None or not main.stacks or sampling.wall_seconds <= 0:
        return nominal
    measured = sampling.wall_seconds / len(main.stacks)
    return min(max(measured, 0.5 * nominal), 2.0 * nominal)


# Below this many samples a sampler's pace is not estimated from its samples.
CALIBRATION_SAMPLES = 30
# How far one sampler's pace may be put from the every-sample sampler's.
CALIBRATION_LIMITS = (0.75, 1.33)
# A thread is busy when it was active this share of the run (as classification counts).
BUSY_SHARE = 0.03


def _busy_threads(active: Counter, interval: float, wall: float) -> int:
    per_thread: Counter = Counter()
    for (tid, _), n in active.items():
        per_thread[tid] += n
    return sum(1 for n in per_thread.values() if n * interval >= BUSY_SHARE * max(wall, 1e-9))


def _calibrate(every: Counter, active: Counter, gil: Counter, busy: int,
               evidence: bool = True) -> tuple[float, float]:
    """Factors that put the active and GIL samplers' counts on the every-sample sampler's
    scale. Each sampler keeps its own pace and falls behind when the machine is busy, so
    equal counts need not mean equal time. On lines that only run holding the GIL,
    running is holding: there the GIL sampler must count what the active one counts, and
    when a single thread is busy (nobody to queue behind for the GIL) the active sampler
    must count what the every-sample sampler counts.
    """
    low, high = CALIBRATION_LIMITS

    def python(counts):
        return sum(n for key, n in counts.items()
                   if _line_class(key[1]) == "python"
                   and not (evidence and busy <= 1 and frees_the_gil(active.get(key, 0), gil.get(key, 0))))

    seen, running, held = python(every), python(active), python(gil)
    active_scale = 1.0
    if busy == 1 and seen >= CALIBRATION_SAMPLES and running >= CALIBRATION_SAMPLES:
        active_scale = min(max(seen / running, low), high)
    gil_scale = active_scale
    if running >= CALIBRATION_SAMPLES and held >= CALIBRATION_SAMPLES / 3:
        gil_scale = min(max(running * active_scale / held, low), high)
    return active_scale, gil_scale


def _lines_holding_the_gil(threads: list[ThreadSamples], active: Counter, gil: Counter) -> set:
    """Lines with a call the catalog does not know that run holding the GIL, judged on
    their samples pooled over the threads that ran them (the same line does the same
    thing in every thread; one thread alone may have caught it holding the GIL a few
    times only)."""
    pooled: dict = defaultdict(lambda: [0.0, 0.0, 0.0])
    runners: dict = defaultdict(set)
    per_thread = {}
    for thread in threads:
        every = Counter(stack[-1] for stack in thread.stacks)
        held = sum(min(gil.get((thread.tid, leaf), 0), n) for leaf, n in every.items())
        per_thread[thread.tid] = (sum(every.values()), held)
        for leaf, n in every.items():
            if _line_class(leaf) != "unknown":
                continue
            found = pooled[leaf]
            found[0] += n
            found[1] += active.get((thread.tid, leaf), 0)
            found[2] += gil.get((thread.tid, leaf), 0)
            runners[leaf].add(thread.tid)
    lines = set()
    for leaf, found in pooled.items():
        seen = sum(per_thread[tid][0] for tid in runners[leaf])
        held = sum(per_thread[tid][1] for tid in runners[leaf])
        if _runs_holding_the_gil(found, held / seen if seen else 0.0):
            lines.add(leaf)
    return lines


def _leaf_shares(thread: ThreadSamples, active: Counter, gil: Counter, contended: bool,
                 held_lines: set | None = None, evidence: bool = True) -> dict:
    """(idle, GIL held, active without the GIL) shares of each leaf of one thread.

    Three samplers count independently, so one leaf's counts differ by noise alone. On
    lines that can only run holding the GIL (no call, or only calls the catalog knows
    keep it) the samplers are pooled over the thread: when other threads were busy too,
    their idle share is this thread queueing for the GIL; with no one to queue behind, it
    is noise (or the OS running something else) and counts as running. A call the
    catalog does not know whose line runs holding the GIL as its thread does is one of
    them (``_runs_holding_the_gil``). Other lines (a wait, GIL-free native code, an unknown
    call that waits or frees the GIL) keep their own counts; a GIL-free native line
    cannot be idle unless it queues for the GIL afterwards.
    """
    every = Counter(stack[-1] for stack in thread.stacks)
    counts = {leaf: (n, active.get((thread.tid, leaf), 0), gil.get((thread.tid, leaf), 0))
              for leaf, n in every.items()}
    if held_lines is None:
        held_lines = _lines_holding_the_gil([thread], active, gil)
    # Alone, a line the catalog says holds the GIL but seen busy without it frees it; beside
    # other busy threads, that is the thread handing the GIL over.
    python = [leaf for leaf in counts if leaf in held_lines or (
        _line_class(leaf) == "python"
        and (contended or not evidence or not frees_the_gil(counts[leaf][1], counts[leaf][2])))]
    seen = sum(counts[leaf][0] for leaf in python)
    running = sum(min(max(counts[leaf][1], counts[leaf][2]), counts[leaf][0]) for leaf in python)
    queued = max(seen - running, 0) / seen if seen and contended else 0.0
    shares = {leaf: HeldLine((queued, 1.0 - queued, 0.0)) for leaf in python if leaf not in held_lines}
    for leaf in python:
        if leaf in held_lines:  # its GIL-free share is measured (a hash of a big block on it)
            idle, held, free = _split(*counts[leaf])
            shares[leaf] = HeldLine((queued * (idle + held), (1.0 - queued) * (idle + held), free))
    pooled = defaultdict(lambda: [0.0, 0.0, 0.0])
    for leaf, found in counts.items():
        if leaf not in shares:
            pooled[_line_class(leaf)] = [a + b for a, b in zip(pooled[_line_class(leaf)], found)]
    priors = {kind: _split(*found, snap=False) for kind, found in pooled.items()}
    for leaf, found in counts.items():
        if leaf in shares:
            continue
        kind = _line_class(leaf)
        own = _split(*found)
        weight = found[0] / (found[0] + PRIOR_SAMPLES)
        idle, held, free = (weight * a + (1 - weight) * b for a, b in zip(own, priors[kind]))
        if not contended and kind == "nogil" and held + free > 0:
            held, free, idle = held + idle * held / (held + free), free + idle * free / (held + free), 0.0
        shares[leaf] = (idle, held, free)
    return shares


# A line the catalog says runs holding the GIL (no call, or only calls it knows, some by
# their method's name alone) seen busy this often, and holding the GIL for less than this
# share of it, frees the GIL after all: numpy's ``a.sort()`` is not ``list.sort``, and
# ``c = a * b`` on arrays runs a ufunc that lets it go. The samplers' disagreement on a
# line that holds it stays within 0.75-1.33 (their pace, see ``_calibrate``).
FREES_MIN_SAMPLES = 10
FREES_HELD_SHARE = 0.5


def frees_the_gil(active: float, held: float) -> bool:
    """Whether a line's active and GIL-holding sample counts say it ran without the GIL."""
    return active >= FREES_MIN_SAMPLES and held < FREES_HELD_SHARE * active


# A leaf seen this many times weighs as much as what its kind of line did in the thread.
PRIOR_SAMPLES = 10
# An unknown call's line holding the GIL this share as often as its thread does, or more,
# runs with the GIL held; and never on fewer samples holding it than this.
HELD_LIKE_THREAD = 0.5
HELD_MIN_SAMPLES = 2.0


class HeldLine(tuple):
    """The (idle, held, free) shares of a line that runs holding the GIL: its idle time
    is queueing for the GIL, never a wait of the call on it."""


def _runs_holding_the_gil(found, held_share: float) -> bool:
    """A call the catalog does not know (``revenue.get``, ``field.append``, a C extension's
    method), measured: its line is seen holding the GIL about as often as its thread is
    (at least ``HELD_LIKE_THREAD`` of the thread's share). Such a call keeps the GIL, so
    its idle samples are the thread queueing for the GIL (threads are parked at their
    calls, where the interpreter hands the GIL over), not a wait: it is classed with the
    thread's Python lines. A call that waits or computes without the GIL is rarely seen
    holding it, and keeps its own counts."""
    n, _, gil = found
    return n > 0 and gil >= max(HELD_LIKE_THREAD * n * held_share, HELD_MIN_SAMPLES)


def _split(every: float, active: float, gil: float, snap: bool = True) -> tuple[float, float, float]:
    """(idle, GIL held, active without the GIL) shares from the three samplers' counts."""
    total = max(every, active, gil)
    if total <= 0:
        return 0.0, 1.0, 0.0
    running = min(max(active, gil), total)
    held = min(gil, running)
    if snap:
        running = _beyond_noise(running, total)
        held = _beyond_noise(min(held, running), running)
    return (total - running) / total, held / total, (running - held) / total


def _beyond_noise(part: float, whole: float) -> float:
    """``part`` of ``whole`` samples, snapped to none or all of it when the rest is within
    the samplers' disagreement (about twice the square root of the count)."""
    margin = 2.0 * whole ** 0.5 + 1.0
    if part <= margin and whole - part > margin:
        return 0.0
    if whole - part <= margin and part > margin:
        return whole
    return part


def _line_class(leaf: Frame) -> str:
    """What a leaf line can be doing: "python" (only run holding the GIL: no call, or
    calls the catalog knows keep it), "nogil" (GIL-free native CPU), "wait" (a known
    wait), or "unknown" (a syscall that may wait or compute, a call the catalog does not
    know): the last two keep their own counts."""
    categories = {category for _, category in calls_at(leaf[1], leaf[2])}
    if not categories - {CPU_GIL}:
        return "python"
    if IO_WAIT in categories:
        return "wait"
    if categories == {CPU_NOGIL} or categories == {CPU_NOGIL, CPU_GIL}:
        return "nogil"
    return "unknown"


class _Names:
    """Sampled frames as table ids, looked up once each."""

    def __init__(self):
        self.cache: dict = {}
        self.natives: dict = {}

    def function(self, frame: Frame) -> tuple[str, str, str, int]:
        found = self.cache.get(frame)
        if found is None:
            name, file, line = frame
            bare = bare_name(name)
            first = def_line(file, bare, line)
            found = (f"{file}:{first}:{bare}", bare, file, first)
            self.cache[frame] = found
        return found

    def native(self, frame: Frame, waited: bool) -> str:
        key = (frame[1], frame[2], waited)
        if key not in self.natives:
            wanted = (IO_WAIT, SYSCALL) if waited else (CPU_NOGIL, SYSCALL, CPU_GIL)
            self.natives[key] = native_at(frame[1], frame[2], wanted)
        return self.natives[key]


def _row(functions, thread, fid, name, file, line, native):
    key = (thread, fid)
    row = functions.get(key)
    if row is None:
        row = functions[key] = {
            "thread": thread, "func_id": fid, "function": name, "file": file, "line": line,
            "native": native, "calls": 0, "primitive_calls": 0, "self_seconds": 0.0,
            "total_seconds": 0.0, IO_WAIT: 0.0, CPU_GIL: 0.0, CPU_NOGIL: 0.0, OTHER: 0.0,
            "gil_wait": 0.0, "family": ""}
        if native:
            kind = lookup(name)
            row["family"] = kind.family if kind else ""
    return row


# At most this share of a thread's active samples is taken out as waiting for a CPU.
RUN_QUEUE_MAX_SHARE = 0.95


def _add_thread(label, thread, shares, interval, names, functions, edges, waited=0.0,
                on_cpu=None) -> tuple[float, float]:
    """Add one thread's samples to the rows; returns its CPU seconds, and the seconds
    taken out as waiting for a CPU.

    A thread that is runnable but waiting for a CPU (``waited`` seconds in all) is active
    to py-spy, and holds the GIL if it was preempted holding it: that time is spread over
    the thread's active samples, whatever they ran, each keeping ``1 - waited / active``
    of its active part (the scheduler preempts a runnable thread wherever it is). Not
    all of the wait was seen as active: waking from a sleep, a thread queues while its
    stack still shows the sleep (idle to py-spy). What the active samples hold beyond the
    thread's own CPU time (``on_cpu``, from the same schedstat) is all there is to take."""
    active = sum(interval * (held + free) for held, free in
                 ((shares[stack[-1]][1], shares[stack[-1]][2]) for stack in thread.stacks))
    if on_cpu is not None:
        waited = min(waited, max(active - on_cpu, 0.0))
    keep = 1.0 - (min(waited, RUN_QUEUE_MAX_SHARE * active) / active if active > 0 and waited > 0 else 0.0)
    cpu = 0.0
    previous: list = []
    for stack in thread.stacks:
        idle, held, free = shares[stack[-1]]
        scale = idle + (held + free) * keep
        if scale <= 0:
            continue
        if keep < 1.0:
            idle, held, free = idle / scale, held * keep / scale, free * keep / scale
        path = [names.function(frame) + (frame[2],) for frame in stack]  # (id, name, file, def, line)
        leaf = stack[-1]
        waited_native = names.native(leaf, True) if idle > 0 and not isinstance(shares[leaf], HeldLine) else ""
        waits = bool(waited_native) and (lookup(waited_native) is None
                                         or lookup(waited_native).category not in (CPU_GIL, CPU_NOGIL))
        free_native = names.native(leaf, False) if free > 0 else ""
        native = waited_native if waits else free_native
        if native:
            path.append((f"~:0:{native}", native, "~", 0, 0))
        seconds = interval * scale
        cpu += seconds * (held + free)
        seen = set()
        for depth, (fid, name, file, first, line) in enumerate(path):
            row = _row(functions, label, fid, name, file, first, file == "~")
            if fid not in seen:
                row["total_seconds"] += seconds
                seen.add(fid)
            if depth:
                caller = path[depth - 1]
                edge_key = (label, caller[0], fid, caller[4])
                edge = edges.get(edge_key)
                if edge is None:
                    edge = edges[edge_key] = {"thread": label, "caller_id": caller[0], "callee_id": fid,
                                              "calls": 0, "seconds": 0.0, "line": caller[4]}
                if (caller[0], fid) not in seen:
                    edge["seconds"] += seconds
                    seen.add((caller[0], fid))
        _own_time(functions, label, path, native, seconds, idle, held, free, waits)
        _count_starts(functions, edges, label, previous, path)
        previous = path
    return cpu, active * (1.0 - keep)


def _hot_line(row) -> int:
    """The line of a Python function where its own CPU was sampled most (0: none)."""
    lines = row.get("cpu_lines")
    return max(lines, key=lines.get) if lines else 0


def _own_time(functions, label, path, native, seconds, idle, held, free, waits):
    leaf = functions[(label, path[-1][0])]
    python = functions[(label, path[-2][0])] if native else leaf
    # The CPU the Python frame spent itself, by the line it was on (a coroutine's own
    # ``re``/``json`` call is its own time: its line, not its ``def``, is where it ran).
    lines = python.setdefault("cpu_lines", {})
    line = path[-2][4] if native else path[-1][4]
    lines[line] = lines.get(line, 0.0) + seconds * (held + (0 if native and waits else idle)
                                                    + (0 if native else free))
    leaf["self_seconds"] += seconds if not native else 0.0
    if native:
        # the native row holds the wait (or the GIL-free CPU); the GIL-held part stays
        # with the Python line that called it
        shifted = seconds * (idle + free if waits else free)
        leaf["self_seconds"] += shifted
        python["self_seconds"] += seconds - shifted
        leaf[IO_WAIT] += seconds * idle if waits else 0.0
        leaf[CPU_NOGIL] += seconds * free
        python[CPU_GIL] += seconds * (held + (0 if waits else idle))
        python["gil_wait"] += 0 if waits else seconds * idle
        return
    leaf[CPU_GIL] += seconds * (held + idle)
    leaf["gil_wait"] += seconds * idle
    leaf[CPU_NOGIL] += seconds * free


def _count_starts(functions, edges, label, previous, path):
    """Frames not in the previous sample (of the same caller at the same line) started."""
    start = 0
    while start < min(len(previous), len(path)) and previous[start][0] == path[start][0]:
        if previous[start][4] != path[start][4]:
            start += 1
            break
        start += 1
    else:
        if start == len(path) == len(previous):
            return
    for depth in range(start, len(path)):
        fid = path[depth][0]
        row = functions[(label, fid)]
        if path[depth][1] == "<module>" and row["calls"]:
            # A module body runs once per import: seen "starting" again, it is a sample
            # that read the stack torn (more of them at 250 Hz), not a second run.
            continue
        row["calls"] += 1
        if all(frame[0] != fid for frame in path[:depth]):
            row["primitive_calls"] += 1
        if depth:
            caller = path[depth - 1]
            edges[(label, caller[0], fid, caller[4])]["calls"] += 1
