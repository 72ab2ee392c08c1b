"""Work done in the target's child processes: each child process seen, classified as the
target is (default backend), and the parent's own split left as the contract says."""
from __future__ import annotations

import json

import pytest

from conftest import run_cli
from contract import assert_contract, dominant
from concadvisor.collect.pyspy import unavailable_reason

needs_pyspy = pytest.mark.skipif(unavailable_reason() is not None,
                                 reason=f"py-spy cannot sample here: {unavailable_reason()}")

# ~0.3-0.6 s of pure-Python CPU per child on this machine; slow or busy machines take longer.
LOOP = "s = 0\nfor i in range(3_000_000):\n    s += i * i\nprint(s)\n"

DRIVER = f"""\
import subprocess, sys

CODE = {LOOP!r}

def main():
    for _ in range(3):
        subprocess.run([sys.executable, "-c", CODE], check=True, stdout=subprocess.DEVNULL)

if __name__ == "__main__":
    main()
"""

PROCESSES = """\
import multiprocessing as mp

def work(n):
    s = 0
    for i in range(n):
        s += i * i
    return s

if __name__ == "__main__":
    mp.set_start_method("fork")
    procs = [mp.Process(target=work, args=(3_000_000,)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
"""


def _profile(tmp_path, write_script, name, text, *extra):
    script = write_script(name, text)
    out, report = tmp_path / "result.json", tmp_path / "report.md"
    done = run_cli("profile", "-o", report, "--json", out, *extra, script, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    data = json.loads(out.read_text())
    assert_contract(data)
    return data, report.read_text()


def _computing(children):
    """The children that ran long enough to be judged (py-spy finds a new child within a
    fraction of a second; one it caught as it ended is not)."""
    return [c for c in children if c["wall_seconds"] >= 0.1]


@needs_pyspy
def test_sequential_subprocess_jobs_are_listed_one_by_one_with_their_cpu(tmp_path, write_script):
    data, report = _profile(tmp_path, write_script, "driver.py", DRIVER)
    # The parent's split is the parent's: it waited on its children.
    assert dominant(data["categories"]) == "io_wait", data["categories"]
    assert data["children_detail"] == "per_process"
    children = data["children"]
    assert len(children) >= 2, children  # three ran; a busy machine may start sampling one late
    judged = _computing(children)
    assert len(judged) >= 2, children
    for child in judged:
        assert dominant(child["categories"]) == "cpu_gil", child
        assert child["cpu_seconds"] > 0.05, child
        # its command line, or (py-spy read it between fork and exec) what it ran
        assert not child["forked"] and ("-c" in child["command"] or "<string>" in child["command"]), child
        assert child["top_functions"] and child["top_functions"][0]["category"] == "cpu_gil", child
        assert child["top_functions"][0]["location"].startswith("<string>:"), child
    assert data["children_cpu_seconds"] > 0.3
    assert len({c["pid"] for c in children}) == len(children)
    # The report says which process ran what, and what overlapping them can gain.
    assert "## Child processes" in report
    for child in judged:
        assert str(child["pid"]) in report
    assert "not I/O to overlap" in report and "bounded by the cores" in report
    if data["recommendation"]["model"] == "threads" and "max_workers=" in report:
        # a thread pool around CPU-bound child jobs gets one worker per core, not one per job
        cores = data["target"]["cpu_count"]
        assert f"ThreadPoolExecutor(max_workers={min(cores, 3)})" in report
    # ...also when rendered again from the saved JSON.
    again = tmp_path / "again.md"
    done = run_cli("report", tmp_path / "result.json", "-o", again, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert again.read_text().split("## Child processes")[1].split("## How")[0] == \
        report.split("## Child processes")[1].split("## How")[0]


@needs_pyspy
def test_multiprocessing_process_children_show_the_function_they_ran(tmp_path, write_script):
    data, report = _profile(tmp_path, write_script, "procs.py", PROCESSES)
    judged = _computing(data["children"])
    assert len(judged) >= 1, data["children"]
    for child in judged:
        assert child["forked"], child
        assert child["entry"]["function"] == "work", child
        assert child["entry"]["location"].startswith("procs.py:"), child
        assert dominant(child["categories"]) == "cpu_gil", child
    assert "## Child processes" in report and "`work`" in report


def test_cprofile_reports_the_childrens_total_cpu_and_where_detail_is(tmp_path, write_script):
    data, report = _profile(tmp_path, write_script, "driver.py", DRIVER, "--backend", "cprofile")
    assert data["children"] == [] and data["children_detail"] == "total"
    assert data["children_cpu_seconds"] > 0.3
    section = report.split("## Child processes")[1].split("## How")[0]
    assert "default backend" in section and "bounded by the cores" in section


SIDE_BY_SIDE = f"""\
import subprocess, sys

CODE = {LOOP!r}

def main():
    procs = [subprocess.Popen([sys.executable, "-c", CODE], stdout=subprocess.DEVNULL) for _ in range(4)]
    for p in procs:
        p.wait()

if __name__ == "__main__":
    main()
"""


@pytest.mark.parametrize("backend", ["auto", "cprofile"])
def test_children_started_side_by_side_are_already_multiprocessing(tmp_path, write_script, backend):
    """Four CPU-bound children started together: the program already runs processes side
    by side (the answer is not "none", a plain loop); three run one after another are not."""
    data, _ = _profile(tmp_path, write_script, "together.py", SIDE_BY_SIDE, "--backend", backend)
    rec = data["recommendation"]
    assert rec["current_model"] == "multiprocessing", rec
    assert rec["model"] == "multiprocessing", rec["reasons"]
    one_by_one, _ = _profile(tmp_path, write_script, "driver.py", DRIVER, "--backend", backend)
    assert one_by_one["recommendation"]["current_model"] != "multiprocessing"
