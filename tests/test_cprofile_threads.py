"""The cprofile backend keeps threads apart on 3.12+ as it does up to 3.11.

From 3.12 cProfile sits on process-wide sys.monitoring with one call stack for all
threads; the runner hands each thread's events to that thread's own profiler from the
moment the target starts its first thread. Real interpreters (the pyenv builds on this
machine; absent ones are skipped), real sample apps, real threads and forks.
"""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT, SAMPLES, profile_json

PYENV = Path("/root/.pyenv/versions")
RUNNER = ROOT / "src" / "concadvisor" / "collect" / "target_runner.py"


def pythons(*versions):
    return [pytest.param(PYENV / v / "bin" / "python", id=v,
                         marks=pytest.mark.skipif(not (PYENV / v / "bin" / "python").exists(),
                                                  reason=f"Python {v} is not installed"))
            for v in versions]


MONITORING = pythons("3.12.1", "3.13.0")


def run_runner(tmp_path, python, text, expect=0):
    """The runner alone (no analysis): its raw file and the script's own output."""
    script = tmp_path / "target.py"
    script.write_text(text)
    out = tmp_path / "raw.json"
    env = dict(os.environ, CONCADVISOR_RUNNER=json.dumps({"out": str(out), "backend": "cprofile"}))
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run([str(python), str(RUNNER), str(script)], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == expect, done.stderr[-2000:]
    return json.loads(out.read_text()), done.stdout


def rows(thread):
    return {row["name"]: row for row in thread["functions"] if row["file"].endswith("target.py")}


SPIN = '''import os, sys, threading, time

def spin(n):
    total = 0
    for i in range(n):
        total += i
    return total

def worker():
    for _ in range(10):
        spin(30000)
'''


@pytest.mark.slow
@pytest.mark.parametrize("python", MONITORING)
def test_loopback_server_threads_are_seen_apart_and_overlap_is_predicted(tmp_path, python):
    done, data = profile_json(tmp_path, SAMPLES / "http_downloads.py", "--python", python,
                              "--backend", "cprofile", timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    recommendation = data["recommendation"]
    assert data["backend"] == "cprofile"
    assert recommendation["model"] == "threads", recommendation.get("reasons")
    assert recommendation["estimated_speedup"] > 3, recommendation
    assert len(data["threads"]) >= 5, [t["name"] for t in data["threads"]]


@pytest.mark.slow
@pytest.mark.parametrize("python", MONITORING)
def test_thread_pool_of_pure_python_gets_processes_and_gil_contention(tmp_path, python):
    done, data = profile_json(tmp_path, SAMPLES / "threadpool_cpu.py", "--python", python,
                              "--backend", "cprofile", timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert data["recommendation"]["model"] == "multiprocessing", data["recommendation"].get("reasons")
    assert "gil_contention" in {f["kind"] for f in data["findings"]}, data["findings"]
    assert len(data["threads"]) >= 3, [t["name"] for t in data["threads"]]


@pytest.mark.parametrize("python", pythons("3.11.7", "3.12.1", "3.13.0"))
def test_main_thread_keeps_its_open_calls_when_its_first_thread_starts(tmp_path, python):
    """The calls open when the switch happens (work, the module) end in the main thread's
    own table with all their time; the worker's calls are its own, none in the main's."""
    raw, out = run_runner(tmp_path, python, SPIN + '''
def work():
    for _ in range(10):
        spin(30000)
    thread = threading.Thread(target=worker)
    thread.start()
    for _ in range(10):
        spin(30000)
    thread.join()

began = time.perf_counter()
work()
print("work took", time.perf_counter() - began)
''')
    took = float(out.split()[-1])
    main, *others = raw["threads"]
    assert [t["name"] for t in others] == ["Thread-1 (worker)"]
    mine, its = rows(main), rows(others[0])
    assert mine["spin"]["calls"] == 20 and "worker" not in mine
    assert its["spin"]["calls"] == 10 and its["worker"]["calls"] == 1
    assert mine["work"]["calls"] == 1 and mine["<module>"]["calls"] == 1
    assert mine["work"]["total"] >= mine["spin"]["total"] > 0
    assert mine["work"]["total"] == pytest.approx(took, rel=0.1), (mine["work"], took)
    assert not main["merged"]


@pytest.mark.parametrize("python", MONITORING)
def test_per_call_cost_follows_the_mode_each_call_ran_in(tmp_path, python):
    """Calls before the first thread cost plain cProfile's figure, later ones (and every
    call of the threads) the dispatcher's, which is the larger."""
    raw, _ = run_runner(tmp_path, python, SPIN + '''
for _ in range(5):
    spin(10)
thread = threading.Thread(target=worker)
thread.start()
thread.join()
for _ in range(3):
    spin(10)
''')
    single, apart = raw["overhead_per_call"], raw["dispatch_overhead_per_call"]
    assert 0 < single < apart
    main, worker = raw["threads"]
    assert rows(main)["spin"]["overhead"] == pytest.approx(5 * single + 3 * apart)
    assert rows(worker)["spin"]["overhead"] == pytest.approx(10 * apart)


@pytest.mark.parametrize("python", MONITORING)
def test_single_threaded_target_stays_with_plain_cprofile(tmp_path, python):
    raw, _ = run_runner(tmp_path, python, SPIN + "spin(1000)\n")
    assert len(raw["threads"]) == 1
    assert all("overhead" not in row for row in raw["threads"][0]["functions"])


@pytest.mark.parametrize("python", MONITORING)
def test_fork_after_the_switch_leaves_the_child_unprofiled(tmp_path, python):
    """The child (and a thread it starts) runs with no monitoring callbacks; the parent's
    own threads are still told apart afterwards."""
    raw, out = run_runner(tmp_path, python, SPIN + '''
import warnings
warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads, on purpose
thread = threading.Thread(target=worker)
thread.start()
pid = os.fork()
if pid == 0:
    child = threading.Thread(target=worker)
    child.start()
    child.join()
    print("child tool", sys.monitoring.get_tool(sys.monitoring.PROFILER_ID), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
thread.join()
later = threading.Thread(target=worker)
later.start()
later.join()
''')
    assert "child tool None" in out
    assert [t["name"] for t in raw["threads"]] == ["MainThread", "Thread-1 (worker)",
                                                   "Thread-2 (worker)"]
    assert all(rows(t)["spin"]["calls"] == 10 for t in raw["threads"][1:])


@pytest.mark.parametrize("python", MONITORING)
def test_os_exit_in_a_worker_thread_saves_every_thread(tmp_path, python):
    raw, _ = run_runner(tmp_path, python, SPIN + '''
def quit_early():
    worker()
    os._exit(3)

def work():
    spin(30000)
    threading.Thread(target=quit_early).start()
    time.sleep(30)

work()
''', expect=3)
    assert raw["exit_code"] == 3
    main, quitter = raw["threads"]
    assert rows(quitter)["spin"]["calls"] == 10
    assert rows(main)["spin"]["calls"] == 1
    assert rows(main)["work"]["calls"] == 1  # still open at the exit: counted when stopped
