"""Running things side by side and printing tables (the machine is noisy: compare ratios
measured in the same run, interleaved)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
BIN = Path(sys.executable).parent
CONCADVISOR = [str(BIN / "concadvisor")] if (BIN / "concadvisor").exists() else [PYTHON, "-m", "concadvisor"]


def timed(command: list[str], cwd=None, env=None) -> float:
    """Wall seconds of one command, output discarded."""
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd or ROOT, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def profile(script: str, args: list[str], backend: str, env=None) -> tuple[dict | None, float]:
    """Run concadvisor on a script; returns (JSON result, whole-command wall seconds)."""
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "r.json")
        command = [*CONCADVISOR, "profile", "--backend", backend, "-o", os.path.join(scratch, "r.md"),
                   "--json", out, script, "--", *args]
        seconds = timed(command, env=env)
        try:
            with open(out) as handle:
                return json.load(handle), seconds
        except (OSError, ValueError):
            return None, seconds


def table(headers: list[str], rows: list[list]) -> str:
    """A Markdown table (what the README pastes)."""
    cells = [[str(c) for c in row] for row in rows]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    if not n:
        return float("nan")
    return ordered[n // 2] if n % 2 else (ordered[n // 2 - 1] + ordered[n // 2]) / 2


HOG = "while True: pass"


def _die_with_parent() -> None:  # in the hog, before exec: SIGKILL when its parent dies
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    except Exception:
        pass


@contextmanager
def busy_neighbours(count: int = 1, cpus: set[int] | None = None):
    """``count`` CPU-bound processes (``python -c "while True: pass"``) running until the
    block ends, pinned to ``cpus`` if given. Always killed: on leaving the block however it
    is left, and by the kernel if this process dies first (Linux)."""
    hogs = []
    try:
        for _ in range(count):
            hog = subprocess.Popen([PYTHON, "-c", HOG], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL, preexec_fn=_die_with_parent)
            hogs.append(hog)
            if cpus:
                try:
                    os.sched_setaffinity(hog.pid, cpus)
                except (AttributeError, OSError):
                    pass
        time.sleep(0.2)  # running flat out before the target starts
        yield hogs
    finally:
        for hog in hogs:
            try:
                hog.kill()
            except OSError:
                pass
        for hog in hogs:
            try:
                hog.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
