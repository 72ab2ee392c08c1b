"""Which Python runs the target, and what it is.

People install concadvisor once (pipx, a tools venv) and point it at programs that live
in their own project environment, often on another Python version. The target must run
with that environment's interpreter, or its imports fail. The choice, in order:
``--python PATH``; else the active virtualenv's python (``VIRTUAL_ENV``) when it is not
concadvisor's own environment; else concadvisor's own interpreter.

A chosen interpreter is run once with a tiny probe to read its version, implementation
and GIL state, so a wrong one is a usage error before the target starts. The probe runs
in isolated mode (``-I``): a shell or another program given by mistake rejects that
option instead of executing the probe as its own script.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, replace
from functools import lru_cache

MIN_VERSION = (3, 9)
IMPLEMENTATIONS = ("cpython", "pypy")
PROBE_TIMEOUT = 30.0

# Runs under any Python 3; prints one JSON line. Python 2 stops at -I (unknown option).
_PROBE = (
    "import json, sys\n"
    "gil = getattr(sys, '_is_gil_enabled', None)\n"
    "sys.stdout.write(json.dumps({'version': list(sys.version_info[:3]),"
    " 'implementation': sys.implementation.name, 'gil_enabled': bool(gil()) if gil else True,"
    " 'prefix': sys.prefix}))\n"
)
_VERSION_BANNER = re.compile(r"Python (\d+)\.(\d+)(?:\.(\d+))?")


class InterpreterError(ValueError):
    """A --python (or active virtualenv) that cannot run the target; one line."""


@dataclass(frozen=True)
class Interpreter:
    """The target's Python: the path as given (not resolved, so a venv stays a venv)."""

    path: str
    version_info: tuple[int, int, int]
    implementation: str
    gil_enabled: bool
    prefix: str
    source: str  # "--python", "VIRTUAL_ENV", "own" or "process"

    @property
    def version(self) -> str:
        return "%d.%d.%d" % self.version_info


def own() -> Interpreter:
    """concadvisor's own interpreter, read without starting a process."""
    gil = getattr(sys, "_is_gil_enabled", None)
    return Interpreter(sys.executable, tuple(sys.version_info[:3]), sys.implementation.name,
                       bool(gil()) if gil else True, sys.prefix, "own")


def choose(python: str | None = None, environ=None) -> Interpreter:
    """The interpreter for the target; ``InterpreterError`` when it cannot be used."""
    if python:
        return probe(_locate(python), "--python")
    environ = os.environ if environ is None else environ
    venv_python = active_venv_python(environ)
    if venv_python:
        try:
            return probe(venv_python, "VIRTUAL_ENV")
        except InterpreterError as exc:
            raise InterpreterError(f"active virtualenv (VIRTUAL_ENV): {exc}; "
                                   "deactivate it or pass --python") from None
    return own()


def active_venv_python(environ) -> str | None:
    """The active virtualenv's python, unless that virtualenv is concadvisor's own."""
    venv = environ.get("VIRTUAL_ENV")
    if not venv:
        return None
    if _same_path(venv, sys.prefix):
        return None
    for name in ("python", "python3"):
        candidate = os.path.join(venv, "bin", name)
        if os.path.exists(candidate):
            return candidate
    return None  # a stale VIRTUAL_ENV (folder gone): nothing is active


def _locate(python: str) -> str:
    """An absolute path for ``--python``: a file, a bare name on PATH, or a venv folder."""
    path = python
    if os.sep not in python and not os.path.exists(python):
        path = shutil.which(python) or python
    if os.path.isdir(path):
        inner = os.path.join(path, "bin", "python")
        if not os.path.exists(inner):
            raise InterpreterError(f"--python {python} is a folder without bin/python")
        path = inner
    if not os.path.exists(path):
        raise InterpreterError(f"--python not found: {python}")
    if not os.access(path, os.X_OK):
        raise InterpreterError(f"--python is not executable: {python}")
    return os.path.abspath(path)


def probe(path: str, source: str = "--python") -> Interpreter:
    """Run ``path`` once (per process) to read what it is; ``InterpreterError`` unless 3.9+."""
    return replace(_probe(path), source=source)


@lru_cache(maxsize=16)
def _probe(path: str) -> Interpreter:
    try:
        done = subprocess.run([path, "-I", "-c", _PROBE], capture_output=True, text=True,
                              timeout=PROBE_TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise InterpreterError(f"{path} did not answer within {PROBE_TIMEOUT:.0f} s") from None
    except OSError as exc:
        raise InterpreterError(f"{path} cannot be run: {exc.strerror or exc}") from None
    try:
        info = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else None
        version = tuple(int(v) for v in info["version"])
    except (ValueError, IndexError, KeyError, TypeError):
        raise InterpreterError(_not_python(path, done.stderr)) from None
    name = str(info.get("implementation", ""))
    if name not in IMPLEMENTATIONS:
        raise InterpreterError(f"{path} is {name or 'an unknown'} Python {'.'.join(map(str, version))}; "
                               "concadvisor runs targets on CPython or PyPy")
    if version < MIN_VERSION:
        raise InterpreterError(f"{path} is Python {'.'.join(map(str, version))}; "
                               f"concadvisor needs Python {'.'.join(map(str, MIN_VERSION))} or newer")
    return Interpreter(path, version, name, bool(info.get("gil_enabled", True)),
                       str(info.get("prefix", "")), "--python")


def _not_python(path: str, said: str) -> str:
    """The message for an executable that did not answer the probe: name a Python 2 by version."""
    try:
        done = subprocess.run([path, "-V"], capture_output=True, text=True, timeout=PROBE_TIMEOUT,
                              stdin=subprocess.DEVNULL)
        found = _VERSION_BANNER.match((done.stdout + done.stderr).strip())
    except (OSError, subprocess.TimeoutExpired):
        found = None
    if found:
        return (f"{path} is Python {found.group(1)}.{found.group(2)}; "
                f"concadvisor needs Python {'.'.join(map(str, MIN_VERSION))} or newer")
    said = next((line.strip() for line in said.splitlines() if line.strip()), "")
    return f"{path} is not a Python interpreter" + (f" ({said[:120]})" if said else "")


def of_process(pid: int) -> Interpreter:
    """The interpreter a running process was started from (for ``attach``), via /proc/PID/exe.

    Only an executable named like a Python is run: the process may be anything.
    """
    link = f"/proc/{pid}/exe"
    try:
        exe = os.readlink(link)
    except OSError as exc:
        raise InterpreterError(f"cannot read the executable of process {pid}: {exc.strerror or exc}") from None
    name = os.path.basename(exe.replace(" (deleted)", ""))
    if not re.match(r"(python|pypy)[\d.]*t?$", name):
        raise InterpreterError(f"process {pid} runs {exe}, not a python executable")
    # The link itself stays runnable even when the file was replaced or deleted since.
    return probe(exe if os.path.exists(exe) else link, "process")


def _same_path(a: str, b: str) -> bool:
    try:
        return os.path.realpath(a) == os.path.realpath(b)
    except OSError:
        return False
