"""Nothing of a run outlives concadvisor, however concadvisor ends.

A run's processes (the runner and the target, whatever the target starts, the py-spy
samplers, the chart process) all inherit ``CONCADVISOR_GUARD=<token>`` in their
environment. A small watcher process, started first in a session of its own (so the
terminal's Ctrl-C and SIGHUP don't reach it), holds the read end of a pipe whose only
writer is concadvisor. When concadvisor ends normally it says "done" and the watcher
leaves; when it is killed (SIGKILL, the OOM killer, a CI job's cancel) the pipe reaches
end-of-file with nothing said, and the watcher kills every process that carries the
token, until none is left. The marker survives re-parenting and new sessions, which a
process group or a parent-death signal does not.

This file runs as a script under ``python -S`` (no concadvisor import), so the watcher
costs ~15 ms to start.
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time

GUARD_VARIABLE = "CONCADVISOR_GUARD"
DONE = b"done"
SETTLE_SCANS = 3        # scans in a row that find nothing before the watcher leaves
SCAN_SECONDS = 0.05
GIVE_UP_SECONDS = 10.0  # a process that will not die (uninterruptible sleep) is left then


def marked_processes(token: str, skip: tuple[int, ...] = (), variable: str = GUARD_VARIABLE) -> list[int]:
    """Live processes whose environment carries ``variable=token`` (Linux /proc)."""
    needle = f"\0{variable}={token}\0".encode()
    found = []
    try:
        names = os.listdir("/proc")
    except OSError:
        return found
    for name in names:
        if not name.isdigit() or int(name) in skip:
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as handle:
                environ = handle.read()
        except OSError:
            continue
        if needle in b"\0" + environ and not _zombie(name):
            found.append(int(name))
    return found


def _zombie(pid: str) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except (OSError, IndexError):
        return True


def kill_marked(token: str) -> list[int]:
    """SIGKILL every marked process, again and again until none is found for a while."""
    me = os.getpid()
    killed: set[int] = set()
    quiet = 0
    deadline = time.monotonic() + GIVE_UP_SECONDS
    while quiet < SETTLE_SCANS and time.monotonic() < deadline:
        pids = marked_processes(token, skip=(me,))
        quiet = 0 if pids else quiet + 1
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.add(pid)
            except OSError:
                pass
        time.sleep(SCAN_SECONDS)
    return sorted(killed)


class Guard:
    """Started once per concadvisor process; ``close`` when the run's processes are done."""

    def __init__(self):
        self.token = secrets.token_hex(8)
        self.process: subprocess.Popen | None = None
        self.previous = os.environ.get(GUARD_VARIABLE)

    def start(self) -> "Guard":
        if not os.path.isdir("/proc"):
            return self  # nowhere to find them by: the runner's own clean-up is all there is
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-S", "-u", os.path.abspath(__file__), self.token],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True, env={**os.environ, GUARD_VARIABLE: ""})
        except OSError:
            self.process = None
            return self
        os.environ[GUARD_VARIABLE] = self.token  # every process started from here on has it
        return self

    def environ(self) -> dict[str, str]:
        """The marker, for a child given an environment of its own."""
        return {GUARD_VARIABLE: self.token} if self.process is not None else {}

    def close(self) -> None:
        """The run's processes are ended or will end by themselves: let the watcher go."""
        if self.previous is None:
            os.environ.pop(GUARD_VARIABLE, None)
        else:
            os.environ[GUARD_VARIABLE] = self.previous
        process, self.process = self.process, None
        if process is None:
            return
        try:
            process.stdin.write(DONE)
            process.stdin.close()
        except OSError:
            pass
        try:
            process.wait(timeout=2.0)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> "Guard":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()


def _watch(token: str) -> None:
    """Wait for concadvisor's word; if the pipe ends without it, kill the run's processes."""
    for signum in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(signum, signal.SIG_IGN)  # only the pipe tells the watcher to act
    said = b""
    while True:
        try:
            chunk = os.read(0, 64)
        except InterruptedError:
            continue
        except OSError:
            break
        if not chunk:
            break
        said += chunk
    if said != DONE:
        kill_marked(token)


if __name__ == "__main__":
    _watch(sys.argv[1])
