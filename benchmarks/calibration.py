"""Calibration: a workload of known phases under each backend, true share vs measured share.

The truth is the plain run's own phase timings; the measured share is what concadvisor
reports for the same fixed amount of work. Target: every category within 0.07. The
profiled run also times its own phases (in brackets, the error against those). For the
sampler that is the classification alone, free of the noise between two runs; cProfile
and yappi slow the Python phases of their own run (1.5-2x, more on small calls) and
concadvisor takes that slow-down back out, so there the bracket is mostly that
correction and the plain run is the figure to judge.

``--busy N`` adds rows for the same mixes profiled beside N CPU-bound neighbour
processes, with the target's wait for a CPU taken out (as reported) and not (``busy, not
corrected``); the truth is still the quiet plain run. The last column is the time the
target's threads waited for a CPU, as a share of its wall time.
"""
from __future__ import annotations

import json
import os
import subprocess
import tempfile

from .common import PYTHON, ROOT, busy_neighbours, median, profile, table

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


ROUNDS = 3


def plain_shares(args) -> dict:
    """Each category's share in one plain run, as the workload timed its phases."""
    with tempfile.TemporaryDirectory() as scratch:
        path = os.path.join(scratch, "truth.json")
        subprocess.run([PYTHON, WORKLOAD, *args, f"--truth={path}"], check=True)
        return shares(path)


def shares(path) -> dict:
    with open(path) as handle:
        seconds = json.load(handle)
    total = sum(seconds.values()) or 1.0
    return {k: v / total for k, v in seconds.items()}


MACHINES = {"quiet": None, "busy": {}, "busy, not corrected": {"CONCADVISOR_RUN_QUEUE": "measure"}}


def run(backends, quick=False, repeats: int = ROUNDS, busy: int = 0) -> tuple[str, float]:
    """Rounds of one plain run and one profiled run per backend, interleaved; the truth
    and each backend's shares are medians over the rounds. One run's pure-Python phases
    move by 10-20% here from run to run (the host's noise), and the host drifts: runs
    taken side by side keep that out of the tool's error.

    ``busy``: also profile each mix beside that many CPU-bound neighbour processes
    (``python -c "while True: pass"``, started before and killed after each round's busy
    runs), once as concadvisor reports it (the target's wait for a CPU taken out) and once
    with that correction off. The truth stays the quiet plain run: the program's own split.
    """
    rows, worst, busy_worst = [], 0.0, {}
    runs = 1 if quick else max(repeats, 1)
    machines = [m for m in MACHINES if busy or m == "quiet"]
    for mix, budgets in (QUICK_MIXES if quick else MIXES).items():
        args = plan(budgets)
        plain_runs = []
        measured = {(m, b): [] for m in machines for b in backends}
        own_runs = {(m, b): [] for m in machines for b in backends}
        waited = {(m, b): [] for m in machines for b in backends}
        used = {b: None for b in backends}

        def measure(machine, backend):
            env = None if MACHINES[machine] is None else {**os.environ, **MACHINES[machine]}
            with tempfile.TemporaryDirectory() as scratch:
                own_path = os.path.join(scratch, "own.json")
                result, _ = profile(WORKLOAD, [*args, f"--truth={own_path}"], backend, env=env)
                if result is None:
                    return
                measured[machine, backend].append(result["categories"])
                if os.path.exists(own_path):
                    own_runs[machine, backend].append(shares(own_path))
                queue = result.get("run_queue") or {}
                wall = float(result.get("wall_seconds") or 0) or 1.0
                waited[machine, backend].append(float(queue.get("seconds") or 0.0) / wall)
                used[backend] = result["backend"]

        for _ in range(runs):
            plain_runs.append(plain_shares(args))
            for backend in backends:
                measure("quiet", backend)
            if busy:
                with busy_neighbours(busy):
                    for machine in machines[1:]:
                        for backend in backends:
                            measure(machine, backend)
        true = {c: median([p[c] for p in plain_runs]) for c in CATEGORIES}
        for machine in machines:
            for backend in backends:
                label = f"{backend} ({used[backend]})" + ("" if machine == "quiet" else f", {machine}")
                runs_here = measured[machine, backend]
                if not runs_here:
                    rows.append([mix, label, "failed", "", "", "", ""])
                    continue
                got = {c: median([m.get(c, 0.0) for m in runs_here]) for c in CATEGORIES}
                own = {c: median([o[c] for o in own_runs[machine, backend] or [true]]) for c in CATEGORIES}
                errors = {c: got[c] - true[c] for c in CATEGORIES}
                own_errors = {c: got[c] - own[c] for c in CATEGORIES}
                biggest = max(abs(e) for e in errors.values())
                if machine == "quiet":
                    worst = max(worst, biggest)
                else:
                    busy_worst[machine] = max(busy_worst.get(machine, 0.0), biggest)
                rows.append([mix, label]
                            + [f"{true[c]:.2f} / {got[c]:.2f} ({errors[c]:+.2f}) [{own_errors[c]:+.2f}]"
                               for c in CATEGORIES]
                            + [f"{biggest:.2f} [{max(abs(e) for e in own_errors.values()):.2f}]",
                               f"{median(waited[machine, backend]):.2f}"])
    text = table(["mix", "backend", "io_wait: plain run / measured (error) [error vs the same run]",
                  "cpu_gil", "cpu_nogil", "worst error [same run]", "waited for a CPU (share of wall)"], rows)
    for machine, value in busy_worst.items():
        text += f"\n\nworst error {machine} ({busy} CPU-bound neighbour{'s' if busy != 1 else ''}): {value:.3f}"
    return text, worst
