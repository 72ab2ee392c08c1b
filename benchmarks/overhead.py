"""Overhead: plain run vs concadvisor under each backend vs the raw profilers, as ratios.

Programs: call-heavy pure Python (about a million small calls per phase), a tight loop,
and a sample app. Each command is timed whole (start-up, profiling, report), interleaved.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from .common import BIN, CONCADVISOR, PYTHON, ROOT, median, table, timed

PHASES = str(ROOT / "benchmarks" / "workloads" / "phases.py")
PROGRAMS = {
    "call-heavy (1M calls x2 + sleep + hash)": [PHASES, "--sleep=0.5", "--calls=980", "--hash=30"],
    "tight loop + sleep + hash": [PHASES, "--sleep=0.5", "--loop=200", "--hash=30"],
    "sample_apps/cpu_crunch.py": [str(ROOT / "sample_apps" / "cpu_crunch.py")],
}


def commands(script_and_args, backends, scratch):
    script, *args = script_and_args
    out = {"plain": [PYTHON, script, *args],
           "python -m cProfile": [PYTHON, "-m", "cProfile", "-o", f"{scratch}/p.prof", script, *args],
           "python -m yappi": [PYTHON, "-m", "yappi", "-o", f"{scratch}/y.prof", script, *args]}
    pyspy = shutil.which("py-spy") or str(BIN / "py-spy")
    if Path(pyspy).exists():
        out["py-spy record --idle"] = [pyspy, "record", "--idle", "-r", "100", "-o", f"{scratch}/s.txt",
                                       "--format", "raw", "--", PYTHON, script, *args]
    for backend in backends:
        out[f"concadvisor --backend {backend}"] = [*CONCADVISOR, "profile", "--backend", backend,
                                                   "-o", f"{scratch}/c.md", script, "--", *args]
    return out


def run(backends, repeats=2, quick=False) -> tuple[str, dict]:
    rows, ratios = [], {}
    programs = dict(list(PROGRAMS.items())[:1]) if quick else PROGRAMS
    for name, script_and_args in programs.items():
        with tempfile.TemporaryDirectory() as scratch:
            cmds = commands(script_and_args, backends, scratch)
            times = {k: [] for k in cmds}
            for _ in range(1 if quick else repeats):
                for label, command in cmds.items():
                    times[label].append(timed(command))
        plain = median(times["plain"])
        for label in cmds:
            ratio = median(times[label]) / plain if plain else float("nan")
            ratios[(name, label)] = ratio
            rows.append([name, label, f"{median(times[label]):.2f}", f"{ratio:.2f}x"])
    return table(["program", "command", "wall s (median)", "vs plain"], rows), ratios
