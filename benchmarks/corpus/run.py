"""Run the generated corpus: each program plain once (its own clocks give the true split),
then under each backend through the CLI, one program after another; print per backend how
often the model was right, the split error, the blocking-call findings' precision and recall,
and the programs the tool got wrong with what it said.

    python -m benchmarks corpus [--backends auto,cprofile,yappi,pyspy] [--count N] [--seed S]
        [--library-python PATH] [--library-count N | --library-only]

Library kinds (numpy, Pillow, lxml, black, requests: generate.py, libkinds.py) run with an
interpreter that has those libraries: ``--library-python`` (default ``.venv-libs/bin/python``
in the repository when it exists; ``none``: no library programs). A program whose work
includes one runs with it, plain, as its twins and under ``concadvisor profile --python``;
the rest as before. With one, ``--library-count`` (default a fifth of ``--count``) library
programs are added after the standard ones (which stay the same for a seed);
``--library-only`` runs ``--count`` library programs alone.

With ``CORPUS_LOCK`` naming a file, every timed command (calibration, plain runs, twins,
profiled runs) holds ``flock`` on it while it runs, so that timing runs on a shared machine
take turns.

``--twins SHAPE`` instead times, for the programs whose shape contains SHAPE (e.g.
``aio_executor`` or ``swarm``), the program as written against its twins (the same jobs
under each model, CORPUS_TWIN) a few times each, and checks the truth's acceptable models
against the fastest measured.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from contextlib import contextmanager

from ..common import CONCADVISOR, PYTHON, ROOT, median, table
from .generate import (CATEGORY, GIL, IO, MODES, NOGIL, TWIN_MODELS, Spec, blocking_required, calibrate,
                       calibrate_library, expected_model, generate, truth_split, uses_library)

CATEGORIES = (IO, GIL, NOGIL)
PLAIN_TIMEOUT = 60
MIN_GAIN = 1.25  # below this the tool says there is nothing to gain (recommend.py)
PROFILE_TIMEOUT = 180
DEFAULT_LIBRARY_PYTHON = ROOT / ".venv-libs" / "bin" / "python"
LIBRARY_PYTHON: str | None = None  # set by use_library_python: the interpreter of the library kinds


def default_library_python() -> str | None:
    return str(DEFAULT_LIBRARY_PYTHON) if DEFAULT_LIBRARY_PYTHON.exists() else None


def use_library_python(path: str | None) -> None:
    global LIBRARY_PYTHON
    LIBRARY_PYTHON = path or None


def interpreter(spec: Spec) -> str:
    """The library interpreter for a program with a library kind, else this one."""
    if uses_library(spec):
        if not LIBRARY_PYTHON:
            raise RuntimeError(f"{spec.name} uses a library kind: no library interpreter set")
        return LIBRARY_PYTHON
    return PYTHON


def locked(command: list[str]) -> list[str]:
    """``command`` under ``flock $CORPUS_LOCK`` when that is set."""
    lock = os.environ.get("CORPUS_LOCK")
    return ["flock", lock, *command] if lock else list(command)


@contextmanager
def timing_lock():
    """Hold $CORPUS_LOCK (if set) in this process: for timing done here (calibration)."""
    lock = os.environ.get("CORPUS_LOCK")
    if not lock:
        yield
        return
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class Outcome:
    """One program under one backend, against its truth."""
    spec: Spec
    backend: str
    truth: dict  # the split the truth uses (measured where exact, planned otherwise)
    preferred: str
    acceptable: list
    model: str = ""  # what the tool said ("" when it wrote no result)
    used_backend: str = ""
    categories: dict = field(default_factory=dict)
    findings: list = field(default_factory=list)  # blocking_in_event_loop locations
    speedup: float = 0.0
    repeats_seen: int = 0
    error: str = ""
    true_speedup: float = 0.0  # plain run / the same jobs run under the recommended model (0: not measured)
    allowed: list = field(default_factory=list)  # file:line of every call that blocks a running loop
    required: list = field(default_factory=list)  # those big enough that the tool must report them

    @property
    def right(self) -> bool:
        """The model is acceptable; and a blocked event loop, or a pool whose dispatch costs
        more than its jobs, is not called fine as it is (the model the program already uses
        at 1.0x: "nothing to gain")."""
        if self.model not in self.acceptable:
            return False
        if (self.spec.size == "swarm" and self.spec.driver != "mp_map" and self.model != "none"
                and self.speedup < MIN_GAIN):
            # A pool that costs more than its jobs called fine as it is. Not so for
            # multiprocessing.Pool's map, whose dispatch is cheaper: its swarms ran within
            # 1.25-1.36x of the plain loop here (best of 5; ProcessPoolExecutor's: 2.6-6x).
            return False
        blocked = any(b["cause"] == "wait" and b["location"] in self.required for b in self.spec.blocking)
        return not (blocked and self.spec.repeats >= 2 and self.speedup < MIN_GAIN)

    def split_errors(self) -> dict:
        if not self.spec.exact_split or not self.categories:
            return {}
        return {c: self.categories.get(c, 0.0) - self.truth[c] for c in CATEGORIES}


def _env(extra=None) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "CORPUS_TRUTH")}
    env["CONCADVISOR_NO_CHART"] = "1"
    env.update(extra or {})
    return env


def plain_run(spec: Spec, folder: Path, twin: str = "") -> tuple[dict | None, float, str]:
    """The program run as ``python prog.py``: (its true split or None, wall seconds, error).
    With ``twin``, its jobs run under that model instead (the split's "seconds" is its wall)."""
    truth_file = folder / f"{spec.name}.truth{'.' + twin if twin else ''}.json"
    start = time.perf_counter()
    extra = {"CORPUS_TRUTH": str(truth_file)} | ({"CORPUS_TWIN": twin} if twin else {})
    # Its own session, so that a timeout ends its pool workers and children too.
    proc = subprocess.Popen(locked([interpreter(spec), f"{spec.name}.py"]), cwd=folder, env=_env(extra), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, stderr = proc.communicate(timeout=PLAIN_TIMEOUT)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        return None, time.perf_counter() - start, "plain run timed out"
    done = subprocess.CompletedProcess(proc.args, proc.returncode, "", stderr)
    wall = time.perf_counter() - start
    if done.returncode != 0 or not truth_file.exists():
        return None, wall, f"plain run failed ({done.returncode}): {done.stderr.strip()[-300:]}"
    data = json.loads(truth_file.read_text())
    return truth_split(data) | {"wall": data["wall"]}, wall, ""


def profiled_run(spec: Spec, folder: Path, backend: str) -> tuple[dict | None, str]:
    out = folder / f"{spec.name}.{backend}.json"
    command = [*CONCADVISOR, "profile", "--backend", backend, "-o", str(folder / f"{spec.name}.{backend}.md"),
               "--json", str(out)]
    if uses_library(spec):
        command += ["--python", interpreter(spec)]
    command = locked(command + [f"{spec.name}.py"])
    try:
        done = subprocess.run(command, cwd=folder, env=_env(), capture_output=True, text=True, timeout=PROFILE_TIMEOUT)
    except subprocess.TimeoutExpired:
        return None, "profile timed out"
    if not out.exists():
        return None, f"no result ({done.returncode}): {done.stderr.strip()[-300:]}"
    return json.loads(out.read_text()), ""


def _location(text: str) -> str:
    path, _, line = text.rpartition(":")
    return f"{os.path.basename(path)}:{line}"


def judge(spec: Spec, truth: dict | None, backend: str, result: dict | None, error: str = "") -> Outcome:
    """Compare one result with the truth. ``truth`` is the plain run's split (None: the
    planned split stands in)."""
    exact = spec.exact_split and truth is not None
    split = truth if exact else dict(spec.planned)
    work = truth["seconds"] if exact else sum(spec.seconds.values()) * spec.repeats
    preferred, acceptable = expected_model(spec, split, work)
    outcome = Outcome(spec, backend, split, preferred, acceptable, error=error,
                      allowed=[b["location"] for b in spec.blocking],
                      required=[b["location"] for b in spec.blocking
                                if blocking_required(b, spec, truth.get("slots") if truth else None)])
    if not exact:
        spec.exact_split = False
    if result is None:
        return outcome
    rec = result["recommendation"]
    outcome.model = rec["model"]
    outcome.used_backend = result.get("backend", backend)
    outcome.categories = {c: float(result["categories"].get(c, 0.0)) for c in CATEGORIES}
    outcome.findings = sorted({_location(f["location"]) for f in result.get("findings", [])
                               if f.get("kind") == "blocking_in_event_loop" and f.get("location")})
    outcome.speedup = float(rec.get("estimated_speedup") or 0.0)
    outcome.repeats_seen = int((rec.get("work") or {}).get("repeats") or 0)
    return outcome


def run_corpus(specs: list[Spec], folder: Path, backends: list[str], progress=None) -> list[Outcome]:
    """Each program plain, then under each backend, strictly one after another; each outcome
    is also appended to ``folder/results.jsonl`` as it comes (``--report`` re-renders it)."""
    outcomes = []
    log = folder / "results.jsonl"
    for number, spec in enumerate(specs, 1):
        truth, wall, error = plain_run(spec, folder)
        mine = []
        for backend in backends:
            result, problem = profiled_run(spec, folder, backend) if not error else (None, "")
            mine.append(judge(spec, truth, backend, result, error or problem))
        if spec.twin and truth and spec.repeats >= 2:
            speedups = {}
            # (a sequential program's "none" is the program itself: 1.0x)
            skip = {"", "none"} if spec.mode == "sequential" else {""}
            for model in sorted({o.model for o in mine} - skip):
                twin, _, problem = plain_run(spec, folder, twin=model)
                if twin and twin["wall"] > 0:
                    speedups[model] = truth["wall"] / twin["wall"]
            for outcome in mine:
                outcome.true_speedup = speedups.get(outcome.model, 0.0)
        with open(log, "a") as handle:
            for outcome in mine:
                handle.write(json.dumps(asdict(outcome)) + "\n")
        for outcome in mine:
            outcomes.append(outcome)
            if progress:
                mark = "ok " if outcome.right else "BAD"
                true = f", true {outcome.true_speedup:.1f}x" if outcome.true_speedup else ""
                progress(f"[{number}/{len(specs)}] {mark} {outcome.backend:8s} {spec.name} {spec.shape()} plain {wall:.2f}s: "
                         f"{outcome.model or outcome.error} {outcome.speedup:.1f}x{true} "
                         f"(expected {'/'.join(outcome.acceptable)})")
    return outcomes


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(int(round(q * (len(ordered) - 1))), len(ordered) - 1)
    return ordered[index]


def _pct(part: int, whole: int) -> str:
    return f"{part}/{whole} ({100 * part / whole:.0f}%)" if whole else "-"


def blocking_scores(outcomes: list[Outcome]) -> tuple[int, int, int, int]:
    """(true positives, reported, required found, required): a finding counts as right when
    its file:line is one the generator put a blocking call on (required or optional)."""
    tp = reported = found = required = 0
    for o in outcomes:
        if not o.model:
            continue
        allowed, needed = set(o.allowed), set(o.required)
        reported += len(o.findings)
        tp += len(set(o.findings) & allowed)
        required += len(needed)
        found += len(needed & set(o.findings))
    return tp, reported, found, required


def summary_rows(outcomes: list[Outcome], backends: list[str]) -> list[list]:
    rows = []
    for backend in backends:
        mine = [o for o in outcomes if o.backend == backend]
        ran = [o for o in mine if o.model]
        used = sorted({o.used_backend for o in ran})
        errors = defaultdict(list)
        for o in ran:
            for c, e in o.split_errors().items():
                errors[c].append(abs(e))
        split = " / ".join(f"{_quantile(errors[c], 0.5):.2f}, {_quantile(errors[c], 0.95):.2f}" for c in CATEGORIES)
        tp, reported, found, required = blocking_scores(ran)
        seq = [o for o in ran if o.spec.mode == "sequential" and o.spec.repeats >= 2]
        repeats = sum(o.repeats_seen == o.spec.repeats for o in seq)
        ratios = [o.speedup / o.true_speedup for o in ran if o.true_speedup > 0 and o.speedup > 0]
        factors = [max(r, 1 / r) for r in ratios]
        speed = (f"{len(ratios)}: {_quantile(ratios, 0.5):.2f}; {_quantile(factors, 0.5):.2f}, "
                 f"{_quantile(factors, 0.95):.2f}") if ratios else "-"
        rows.append([f"{backend} ({', '.join(used)})" if used else backend, len(mine),
                     _pct(sum(o.right for o in ran), len(mine)), f"{len(errors[IO])}: {split}",
                     f"{tp}/{reported}" + (f" ({tp / reported:.2f})" if reported else ""),
                     f"{found}/{required}" + (f" ({found / required:.2f})" if required else ""),
                     _pct(repeats, len(seq)), speed, len(mine) - len(ran)])
    return rows


def _group(spec: Spec) -> str:
    return spec.mode + (" (swarm)" if spec.size == "swarm" else "")


def concurrent_rows(outcomes: list[Outcome], backends: list[str]) -> list[list]:
    """Right model on the already-concurrent programs (every mode but sequential; a pool's
    swarm of tiny jobs apart), in all and per mode: a column per backend."""
    others = [o for o in outcomes if o.spec.mode != "sequential"]
    order = {name: i for i, name in enumerate(MODES)}
    groups = sorted({_group(o.spec) for o in others}, key=lambda g: (order.get(g.split()[0], 99), g))

    def cells(chosen):
        return [_pct(sum(o.right for o in chosen if o.backend == b), sum(o.backend == b for o in chosen))
                for b in backends]
    rows = [["all already-concurrent", len({o.spec.name for o in others})] + cells(others)]
    for name in groups:
        mine = [o for o in others if _group(o.spec) == name]
        rows.append([name, len({o.spec.name for o in mine})] + cells(mine))
    return rows


def by_dimension(outcomes: list[Outcome], backend: str) -> str:
    """Right-model share per mode, per form and per kind of work, for one backend."""
    mine = [o for o in outcomes if o.backend == backend]
    rows = []
    for label, key in (("mode", lambda s: s.mode), ("form", lambda s: s.form),
                       ("work", lambda s: "+".join(s.work)), ("size", lambda s: s.size),
                       ("asyncio placement", lambda s: s.placement or "-")):
        groups = defaultdict(list)
        for o in mine:
            groups[key(o.spec)].append(o.right)
        cells = ", ".join(f"{name} {sum(v)}/{len(v)}" for name, v in sorted(groups.items()))
        rows.append([label, cells])
    return table(["dimension", f"right model under {backend} (right/programs)"], rows)


def speedups(outcomes: list[Outcome], backend: str) -> str:
    """Estimated against true speedup, by the recommended model and the kinds of work."""
    groups = defaultdict(list)
    for o in outcomes:
        if o.backend == backend and o.true_speedup > 0 and o.speedup > 0:
            kinds = "+".join(sorted({CATEGORY[k] for k in o.spec.work}))
            groups[(o.model, kinds)].append((o.speedup, o.true_speedup))
    rows = [[model, kinds, len(pairs), f"{_quantile([e for e, _ in pairs], 0.5):.2f}",
             f"{_quantile([t for _, t in pairs], 0.5):.2f}",
             f"{_quantile([max(e / t, t / e) for e, t in pairs], 0.5):.2f}"]
            for (model, kinds), pairs in sorted(groups.items())]
    return table(["model", "work", "n", "estimated p50", "true p50", "error factor p50"], rows) if rows else "-"


def failures(outcomes: list[Outcome]) -> str:
    rows = []
    for o in outcomes:
        missed = set(o.required) - set(o.findings)
        extra = set(o.findings) - set(o.allowed)
        if o.right and not missed and not extra:
            continue
        truth = " / ".join(f"{o.truth[c]:.2f}" for c in CATEGORIES) + ("" if o.spec.exact_split else " (planned)")
        said = " / ".join(f"{o.categories[c]:.2f}" for c in CATEGORIES) if o.categories else "-"
        blocking = []
        if missed:
            blocking.append("missed " + ", ".join(sorted(missed)))
        if extra:
            blocking.append("extra " + ", ".join(sorted(extra)))
        rows.append([o.spec.name, o.backend, o.spec.shape(), f"{o.preferred} ({'/'.join(o.acceptable)})",
                     (o.model or o.error[:120]) + (f" {o.speedup:.1f}x" if o.model else "")
                     + (f" (true {o.true_speedup:.1f}x)" if o.true_speedup else ""), truth, said,
                     "; ".join(blocking) or "-"])
    if not rows:
        return "none"
    return table(["program", "backend", "shape: form(body)/mode/work/repeats/size", "expected (acceptable)",
                  "tool said", "true io / gil / nogil", "measured", "blocking calls"], rows)


def report(outcomes: list[Outcome], backends: list[str], seed: int) -> str:
    count = len({o.spec.name for o in outcomes})
    exact = len({o.spec.name for o in outcomes if o.spec.exact_split})
    parts = [
        f"## corpus: {count} generated programs (seed {seed}), each run plain once and under each backend\n",
        "Right model: the tool's model is in the program's acceptable set (the project's rules applied to the "
        "plain run's measured split; neighbours of a threshold accepted too). Split error: |measured - true| "
        f"share, p50, p95, over the {exact} programs whose work all runs in the main thread (sequential and "
        "asyncio; a pool's or child's split has no single truth). Blocking: blocking_in_event_loop findings at a "
        "file:line the generator put a blocking call on / all reported (precision); required blocking calls "
        "found / generated (recall). Repeats: the estimate's repeat count equals the generated one "
        "(sequential programs with 2+ repeats). Speedup: for programs with 2+ repeats (but coroutines, module-level "
        "loops and one-offs), the program also runs its jobs under the recommended model (CORPUS_TWIN: a plain "
        "loop for none, a thread per job for asyncio, a thread pool, a process pool, threads for the waits "
        "feeding a process pool for the CPU) and the true speedup is the plain run's (the program as written) "
        "wall over that run's; shown: n: median estimate/true; error factor "
        "max(e/t, t/e) p50, p95 (both runs once each on a shared 2-core machine: a single run moves 10-20%).\n",
        table(["backend", "programs", "right model", "split |error| n: io p50, p95 / gil p50, p95 / nogil p50, p95",
               "blocking precision", "blocking recall", "repeats",
               "speedup n: est/true p50; error factor p50, p95", "no result"], summary_rows(outcomes, backends)),
    ]
    rows = concurrent_rows(outcomes, backends)
    if len(rows) > 1 or rows[0][1]:
        parts += ["\n### already-concurrent programs: right model per mode (target >= 95%)\n",
                  table(["mode", "programs"] + [f"right model: {b}" for b in backends], rows)]
    for backend in backends:
        parts += [f"\n### by shape: {backend}\n", by_dimension(outcomes, backend)]
    for backend in backends:
        parts += [f"\n### speedup, estimated and true, by model and work: {backend}\n", speedups(outcomes, backend)]
    parts += ["\n### programs the tool got wrong (model, or blocking calls)\n", failures(outcomes)]
    return "\n".join(parts)


def generate_corpus(folder: Path, count: int, seed: int, scale: float = 1.0, library_python: str | None = None,
                    library_count: int | None = None, library_only: bool = False) -> list[Spec]:
    """The corpus's programs, calibrated under the timing lock; the library programs only
    with a library interpreter (``library_count`` None: a fifth of ``count``)."""
    use_library_python(library_python)
    if library_only and not library_python:
        raise SystemExit("--library-only needs a library interpreter (--library-python PATH)")
    library_count = 0 if not library_python else (count // 5 if library_count is None else library_count)
    with timing_lock():
        rates = calibrate()
    if library_python and (library_only or library_count):
        rates |= calibrate_library(library_python, locked([]) or None)
    return generate(folder, count, seed, scale, rates=rates, library_count=library_count,
                    library_only=library_only, library_python=library_python)


def run(backends: list[str], count: int = 200, seed: int = 1, scale: float = 1.0, keep: str | None = None,
        progress=None, library_python: str | None = None, library_count: int | None = None,
        library_only: bool = False) -> tuple[str, list[Outcome]]:
    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="concadvisor-corpus-"))
    try:
        specs = generate_corpus(folder, count, seed, scale, library_python, library_count, library_only)
        outcomes = run_corpus(specs, folder, backends, progress)
        return report(outcomes, backends, seed), outcomes
    finally:
        if not keep:
            shutil.rmtree(folder, ignore_errors=True)


TWIN_MARGIN = 1.10  # a model within 10% of the fastest measured is as good
CURRENT = {"threadpool": "threads", "processpool": "multiprocessing", "mpprocess": "multiprocessing",
           "subprocjobs": "multiprocessing", "aio_executor": "asyncio"}


def time_twins(specs: list[Spec], folder: Path, runs: int = 3, progress=None) -> tuple[str, list[dict]]:
    """The program as written and each twin model (``runs`` rounds, one process at a time,
    the variants interleaved), the best wall of each (as ``calibrate`` does: on a shared
    machine a run that had to wait for a core is slower, never faster; the medians are kept in
    the records). The program as written is one way of its own model: that model's time is
    the better of the two. The truth agrees with the timing when
    its preferred model is within 10% of the fastest and every model within 10% of the
    fastest is acceptable."""
    records, rows = [], []
    for spec in specs:
        if not spec.twin:
            continue
        walls = defaultdict(list)
        for _ in range(runs):
            for model in ("",) + TWIN_MODELS:
                truth, _, error = plain_run(spec, folder, twin=model)
                if truth:
                    walls[model or "as written"].append(truth["wall"])
                elif progress:
                    progress(f"{spec.name} {model or 'as written'}: {error}")
        med = {m: min(v) for m, v in walls.items()}
        times = {m: med[m] for m in TWIN_MODELS if m in med}
        current = CURRENT.get(spec.mode, "none")
        if "as written" in med:
            times[current] = min(times.get(current, float("inf")), med["as written"])
        if not times:
            continue
        fastest = min(times, key=times.get)
        near = sorted(m for m, s in times.items() if s <= times[fastest] * TWIN_MARGIN)
        missing = sorted(set(near) - set(spec.acceptable))
        agree = spec.preferred in near and not missing
        record = {"name": spec.name, "shape": spec.shape(), "best": med, "median": {m: median(v) for m, v in walls.items()},
                  "runs": dict(walls), "fastest": fastest,
                  "near": near,
                  "preferred": spec.preferred, "acceptable": spec.acceptable, "agree": agree, "missing": missing}
        records.append(record)
        row = [spec.name, spec.shape()] + [f"{med[m]:.2f}" if m in med else "-" for m in ("as written",) + TWIN_MODELS]
        row += ["/".join(near), f"{spec.preferred} ({'/'.join(spec.acceptable)})",
                "yes" if agree else "NO" + (f": {'/'.join(missing)} not acceptable" if missing else ": preferred slow")]
        rows.append(row)
        if progress:
            progress(" | ".join(str(c) for c in row))
    text = table(["program", "shape", "as written"] + list(TWIN_MODELS)
                 + ["within 10% of fastest", "truth: preferred (acceptable)", "agree"], rows)
    return text, records


def load_outcomes(path) -> list[Outcome]:
    out = []
    for line in Path(path).read_text().splitlines():
        data = json.loads(line)
        data["spec"] = Spec(**data["spec"])
        out.append(Outcome(**data))
    return out


def add_library_options(parser) -> None:
    parser.add_argument("--library-python", default="", metavar="PATH",
                        help="an interpreter with numpy, Pillow, lxml, black, requests, aiohttp for the library kinds "
                        "(default .venv-libs/bin/python in the repository if it exists; 'none': no library programs)")
    parser.add_argument("--library-count", type=int, default=None, metavar="N",
                        help="library programs added after the standard ones (default: a fifth of --count)")
    parser.add_argument("--library-only", action="store_true", help="only library programs (--count of them)")


def library_python_arg(value: str) -> str | None:
    if value.lower() == "none":
        return None
    return value or default_library_python()


def main(argv=None) -> int:
    import argparse
    parser = argparse.ArgumentParser(prog="python -m benchmarks.corpus.run")
    parser.add_argument("--backends", default="auto")
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", help="generate into this folder and keep it")
    parser.add_argument("--report", metavar="RESULTS_JSONL", help="only print the tables of a (partial) earlier run")
    parser.add_argument("--twins", metavar="SHAPE", help="time the programs whose shape contains SHAPE (comma: any "
                        "of several) as written and under each model; no profiling")
    parser.add_argument("--runs", type=int, default=3, help="--twins: rounds")
    add_library_options(parser)
    args = parser.parse_args(argv)
    library = library_python_arg(args.library_python)
    if args.twins:
        folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="concadvisor-twins-"))
        try:
            specs = [s for s in generate_corpus(folder, args.count, args.seed, 1.0, library, args.library_count,
                                                args.library_only)
                     if any(part in s.shape() for part in args.twins.split(","))]
            text, records = time_twins(specs, folder, args.runs,
                                       progress=lambda line: print(line, file=sys.stderr, flush=True))
            print(f"## twins: {len(records)} programs (seed {args.seed}), best wall seconds of {args.runs} runs\n")
            print(text)
            print(f"\ntruth agrees with the timing: {sum(r['agree'] for r in records)}/{len(records)}")
        finally:
            if not args.keep:
                shutil.rmtree(folder, ignore_errors=True)
        return 0
    if args.report:
        outcomes = load_outcomes(args.report)
        backends = list(dict.fromkeys(o.backend for o in outcomes))
        print(report(outcomes, backends, args.seed))
        return 0
    text, _ = run([b for b in args.backends.split(",") if b], args.count, args.seed, keep=args.keep,
                  progress=lambda line: print(line, file=sys.stderr, flush=True), library_python=library,
                  library_count=args.library_count, library_only=args.library_only)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
