"""Start the target in a child process of its own and wait for it, whatever it does.

The child runs ``target_runner.py`` under the target's interpreter. Its stdin, stdout
and stderr are the user's, inherited untouched (nothing passes through this process),
and it stays in the tool's process group, so the terminal's Ctrl-C and job control
reach it as they would reach ``python SCRIPT``.

Stopping it: ``--timeout`` sends SIGTERM (the runner saves and ends), then SIGKILL a
second later (later, while the runner says it is saving). Ctrl-C reaches the target
from the terminal; the tool only counts it, so what was measured is kept: a second
Ctrl-C sends SIGTERM, a third SIGKILL. SIGTERM to the tool is passed on the same way.

Processes the target started and left running (also when it was stopped) are stopped
once it has ended: they carry a marker in their environment (``CONCADVISOR_TREE``),
which survives re-parenting and new sessions, and ``/proc`` finds them by it (Linux).
SIGHUP (the terminal closed) is taken as SIGTERM is. If the tool itself is killed
outright, ``guard.Guard`` ends the runner, the target's processes and the samplers.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .guard import Guard, marked_processes

RUNNER = Path(__file__).with_name("target_runner.py")
TREE_VARIABLE = "CONCADVISOR_TREE"
GRACE_SECONDS = 1.0    # from SIGTERM to SIGKILL...
SAVING_SECONDS = 30.0  # ...and at most this much more once the runner has begun its save
POLL_SECONDS = 0.05


@dataclass
class TargetSpec:
    """What to run and how, as ``python SCRIPT ARGS`` or ``python -m MODULE ARGS``."""

    target: str
    args: list[str] = field(default_factory=list)
    module: bool = False
    python: str = sys.executable
    timeout: float | None = None

    @property
    def argv(self) -> list[str]:
        return ([self.target] if not self.module else ["-m", self.target]) + list(self.args)

    @property
    def stem(self) -> str:
        return self.target.rsplit(".", 1)[-1] if self.module else Path(self.target).stem


@dataclass
class ChildOutcome:
    """How the child ended, and the runner's saved data (None if it could not save).

    ``exit_code`` is the child's as ``subprocess`` gives it: negative when a signal
    ended it (-9 for SIGKILL), and then ``signal`` names it.
    """

    exit_code: int
    timed_out: bool
    interrupted: bool
    signal: int | None
    wall_seconds: float
    raw: dict | None
    pid: int
    terminated: bool = False  # the tool itself was sent SIGTERM (or SIGHUP)
    hung_up: bool = False  # ...and it was SIGHUP: the terminal closed
    leftovers: list[int] = field(default_factory=list)  # processes stopped after the target


def launch(spec: TargetSpec, backend: str, on_start=None, settings: dict | None = None) -> ChildOutcome:
    """Run the target under ``backend`` ("cprofile", or "none" when sampled from outside).

    ``on_start(pid)`` is called once the child exists (outside samplers attach there).
    ``settings`` adds keys to the runner's settings (e.g. the file it waits on to start).
    """
    with tempfile.TemporaryDirectory(prefix="concadvisor-") as scratch:
        out = os.path.join(scratch, "raw.json")
        token = secrets.token_hex(8)
        env = dict(os.environ)
        env[TREE_VARIABLE] = token
        env["CONCADVISOR_RUNNER"] = json.dumps(
            {**(settings or {}), "out": out, "backend": backend,
             "mode": "module" if spec.module else "script"})
        command = [spec.python, str(RUNNER), spec.target, *spec.args]
        started = time.perf_counter()
        stopper = _Stopper(out)
        previous = stopper.install()
        guard = Guard().start()
        try:
            child = subprocess.Popen(command, env={**env, **guard.environ()})
            stopper.child = child
            stop_sampler = on_start(child.pid) if on_start else None
            timed_out = _wait(child, spec.timeout, stopper)
            wall = time.perf_counter() - started
            leftovers = stop_tree(token)
            if stop_sampler:
                stop_sampler()
        finally:
            guard.close()
            stopper.restore(previous)
        raw = _read_raw(out)
    code = child.returncode
    sig = -code if code < 0 else None
    if raw and raw.get("signal") and sig is None:
        sig = raw["signal"]
    return ChildOutcome(exit_code=code, timed_out=timed_out, interrupted=stopper.interrupts > 0,
                        signal=sig, wall_seconds=wall, raw=raw, pid=child.pid,
                        terminated=stopper.terminated, hung_up=stopper.hung_up, leftovers=leftovers)


class _Stopper:
    """Stops the child in steps: SIGTERM, then SIGKILL once the grace period is over."""

    def __init__(self, out: str):
        self.out = out
        self.child: subprocess.Popen | None = None
        self.interrupts = 0
        self.terminated = False
        self.hung_up = False
        self.kill_at: float | None = None

    def install(self):
        previous = {}
        for signum, handler in ((signal.SIGINT, self._on_sigint), (signal.SIGTERM, self._on_sigterm),
                                (signal.SIGHUP, self._on_sighup)):
            try:
                previous[signum] = signal.signal(signum, handler)
            except (ValueError, OSError):  # not the main thread: leave signals alone
                pass
        return previous

    def restore(self, previous) -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    def _on_sigint(self, *_):
        # The first Ctrl-C reached the target from the terminal too: let it end itself.
        self.interrupts += 1
        if self.interrupts == 2:
            self.terminate()
        elif self.interrupts > 2:
            self.kill()

    def _on_sigterm(self, *_):
        if self.terminated:
            self.kill()
        self.terminated = True
        self.terminate()

    def _on_sighup(self, *_):
        self.hung_up = True
        self._on_sigterm()

    def _send(self, signum: int) -> None:
        child = self.child
        if child is not None and child.returncode is None:
            try:
                os.kill(child.pid, signum)  # not reaped yet, so the pid is still ours
            except OSError:
                pass

    def terminate(self) -> None:
        if self.kill_at is None:
            self.kill_at = time.monotonic() + GRACE_SECONDS
            self._send(signal.SIGTERM)

    def kill(self) -> None:
        self._send(signal.SIGKILL)

    def overdue(self) -> None:
        """SIGKILL once the grace period is over, unless the runner is busy saving."""
        if self.kill_at is None or time.monotonic() < self.kill_at:
            return
        saving = os.path.exists(self.out + ".saving")
        if not saving or time.monotonic() > self.kill_at + SAVING_SECONDS:
            self.kill()


def _wait(child: subprocess.Popen, timeout: float | None, stopper: _Stopper) -> bool:
    """Wait for the child, stopping it at the timeout. True if it timed out."""
    deadline = None if timeout is None else time.monotonic() + timeout
    timed_out = False
    while True:
        try:
            child.wait(timeout=POLL_SECONDS)
            return timed_out
        except subprocess.TimeoutExpired:
            pass
        except KeyboardInterrupt:  # pragma: no cover - the SIGINT handler swallows it
            continue
        if deadline is not None and not timed_out and time.monotonic() >= deadline:
            timed_out = True
            stopper.terminate()
        stopper.overdue()


def tree_processes(token: str) -> list[int]:
    """Live processes (other than this one) whose environment carries the run's marker."""
    return marked_processes(token, skip=(os.getpid(),), variable=TREE_VARIABLE)


def stop_tree(token: str, grace: float = GRACE_SECONDS) -> list[int]:
    """Stop what the target left running: SIGTERM, then SIGKILL after ``grace``."""
    pids = tree_processes(token)
    if not pids:
        return []
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    alive = pids
    while alive and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        alive = tree_processes(token)  # also any started meanwhile
    for pid in alive:
        _signal(pid, signal.SIGKILL)
    return sorted(set(pids) | set(alive))


def _signal(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except OSError:
        pass


def _read_raw(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def why_nothing(outcome: ChildOutcome) -> str:
    """One line saying why no profile came back."""
    raw = outcome.raw or {}
    if raw.get("started") is False:
        return f"the target stopped before its first line ran ({raw.get('error') or 'no detail'})"
    if outcome.signal:
        return (f"the target was killed by signal {outcome.signal} after {outcome.wall_seconds:.1f} s, "
                "before anything was saved")
    return f"the target ended (exit code {outcome.exit_code}) before anything was saved"


def outcome_notes(outcome: ChildOutcome) -> list[str]:
    """What the reader of a partial profile should know about how the run ended."""
    raw = outcome.raw or {}
    notes = []
    if raw.get("snapshot") and raw.get("threads"):
        notes.append(f"the target could not save at its end (signal {outcome.signal or '?'}): this is the "
                     f"last snapshot, {float(raw.get('wall_seconds') or 0):.1f} s into the run; "
                     "calls still running then are not counted")
    if outcome.terminated:
        notes.append(f"concadvisor was sent {'SIGHUP' if outcome.hung_up else 'SIGTERM'} and stopped the target")
    if outcome.leftovers:
        shown = ", ".join(map(str, outcome.leftovers[:10]))
        notes.append(f"stopped {len(outcome.leftovers)} process(es) the target left running "
                     f"(pid {shown}{', ...' if len(outcome.leftovers) > 10 else ''})")
    return notes
