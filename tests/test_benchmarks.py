"""The benchmarks keep working (smoke mode); their figures belong to `make bench`."""
from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT


@pytest.mark.slow
def test_calibration_smoke_prints_true_and_measured_shares():
    done = subprocess.run([sys.executable, "-m", "benchmarks", "calibration", "--quick", "--backends", "cprofile"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| balanced | cprofile" in done.stdout
    worst = float(done.stdout.rsplit("worst error:", 1)[1].split()[0])
    assert worst < 0.5  # wide: the figure itself is for the benchmark to report


@pytest.mark.slow
def test_speedup_smoke_compares_estimate_with_a_real_variant():
    done = subprocess.run([sys.executable, "-m", "benchmarks", "speedup", "--quick"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "| hash_buffers |" in done.stdout
    factor = float(done.stdout.rsplit("worst error factor", 1)[1].split(",")[0])
    assert 1.0 <= factor < 10


@pytest.mark.slow
def test_overhead_smoke_prints_ratios_to_the_plain_run():
    done = subprocess.run([sys.executable, "-m", "benchmarks", "overhead", "--quick", "--backends", "cprofile"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "concadvisor --backend cprofile" in done.stdout and "x |" in done.stdout


def test_stability_counts_a_disagreement_as_excused_only_when_every_run_named_it():
    from benchmarks.stability import judge

    assert judge([("threads", set())] * 3) == "stable"
    named = {"threads", "asyncio"}
    assert judge([("threads", named), ("asyncio", named), ("threads", named)]) == "close call"
    assert judge([("threads", named), ("asyncio", set()), ("threads", named)]) == "unstable"
    assert judge([("threads", set()), ("", set()), ("threads", set())]) == "failed"
