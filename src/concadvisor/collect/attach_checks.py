"""What ``attach PID`` checks before it samples: the process exists and can be named."""
from __future__ import annotations

import os
from pathlib import Path


class AttachProblem(ValueError):
    """A PID that cannot be attached to (one line for the user)."""


def check_process(pid: int) -> None:
    if pid <= 0:
        raise AttachProblem(f"not a process id: {pid}")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        raise AttachProblem(f"no process with id {pid}") from None
    except PermissionError:
        pass  # it exists; whether py-spy may read it is py-spy's to say


def report_stem(pid: int) -> str:
    """The report's default name: the script the process runs, else ``pid<PID>``."""
    from .pyspy import process_argv

    for arg in process_argv(pid):
        if arg.endswith(".py"):
            return Path(arg).stem
        if not arg.startswith("-"):
            break
    return f"pid{pid}"
