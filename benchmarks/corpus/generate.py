"""Generate programs with known truth: ``generate(folder, count, seed)``.

Each program is a real script (``python prog_007.py`` runs it) built from three choices:

* where the work repeats (``form``): a for or while loop, a list/dict/set comprehension, a
  generator expression consumed by sum/list/join, map, recursion, a method of a class, a
  callback handed to a helper, a decorated function, module-level code, a function in a
  second module of the program (written next to it);
* how it runs today (``mode``): sequential, a thread pool, a process pool
  (``concurrent.futures`` or ``multiprocessing.Pool().map(..., chunksize=1)``),
  ``multiprocessing.Process`` per job, a Python subprocess per job, asyncio with gather /
  TaskGroup / as_completed / create_task (coroutines that await their waits, or that make
  a blocking call with awaits before, after or around it), asyncio handing each job (a
  plain function) to the loop's default thread pool (``run_in_executor`` / ``to_thread``,
  gathered: mode ``aio_executor``);
* what the work is (``work``): time.sleep, a loopback HTTP request to a server the program
  starts in a thread (the server sleeps, the client waits), a subprocess that sleeps,
  pure-Python loops, json and re (native code that keeps the GIL), sha256 / zlib / bz2 /
  lzma on large buffers and page-cache file reads and sqlite queries (native code that
  releases it), and mixes of a wait with a computation.

Library kinds (``library=True``; run with an interpreter that has the libraries, see
``libkinds.py``): numpy sort + FFT and a Pillow resize + blur (native, GIL released), Pillow's
effect_noise and black.format_str (native or mypyc code that keeps the GIL), an lxml parse +
XPath (released for all but a few percent of the call, measured: ``libkinds.py gil``), and
requests.get to the loopback server (a wait; awaited through aiohttp in a coroutine). They
are a sample of their own (``sample_specs(..., library=True)``, drawn from a generator of
their own), so the standard sample for a seed stays what it was.

Sizes: ``normal`` (0.6-1.5 s of work over 3-32 jobs), ``tiny`` (0.07 s), ``one-off`` (one
job), and ``swarm``: a thread or process pool handed thousands of jobs of 10-60 microseconds
of CPU each (0.15-0.6 s in all), where dispatching a job costs more than the job (the plain
loop is measured fastest here: "none").

Every program but the sequential one-offs and module-level loops has a twin
(``CORPUS_TWIN=none|threads|asyncio|multiprocessing|asyncio+multiprocessing`` runs the same
jobs under that model instead), so ``run.py`` measures the true speedup of the model the
tool recommends over the program as written.

Work is sized from rates measured here when the corpus is generated, so a phase meant to
take 0.1 s takes about that. The truth does not rely on it, though: every program marks
its own phases (``_m`` is a plain ``list.append``, no Python frame) and, when the
``CORPUS_TRUTH`` environment variable names a file, writes its main thread's wall and CPU
clocks and the marks there: ``truth_split`` turns that into the measured split.

Beside ``prog_NNN.py`` the generator writes ``prog_NNN.json``: the shape, the planned
split, the repeat count, the blocking calls inside a running event loop (file:line) and
the expected model (``expected_model`` applies the project's decision rules to a split:
the planned one here, the measured one in ``run.py``).
"""
from __future__ import annotations

import hashlib
import json
import lzma
import bz2
import math
import random
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

try:
    from .libkinds import CALIBRATION as LIB_CALIBRATION, REQUESTS, fill
except ImportError:  # run as a script
    from libkinds import CALIBRATION as LIB_CALIBRATION, REQUESTS, fill

IO, GIL, NOGIL = "io_wait", "cpu_gil", "cpu_nogil"
WAIT_KINDS = ("sleep", "http", "subprocess")
CPU_KINDS = ("gil", "json", "re", "sha256", "zlib", "bz2", "lzma", "file", "sqlite")
CATEGORY = {"sleep": IO, "http": IO, "subprocess": IO, "gil": GIL, "json": GIL, "re": GIL,
            "sha256": NOGIL, "zlib": NOGIL, "bz2": NOGIL, "lzma": NOGIL, "file": NOGIL, "sqlite": NOGIL}
# Third-party library kinds (libkinds.py): categories as measured there (the share of a call
# the GIL stays held, seen from a second thread: numpy 0.0, Pillow resize+blur 0.0, lxml
# parse+XPath 0.09, effect_noise 1.0, black 0.95).
LIB_CPU_KINDS = tuple(LIB_CALIBRATION)  # np_sort, pil_resize, pil_noise, lxml_parse, black_fmt
LIB_WAIT_KINDS = ("requests_get",)
LIB_KINDS = LIB_CPU_KINDS + LIB_WAIT_KINDS
CATEGORY.update({"np_sort": NOGIL, "pil_resize": NOGIL, "pil_noise": GIL, "lxml_parse": NOGIL, "black_fmt": GIL,
                 "requests_get": IO})
SERVED = {"http", "requests_get"}  # the program starts its loopback server
MARK = {IO: "w", GIL: "g", NOGIL: "n"}
# Waits through libraries that have no awaitable form in the standard library (the README's
# "blocking libraries": threads are the smallest change; asyncio is as defensible).
LIBRARY = {"http", "subprocess", "file", "sqlite", "requests_get"}
IMPORTS = {"sleep": ["time"], "http": ["http.server", "threading", "time", "urllib.request"],
           "subprocess": ["subprocess", "sys"], "gil": [], "json": ["json"], "re": ["re"],
           "sha256": ["hashlib"], "zlib": ["zlib", "random"], "bz2": ["bz2", "random"],
           "lzma": ["lzma", "random"], "file": ["os", "pathlib"], "sqlite": ["sqlite3"],
           "requests_get": REQUESTS[0]} | {kind: entry[0] for kind, entry in LIB_CALIBRATION.items()}
BUFFER_KINDS = ("sha256", "zlib", "bz2", "lzma")
MAX_BYTES = 48 << 20  # the largest buffer or file one call works on
# Compressors slow down per byte on larger inputs: they get buffers no larger than they
# were calibrated on.
KIND_MAX_BYTES = {"zlib": 8 << 20, "bz2": 1 << 20, "lzma": 1 << 20}

SEQ_FORMS = ("for", "while", "listcomp", "dictcomp", "setcomp", "genexpr_sum", "genexpr_list",
             "genexpr_join", "map", "recursion", "method", "callback", "decorator", "module", "second_module")
JOB_FORMS = ("function", "method", "decorator", "callback", "second_module")
INLINE_OK = {"for", "while", "listcomp", "dictcomp", "setcomp", "genexpr_sum", "genexpr_list",
             "genexpr_join", "map", "recursion", "callback", "module"}
ASYNC_MODES = ("aio_gather", "aio_taskgroup", "aio_as_completed", "aio_create_task")  # coroutines do the work
EXECUTOR = "aio_executor"  # asyncio handing each job to the loop's default thread pool
POOL_MODES = ("threadpool", "processpool")
PROCESS_MODES = ("processpool", "mpprocess", "subprocjobs")
MODES = ("sequential",) + POOL_MODES + ("mpprocess", "subprocjobs") + ASYNC_MODES + (EXECUTOR,)
# (aio_executor is placed at fixed slots instead: EXECUTOR_SLOT)
MODE_WEIGHTS = {"sequential": 10, "threadpool": 2, "processpool": 2, "mpprocess": 1, "subprocjobs": 1,
                "aio_gather": 2, "aio_taskgroup": 1, "aio_as_completed": 1, "aio_create_task": 1}
PLACEMENTS = ("awaited", "none", "before", "after", "around")
MODELS = ("asyncio", "threads", "multiprocessing", "asyncio+multiprocessing", "none")
TWIN_MODELS = ("none", "threads", "asyncio", "multiprocessing", "asyncio+multiprocessing")
# The already-concurrent shapes that are placed at fixed slots of the sample (so every corpus
# of 200 has 13 and 10 of them, and its first 60 have 4 and 3) without moving the draws of
# the other programs: program i is an aio_executor one when i % 16 == 5, a swarm when
# i % 20 == 11.
EXECUTOR_SLOT, SWARM_SLOT = (16, 5), (20, 11)
EXECUTOR_WORKS = (["sleep"], ["gil"], ["sha256"], ["json"], ["http", "gil"], ["zlib"], ["re"], ["sleep", "gil"],
                  ["file"], ["subprocess"], ["gil"], ["sqlite"], ["http", "sha256"], ["sleep", "json"], ["http"],
                  ["bz2"])
EXECUTOR_DRIVERS = ("run_in_executor", "to_thread")
# Swarm jobs hold the GIL (pure Python, json, re): a thread pool of 55-microsecond sha256 jobs,
# which release it, measured as fast as the loop here, so their truth would hang on the size.
SWARM_WORKS = (["gil"], ["json"], ["re"], ["gil"], ["json"])
SWARM_SHAPES = (("processpool", "map"), ("threadpool", "submit_list"), ("processpool", "mp_map"),
                ("threadpool", "map"), ("processpool", "as_completed"), ("threadpool", "as_completed"),
                ("processpool", "mp_map"), ("processpool", "submit_list"))
SWARM_JOBS = (3000, 5000, 8000, 12000, 20000)
# The library sample: each library computation alone and after a wait, requests alone; its
# aio_executor programs (no swarms: their jobs are too short for a library call).
LIB_WORKS = ([["requests_get"]] * 4 + [[c] for c in LIB_CPU_KINDS] * 3
             + [[w, c] for w in ("requests_get", "sleep") for c in LIB_CPU_KINDS])
LIB_EXECUTOR_WORKS = (["np_sort"], ["pil_noise"], ["requests_get"], ["lxml_parse"], ["black_fmt"], ["pil_resize"],
                      ["requests_get", "black_fmt"], ["sleep", "np_sort"])
# A job handed to a pool one at a time costs its dispatch (a few microseconds in a thread
# pool, tens to hundreds in a process pool, measured here): a pool of jobs below this much
# work each is slower than the plain loop.
DISPATCH_SECONDS = 0.001


# -- calibration -----------------------------------------------------------------------------

def _best(fn, rounds=3) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return max(best, 1e-6)


def calibrate() -> dict:
    """Units of each kind of work per second on this machine (best of 3, ~1.5 s in all)."""
    rates = {}
    rates["gil"] = 200_000 / _best(lambda: sum(i * i % 7 for i in range(200_000)))
    rates["gil_listcomp"] = 200_000 / _best(lambda: sum([i * i % 7 for i in range(200_000)]))
    doc = json.dumps([{"id": i, "name": "item%d" % i, "tags": ["a", "b", "c"], "score": i * 0.5, "ok": i % 3 == 0}
                      for i in range(20_000)])
    rates["json"] = 20_000 / _best(lambda: len(json.dumps(json.loads(doc))))
    text = "alice@example.com bob at example dot org 12345 filler words here; " * (1 << 14)
    pattern = re.compile(r"(\w+)@(\w+)\.com|\d{4,}")
    rates["re"] = len(text) / _best(lambda: len(pattern.findall(text)))
    buf = random.Random(7).randbytes(8 << 20).translate(bytes(97 + b % 16 for b in range(256)))
    rates["sha256"] = len(buf) / _best(lambda: hashlib.sha256(buf).digest())
    rates["zlib"] = len(buf) / _best(lambda: zlib.compress(buf, 6), 2)
    small = buf[: 1 << 20]
    rates["bz2"] = len(small) / _best(lambda: bz2.compress(small, 9), 2)
    rates["lzma"] = len(small) / _best(lambda: lzma.compress(small, preset=1), 2)
    with tempfile.NamedTemporaryFile() as handle:
        handle.write(bytes(MAX_BYTES))
        handle.flush()
        rates["file"] = MAX_BYTES / _best(lambda: len(Path(handle.name).read_bytes()))
    sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) SELECT sum(x * x % 7) FROM c"
    rates["sqlite"] = 100_000 / _best(lambda: sqlite3.connect(":memory:").execute(sql, (100_000,)).fetchone())
    rates["python_start"] = _best(lambda: subprocess.run([sys.executable, "-c", "import time"]), 2)
    return rates


# -- the shape of one program ------------------------------------------------------------------

@dataclass
class Spec:
    name: str
    mode: str
    form: str  # where the work repeats (sequential) or where the job function lives (others)
    body: str  # "inline" (the work's own expressions in the loop) or "function" (a job(i) call)
    work: list  # one or two kinds: [wait] / [cpu] / [wait, cpu]
    repeats: int
    seconds: dict  # planned seconds of each kind per job
    size: str = "normal"  # normal / tiny / one-off
    placement: str = ""  # asyncio: awaited / none / before / after / around (awaits vs the blocking call)
    driver: str = ""  # pools: map / submit_list / submit_for / as_completed
    workers: int = 0
    units: dict = field(default_factory=dict)  # per-call units (iterations, bytes, seconds)
    planned: dict = field(default_factory=dict)  # planned split over the work
    blocking: list = field(default_factory=list)  # [{"location", "cause", "required"}]
    files: list = field(default_factory=list)
    exact_split: bool = True  # all the work in the main thread: the measured split is the truth
    twin: bool = False  # the program can run its jobs under a model too (CORPUS_TWIN): true speedups
    gil_style: str = "genexpr"  # the pure-Python loop: sum over a generator expression, or over a list comprehension
    preferred: str = ""
    acceptable: list = field(default_factory=list)

    def shape(self) -> str:
        extra = f"/{self.placement}" if self.placement else (f"/{self.driver}" if self.driver else "")
        return f"{self.form}({self.body})/{self.mode}{extra}/{'+'.join(self.work)}/k={self.repeats}/{self.size}"


def sample_specs(count: int, seed: int, scale: float = 1.0, library: bool = False, start: int = 0) -> list[Spec]:
    """A deterministic sample of the cross product: modes by weight, forms and work cycled so
    each appears about equally often; the aio_executor and swarm programs at fixed slots
    (EXECUTOR_SLOT, SWARM_SLOT), drawn from a second generator so the other programs stay
    what they were before those shapes existed.

    ``library``: the library kinds' sample instead (LIB_WORKS; no swarms), from generators
    of its own; ``start`` numbers its programs after the standard ones (prog_{start}...)."""
    rng = random.Random(seed if not library else seed * 104729 + 11)
    extra = random.Random(seed * 7919 + 17 if not library else seed * 15485863 + 29)
    modes = [m for m in MODES if m != EXECUTOR for _ in range(MODE_WEIGHTS[m])]
    works = ([[w] for w in WAIT_KINDS] * 4 + [[c] for c in CPU_KINDS] * 3
             + [[w, c] for w in WAIT_KINDS for c in CPU_KINDS]) if not library else [list(w) for w in LIB_WORKS]
    rng.shuffle(works)
    seq_forms, job_forms = list(SEQ_FORMS), list(JOB_FORMS)
    rng.shuffle(seq_forms)
    rng.shuffle(job_forms)
    executor_works, swarm_works, swarm_shapes = list(EXECUTOR_WORKS if not library else LIB_EXECUTOR_WORKS), \
        list(SWARM_WORKS), list(SWARM_SHAPES)
    extra.shuffle(executor_works)
    extra.shuffle(swarm_works)
    extra.shuffle(swarm_shapes)
    new_forms = list(JOB_FORMS)
    extra.shuffle(new_forms)
    specs, seen = [], {"sequential": 0, "other": 0, "new": 0, EXECUTOR: 0, "swarm": 0, "processpool": 0}
    for index in range(count):
        mode = modes[rng.randrange(len(modes))]
        work = works[index % len(works)]
        group = "sequential" if mode == "sequential" else "other"
        forms = seq_forms if group == "sequential" else job_forms
        form = forms[seen[group] % len(forms)]
        seen[group] += 1
        body = rng.choice(("inline", "function")) if form in INLINE_OK and mode == "sequential" else "function"
        roll = rng.random()
        size = "one-off" if (roll < 0.07 and mode == "sequential") else ("tiny" if roll < 0.12 else "normal")
        total = rng.uniform(0.6, 1.5) * scale if size != "tiny" else 0.07
        if size == "one-off":
            repeats = 1
        else:
            repeats = rng.choice((3, 4, 6, 8, 12, 16, 24, 32))
            if mode in PROCESS_MODES or mode == "threadpool":
                repeats = min(repeats, 12)
        shares = {work[0]: 1.0} if len(work) == 1 else {work[0]: (f := rng.uniform(0.3, 0.7)), work[1]: 1 - f}
        spec = Spec(name=f"prog_{start + index:03d}", mode=mode, form=form, body=body, work=list(work),
                    repeats=repeats, seconds={}, size=size)
        if mode in ASYNC_MODES:
            awaited = CATEGORY[work[0]] == IO and rng.random() < 0.3
            spec.placement = "awaited" if awaited else rng.choice(PLACEMENTS[1:])
        if mode in POOL_MODES:
            spec.driver = rng.choice(("map", "submit_list", "submit_for", "as_completed"))
            spec.workers = rng.choice((2, 4, 8)) if mode == "threadpool" else rng.choice((2, 4))
        if "gil" in work:
            spec.gil_style = rng.choice(("genexpr", "listcomp"))
        # (the draws above are made for every program, so the next program's stay the same)
        if index % EXECUTOR_SLOT[0] == EXECUTOR_SLOT[1]:
            spec, total, shares = _executor_spec(spec, executor_works[seen[EXECUTOR] % len(executor_works)],
                                                 new_forms[seen["new"] % len(new_forms)], extra, scale)
            seen[EXECUTOR] += 1
            seen["new"] += 1
        elif index % SWARM_SLOT[0] == SWARM_SLOT[1] and not library:
            spec, total, shares = _swarm_spec(spec, swarm_works[seen["swarm"] % len(swarm_works)],
                                              swarm_shapes[seen["swarm"] % len(swarm_shapes)],
                                              new_forms[seen["new"] % len(new_forms)], extra)
            seen["swarm"] += 1
            seen["new"] += 1
        elif spec.mode == "processpool":
            seen["processpool"] += 1
            if seen["processpool"] % 3 == 0:  # every third process pool is a multiprocessing.Pool
                spec.driver = "mp_map"
        spec.exact_split = spec.mode == "sequential" or spec.mode in ASYNC_MODES
        spec.twin = spec.form != "module" and spec.size != "one-off" and spec.mode not in ASYNC_MODES
        _size(spec, total, shares)
        specs.append(spec)
    return specs


def _executor_spec(old: Spec, work: list, form: str, extra: random.Random, scale: float):
    """An asyncio program that hands each job to the loop's default thread pool."""
    spec = Spec(name=old.name, mode=EXECUTOR, form=form, body="function", work=list(work),
                repeats=extra.choice((4, 6, 8, 12, 16, 24)), seconds={}, size="normal",
                driver=extra.choice(EXECUTOR_DRIVERS))
    if "gil" in work:
        spec.gil_style = extra.choice(("genexpr", "listcomp"))
    total = extra.uniform(0.6, 1.5) * scale
    shares = {work[0]: 1.0} if len(work) == 1 else {work[0]: (f := extra.uniform(0.3, 0.7)), work[1]: 1 - f}
    return spec, total, shares


def _swarm_spec(old: Spec, work: list, shape: tuple, form: str, extra: random.Random):
    """A pool handed thousands of jobs of 10-60 microseconds each (not scaled: it would fall
    under the 0.15 s below which the truth is the program as it is)."""
    mode, driver = shape
    k = extra.choice(SWARM_JOBS)
    per = extra.uniform(max(10e-6, 0.15 / k), min(60e-6, 0.6 / k))
    spec = Spec(name=old.name, mode=mode, form=form, body="function", work=list(work), repeats=k, seconds={},
                size="swarm", driver=driver, workers=extra.choice((2, 4, 8) if mode == "threadpool" else (2, 4)))
    if "gil" in work:
        spec.gil_style = extra.choice(("genexpr", "listcomp"))
    return spec, per * k, {work[0]: 1.0}


def pick_slice(specs: list[Spec], count: int) -> list[Spec]:
    """A small slice that still covers the shapes: greedily the spec that adds the most
    not-yet-seen values (mode, form, each kind of work, asyncio placement, size)."""
    def values(spec):
        return {("mode", spec.mode), ("form", spec.form), ("placement", spec.placement), ("size", spec.size),
                ("body", spec.body), ("work", "+".join(spec.work))} | {("kind", k) for k in spec.work}
    chosen, seen, rest = [], set(), list(specs)
    for placement in PLACEMENTS:  # each way a coroutine waits, on a wait it makes k times
        spec = next((s for s in rest if s.placement == placement and CATEGORY[s.work[0]] == IO
                     and s.size == "normal"), None)
        if spec is not None:
            rest.remove(spec)
            chosen.append(spec)
            seen |= values(spec)
    while rest and len(chosen) < count:
        best = max(rest, key=lambda s: len(values(s) - seen))
        rest.remove(best)
        chosen.append(best)
        seen |= values(best)
    return sorted(chosen, key=lambda s: s.name)


def _size(spec: Spec, total: float, shares: dict) -> None:
    """Per-job seconds of each kind: ``total`` seconds of work over the repeats, with the
    floors and caps each kind needs (a subprocess costs its start-up; a buffer is at most
    MAX_BYTES: both change the repeat count rather than the split)."""
    k = spec.repeats
    for _ in range(3):
        per = {kind: total * share / k for kind, share in shares.items()}
        if "subprocess" in per and per["subprocess"] < 0.04 and spec.size == "normal":
            k = max(1, int(total * shares["subprocess"] / 0.04))
            continue
        break
    spec.repeats = k
    digits = 8 if spec.size == "swarm" else 5
    spec.seconds = {kind: round(total * share / k, digits) for kind, share in shares.items()}
    planned = {IO: 0.0, GIL: 0.0, NOGIL: 0.0}
    for kind, seconds in spec.seconds.items():
        planned[CATEGORY[kind]] += seconds * k
    whole = sum(planned.values()) or 1.0
    spec.planned = {c: round(v / whole, 3) for c, v in planned.items()}


def _rate(kind: str, spec: Spec, rates: dict) -> float:
    return rates["gil_listcomp" if kind == "gil" and spec.gil_style == "listcomp" else kind]


def _cap(kind: str, spec: Spec):
    """The most units one call may take (a buffer's bytes; a list comprehension's items)."""
    if kind in BUFFER_KINDS or kind == "file":
        return KIND_MAX_BYTES.get(kind, MAX_BYTES)
    if kind in LIB_CALIBRATION:  # no larger than it was calibrated on
        return LIB_CALIBRATION[kind][3]
    if kind == "gil" and spec.gil_style == "listcomp":
        return 2_000_000
    return None


def _units(spec: Spec, rates: dict) -> None:
    """Per-call units from the per-job seconds. A buffer or file is at most MAX_BYTES: where
    that cuts a job short, the job runs more often instead (and each kind's share stays)."""
    capped = [k for k in spec.seconds if _cap(k, spec)]
    if capped and spec.repeats > 1:
        factor = max(spec.seconds[k] * _rate(k, spec, rates) / _cap(k, spec) for k in capped)
        if factor > 1:
            limit = 12 if spec.mode in PROCESS_MODES or spec.mode == "threadpool" else 48
            repeats = min(math.ceil(spec.repeats * factor), max(limit, spec.repeats))
            spec.seconds = {k: round(v * spec.repeats / repeats, 5) for k, v in spec.seconds.items()}
            spec.repeats = repeats
    for kind, seconds in list(spec.seconds.items()):
        if CATEGORY[kind] == IO:
            value = seconds if kind != "subprocess" else max(seconds - rates["python_start"], 0.002)
            spec.units[kind] = round(value, 4)
            continue
        units = seconds * _rate(kind, spec, rates)
        if _cap(kind, spec):
            floor = LIB_CALIBRATION[kind][4] if kind in LIB_CALIBRATION else (4096 if kind != "gil" else 10)
            units = int(min(max(units, floor), _cap(kind, spec)))
            spec.seconds[kind] = round(units / _rate(kind, spec, rates), 8 if spec.size == "swarm" else 5)
        else:
            units = max(int(units), 10)
        spec.units[kind] = units
    planned = {IO: 0.0, GIL: 0.0, NOGIL: 0.0}
    for kind, seconds in spec.seconds.items():
        planned[CATEGORY[kind]] += seconds * spec.repeats
    whole = sum(planned.values()) or 1.0
    spec.planned = {c: round(v / whole, 3) for c, v in planned.items()}


# -- the code ----------------------------------------------------------------------------------

def _expr(kind: str, units, gil_style: str = "genexpr") -> str:
    if kind in LIB_CALIBRATION:
        return fill(LIB_CALIBRATION[kind][2], units)
    if kind == "requests_get":
        return REQUESTS[1].replace("UNITS", str(units))
    if kind == "gil" and gil_style == "listcomp":
        return f"sum([i * i % 7 for i in range({units})])"
    return {
        "sleep": f"time.sleep({units})",
        "http": f'len(urllib.request.urlopen(URL + "/{units}").read())',
        "subprocess": f'subprocess.run([sys.executable, "-c", "import time; time.sleep({units})"]).returncode',
        "gil": f"sum(i * i % 7 for i in range({units}))",
        "json": "len(json.dumps(json.loads(DOC)))",
        "re": "len(PATTERN.findall(TEXT))",
        "sha256": "hashlib.sha256(BUF).digest()",
        "zlib": "len(zlib.compress(BUF, 6))",
        "bz2": "len(bz2.compress(BUF, 9))",
        "lzma": "len(lzma.compress(BUF, preset=1))",
        "file": "len(pathlib.Path(DATA).read_bytes())",
        "sqlite": f'sqlite3.connect(":memory:").execute(SQL, ({units},)).fetchone()[0]',
    }[kind]


def _awaited(kind: str, units) -> str:
    return {
        "sleep": f"await asyncio.sleep({units})",
        "http": f"await _aget({units})",
        "requests_get": f"await _rget({units})",
        "subprocess": ('await (await asyncio.create_subprocess_exec(sys.executable, "-c", '
                       f'"import time; time.sleep({units})")).wait()'),
    }[kind]


def _marked(kind: str, expr: str, slot: int | None = None) -> str:
    """The expression between two marks: ``_m`` is ``list.append`` and the clocks are
    builtins, so the marks add no Python frame (nothing a profiler would see as work).
    ``slot`` numbers a line whose own timing the truth needs (a call inside a coroutine)."""
    mark = MARK[CATEGORY[kind]] + ("" if slot is None else str(slot))
    return f'(_m(("{mark}", _pc(), _tt(), _gid())), {expr}, _m(("", _pc(), _tt(), _gid())))[1]'


def _setup(spec: Spec, rates: dict) -> list[str]:
    lines = []
    for kind in spec.work:
        units = spec.units[kind]
        if kind == "json":
            items = max(int(units), 10)
            lines.append('DOC = json.dumps([{"id": i, "name": "item%d" % i, "tags": ["a", "b", "c"], '
                         f'"score": i * 0.5, "ok": i % 3 == 0}} for i in range({items})])')
        elif kind == "re":
            lines.append('PATTERN = re.compile(r"(\\w+)@(\\w+)\\.com|\\d{4,}")')
            lines.append('TEXT = "alice@example.com bob at example dot org 12345 filler words here; " '
                         f"* {max(int(units) // 68, 1)}")
        elif kind == "sha256":
            lines.append(f"BUF = bytes(range(256)) * {max(units // 256, 16)}")
        elif kind in BUFFER_KINDS:
            lines.append(f"BUF = random.Random(7).randbytes({units}).translate(bytes(97 + b % 16 for b in range(256)))")
        elif kind == "file":
            lines.append(f'DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "{spec.name}.dat")')
        elif kind == "sqlite":
            lines.append('SQL = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ?) '
                         'SELECT sum(x * x % 7) FROM c"')
        elif kind in SERVED:
            lines.append('URL = ""')
        elif kind in LIB_CALIBRATION:
            lines += [fill(line, units) for line in LIB_CALIBRATION[kind][1]]
    return lines


SHARED = ("URL", "DOC", "PATTERN", "TEXT", "BUF", "DATA", "SQL")
LIB_SHARED = ("ARR", "IMG", "XML", "SRC")  # (declared in a second module only where a library kind runs)

PREAMBLE = '''\
import json as _json
import os as _os
import threading as _threading
import time as _time

_pc, _tt, _gid = _time.perf_counter, _time.thread_time, _threading.get_ident
_T0, _C0 = _pc(), _tt()
_MARKS = []
_m = _MARKS.append


def _truth():
    """With CORPUS_TRUTH set: the main thread's clocks and the phase marks, for the true split."""
    path = _os.environ.get("CORPUS_TRUTH")
    if path:
        with open(path, "w") as out:
            _json.dump({"wall": _pc() - _T0, "cpu": _tt() - _C0, "main": _gid(), "marks": _MARKS}, out)
'''

SERVER = '''

class _Slow(http.server.BaseHTTPRequestHandler):
    """Answers GET /SECONDS after sleeping that long (in the server's thread)."""

    def do_GET(self):
        time.sleep(float(self.path.strip("/") or 0))
        body = b"x" * 2048
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class _Server(http.server.ThreadingHTTPServer):
    request_queue_size = 256  # all clients may connect at once


def start_server():
    server = _Server(("127.0.0.1", 0), _Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return "http://127.0.0.1:%d" % server.server_address[1]
'''

AGET = '''

async def _aget(delay):
    host, port = URL.split("//")[1].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"GET /%s HTTP/1.0\\r\\n\\r\\n" % str(delay).encode())
    body = await reader.read()
    writer.close()
    return len(body)
'''

RGET = '''

async def _rget(delay):
    async with aiohttp.ClientSession() as session:
        async with session.get(URL + "/%s" % delay) as response:
            return len(await response.read())
'''

TRACED = '''

def traced(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs)
    return wrapper
'''

ATRACED = '''

def traced(fn):
    @functools.wraps(fn)
    async def wrapper(*args, **kwargs):
        return await fn(*args, **kwargs)
    return wrapper
'''

SENTINEL = "  #@B:"


class Program:
    """Builds the text of one program (and its second module) from a Spec."""

    def __init__(self, spec: Spec):
        self.spec = spec
        self.aio = spec.mode in ASYNC_MODES  # the jobs are coroutines
        self.executor = spec.mode == EXECUTOR  # plain jobs handed to the loop's thread pool
        self.loop = self.aio or self.executor  # main() runs asyncio.run(amain())
        self.helper = spec.form == "second_module"
        self.helper_name = f"{spec.name}_jobs"

    # the statements of one job
    def statements(self) -> list[str]:
        spec, out = self.spec, []
        for slot, kind in enumerate(spec.work):
            units = spec.units[kind]
            if self.aio and CATEGORY[kind] == IO and spec.placement == "awaited":
                out.append(_awaited(kind, units))
                continue
            if self.aio:  # a call that blocks the running loop: its line is part of the truth
                cause = "wait" if CATEGORY[kind] == IO else "cpu"
                out.append(_marked(kind, _expr(kind, units, spec.gil_style), slot) + f"{SENTINEL}{cause}:{slot}")
            else:
                out.append(_marked(kind, _expr(kind, units, spec.gil_style)))
        if self.aio and spec.placement in ("before", "around"):
            out.insert(0, "await asyncio.sleep(0.001)")
        if self.aio and spec.placement in ("after", "around"):
            out.append("await asyncio.sleep(0.001)")
        return out

    def inline_expr(self) -> str:
        parts = [_marked(kind, _expr(kind, self.spec.units[kind], self.spec.gil_style)) for kind in self.spec.work]
        return parts[0] if len(parts) == 1 else "(" + ", ".join(parts) + ")"

    def job_def(self, indent="") -> list[str]:
        """``job(i)`` / ``ajob(i)`` or the Worker class, per form."""
        spec = self.spec
        prefix = "async " if self.aio else ""
        name = "ajob" if self.aio else "job"
        body = [indent + "    " + s for s in self.statements()]
        if spec.form == "method":
            return ["", "", "class Worker:", "    def __init__(self):", "        self.done = 0", "",
                    f"    {prefix}def work(self, i):"] + ["    " + b for b in body] + ["        self.done += 1"]
        lines = ["", ""]
        if spec.form == "decorator":
            lines.append("@traced")
        lines.append(f"{prefix}def {name}(i):")
        return lines + body + ["    return i"]

    def job_ref(self) -> str:
        if self.spec.form == "method":
            return "Worker().work"
        name = "ajob" if self.aio else "job"
        return f"_jobs.{name}" if self.helper else name

    def imports(self, for_helper=False) -> list[str]:
        mods = {m for kind in self.spec.work for m in IMPORTS[kind]}
        if "requests_get" in self.spec.work and self.aio and self.spec.placement == "awaited" \
                and for_helper == self.helper:  # the module that holds the coroutines
            mods.add("aiohttp")
        if not for_helper:
            mode = self.spec.mode
            mods |= {"asyncio"} if self.loop else set()
            mods |= {"concurrent.futures"} if mode in POOL_MODES and self.spec.driver != "mp_map" else set()
            mods |= {"multiprocessing"} if mode == "mpprocess" or self.spec.driver == "mp_map" else set()
            mods |= {"subprocess", "sys"} if mode == "subprocjobs" else set()
            if self.spec.form == "decorator":
                mods.add("functools")
        else:
            mods |= {"asyncio"} if self.aio else set()
        return [f"import {m}" for m in sorted(mods)]

    def main_body(self) -> list[str]:
        spec, k = self.spec, spec_k(self.spec)
        job = self.job_ref()
        if spec.mode == "sequential":
            call = f"{job}(i)" if spec.body == "function" or spec.form in ("method", "decorator", "second_module") else None
            expr = call or self.inline_expr()
            stmts = [call] if call else self.statements()
            form = spec.form
            if form in ("for", "method", "decorator", "second_module", "module"):
                pre = ["w = Worker()"] if form == "method" else []
                if form == "method":
                    stmts = ["w.work(i)"]
                return pre + [f"for i in range({k}):"] + ["    " + s for s in stmts]
            if form == "while":
                return ["i = 0", f"while i < {k}:"] + ["    " + s for s in stmts] + ["    i += 1"]
            return {
                "listcomp": [f"results = [{expr} for i in range({k})]"],
                "dictcomp": [f"results = {{i: {expr} for i in range({k})}}"],
                "setcomp": [f"results = {{(i, type({expr}).__name__) for i in range({k})}}"],
                "genexpr_sum": [f"total = sum(bool({expr}) for i in range({k}))"],
                "genexpr_list": [f"results = list({expr} for i in range({k}))"],
                "genexpr_join": [f'text = ",".join(str({expr})[:8] for i in range({k}))'],
                "map": [f"results = list(map({'job' if call else 'lambda i: ' + expr}, range({k})))"],
                "recursion": ["run(0)"],
                "callback": [f"each({k}, {'job' if call else 'lambda i: ' + expr})"],
            }[form]
        if spec.mode in POOL_MODES:
            pool = "ThreadPoolExecutor" if spec.mode == "threadpool" else "ProcessPoolExecutor"
            lines = [f"with concurrent.futures.{pool}(max_workers={spec.workers}) as pool:"]
            if spec.driver == "mp_map":
                lines = [f"with multiprocessing.Pool({spec.workers}) as pool:"]
            if spec.form == "callback":
                return lines + [f"    results = run_all(pool, {job}, {k})"]
            return lines + ["    " + s for s in _pool_driver(spec.driver, job, k)]
        if spec.mode == "mpprocess":
            return [f"procs = [multiprocessing.Process(target={job}, args=(i,)) for i in range({k})]",
                    "for p in procs:", "    p.start()", "for p in procs:", "    p.join()"]
        if spec.mode == "subprocjobs":
            url = "URL" if _served(spec) else '""'
            return [f'procs = [subprocess.Popen([sys.executable, __file__, "--job", str(i), {url}]) for i in range({k})]',
                    "for p in procs:", "    p.wait()"]
        raise AssertionError(spec.mode)

    def async_main(self) -> list[str]:
        spec, k = self.spec, spec_k(self.spec)
        job = self.job_ref()
        lines = ["", "", "async def amain():"]
        if spec.form == "callback":
            return lines + [f"    await run_all({job}, {k})"]
        if self.executor:
            return lines + ["    " + s for s in _executor_driver(spec.driver, job, k)]
        return lines + ["    " + s for s in _async_driver(spec.mode, job, k)]

    def helpers(self) -> list[str]:
        spec, k = self.spec, spec_k(self.spec)
        out = []
        if spec.form == "callback" and spec.mode == "sequential":
            out += ["", "", "def each(n, fn):", "    for i in range(n):", "        fn(i)"]
        if spec.form == "callback" and spec.mode in POOL_MODES:
            out += ["", "", "def run_all(pool, fn, n):"] + ["    " + s for s in _pool_driver(spec.driver, "fn", "n")] + [
                "    return n"]
        if spec.form == "callback" and self.aio:
            out += ["", "", "async def run_all(fn, n):"] + ["    " + s for s in _async_driver(spec.mode, "fn", "n")]
        if spec.form == "callback" and self.executor:
            out += ["", "", "async def run_all(fn, n):"] + ["    " + s for s in _executor_driver(spec.driver, "fn", "n")]
        if spec.form == "recursion":
            call = spec.body == "function"
            stmts = ["job(i)"] if call else self.statements()
            out += ["", "", "def run(i):", f"    if i >= {k}:", "        return 0"] + ["    " + s for s in stmts] + [
                "    return 1 + run(i + 1)"]
        return out

    def needs_job(self) -> bool:
        spec = self.spec
        if self.helper:
            return False
        return spec.mode != "sequential" or spec.body == "function" or spec.form in ("method", "decorator")

    def main_text(self) -> str:
        spec = self.spec
        doc = (f'"""Generated by benchmarks.corpus: {spec.shape()}.\n\n'
               f"Expected model (planned split): {spec.preferred} (acceptable: {', '.join(spec.acceptable)})\n"
               f'Planned split: {spec.planned}\n"""')
        lines = [doc] + PREAMBLE.splitlines()
        lines += [""] + self.imports()
        if self.helper:
            lines.append(f"import {self.helper_name} as _jobs")
        lines += [""] + _setup(spec, {})
        if _served(spec):
            lines += SERVER.splitlines()
            if self.aio and spec.placement == "awaited" and not self.helper:
                lines += (AGET if "http" in spec.work else RGET).splitlines()
        if spec.form == "decorator":
            lines += (ATRACED if self.aio else TRACED).splitlines()
        if self.needs_job():
            lines += self.job_def()
        lines += self.helpers()
        shared = [n for n in SHARED + LIB_SHARED if any(line.startswith(n + " = ") for line in _setup(spec, {}))]
        if self.helper:
            pairs = ", ".join(f"{n}={n}" for n in ["_m", "_pc", "_tt", "_gid"] + shared)
            lines += ["", "", "def _share():", f"    _jobs.__dict__.update({pairs})"]
        start = []
        if _served(spec):
            start.append("URL = start_server()")
        if self.helper:
            start.append("_share()")
        if self.loop:
            lines += self.async_main()
        if spec.form == "module":
            lines += [""] + start + self.main_body() + ["_truth()"]
            return "\n".join(lines) + "\n"
        lines += ["", "", "def main():"]
        if _served(spec):
            lines.append("    global URL")
        lines += ["    " + s for s in start]
        lines += ["    asyncio.run(amain())"] if self.loop else ["    " + s for s in self.main_body()]
        if spec.twin:
            lines += self.twin()
        lines += ["", ""]
        if spec.mode == "subprocjobs":
            lines += ['if __name__ == "__main__" and sys.argv[1:2] == ["--job"]:']
            if _served(spec):
                lines.append("    URL = sys.argv[3]")
            if self.helper:
                lines.append("    _share()")
            lines += [f"    {self.job_ref()}(int(sys.argv[2]))", 'elif __name__ == "__main__":']
        else:
            lines.append('if __name__ == "__main__":')
        if spec.twin:
            lines += ['    if _os.environ.get("CORPUS_TWIN"):', '        _twin(_os.environ["CORPUS_TWIN"])',
                      "    else:", "        main()"]
        else:
            lines.append("    main()")
        lines.append("    _truth()")
        return "\n".join(lines) + "\n"

    def twin(self) -> list[str]:
        """The same jobs run under a given model (CORPUS_TWIN=none|threads|asyncio|
        multiprocessing|asyncio+multiprocessing), for the true speedup of the model the tool
        recommends over the program as written; never called in the runs that are profiled.
        none is the jobs in a plain loop; asyncio stands as one thread per job (what
        ``asyncio.to_thread`` over blocking calls, or awaiting every wait, overlaps), and
        asyncio+multiprocessing as each job's wait in a thread, then its CPU in a process pool.
        The thread pools take one job at a time; the process pool hands them out in chunks of
        a quarter of each worker's share (one at a time up to 8 jobs per worker), as a pool
        over thousands of jobs should."""
        spec, k = self.spec, spec_k(self.spec)
        waits = [_expr(kind, spec.units[kind], spec.gil_style) for kind in spec.work if CATEGORY[kind] == IO]
        cpus = [_expr(kind, spec.units[kind], spec.gil_style) for kind in spec.work if CATEGORY[kind] != IO]
        out = ["", "", "def _twin_wait(i):"] + ["    " + w for w in waits] + ["    return i"]
        out += ["", "", "def _twin_cpu(i):"] + ["    " + c for c in cpus] + ["    return i"]
        out += ["", "", "def _twin_both(i):", "    _twin_wait(i)", "    return _twin_cpu(i)"]
        out += ["", "", "def _twin(model):", "    import concurrent.futures as cf"]
        if _served(spec):
            out += ["    global URL", "    URL = start_server()"]
        out += [f"    k, cores = {k}, _os.cpu_count() or 1",
                '    if model == "none":',
                "        for i in range(k):",
                "            _twin_both(i)",
                '    elif model in ("threads", "asyncio"):',
                '        with cf.ThreadPoolExecutor(max_workers=min(k, 32 if model == "threads" else 1000)) as pool:',
                "            list(pool.map(_twin_both, range(k)))",
                '    elif model == "multiprocessing":',
                "        with cf.ProcessPoolExecutor(max_workers=min(k, cores)) as pool:",
                "            list(pool.map(_twin_both, range(k), chunksize=max(1, k // (4 * min(k, cores)))))",
                "    else:",
                "        with cf.ProcessPoolExecutor(max_workers=min(k, cores)) as procs:",
                "            procs.submit(int).result()  # fork the workers before the threads run (a fork beside a",
                "            with cf.ThreadPoolExecutor(max_workers=k) as threads:  # subprocess call can hang)",
                "                def one(i):",
                "                    _twin_wait(i)",
                "                    return procs.submit(_twin_cpu, i).result()",
                "                list(threads.map(one, range(k)))"]
        return out

    def helper_text(self) -> str:
        spec = self.spec
        lines = [f'"""The jobs of {spec.name}.py (its second module)."""'] + self.imports(for_helper=True)
        if spec.form == "decorator":
            lines.append("import functools")
        lines += ["", "_m = _pc = _tt = _gid = None  # set by the main script"]
        lines += [f"{n} = None" for n in SHARED + (LIB_SHARED if uses_library(spec) else ())]
        if _served(spec) and self.aio and spec.placement == "awaited":
            lines += (AGET if "http" in spec.work else RGET).splitlines()
        lines += self.job_def()
        return "\n".join(lines) + "\n"


def spec_k(spec: Spec) -> int:
    return spec.repeats


def _served(spec: Spec) -> bool:
    return any(kind in SERVED for kind in spec.work)


def uses_library(spec: Spec) -> bool:
    """The program's work includes a third-party library kind: it runs with the library
    interpreter."""
    return any(kind in LIB_KINDS for kind in spec.work)


def _pool_driver(driver: str, job: str, k) -> list[str]:
    if driver == "mp_map":
        return [f"results = pool.map({job}, range({k}), chunksize=1)"]
    if driver == "map":
        return [f"results = list(pool.map({job}, range({k})))"]
    if driver == "submit_list":
        return [f"futures = [pool.submit({job}, i) for i in range({k})]", "results = [f.result() for f in futures]"]
    if driver == "submit_for":
        return ["futures = []", f"for i in range({k}):", f"    futures.append(pool.submit({job}, i))",
                "for f in futures:", "    f.result()"]
    return [f"futures = [pool.submit({job}, i) for i in range({k})]",
            "for f in concurrent.futures.as_completed(futures):", "    f.result()"]


def _executor_driver(driver: str, job: str, k) -> list[str]:
    if driver == "to_thread":
        return [f"await asyncio.gather(*(asyncio.to_thread({job}, i) for i in range({k})))"]
    return ["loop = asyncio.get_running_loop()",
            f"await asyncio.gather(*(loop.run_in_executor(None, {job}, i) for i in range({k})))"]


def _async_driver(mode: str, job: str, k) -> list[str]:
    if mode == "aio_gather":
        return [f"await asyncio.gather(*({job}(i) for i in range({k})))"]
    if mode == "aio_taskgroup":
        return ["async with asyncio.TaskGroup() as tg:", f"    for i in range({k}):", f"        tg.create_task({job}(i))"]
    if mode == "aio_as_completed":
        return [f"for fut in asyncio.as_completed([{job}(i) for i in range({k})]):", "    await fut"]
    return [f"tasks = [asyncio.create_task({job}(i)) for i in range({k})]", "for t in tasks:", "    await t"]


def _strip_sentinels(text: str, filename: str) -> tuple[str, list[dict]]:
    out, found = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if SENTINEL in line:
            line, tag = line.split(SENTINEL)
            cause, slot = tag.split(":")
            found.append({"location": f"{filename}:{number}", "cause": cause, "slot": int(slot), "required": True})
        out.append(line)
    return "\n".join(out) + "\n", found


# -- the truth ---------------------------------------------------------------------------------

def _rule(io: float, gil: float, nogil: float, spec: Spec, blocked_cpu: bool) -> tuple[str, set]:
    """The project's rules (README "The checklist", recommend.py's order) on one split:
    (preferred, acceptable)."""
    mode, kinds = spec.mode, spec.work
    mix = io >= 0.2 and gil >= 0.2
    waiting = io >= gil + nogil
    library = any(k in LIBRARY for k in kinds if CATEGORY[k] == IO)
    if (mode in POOL_MODES or mode == EXECUTOR) and sum(spec.seconds.values()) < DISPATCH_SECONDS:
        # Jobs handed to a pool one at a time that cost less than handing them over: the
        # plain loop is fastest (a pool map of 20,000 one-line jobs: 0.54 s; the loop: 0.03 s).
        # A process pool handing them out in big chunks is as good or better (measured on
        # four swarms of 3,000-12,000 jobs: chunksize 1000 took 0.7-1.1x the loop's time).
        if mode == "processpool":
            return "none", {"none", "multiprocessing"}
        return "none", {"none"}
    if mode == EXECUTOR:
        # The jobs already run in the loop's thread pool: waits overlap there, and so does
        # native CPU that releases the GIL; CPU that holds it belongs in a process pool.
        if waiting and not mix:
            return "asyncio", {"asyncio", "threads"}
        if mix:
            return "asyncio+multiprocessing", {"asyncio+multiprocessing"}
        if gil >= nogil:
            return "asyncio+multiprocessing", {"asyncio+multiprocessing", "multiprocessing"}
        # (a process pool runs it as fast: 0.42 s against the thread pool's 0.39 s, 22 sha256 jobs)
        return "asyncio", {"asyncio", "threads", "asyncio+multiprocessing", "multiprocessing"}
    if mode in ASYNC_MODES:
        if waiting and not mix:
            return "asyncio", {"asyncio"}
        if mix:
            return ("asyncio+multiprocessing" if blocked_cpu else "asyncio"), {"asyncio+multiprocessing", "asyncio"}
        if gil >= nogil:
            return "asyncio+multiprocessing", {"asyncio+multiprocessing", "multiprocessing"}
        return "asyncio+multiprocessing", {"asyncio+multiprocessing", "threads", "multiprocessing"}
    if mode == "sequential" and spec.repeats < 2:
        # One piece of work: nothing to overlap. A single pure-Python loop can be cut in
        # chunks (the tool's "one computation" rule), so multiprocessing is defensible there.
        if not waiting and gil >= nogil and "gil" in kinds and len(kinds) == 1:
            return "none", {"none", "multiprocessing"}
        return "none", {"none"}
    if waiting:
        if mix:
            ok = {"asyncio+multiprocessing"}
            if spec.repeats <= 4:
                # A few pieces: a process pool spreads little of the CPU (3 pieces on 2 cores)
                # and costs its start-up; overlapping the waits alone is as good an answer.
                ok |= {"threads", "asyncio"}
            if mode in PROCESS_MODES:
                ok |= {"multiprocessing", "threads", "asyncio"}
            if mode == "threadpool":
                ok |= {"multiprocessing", "threads"}
            return "asyncio+multiprocessing", ok
        if mode in ("mpprocess", "subprocjobs"):
            return "multiprocessing", {"multiprocessing", "none", "threads", "asyncio"}
        if mode == "processpool":
            return "threads", {"threads", "asyncio", "multiprocessing"}
        if mode == "threadpool":
            return "threads", {"threads", "asyncio"}
        return ("threads" if library else "asyncio"), {"asyncio", "threads"}
    if gil >= nogil:
        if mix:
            return "asyncio+multiprocessing", {"asyncio+multiprocessing", "multiprocessing"}
        return "multiprocessing", {"multiprocessing", "asyncio+multiprocessing"}
    ok = {"threads", "multiprocessing"}
    if mode in PROCESS_MODES:
        return "multiprocessing", ok | {"asyncio+multiprocessing"}
    return "threads", ok


def expected_model(spec: Spec, split: dict, work_seconds: float) -> tuple[str, list[str]]:
    """The right model for a split, with the neighbours a split near a threshold makes
    defensible (the rule applied to the split moved by 0.07 between each pair of categories)."""
    current = {"threadpool": "threads", "processpool": "multiprocessing", "mpprocess": "multiprocessing",
               "subprocjobs": "multiprocessing"}.get(
        spec.mode, "asyncio" if spec.mode in ASYNC_MODES or spec.mode == EXECUTOR else "none")
    if work_seconds < 0.15 or spec.size == "tiny":
        return current, sorted({current, "none"})
    blocked_cpu = split.get(NOGIL, 0) + split.get(GIL, 0) > split.get(IO, 0) and any(
        b["cause"] == "cpu" for b in spec.blocking)
    io, gil, nogil = split[IO], split[GIL], split[NOGIL]
    preferred, ok = _rule(io, gil, nogil, spec, blocked_cpu)
    step = 0.07
    for a, b in ((0, 1), (0, 2), (1, 2)):
        for sign in (1, -1):
            moved = [io, gil, nogil]
            moved[a] += sign * step
            moved[b] -= sign * step
            if min(moved) >= 0:
                ok |= _rule(*moved, spec, blocked_cpu)[1]
    if work_seconds < 0.3:
        ok.add("none")
    return preferred, sorted(ok)


def truth_split(data: dict) -> dict:
    """The true split from a program's own clocks: its main thread's wall and CPU time and the
    marked phases (wait phases: their CPU is GIL-holding client work, the rest is waiting;
    CPU phases by wall time; the unmarked rest by the thread's CPU clock: CPU holds the GIL,
    the remainder waited, e.g. in the event loop's selector)."""
    seconds = {IO: 0.0, GIL: 0.0, NOGIL: 0.0}
    main = data["main"]
    phase_wall = phase_cpu = 0.0
    open_mark = None
    slots = {}
    for mark, wall, cpu, thread in data["marks"]:
        if thread != main:
            continue
        if mark:
            open_mark = (mark, wall, cpu)
            continue
        if open_mark is None:
            continue
        kind, wall0, cpu0 = open_mark
        open_mark = None
        dw, dc = wall - wall0, cpu - cpu0
        if len(kind) > 1:
            calls, seconds_in = slots.get(kind[1:], (0, 0.0))
            slots[kind[1:]] = (calls + 1, seconds_in + dw)
        phase_wall += dw
        phase_cpu += dc
        if kind[0] == "w":
            seconds[IO] += max(dw - dc, 0.0)
            seconds[GIL] += dc
        else:
            seconds[GIL if kind[0] == "g" else NOGIL] += dw
    rest_wall = max(data["wall"] - phase_wall, 0.0)
    rest_cpu = min(max(data["cpu"] - phase_cpu, 0.0), rest_wall)
    seconds[GIL] += rest_cpu
    seconds[IO] += rest_wall - rest_cpu
    whole = sum(seconds.values()) or 1.0
    return {c: round(v / whole, 4) for c, v in seconds.items()} | {"seconds": round(whole, 4), "slots": slots}


def blocking_required(entry: dict, spec: Spec, slots: dict | None) -> bool:
    """Whether a blocking call inside a coroutine is big enough that the tool must report it
    (the tool's own bar is 0.05 s in all and, for CPU, 0.02 s a call; a margin above that):
    from the plain run's timing of that line, else from the planned sizes."""
    calls, total = (slots or {}).get(str(entry["slot"]), (0, 0.0))
    if not calls:
        calls = spec.repeats
        total = spec.seconds[spec.work[entry["slot"]]] * calls
    if entry["cause"] == "wait":
        return total >= 0.08
    return total >= 0.08 and total / calls >= 0.03


def write_program(spec: Spec, folder: Path, rates: dict) -> Spec:
    _units(spec, rates)
    program = Program(spec)
    text, blocking = _strip_sentinels(program.main_text(), f"{spec.name}.py")
    files = [f"{spec.name}.py"]
    if program.helper:
        helper, more = _strip_sentinels(program.helper_text(), f"{program.helper_name}.py")
        blocking += more
        (folder / f"{program.helper_name}.py").write_text(helper)
        files.append(f"{program.helper_name}.py")
    if "file" in spec.work:
        (folder / f"{spec.name}.dat").write_bytes(bytes(spec.units["file"]))
        files.append(f"{spec.name}.dat")
    spec.blocking, spec.files = blocking, files
    planned_seconds = sum(spec.seconds.values()) * spec.repeats
    spec.preferred, spec.acceptable = expected_model(spec, spec.planned, planned_seconds)
    # The docstring names the planned truth: write the program again with it.
    text, _ = _strip_sentinels(program.main_text(), f"{spec.name}.py")
    (folder / f"{spec.name}.py").write_text(text)
    (folder / f"{spec.name}.json").write_text(json.dumps(asdict(spec), indent=1))
    return spec


def calibrate_library(python: str, prefix: list | None = None) -> dict:
    """The library kinds' units per second, measured by the library interpreter ``python``
    (libkinds.py run as a script; ``prefix`` wraps the command, e.g. in a lock)."""
    script = Path(__file__).with_name("libkinds.py")
    done = subprocess.run([*(prefix or []), python, str(script), "calibrate"], capture_output=True, text=True,
                          timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"library calibration failed with {python}: {done.stderr.strip()[-500:]}")
    return json.loads(done.stdout)


def all_specs(count: int, seed: int, scale: float = 1.0, library_count: int = 0,
              library_only: bool = False) -> list[Spec]:
    """The standard sample of ``count`` programs (the same for a seed as ever), then
    ``library_count`` library programs numbered after them; ``library_only``: ``count``
    library programs alone."""
    if library_only:
        return sample_specs(count, seed, scale, library=True)
    specs = sample_specs(count, seed, scale)
    if library_count:
        specs += sample_specs(library_count, seed, scale, library=True, start=count)
    return specs


def generate(folder, count: int = 200, seed: int = 1, scale: float = 1.0, rates: dict | None = None,
             library_count: int = 0, library_only: bool = False, library_python: str | None = None) -> list[Spec]:
    """Write ``count`` programs into ``folder`` (and the library programs: ``all_specs``;
    their rates from ``library_python`` unless ``rates`` has them); returns their specs."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    specs = all_specs(count, seed, scale, library_count, library_only)
    rates = dict(rates or calibrate())
    if any(uses_library(spec) for spec in specs) and not set(LIB_CALIBRATION) <= set(rates):
        if not library_python:
            raise ValueError("library kinds need an interpreter with the libraries (library_python)")
        rates |= calibrate_library(library_python)
    (folder / "rates.json").write_text(json.dumps(rates, indent=1))
    return [write_program(spec, folder, rates) for spec in specs]


def load(folder) -> list[Spec]:
    return [Spec(**json.loads(p.read_text())) for p in sorted(Path(folder).glob("prog_*.json"))
            if re.fullmatch(r"prog_\d+\.json", p.name)]


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="corpus-"))
    for s in generate(out, int(sys.argv[2]) if len(sys.argv) > 2 else 20):
        print(s.name, s.shape(), s.preferred, s.acceptable)
    print(out)
