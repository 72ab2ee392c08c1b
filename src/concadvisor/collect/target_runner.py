"""Runs the user's target inside its own interpreter and saves what was measured.

This file is handed by path to the target's Python (3.9 or newer) and must use only
the standard library: it never imports concadvisor or its dependencies. The tool
process passes its settings in the CONCADVISOR_RUNNER environment variable (JSON) and
reads back one JSON file. Everything the target can do to end the run (return, raise,
sys.exit, os._exit, SIGTERM, SIGINT) still leaves that file behind.

argv: target_runner.py TARGET [ARGS...]   (TARGET is a path, or a module with mode "module")
"""
import _thread
import collections
import gc
import io
import itertools
import json
import operator
import os
import runpy
import signal
import sys
import sysconfig
import threading
import time
import traceback

_CONFIG = json.loads(os.environ.pop("CONCADVISOR_RUNNER", "{}"))
_RUNNER_FILE = os.path.abspath(__file__)
# The call counter compiles the target's files: a syntax error is raised from its frame.
_COUNTER_FILE = os.path.join(os.path.dirname(_RUNNER_FILE), "call_counter.py")


class _ThreadRecord:
    """One thread's profiler and clocks."""

    def __init__(self, name, ident, profiler, native_id=None, cpu_start=None):
        self.name = name
        self.ident = ident
        self.profiler = profiler
        self.wall_start = time.perf_counter()
        self.wall_end = None
        self.cpu_end = None
        # Made in the thread itself: its CPU so far is not the target's (for the main
        # thread, the runner's start-up and the profiler's calibration, ~0.1-0.15 s).
        self.cpu_start = time.thread_time() if cpu_start is None else cpu_start
        self.cpu_clock = _thread_cpu_clock()
        self.native_id = native_id

    def finish(self):
        self.wall_end = time.perf_counter()
        self.cpu_end = time.thread_time()
        if self.native_id is not None:  # its run-queue wait, read before the thread is gone
            reading = _schedstat(self.native_id)
            if reading is not None:
                _SCHED_ENDED[self.native_id] = reading


# Run-queue waits (Linux): /proc/self/task/TID/schedstat is "ns on CPU, ns runnable but
# waiting for a CPU, time slices". Read for every thread when the target's first line
# runs and at the save, and by each profiled thread as it ends (its file goes with it).
_SCHED_ENDED = {}


def _native_id():
    try:
        return threading.get_native_id()
    except AttributeError:  # pragma: no cover - 3.8+ has it everywhere the runner runs
        return None


def _schedstat(tid):
    try:
        with open("/proc/self/task/%d/schedstat" % tid, "rb") as handle:
            fields = handle.read().split()
        return [int(fields[0]), int(fields[1]), int(fields[2])]
    except (OSError, ValueError, IndexError):
        return None


def _schedstat_all():
    """tid -> [ns on CPU, ns waiting for a CPU, slices] for every thread now ({} if none)."""
    try:
        tids = os.listdir("/proc/self/task")
    except OSError:
        return {}
    found = {}
    for tid in tids:
        try:
            reading = _schedstat(int(tid))
        except ValueError:
            continue
        if reading is not None:
            found[str(tid)] = reading
    return found


def _thread_cpu_clock():
    """The calling thread's CPU clock id, so the main thread can read it later."""
    try:
        return time.pthread_getcpuclockid(threading.get_ident())
    except (AttributeError, OSError):
        return None


def _cost_clock():
    """The clock the profilers' costs are measured with: this thread's CPU clock. On a
    busy machine the wall clock also counts the time another program had the core, and
    the slow-down measured in one short round then read anywhere from 1.6x to 3.3x (on a
    core shared with a CPU-bound process; 1.7-2.5x quiet, on this shared 2-core host)."""
    return _thread_time_now()


_thread_time_now = getattr(time, "thread_time", time.perf_counter)


def _cprofile_overhead_per_call(cprofile, calls=20000, rounds=3, dispatch=None):
    """What one profiled call costs in this interpreter, so it can be taken back out.

    cProfile's per-call cost lands in the profiled functions' own time and inflates
    call-heavy Python code against waits and native work. Best of a few short rounds.
    With ``dispatch`` (a _PerThreadDispatch), the cost once events go through it.
    """
    def empty():
        pass

    best, callee = None, 0.0
    for _ in range(rounds):
        start = _cost_clock()
        for _ in range(calls):
            empty()
        plain = _cost_clock() - start
        profiler = cprofile.Profile()
        profiler.enable()
        if dispatch is not None and not dispatch.switch(profiler):
            profiler.disable()
            return None, 0.0
        start = _cost_clock()
        for _ in range(calls):
            empty()
        profiled = _cost_clock() - start
        profiler.disable()
        if dispatch is not None:
            dispatch.reset()
        cost = max(profiled - plain, 0.0) / calls
        if best is None or cost < best:
            best = cost
            own = [e.inlinetime for e in profiler.getstats() if e.code is empty.__code__]
            callee = own[0] / calls if own else 0.0
    return best or 0.0, _callee_share(callee, best or 0.0)


def _arithmetic(n):
    """Call-free code of cheap instructions: arithmetic, subscripts, comparisons, branches."""
    table = [0] * 16
    total = 0
    for i in range(n):
        k = i & 15
        table[k] += 1
        total += i * i % 7 if table[k] > 3 else -1
    return total


def _containers(n):
    """Call-free code of costlier instructions: building small dicts, tuples and strings."""
    rows = ()
    total = 0
    for i in range(n):
        row = {"id": i, "name": f"item-{i & 15}", "n": total}
        row["n"] += 1
        total = row["n"]
        if i & 15 == 0:
            rows += (row["name"],)
    return total


# The slow-down is measured on each kind of code; the least of them is taken out.
_SLOWDOWN_LOOPS = ((_arithmetic, 20000), (_containers, 10000))


def _bytecode_slowdown(enable, disable, rounds=3):
    """How much slower Python code runs between its calls while the profiler is on, at
    least: the least slow-down of a few kinds of code.

    On 3.11 an active profile hook sends every instruction down the interpreter's slow
    dispatch path, at about the same cost per instruction, so cheap instructions are
    slowed most: here, under cProfile, a loop of arithmetic, subscripts and branches
    1.9-2.3x, one building dicts and f-strings about 1.1-1.2x (3.10: about 1.3x for
    arithmetic; 3.12+, where cProfile uses sys.monitoring: about 1.0x). Which kind the
    target runs is not known, and a factor larger than its own takes real work out: a
    JSON export job, 0.55-0.76 s of CPU plain, came back as 0.34-0.40 s with the
    arithmetic loop's factor. The least factor never takes out more than the hook added;
    code of cheap instructions keeps some of the hook's cost as its own time instead.
    Best of a few short rounds each way, interleaved.
    """
    import gc

    factors = []
    collecting = gc.isenabled()
    gc.disable()  # a collection landing in one round and not the other is not the hook
    try:
        _slowdowns(enable, disable, rounds, factors)
    finally:
        if collecting:
            gc.enable()
    return max(min(factors), 1.0) if factors else 1.0


def _slowdowns(enable, disable, rounds, factors):
    for loop, n in _SLOWDOWN_LOOPS:
        plain, profiled = [], []
        for _ in range(rounds):
            start = _cost_clock()
            loop(n)
            plain.append(_cost_clock() - start)
            enable()
            try:
                start = _cost_clock()
                loop(n)
                profiled.append(_cost_clock() - start)
            finally:
                disable()
        if min(plain) > 0:
            factors.append(min(profiled) / min(plain))


def _callee_share(callee_per_call, cost_per_call):
    """The part of a profiled call's cost that lands in the callee's own time.

    The rest lands in the caller's own time: the hooks run between the caller's clock
    readings and the callee's. Knowing the split lets the table take each part back
    out of the row it inflated: a function making many cheap native calls (``len``,
    ``isinstance``: about 0.1 us of own time each under cProfile here, against about
    0.2 us of the hooks' cost landing in the caller) otherwise keeps most of their cost
    as its own CPU, the natives' own time being too small to take it from.
    """
    if cost_per_call <= 0:
        return 1.0
    return min(max(callee_per_call / cost_per_call, 0.0), 1.0)


def _ignore_event(*event):
    return None


class _DispatchTargets(threading.local):
    """The calling thread's own profiler's callbacks; threads without one get these."""

    start = leave = c_call = c_return = staticmethod(_ignore_event)


class _PerThreadDispatch:
    """3.12+: each thread's sys.monitoring events to that thread's own cProfile profiler.

    From 3.12 cProfile registers its own methods as the process-wide sys.monitoring
    callbacks, so every thread's calls land on one shadow call stack, and a second
    profiler cannot start. ``switch`` puts these callbacks in their place: each looks up
    the calling thread's profiler (a threading.local) and calls the method cProfile had
    registered for the event. The enabled profiler keeps its open calls and goes on with
    the thread that switched; a thread with no profiler (the snapshot thread) is ignored.
    A Python callback per event costs a few times cProfile's own per-call cost, so the
    backend switches only when the target starts its first thread.
    """

    # The method _lsprof (3.12, 3.13) registers per event, and how many arguments
    # sys.monitoring passes with that event.
    EVENTS = (("PY_START", "_pystart_callback", 2), ("PY_RESUME", "_pystart_callback", 2),
              ("PY_THROW", "_pystart_callback", 3), ("PY_RETURN", "_pyreturn_callback", 3),
              ("PY_YIELD", "_pyreturn_callback", 3), ("PY_UNWIND", "_pyreturn_callback", 3),
              ("CALL", "_ccall_callback", 4), ("C_RETURN", "_creturn_callback", 4),
              ("C_RAISE", "_creturn_callback", 4))

    def __init__(self):
        self.monitoring = sys.monitoring
        self.tool = sys.monitoring.PROFILER_ID
        self.targets = _DispatchTargets()
        forward = _dispatch_callbacks(self.targets)
        self.callbacks = [(getattr(self.monitoring.events, event), method, forward[method, args])
                          for event, method, args in self.EVENTS]
        self.mask = 0
        for event, _, _ in self.callbacks:
            self.mask |= event
        self.on = False

    def switch(self, profiler):
        """``profiler`` (enabled) gets this thread's events only from now on; False, and
        nothing changed, when cProfile did not register what this class expects."""
        mon = self.monitoring
        self.add(profiler)
        replaced = [mon.register_callback(self.tool, event, callback)
                    for event, _, callback in self.callbacks]
        expected = [getattr(profiler, method) for _, method, _ in self.callbacks]
        ancillary = mon.events.C_RETURN | mon.events.C_RAISE  # get_events leaves them out
        if mon.get_events(self.tool) | ancillary != self.mask or replaced != expected:
            for (event, _, _), old in zip(self.callbacks, replaced):
                mon.register_callback(self.tool, event, old)
            self.remove()
            return False
        self.on = True
        return True

    def add(self, profiler):
        """The calling thread's events go to ``profiler`` (never enabled itself)."""
        targets = self.targets
        targets.start, targets.leave = profiler._pystart_callback, profiler._pyreturn_callback
        targets.c_call, targets.c_return = profiler._ccall_callback, profiler._creturn_callback

    def remove(self):
        """The calling thread's events are ignored from now on."""
        try:
            del self.targets.start, self.targets.leave, self.targets.c_call, self.targets.c_return
        except AttributeError:
            pass

    def reset(self):
        """After the switched profiler's disable() (which took every callback off)."""
        self.remove()
        self.on = False

    def stop_switched(self, profiler, owner):
        """Stop the profiler that switched (its disable() counts its open calls) and go on
        dispatching to the other threads. disable() takes every callback off, so they go
        back in one C-driven sequence that no other thread's bytecode can interleave
        with. From another thread than its own, the process is ending: just stop."""
        if threading.get_ident() != owner:
            profiler.disable()
            return
        self.remove()
        mon = self.monitoring
        steps = [(profiler.disable,), (mon.use_tool_id, self.tool, "concadvisor")]
        steps += [(mon.register_callback, self.tool, event, callback)
                  for event, _, callback in self.callbacks]
        steps.append((mon.set_events, self.tool, self.mask))
        collections.deque(itertools.starmap(operator.call, steps), 0)

    def uninstall(self):
        """No callbacks left (a forked child runs unprofiled)."""
        mon = self.monitoring
        self.on = False
        if mon.get_tool(self.tool) == "concadvisor":
            mon.set_events(self.tool, 0)
            for event, _, _ in self.callbacks:
                mon.register_callback(self.tool, event, None)
            mon.free_tool_id(self.tool)


def _dispatch_callbacks(targets):
    """The sys.monitoring callbacks of _PerThreadDispatch, by (cProfile method, arguments):
    one argument list per event, since a ``*rest`` tuple per event costs (measured)."""

    def start(code, offset):
        targets.start(code, offset)

    def start_throw(code, offset, exception):
        targets.start(code, offset)

    def leave(code, offset, value):
        targets.leave(code, offset)

    def c_call(code, offset, callable, arg0):
        targets.c_call(code, offset, callable, arg0)

    def c_return(code, offset, callable, arg0):
        targets.c_return(code, offset, callable, arg0)

    return {("_pystart_callback", 2): start, ("_pystart_callback", 3): start_throw,
            ("_pyreturn_callback", 3): leave, ("_ccall_callback", 4): c_call,
            ("_creturn_callback", 4): c_return}


class _CProfileBackend:
    """cProfile in every thread: each thread's own profiler.

    Up to 3.11 each thread enables its own (sys.setprofile is per thread). From 3.12
    cProfile sits on sys.monitoring, which is process wide: one profiler runs while the
    target has one thread, and when it starts another, _PerThreadDispatch hands each
    thread's events to that thread's own profiler.
    """

    name = "cprofile"

    def __init__(self):
        import cProfile

        self._cprofile = cProfile
        self.records = []
        self.lock = threading.Lock()
        self.per_thread = sys.version_info < (3, 12)
        self.dispatch = None if self.per_thread else _PerThreadDispatch()
        self.merged = False  # True when threads ran but their calls were merged into one
        self.active = True  # False in a forked child
        self.main = None
        # Measured here, before the run's clock starts (30-50 ms on 3.12+).
        self.overhead_per_call, self.overhead_callee_share = _cprofile_overhead_per_call(cProfile)
        spare = cProfile.Profile()
        self.bytecode_slowdown = _bytecode_slowdown(spare.enable, spare.disable)
        self.dispatch_overhead = None  # per call with _PerThreadDispatch (3.12+)
        if self.dispatch is not None:
            self.dispatch_overhead, _ = _cprofile_overhead_per_call(
                cProfile, calls=10000, dispatch=self.dispatch)
        self.calls_before_dispatch = None  # the main thread's calls by function, at the switch

    def start(self):
        self.main = self._new_record(threading.current_thread())
        self._patch_threads()
        self.main.profiler.enable()

    def _new_record(self, thread):
        record = _ThreadRecord(thread.name, threading.get_ident(), self._cprofile.Profile(), _native_id())
        with self.lock:
            self.records.append(record)
        return record

    def _patch_threads(self):
        backend = self
        original = threading.Thread._bootstrap_inner

        def profiled_bootstrap_inner(thread):
            if not backend.active or not (backend.per_thread or backend.dispatch.on):
                return original(thread)
            record = backend._new_record(thread)
            if backend.per_thread:
                record.profiler.enable()
            else:
                backend.dispatch.add(record.profiler)
            try:
                original(thread)
            finally:
                if backend.per_thread:
                    record.profiler.disable()
                else:
                    backend.dispatch.remove()
                record.finish()

        threading.Thread._bootstrap_inner = profiled_bootstrap_inner
        if self.dispatch is None:
            return
        original_start = threading.Thread.start

        def start(thread):  # named as what it wraps: it shows up between the caller and start
            if backend.active and not backend.dispatch.on:
                backend._keep_threads_apart()
            return original_start(thread)

        threading.Thread.start = start

    def _keep_threads_apart(self):
        """The target starts a thread (3.12+): from now on each thread has its own profiler.
        Only from the main thread, whose profiler has been the only one so far."""
        if self.main is None or self.main.wall_end is not None or self.merged:
            return
        if threading.get_ident() != self.main.ident:
            return
        before = _calls_by_function(self.main.profiler)
        if self.dispatch.switch(self.main.profiler):
            self.calls_before_dispatch = before
        else:
            self.merged = True

    def stop(self):
        if self.main is not None and self.main.wall_end is None:
            if self.dispatch is not None and self.dispatch.on:
                self.dispatch.stop_switched(self.main.profiler, self.main.ident)
            else:
                self.main.profiler.disable()
            self.main.finish()

    def off_in_child(self):
        """A forked child runs unprofiled, and the threads it starts too."""
        self.active = False
        if not self.per_thread and self.main is not None:
            self.main.profiler.disable()
        if self.dispatch is not None:
            self.dispatch.uninstall()

    def threads(self):
        """Each thread's rows; threads still running are read as they stand."""
        return _cprofile_threads(self)


def _calls_by_function(profiler):
    """Calls per function so far, keyed as _cprofile_threads keys its rows (and with no
    call per entry: the profiler being read records them)."""
    counts = {}
    for entry in profiler.getstats():
        code = entry.code
        if code.__class__ is str:
            key = ("~", 0, code)
        else:
            key = (code.co_filename, code.co_firstlineno, code.co_name)
        counts[key] = counts[key] + entry.callcount if key in counts else entry.callcount
    return counts


def _read_running_clock(record):
    record.wall_end = time.perf_counter()
    if record.cpu_clock is not None:
        try:
            record.cpu_end = time.clock_gettime(record.cpu_clock)
        except OSError:
            record.cpu_end = None


# What the snapshot thread calls, bound before the target runs (it may patch modules).
_starmap = itertools.starmap
_perf_counter = time.perf_counter
_thread_time = time.thread_time
_sleep = time.sleep
_clock_gettime = getattr(time, "clock_gettime", None)
_open = io.open
_replace = os.replace
_join = "".join
_encode = str.encode
_gc_isenabled, _gc_disable, _gc_enable = gc.isenabled, gc.disable, gc.enable
_NO_ARGS = ((),)
SNAPSHOT_FIRST = 0.5      # seconds before the first snapshot: short runs pay nothing
SNAPSHOT_EVERY = float(_CONFIG.get("snapshot_every", 1.0))  # seconds between them at least
SNAPSHOT_COST_SHARE = 0.02  # ...and more when one costs more than 2% of the time between


def _cprofile_threads(backend, run=None, ready=None):
    """Every thread's rows as cProfile holds them now (running threads as they stand).

    With ``run``, this is instead the body of the snapshot thread: every so often it
    writes the same payload as the final save, flagged ``"snapshot": true``, until the
    final save. Nothing can be saved when the target is killed with SIGKILL (or dies
    in native code), so the last snapshot is what the tool reads then.

    From 3.12 cProfile sits on sys.monitoring, which is process wide and keeps one call
    stack for all threads (until the target starts a thread: _PerThreadDispatch then
    ignores this one): any call this thread made would be recorded in the middle of
    whatever the target was calling. So this function makes no call the profiler sees:
    no Python function, no builtin called from bytecode. Natives are called through
    itertools.starmap iterated by a for loop (C calling C), and one function holds all
    the work. Hence its unusual style; the final save runs the same code.
    """
    if ready is not None:  # started before the profiler: say so once this frame runs
        run.snapshotting = True
        for _ in _starmap(ready.release, _NO_ARGS):
            pass
    delay = SNAPSHOT_FIRST
    while True:
        if run is not None:
            for _ in _starmap(_sleep, ((delay,),)):
                pass
            for _ in _starmap(run.lock.acquire, _NO_ARGS):
                pass
            if run.saved:
                for _ in _starmap(run.lock.release, _NO_ARGS):
                    pass
                run.snapshotting = False
                return None
        for began in _starmap(_perf_counter, _NO_ARGS):
            pass
        for cpu_began in _starmap(_thread_time, _NO_ARGS):
            pass
        out = []
        try:
            for _ in _starmap(backend.lock.acquire, _NO_ARGS):
                pass
            try:
                records = list(backend.records)
            finally:
                for _ in _starmap(backend.lock.release, _NO_ARGS):
                    pass
            for record in records:
                wall_end, cpu = record.wall_end, record.cpu_end
                if wall_end is None:
                    wall_end = began
                    cpu = None
                    if record.cpu_clock is not None and _clock_gettime is not None:
                        try:
                            for cpu in _starmap(_clock_gettime, ((record.cpu_clock,),)):
                                pass
                        except OSError:
                            cpu = None
                if cpu is not None:
                    cpu = cpu - record.cpu_start
                # A collection here could run a finaliser that lets the profiled thread
                # change the profiler's tables halfway through reading them.
                for collecting in _starmap(_gc_isenabled, _NO_ARGS):
                    pass
                for _ in _starmap(_gc_disable, _NO_ARGS):
                    pass
                backend.gc_paused = collecting  # a fork now must turn it back on in the child
                try:
                    for entries in _starmap(record.profiler.getstats, _NO_ARGS):
                        pass
                finally:
                    if collecting:
                        for _ in _starmap(_gc_enable, _NO_ARGS):
                            pass
                    backend.gc_paused = False
                rows, functions, keys = {}, [], []
                for entry in entries:
                    code = entry.code
                    if code.__class__ is str:
                        key = ("~", 0, code)
                    else:
                        key = (code.co_filename, code.co_firstlineno, code.co_name)
                    keys += [key]
                    calls, primitive = entry.callcount, entry.callcount - entry.reccallcount
                    if key in rows:  # two code objects with one name and line
                        row = rows[key]
                        row["calls"] += calls
                        row["primitive_calls"] += primitive
                        row["self"] += entry.inlinetime
                        row["total"] += entry.totaltime
                    else:
                        row = {"file": key[0], "line": key[1], "name": key[2],
                               "primitive_calls": primitive, "calls": calls,
                               "self": entry.inlinetime, "total": entry.totaltime,
                               "callers": []}
                        rows[key] = row
                        functions += [row]
                edges = {}
                for entry, caller in zip(entries, keys):
                    if not entry.calls:
                        continue
                    for sub in entry.calls:
                        code = sub.code
                        if code.__class__ is str:
                            callee = ("~", 0, code)
                        else:
                            callee = (code.co_filename, code.co_firstlineno, code.co_name)
                        if callee not in rows:
                            continue
                        primitive = sub.callcount - sub.reccallcount
                        if (callee, caller) in edges:
                            edge = edges[(callee, caller)]
                            edge[3] += primitive
                            edge[4] += sub.totaltime
                        else:
                            edge = [caller[0], caller[1], caller[2], primitive, sub.totaltime]
                            edges[(callee, caller)] = edge
                            rows[callee]["callers"] += [edge]
                if backend.calls_before_dispatch is not None:
                    # Calls since the switch cost what _PerThreadDispatch costs.
                    before = backend.calls_before_dispatch
                    if record is not backend.main:
                        before = {}
                    single, apart = backend.overhead_per_call, backend.dispatch_overhead
                    for row in functions:
                        key = (row["file"], row["line"], row["name"])
                        early = before[key] if key in before else 0
                        if early > row["calls"]:
                            early = row["calls"]
                        row["overhead"] = early * single + (row["calls"] - early) * apart
                out += [{"name": record.name, "ident": record.ident,
                         "native_id": record.native_id, "merged": backend.merged,
                         "wall_seconds": wall_end - record.wall_start, "cpu_seconds": cpu,
                         "functions": functions}]
            if run is None:
                return out
            payload = dict(run.base)
            for now in _starmap(_perf_counter, _NO_ARGS):
                pass
            payload["snapshot"] = True
            payload["snapshots"] = run.snapshots + 1
            payload["exit_code"] = None
            payload["wall_seconds"] = now - run.wall_start
            state = backend.__dict__  # no getattr: it would be a call
            if "overhead_per_call" in state:
                payload["overhead_per_call"] = state["overhead_per_call"]
            if "dispatch_overhead" in state:
                payload["dispatch_overhead_per_call"] = state["dispatch_overhead"]
            if "overhead_callee_share" in state:
                payload["overhead_callee_share"] = state["overhead_callee_share"]
            if "bytecode_slowdown" in state:
                payload["bytecode_slowdown"] = state["bytecode_slowdown"]
            payload["threads"] = out
            if _usage_of is not None:
                for own in _starmap(_usage_of, ((_RUSAGE_SELF,),)):
                    pass
                for kids in _starmap(_usage_of, ((_RUSAGE_CHILDREN,),)):
                    pass
                payload["process_cpu_seconds"] = own.ru_utime + own.ru_stime - run.cpu_start[0]
                payload["children_cpu_seconds"] = kids.ru_utime + kids.ru_stime - run.cpu_start[1]
            for chunks in _starmap(_JSON_ENCODER, ((payload, 0),)):
                pass
            for text in _starmap(_join, ((chunks,),)):
                pass
            for data in _starmap(_encode, ((text, "ascii"),)):
                pass
            tmp = run.out + ".snap"
            for handle in _starmap(_open, ((tmp, "wb"),)):
                pass
            try:
                for _ in _starmap(handle.write, ((data,),)):
                    pass
            finally:
                for _ in _starmap(handle.close, _NO_ARGS):
                    pass
            for _ in _starmap(_replace, ((tmp, run.out),)):
                pass
            run.snapshots += 1
        except Exception:  # a snapshot is a bonus: never disturb the target for it
            if run is None:
                raise
        finally:
            if run is not None:
                for _ in _starmap(run.lock.release, _NO_ARGS):
                    pass
        for cpu_done in _starmap(_thread_time, _NO_ARGS):
            pass
        cost = cpu_done - cpu_began  # what the target lost: this thread held the GIL
        run.snapshot_seconds += cost
        delay = SNAPSHOT_EVERY
        if cost > SNAPSHOT_EVERY * SNAPSHOT_COST_SHARE:
            delay = cost / SNAPSHOT_COST_SHARE


def _not_json(value):
    raise TypeError("not JSON: %r" % (value,))


def _c_json_encoder():
    """json's C encoder, to be called with (value, 0): no Python frames while it runs."""
    try:
        from json import encoder

        if encoder.c_make_encoder is None:
            raise ImportError("_json")
        return encoder.c_make_encoder(None, _not_json, encoder.encode_basestring_ascii,
                                      None, ":", ",", False, False, True)
    except Exception:  # no _json: the plain encoder (its frames show up on 3.12+ only)
        return lambda value, level: (json.dumps(value),)


_JSON_ENCODER = _c_json_encoder()
try:
    import resource

    _usage_of = resource.getrusage
    _RUSAGE_SELF, _RUSAGE_CHILDREN = resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN
except ImportError:  # pragma: no cover - not POSIX
    _usage_of = None


def _start_snapshots(run):
    """Start the snapshot thread before the profiler starts (so it never sees its start).

    A bare ``_thread`` thread: the target's ``threading.enumerate()`` doesn't list it and
    interpreter shutdown doesn't wait for it.
    """
    if not run.out:
        return
    if isinstance(run.backend, _NoProfiler):
        # Sampled from outside: the samples are the profile; this file only needs to
        # exist (with the paths that tell the user's code apart) if the target is killed.
        payload = dict(run.base, snapshot=True, exit_code=None, threads=[])
        try:
            with open(run.out + ".snap", "w", encoding="ascii") as handle:
                handle.write(json.dumps(payload))
            os.replace(run.out + ".snap", run.out)
        except OSError:
            pass
        return
    if not isinstance(run.backend, _CProfileBackend) or SNAPSHOT_EVERY <= 0:
        return
    ready = _thread.allocate_lock()
    ready.acquire()
    _thread.start_new_thread(_cprofile_threads, (run.backend, run, ready))
    ready.acquire()


def _thread_payload(record, rows, merged):
    return {
        "name": record.name, "ident": record.ident, "native_id": record.native_id, "merged": merged,
        "wall_seconds": (record.wall_end or time.perf_counter()) - record.wall_start,
        "cpu_seconds": record.cpu_end - record.cpu_start if record.cpu_end is not None else None,
        "functions": rows,
    }


class _NoProfiler:
    """Runs the target with nothing inside it (an outside sampler does the measuring)."""

    name = "none"

    def start(self):
        self.wall_start = time.perf_counter()

    def stop(self):
        pass

    def threads(self):
        return []


class _YappiBackend:
    """yappi over every thread with the wall clock; each thread's CPU from its own clock.

    yappi has one clock per run. Wall time is what says where a thread waited; the
    threads' CPU clocks (read as the cProfile backend reads them) say how much of that
    wall time was computing, which is what classification settles unknown natives with.
    yappi's wall clock is coroutine aware: a coroutine's own time includes the time it
    was suspended in ``await`` (the tool takes that back out, see ``collect/yappi.py``).
    """

    name = "yappi"

    def __init__(self):
        import yappi

        self._yappi = yappi
        self.records = []
        self.lock = threading.Lock()
        self.main = None
        self.running = False
        # Measured here, before the run's clock starts.
        self.overhead_per_call, self.overhead_callee_share = _yappi_overhead_per_call(self._yappi)
        self.bytecode_slowdown = _bytecode_slowdown(lambda: _yappi_on(yappi), lambda: _yappi_off(yappi))

    def start(self):
        self.main = self._new_record(threading.current_thread())
        self._patch_threads()
        self._yappi.set_clock_type("wall")
        self._yappi.start(builtins=True, profile_threads=True)
        self.running = True

    def _new_record(self, thread):
        record = _ThreadRecord(thread.name, threading.get_ident(), None, _native_id())
        with self.lock:
            self.records.append(record)
        return record

    def _patch_threads(self):
        backend = self
        original = threading.Thread._bootstrap_inner

        def clocked_bootstrap_inner(thread):
            record = backend._new_record(thread)
            try:
                original(thread)
            finally:
                record.finish()

        threading.Thread._bootstrap_inner = clocked_bootstrap_inner

    def stop(self):
        if self.running:
            self.running = False
            self._yappi.stop()
        if self.main is not None and self.main.wall_end is None:
            self.main.finish()

    def threads(self):
        """Each yappi context (thread) with its rows, main thread first."""
        with self.lock:
            records = list(self.records)
        by_ident = {}
        for record in records:  # an ident can be reused: the latest thread wins
            by_ident[record.ident] = record
        out = []
        for stat in sorted(self._yappi.get_thread_stats(), key=lambda s: s.id):
            record = by_ident.get(stat.tid)
            if record is None:
                record = _ThreadRecord(stat.name, stat.tid, None, cpu_start=0.0)
                record.wall_end, record.wall_start = stat.ttot, 0.0
            elif record.wall_end is None:
                _read_running_clock(record)
            # filter, not ctx_id=: yappi reads ctx_id=0 (the main thread) as "all threads"
            stats = self._yappi.get_func_stats(filter={"ctx_id": stat.id})
            out.append(_thread_payload(record, _yappi_rows(stats), merged=False))
        main = [t for t in out if t["ident"] == self.main.ident]
        return main + [t for t in out if t["ident"] != self.main.ident]


def _yappi_on(yappi):
    """yappi on for a measurement: wall clock, builtins, this thread only."""
    yappi.set_clock_type("wall")
    yappi.start(builtins=True)


def _yappi_off(yappi):
    yappi.stop()
    yappi.clear_stats()


def _yappi_overhead_per_call(yappi, calls=20000, rounds=3):
    """yappi's own cost per profiled call here, taken back out as cProfile's is
    (``_cprofile_overhead_per_call``); yappi's is several times larger."""
    def empty():
        pass

    best, callee = None, 0.0
    try:
        for _ in range(rounds):
            start = _cost_clock()
            for _ in range(calls):
                empty()
            plain = _cost_clock() - start
            _yappi_on(yappi)
            start = _cost_clock()
            for _ in range(calls):
                empty()
            profiled = _cost_clock() - start
            yappi.stop()
            cost = max(profiled - plain, 0.0) / calls
            if best is None or cost < best:
                best = cost
                own = [s.tsub for s in yappi.get_func_stats()
                       if s.name == "empty" and s.lineno == empty.__code__.co_firstlineno]
                callee = own[0] / calls if own else 0.0
            yappi.clear_stats()
    finally:
        _yappi_off(yappi)
    return best or 0.0, _callee_share(callee, best or 0.0)


def _yappi_rows(stats):
    """One thread's yappi function stats as the cProfile backend's rows.

    Natives are named as cProfile names them, so one normaliser reads both; Python
    functions keep their bare code name (yappi prefixes the instance's class).
    """
    keys, rows = {}, {}
    for stat in stats:
        if stat.builtin:
            name = stat.name if stat.name.startswith("<") else "<built-in method %s.%s>" % (
                stat.module, stat.name)
            key = ("~", 0, name)
        else:
            key = (stat.module, stat.lineno, stat.name.rsplit(".", 1)[-1])
        keys[stat.index] = key
        rows[stat.index] = {
            "file": key[0], "line": key[1], "name": key[2],
            "primitive_calls": stat.nactualcall, "calls": stat.ncall,
            "self": stat.tsub, "total": stat.ttot, "callers": [],
        }
    for stat in stats:
        for child in stat.children:
            row = rows.get(child.index)
            if row is not None:
                row["callers"].append(list(keys[stat.index]) + [child.ncall, child.ttot])
    return list(rows.values())


def _make_backend(name):
    if name == "cprofile":
        return _CProfileBackend()
    if name == "yappi":
        return _YappiBackend()
    return _NoProfiler()


# Packages an in-target backend needs from the target's own environment. When one is
# missing there (a bare interpreter, a project venv without yappi), the run falls back
# to cProfile, which every Python has, and the saved file lists it under "missing".
_NEEDS = {"yappi": "yappi"}


def _choose_backend(name):
    """The backend to run, and the packages missing for the one asked for."""
    package = _NEEDS.get(name)
    try:
        if package:
            import importlib.util

            if importlib.util.find_spec(package) is None:
                raise ImportError(package)
        return _make_backend(name), []
    except ImportError:
        return _make_backend("cprofile"), [package or name]


class _Run:
    """The state that must be saved however the target ends."""

    def __init__(self):
        self.requested = _CONFIG.get("backend", "cprofile")
        self.backend, self.missing = _choose_backend(self.requested)
        self.exit_code = 0
        self.error = None
        self.signal = None
        self.wall_start = None
        self.cpu_start = (0.0, 0.0)  # own and children's CPU before the target's first line
        self.sched_start = {}  # every thread's schedstat then (see _schedstat_all)
        self.saved = False
        self.pid = os.getpid()
        self.out = _CONFIG.get("out")
        self.lock = threading.RLock()  # the final save and the snapshot thread take turns
        self.started = True  # False when the target failed before any of its code ran
        self.snapshots = 0
        self.snapshot_seconds = 0.0
        self.snapshotting = False  # the snapshot thread is running
        self.base = {}  # the fields every snapshot copies (set before the target starts)

    def payload(self):
        """Everything saved except the threads."""
        wall = time.perf_counter() - self.wall_start if self.wall_start else 0.0
        usage = [now - before for now, before in zip(_usage(), self.cpu_start)]
        return {
            "runner_version": 1,
            "backend": self.backend.name,
            "requested_backend": self.requested,
            "missing": self.missing,
            "python": "%d.%d.%d" % sys.version_info[:3],
            "python_executable": sys.executable,
            "gil_enabled": _gil_enabled(),
            "cpu_count": os.cpu_count() or 1,
            "pid": self.pid,
            "exit_code": self.exit_code,
            "error": self.error,
            "signal": self.signal,
            "started": self.started,
            "snapshot": False,
            "snapshots": self.snapshots,
            "snapshot_seconds": self.snapshot_seconds,
            "wall_seconds": wall,
            "process_cpu_seconds": usage[0],
            "children_cpu_seconds": usage[1],
            "library_paths": _library_paths(),
            "runner_file": _RUNNER_FILE,
            "overhead_per_call": getattr(self.backend, "overhead_per_call", 0.0),
            "dispatch_overhead_per_call": getattr(self.backend, "dispatch_overhead", None),
            "overhead_callee_share": getattr(self.backend, "overhead_callee_share", 1.0),
            "bytecode_slowdown": getattr(self.backend, "bytecode_slowdown", 1.0),
            "call_counts": _COUNTER.counts() if _COUNTER is not None else None,
            "socket_connects": _CONNECTS[0],
        }

    def save(self):
        """The final save, once, from whichever way the target ends."""
        if os.getpid() != self.pid:  # a forked child of the target: the file is the parent's
            return
        with self.lock:
            if self.saved:
                return
            self.saved = True
            _ignore_sigint()  # a second Ctrl-C must not cut the save short
            try:
                self.backend.stop()
            except Exception:
                pass
            payload = self.payload()
            payload["threads"] = self.backend.threads()
            end = _schedstat_all()
            end.update((str(tid), reading) for tid, reading in list(_SCHED_ENDED.items()))
            payload["schedstat"] = {"start": self.sched_start, "end": end}
            if not self.out:
                return
            tmp = self.out + ".tmp"
            with open(tmp, "w", encoding="ascii") as handle:
                handle.write(json.dumps(payload))
            os.replace(tmp, self.out)


def _ignore_sigint():
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except (ValueError, OSError):  # not the main thread
        pass


def _usage():
    try:
        import resource

        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime
    except Exception:
        return time.process_time(), 0.0


def _gil_enabled():
    check = getattr(sys, "_is_gil_enabled", None)
    return bool(check()) if check else True


def _library_paths():
    """Where the standard library and installed packages live (not the user's code)."""
    paths = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        try:
            paths.add(os.path.realpath(sysconfig.get_paths()[key]))
        except Exception:
            pass
    for entry in sys.path:
        if "site-packages" in entry or "dist-packages" in entry:
            paths.add(os.path.realpath(entry))
    return sorted(paths)


def _print_target_traceback(exc):
    """Show the target's failure as Python would (through ``sys.excepthook``, so a hook
    the target installed still runs), without the runner's and runpy's frames."""
    kept = []
    tb = exc.__traceback__
    while tb is not None:  # the target's frames only (the call counter's compile sits
        if not _is_tooling_frame(tb.tb_frame.f_code.co_filename):  # inside an import)
            kept.append(tb)
        tb = tb.tb_next
    try:
        for frame, following in zip(kept, kept[1:] + [None]):
            frame.tb_next = following
    except (AttributeError, TypeError):
        pass
    tb = kept[0] if kept else None
    exc.__traceback__ = tb  # the hook shows the exception's own traceback when tb is None
    try:
        sys.excepthook(type(exc), exc, tb)
    except Exception:
        try:
            traceback.print_exception(type(exc), exc, tb)
        except Exception:  # stderr closed or broken: nothing more to say
            pass


def _is_tooling_frame(filename):
    return (filename in (_RUNNER_FILE, _COUNTER_FILE) or filename.endswith(("runpy.py", "<frozen runpy>"))
            or filename.startswith("<frozen importlib"))


def _ran_target_code(exc):
    """Whether the exception passed through a frame of the target's own code.

    A syntax error in the script (or a file that can't be read) fails inside runpy
    before the first line of the target runs: then nothing of the target was measured.
    """
    tb = exc.__traceback__
    while tb is not None:
        if not _is_tooling_frame(tb.tb_frame.f_code.co_filename):
            return True
        tb = tb.tb_next
    return False


def _install_exit_hooks(run):
    real_exit = os._exit

    def saving_exit(code):
        if os.getpid() == run.pid:
            run.exit_code = code
            run.save()
        real_exit(code)

    os._exit = saving_exit

    def on_term(signum, frame):
        if os.getpid() == run.pid:
            _mark_saving(run)
            run.signal = signum
            run.exit_code = -signum
            run.save()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)

    try:
        previous = signal.signal(signal.SIGTERM, on_term)
    except (ValueError, OSError):
        previous = None
    # The terminal closing (SIGHUP) ends the target as SIGTERM does, saved first; under
    # nohup SIGHUP stays ignored, as it would be for the plain program.
    try:
        previous_hup = signal.getsignal(signal.SIGHUP)
        if previous_hup == signal.SIG_DFL:
            signal.signal(signal.SIGHUP, on_term)
    except (AttributeError, ValueError, OSError):
        previous_hup = None

    def in_forked_child():
        """A fork of the target (multiprocessing workers...) runs as it would unprofiled:
        the plain os._exit and SIGTERM, no profiler, and it never writes the run's file."""
        os._exit = real_exit
        try:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
            if previous_hup is not None:
                signal.signal(signal.SIGHUP, previous_hup)
        except (ValueError, OSError, TypeError):
            pass
        try:
            sys.setprofile(None)
            backend = run.backend
            if isinstance(backend, _CProfileBackend):
                backend.off_in_child()
        except Exception:
            pass
        # The snapshot thread is gone in the child: what it held must not stay held.
        run.lock = threading.RLock()
        if hasattr(run.backend, "lock"):
            run.backend.lock = threading.Lock()
        if getattr(run.backend, "gc_paused", False):
            gc.enable()
        _fork_warning_back()

    if hasattr(os, "register_at_fork"):
        os.register_at_fork(before=lambda: _hide_fork_warning(run), after_in_child=in_forked_child)


_FORK_WARNING = []


def _hide_fork_warning(run):
    """From 3.12 os.fork() warns when the process has threads. When the only other thread
    is the snapshot thread, the target would not have seen that warning: hide it. The
    filter stays until the next fork decides again (3.13 warns after the after-fork hooks)."""
    _fork_warning_back()
    if sys.version_info < (3, 12) or not run.snapshotting:
        return
    try:
        with open("/proc/self/status") as status:
            threads = [int(line.split()[1]) for line in status if line.startswith("Threads:")]
    except (OSError, ValueError, IndexError):
        return
    if threads and threads[0] <= 2:
        import warnings

        warnings.filterwarnings("ignore", message=r"This process \(pid=\d+\) is multi-threaded",
                                category=DeprecationWarning)
        _FORK_WARNING.append(warnings.filters[0])


def _fork_warning_back():
    """Take the filter out again (an ignore filter leaves nothing cached behind it)."""
    if not _FORK_WARNING:
        return
    import warnings

    while _FORK_WARNING:
        try:
            warnings.filters.remove(_FORK_WARNING.pop())
        except ValueError:
            pass
    mutated = getattr(warnings, "_filters_mutated", None)
    if mutated is not None:
        mutated()


def _mark_saving(run):
    """Tell the tool, waiting to kill us after SIGTERM, that the save has begun."""
    if run.out:
        try:
            with open(run.out + ".saving", "w"):
                pass
        except OSError:
            pass


def _exit_by_sigint():
    """End as Python ends on an uncaught KeyboardInterrupt: killed by SIGINT."""
    try:
        sys.stdout.flush()
    except Exception:
        pass
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1.0)
    except Exception:
        pass
    return 130


def _wait_for_go(path, limit=15.0):
    """Hold the target until the outside samplers are attached, so they see all of it.

    ``PATH.ready`` tells the tool the interpreter is up (a sampler attaching earlier
    finds no interpreter yet and retries, late). The tool then writes "go" (or "abort", when they could not attach) to ``path``. The
    samplers attach with ptrace; where Yama restricts that to ancestors, this process
    lets any process of the same user trace it (Linux, best effort).
    """
    if not path:
        return True
    _allow_ptrace()
    try:  # the interpreter is up: samplers attaching now find it
        with open(path + ".ready", "w", encoding="utf-8") as handle:
            handle.write(str(os.getpid()))
    except OSError:
        pass
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            with open(path, encoding="utf-8") as handle:
                word = handle.read().strip()
        except OSError:
            word = ""
        if word:
            return word == "go"
        time.sleep(0.002)
    return True


_COUNTER = None


def _start_counting():
    """Count calls of the user's own functions and loops (``call_counter.py``, loaded by
    path: it is stdlib-only too). Sampled runs use it for what samples cannot count."""
    global _COUNTER
    script_folder = sys.path.pop(0)  # the stdlib modules it imports, not the user's namesakes
    try:
        import importlib.util

        path = os.path.join(os.path.dirname(_RUNNER_FILE), "call_counter.py")
        spec = importlib.util.spec_from_file_location("_concadvisor_call_counter", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        module.install(module.user_file_test(_library_paths(), [_RUNNER_FILE, path]), runpy)
        _COUNTER = module
    except Exception:
        _COUNTER = None
    finally:
        sys.path.insert(0, script_folder)


def _allow_ptrace():
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        pr_set_ptracer, pr_set_ptracer_any = 0x59616D61, ctypes.c_ulong(-1)
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_ptracer, pr_set_ptracer_any, 0, 0, 0)
    except Exception:
        pass


# Connections the target opened, through any client (a blocking socket, asyncio's
# sock_connect, aiohttp, a database driver written in Python): the ``socket.connect``
# audit event fires for each, whatever the backend sees of the call.
_CONNECTS = [0]


def _count_connects(event, args):
    if event == "socket.connect":
        _CONNECTS[0] += 1


def main():
    if len(sys.argv) < 2:
        sys.stderr.write("target_runner: no target given\n")
        return 2
    target = sys.argv[1]
    mode = _CONFIG.get("mode", "script")
    sys.argv = sys.argv[1:]
    if mode == "module":
        sys.path[0] = os.getcwd()
    else:
        sys.path[0] = os.path.dirname(os.path.abspath(target))
    run = _Run()
    if _CONFIG.get("count_calls"):
        _start_counting()  # before the start signal: its imports are not the target's time
    try:
        if not _wait_for_go(_CONFIG.get("go")):
            return 0
    except KeyboardInterrupt:  # Ctrl-C before the target started: no traceback of ours
        return _exit_by_sigint()
    _install_exit_hooks(run)
    run.base = run.payload()
    _start_snapshots(run)
    if _COUNTER is not None:
        _COUNTER.start()  # counters weigh their cost against the target's time from now
    run.cpu_start = _usage()
    run.sched_start = _schedstat_all()
    run.wall_start = time.perf_counter()
    if hasattr(sys, "addaudithook"):
        sys.addaudithook(_count_connects)
    run.backend.start()
    failure = None
    try:
        if mode == "module":
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:  # absolute, as Python gives the main script's __file__ and tracebacks
            runpy.run_path(os.path.abspath(target), run_name="__main__")
    except SystemExit as exc:
        code = exc.code
        if code is None:
            run.exit_code = 0
        elif isinstance(code, int):
            run.exit_code = code
        else:
            try:
                sys.stderr.write("%s\n" % (code,))
            except Exception:
                pass
            run.exit_code = 1
    except BaseException as exc:  # the target's own failure: report it like Python would
        failure = exc
    finally:
        run.backend.stop()
    if failure is not None:
        run.started = _ran_target_code(failure)
        run.error = _describe(failure)
        _print_target_traceback(failure)
        if isinstance(failure, KeyboardInterrupt):
            run.exit_code, run.signal = -signal.SIGINT, signal.SIGINT
        else:
            run.exit_code = 1
    try:
        _wait_for_threads()
    except KeyboardInterrupt:  # Ctrl-C while waiting for the target's threads
        run.exit_code, run.signal = -signal.SIGINT, signal.SIGINT
        run.error = run.error or "KeyboardInterrupt"
    run.save()
    if run.signal == signal.SIGINT:
        return _exit_by_sigint()
    try:
        sys.stdout.flush()
    except Exception:
        pass
    return run.exit_code


def _describe(exc):
    """One line for the report: ``ValueError: message`` (kept short)."""
    try:
        text = str(exc)
    except Exception:
        text = ""
    line = "%s: %s" % (type(exc).__name__, text) if text else type(exc).__name__
    line = " ".join(line.split())
    return line if len(line) <= 300 else line[:297] + "..."


def _wait_for_threads():
    """Join non-daemon threads first, as the interpreter would at exit."""
    for thread in threading.enumerate():
        if thread is threading.current_thread() or thread.daemon:
            continue
        try:
            thread.join()
        except Exception:
            pass


if __name__ == "__main__":
    raise SystemExit(main())
