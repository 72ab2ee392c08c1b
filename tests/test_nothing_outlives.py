"""Nothing of a run outlives concadvisor, however concadvisor ends.

A run left behind (the runner, the target's own children, three py-spy samplers) keeps a
core busy and skews every measurement taken after it. Each test marks concadvisor's
environment with a tag of its own; everything the run starts inherits it, so ``/proc``
finds whatever is left. Margins: the watcher acts within ~0.2 s of concadvisor's death
here; the tests allow 5 s, for a machine several times slower or busy.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import textwrap
import time
from contextlib import contextmanager

import pytest

from conftest import CLI
from test_faults import WORK, alive_with, measured, read_until

GONE_WITHIN = 5.0
TARGET = WORK + '''
import subprocess, sys

# A child of its own and a grandchild in a new session, both meant to outlive everything.
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"])
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"], start_new_session=True)
print("ready", flush=True)
while True:
    work(0.1)
'''


def tagged(tag: str) -> list[int]:
    """Live (not zombie) processes whose environment carries ``tag``."""
    return alive_with(f"CONCADVISOR_TEST_TAG={tag}", where="environ")


def wait_until_none(tag: str, timeout: float = GONE_WITHIN) -> list[int]:
    deadline = time.monotonic() + timeout
    left = tagged(tag)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = tagged(tag)
    return left


def start(tmp_path, backend: str, tag: str) -> subprocess.Popen:
    target = tmp_path / "app.py"
    target.write_text(textwrap.dedent(TARGET))
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["CONCADVISOR_TEST_TAG"] = tag
    return subprocess.Popen(
        [*CLI, "profile", "--backend", backend, "-o", str(tmp_path / "report.md"),
         "--json", str(tmp_path / "result.json"), str(target)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        start_new_session=True)


def run_names(tag: str) -> set[str]:
    """Each process's command line with paths cut to their last part.

    Whole paths differ by checkout (a clone under a long directory name pushed
    ``target_runner`` past any fixed cut), so only the names are kept, all of them.
    """
    names = set()
    for pid in tagged(tag):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                argv = handle.read().decode(errors="replace").split("\0")
        except OSError:
            continue
        names.add(" ".join(os.path.basename(arg) if "/" in arg else arg for arg in argv if arg))
    return names


@contextmanager
def run_of(tmp_path, backend: str, kind: str):
    """concadvisor started on TARGET, once it is ready; whatever is left is killed after."""
    tag = f"{kind}-{os.getpid()}-{time.monotonic_ns()}"
    proc = start(tmp_path, backend, tag)
    try:
        read_until(proc.stdout.fileno(), b"ready", timeout=60)
        yield proc, tag
    finally:
        for pid in tagged(tag):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("backend", ["auto", "cprofile"])
def test_sigkill_to_concadvisor_leaves_no_process_of_the_run(tmp_path, backend):
    """As ``subprocess.run(..., timeout=...)``, the OOM killer or a CI cancel ends it."""
    with run_of(tmp_path, backend, "kill") as (proc, tag):
        time.sleep(0.5)
        running = run_names(tag)
        assert any("target_runner" in name for name in running), running
        if backend == "auto":
            assert any("py-spy" in name for name in running), running
        proc.kill()
        proc.wait(timeout=10)
        assert wait_until_none(tag) == [], run_names(tag)


@pytest.mark.parametrize("backend", ["auto", "cprofile"])
def test_sighup_stops_the_run_keeps_the_partial_report_and_leaves_nothing(tmp_path, backend):
    """The terminal closed: like SIGTERM, the target is stopped and what it did is kept."""
    with run_of(tmp_path, backend, "hup") as (proc, tag):
        time.sleep(1.0)
        proc.send_signal(signal.SIGHUP)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 128 + signal.SIGHUP, err.decode()
        data = json.loads((tmp_path / "result.json").read_text())
        assert data["target"]["terminated"] is True and data["target"]["hung_up"] is True
        assert "spin" in measured(data)
        assert (tmp_path / "report.md").exists()
        assert wait_until_none(tag) == [], run_names(tag)


def test_a_normal_run_leaves_no_watcher_behind(tmp_path):
    tag = f"done-{os.getpid()}-{time.monotonic_ns()}"
    target = tmp_path / "quick.py"
    target.write_text("print('hi')\n")
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    env["CONCADVISOR_TEST_TAG"] = tag
    done = subprocess.run([*CLI, "profile", "--backend", "cprofile", "-o", str(tmp_path / "r.md"),
                           str(target)], cwd=tmp_path, env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert wait_until_none(tag, timeout=1.0) == [], run_names(tag)
