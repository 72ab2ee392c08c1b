"""Measure a block of code in this process (``with advise():``, the Jupyter magic).

The CLI runs a script in a child process of its own; a block runs here, among the
caller's threads, so it is measured here. Under the default backend three py-spy
samplers watch this process from outside, as ``attach`` watches another one, from the
block's first line to its last. Where py-spy cannot watch its own process (not
installed, ptrace not allowed, an interpreter it does not read) one line on stderr says
why and cProfile measures the block from inside, as the runner does for a script: each
thread's own profiler and CPU clock (threads that were running before the block are not
profiled then).

What the runner records for a script is recorded for the block: its wall time, the
process's CPU and its children's (rusage), every thread's run-queue wait (schedstat),
and exact calls of the user's own functions (``loaded_counts``). Nothing of the tool runs
in the process meanwhile: the samplers and the run-queue poller are processes of their
own (a thread here would take the GIL from the block's threads). The outcome is the
``Measurement`` a script gives, for the same ``pipeline.analyse``.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..api import say_on_stderr
from .pyspy import PySpyUnavailable

if TYPE_CHECKING:
    from ..table import Measurement

BACKENDS = ("auto", "pyspy", "cprofile", "yappi")
PACKAGE = Path(__file__).resolve().parent.parent
# The frames of these files are the tool starting and stopping, never the block: a
# sample that went through one of them is left out (named as imported, and resolved).
TOOL_FILES = frozenset(str(folder / name)
                       for folder in (Path(os.path.abspath(__file__)).parent.parent, PACKAGE)
                       for name in ("api.py", "collect/inprocess.py", "collect/loaded_counts.py"))
STOP_SECONDS = 5.0  # for the samplers to write their files once asked to stop


class Block:
    """One measured block: ``start()`` before its first line, ``stop()`` after its last
    (also when it raised), which returns the Measurement. ``close()`` ends whatever is
    still running; ``stop`` calls it too."""

    def __init__(self, backend: str = "auto", label: str = "block", count_calls: bool = True,
                 namespaces: tuple = (), first_file: str | None = None, say=None):
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r} (choose from {', '.join(BACKENDS)})")
        self.requested = backend
        self.label = label
        self.count_calls = count_calls
        self.namespaces = namespaces
        self.first_file = first_file
        self.say = say or say_on_stderr
        self.notes: list[str] = []
        self.pid = os.getpid()
        self.tid = threading.get_native_id()
        self.backend = ""
        self.watch = None
        self.counter = None
        self.poller = None
        self.sched_start: dict = {}
        self.usage_start = (0.0, 0.0)
        self.wall_start = 0.0

    # --- start ------------------------------------------------------------------------
    def start(self) -> "Block":
        try:
            if self.count_calls and self.requested in ("auto", "pyspy"):
                # samples cannot count calls; a profiler inside counts them itself
                from .loaded_counts import LoadedCounts

                self.counter = LoadedCounts(is_user_file(library_paths()), self.namespaces,
                                            first_file=self.first_file)
                self.counter.start()
            self.watch = self._watch()
            if self.backend != "pyspy" and self.counter is not None:
                self.counter.close()
                self.counter = None
            self.poller = _PollerProcess(self.pid, self.watch.pids())
            self.sched_start = _schedstat_now(self.pid)
            self.usage_start = _usage()
            self.watch.begin()
            self.wall_start = time.perf_counter()
        except BaseException:
            self.close()
            raise
        return self

    def _watch(self):
        """The samplers, attached; else the in-process profiler, saying why in one line."""
        backend = self.requested
        if backend in ("auto", "pyspy"):
            from .interpreter import own
            from .pyspy import unavailable_reason

            problem = unavailable_reason(own())
            if not problem:
                watch = _Sampled(self.pid)
                try:
                    watch.attach()
                    self.backend = "pyspy"
                    return watch
                except (OSError, PySpyUnavailable) as exc:
                    watch.close()
                    problem = str(exc)
            said = f"{problem}; measured the block with cprofile instead"
            self.say(f"concadvisor: {said}")
            self.notes.append(said)
            backend = "cprofile"
        self.backend = backend
        return _Inside(backend)

    # --- stop -------------------------------------------------------------------------
    def stop(self, error: BaseException | None = None) -> Measurement:
        """The measurement of the block (``error``: what it raised, if it did)."""
        wall = time.perf_counter() - self.wall_start
        try:
            usage = _usage()  # before the samplers are reaped: their CPU is not the block's
            sched_end = _schedstat_now(self.pid)
            self.watch.end()
            counts = self.counter.stop() if self.counter is not None else []
            if self.poller is not None:
                self.poller.stop()
            raw = {"schedstat": {"start": self.sched_start, "end": sched_end}}
            measurement = self.watch.measurement(self, wall, run_queue=self._run_queue(raw), counts=counts)
        finally:
            self.close()
        cpu = [now - before for now, before in zip(usage, self.usage_start)]
        measurement.children_cpu_seconds = max(cpu[1], 0.0)
        measurement.process_cpu_seconds = max(cpu[0], 0.0)
        measurement.notes[:0] = self.notes
        said = self.counter.note() if self.counter is not None else None
        if said:
            measurement.notes.append(said)
        measurement.target = self._target(error)
        return measurement

    def close(self) -> None:
        """End the samplers and the poller, put counted code back (idempotent)."""
        for part in (self.watch, self.counter, self.poller):
            if part is not None:
                try:
                    part.close()
                except Exception:
                    pass

    def _run_queue(self, raw: dict) -> dict:
        """``schedstat.run_queue`` of the block (the poller left the samplers out)."""
        from .schedstat import run_queue

        return run_queue(raw, self.poller if self.poller is not None and self.poller.seen else None)

    def _target(self, error: BaseException | None) -> dict:
        interrupted = isinstance(error, KeyboardInterrupt)
        exit_code = 130 if interrupted else (1 if error is not None else 0)
        if isinstance(error, SystemExit):  # sys.exit() in the block: its code, as the CLI reports it
            code = error.code
            exit_code, error = (code if isinstance(code, int) else (0 if code is None else 1)), None
        return {
            "argv": [self.label], "exit_code": exit_code,
            "timed_out": False, "python": "%d.%d.%d" % sys.version_info[:3],
            "gil_enabled": _gil_enabled(), "cpu_count": os.cpu_count() or 1,
            "python_executable": sys.executable, "signal": None, "interrupted": interrupted,
            "error": None if error is None or interrupted else describe(error), "pid": self.pid,
            "block": True,
        }


class _PollerProcess:
    """``schedstat_process`` watching this process (a poller thread here would take the
    GIL from the block's threads); ``stop()`` reads what it saw, as a Poller holds it."""

    def __init__(self, pid: int, ignored: set[int]):
        from .schedstat import available

        self.first: dict = {}
        self.last: dict = {}
        self.children: dict = {}
        self.seen = False
        self.process = None
        self.pid = 0
        if not available():
            return
        script = Path(__file__).with_name("schedstat_process.py")
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-S", str(script), str(pid), *map(str, sorted(ignored))],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                start_new_session=True)
            self.pid = self.process.pid
        except OSError:
            self.process = None

    def pids(self) -> set[int]:
        return {self.pid} if self.pid else set()

    def stop(self) -> None:
        import json

        process, self.process = self.process, None
        if process is None:
            return
        try:
            out, _ = process.communicate(input=b"", timeout=STOP_SECONDS)
            found = json.loads(out.decode().strip().splitlines()[-1])
        except (subprocess.TimeoutExpired, OSError, ValueError, IndexError):
            process.kill()
            process.wait()
            return
        self.first = {int(tid): tuple(r) for tid, r in found["first"]}
        self.last = {int(tid): tuple(r) for tid, r in found["last"]}
        self.children = {(int(child), int(tid)): tuple(r) for child, tid, r in found["children"]}
        self.seen = True

    def close(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            process.kill()
            process.wait()


# --- the default: py-spy watching this process -------------------------------------------

class _Sampled:
    """Three py-spy samplers on this process, in a session of their own (the terminal's
    Ctrl-C is the program's, not theirs), stopped at the block's end."""

    def __init__(self, pid: int):
        from .interpreter import own
        from .pyspy import FOLLOW_CHILDREN, Samplers, nonblocking_for

        self.pid = pid
        self.folder = tempfile.mkdtemp(prefix="concadvisor-block-")
        self.samplers = Samplers(pid, self.folder, nonblocking=nonblocking_for(own()),
                                 subprocesses=FOLLOW_CHILDREN, own_session=True)
        self.ptrace = None

    def attach(self) -> None:
        self.ptrace = _allow_ptrace(True)
        self.samplers.start()
        problem = self.samplers.wait_attached()
        if problem:
            raise PySpyUnavailable(problem)

    def begin(self) -> None:
        pass

    def end(self) -> None:
        """Ask the samplers to stop (SIGINT: they write their files), kill any that won't."""
        processes = list(self.samplers.processes.values())
        for process in processes:
            if process.poll() is None:
                try:
                    process.send_signal(signal.SIGINT)
                except OSError:
                    pass
        deadline = time.monotonic() + STOP_SECONDS
        for process in processes:
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.05))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def pids(self) -> set[int]:
        return {p.pid for p in self.samplers.processes.values()}

    def close(self) -> None:
        """Nothing of the samplers is left: processes killed and reaped, files removed."""
        self.samplers.stop()
        if self.ptrace:
            _allow_ptrace(False)
            self.ptrace = None
        import shutil

        shutil.rmtree(self.folder, ignore_errors=True)

    def measurement(self, block: Block, wall: float, run_queue: dict, counts) -> Measurement:
        from . import children
        from .counts import merge_counts
        from .pyspy import SAMPLERS, sampling_notes
        from .samples import measurement_from_samples

        sampling = self.samplers.sampling(self.pid, wall)
        # the poller is a Python child, and each helper was a copy of this process between
        # its fork and its exec, which a sampler already following children may have caught
        helpers = self.pids() | (block.poller.pids() if block.poller is not None else set())
        for view in (sampling.every, sampling.active, sampling.gil):
            view[:] = [t for t in view if t.pid not in helpers]
            for thread in view:  # the tool starting and stopping: no sample (an empty stack)
                thread.stacks = [() if _through_the_tool(stack) else _below_the_tool(stack)
                                 for stack in thread.stacks]
        if block.tid != self.pid:  # the block's thread is the one the split is of
            _swap_threads(sampling, run_queue, block.tid, self.pid)
        paths = library_paths()
        measurement = measurement_from_samples(sampling, library_paths=paths, run_queue=run_queue)
        measurement.extra["children"] = children.describe(
            sampling, measurement.extra.get("sample_interval", 1.0 / sampling.rate),
            paths=[self.samplers.output(kind) for kind in SAMPLERS], library_paths=paths,
            poller=block.poller, target_command=block.label)
        counted = merge_counts(measurement, counts or [])
        measurement.notes.extend(sampling_notes(sampling, measurement, counted))
        return measurement


def _through_the_tool(stack) -> bool:
    return any(frame[1] in TOOL_FILES for frame in stack)


PACKAGE_FOLDERS = tuple({str(folder) + os.sep
                         for folder in (Path(os.path.abspath(__file__)).parent.parent, PACKAGE)})


def _below_the_tool(stack: tuple) -> tuple:
    """The frames the block runs, below the tool's own (the magic runs a cell from its
    frame: the notebook's machinery and the cell that called the magic are not the
    measured code)."""
    for depth in range(len(stack) - 1, -1, -1):
        if stack[depth][1].startswith(PACKAGE_FOLDERS):
            return stack[depth + 1:]
    return stack


def _swap_threads(sampling, run_queue: dict, block_tid: int, pid: int) -> None:
    """Give the block's thread the process's id, where the samples say "main thread"."""
    swap = {block_tid: pid, pid: block_tid}
    for view in (sampling.every, sampling.active, sampling.gil):
        for thread in view:
            if thread.pid in (0, pid) and thread.tid in swap:
                thread.tid = swap[thread.tid]
    for key in ("threads", "measured_threads", "on_cpu"):
        found = run_queue.get(key)
        if found:
            run_queue[key] = {swap.get(tid, tid): v for tid, v in found.items()}


PR_SET_PTRACER, PR_SET_PTRACER_ANY = 0x59616D61, -1


def _allow_ptrace(allow: bool) -> bool:
    """Where Yama lets a process be traced by its ancestors only, let the samplers (this
    process's children) read it for the block; taken back afterwards. Linux only."""
    if not sys.platform.startswith("linux") or not os.path.exists("/proc/sys/kernel/yama/ptrace_scope"):
        return False
    try:
        import ctypes

        who = ctypes.c_ulong(PR_SET_PTRACER_ANY if allow else 0)
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PTRACER, who, 0, 0, 0) == 0
    except Exception:
        return False


# --- the fallback: a profiler inside --------------------------------------------------------

class _Inside:
    """The runner's own cProfile (or yappi) backend, run in this process for the block:
    the same per-thread profilers, clocks and cost corrections as for a script. Thread
    start-up is patched for the block only."""

    def __init__(self, name: str):
        self.runner = runner_module()
        self.name = name
        self.profiler = None
        self.patched = {}

    def begin(self) -> None:
        backend, missing = self.runner._choose_backend(self.name)
        self.missing = missing
        self.patched = {name: getattr(threading.Thread, name) for name in ("_bootstrap_inner", "start")}
        self.profiler = backend
        backend.start()
        if getattr(backend, "dispatch", None) is not None and threading.active_count() > 1:
            # 3.12+: cProfile's hooks are process-wide; with threads already running here,
            # each thread's events go to its own profiler from the first line on
            backend._keep_threads_apart()

    def end(self) -> None:
        profiler = self.profiler
        if profiler is None:
            return
        try:
            profiler.stop()
        finally:
            self._unpatch()
        if getattr(profiler, "dispatch", None) is not None:  # 3.12+: sys.monitoring's tool freed
            profiler.active = False
            profiler.dispatch.uninstall()

    def _unpatch(self) -> None:
        for name, original in self.patched.items():
            setattr(threading.Thread, name, original)
        self.patched = {}

    def pids(self) -> set[int]:
        return set()

    def close(self) -> None:
        if self.patched:
            try:
                self.end()
            except Exception:
                self._unpatch()

    def measurement(self, block: Block, wall: float, run_queue: dict, counts) -> Measurement:
        profiler = self.profiler
        threads = profiler.threads()
        if block.tid != threading.get_native_id():  # the block's work ran in another thread: first
            threads.sort(key=lambda t: t.get("native_id") != block.tid)
        raw = {
            "backend": profiler.name, "threads": threads, "wall_seconds": wall,
            "overhead_per_call": getattr(profiler, "overhead_per_call", 0.0),
            "overhead_callee_share": getattr(profiler, "overhead_callee_share", 1.0),
            "bytecode_slowdown": getattr(profiler, "bytecode_slowdown", 1.0),
            "library_paths": library_paths(), "runner_file": self.runner.__file__,
        }
        if profiler.name == "yappi":
            from .yappi import measurement_from_raw

            measurement = measurement_from_raw(raw, run_queue=run_queue)
        else:
            from .cprofile import measurement_from_raw

            measurement = measurement_from_raw(raw, run_queue=run_queue)
        if self.missing:
            measurement.notes.append(f"{', '.join(self.missing)} is not installed here; measured with "
                                     f"{profiler.name} instead")
        if profiler.name == "cprofile":
            measurement.notes.append("cProfile profiled the block's thread and the threads it started; "
                                     "threads already running before the block are not in the profile")
        return measurement


_RUNNER = []


def runner_module():
    """``target_runner.py`` loaded as a module (it is stdlib-only, and runs nothing when
    imported): its backends are what profiles a script, so they profile the block."""
    if not _RUNNER:
        import importlib.util

        from .launch import RUNNER

        spec = importlib.util.spec_from_file_location("_concadvisor_runner", RUNNER)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _RUNNER.append(module)
    return _RUNNER[0]


# --- what the runner reads for a script, read here ------------------------------------------

def library_paths() -> list[str]:
    """The standard library, installed packages and concadvisor itself: not the user's code."""
    paths = {str(PACKAGE)}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        try:
            paths.add(os.path.realpath(sysconfig.get_paths()[key]))
        except (KeyError, OSError):
            pass
    paths.update(os.path.realpath(entry) for entry in sys.path
                 if "site-packages" in entry or "dist-packages" in entry)
    return sorted(paths)


def is_user_file(paths: list[str]):
    """A predicate: is this file the user's own code (a source file, not a library's)?"""
    roots = tuple(os.path.join(p, "") for p in paths)

    def test(filename) -> bool:
        if not isinstance(filename, str) or not filename.endswith(".py") or filename.startswith("<"):
            return False
        real = os.path.realpath(filename)
        return not real.startswith(roots) and os.path.isfile(real)

    return test


def _usage() -> tuple[float, float]:
    """(this process's CPU seconds, its waited-for children's), rusage."""
    try:
        import resource

        own = resource.getrusage(resource.RUSAGE_SELF)
        kids = resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime
    except (ImportError, OSError):
        return time.process_time(), 0.0


def _schedstat_now(pid: int) -> dict:
    """Every thread's schedstat as the runner saves it: {"tid": [on CPU, waiting, slices]}."""
    from .schedstat import process_threads

    return {str(tid): list(reading) for tid, reading in process_threads(pid).items()}


def _gil_enabled() -> bool:
    check = getattr(sys, "_is_gil_enabled", None)
    return bool(check()) if check else True


def describe(exc: BaseException) -> str:
    """``ValueError: message`` on one line, kept short (as the runner says it)."""
    try:
        text = str(exc)
    except Exception:
        text = ""
    line = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    line = " ".join(line.split())
    return line if len(line) <= 300 else line[:297] + "..."
