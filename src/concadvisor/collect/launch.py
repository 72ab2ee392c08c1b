"""Start the target in a child process of its own and wait for it, whatever it does.

The child runs ``target_runner.py`` under the target's interpreter. Its stdin, stdout
and stderr are the user's, untouched. Ctrl-C reaches the child through the terminal's
process group; the tool ignores it until the child is gone, so what was measured is kept.
``--timeout`` sends SIGTERM (the runner saves and ends), then SIGKILL a second later.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

RUNNER = Path(__file__).with_name("target_runner.py")


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
    """How the child ended, and the runner's saved data (None if it could not save)."""

    exit_code: int
    timed_out: bool
    interrupted: bool
    signal: int | None
    wall_seconds: float
    raw: dict | None
    pid: int


def launch(spec: TargetSpec, backend: str, on_start=None) -> ChildOutcome:
    """Run the target under ``backend`` ("cprofile", or "none" when sampled from outside).

    ``on_start(pid)`` is called once the child exists (outside samplers attach there).
    """
    with tempfile.TemporaryDirectory(prefix="concadvisor-") as scratch:
        out = os.path.join(scratch, "raw.json")
        env = dict(os.environ)
        env["CONCADVISOR_RUNNER"] = json.dumps(
            {"out": out, "backend": backend, "mode": "module" if spec.module else "script"})
        command = [spec.python, str(RUNNER), spec.target, *spec.args]
        started = time.perf_counter()
        interrupted = []
        previous = signal.signal(signal.SIGINT, lambda *_: interrupted.append(True))
        try:
            child = subprocess.Popen(command, env=env)
            stop_sampler = on_start(child.pid) if on_start else None
            timed_out = _wait(child, spec.timeout)
            if stop_sampler:
                stop_sampler()
        finally:
            signal.signal(signal.SIGINT, previous)
        wall = time.perf_counter() - started
        raw = _read_raw(out)
    code = child.returncode
    sig = -code if code < 0 else None
    if raw and raw.get("signal") and sig is None:
        sig = raw["signal"]
    return ChildOutcome(exit_code=code, timed_out=timed_out, interrupted=bool(interrupted),
                        signal=sig, wall_seconds=wall, raw=raw, pid=child.pid)


def _wait(child: subprocess.Popen, timeout: float | None) -> bool:
    """Wait for the child; on timeout stop it gently, then firmly. True if it timed out."""
    while True:
        try:
            child.wait(timeout=timeout)
            return False
        except subprocess.TimeoutExpired:
            break
        except KeyboardInterrupt:  # pragma: no cover - SIGINT handler swallows it
            continue
    child.send_signal(signal.SIGTERM)
    try:
        child.wait(timeout=1.0)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    return True


def _read_raw(path: str) -> dict | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None
