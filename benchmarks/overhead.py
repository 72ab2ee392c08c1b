"""Overhead: plain run vs concadvisor under each backend vs the raw profilers, as ratios.

Programs: call-heavy pure Python (small recursive calls) at two lengths, a tight loop,
and a sample app. Each command is timed whole (start-up, profiling, report and chart),
interleaved. Two figures per command:

* the whole command's wall time against the plain run's (the user's wait);
* the target's own time against the plain run's (the workload times its phases itself,
  ``--truth``): how much the profiler slows the program it measures. The command's
  fixed cost (start-up, attaching, the analysis, the chart) is the difference.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from .common import BIN, CONCADVISOR, PYTHON, ROOT, median, table, timed

PHASES = str(ROOT / "benchmarks" / "workloads" / "phases.py")
PROGRAMS = {
    "call-heavy, 1 s (2M calls + sleep + hash)": [PHASES, "--sleep=0.5", "--calls=980", "--hash=30"],
    "call-heavy, 3 s (31M calls + sleep + hash)": [PHASES, "--sleep=0.5", "--calls=15000", "--hash=30"],
    "tight loop + sleep + hash": [PHASES, "--sleep=0.5", "--loop=200", "--hash=30"],
    "sample_apps/cpu_crunch.py": [str(ROOT / "sample_apps" / "cpu_crunch.py")],
}


def commands(script_and_args, backends, scratch):
    """label -> (command, truth file or None)."""
    script, *args = script_and_args
    timed_phases = script == PHASES

    def truth(label):
        return os.path.join(scratch, re.sub(r"\W+", "_", label) + ".truth.json") if timed_phases else None

    def target_args(label):
        return [*args, "--truth", truth(label)] if timed_phases else args

    out = {"plain": [PYTHON, script, *target_args("plain")],
           "python -m cProfile": [PYTHON, "-m", "cProfile", "-o", f"{scratch}/p.prof", script,
                                  *target_args("python -m cProfile")],
           "python -m yappi": [PYTHON, "-m", "yappi", "-o", f"{scratch}/y.prof", script,
                               *target_args("python -m yappi")]}
    pyspy = shutil.which("py-spy") or str(BIN / "py-spy")
    if Path(pyspy).exists():
        out["py-spy record --idle"] = [pyspy, "record", "--idle", "-r", "100", "-o", f"{scratch}/s.txt",
                                       "--format", "raw", "--", PYTHON, script,
                                       *target_args("py-spy record --idle")]
    for backend in backends:
        label = f"concadvisor --backend {backend}"
        out[label] = [*CONCADVISOR, "profile", "--backend", backend, "-o", f"{scratch}/c.md",
                      script, "--", *target_args(label)]
    return {label: (command, truth(label)) for label, command in out.items()}


def _own_seconds(truth_file):
    """The target's own time: its phases as it timed them (None when it doesn't time them)."""
    if not truth_file:
        return None
    try:
        with open(truth_file) as handle:
            return sum(json.load(handle).values())
    except (OSError, ValueError):
        return None


def run(backends, repeats=2, quick=False) -> tuple[str, dict]:
    rows, ratios = [], {}
    # --quick (the tests' smoke run): one short program, to check the table is made
    programs = {"call-heavy, short (quick)": [PHASES, "--sleep=0.1", "--calls=200", "--hash=10"]} if quick else PROGRAMS
    for name, script_and_args in programs.items():
        with tempfile.TemporaryDirectory() as scratch:
            cmds = commands(script_and_args, backends, scratch)
            times = {k: [] for k in cmds}
            own = {k: [] for k in cmds}
            for _ in range(1 if quick else repeats):
                for label, (command, truth) in cmds.items():
                    times[label].append(timed(command))
                    seconds = _own_seconds(truth)
                    if seconds is not None:
                        own[label].append(seconds)
        plain, plain_own = median(times["plain"]), median(own["plain"]) if own["plain"] else None
        for label in cmds:
            ratio = median(times[label]) / plain if plain else float("nan")
            ratios[(name, label)] = ratio
            slowdown = (f"{median(own[label]) / plain_own:.2f}x" if plain_own and own[label] else "-")
            rows.append([name, label, f"{median(times[label]):.2f}", f"{ratio:.2f}x", slowdown])
    headers = ["program", "command", "wall s (median)", "whole command vs plain",
               "target's own time vs plain"]
    return table(headers, rows), ratios
