"""Calibration: a workload of known phases under each backend, true share vs measured share.

The truth is the plain run's own phase timings; the measured share is what concadvisor
reports for the same fixed amount of work. Target: every category within 0.07. The
profiled run also times its own phases: the error against those (in brackets) is the
classification alone, without the profiler's slow-down and without the machine's noise
between two runs.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile

from .common import PYTHON, ROOT, median, profile, table

WORKLOAD = str(ROOT / "benchmarks" / "workloads" / "phases.py")
CATEGORIES = ("io_wait", "cpu_gil", "cpu_nogil")
# seconds of sleep, and seconds of loop / calls / hash work to plan (calls phase sized by
# seconds too; 0.05 s is about a million calls on this machine's 3.11)
MIXES = {
    "io-heavy": (1.0, 0.2, 0.0, 0.2),
    "balanced": (0.5, 0.5, 0.0, 0.5),
    "call-heavy": (0.5, 0.0, 0.1, 0.5),
    "cpu-heavy": (0.2, 0.6, 0.1, 0.2),
    "nogil-heavy": (0.2, 0.2, 0.0, 1.0),
}
QUICK_MIXES = {"balanced": (0.2, 0.2, 0.0, 0.2)}


def plan(budgets) -> list[str]:
    done = subprocess.run([PYTHON, WORKLOAD, "--plan", ",".join(map(str, budgets))],
                          capture_output=True, text=True, check=True)
    counts = json.loads(done.stdout)
    return [f"--sleep={counts['sleep']}", f"--loop={counts['loop']}", f"--calls={counts['calls']}",
            f"--hash={counts['hash']}"]


PLAIN_RUNS = 3


def truth(args, runs: int = PLAIN_RUNS) -> dict:
    """Each category's share in plain runs (the median of ``runs``: one run alone moves
    by several points on a busy machine)."""
    found = []
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "truth.json")
        for _ in range(runs):
            subprocess.run([PYTHON, WORKLOAD, *args, f"--truth={path}"], check=True)
            found.append(shares(path))
    return {c: median([f[c] for f in found]) for c in found[0]}


def shares(path) -> dict:
    with open(path) as handle:
        seconds = json.load(handle)
    total = sum(seconds.values()) or 1.0
    return {k: v / total for k, v in seconds.items()}


def run(backends, quick=False, repeats: int = PLAIN_RUNS) -> tuple[str, float]:
    """Each backend's measured shares are the median of ``repeats`` profiled runs, as the
    truth is of plain runs: one run's pure-Python phases move by 10-20% here from run to
    run (the host's noise), which a single profiled run would count as the tool's error."""
    rows, worst = [], 0.0
    runs = 1 if quick else max(repeats, 1)
    for mix, budgets in (QUICK_MIXES if quick else MIXES).items():
        args = plan(budgets)
        true = truth(args, runs)
        for backend in backends:
            measured_runs, own_runs, used = [], [], None
            for _ in range(runs):
                with tempfile.TemporaryDirectory() as scratch:
                    own_path = os.path.join(scratch, "own.json")
                    result, _ = profile(WORKLOAD, [*args, f"--truth={own_path}"], backend)
                    if result is None:
                        continue
                    measured_runs.append(result["categories"])
                    own_runs.append(shares(own_path) if os.path.exists(own_path) else true)
                    used = result["backend"]
            if not measured_runs:
                rows.append([mix, backend, "failed", "", "", ""])
                continue
            measured = {c: median([m.get(c, 0.0) for m in measured_runs]) for c in CATEGORIES}
            own = {c: median([o[c] for o in own_runs]) for c in CATEGORIES}
            errors = {c: measured[c] - true[c] for c in CATEGORIES}
            own_errors = {c: measured[c] - own[c] for c in CATEGORIES}
            worst = max(worst, *(abs(e) for e in errors.values()))
            rows.append([mix, f"{backend} ({used})"]
                        + [f"{true[c]:.2f} / {measured[c]:.2f} ({errors[c]:+.2f}) [{own_errors[c]:+.2f}]"
                           for c in CATEGORIES]
                        + [f"{max(abs(e) for e in errors.values()):.2f} [{max(abs(e) for e in own_errors.values()):.2f}]"])
    text = table(["mix", "backend", "io_wait: plain run / measured (error) [error vs the same run]",
                  "cpu_gil", "cpu_nogil", "worst error [same run]"], rows)
    return text, worst
