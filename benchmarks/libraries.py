"""Libraries: real-library programs (sample_apps/libraries/) against hand-written variants.

Each program in sample_apps/libraries/ is a plain sequential loop over a real library
(requests, numpy, Pillow, lxml, sqlite3, black, aiohttp), or an asyncio program already;
benchmarks/libraries/variants/ holds its hand-written rewrites, named
``<program>__<kind>.py``. For every program this benchmark

1. times the program and each variant, the wall time of the whole ``python X.py``
   command, best of ``repeats``, one command after another (rounds interleaved), each
   run holding the timing lock (``flock``) so that timing runs of other people on the
   machine do not overlap it, after waiting a little for a quiet machine, and run once
   more if its neighbours still used a quarter of a core or more meanwhile; a variant
   slower than twice the best time so far is not run again (it cannot become the best);
2. checks that every variant printed the same result as the program (its output line
   without the trailing seconds);
3. runs concadvisor on the program under each backend, with ``--python`` the libraries'
   interpreter, holding the lock too;
4. tabulates concadvisor's split, model and estimate against the measured best variant.

Model -> variant: ``none`` is the program as written (1.0x), except for a program that is
already asyncio, where it is the ``__none`` variant (the same coroutines awaited one after
another); ``threads`` -> ``__threads``; ``multiprocessing`` -> ``__processes``;
``asyncio`` -> the best of ``__asyncio`` / ``__aiohttp`` (or the program itself when it is
asyncio already); ``asyncio+multiprocessing`` -> ``__asyncio_processes``, and for the two
aiohttp programs ``__processes`` (an event loop in each process). "ok" means the model's
variant is the measured best or within 10% of its time; "estimate ok" that the estimate
is within 1.5x of the best variant's measured speedup.

``python -m benchmarks libraries [--backends auto,cprofile,yappi] [--repeats 3]
[--python .venv-libs/bin/python] [--only name1,name2] [--lock PATH]``
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .common import CONCADVISOR, ROOT, table

PROGRAMS = ROOT / "sample_apps" / "libraries"
VARIANTS = ROOT / "benchmarks" / "libraries" / "variants"
DEFAULT_PYTHON = ROOT / ".venv-libs" / "bin" / "python"
DEFAULT_LOCK = os.environ.get("BENCH_TIMING_LOCK") or None
BACKENDS = ("auto", "cprofile", "yappi")
CATEGORIES = ("io_wait", "cpu_gil", "cpu_nogil")
IMPORTS = ("requests", "numpy", "PIL", "lxml", "black", "aiohttp", "yappi")

# Which model each kind of variant stands for ("" is the program as written).
KIND_MODELS = {"": {"none"}, "none": {"none"}, "threads": {"threads"}, "processes": {"multiprocessing"},
               "asyncio": {"asyncio"}, "aiohttp": {"asyncio"}, "asyncio_processes": {"asyncio+multiprocessing"}}
# Programs written with asyncio already: as written they are the asyncio model, their
# "none" is the __none variant, and their process variants run an event loop per process.
ALREADY_ASYNCIO = ("aiohttp_gather", "aiohttp_blocking")

# Runs one command inside the lock and times it whole. Before starting it waits (up to
# QUIET_WAIT s) for the machine to be quiet: other people's work that does not take the
# lock (test suites, editors) would otherwise slow the run. It also measures how much CPU
# the rest of the machine used during the run (all CPU time in /proc/stat minus the
# command's own), so that a disturbed run can be run again. Prints one JSON line.
_TIMER = """
import json, os, resource, subprocess, sys, time
QUIET_WAIT, QUIET_SHARE = float(sys.argv[1]), 0.15

def machine():
    try:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return 0, 0
    # busy: user, nice, system, steal (not idle/iowait, nor irq/softirq: the loopback
    # traffic of the command itself lands there)
    return values[0] + values[1] + values[2] + values[7], sum(values)

def own():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime

waited = 0.0
while waited < QUIET_WAIT:
    busy0, total0 = machine()
    time.sleep(0.25)
    busy1, total1 = machine()
    if total1 <= total0 or (busy1 - busy0) / (total1 - total0) < QUIET_SHARE:
        break
    waited += 0.25
busy0, own0, start = machine()[0], own(), time.perf_counter()
done = subprocess.run(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                      stderr=subprocess.DEVNULL, text=True)
seconds = time.perf_counter() - start
others = max(0.0, (machine()[0] - busy0) / os.sysconf("SC_CLK_TCK") - (own() - own0))
print(json.dumps({"seconds": seconds, "stdout": done.stdout, "returncode": done.returncode,
                  "others": others / seconds, "waited": waited}))
"""
QUIET_WAIT = 4.0  # at most this long waiting for a quiet machine before each run
DISTURBED = 0.25  # cores used by others during a run above which it is run again (once)
PATIENCE = 240.0  # all the waiting and re-running of one benchmark together, seconds
_spent = [0.0]


def missing(python: str | Path) -> str:
    """Why ``python`` cannot run the programs ("" when it can): no interpreter, or a package missing."""
    if not Path(python).exists():
        return f"no interpreter at {python} (run `make libvenv`, or pass --python)"
    done = subprocess.run([str(python), "-c", f"import {', '.join(IMPORTS)}"], capture_output=True, text=True)
    if done.returncode:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        return f"{python} cannot import the libraries ({last}; run `make libvenv`)"
    return ""


def models_of(program: str, kind: str) -> set[str]:
    if program in ALREADY_ASYNCIO:
        if kind == "":
            return {"asyncio"}
        if kind == "processes":
            return {"multiprocessing", "asyncio+multiprocessing"}
    return KIND_MODELS.get(kind, set())


def programs(only=None) -> list[str]:
    names = sorted(p.stem for p in PROGRAMS.glob("*.py") if not p.stem.startswith("_"))
    if only:
        unknown = sorted(set(only) - set(names))
        if unknown:
            raise SystemExit(f"libraries: unknown program(s) {', '.join(unknown)}; known: {', '.join(names)}")
        names = [n for n in names if n in only]
    return names


def variants(program: str) -> dict[str, Path]:
    """kind -> script; kind "" is the program itself."""
    found = {"": PROGRAMS / f"{program}.py"}
    for path in sorted(VARIANTS.glob(f"{program}__*.py")):
        found[path.stem.split("__", 1)[1]] = path
    return found


def _locked(command: list[str], lock: str | None) -> list[str]:
    if not lock or not shutil.which("flock"):
        return command
    Path(lock).parent.mkdir(parents=True, exist_ok=True)
    return ["flock", lock, *command]


def time_once(command: list[str], lock: str | None, timeout: float = 300) -> dict:
    """One run of ``command`` inside the lock: {"seconds", "stdout", "returncode", "others",
    "waited"}; a run whose neighbours used more than DISTURBED cores is run once more."""
    for attempt in range(2):
        wait = max(0.0, min(QUIET_WAIT, PATIENCE - _spent[0]))
        done = subprocess.run(_locked([sys.executable, "-c", _TIMER, str(wait), *command], lock),
                              cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        try:
            run = json.loads(done.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            run = {"seconds": float("inf"), "stdout": "", "returncode": done.returncode or 1, "others": 0.0, "waited": 0.0}
        _spent[0] += run["waited"] + (run["seconds"] if attempt else 0.0)
        if run["others"] <= DISTURBED or _spent[0] >= PATIENCE:
            break
    run["disturbed"] = run["others"] > DISTURBED
    return run


def result_line(stdout: str) -> str:
    """The program's result: its last output line without the trailing seconds."""
    lines = [line for line in stdout.strip().splitlines() if line.strip()]
    return lines[-1].rsplit(",", 1)[0] if lines else ""


def time_variants(python: str, program: str, repeats: int, lock: str | None, progress=None) -> dict:
    """kind -> {"best": seconds, "runs": [...], "same_result": bool, "returncode": int}."""
    scripts = variants(program)
    times = {kind: [] for kind in scripts}
    disturbed = {kind: 0 for kind in scripts}
    outputs, codes = {}, {}
    for round_ in range(repeats):
        best_so_far = min((min(t) for t in times.values() if t), default=float("inf"))
        for kind, script in scripts.items():
            if kind and times[kind] and min(times[kind]) > 2 * best_so_far:
                continue  # far behind: more runs cannot make it the best (the program itself always reruns)
            run = time_once([python, str(script)], lock)
            times[kind].append(run["seconds"])
            disturbed[kind] += run["disturbed"]
            outputs.setdefault(kind, result_line(run["stdout"]))
            codes[kind] = run["returncode"] if codes.get(kind, 0) == 0 else codes[kind]
            if progress:
                progress(f"libraries: {program}{'__' + kind if kind else ''} round {round_ + 1}: "
                         f"{run['seconds']:.2f}s (others {run['others']:.2f} cores, waited {run['waited']:.1f}s)")
    reference = outputs.get("", "")
    return {kind: {"best": min(times[kind]), "runs": times[kind], "returncode": codes[kind],
                   "disturbed": disturbed[kind], "same_result": bool(reference) and outputs[kind] == reference}
            for kind in scripts}


def profile(python: str, script: Path, backend: str, lock: str | None, timeout: float = 300) -> dict | None:
    """concadvisor's JSON result for the program under ``backend`` (run inside the lock,
    on a quiet machine, like the timings)."""
    with tempfile.TemporaryDirectory() as scratch:
        out = os.path.join(scratch, "r.json")
        command = ["env", "-u", "VIRTUAL_ENV", "CONCADVISOR_NO_CHART=1", *CONCADVISOR, "profile",
                   "--backend", backend, "--python", python, "--timeout", "120",
                   "-o", os.path.join(scratch, "r.md"), "--json", out, str(script)]
        time_once(command, lock, timeout)
        try:
            with open(out) as handle:
                return json.load(handle)
        except (OSError, ValueError):
            return None


def judge(program: str, timings: dict, model: str, estimate: float | None) -> dict:
    """The measured best against concadvisor's model and estimate."""
    written = timings[""]["best"]
    best_kind = min(timings, key=lambda k: timings[k]["best"])
    best = timings[best_kind]["best"]
    best_speedup = written / best
    candidates = [k for k in timings if model in models_of(program, k)]
    model_kind = min(candidates, key=lambda k: timings[k]["best"]) if candidates else None
    model_speedup = written / timings[model_kind]["best"] if model_kind is not None else None
    model_ok = model_kind is not None and timings[model_kind]["best"] <= best * 1.10
    factor = max(estimate / best_speedup, best_speedup / estimate) if estimate else None
    return {"best_kind": best_kind, "best_seconds": best, "best_speedup": best_speedup,
            "model_kind": model_kind, "model_speedup": model_speedup, "model_ok": model_ok,
            "estimate_factor": factor, "estimate_ok": factor is not None and factor <= 1.5}


def _label(kind):
    return "as written" if kind == "" else f"__{kind}"


def dominant(categories: dict) -> str:
    return max(categories, key=lambda c: categories[c]) if categories else ""


def run(backends=BACKENDS, repeats=3, python=None, only=None, lock=DEFAULT_LOCK,
        progress=None) -> tuple[str, list[dict]]:
    """The timings table and the verdict table; returns (Markdown text, rows as dicts)."""
    python = str(python or DEFAULT_PYTHON)
    _spent[0] = 0.0
    why = missing(python)
    if why:
        return f"libraries: skipped: {why}", []
    names = programs(only)
    timing_rows, verdict_rows, data = [], [], []
    for name in names:
        timings = time_variants(python, name, repeats, lock, progress)
        written = timings[""]["best"]
        for kind, t in timings.items():
            note = "" if t["same_result"] else " (result differs!)"
            if t["disturbed"]:
                note += f" ({t['disturbed']} run(s) disturbed)"
            if t["returncode"]:
                note += f" (exit {t['returncode']})"
            timing_rows.append([name, _label(kind), f"{t['best']:.2f}", f"{written / t['best']:.2f}x{note}",
                                " ".join(f"{s:.2f}" for s in t["runs"])])
        for backend in backends:
            result = profile(python, PROGRAMS / f"{name}.py", backend, lock)
            if progress:
                progress(f"libraries: concadvisor {backend} on {name}: "
                         f"{result['recommendation']['model'] if result else 'failed'}")
            if result is None:
                row = {"program": name, "backend": backend, "used_backend": None, "split": None,
                       "dominant": None, "model": None, "estimate": None, "timings": timings,
                       **judge(name, timings, "", None)}
                verdict_rows.append([name, backend, "failed", "", "", "", "", "", ""])
                data.append(row)
                continue
            cats = result["categories"]
            rec = result["recommendation"]
            estimate = float(rec["estimated_speedup"])
            verdict = judge(name, timings, rec["model"], estimate)
            row = {"program": name, "backend": backend, "used_backend": result.get("backend"),
                   "split": {c: cats.get(c, 0.0) for c in CATEGORIES}, "dominant": dominant(cats),
                   "model": rec["model"], "estimate": estimate, "current_model": rec.get("current_model", ""),
                   "findings": sorted({f["kind"] for f in result.get("findings", [])}), "timings": timings,
                   **verdict}
            data.append(row)
            used = result.get("backend")
            model_cell = rec["model"]
            if verdict["model_kind"] is None:
                model_cell += " (no variant)"
            elif verdict["model_kind"] != verdict["best_kind"]:
                model_cell += f" ({_label(verdict['model_kind'])} {verdict['model_speedup']:.2f}x)"
            verdict_rows.append([
                name, backend if used in (None, backend) else f"{backend}->{used}",
                " / ".join(f"{cats.get(c, 0.0):.2f}" for c in CATEGORIES), dominant(cats), model_cell,
                f"{estimate:.2f}x", f"{_label(verdict['best_kind'])} {verdict['best_speedup']:.2f}x",
                "ok" if verdict["model_ok"] else "no", "ok" if verdict["estimate_ok"] else
                f"no ({verdict['estimate_factor']:.1f}x off)"])
    text = ("### measured: wall of the whole `python X.py` command, best of "
            f"{repeats} (speedup = as written / variant)\n\n"
            + table(["program", "variant", "best s", "speedup", "runs s"], timing_rows)
            + "\n\n### concadvisor against the measured best variant\n\n"
            + table(["program", "backend", "split io / gil / nogil", "dominant", "model", "estimated",
                     "measured best", "model ok", "estimate within 1.5x"], verdict_rows))
    return text, data


def strays() -> list[str]:
    """Profilers or concadvisor runners left running on the machine (they disturb timings)."""
    try:
        listing = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout
    except OSError:
        return []
    return [line.strip() for line in listing.splitlines()
            if ("py-spy" in line or "target_runner" in line) and "ps -eo" not in line]
