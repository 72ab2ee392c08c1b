"""The real-library programs (sample_apps/libraries/) and their hand-written variants.

They run with the interpreter `make libvenv` builds (.venv-libs, from
tests/library-requirements.txt); without it (no network when it was built) these tests
skip. What they check: every program runs on its own, every variant computes the same
result as its program, and the benchmark's table and data hold together.
"""
from __future__ import annotations

import subprocess

import pytest

from conftest import ROOT

from benchmarks import libraries

PYTHON = libraries.DEFAULT_PYTHON
WHY = libraries.missing(PYTHON)
pytestmark = pytest.mark.skipif(bool(WHY), reason=f"library virtualenv not ready: {WHY}")


def _result(script):
    done = subprocess.run([str(PYTHON), str(script)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return libraries.result_line(done.stdout)


# The benchmark checks every variant's result each time it times them (``same_result``);
# here two programs stand for the rest (all of them took two minutes of the suite).
@pytest.mark.slow
@pytest.mark.parametrize("program", ["pillow_noise", "requests_fetch"])
def test_every_variant_computes_what_the_program_computes(program):
    scripts = libraries.variants(program)
    assert {"threads", "processes"} <= set(scripts), f"{program}: a threads and a processes variant"
    expected = _result(scripts.pop(""))
    assert expected.startswith(f"{program}: ")
    for kind, script in scripts.items():
        assert _result(script) == expected, f"{script.name} prints another result"


def test_every_variant_kind_stands_for_a_model():
    for program in libraries.programs():
        for kind in libraries.variants(program):
            assert libraries.models_of(program, kind), f"{program}__{kind}: which model is it?"


def test_the_verdict_compares_the_model_with_the_measured_best():
    timings = {"": {"best": 2.0}, "threads": {"best": 0.5}, "processes": {"best": 0.54}}
    verdict = libraries.judge("numpy_sort_fft", timings, "multiprocessing", 3.5)
    assert verdict["best_kind"] == "threads" and verdict["best_speedup"] == 4.0
    assert verdict["model_kind"] == "processes" and verdict["model_ok"]  # within 10% of the best
    assert verdict["estimate_ok"] and round(verdict["estimate_factor"], 3) == round(4.0 / 3.5, 3)
    wrong = libraries.judge("numpy_sort_fft", timings, "asyncio", 9.0)
    assert wrong["model_kind"] is None and not wrong["model_ok"] and not wrong["estimate_ok"]
    already = libraries.judge("aiohttp_gather", {"": {"best": 1.0}, "none": {"best": 12.0}}, "none", 1.0)
    assert already["model_kind"] == "none" and not already["model_ok"]


@pytest.mark.slow
def test_the_benchmark_times_a_program_and_tabulates_concadvisor(tmp_path, monkeypatch):
    monkeypatch.setattr(libraries, "PATIENCE", 0.0)  # no waiting for a quiet machine here
    text, rows = libraries.run(["cprofile"], repeats=1, only=["requests_fetch"], lock=None)
    assert "| requests_fetch | __threads |" in text and "| requests_fetch | cprofile |" in text
    (row,) = rows
    assert row["program"] == "requests_fetch" and row["model"] in (
        "none", "threads", "asyncio", "multiprocessing", "asyncio+multiprocessing")
    assert abs(sum(row["split"].values()) - 1) < 0.05
    assert all(t["same_result"] for t in row["timings"].values())
    assert row["best_kind"] != ""  # 40 waits of 30 ms: any concurrency beats the loop
