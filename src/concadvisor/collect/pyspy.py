"""py-spy: sample the target from outside its process, at a cost to it of almost nothing.

Three ``py-spy record`` samplers watch the same process at 250 Hz (100 Hz where they
have to pause it; see ``samples`` for what each one tells). For ``profile`` the target
runs under the runner with nothing in it, held at the start until all three have
attached, so they see the whole run. For ``attach`` they watch a running process for a
fixed time and leave it running.

py-spy writes its own messages to stdout: they go to files here, never to the user.
When py-spy cannot sample (not installed, no ptrace permission, an interpreter it does
not read such as a free-threaded build), ``PySpyUnavailable`` says why in one line and
the caller measures with another backend.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # samples builds pandas tables: imported once there is something to build
    from .samples import Sampling

# py-spy spaces its samples at random (a Poisson process, against aliasing), so a phase of
# 0.5 s gets 50 +- 7 samples at 100 Hz: a share moves by about 0.05 from run to run on a
# 1.5 s program. At 250 Hz it moves by about 0.03; without pauses the samplers' cost to
# the target stays unmeasurable here. A sampler that pauses the target keeps 100 Hz.
RATE = 250
PAUSING_RATE = 100
# What each sampler keeps: every sample, the active ones, those holding the GIL.
SAMPLERS = {"every": ["--idle"], "active": [], "gil": ["--gil"]}
ATTACH_SECONDS = 10.0
FINISH_SECONDS = 10.0
# py-spy 0.4 reads CPython 3.9 to 3.13 with the GIL; not PyPy, not free-threaded builds.
NEWEST_PYTHON = (3, 13)
# From 3.11 py-spy tells idle threads from active ones without pausing the process
# (--nonblocking: the target never stops, the samplers keep an even pace). Before 3.11
# it needs the pause: without it every sleeping thread counts as active.
NONBLOCKING_FROM = (3, 11)
# ``profile`` follows the target's child processes (``--subprocesses``: one profile per
# process and thread), classified one by one in ``children``; CONCADVISOR_CHILDREN=0 stops it.
FOLLOW_CHILDREN = os.environ.get("CONCADVISOR_CHILDREN", "1") != "0"


class PySpyUnavailable(RuntimeError):
    """py-spy cannot sample this target here; the message is one line for the user."""


def binary() -> str | None:
    """``CONCADVISOR_PYSPY`` if set (a path, or empty for none), else the py-spy next to
    our interpreter (the same virtualenv), else the one on PATH."""
    chosen = os.environ.get("CONCADVISOR_PYSPY")
    if chosen is not None:
        return chosen if chosen and os.access(chosen, os.X_OK) else None
    beside = Path(sys.executable).with_name("py-spy")
    if beside.exists() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("py-spy")


def unavailable_reason(interpreter=None) -> str | None:
    """Why py-spy cannot sample a process of ``interpreter`` here (None: it can). Cheap:
    no process is started."""
    if binary() is None:
        return "py-spy is not installed"
    if interpreter is not None:
        if interpreter.implementation != "cpython":
            return f"py-spy samples CPython only, the target runs {interpreter.implementation}"
        if not interpreter.gil_enabled:
            return "py-spy does not read free-threaded Python builds"
        if tuple(interpreter.version_info[:2]) > NEWEST_PYTHON:
            return f"py-spy reads Python up to {'.'.join(map(str, NEWEST_PYTHON))}, the target runs {interpreter.version}"
    return _ptrace_problem()


def _ptrace_problem() -> str | None:
    if sys.platform == "darwin" and os.geteuid() != 0:
        return "py-spy needs root on macOS"
    if not sys.platform.startswith("linux"):
        return None
    try:
        scope = int(Path("/proc/sys/kernel/yama/ptrace_scope").read_text().strip())
    except (OSError, ValueError):
        return None
    if scope >= 3 or (scope == 2 and os.geteuid() != 0):
        return f"ptrace is restricted here (kernel.yama.ptrace_scope={scope})"
    return None


class Samplers:
    """The three py-spy processes watching one process; their output goes to ``folder``."""

    def __init__(self, pid: int, folder: str, duration: float | None = None,
                 subprocesses: bool = False, rate: int | None = None, nonblocking: bool = True,
                 own_session: bool = False, kinds: dict | None = None):
        self.pid, self.folder, self.duration = pid, folder, duration
        self.kinds = SAMPLERS if kinds is None else kinds
        # A sampler watching its own parent (``with advise():``) is kept out of the
        # terminal's process group: Ctrl-C meant for the program must not end it early.
        self.own_session = own_session
        self.rate = rate or (RATE if nonblocking else PAUSING_RATE)
        self.subprocesses, self.nonblocking = subprocesses, nonblocking
        self.processes: dict[str, subprocess.Popen] = {}

    def output(self, kind: str) -> str:
        return os.path.join(self.folder, f"{kind}.speedscope.json")

    def _log(self, kind: str) -> str:
        return os.path.join(self.folder, f"{kind}.log")

    def start(self) -> None:
        exe = binary()
        if exe is None:
            raise PySpyUnavailable("py-spy is not installed")
        for kind, flags in self.kinds.items():
            command = [exe, "record", "--pid", str(self.pid), "--rate", str(self.rate),
                       "--format", "speedscope", "--full-filenames", "--threads",
                       "--output", self.output(kind), *flags]
            if self.nonblocking:
                command.append("--nonblocking")
            if self.subprocesses:
                command.append("--subprocesses")
            if self.duration:
                command += ["--duration", str(max(int(round(self.duration)), 1))]
            with open(self._log(kind), "wb") as log:
                self.processes[kind] = subprocess.Popen(
                    command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    start_new_session=self.own_session)

    def wait_attached(self, timeout: float = ATTACH_SECONDS) -> str | None:
        """None once every sampler reports sampling; else why one could not."""
        deadline = time.monotonic() + timeout
        waiting = set(self.processes)
        while waiting and time.monotonic() < deadline:
            for kind in list(waiting):
                if "Sampling process" in self._said(kind):
                    waiting.discard(kind)
                elif self.processes[kind].poll() is not None:
                    return self._failure(kind)
            time.sleep(0.005)
        if waiting:
            return f"py-spy did not start sampling within {timeout:.0f} s"
        return None

    def _said(self, kind: str) -> str:
        try:
            return Path(self._log(kind)).read_text(errors="replace")
        except OSError:
            return ""

    def _failure(self, kind: str) -> str:
        lines = [line.strip() for line in self._said(kind).splitlines() if line.strip()]
        errors = [line for line in lines if "rror" in line or "ermission" in line]
        said = (errors or lines or [f"exit code {self.processes[kind].returncode}"])[-1]
        return f"py-spy could not sample process {self.pid}: {said[:160]}"

    def finish(self, timeout: float = FINISH_SECONDS) -> None:
        """Wait for the samplers to write their files (they stop when the process ends or
        their duration is up); ask them to stop (SIGINT) if they don't, then kill."""
        deadline = time.monotonic() + timeout
        for process in self.processes.values():
            try:
                process.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGINT)
        for process in self.processes.values():
            try:
                process.wait(timeout=3.0)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stop(self) -> None:
        """Stop now (the target never ran)."""
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()

    def sampling(self, pid: int, wall_seconds: float) -> Sampling:
        """What the samplers wrote, as one ``Sampling``."""
        from .samples import Sampling, read_speedscope

        views = {kind: [] for kind in SAMPLERS}
        for kind in self.kinds:
            try:
                views[kind] = read_speedscope(self.output(kind))
            except (OSError, ValueError):
                views[kind] = []
        return Sampling(every=views["every"], active=views["active"], gil=views["gil"],
                        pid=pid, wall_seconds=wall_seconds, rate=self.rate)


def nonblocking_for(interpreter) -> bool:
    return interpreter is None or tuple(interpreter.version_info[:2]) >= NONBLOCKING_FROM


def run(spec, interpreter=None, started=None):
    """Run the target under the runner with nothing in it, sampled from outside.

    Returns (Measurement, ChildOutcome); ``PySpyUnavailable`` when the samplers could
    not attach (the target was then never started: the runner was told to abort).
    """
    import tempfile

    from .launch import RUNNER, launch

    with tempfile.TemporaryDirectory(prefix="concadvisor-pyspy-") as folder:
        go = os.path.join(folder, "go")
        state: dict = {}

        def on_start(pid: int):
            from .schedstat import start_poller

            samplers = Samplers(pid, folder, nonblocking=nonblocking_for(interpreter),
                                subprocesses=FOLLOW_CHILDREN)
            state["samplers"] = samplers
            state["poller"] = poller = start_poller(pid)
            try:
                _wait_for_file(go + ".ready", pid)
                samplers.start()
                problem = samplers.wait_attached()
            except (OSError, PySpyUnavailable) as exc:
                problem = str(exc)
            state["problem"] = problem
            _write_word(go, "abort" if problem else "go")
            if problem:
                samplers.stop()
                if poller:
                    poller.stop()
                return None
            if started is not None:
                started()

            def finish():
                if poller:
                    poller.stop()
                samplers.finish()

            return finish

        outcome = launch(spec, "none", on_start=on_start, settings={"go": go, "count_calls": True})
        if state.get("problem"):
            raise PySpyUnavailable(state["problem"])
        raw = outcome.raw or {}
        if not raw:
            from . import nothing_measured

            raise nothing_measured(outcome)
        sampling = state["samplers"].sampling(outcome.pid, float(raw.get("wall_seconds") or outcome.wall_seconds))
        from .samples import measurement_from_samples
        from .schedstat import run_queue

        runner = str(RUNNER)
        measurement = measurement_from_samples(
            sampling, library_paths=raw.get("library_paths", []), runner_file=raw.get("runner_file", runner),
            children_cpu_seconds=float(raw.get("children_cpu_seconds") or 0.0),
            skip=lambda stack: any(frame[0] == "_wait_for_go" for frame in stack),
            run_queue=run_queue(raw, state.get("poller")))
        from . import children

        measurement.extra["children"] = children.describe(
            sampling, measurement.extra.get("sample_interval", 1.0 / sampling.rate),
            paths=[state["samplers"].output(kind) for kind in SAMPLERS],
            library_paths=raw.get("library_paths", []), runner_file=raw.get("runner_file", runner),
            poller=state.get("poller"), target_command=" ".join(["python", *spec.argv]))
    from .counts import merge_counts

    counted = merge_counts(measurement, raw.get("call_counts") or [])
    measurement.notes.extend(sampling_notes(sampling, measurement, counted))
    return measurement, outcome


def _wait_for_file(path: str, pid: int, timeout: float = ATTACH_SECONDS) -> None:
    """Until the runner says its interpreter is up (or it is gone, or time is up)."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path) and time.monotonic() < deadline and _alive(pid):
        time.sleep(0.002)


def _alive(pid: int) -> bool:
    """Running (an ended child stays a zombie until it is waited for: that is not alive)."""
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc here: the signal test is all there is
    return state not in ("Z", "X")


def _write_word(path: str, word: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        handle.write(word)
    os.replace(tmp, path)


def sampling_notes(sampling: Sampling, measurement, counted: bool = False) -> list[str]:
    """What the reader should know about numbers that come from samples."""
    if not measurement.extra.get("samples"):
        return [f"py-spy took no samples at {sampling.rate} Hz: the run was too short to sample"]
    calls = ("calls of your own functions and loops were counted exactly; calls inside "
             "libraries are the calls seen starting in the samples (a lower bound)" if counted else
             "call counts are the calls seen starting in the samples (a lower bound), not counted calls")
    notes = [f"py-spy sampled at {sampling.rate} Hz ({measurement.extra.get('samples', 0)} samples): "
             f"seconds are samples x interval; {calls}"]
    hot = measurement.extra.get("calls_at_least") or []
    if counted and hot:
        shown = ", ".join(hot[:5]) + (f" and {len(hot) - 5} more" if len(hot) > 5 else "")
        notes.append(f"calls of {shown} are at least the numbers shown: counting them cost the "
                     "run too much (hundreds of thousands of calls a second), so it stopped early")
    from .children import note

    said = note(measurement.extra.get("children") or [], measurement.children_cpu_seconds)
    if said:
        notes.append(said)
    return notes


DEFAULT_ATTACH_SECONDS = 5.0


def attach(pid: int, duration: float = DEFAULT_ATTACH_SECONDS):
    """Sample a running process for ``duration`` seconds and leave it running.

    Returns a Measurement whose ``target`` describes the process (its argv from
    /proc/PID/cmdline, its interpreter's version). ``PySpyUnavailable`` when py-spy
    cannot sample it; ``InterpreterError`` when it is not a Python we can read.
    """
    import tempfile

    from .interpreter import of_process
    from .samples import measurement_from_samples

    interpreter = of_process(pid)
    problem = unavailable_reason(interpreter)
    if problem:
        raise PySpyUnavailable(problem)
    from .guard import Guard

    with tempfile.TemporaryDirectory(prefix="concadvisor-attach-") as folder, Guard():
        samplers = Samplers(pid, folder, duration=duration, nonblocking=nonblocking_for(interpreter))
        samplers.start()
        problem = samplers.wait_attached()
        if problem:
            samplers.stop()
            raise PySpyUnavailable(problem)
        started = time.monotonic()
        samplers.finish(timeout=duration + FINISH_SECONDS)
        wall = min(time.monotonic() - started, float(duration))
        sampling = samplers.sampling(pid, wall)
    measurement = measurement_from_samples(sampling, library_paths=_library_paths(interpreter, sampling))
    measurement.notes.extend(sampling_notes(sampling, measurement))
    measurement.notes.append(f"attached to process {pid} for {duration:g} s; it kept running")
    measurement.target = {
        "argv": process_argv(pid), "exit_code": None, "timed_out": False,
        "python": interpreter.version, "gil_enabled": interpreter.gil_enabled,
        "cpu_count": os.cpu_count() or 1, "python_executable": interpreter.path,
        "signal": None, "interrupted": False, "error": None, "pid": pid,
        "attached": True, "duration": float(duration),
    }
    return measurement


def process_argv(pid: int) -> list[str]:
    """The process's arguments after the interpreter (``app.py --n 3``)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    parts = [p.decode(errors="replace") for p in raw.split(b"\0") if p]
    return parts[1:] if len(parts) > 1 else parts


def _library_paths(interpreter, sampling: Sampling) -> list[str]:
    """The interpreter's standard library and packages, and every site-packages folder
    the samples went through (a virtualenv's is not known from /proc/PID/exe)."""
    import subprocess

    paths = set()
    probe = ("import json, sysconfig, sys\n"
             "print(json.dumps([sysconfig.get_paths()[k] for k in "
             "('stdlib', 'platstdlib', 'purelib', 'platlib')]))")
    try:
        done = subprocess.run([interpreter.path, "-I", "-c", probe], capture_output=True, text=True,
                              timeout=30, stdin=subprocess.DEVNULL)
        import json

        paths.update(os.path.realpath(p) for p in json.loads(done.stdout.strip().splitlines()[-1]))
    except (OSError, ValueError, IndexError, subprocess.TimeoutExpired):
        pass
    files = {frame[1] for thread in sampling.every for stack in thread.stacks for frame in stack}
    for file in files:
        for marker in ("/site-packages/", "/dist-packages/"):
            if marker in file:
                paths.add(os.path.realpath(file.split(marker)[0] + marker.rstrip("/")))
    return sorted(paths)
