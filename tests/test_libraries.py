"""Programs on real libraries, profiled as a user would: `--python` a virtualenv that has them.

Pillow's resize and numpy's sort free the GIL, Pillow's effect_noise keeps it; no name
says which, and every backend must measure it (cProfile and yappi with py-spy watching
who holds the GIL beside them). numpy's matmul already runs on both cores (OpenBLAS's
own threads). An aiohttp program that already overlaps its fetches is asyncio as it is;
one that calls requests.get inside its coroutines is told what fixing that gains. The
interpreter is the one `make libvenv` builds (.venv-libs); without it these tests skip.
"""
from __future__ import annotations

import pytest

from conftest import ROOT, profile_json
from benchmarks import libraries
from concadvisor.collect.pyspy import unavailable_reason

PYTHON = libraries.DEFAULT_PYTHON
WHY = libraries.missing(PYTHON)
pytestmark = pytest.mark.skipif(bool(WHY), reason=f"library virtualenv not ready: {WHY}")
APPS = ROOT / "sample_apps" / "libraries"
needs_pyspy = pytest.mark.skipif(unavailable_reason() is not None,
                                 reason=f"py-spy cannot sample here: {unavailable_reason()}")


def profile(tmp_path, app, backend):
    done, data = profile_json(tmp_path, APPS / app, "--python", PYTHON, "--backend", backend, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    return data


def dominant(data):
    return max(data["categories"], key=data["categories"].get)


@needs_pyspy
@pytest.mark.parametrize("backend", ["auto", "cprofile", "yappi"])
def test_native_code_that_frees_the_gil_is_measured_so_under_every_backend(tmp_path, backend):
    data = profile(tmp_path, "pillow_resize.py", backend)
    assert dominant(data) == "cpu_nogil", data["categories"]
    assert data["recommendation"]["model"] == "threads", data["recommendation"]["reasons"]
    if backend != "auto":  # the tracing profilers say what the watch measured, call by call
        held = {name: share for name, share in data["gil_measured"].items()
                if "resize" in name or "blur" in name}
        assert held and max(held.values()) < 0.5, data["gil_measured"]
        assert any("who holds the GIL was measured" in note for note in data["notes"])


@needs_pyspy
@pytest.mark.parametrize("backend", ["auto", "cprofile"])
def test_native_code_that_keeps_the_gil_is_measured_so_too(tmp_path, backend):
    data = profile(tmp_path, "pillow_noise.py", backend)
    assert dominant(data) == "cpu_gil", data["categories"]
    assert data["recommendation"]["model"] == "multiprocessing", data["recommendation"]["reasons"]


@pytest.mark.parametrize("backend", ["auto", "cprofile"])
def test_native_code_already_on_every_core_is_reported_and_left_alone(tmp_path, backend):
    data = profile(tmp_path, "numpy_matmul.py", backend)
    rec = data["recommendation"]
    assert data["native_threads"]["cpu_seconds"] > 0.3, data.get("native_threads")
    cores = next(a for a in rec["checklist"] if a["key"] == "cores")
    assert "already runs in parallel" in cores["evidence"], cores
    # measured here: threads 0.96x, processes 0.92x of the plain run
    assert rec["estimated_speedup"] < 1.25 or rec["model"] == "none", rec


@needs_pyspy
def test_an_asyncio_program_that_already_overlaps_its_fetches_is_left_as_it_is(tmp_path):
    data = profile(tmp_path, "aiohttp_gather.py", "auto")
    rec = data["recommendation"]
    assert rec["current_model"] == "asyncio"
    assert rec["model"] == "asyncio" and rec["estimated_speedup"] < 1.25, rec["estimates"]
    connections = next(a for a in rec["checklist"] if a["key"] == "many_connections")
    assert not connections["evidence"].startswith(("0 ", "1 ")), connections  # 20 were opened
    # ``async with session.get(url)`` awaits aiohttp's __aenter__: nothing blocks the loop
    assert not [f for f in data["findings"] if f["kind"] == "blocking_in_event_loop"], data["findings"]


@pytest.mark.parametrize("backend", ["auto", "cprofile"])
def test_a_blocking_call_in_a_coroutine_is_found_and_its_fix_priced(tmp_path, backend):
    data = profile(tmp_path, "aiohttp_blocking.py", backend)
    rec = data["recommendation"]
    blocking = [f for f in data["findings"] if f["kind"] == "blocking_in_event_loop"]
    assert blocking and "requests" in blocking[0]["function"], data["findings"]
    assert rec["model"] == "asyncio", rec["reasons"]
    # measured here: 2.5-2.8x once requests.get is awaited through to_thread or aiohttp
    assert rec["estimated_speedup"] >= 1.8, rec["estimates"]
    assert any("fixing the blocking call" in reason for reason in rec["reasons"]), rec["reasons"]


@needs_pyspy
@pytest.mark.parametrize("backend", ["auto", "cprofile"])
def test_threads_are_not_sold_where_python_steps_hold_the_gil_between_short_native_calls(tmp_path, backend):
    """lxml: parse and XPath free the GIL, but each query returns to Python while another
    thread builds its document there: threads measured 1.2x here, processes 1.7x."""
    data = profile(tmp_path, "lxml_xpath.py", backend)
    rec = data["recommendation"]
    assert rec["model"] == "multiprocessing", rec["estimates"]
    assert rec["estimates"]["threads"] < rec["estimates"]["multiprocessing"], rec["estimates"]
